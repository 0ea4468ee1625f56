package vat

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/fault"
)

// guideConfig is the setup of the guide's "VAT examples" section:
//
//   - The MSP is based in the Netherlands.
//   - VAT policies: Belgium and Norway use the original VAT country.
//   - Fallback: apply VAT from the seller's country (Netherlands).
//   - A rule for charge sessions applies the standard VAT rate, regardless
//     of the country.
//   - Standard rates: NL 21 %, BE 21 %, NO 25 %, DE 19 %.
func guideConfig() Config {
	return Config{
		Seller: SellerPolicy{
			Country: "NL",
			Policies: map[string]CountryPolicy{
				"BE": PolicyOriginCountry,
				"NO": PolicyOriginCountry,
			},
			Fallback: FallbackSellerCountry,
		},
		Rules: []Rule{
			{ID: "charge-session-standard", Category: CategoryMSPChargeSession, Kind: KindStandard},
		},
		Rates: []Rate{
			{ID: "nl-std", Country: "NL", Kind: KindStandard, Percentage: dec("21")},
			{ID: "be-std", Country: "BE", Kind: KindStandard, Percentage: dec("21")},
			{ID: "no-std", Country: "NO", Kind: KindStandard, Percentage: dec("25")},
			{ID: "de-std", Country: "DE", Kind: KindStandard, Percentage: dec("19")},
		},
	}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr(t time.Time) *time.Time { return &t }

var moment = ts("2025-03-14T10:00:00Z")

// requireFault asserts that err is a *fault.Error of kind k with code.
func requireFault(t *testing.T, err error, k fault.Kind, code string) *fault.Error {
	t.Helper()
	require.Error(t, err)
	e, ok := fault.As(err)
	require.True(t, ok, "want *fault.Error, got %T: %v", err, err)
	require.Equal(t, k, e.Kind, "kind of %v", err)
	require.Equal(t, code, e.Code, "code of %v", err)
	return e
}

// requirePct asserts a decimal percentage by value.
func requirePct(t *testing.T, want string, got decimal.Decimal) {
	t.Helper()
	require.True(t, dec(want).Equal(got), "percentage: want %s, got %s", want, got)
}
