// Package tenant holds sellers and administrations (003 → TandemDrive
// general): a seller offers the services; an administration segments data
// within the instance, has exactly one currency, and scopes API access.
package tenant

import (
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/iso"
)

// Seller is the entity that sells EV services (MSP and/or CPO).
type Seller struct {
	ID                uuid.UUID
	ExternalReference *string
	Name              string
	Country           string // the seller's VAT country
	VATNumber         *string
	ExternalUpdatedAt *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Validate checks a seller's fields.
func (s Seller) Validate() error {
	var fs fault.Fields
	if s.Name == "" {
		fs.Add("name", "is required")
	}
	checkCountry(&fs, "country", s.Country)
	return fs.Err()
}

// Administration segments data within the instance. Its currency is
// immutable once created: every amount in it is in that currency.
type Administration struct {
	ID                uuid.UUID
	ExternalReference *string
	SellerID          uuid.UUID
	Name              string
	Currency          string
	LocaleID          *string
	MinInvoiceAmount  *decimal.Decimal
	ExternalUpdatedAt *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Validate checks an administration's fields.
func (a Administration) Validate() error {
	var fs fault.Fields
	if a.Name == "" {
		fs.Add("name", "is required")
	}
	if !iso.Currency(a.Currency) {
		fs.Add("currency", "must be a supported ISO 4217 currency code, e.g. EUR")
	}
	if a.LocaleID != nil && !ValidLocale(*a.LocaleID) {
		fs.Add("locale_id", "must be a language tag such as nl-NL or en")
	}
	if a.MinInvoiceAmount != nil && a.MinInvoiceAmount.IsNegative() {
		fs.Add("min_invoice_amount", "must not be negative")
	}
	return fs.Err()
}

func checkCountry(fs *fault.Fields, path, c string) {
	if !iso.Country(c) {
		fs.Add(path, "must be an ISO 3166-1 alpha-2 country code, e.g. NL")
	}
}

// ValidLocale accepts the BCP 47 subset the product uses: a 2–3 letter
// language, optionally followed by "-" and a 2 letter region or 4 letter
// script ("nl", "en-GB", "zh-Hant").
func ValidLocale(s string) bool {
	lang, rest, hasRest := cut(s)
	if len(lang) < 2 || len(lang) > 3 || !letters(lang) {
		return false
	}
	if !hasRest {
		return true
	}
	return (len(rest) == 2 || len(rest) == 4) && letters(rest)
}

func cut(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '-' || s[i] == '_' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func letters(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}
