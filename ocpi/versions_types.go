package ocpi

// VersionNumber is an OCPI version (version_information_endpoint →
// "VersionNumber enum"). The list is open: a partner may announce versions
// this node does not know, so decoding does not restrict the value.
type VersionNumber string

// The known OCPI versions.
const (
	Version20  VersionNumber = "2.0"
	Version21  VersionNumber = "2.1" // deprecated, use 2.1.1
	Version211 VersionNumber = "2.1.1"
	Version22  VersionNumber = "2.2" // deprecated, use 2.2.1
	Version221 VersionNumber = "2.2.1"
)

// Version is one supported version and the URL of its details
// (version_information_endpoint → "Version class"); the versions endpoint
// answers a list of them (card. +).
type Version struct {
	Version VersionNumber `json:"version" validate:"required,max=10,cistring"`
	URL     string        `json:"url" validate:"required,max=255,ocpi_url"`
}

// InterfaceRole is the role of an endpoint (version_information_endpoint →
// "InterfaceRole enum").
type InterfaceRole string

// The interface roles.
const (
	// InterfaceSender is implemented by the owner of the data, so that the
	// receiver can pull it.
	InterfaceSender InterfaceRole = "SENDER"
	// InterfaceReceiver is implemented by the receiver of data, so that the
	// owner can push it.
	InterfaceReceiver InterfaceRole = "RECEIVER"
)

// ModuleID identifies a module (version_information_endpoint → "ModuleID
// enum"). Custom modules may add identifiers (the spec advises a prefix
// such as "nltnm-tokens"), so decoding does not restrict the value.
type ModuleID string

// The modules of OCPI 2.2.1.
const (
	ModuleCDRs             ModuleID = "cdrs"
	ModuleChargingProfiles ModuleID = "chargingprofiles"
	ModuleCommands         ModuleID = "commands"
	ModuleCredentials      ModuleID = "credentials"
	ModuleHubClientInfo    ModuleID = "hubclientinfo"
	ModuleLocations        ModuleID = "locations"
	ModuleSessions         ModuleID = "sessions"
	ModuleTariffs          ModuleID = "tariffs"
	ModuleTokens           ModuleID = "tokens"
)

// Modules lists the modules of OCPI 2.2.1 in the spec's order.
var Modules = []ModuleID{
	ModuleCDRs, ModuleChargingProfiles, ModuleCommands, ModuleCredentials, ModuleHubClientInfo,
	ModuleLocations, ModuleSessions, ModuleTariffs, ModuleTokens,
}

// VersionDetails lists the endpoints of one version
// (version_information_endpoint → "Version details endpoint", Data).
type VersionDetails struct {
	Version   VersionNumber `json:"version" validate:"required,max=10,cistring"`
	Endpoints []Endpoint    `json:"endpoints" validate:"required,min=1,dive"`
}

// Endpoint is one module interface and its URL
// (version_information_endpoint → "Endpoint class"). For the credentials
// module the role is not relevant: send SENDER for our own, disregard it in
// a partner's.
type Endpoint struct {
	Identifier ModuleID      `json:"identifier" validate:"required,max=255,cistring"`
	Role       InterfaceRole `json:"role" validate:"required,oneof=SENDER RECEIVER"`
	URL        string        `json:"url" validate:"required,max=255,ocpi_url"`
}

// Endpoint returns the URL of the module's endpoint with the given role,
// for a credentials endpoint regardless of its role (see Endpoint); ok is
// false when the partner does not implement it.
func (d VersionDetails) Endpoint(id ModuleID, role InterfaceRole) (url string, ok bool) {
	for _, e := range d.Endpoints {
		if e.Identifier == id && (e.Role == role || id == ModuleCredentials) {
			return e.URL, true
		}
	}
	return "", false
}
