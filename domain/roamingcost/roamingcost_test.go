package roamingcost

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/roamnode/roamnode/domain/pricing"
	"github.com/roamnode/roamnode/domain/session"
)

func d(s string) decimal.Decimal   { return decimal.RequireFromString(s) }
func dp(s string) *decimal.Decimal { v := d(s); return &v }

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// tariff12 is the tariff of the official CDR example (mod_cdrs
// cdr_example.json, tariffs[0]): TIME at 2.00 per hour, 10 % VAT, billed
// per 5 minutes.
func tariff12() pricing.Tariff {
	return pricing.Tariff{ID: "12", Currency: "EUR", Elements: []pricing.Element{{Components: []pricing.Component{
		{Type: pricing.Time, Price: d("2.00"), VAT: dp("10.0"), StepSize: 300}}}}}
}

// example is the official CDR example as the pricer's inputs: 1.973 hours
// of charging at location LOC1, EVSE 3256, connector 1, with a roaming
// agreement of the token's eMSP valid at the start.
func example() Inputs {
	partner := uuid.MustParse("01900000-0000-7000-8000-000000000001")
	return Inputs{Start: at("2015-06-29T21:39:09Z"), End: at("2015-06-29T23:37:32Z"),
		Periods:         []pricing.Period{{Start: at("2015-06-29T21:39:09Z"), Time: d("1.973")}},
		PeriodTariffIDs: []string{"12"}, Currency: "EUR", TokenCountry: "DE", TokenParty: "TNM", PartnerID: &partner,
		Agreements:         []Agreement{{ID: uuid.MustParse("01900000-0000-7000-8000-000000000002")}},
		ConnectorTariffIDs: []string{"12"}, Tariffs: map[string]Tariff{"12": {Tariff: tariff12()}},
		EVSE: "3256", Connector: "1", TimeZone: "Europe/Brussels"}
}

// The official example's totals are reproduced to the cent: 1.973 h is
// 7102.8 s, rounded up to 7200 s by the 300 s step, 2 h × 2.00 = 4.00
// excluding VAT, 4.40 including 10 % VAT (cdr_example.json total_cost).
func TestOfficialExampleToTheCent(t *testing.T) {
	r, err := Compute(example())
	require.NoError(t, err)
	require.Equal(t, session.KindRoamingCost, r.Kind)
	require.Nil(t, r.SubjectID)
	require.Equal(t, "EUR", r.Currency)
	require.Equal(t, "4", r.ExclVAT.String())
	require.Equal(t, "0.4", r.VAT.String())
	require.Equal(t, "4.4", r.InclVAT.String())
	require.Len(t, r.Components, 1)
	c := r.Components[0]
	require.Equal(t, "time", c.Component)
	require.Equal(t, "h", c.Unit)
	require.True(t, c.Volume.Equal(d("2")), c.Volume.String())
	require.True(t, c.VATRate.Equal(d("0.1")), c.VATRate.String())

	tot, err := TotalsOf(r)
	require.NoError(t, err)
	require.Equal(t, "12", tot.TariffID)
	require.True(t, tot.TotalTimeCost.ExclVAT.Equal(d("4")))
	require.True(t, tot.TotalCost.InclVAT.Equal(d("4.4")))
	require.True(t, tot.TotalTime.Round(3).Equal(d("1.973")), tot.TotalTime.String())

	var det map[string]any
	require.NoError(t, json.Unmarshal(r.Detail, &det))
	require.Equal(t, "01900000-0000-7000-8000-000000000002", det["agreement_id"])
	require.Equal(t, "DE-TNM", det["token_party"])
	require.Equal(t, "Europe/Brussels", det["time_zone"])
	require.Len(t, det["lines"], 1)
}

func failure(t *testing.T, err error) *session.PricingFailure {
	t.Helper()
	var f *session.PricingFailure
	require.True(t, errors.As(err, &f), "want a pricing failure, got %v", err)
	return f
}

// Without a partner owning the token's party, or without an agreement in
// role cpo valid at the start (half-open periods), the session drops out
// with "No roaming agreement".
func TestNoRoamingAgreement(t *testing.T) {
	in := example()
	in.PartnerID = nil
	_, err := Compute(in)
	f := failure(t, err)
	require.Equal(t, ReasonNoAgreement, f.Reason)
	require.Equal(t, session.CheckPricingConfigured, f.Check)
	require.Contains(t, f.Detail, "DE-TNM")

	start := example().Start
	after, before := start.Add(time.Minute), start
	for name, a := range map[string]Agreement{
		"starts after the session":        {ValidFrom: &after},
		"ended exactly at the start":      {ValidUntil: &before},
		"ended before, another not yet":   {ValidUntil: ptr(start.Add(-time.Hour))},
		"valid from exactly the start ok": {ValidFrom: &before},
	} {
		in := example()
		in.Agreements = []Agreement{a}
		_, err := Compute(in)
		if name == "valid from exactly the start ok" {
			require.NoError(t, err, name)
			continue
		}
		require.Equal(t, ReasonNoAgreement, failure(t, err).Reason, name)
	}
	in = example()
	in.Agreements = []Agreement{{ValidUntil: ptr(start.Add(-time.Hour))}, {ValidFrom: ptr(start.Add(-time.Minute))}}
	_, err = Compute(in)
	require.NoError(t, err, "the second agreement is valid")
}

func ptr[T any](v T) *T { return &v }

// The tariff is the connector's: ad-hoc and profile tariffs are skipped,
// tariffs not valid at the start are skipped, a tariff named by the
// charging periods wins over the first candidate; none left is a drop-out.
func TestTariffChoice(t *testing.T) {
	cheap := pricing.Tariff{ID: "CHEAP", Currency: "EUR", Elements: []pricing.Element{{Components: []pricing.Component{
		{Type: pricing.Time, Price: d("1.00")}}}}}
	adhoc := pricing.Tariff{ID: "ADHOC", Currency: "EUR", Elements: []pricing.Element{{Components: []pricing.Component{
		{Type: pricing.Time, Price: d("9.00")}}}}}
	expired := pricing.Tariff{ID: "OLD", Currency: "EUR", EndDateTime: ptr(at("2015-01-01T00:00:00Z")), Elements: []pricing.Element{{
		Components: []pricing.Component{{Type: pricing.Time, Price: d("7.00")}}}}}

	in := example()
	in.ConnectorTariffIDs = []string{"adhoc", "old", "cheap", "12"}
	in.Tariffs = map[string]Tariff{"ADHOC": {Type: "AD_HOC_PAYMENT", Tariff: adhoc}, "OLD": {Tariff: expired},
		"CHEAP": {Type: "REGULAR", Tariff: cheap}, "12": {Tariff: tariff12()}}
	in.PeriodTariffIDs = []string{""}
	r, err := Compute(in)
	require.NoError(t, err)
	tot, _ := TotalsOf(r)
	require.Equal(t, "CHEAP", tot.TariffID, "first regular tariff valid at the start")
	require.True(t, r.ExclVAT.Equal(d("1.973")), r.ExclVAT.String())
	require.True(t, r.VAT.IsZero(), "no vat given: none applicable")

	in.PeriodTariffIDs = []string{"12"}
	r, err = Compute(in)
	require.NoError(t, err)
	tot, _ = TotalsOf(r)
	require.Equal(t, "12", tot.TariffID, "named by the charging period")

	in.PeriodTariffIDs = []string{"ADHOC"}
	r, err = Compute(in)
	require.NoError(t, err)
	tot, _ = TotalsOf(r)
	require.Equal(t, "CHEAP", tot.TariffID, "a named tariff that is not a candidate is ignored")

	in.ConnectorTariffIDs = []string{"adhoc", "old", "missing"}
	_, err = Compute(in)
	f := failure(t, err)
	require.Equal(t, ReasonNoTariff, f.Reason)
	require.Contains(t, f.Detail, "EVSE 3256")
}

// A tariff in another currency than the session's drops the session out.
func TestCurrencyMismatch(t *testing.T) {
	in := example()
	in.Currency = "SEK"
	_, err := Compute(in)
	require.Equal(t, ReasonCurrencyMismatch, failure(t, err).Reason)
}

// Restrictions are evaluated in the location's time zone: a night tariff
// from 22:00 local applies to the part of the session after 22:00 in
// Brussels (20:00 UTC in summer), not after 22:00 UTC.
func TestLocalTimeRestrictions(t *testing.T) {
	c22 := pricing.Clock(22 * 60)
	c06 := pricing.Clock(6 * 60)
	night := pricing.Tariff{ID: "N", Currency: "EUR", Elements: []pricing.Element{
		{Components: []pricing.Component{{Type: pricing.Energy, Price: d("0.10"), VAT: dp("21")}},
			Restrictions: &pricing.Restrictions{StartTime: &c22, EndTime: &c06}},
		{Components: []pricing.Component{{Type: pricing.Energy, Price: d("0.50"), VAT: dp("21")}}},
	}}
	in := example()
	in.Start, in.End = at("2015-06-29T19:00:00Z"), at("2015-06-29T21:00:00Z") // 21:00–23:00 in Brussels
	in.Periods = []pricing.Period{{Start: in.Start, Energy: d("20")}}
	in.PeriodTariffIDs = nil
	in.ConnectorTariffIDs = []string{"N"}
	in.Tariffs = map[string]Tariff{"N": {Tariff: night}}
	r, err := Compute(in)
	require.NoError(t, err)
	// 10 kWh before 22:00 local at 0.50, 10 kWh after at 0.10 = 6.00.
	require.True(t, r.ExclVAT.Equal(d("6")), r.ExclVAT.String())
	require.True(t, r.InclVAT.Equal(d("7.26")), r.InclVAT.String())
	require.Len(t, r.Components, 1, "one component per dimension and VAT rate")
	require.True(t, r.Components[0].Volume.Equal(d("20")))

	in.TimeZone = "UTC" // 19:00–21:00 UTC: all day rate
	r, err = Compute(in)
	require.NoError(t, err)
	require.True(t, r.ExclVAT.Equal(d("10")), r.ExclVAT.String())
}

// Components are per dimension and VAT rate; the min_price adjustment is a
// component of its own so that totals stay the sums of the components.
func TestComponentsAndMinPrice(t *testing.T) {
	tf := pricing.Tariff{ID: "M", Currency: "EUR", MinPrice: &pricing.PriceLimit{ExclVAT: d("5")}, Elements: []pricing.Element{
		{Components: []pricing.Component{{Type: pricing.Flat, Price: d("0.50"), VAT: dp("21")}, {Type: pricing.Energy, Price: d("0.25"), VAT: dp("21")}}},
	}}
	in := example()
	in.Periods = []pricing.Period{{Start: in.Start, Energy: d("4")}}
	in.ConnectorTariffIDs, in.PeriodTariffIDs = []string{"M"}, nil
	in.Tariffs = map[string]Tariff{"M": {Tariff: tf}}
	r, err := Compute(in)
	require.NoError(t, err)
	names := []string{}
	for _, c := range r.Components {
		names = append(names, c.Component)
	}
	require.Equal(t, []string{"flat", "energy", "min_price"}, names)
	require.True(t, r.ExclVAT.Equal(d("5")), r.ExclVAT.String())
	sum := decimal.Zero
	for _, c := range r.Components {
		sum = sum.Add(c.InclVAT)
	}
	require.True(t, sum.Equal(r.InclVAT))
}

// The pricer prices CPO sessions only, through its loader.
func TestPricerSides(t *testing.T) {
	p := Pricer{Loader: loaderFunc(func(context.Context, session.ChargeSession) (Inputs, error) { return example(), nil })}
	rs, err := p.Price(context.Background(), session.ChargeSession{Side: session.MSP}, time.Now())
	require.NoError(t, err)
	require.Empty(t, rs)
	rs, err = p.Price(context.Background(), session.ChargeSession{Side: session.CPO}, time.Now())
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.True(t, rs[0].InclVAT.Equal(d("4.4")))
	boom := errors.New("store down")
	p = Pricer{Loader: loaderFunc(func(context.Context, session.ChargeSession) (Inputs, error) { return Inputs{}, boom })}
	_, err = p.Price(context.Background(), session.ChargeSession{Side: session.CPO}, time.Now())
	require.ErrorIs(t, err, boom)
}

type loaderFunc func(context.Context, session.ChargeSession) (Inputs, error)

func (f loaderFunc) RoamingCostInputs(ctx context.Context, s session.ChargeSession) (Inputs, error) {
	return f(ctx, s)
}

// Properties: the totals are the sums of the components, including VAT is
// never below excluding VAT for non-negative prices, and the same inputs
// give the same result (repricing is deterministic).
func TestProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		price := decimal.New(int64(rapid.IntRange(0, 5000).Draw(rt, "price")), -3)
		vat := decimal.NewFromInt(int64(rapid.IntRange(0, 30).Draw(rt, "vat")))
		step := int64(rapid.IntRange(0, 900).Draw(rt, "step"))
		flat := decimal.New(int64(rapid.IntRange(0, 300).Draw(rt, "flat")), -2)
		n := rapid.IntRange(1, 6).Draw(rt, "periods")
		in := example()
		in.Start = at("2024-03-30T22:00:00Z") // across a DST change in Brussels
		t0 := in.Start
		in.Periods = nil
		for i := 0; i < n; i++ {
			p := pricing.Period{Start: t0, Energy: decimal.New(int64(rapid.IntRange(0, 50000).Draw(rt, "wh")), -3),
				ParkingTime: decimal.New(int64(rapid.IntRange(0, 2).Draw(rt, "park")), -1)}
			in.Periods = append(in.Periods, p)
			t0 = t0.Add(time.Duration(rapid.IntRange(1, 240).Draw(rt, "min")) * time.Minute)
		}
		in.End = t0
		in.PeriodTariffIDs = nil
		in.ConnectorTariffIDs = []string{"R"}
		in.Tariffs = map[string]Tariff{"R": {Tariff: pricing.Tariff{ID: "R", Currency: "EUR", Elements: []pricing.Element{{Components: []pricing.Component{
			{Type: pricing.Energy, Price: price, VAT: &vat, StepSize: step}, {Type: pricing.Flat, Price: flat, VAT: &vat},
			{Type: pricing.ParkingTime, Price: price, VAT: &vat, StepSize: step}}}}}}}
		r, err := Compute(in)
		if err != nil {
			rt.Fatal(err)
		}
		var ex, v, inc decimal.Decimal
		for _, c := range r.Components {
			ex, v, inc = ex.Add(c.ExclVAT), v.Add(c.VAT), inc.Add(c.InclVAT)
			if !c.ExclVAT.Add(c.VAT).Equal(c.InclVAT) {
				rt.Fatalf("component %s: %s + %s != %s", c.Component, c.ExclVAT, c.VAT, c.InclVAT)
			}
		}
		if !ex.Equal(r.ExclVAT) || !v.Equal(r.VAT) || !inc.Equal(r.InclVAT) {
			rt.Fatalf("totals %s/%s/%s are not the sums %s/%s/%s", r.ExclVAT, r.VAT, r.InclVAT, ex, v, inc)
		}
		if r.InclVAT.LessThan(r.ExclVAT) {
			rt.Fatalf("incl %s < excl %s", r.InclVAT, r.ExclVAT)
		}
		again, err := Compute(in)
		if err != nil || !again.InclVAT.Equal(r.InclVAT) || string(again.Detail) != string(r.Detail) {
			rt.Fatalf("repricing differs: %v", err)
		}
		tot, err := TotalsOf(r)
		if err != nil || !tot.TotalCost.ExclVAT.Equal(r.ExclVAT) || !tot.TotalCost.InclVAT.Equal(r.InclVAT) {
			rt.Fatalf("the CDR total_cost %v differs from the result %s/%s (%v)", tot.TotalCost, r.ExclVAT, r.InclVAT, err)
		}
	})
}

// A location without a time_zone is priced in its country's zone when the
// country keeps one local time; a country with several zones gets UTC and
// a note. Price takes the country from the session when the loader does
// not give one.
func TestZoneFallsBackToTheCountry(t *testing.T) {
	c22 := pricing.Clock(22 * 60)
	c06 := pricing.Clock(6 * 60)
	night := pricing.Tariff{ID: "N", Currency: "EUR", Elements: []pricing.Element{
		{Components: []pricing.Component{{Type: pricing.Energy, Price: d("0.10")}},
			Restrictions: &pricing.Restrictions{StartTime: &c22, EndTime: &c06}},
		{Components: []pricing.Component{{Type: pricing.Energy, Price: d("0.50")}}},
	}}
	in := example()
	in.Start, in.End = at("2015-06-29T19:00:00Z"), at("2015-06-29T21:00:00Z") // 21:00–23:00 in Amsterdam (UTC+2)
	in.Periods = []pricing.Period{{Start: in.Start, Energy: d("20")}}
	in.PeriodTariffIDs = nil
	in.ConnectorTariffIDs = []string{"N"}
	in.Tariffs = map[string]Tariff{"N": {Tariff: night}}
	in.TimeZone = ""
	// The loader gives no country: Price takes the session's.
	loader := loaderFunc(func(context.Context, session.ChargeSession) (Inputs, error) { return in, nil })
	price := func(country string) (session.PriceResult, map[string]any) {
		s := session.ChargeSession{Side: session.CPO, Location: session.Place{Country: country}}
		rs, err := Pricer{Loader: loader}.Price(context.Background(), s, time.Time{})
		require.NoError(t, err)
		require.Len(t, rs, 1)
		var det map[string]any
		require.NoError(t, json.Unmarshal(rs[0].Detail, &det))
		return rs[0], det
	}

	// NLD: 10 kWh before 22:00 local at 0.50, 10 kWh after at 0.10 = 6.00
	// (in UTC, 19:00–21:00, all 20 kWh at 0.50 = 10.00).
	r, det := price("NLD")
	require.True(t, r.ExclVAT.Equal(d("6")), r.ExclVAT.String())
	require.Equal(t, "Europe/Amsterdam", det["time_zone"])
	require.Contains(t, det["notes"], "the location has no time zone: restrictions evaluated in Europe/Amsterdam, the time zone of its country NLD")

	// USA: several zones, none guessed: UTC, all day rate, and a note.
	r, det = price("USA")
	require.True(t, r.ExclVAT.Equal(d("10")), r.ExclVAT.String())
	require.Equal(t, "UTC", det["time_zone"])
	require.Contains(t, det["notes"], "the location has no time zone and its country USA spans several time zones: restrictions evaluated in UTC")

	// The location's own time_zone wins over the country.
	in.TimeZone = "UTC"
	r, det = price("NLD")
	require.True(t, r.ExclVAT.Equal(d("10")), r.ExclVAT.String())
	require.Nil(t, det["notes"])
}
