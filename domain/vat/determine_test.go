package vat

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/fault"
)

// TestGuideVATExamples is the guide's "VAT examples" section, one case per
// example, with the exact outcome the guide gives.
func TestGuideVATExamples(t *testing.T) {
	cases := []struct {
		example     string
		origin      string
		wantCountry string
		wantPct     string
	}{
		{"A session in Norway will result in the standard Norwegian VAT rate of 25%.", "NO", "NO", "25"},
		{"A session in Belgium will result in the Belgian VAT rate of 21%.", "BE", "BE", "21"},
		{"A session in Germany will result in the Dutch VAT rate of 21% being applied because no VAT policy for Germany was defined.", "DE", "NL", "21"},
	}
	for _, c := range cases {
		t.Run(c.origin, func(t *testing.T) {
			res, err := Determine(Input{
				Category:      CategoryMSPChargeSession,
				OriginCountry: c.origin,
				Moment:        moment,
			}, guideConfig())
			require.NoError(t, err, c.example)
			require.Equal(t, c.wantCountry, res.Country, c.example)
			require.Equal(t, KindStandard, res.Kind, c.example)
			requirePct(t, c.wantPct, res.Percentage)
			require.False(t, res.Exempt)
			require.False(t, res.ReverseCharged)
			require.Equal(t, "charge-session-standard", res.RuleID)
			require.Equal(t, []StepName{StepCountry, StepKind, StepRate}, stepNames(res))
			require.NotEmpty(t, res.Explanation())
		})
	}
}

// TestGuideGermanyUses19OnlyWithPolicy checks the counterfactual the German
// example implies: with an origin policy for Germany the 19 % rate applies.
func TestGuideGermanyUses19OnlyWithPolicy(t *testing.T) {
	cfg := guideConfig()
	cfg.Seller.Policies["DE"] = PolicyOriginCountry
	res, err := Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: "DE", Moment: moment}, cfg)
	require.NoError(t, err)
	require.Equal(t, "DE", res.Country)
	requirePct(t, "19", res.Percentage)
}

func stepNames(r Result) []StepName {
	out := make([]StepName, len(r.Steps))
	for i, s := range r.Steps {
		out[i] = s.Name
	}
	return out
}

func TestCountryDetermination(t *testing.T) {
	cases := []struct {
		name        string
		policy      SellerPolicy
		origin      string
		wantCountry string
		wantCode    string
	}{
		{"origin is seller country", SellerPolicy{Country: "NL", Fallback: FallbackError}, "NL", "NL", ""},
		{"no origin", SellerPolicy{Country: "NL", Fallback: FallbackError}, "", "NL", ""},
		{"origin policy", SellerPolicy{Country: "NL", Fallback: FallbackError, Policies: map[string]CountryPolicy{"BE": PolicyOriginCountry}}, "BE", "BE", ""},
		{"seller policy", SellerPolicy{Country: "NL", Fallback: FallbackError, Policies: map[string]CountryPolicy{"BE": PolicySellerCountry}}, "BE", "NL", ""},
		{"no policy, fallback error", SellerPolicy{Country: "NL", Fallback: FallbackError, Policies: map[string]CountryPolicy{"BE": PolicyOriginCountry}}, "DE", "", CodeCountryUndetermined},
		{"no policy, fallback seller", SellerPolicy{Country: "NL", Fallback: FallbackSellerCountry}, "DE", "NL", ""},
		{"case-insensitive origin and key", SellerPolicy{Country: "nl", Fallback: FallbackError, Policies: map[string]CountryPolicy{"be": PolicyOriginCountry}}, "be", "BE", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{
				Seller: c.policy,
				Rules:  []Rule{{Category: CategoryMSPChargeSession, Kind: KindStandard}},
				Rates: []Rate{
					{Country: "NL", Kind: KindStandard, Percentage: dec("21")},
					{Country: "BE", Kind: KindStandard, Percentage: dec("21")},
					{Country: "DE", Kind: KindStandard, Percentage: dec("19")},
				},
			}
			res, err := Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: c.origin, Moment: moment}, cfg)
			if c.wantCode != "" {
				requireFault(t, err, fault.KindConflict, c.wantCode)
				require.Contains(t, err.Error(), "DE")
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.wantCountry, res.Country)
		})
	}
}

func TestKindSelection(t *testing.T) {
	cfg := guideConfig()
	cfg.Rules = []Rule{
		{ID: "generic", Category: CategoryMSPChargeSession, Kind: KindStandard},
		{ID: "be-reduced", Category: CategoryMSPChargeSession, Country: "BE", Kind: KindReduced},
		{ID: "nl-zero-export", Category: CategoryMSPChargeSession, Country: "NL", Indicators: []string{"export"}, Kind: KindZero},
		{ID: "fee", Category: CategoryMSPSubscriptionFee, Kind: KindStandard},
	}
	cfg.Rates = append(cfg.Rates,
		Rate{Country: "BE", Kind: KindReduced, Percentage: dec("6")},
		Rate{Country: "NL", Kind: KindZero, Percentage: dec("0")},
	)

	t.Run("country-specific rule beats generic", func(t *testing.T) {
		res, err := Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: "BE", Moment: moment}, cfg)
		require.NoError(t, err)
		require.Equal(t, "be-reduced", res.RuleID)
		require.Equal(t, KindReduced, res.Kind)
		requirePct(t, "6", res.Percentage)
	})
	t.Run("rule country is the VAT country, not the origin", func(t *testing.T) {
		// DE falls back to NL; the BE rule must not apply, the generic must.
		res, err := Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: "DE", Moment: moment}, cfg)
		require.NoError(t, err)
		require.Equal(t, "generic", res.RuleID)
	})
	t.Run("indicator rule applies only with all indicators", func(t *testing.T) {
		res, err := Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: "NL", Indicators: []string{"other", "EXPORT"}, Moment: moment}, cfg)
		require.NoError(t, err)
		require.Equal(t, "nl-zero-export", res.RuleID)
		requirePct(t, "0", res.Percentage)

		res, err = Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: "NL", Indicators: []string{"other"}, Moment: moment}, cfg)
		require.NoError(t, err)
		require.Equal(t, "generic", res.RuleID)
	})
	t.Run("category must match", func(t *testing.T) {
		_, err := Determine(Input{Category: CategoryCPORoaming, OriginCountry: "NL", Moment: moment}, cfg)
		requireFault(t, err, fault.KindConflict, CodeRuleMissing)
	})
	t.Run("equally specific rules are ambiguous", func(t *testing.T) {
		c := cfg
		c.Rules = append([]Rule{{ID: "be-standard", Category: CategoryMSPChargeSession, Country: "BE", Kind: KindStandard}}, cfg.Rules...)
		_, err := Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: "BE", Moment: moment}, c)
		e := requireFault(t, err, fault.KindConflict, CodeRuleAmbiguous)
		require.Contains(t, e.Message, "be-standard")
		require.Contains(t, e.Message, "be-reduced")
	})
	t.Run("rule kind exempt marks the result exempt", func(t *testing.T) {
		c := cfg
		c.Rules = []Rule{{Category: CategoryMSPSubscriptionFee, Kind: KindExempt}}
		c.Rates = []Rate{{Country: "NL", Kind: KindExempt, Percentage: dec("0")}}
		res, err := Determine(Input{Category: CategoryMSPSubscriptionFee, Moment: moment}, c)
		require.NoError(t, err)
		require.True(t, res.Exempt)
		require.Equal(t, KindExempt, res.Kind)
	})
}

func TestRateMissing(t *testing.T) {
	cfg := guideConfig()
	cfg.Seller.Policies["FR"] = PolicyOriginCountry
	_, err := Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: "FR", Moment: moment}, cfg)
	e := requireFault(t, err, fault.KindConflict, CodeRateMissing)
	require.Contains(t, e.Message, "FR")
	require.Contains(t, e.Message, "standard")
}

func TestRateAmbiguous(t *testing.T) {
	cfg := guideConfig()
	cfg.Rates = append(cfg.Rates, Rate{Country: "NL", Kind: KindStandard, Percentage: dec("9"), ValidFrom: ptr(ts("2025-01-01T00:00:00Z"))})
	_, err := Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: "NL", Moment: moment}, cfg)
	requireFault(t, err, fault.KindConflict, CodeRateAmbiguous)
}

func TestInvalidInputAndConfig(t *testing.T) {
	_, err := Determine(Input{OriginCountry: "NLD", Customer: Customer{Country: "Netherlands"}}, guideConfig())
	e := requireFault(t, err, fault.KindInvalid, "invalid")
	paths := fieldPaths(e)
	require.ElementsMatch(t, []string{"category", "moment", "origin_country", "customer.country"}, paths)

	cfg := Config{
		Seller: SellerPolicy{Country: "Netherlands", Fallback: "maybe", Policies: map[string]CountryPolicy{"BE": "sometimes"}},
		Rules:  []Rule{{Country: "x", ValidFrom: ptr(moment), ValidUntil: ptr(moment)}},
		Rates:  []Rate{{Country: "NL", Percentage: dec("-1")}},
	}
	_, err = Determine(Input{Category: CategoryMSPChargeSession, Moment: moment}, cfg)
	e = requireFault(t, err, fault.KindInvalid, "invalid")
	require.ElementsMatch(t, []string{
		"seller.country", "seller.fallback", "seller.policies.BE",
		"rules[0].category", "rules[0].kind", "rules[0].country", "rules[0].valid_until",
		"rates[0].kind", "rates[0].percentage",
	}, fieldPaths(e))
}

func fieldPaths(e *fault.Error) []string {
	out := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		out[i] = f.Path
	}
	return out
}

func TestEUReverseCharge(t *testing.T) {
	base := func() Config {
		cfg := guideConfig()
		cfg.Seller.EUReverseCharge = true
		cfg.Rules = append(cfg.Rules, Rule{Category: CategoryCPORoaming, Kind: KindStandard})
		return cfg
	}
	biz := func(country string) Customer {
		return Customer{ID: "c1", Country: country, VATNumber: country + "123456789B01", Business: true}
	}
	cases := []struct {
		name     string
		enabled  bool
		origin   string
		customer Customer
		wantRC   bool
		wantPct  string
	}{
		{"disabled: normal VAT", false, "NL", biz("DE"), false, "21"},
		{"business in other EU state", true, "NL", biz("DE"), true, "0"},
		{"business in the VAT country", true, "NL", biz("NL"), false, "21"},
		{"origin-country VAT, business in seller's country", true, "BE", biz("NL"), true, "0"},
		{"consumer", true, "NL", Customer{Country: "DE"}, false, "21"},
		{"business without VAT number", true, "NL", Customer{Country: "DE", Business: true}, false, "21"},
		{"business outside the EU", true, "NL", biz("CH"), false, "21"},
		{"VAT country outside the EU", true, "NO", biz("DE"), false, "25"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base()
			cfg.Seller.EUReverseCharge = c.enabled
			res, err := Determine(Input{Category: CategoryCPORoaming, OriginCountry: c.origin, Customer: c.customer, Moment: moment}, cfg)
			require.NoError(t, err)
			require.Equal(t, c.wantRC, res.ReverseCharged)
			requirePct(t, c.wantPct, res.Percentage)
			if c.wantRC {
				require.Equal(t, KindReverseCharge, res.Kind)
				require.Equal(t, []StepName{StepCountry, StepReverseCharge}, stepNames(res))
			} else {
				require.Equal(t, KindStandard, res.Kind)
			}
			if c.enabled {
				require.Contains(t, stepNames(res), StepReverseCharge)
			} else {
				require.NotContains(t, stepNames(res), StepReverseCharge)
			}
		})
	}
}
