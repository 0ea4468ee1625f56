package vat

import (
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/period"
)

// Rate is a VAT percentage. "A VAT rate defines the VAT percentage for a
// specific country and VAT kind. … VAT rates have validity periods, allowing
// for percentage changes over time" (guide, "VAT").
type Rate struct {
	// ID identifies the rate in explanations; optional.
	ID string
	// Country is the VAT country (alpha-2).
	Country string
	// Kind is the VAT kind.
	Kind Kind
	// Percentage is the rate in percent: 21 means 21 %.
	Percentage decimal.Decimal
	// ValidFrom and ValidUntil bound the half-open validity period
	// [valid_from, valid_until) (domain/period); nil is open-ended.
	ValidFrom  *time.Time
	ValidUntil *time.Time
}

// validateRates checks every rate and reports every problem at once.
func validateRates(rates []Rate) []fault.Field {
	var fs fault.Fields
	for i, r := range rates {
		p := fmt.Sprintf("rates[%d]", i)
		if _, ok := NormalizeCountry(r.Country); !ok {
			fs.Add(p+".country", "must be an ISO 3166-1 alpha-2 country code, got %q", r.Country)
		}
		if r.Kind == "" {
			fs.Add(p+".kind", "is required")
		}
		if r.Percentage.IsNegative() || r.Percentage.GreaterThan(decimal.NewFromInt(100)) {
			fs.Add(p+".percentage", "must be between 0 and 100, got %s", r.Percentage)
		}
		period.Check(&fs, p+".", r.ValidFrom, r.ValidUntil)
	}
	return fs
}

// RateAt implements step 3 of "Determining VAT": the rate for country and
// kind valid at at. "Once the VAT country and VAT kind are identified, the
// VAT rate (percentage) is determined. VAT rates also have validity periods"
// (guide, "VAT rate"). No rate is a CodeRateMissing conflict; overlapping
// rates a CodeRateAmbiguous conflict.
func RateAt(rates []Rate, country string, kind Kind, at time.Time) (Rate, error) {
	var found []Rate
	for _, r := range rates {
		c, _ := NormalizeCountry(r.Country)
		if c == country && r.Kind == kind && period.Contains(r.ValidFrom, r.ValidUntil, at) {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return Rate{}, fault.Conflict(CodeRateMissing,
			"no %s VAT rate for %s at %s", kind, country, at.UTC().Format(time.RFC3339))
	case 1:
		return found[0], nil
	}
	return Rate{}, fault.Conflict(CodeRateAmbiguous,
		"%d overlapping %s VAT rates for %s at %s", len(found), kind, country, at.UTC().Format(time.RFC3339))
}

// Redetermine looks the percentage of r up again at at. "The final VAT
// percentage is re-determined when a billing box is approved, as billing
// documents are typically sent post-approval and must use the valid
// percentage at that time" (guide, "VAT"). Country and kind stay as they
// were determined; exempt and reverse-charged results carry no VAT and are
// returned unchanged.
func Redetermine(r Result, rates []Rate, at time.Time) (Result, error) {
	if r.Exempt || r.ReverseCharged {
		return r, nil
	}
	rate, err := RateAt(rates, r.Country, r.Kind, at)
	if err != nil {
		return Result{}, err
	}
	out := r
	out.Percentage = rate.Percentage
	out.RateID = rate.ID
	out.Steps = append(slices.Clone(r.Steps), Step{
		Name:   StepRate,
		Detail: fmt.Sprintf("re-determined at %s: %s %s rate %s%%", at.UTC().Format(time.RFC3339), r.Country, r.Kind, rate.Percentage),
	})
	return out, nil
}
