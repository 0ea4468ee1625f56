// Package partner holds the roaming model (003 → Roaming): our own OCPI
// parties, connections to partner platforms (peer-to-peer or through a hub),
// roaming partners with their OCPI party ids, and roaming agreements. It
// also owns the credentials-token lifecycle of a connection (OCPI 2.2.1
// credentials module), as pure state transitions.
package partner

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/iso"
	"github.com/roamnode/roamnode/domain/period"
)

// Role is an OCPI role (credentials → Role enum).
type Role string

// OCPI roles.
const (
	RoleCPO   Role = "CPO"
	RoleEMSP  Role = "EMSP"
	RoleHub   Role = "HUB"
	RoleNAP   Role = "NAP"
	RoleNSP   Role = "NSP"
	RoleOther Role = "OTHER"
	RoleSCSP  Role = "SCSP"
)

// ValidRole reports whether r is an OCPI 2.2.1 role.
func ValidRole(r Role) bool {
	switch r {
	case RoleCPO, RoleEMSP, RoleHub, RoleNAP, RoleNSP, RoleOther, RoleSCSP:
		return true
	}
	return false
}

// PartyRef is an OCPI party: country code and party id, upper case
// (CiString: compared case-insensitively, stored normalised).
type PartyRef struct {
	CountryCode string
	PartyID     string
}

// String renders "NL-TDR".
func (p PartyRef) String() string { return p.CountryCode + "-" + p.PartyID }

// ParsePartyRef reads "NL-TDR", "NL*TDR", "NLTDR" or "nl-tdr": the separator
// is optional on input (003 → Roaming CPO ID and MSP ID).
func ParsePartyRef(s string) (PartyRef, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.NewReplacer("-", "", "*", "", " ", "").Replace(s)
	if len(s) != 5 {
		return PartyRef{}, false
	}
	p := PartyRef{CountryCode: s[:2], PartyID: s[2:]}
	return p, p.Valid()
}

// Valid reports whether the reference has an alphabetic 2-letter country
// code and a 3-character alphanumeric party id (OCPI CiString(2)/(3)).
func (p PartyRef) Valid() bool {
	if len(p.CountryCode) != 2 || len(p.PartyID) != 3 {
		return false
	}
	for _, r := range p.CountryCode {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	for _, r := range p.PartyID {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// OwnParty is one OCPI party this node represents; a connection carries all
// of them in its credentials roles, as OCPI 2.2 allows.
type OwnParty struct {
	ID                uuid.UUID
	ExternalReference *string
	CountryCode       string
	PartyID           string
	Role              Role
	Name              string
	Website           *string
	LogoURL           *string
	ExternalUpdatedAt *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Normalize upper-cases the CiString fields.
func (o *OwnParty) Normalize() {
	o.CountryCode, o.PartyID = strings.ToUpper(o.CountryCode), strings.ToUpper(o.PartyID)
	o.Role = Role(strings.ToUpper(string(o.Role)))
}

// Validate checks an own party (after Normalize).
func (o OwnParty) Validate() error {
	var fs fault.Fields
	if !(PartyRef{o.CountryCode, o.PartyID}).Valid() {
		fs.Add("party_id", "country_code must be 2 letters and party_id 3 letters or digits")
	}
	if o.Role != RoleCPO && o.Role != RoleEMSP {
		fs.Add("role", "must be CPO or EMSP")
	}
	if o.Name == "" || len(o.Name) > 100 {
		fs.Add("name", "is required, at most 100 characters (OCPI business_details.name)")
	}
	checkURL(&fs, "website", o.Website)
	checkURL(&fs, "logo_url", o.LogoURL)
	return fs.Err()
}

func checkURL(fs *fault.Fields, path string, s *string) {
	if s == nil {
		return
	}
	if u, err := url.Parse(*s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(*s) > 255 {
		fs.Add(path, "must be an absolute http(s) URL of at most 255 characters")
	}
}

// Partner is a roaming partner: a party with the roaming_partner role and
// its OCPI party ids.
type Partner struct {
	ID                uuid.UUID
	ExternalReference *string
	Name              string
	Country           string
	PartyIDs          []PartnerPartyID
	ExternalUpdatedAt *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// PartnerPartyID is one OCPI party id of a partner, with the connection it
// is reached through (set for parties learnt from a hub's client info).
type PartnerPartyID struct {
	PartyRef
	Role         Role
	ConnectionID *uuid.UUID
	HubStatus    *string
}

// Validate checks a partner; party ids must be unique per role.
func (p Partner) Validate() error {
	var fs fault.Fields
	if p.Name == "" {
		fs.Add("name", "is required")
	}
	if !iso.Country(p.Country) {
		fs.Add("country", "must be an ISO 3166-1 alpha-2 country code, e.g. NL")
	}
	seen := map[string]bool{}
	for i, id := range p.PartyIDs {
		path := "party_ids[" + strconv.Itoa(i) + "]"
		if !id.Valid() {
			fs.Add(path+".party", "must be a country code and party id such as NL-TDR")
		}
		if !ValidRole(id.Role) {
			fs.Add(path+".role", "must be an OCPI role: CPO, EMSP, HUB, NAP, NSP, OTHER or SCSP")
		}
		k := id.String() + "/" + string(id.Role)
		if seen[k] {
			fs.Add(path, "is listed twice")
		}
		seen[k] = true
	}
	return fs.Err()
}

// AgreementRole says which side of roaming an agreement covers: "cpo" when
// the partner's customers charge at our charge points, "msp" when ours charge
// at theirs.
type AgreementRole string

// Agreement roles.
const (
	AgreementCPO AgreementRole = "cpo"
	AgreementMSP AgreementRole = "msp"
)

// Agreement is a roaming agreement with a partner for a validity period.
type Agreement struct {
	ID                uuid.UUID
	ExternalReference *string
	PartnerID         uuid.UUID
	Role              AgreementRole
	ValidFrom         *time.Time
	ValidUntil        *time.Time
	ExternalUpdatedAt *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Normalize truncates the validity period to whole minutes.
func (a *Agreement) Normalize() {
	a.ValidFrom, a.ValidUntil = period.Truncate(a.ValidFrom), period.Truncate(a.ValidUntil)
}

// Validate checks an agreement (after Normalize).
func (a Agreement) Validate() error {
	var fs fault.Fields
	if a.Role != AgreementCPO && a.Role != AgreementMSP {
		fs.Add("role", "must be cpo or msp")
	}
	period.Check(&fs, "", a.ValidFrom, a.ValidUntil)
	return fs.Err()
}

// NewToken returns a credentials token: 256 random bits as 43 URL-safe
// characters, within OCPI's string(64) of printable non-whitespace ASCII.
func NewToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashToken is the stored, looked-up form of a token we issued.
func HashToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}

// Hint is what operators see of a token: its last four characters.
func Hint(t string) string {
	if len(t) <= 4 {
		return "****"
	}
	return "…" + t[len(t)-4:]
}
