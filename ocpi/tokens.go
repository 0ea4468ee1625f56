package ocpi

import (
	"time"

	"github.com/roamnode/roamnode/domain/token"
)

// Wire types of the Tokens module (mod_tokens.asciidoc, "Object
// description"). The enums are the domain's own string types
// (domain/token: Type, Whitelist, Allowed), which already carry the OCPI
// values, so there is one definition of each.

// Token is the OCPI 2.2.1 Token object (mod_tokens → "Token Object"). The
// combination of uid and type is unique within the eMSP's system; uid and
// contract_id are CiStrings (compare with EqualCI).
type Token struct {
	// CountryCode and PartyID identify the eMSP that owns the token.
	CountryCode string `json:"country_code" validate:"required,ocpi_country"`
	PartyID     string `json:"party_id" validate:"required,ocpi_party"`
	// UID is CiString(36): the RFID UID, or an eMSP-generated id.
	UID string `json:"uid" validate:"required,max=36,cistring"`
	// Type is an open enum in the official OpenAPI; the known values are
	// those of token.Type.
	Type token.Type `json:"type" validate:"required,max=255,cistring"`
	// ContractID is CiString(36), the EVCO ID / eMA-ID.
	ContractID   string `json:"contract_id" validate:"required,max=36,cistring"`
	VisualNumber string `json:"visual_number,omitempty" validate:"omitempty,max=64,ocpi_string"`
	Issuer       string `json:"issuer" validate:"required,max=64,ocpi_string"`
	GroupID      string `json:"group_id,omitempty" validate:"omitempty,max=36,cistring"`
	// Valid is required on the wire; a decoded object without it reads as
	// false (not valid), the safe side.
	Valid     bool            `json:"valid"`
	Whitelist token.Whitelist `json:"whitelist" validate:"required,oneof=ALWAYS ALLOWED ALLOWED_OFFLINE NEVER"`
	// Language is ISO 639-1.
	Language string `json:"language,omitempty" validate:"omitempty,len=2"`
	// DefaultProfileType is a sessions ProfileType (CHEAP, FAST, GREEN, REGULAR).
	DefaultProfileType string          `json:"default_profile_type,omitempty" validate:"omitempty,oneof=CHEAP FAST GREEN REGULAR"`
	EnergyContract     *EnergyContract `json:"energy_contract,omitempty"`
	LastUpdated        DateTime        `json:"last_updated" validate:"required"`
}

// EnergyContract is the driver's own energy contract (mod_tokens →
// "EnergyContract class").
type EnergyContract struct {
	SupplierName string `json:"supplier_name" validate:"required,max=64,ocpi_string"`
	ContractID   string `json:"contract_id,omitempty" validate:"omitempty,max=64,ocpi_string"`
}

// LocationReferences names the location (and optionally EVSEs) a real-time
// authorization is asked for (mod_tokens → "LocationReferences class").
type LocationReferences struct {
	LocationID string   `json:"location_id" validate:"required,max=36,cistring"`
	EVSEUIDs   []string `json:"evse_uids,omitempty" validate:"omitempty,dive,required,max=36,cistring"`
}

// AuthorizationInfo is the answer to a real-time authorization
// (mod_tokens → "AuthorizationInfo Object").
type AuthorizationInfo struct {
	Allowed token.Allowed `json:"allowed" validate:"required,oneof=ALLOWED BLOCKED EXPIRED NO_CREDIT NOT_ALLOWED"`
	// Token is the complete Token the authorization was asked for.
	Token Token `json:"token" validate:"required"`
	// Location is echoed when the request named one and the driver may
	// charge there, with only the EVSEs the driver may use.
	Location *LocationReferences `json:"location,omitempty"`
	// AuthorizationReference is CiString(36); the CPO puts it in the
	// Session and CDR of the charge it authorizes.
	AuthorizationReference string       `json:"authorization_reference,omitempty" validate:"omitempty,max=36,cistring"`
	Info                   *DisplayText `json:"info,omitempty"`
}

// TokenOf renders an MSP token as the OCPI Token the eMSP publishes
// (Tokens sender, push to CPOs, AuthorizationInfo.token) at instant at:
// valid and last_updated depend on the instant (see token.Issued.State),
// whitelist on the token's configuration only.
func TokenOf(t token.Issued, at time.Time) Token { return TokenWithState(t, t.State(at)) }

// TokenWithState renders t with a state already evaluated (real-time
// authorization needs the state's reason as well, so it evaluates once).
// Optional fields that are not set are left out.
func TokenWithState(t token.Issued, st token.State) Token {
	out := Token{CountryCode: t.CountryCode, PartyID: t.PartyID, UID: string(t.UID), Type: t.Type, ContractID: t.ContractID,
		Issuer: t.Issuer, Valid: token.OCPIValid(st.Reason), Whitelist: t.Config().OCPIWhitelist(),
		LastUpdated: NewDateTime(st.LastUpdated)}
	if t.VisualNumber != nil {
		out.VisualNumber = *t.VisualNumber
	}
	if t.GroupID != nil {
		out.GroupID = *t.GroupID
	}
	if t.Language != nil {
		out.Language = *t.Language
	}
	if t.DefaultProfileType != nil {
		out.DefaultProfileType = *t.DefaultProfileType
	}
	if c := t.EnergyContract; c != nil {
		out.EnergyContract = &EnergyContract{SupplierName: c.SupplierName}
		if c.ContractID != nil {
			out.EnergyContract.ContractID = *c.ContractID
		}
	}
	return out
}
