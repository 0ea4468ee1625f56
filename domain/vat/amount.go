package vat

import (
	"strings"

	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/iso"
)

// MinorUnits returns the ISO 4217 minor unit (number of decimal places) of
// an alpha-3 currency code (case-insensitive) and whether the currency is
// known. The table is the shared one in domain/iso (EUR, GBP, CHF, SEK, NOK,
// DKK, PLN, CZK, HUF and USD have 2, JPY and ISK 0); unlike iso.MinorUnits,
// an unknown currency is reported instead of defaulting to 2, because VAT
// must never be rounded to a guessed unit.
func MinorUnits(currency string) (int32, bool) {
	c := strings.ToUpper(strings.TrimSpace(currency))
	if !iso.Currency(c) {
		return 0, false
	}
	return iso.MinorUnits(c), true
}

// RoundToMinor rounds amount to the minor unit of currency, half away from
// zero (0.005 → 0.01, -0.005 → -0.01). Rounding rule: DESIGN.md "Round only
// where the rules say (… VAT per line)"; the guide names no rounding mode,
// so this uses commercial rounding, which is symmetric for the negative
// amounts the guide uses for expenses and reversals ("Positive and negative
// monetary amounts"). shopspring's Decimal.Round rounds half away from zero.
func RoundToMinor(amount decimal.Decimal, currency string) (decimal.Decimal, error) {
	places, ok := MinorUnits(currency)
	if !ok {
		return decimal.Decimal{}, fault.Invalid("currency", "unknown currency %q", currency)
	}
	return amount.Round(places), nil
}

// Amounts are the VAT amounts of one line.
type Amounts struct {
	// ExclVAT is the line amount excluding VAT, as given.
	ExclVAT decimal.Decimal
	// VATUnrounded is ExclVAT × percentage / 100, exact. The guide keeps
	// this value next to the rounded one ("vat_amount_unrounded" on
	// charge session subtotals, changelog v3.53.0), so a caller that
	// totals VAT per invoice roll-up can sum unrounded values.
	VATUnrounded decimal.Decimal
	// VAT is VATUnrounded rounded to the currency's minor unit (RoundToMinor).
	VAT decimal.Decimal
	// InclVAT is ExclVAT + VAT.
	InclVAT decimal.Decimal
}

// Apply computes the VAT of one line of amount excl (excluding VAT) in
// currency under the determined result r. VAT is computed per line ("These
// rules apply to each item’s subtotal", guide "VAT kind") and rounded per
// line to the currency's minor unit (RoundToMinor). Exempt and
// reverse-charged results carry no VAT.
func Apply(excl decimal.Decimal, r Result, currency string) (Amounts, error) {
	pct := r.Percentage
	if r.Exempt || r.ReverseCharged {
		// An exempt or reverse-charged line carries no VAT whatever
		// percentage a misconfigured rate might hold.
		pct = decimal.Zero
	}
	return ApplyPercentage(excl, pct, currency)
}

// ApplyPercentage computes the VAT of one line of amount excl at pct percent
// (21 means 21 %) in currency; see Apply for the rounding rule.
func ApplyPercentage(excl, pct decimal.Decimal, currency string) (Amounts, error) {
	// Shift(-2) divides by 100 exactly; Mul is exact, so VATUnrounded has
	// no representation error.
	unrounded := excl.Mul(pct).Shift(-2)
	vat, err := RoundToMinor(unrounded, currency)
	if err != nil {
		return Amounts{}, err
	}
	return Amounts{
		ExclVAT:      excl,
		VATUnrounded: unrounded,
		VAT:          vat,
		InclVAT:      excl.Add(vat),
	}, nil
}
