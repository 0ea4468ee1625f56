package vat

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/fault"
)

// rateChangeConfig has NL standard VAT changing from 21 % to 22 % at change.
var change = ts("2026-01-01T00:00:00Z")

func rateChangeConfig() Config {
	cfg := guideConfig()
	cfg.Rates = []Rate{
		{ID: "nl-21", Country: "NL", Kind: KindStandard, Percentage: dec("21"), ValidUntil: ptr(change)},
		{ID: "nl-22", Country: "NL", Kind: KindStandard, Percentage: dec("22"), ValidFrom: ptr(change)},
	}
	return cfg
}

func TestRateValidityBoundary(t *testing.T) {
	cfg := rateChangeConfig()
	for _, c := range []struct {
		at     time.Time
		wantID string
		want   string
	}{
		{change.Add(-time.Minute), "nl-21", "21"},
		{change.Add(-time.Nanosecond), "nl-21", "21"},
		{change, "nl-22", "22"},
	} {
		res, err := Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: "NL", Moment: c.at}, cfg)
		require.NoError(t, err)
		require.Equal(t, c.wantID, res.RateID, "at %s", c.at)
		requirePct(t, c.want, res.Percentage)
	}
}

func TestRateGapIsMissing(t *testing.T) {
	cfg := guideConfig()
	cfg.Rates = []Rate{{Country: "NL", Kind: KindStandard, Percentage: dec("21"), ValidUntil: ptr(change)}}
	_, err := Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: "NL", Moment: change}, cfg)
	requireFault(t, err, fault.KindConflict, CodeRateMissing)
}

func TestRuleValidityBoundary(t *testing.T) {
	cfg := guideConfig()
	cfg.Rules = []Rule{
		{ID: "until", Category: CategoryMSPChargeSession, Kind: KindStandard, ValidUntil: ptr(change)},
		{ID: "from", Category: CategoryMSPChargeSession, Kind: KindReduced, ValidFrom: ptr(change)},
	}
	cfg.Rates = append(cfg.Rates, Rate{Country: "NL", Kind: KindReduced, Percentage: dec("9")})

	res, err := Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: "NL", Moment: change.Add(-time.Nanosecond)}, cfg)
	require.NoError(t, err)
	require.Equal(t, "until", res.RuleID)
	requirePct(t, "21", res.Percentage)

	res, err = Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: "NL", Moment: change}, cfg)
	require.NoError(t, err)
	require.Equal(t, "from", res.RuleID)
	require.Equal(t, KindReduced, res.Kind)
	requirePct(t, "9", res.Percentage)

	cfg.Rules = cfg.Rules[:1]
	_, err = Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: "NL", Moment: change}, cfg)
	requireFault(t, err, fault.KindConflict, CodeRuleMissing)
}

// TestRedetermineOnApproval: "if the VAT percentage changes on January 1st
// and a billing box with many items from December is approved in January,
// the percentage valid in January will be used" (guide, "VAT").
func TestRedetermineOnApproval(t *testing.T) {
	cfg := rateChangeConfig()
	dec2025 := ts("2025-12-15T12:00:00Z")
	res, err := Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: "NL", Moment: dec2025}, cfg)
	require.NoError(t, err)
	requirePct(t, "21", res.Percentage)
	stepsBefore := len(res.Steps)

	approved, err := Redetermine(res, cfg.Rates, ts("2026-01-05T08:00:00Z"))
	require.NoError(t, err)
	requirePct(t, "22", approved.Percentage)
	require.Equal(t, "nl-22", approved.RateID)
	require.Equal(t, res.Country, approved.Country)
	require.Equal(t, res.Kind, approved.Kind)
	require.Len(t, res.Steps, stepsBefore, "original result untouched")
	require.Len(t, approved.Steps, stepsBefore+1)

	exempt := Result{Country: "NL", Kind: KindExempt, Exempt: true, Percentage: dec("0")}
	same, err := Redetermine(exempt, nil, change)
	require.NoError(t, err)
	require.Equal(t, exempt, same)

	_, err = Redetermine(res, nil, change)
	requireFault(t, err, fault.KindConflict, CodeRateMissing)
}
