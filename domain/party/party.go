// Package party holds parties — entities the node bills or pays — and what
// belongs to them. A customer is a party that uses services (003 → Parties
// and Customers); it belongs to one administration for API segmentation.
package party

import (
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/iso"
	"github.com/roamnode/roamnode/domain/period"
	"github.com/roamnode/roamnode/domain/tenant"
)

// EntityType says whether a party is a natural person or an organisation.
type EntityType string

// Entity types.
const (
	Person       EntityType = "person"
	Organisation EntityType = "organisation"
)

// ReimbursementVAT is the customer's "Reimbursement VAT" property (003 →
// Reimbursements): whether VAT applies to reimbursements paid to it. Unknown
// makes sessions that depend on it drop out until it is set.
type ReimbursementVAT string

// Reimbursement VAT values.
const (
	VATApplies ReimbursementVAT = "applies"
	VATExempt  ReimbursementVAT = "exempt"
	VATUnknown ReimbursementVAT = "unknown"
)

// Customer is a party with the customer role.
type Customer struct {
	ID                uuid.UUID
	AdministrationID  uuid.UUID
	ExternalReference *string
	Name              string
	Country           string
	EntityType        EntityType
	CompanyRegNum     *string
	VATNumber         *string
	BillingEmail      *string
	BillingPhone      *string
	LocaleID          *string
	ReimbursementVAT  ReimbursementVAT
	WithholdBilling   bool
	ExternalUpdatedAt *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Validate checks a customer's fields.
func (c Customer) Validate() error {
	var fs fault.Fields
	if c.Name == "" {
		fs.Add("name", "is required")
	}
	if !iso.Country(c.Country) {
		fs.Add("country", "must be an ISO 3166-1 alpha-2 country code, e.g. NL")
	}
	switch c.EntityType {
	case Person, Organisation:
	default:
		fs.Add("entity_type", "must be one of person, organisation")
	}
	switch c.ReimbursementVAT {
	case VATApplies, VATExempt, VATUnknown:
	default:
		fs.Add("reimbursement_vat", "must be one of applies, exempt, unknown")
	}
	if c.BillingEmail != nil {
		if a, err := mail.ParseAddress(*c.BillingEmail); err != nil || a.Address != *c.BillingEmail {
			fs.Add("billing_email", "must be a plain e-mail address such as billing@example.com")
		}
	}
	if c.BillingPhone != nil && !validPhone(*c.BillingPhone) {
		fs.Add("billing_phone", "must be an international number such as +31201234567")
	}
	if c.LocaleID != nil && !tenant.ValidLocale(*c.LocaleID) {
		fs.Add("locale_id", "must be a language tag such as nl-NL or en")
	}
	return fs.Err()
}

// validPhone accepts E.164 with optional spaces, dashes or dots as
// separators: a leading + and 7 to 15 digits.
func validPhone(s string) bool {
	if !strings.HasPrefix(s, "+") {
		return false
	}
	digits := 0
	for _, r := range s[1:] {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == ' ' || r == '-' || r == '.':
		default:
			return false
		}
	}
	return digits >= 7 && digits <= 15
}

// BillingAddress is where a party's billing documents go during its
// validity period. A party has at most one at any instant.
type BillingAddress struct {
	ID                uuid.UUID
	PartyID           uuid.UUID
	ExternalReference *string
	Addressee         string
	AddressLine1      *string
	AddressLine2      *string
	PostalCode        *string
	Locality          *string
	Region            *string
	Country           string
	ValidFrom         *time.Time
	ValidUntil        *time.Time
	ExternalUpdatedAt *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Normalize truncates the validity period to whole minutes (003 → Validity
// periods: "Any seconds or fractions will be truncated").
func (b *BillingAddress) Normalize() {
	b.ValidFrom = period.Truncate(b.ValidFrom)
	b.ValidUntil = period.Truncate(b.ValidUntil)
}

// Validate checks a billing address's fields (after Normalize).
func (b BillingAddress) Validate() error {
	var fs fault.Fields
	if b.Addressee == "" {
		fs.Add("addressee", "is required")
	}
	if !iso.Country(b.Country) {
		fs.Add("country", "must be an ISO 3166-1 alpha-2 country code, e.g. NL")
	}
	period.Check(&fs, "", b.ValidFrom, b.ValidUntil)
	return fs.Err()
}
