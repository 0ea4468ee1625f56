package ocpi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// DateTime is an OCPI DateTime (types "DateTime type"): RFC 3339, UTC. A
// timestamp without a time zone designator is UTC; one with an offset is
// converted to UTC. It always marshals as UTC with "Z" and second precision.
type DateTime struct {
	time.Time
}

// NewDateTime wraps t.
func NewDateTime(t time.Time) DateTime { return DateTime{t.UTC()} }

// dateTimeLayouts are tried in order; the zone-less ones parse as UTC.
var dateTimeLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05",
}

// ParseDateTime parses an OCPI timestamp.
func ParseDateTime(s string) (DateTime, error) {
	// "Z" may be written lower-case by some partners; RFC 3339 allows it.
	s = strings.TrimSpace(s)
	if n := len(s); n > 0 && s[n-1] == 'z' {
		s = s[:n-1] + "Z"
	}
	for _, l := range dateTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return DateTime{t.UTC()}, nil
		}
	}
	return DateTime{}, fmt.Errorf("ocpi: %q is not an RFC 3339 timestamp", s)
}

// String renders the timestamp as OCPI sends it: UTC, seconds, "Z".
func (d DateTime) String() string { return d.UTC().Format("2006-01-02T15:04:05Z") }

// MarshalJSON implements json.Marshaler.
func (d DateTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.String() + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *DateTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("ocpi: DateTime must be a string: %w", err)
	}
	v, err := ParseDateTime(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Number is an OCPI number (types "number type"): a decimal that travels as
// an unquoted JSON number and is never converted to float.
type Number struct {
	decimal.Decimal
}

// NewNumber wraps d.
func NewNumber(d decimal.Decimal) Number { return Number{d} }

// NumberPtr wraps d, or returns nil for nil.
func NumberPtr(d *decimal.Decimal) *Number {
	if d == nil {
		return nil
	}
	return &Number{*d}
}

// Dec returns the wrapped decimal of n, or nil for nil.
func (n *Number) Dec() *decimal.Decimal {
	if n == nil {
		return nil
	}
	d := n.Decimal
	return &d
}

// MarshalJSON implements json.Marshaler: an unquoted JSON number.
func (n Number) MarshalJSON() ([]byte, error) {
	return []byte(n.Decimal.String()), nil
}

// UnmarshalJSON implements json.Unmarshaler. It accepts a JSON number only
// (not a quoted one); the digits are parsed as a decimal, never through
// float64. null leaves the value unchanged, like encoding/json does.
func (n *Number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) || !json.Valid(b) {
		return fmt.Errorf("ocpi: %s is not a JSON number", b)
	}
	d, err := decimal.NewFromString(string(b))
	if err != nil {
		return fmt.Errorf("ocpi: %s is not a number: %w", b, err)
	}
	n.Decimal = d
	return nil
}

// DisplayText is a text in one language (types "DisplayText class").
type DisplayText struct {
	// Language is an ISO 639-1 code.
	Language string `json:"language"`
	// Text is plain text, at most 512 characters.
	Text string `json:"text"`
}

// Price is an amount excluding and optionally including VAT (types "Price class").
type Price struct {
	ExclVAT Number  `json:"excl_vat"`
	InclVAT *Number `json:"incl_vat,omitempty"`
}

// GeoLocation is a position (mod_locations "GeoLocation class"): decimal
// degrees as strings, as the spec defines them.
type GeoLocation struct {
	Latitude  string `json:"latitude"`
	Longitude string `json:"longitude"`
}

// EnergySource is one share of an energy mix (mod_locations "EnergySource class").
type EnergySource struct {
	// Source is an EnergySourceCategory (NUCLEAR, GENERAL_FOSSIL, COAL, GAS,
	// GENERAL_GREEN, SOLAR, WIND, WATER).
	Source     string `json:"source"`
	Percentage Number `json:"percentage"`
}

// EnvironmentalImpact is an environmental impact value (mod_locations
// "EnvironmentalImpact class").
type EnvironmentalImpact struct {
	// Category is NUCLEAR_WASTE or CARBON_DIOXIDE.
	Category string `json:"category"`
	// Amount in g/kWh.
	Amount Number `json:"amount"`
}

// EnergyMix describes the energy supplied (mod_locations "EnergyMix class").
type EnergyMix struct {
	IsGreenEnergy     bool                  `json:"is_green_energy"`
	EnergySources     []EnergySource        `json:"energy_sources,omitempty"`
	EnvironImpact     []EnvironmentalImpact `json:"environ_impact,omitempty"`
	SupplierName      string                `json:"supplier_name,omitempty"`
	EnergyProductName string                `json:"energy_product_name,omitempty"`
}
