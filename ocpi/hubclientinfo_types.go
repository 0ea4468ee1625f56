package ocpi

// ConnectionStatus is the state of a party's connection to a hub
// (mod_hub_client_info → "ConnectionStatus enum").
type ConnectionStatus string

// The connection statuses.
const (
	// ConnectionConnected: the party is connected; requests can be sent.
	ConnectionConnected ConnectionStatus = "CONNECTED"
	// ConnectionOffline: the party is currently not connected; do not
	// queue pushes, the party GETs to resynchronise.
	ConnectionOffline ConnectionStatus = "OFFLINE"
	// ConnectionPlanned: planned but never connected; no requests yet.
	ConnectionPlanned ConnectionStatus = "PLANNED"
	// ConnectionSuspended: the party is no longer active and will never
	// connect again.
	ConnectionSuspended ConnectionStatus = "SUSPENDED"
)

// ClientInfo is a party connected to a hub and its status
// (mod_hub_client_info → "ClientInfo Object").
type ClientInfo struct {
	// PartyID is CiString(3), as used in the credentials exchange.
	PartyID string `json:"party_id" validate:"required,ocpi_party"`
	// CountryCode is CiString(2), as used in the credentials exchange.
	CountryCode string           `json:"country_code" validate:"required,ocpi_country"`
	Role        Role             `json:"role" validate:"required,oneof=CPO EMSP HUB NAP NSP OTHER SCSP"`
	Status      ConnectionStatus `json:"status" validate:"required,oneof=CONNECTED OFFLINE PLANNED SUSPENDED"`
	LastUpdated DateTime         `json:"last_updated" validate:"required"`
}
