package ocpi

import (
	"strconv"

	"github.com/go-playground/validator/v10"
)

// Role is a party role (types → "Role enum").
type Role string

// The roles.
const (
	RoleCPO   Role = "CPO"   // Charge Point Operator
	RoleEMSP  Role = "EMSP"  // eMobility Service Provider
	RoleHub   Role = "HUB"   // Hub
	RoleNAP   Role = "NAP"   // National Access Point
	RoleNSP   Role = "NSP"   // Navigation Service Provider
	RoleOther Role = "OTHER" // other role
	RoleSCSP  Role = "SCSP"  // Smart Charging Service Provider
)

// Credentials is the credentials object (credentials → "Credentials
// object"): the token the other party uses to call us, the URL of our
// versions endpoint, and the roles we play.
type Credentials struct {
	// Token is string(64), printable non-whitespace ASCII.
	Token string `json:"token" validate:"required,max=64,ocpi_token"`
	// URL is the versions endpoint.
	URL string `json:"url" validate:"required,max=255,ocpi_url"`
	// Roles has at least one role; each (role, party_id, country_code) is
	// unique.
	Roles []CredentialsRole `json:"roles" validate:"required,min=1,dive"`
}

// CredentialsRole is one role of a platform (credentials →
// "CredentialsRole class").
type CredentialsRole struct {
	Role            Role            `json:"role" validate:"required,oneof=CPO EMSP HUB NAP NSP OTHER SCSP"`
	BusinessDetails BusinessDetails `json:"business_details" validate:"required"`
	// PartyID is CiString(3), ISO 15118.
	PartyID string `json:"party_id" validate:"required,ocpi_party"`
	// CountryCode is CiString(2), ISO 3166 alpha-2.
	CountryCode string `json:"country_code" validate:"required,ocpi_country"`
}

// BusinessDetails describes a party (mod_locations → "BusinessDetails
// class").
type BusinessDetails struct {
	// Name is string(100).
	Name    string `json:"name" validate:"required,max=100"`
	Website string `json:"website,omitempty" validate:"omitempty,max=255,ocpi_url"`
	Logo    *Image `json:"logo,omitempty"`
}

// ImageCategory says what an image shows (mod_locations → "ImageCategory
// enum"). The official OpenAPI marks it an open enum, so decoding does not
// restrict the value.
type ImageCategory string

// The image categories.
const (
	ImageCharger  ImageCategory = "CHARGER"
	ImageEntrance ImageCategory = "ENTRANCE"
	ImageLocation ImageCategory = "LOCATION"
	ImageNetwork  ImageCategory = "NETWORK"
	ImageOperator ImageCategory = "OPERATOR"
	ImageOther    ImageCategory = "OTHER"
	ImageOwner    ImageCategory = "OWNER"
)

// Image references an image by URL (mod_locations → "Image class").
type Image struct {
	URL       string        `json:"url" validate:"required,max=255,ocpi_url"`
	Thumbnail string        `json:"thumbnail,omitempty" validate:"omitempty,max=255,ocpi_url"`
	Category  ImageCategory `json:"category" validate:"required,max=255,cistring"`
	// Type is CiString(4): gif, jpeg, png, svg, ….
	Type string `json:"type" validate:"required,max=4,cistring"`
	// Width and Height are int(5); 0 means absent.
	Width  int `json:"width,omitempty" validate:"min=0,max=99999"`
	Height int `json:"height,omitempty" validate:"min=0,max=99999"`
}

// Has reports whether the credentials list the role for the party,
// comparing the CiStrings case-insensitively.
func (c Credentials) Has(role Role, countryCode, partyID string) bool {
	for _, r := range c.Roles {
		if r.Role == role && EqualCI(r.CountryCode, countryCode) && EqualCI(r.PartyID, partyID) {
			return true
		}
	}
	return false
}

// credentialsRolesUnique implements credentials → "Credentials object":
// "Every role needs a unique combination of: role, party_id and
// country_code" (compared as CiStrings).
func credentialsRolesUnique(sl validator.StructLevel) {
	c := sl.Current().Interface().(Credentials)
	for i := range c.Roles {
		for j := 0; j < i; j++ {
			a, b := c.Roles[i], c.Roles[j]
			if a.Role == b.Role && EqualCI(a.PartyID, b.PartyID) && EqualCI(a.CountryCode, b.CountryCode) {
				sl.ReportError(c.Roles[i], "roles["+strconv.Itoa(i)+"]", "Roles["+strconv.Itoa(i)+"]", "unique_role", "")
				break
			}
		}
	}
}
