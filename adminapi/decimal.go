package adminapi

import (
	"errors"
	"regexp"

	"github.com/shopspring/decimal"
)

// Decimal is how the Admin API carries exact numbers (003 → Data types →
// Decimals): a JSON string with "." as separator and no thousands separator;
// inputs of up to 28 digits are rounded to 12 fractional digits; the range is
// -10^16 … 10^16; output has at most 12 fractional digits.
type Decimal struct{ decimal.Decimal }

var (
	decimalSyntax = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)
	decimalMax    = decimal.New(1, 16)
)

// maxDecimalDigits is the guide's input precision limit.
const maxDecimalDigits = 28

// UnmarshalJSON accepts only a JSON string in the guide's format.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return errors.New(`must be a decimal number written as a JSON string, e.g. "12.50"`)
	}
	s := string(b[1 : len(b)-1])
	if !decimalSyntax.MatchString(s) {
		return errors.New(`must be a decimal number with "." as separator and no exponent, e.g. "12.50"`)
	}
	digits := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits > maxDecimalDigits {
		return errors.New("must have at most 28 digits")
	}
	v := decimal.RequireFromString(s).Round(12)
	if v.Abs().GreaterThan(decimalMax) {
		return errors.New("must be between -10^16 and 10^16")
	}
	d.Decimal = v
	return nil
}

// MarshalJSON writes the value as a string with at most 12 fractional digits.
func (d Decimal) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.Decimal.Round(12).String() + `"`), nil
}

func decPtr(d *Decimal) *decimal.Decimal {
	if d == nil {
		return nil
	}
	return &d.Decimal
}

func apiDec(d *decimal.Decimal) *Decimal {
	if d == nil {
		return nil
	}
	return &Decimal{*d}
}
