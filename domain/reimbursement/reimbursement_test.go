package reimbursement

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/domain/vat"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }
func decp(s string) *decimal.Decimal {
	d := dec(s)
	return &d
}

var (
	start = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	jan   = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	feb   = time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	apr   = time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
)

// vatConfig: an NL seller that applies Belgian VAT in Belgium, standard
// VAT on reimbursements; NL 21 %, BE 6 % (a made-up rate, so that the
// country visibly matters).
func vatConfig() vat.Config {
	return vat.Config{
		Seller: vat.SellerPolicy{Country: "NL", Fallback: vat.FallbackError, Policies: map[string]vat.CountryPolicy{"BE": vat.PolicyOriginCountry}},
		Rules:  []vat.Rule{{Category: vat.CategoryCPOReimbursement, Kind: vat.KindStandard}},
		Rates: []vat.Rate{{Country: "NL", Kind: vat.KindStandard, Percentage: dec("21")},
			{Country: "BE", Kind: vat.KindStandard, Percentage: dec("6")}},
	}
}

func sess() Session {
	return Session{Start: start, Energy: dec("10.5"), Time: dec("1.25"), ParkingTime: dec("0.5"), Currency: "EUR",
		OriginCountry: "NL", EVSEUID: "EVSE-1"}
}

func arr(calc Calculation, comps []Component, rv vat.ReimbursementVAT) Arrangement {
	return Arrangement{ID: uuid.New(), Plan: Plan{ID: uuid.New(), Calculation: calc, Components: comps}, Currency: "EUR",
		Customer: vat.Customer{ID: "owner", Country: "NL", ReimbursementVAT: rv}, VAT: vatConfig()}
}

type line struct{ comp, vol, excl, vat string }

func requireLines(t *testing.T, r session.PriceResult, want ...line) {
	t.Helper()
	require.Len(t, r.Components, len(want))
	for i, w := range want {
		c := r.Components[i]
		require.Equal(t, w.comp, c.Component)
		require.True(t, dec(w.vol).Equal(c.Volume), "%s volume %s", w.comp, c.Volume)
		require.True(t, dec(w.excl).Equal(c.ExclVAT), "%s excl %s", w.comp, c.ExclVAT)
		require.True(t, dec(w.vat).Equal(c.VAT), "%s vat %s", w.comp, c.VAT)
		require.True(t, c.ExclVAT.Add(c.VAT).Equal(c.InclVAT))
	}
}

func requireFailure(t *testing.T, err error, check session.Check, reason string) *session.PricingFailure {
	t.Helper()
	var f *session.PricingFailure
	require.True(t, errors.As(err, &f), "want *session.PricingFailure, got %v", err)
	require.Equal(t, check, f.Check)
	require.Equal(t, reason, f.Reason)
	return f
}

func TestCMSProvided(t *testing.T) {
	s := sess()
	s.CMSReimbursement = decp("12.34")
	a := arr(CMSProvided, nil, vat.ReimbursementVATApplies)
	rs, err := Price(s, []Arrangement{a})
	require.NoError(t, err)
	require.Len(t, rs, 1)
	r := rs[0]
	require.Equal(t, session.KindReimbursement, r.Kind)
	require.Equal(t, a.ID, *r.SubjectID)
	require.Equal(t, "EUR", r.Currency)
	requireLines(t, r, line{CMSComponent, "1", "12.34", "2.59"}) // 12.34 × 21 % = 2.5914
	require.True(t, dec("0.21").Equal(r.Components[0].VATRate), "VAT rate is a fraction")
	require.True(t, dec("14.93").Equal(r.InclVAT))

	s.CMSReimbursement = nil
	_, err = Price(s, []Arrangement{a})
	requireFailure(t, err, session.CheckPricingConfigured, ReasonCMSMissing)

	s.CMSReimbursement, s.Currency = decp("1"), "GBP"
	_, err = Price(s, []Arrangement{a})
	requireFailure(t, err, session.CheckPricingConfigured, ReasonCurrency)
}

func TestCalculated(t *testing.T) {
	a := arr(Calculated, []Component{Energy, Time, ParkingTime, Flat}, vat.ReimbursementVATApplies)
	a.Plan.Inputs = []Input{{Energy, jan, dec("0.20")}, {Time, jan, dec("1")}, {ParkingTime, jan, dec("0.8")}, {Flat, jan, dec("0.50")}}
	rs, err := Price(sess(), []Arrangement{a})
	require.NoError(t, err)
	requireLines(t, rs[0],
		line{"energy", "10.5", "2.1", "0.44"},      // 0.441
		line{"time", "0.75", "0.75", "0.16"},       // charging time: 1.25 h total less 0.5 h parking; 0.1575
		line{"parking_time", "0.5", "0.4", "0.08"}, // 0.084
		line{"flat", "1", "0.5", "0.11"},           // 0.105, half away from zero
	)
	require.True(t, dec("3.75").Equal(rs[0].ExclVAT))
	require.True(t, dec("0.79").Equal(rs[0].VAT), "VAT is the sum of the per-line VAT")

	var d Detail
	require.NoError(t, json.Unmarshal(rs[0].Detail, &d))
	require.Len(t, d.Inputs, 4)
	require.Equal(t, "NL", d.VAT.Country)
	require.NotEmpty(t, d.VAT.Steps)
}

// TestInputPrecedence: the arrangement's input overrides the plan's for the
// same component and valid_from; the latest valid_from not after the
// session start applies, whoever set it.
func TestInputPrecedence(t *testing.T) {
	cases := []struct {
		name        string
		plan, own   []Input
		want        string
		wantSource  string
		wantMissing bool
	}{
		{name: "plan only", plan: []Input{{Energy, jan, dec("0.20")}}, want: "0.2", wantSource: "plan"},
		{name: "arrangement overrides plan at the same valid_from", plan: []Input{{Energy, jan, dec("0.20")}}, own: []Input{{Energy, jan, dec("0.25")}},
			want: "0.25", wantSource: "arrangement"},
		{name: "arrangement's later input applies", plan: []Input{{Energy, jan, dec("0.20")}}, own: []Input{{Energy, feb, dec("0.25")}},
			want: "0.25", wantSource: "arrangement"},
		{name: "plan's later price change applies over an older arrangement input", plan: []Input{{Energy, feb, dec("0.22")}},
			own: []Input{{Energy, jan, dec("0.25")}}, want: "0.22", wantSource: "plan"},
		{name: "the arrangement overrides the plan's price change at its own valid_from", plan: []Input{{Energy, jan, dec("0.20")}, {Energy, feb, dec("0.22")}},
			own: []Input{{Energy, feb, dec("0.30")}}, want: "0.3", wantSource: "arrangement"},
		{name: "input starting after the session is not used yet", plan: []Input{{Energy, jan, dec("0.20")}, {Energy, apr, dec("0.40")}},
			want: "0.2", wantSource: "plan"},
		{name: "input starting exactly at the session start applies", plan: []Input{{Energy, jan, dec("0.20")}, {Energy, start, dec("0.40")}},
			want: "0.4", wantSource: "plan"},
		{name: "another component's input does not count", plan: []Input{{Flat, jan, dec("1")}}, wantMissing: true},
		{name: "only future inputs: missing", own: []Input{{Energy, apr, dec("0.40")}}, wantMissing: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := arr(Calculated, []Component{Energy}, vat.ReimbursementVATApplies)
			a.Plan.Inputs, a.Inputs = c.plan, c.own
			rs, err := Price(sess(), []Arrangement{a})
			if c.wantMissing {
				requireFailure(t, err, session.CheckPricingConfigured, ReasonInputMissing)
				return
			}
			require.NoError(t, err)
			var d Detail
			require.NoError(t, json.Unmarshal(rs[0].Detail, &d))
			require.True(t, dec(c.want).Equal(d.Inputs[0].Value), "value %s", d.Inputs[0].Value)
			require.Equal(t, c.wantSource, d.Inputs[0].Source)
			require.True(t, dec(c.want).Mul(dec("10.5")).Equal(rs[0].ExclVAT))
		})
	}
}

// TestReimbursementVAT covers the VAT rules: one arrangement with its
// customer's Applies/Exempt/Unknown; no arrangement with reimbursement
// mandatory on or off; several arrangements agreeing or not.
func TestReimbursementVAT(t *testing.T) {
	calc := func(rv vat.ReimbursementVAT) Arrangement {
		a := arr(Calculated, []Component{Flat}, rv)
		a.Plan.Inputs = []Input{{Flat, jan, dec("10")}}
		return a
	}
	t.Run("one arrangement, applies: normal VAT", func(t *testing.T) {
		rs, err := Price(sess(), []Arrangement{calc(vat.ReimbursementVATApplies)})
		require.NoError(t, err)
		requireLines(t, rs[0], line{"flat", "1", "10", "2.1"})
	})
	t.Run("one arrangement, exempt: no VAT", func(t *testing.T) {
		rs, err := Price(sess(), []Arrangement{calc(vat.ReimbursementVATExempt)})
		require.NoError(t, err)
		requireLines(t, rs[0], line{"flat", "1", "10", "0"})
		require.True(t, rs[0].Components[0].VATRate.IsZero())
		var d Detail
		require.NoError(t, json.Unmarshal(rs[0].Detail, &d))
		require.True(t, d.VAT.Exempt)
		require.Equal(t, vat.KindExempt, d.VAT.Kind)
	})
	t.Run("one arrangement, unknown: drop-out", func(t *testing.T) {
		_, err := Price(sess(), []Arrangement{calc(vat.ReimbursementVATUnknown)})
		f := requireFailure(t, err, session.CheckVATDetermined, ReasonVAT)
		require.Contains(t, f.Detail, "applies or exempt")
	})
	t.Run("no arrangement, reimbursement mandatory: drop-out", func(t *testing.T) {
		s := sess()
		s.ReimbursementMandatory = true
		_, err := Price(s, nil)
		f := requireFailure(t, err, session.CheckPricingConfigured, ReasonArrangementMissing)
		require.Contains(t, f.Detail, "EVSE-1")
	})
	t.Run("no arrangement, reimbursement not mandatory: nothing owed", func(t *testing.T) {
		rs, err := Price(sess(), nil)
		require.NoError(t, err)
		require.Empty(t, rs)
	})
	t.Run("several arrangements agreeing: one result each", func(t *testing.T) {
		a, b := calc(vat.ReimbursementVATExempt), calc(vat.ReimbursementVATExempt)
		b.Plan.Inputs = []Input{{Flat, jan, dec("4")}}
		rs, err := Price(sess(), []Arrangement{a, b})
		require.NoError(t, err)
		require.Len(t, rs, 2)
		require.Equal(t, a.ID, *rs[0].SubjectID)
		require.Equal(t, b.ID, *rs[1].SubjectID)
		require.True(t, dec("10").Equal(rs[0].InclVAT))
		require.True(t, dec("4").Equal(rs[1].InclVAT))
	})
	t.Run("several arrangements disagreeing on VAT: drop-out", func(t *testing.T) {
		_, err := Price(sess(), []Arrangement{calc(vat.ReimbursementVATApplies), calc(vat.ReimbursementVATExempt)})
		requireFailure(t, err, session.CheckVATDetermined, ReasonVATConflict)
	})
	t.Run("several arrangements all unknown: drop-out on VAT", func(t *testing.T) {
		_, err := Price(sess(), []Arrangement{calc(vat.ReimbursementVATUnknown), calc("")})
		requireFailure(t, err, session.CheckVATDetermined, ReasonVAT)
	})
	t.Run("origin country policy: Belgian VAT in Belgium", func(t *testing.T) {
		s := sess()
		s.OriginCountry = "BE"
		rs, err := Price(s, []Arrangement{calc(vat.ReimbursementVATApplies)})
		require.NoError(t, err)
		requireLines(t, rs[0], line{"flat", "1", "10", "0.6"})
	})
	t.Run("no policy for the country and fallback error: drop-out", func(t *testing.T) {
		s := sess()
		s.OriginCountry = "DE"
		_, err := Price(s, []Arrangement{calc(vat.ReimbursementVATApplies)})
		f := requireFailure(t, err, session.CheckVATDetermined, ReasonVAT)
		require.Contains(t, f.Detail, "DE")
	})
}

func TestValidatePlanAndInput(t *testing.T) {
	require.NoError(t, ValidatePlan(Calculated, []Component{Energy, Flat}))
	require.NoError(t, ValidatePlan(CMSProvided, nil))
	require.Error(t, ValidatePlan(Calculated, nil))
	require.Error(t, ValidatePlan(CMSProvided, []Component{Energy}))
	require.Error(t, ValidatePlan("guess", nil))
	require.Error(t, ValidatePlan(Calculated, []Component{Energy, Energy}))
	require.Error(t, ValidatePlan(Calculated, []Component{"kwh"}))
	require.NoError(t, ValidateInput(Input{Energy, jan, dec("0.2")}, []Component{Energy}))
	require.Error(t, ValidateInput(Input{Flat, jan, dec("0.2")}, []Component{Energy}))
	require.Error(t, ValidateInput(Input{Energy, jan, dec("-0.2")}, []Component{Energy}))
}

// TestPriceProperties: for any non-negative volumes and inputs, each
// result's totals are the sums of its lines, incl. VAT ≥ excl. VAT, VAT is
// rounded to cents, and pricing the same inputs twice gives the same
// result (repricing is deterministic).
func TestPriceProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		amount := func(label string) decimal.Decimal {
			return decimal.New(rapid.Int64Range(0, 10_000_000).Draw(t, label), -int32(rapid.IntRange(0, 6).Draw(t, label+"_exp")))
		}
		s := sess()
		s.Energy, s.Time, s.ParkingTime = amount("energy"), amount("time"), amount("parking")
		a := arr(Calculated, []Component{Energy, Time, ParkingTime, Flat}, rapid.SampledFrom([]vat.ReimbursementVAT{
			vat.ReimbursementVATApplies, vat.ReimbursementVATExempt}).Draw(t, "rv"))
		for _, c := range a.Plan.Components {
			a.Plan.Inputs = append(a.Plan.Inputs, Input{c, jan, amount(string(c))})
		}
		r1, err := Price(s, []Arrangement{a})
		if err != nil {
			t.Fatal(err)
		}
		r2, _ := Price(s, []Arrangement{a})
		if string(r1[0].Detail) != string(r2[0].Detail) || !r1[0].InclVAT.Equal(r2[0].InclVAT) {
			t.Fatal("pricing the same inputs twice differs")
		}
		r := r1[0]
		sumEx, sumVAT := decimal.Zero, decimal.Zero
		for _, c := range r.Components {
			sumEx, sumVAT = sumEx.Add(c.ExclVAT), sumVAT.Add(c.VAT)
			if !c.VAT.Equal(c.VAT.Round(2)) {
				t.Fatalf("VAT %s is not rounded to cents", c.VAT)
			}
		}
		if !sumEx.Equal(r.ExclVAT) || !sumVAT.Equal(r.VAT) || !r.ExclVAT.Add(r.VAT).Equal(r.InclVAT) {
			t.Fatalf("totals %s/%s/%s are not the sums of the lines", r.ExclVAT, r.VAT, r.InclVAT)
		}
		if r.InclVAT.LessThan(r.ExclVAT) {
			t.Fatalf("incl. VAT %s < excl. VAT %s", r.InclVAT, r.ExclVAT)
		}
	})
}
