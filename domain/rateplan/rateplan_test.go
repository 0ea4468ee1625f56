package rateplan

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/pricing"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/domain/vat"
)

func dec(s string) decimal.Decimal   { return decimal.RequireFromString(s) }
func decp(s string) *decimal.Decimal { d := dec(s); return &d }

var partner = uuid.MustParse("0190f000-0000-7000-8000-000000000001")

// TestRuleSelection: rules are evaluated most specific first whatever the
// order they were given in, and the first matching one picks the rate.
func TestRuleSelection(t *testing.T) {
	rules := []Rule{
		{Rate: "default"},
		{Rate: "be", Country: "BEL"},
		{Rate: "partner", PartnerID: &partner},
		{Rate: "party", CPOParty: "BE-BEC"},
		{Rate: "party-dc", CPOParty: "BE-BEC", PowerTypes: []string{"DC"}},
		{Rate: "location", CPOParty: "BE-BEC", LocationID: "LOC1"},
		{Rate: "evse", EVSEID: "BE*BEC*E041503003"},
		{Rate: "night", Country: "BE", TimeWindow: &TimeWindow{Start: "22:00", End: "06:00"}},
		{Rate: "weekend", TimeWindow: &TimeWindow{Days: []string{"SATURDAY", "SUNDAY"}}},
	}
	var rates []Rate
	for _, r := range rules {
		rates = append(rates, Rate{Code: r.Rate, Components: []Component{{Type: Energy, Unit: PerKWh, Price: dec("0.3")}}})
	}
	p := Plan{Currency: "EUR", Rates: rates, Rules: rules}
	require.NoError(t, p.Validate())
	order := []string{}
	for _, r := range Ordered(p.Rules) {
		order = append(order, r.Rate)
	}
	require.Equal(t, []string{"evse", "location", "party-dc", "party", "partner", "night", "be", "weekend", "default"}, order)

	wed := time.Date(2025, 3, 12, 12, 0, 0, 0, time.UTC) // a Wednesday
	base := Facts{CPOCountry: "NL", CPOParty: "TNM", Country: "NLD", LocationID: "X", EVSEID: "NL*TNM*E1", PowerType: "AC_3_PHASE", LocalStart: wed}
	for _, tc := range []struct {
		name string
		f    func(*Facts)
		want string
	}{
		{"nothing specific", func(*Facts) {}, "default"},
		{"country alpha-3 against alpha-2 rule", func(f *Facts) { f.Country = "BEL" }, "be"},
		{"country alpha-2", func(f *Facts) { f.Country = "be" }, "be"},
		{"night window past midnight", func(f *Facts) { f.Country = "BE"; f.LocalStart = wed.Add(11 * time.Hour) }, "night"},
		{"night window early morning", func(f *Facts) { f.Country = "BE"; f.LocalStart = wed.Add(-7 * time.Hour) }, "night"},
		{"window end is exclusive", func(f *Facts) { f.Country = "BE"; f.LocalStart = wed.Add(-6 * time.Hour) }, "be"},
		{"weekend", func(f *Facts) { f.LocalStart = wed.Add(72 * time.Hour) }, "weekend"},
		{"partner beats country", func(f *Facts) { f.Country = "BE"; f.PartnerID = &partner }, "partner"},
		{"party beats partner", func(f *Facts) { f.PartnerID = &partner; f.CPOCountry, f.CPOParty = "be", "bec" }, "party"},
		{"party with power type beats party", func(f *Facts) { f.CPOCountry, f.CPOParty, f.PowerType = "BE", "BEC", "DC" }, "party-dc"},
		{"location beats party", func(f *Facts) { f.CPOCountry, f.CPOParty, f.LocationID = "BE", "BEC", "loc1" }, "location"},
		{"location of another party does not match", func(f *Facts) { f.LocationID = "LOC1" }, "default"},
		{"EVSE id whatever its separators", func(f *Facts) {
			f.CPOCountry, f.CPOParty, f.LocationID, f.EVSEID = "BE", "BEC", "LOC1", "be-bec-e041503003"
		}, "evse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			tc.f(&f)
			_, _, rate, ok := p.Select(f)
			require.True(t, ok)
			require.Equal(t, tc.want, rate.Code)
		})
	}
	// Without a generic rule a session may match none.
	p.Rules = p.Rules[1:]
	_, _, _, ok := p.Select(base)
	require.False(t, ok)
}

func TestValidate(t *testing.T) {
	p := Plan{Currency: "EURO", Rates: []Rate{
		{Code: "a", Components: []Component{{Type: Energy, Unit: PerHour, Price: dec("-1")}, {Type: Energy, Unit: PerKWh}}},
		{Code: "a", PassThrough: &PassThrough{MarkupPercentage: dec("-101"), Credits: Credits{Apply: true}}},
		{Code: "b", MinPrice: decp("5"), MaxPrice: decp("1")},
		{Code: "c", Components: []Component{{Type: Flat, Unit: PerSession, StepSize: 60}}},
	}, Rules: []Rule{{Rate: "z", CPOParty: "NL", Country: "XX", LocationID: "L", PowerTypes: []string{"AC"},
		TimeWindow: &TimeWindow{Days: []string{"FUNDAY"}, Start: "25:00"}}}}
	err := p.Validate()
	f, ok := fault.As(err)
	require.True(t, ok)
	paths := map[string]bool{}
	for _, fl := range f.Fields {
		paths[fl.Path] = true
	}
	for _, want := range []string{"currency", "rates[0].components[0].unit", "rates[0].components[0].price", "rates[0].components[1].type",
		"rates[1].code", "rates[1].pass_through.markup_percentage", "rates[1].pass_through.credits.shortfall", "rates[2].components",
		"rates[2].min_price", "rates[3].components[0].step_size", "rules[0].rate", "rules[0].cpo_party", "rules[0].country",
		"rules[0].power_types[0]", "rules[0].time_window.days[0]", "rules[0].time_window.start"} {
		require.True(t, paths[want], "missing %s in %v", want, f.Fields)
	}
	require.Error(t, Plan{Currency: "EUR"}.Validate(), "a plan needs rules")
}

// guideVAT is the guide's VAT example setup (003 → VAT examples): NL
// seller, BE and NO on origin country, fallback to the seller's country,
// standard rates NL 21, BE 21, NO 25, DE 19; a rule makes parking time
// reduced (9 % in NL) to show VAT per component.
func guideVAT() vat.Config {
	return vat.Config{
		Seller: vat.SellerPolicy{Country: "NL", Policies: map[string]vat.CountryPolicy{"BE": vat.PolicyOriginCountry, "NO": vat.PolicyOriginCountry},
			Fallback: vat.FallbackSellerCountry},
		Rules: []vat.Rule{
			{ID: "parking", Category: vat.CategoryMSPChargeSession, Indicators: []string{"parking_time"}, Kind: vat.KindReduced},
			{ID: "std", Category: vat.CategoryMSPChargeSession, Kind: vat.KindStandard},
		},
		Rates: []vat.Rate{
			{ID: "nl", Country: "NL", Kind: vat.KindStandard, Percentage: dec("21")},
			{ID: "nl-r", Country: "NL", Kind: vat.KindReduced, Percentage: dec("9")},
			{ID: "be", Country: "BE", Kind: vat.KindStandard, Percentage: dec("21")},
			{ID: "be-r", Country: "BE", Kind: vat.KindReduced, Percentage: dec("6")},
			{ID: "no", Country: "NO", Kind: vat.KindStandard, Percentage: dec("25")},
			{ID: "no-r", Country: "NO", Kind: vat.KindReduced, Percentage: dec("15")},
			{ID: "de", Country: "DE", Kind: vat.KindStandard, Percentage: dec("19")},
		},
	}
}

var start = time.Date(2025, 3, 12, 10, 0, 0, 0, time.UTC)

func inputs(plan Plan, country string) Inputs {
	rp := uuid.New()
	plan.ID = rp
	if plan.Currency == "" {
		plan.Currency = "EUR"
	}
	s := session.ChargeSession{ID: uuid.New(), Side: session.MSP, CountryCode: "BE", PartyID: "BEC", Start: start, End: start.Add(2 * time.Hour),
		Token: session.Token{UID: "T1", Type: "RFID"}, Location: session.Place{LocationID: "LOC1", EvseUID: "3256", Country: country},
		Currency: "EUR", TotalEnergy: dec("20"), TotalTime: dec("2"), TotalParkingTime: dec("0.5")}
	return Inputs{Session: s, TimeZone: "Europe/Brussels",
		Subscription: &Subscription{ID: uuid.New(), PlanID: uuid.New(), AdministrationID: uuid.New(), RatePlanID: &rp},
		Plan:         &plan, PlanUsable: true, VAT: guideVAT()}
}

func simple(cs ...Component) Plan {
	return Plan{Rates: []Rate{{Code: "std", Components: cs}}, Rules: []Rule{{Rate: "std"}}}
}

func comp(r session.PriceResult, name string) session.PriceComponent {
	for _, c := range r.Components {
		if c.Component == name {
			return c
		}
	}
	return session.PriceComponent{}
}

// TestComputeRateAndVATPerComponent: the rate's components are priced by
// the engine (per-minute prices, step sizes) and each component gets the
// VAT its rule gives, per the guide's VAT examples for the country.
func TestComputeRateAndVATPerComponent(t *testing.T) {
	p := simple(
		Component{Type: Energy, Unit: PerKWh, Price: dec("0.35"), StepSize: 1000},
		Component{Type: Time, Unit: PerMinute, Price: dec("0.01")},
		Component{Type: ParkingTime, Unit: PerHour, Price: dec("2")},
		Component{Type: Flat, Unit: PerSession, Price: dec("0.50")},
	)
	in := inputs(p, "BEL")
	in.Session.TotalEnergy = dec("19.2") // step 1 kWh bills 20
	r, err := Compute(in)
	require.NoError(t, err)
	require.Equal(t, "EUR", r.Currency)
	e := comp(r, "energy")
	require.Equal(t, "20", e.Volume.String())
	require.Equal(t, "7", e.ExclVAT.String())
	require.Equal(t, "0.21", e.VATRate.String(), "Belgium: origin country, standard 21 %")
	require.Equal(t, "1.47", e.VAT.String())
	tm := comp(r, "time")
	require.Equal(t, "1.5", tm.Volume.String(), "charging time is the total time less parking")
	require.Equal(t, "0.9", tm.ExclVAT.String(), "0.01 per minute = 0.60 per hour")
	pk := comp(r, "parking_time")
	require.Equal(t, "1", pk.ExclVAT.String())
	require.Equal(t, "0.06", pk.VATRate.String(), "parking is reduced in Belgium")
	require.Equal(t, "0.06", pk.VAT.String())
	require.Equal(t, "0.5", comp(r, "flat").ExclVAT.String())
	require.Equal(t, "9.4", r.ExclVAT.String())
	require.True(t, r.InclVAT.Equal(r.ExclVAT.Add(r.VAT)))

	// The guide's countries: Norway 25 %, Germany falls back to NL 21 %.
	for country, rate := range map[string]string{"NOR": "0.25", "DEU": "0.21", "NLD": "0.21"} {
		r, err := Compute(inputs(p, country))
		require.NoError(t, err)
		require.Equal(t, rate, comp(r, "energy").VATRate.String(), country)
	}
	var d map[string]any
	require.NoError(t, json.Unmarshal(r.Detail, &d))
	require.Equal(t, "rate", d["mode"])
	require.Equal(t, "std", d["rate"])
	require.NotEmpty(t, d["engine_lines"])
	require.Len(t, d["vat"], 4)
}

func TestComputeBounds(t *testing.T) {
	// Component minimum (when used) and maximum; session minimum.
	p := simple(
		Component{Type: Energy, Unit: PerKWh, Price: dec("0.10"), MinPrice: decp("3")},
		Component{Type: ParkingTime, Unit: PerHour, Price: dec("100"), MaxPrice: decp("10")},
		Component{Type: Time, Unit: PerHour, Price: dec("0"), MinPrice: decp("1")},
	)
	in := inputs(p, "NLD")
	r, err := Compute(in)
	require.NoError(t, err)
	require.Equal(t, "3", comp(r, "energy").ExclVAT.String(), "2.00 raised to the minimum")
	require.Equal(t, "10", comp(r, "parking_time").ExclVAT.String(), "50.00 capped at the maximum")
	require.Equal(t, "1", comp(r, "time").ExclVAT.String())
	p.Rates[0].MinPrice = decp("20")
	r, err = Compute(inputs(p, "NLD"))
	require.NoError(t, err)
	require.Equal(t, "6", comp(r, "minimum_price").ExclVAT.String())
	require.Equal(t, "20", r.ExclVAT.String())
	p.Rates[0].MinPrice, p.Rates[0].MaxPrice = nil, decp("12.5")
	r, err = Compute(inputs(p, "NLD"))
	require.NoError(t, err)
	require.Equal(t, "-1.5", comp(r, "maximum_price").ExclVAT.String())
	require.Equal(t, "12.5", r.ExclVAT.String())
}

// cpoTariff is a CPO tariff: 0.25/kWh, 1.00/h charging, 0.30 start fee.
func cpoTariff() *pricing.Tariff {
	return &pricing.Tariff{ID: "CPO-T1", Currency: "EUR", Elements: []pricing.Element{{Components: []pricing.Component{
		{Type: pricing.Energy, Price: dec("0.25")}, {Type: pricing.Time, Price: dec("1")}, {Type: pricing.Flat, Price: dec("0.30")}}}}}
}

func TestPassThroughWithMarkup(t *testing.T) {
	p := Plan{Rates: []Rate{{Code: "pt", PassThrough: &PassThrough{MarkupPercentage: dec("10"), MarkupFixed: dec("0.25")}}}, Rules: []Rule{{Rate: "pt"}}}
	in := inputs(p, "NLD")
	in.CPOTariff = cpoTariff()
	r, err := Compute(in)
	require.NoError(t, err)
	// CPO: energy 20 × 0.25 = 5.00, time 1.5 h × 1 = 1.50, flat 0.30; +10 %.
	require.Equal(t, "5.5", comp(r, "energy").ExclVAT.String())
	require.Equal(t, "1.65", comp(r, "time").ExclVAT.String())
	require.Equal(t, "0.33", comp(r, "flat").ExclVAT.String())
	require.Equal(t, "0.25", comp(r, "markup").ExclVAT.String())
	require.Equal(t, "7.73", r.ExclVAT.String())

	// Without a tariff the CDR's reported costs are passed through.
	in.CPOTariff = nil
	in.CPOCosts = &CPOCosts{Total: dec("7"), Energy: dec("5"), Time: dec("1.5")}
	r, err = Compute(in)
	require.NoError(t, err)
	require.Equal(t, "5.5", comp(r, "energy").ExclVAT.String())
	require.Equal(t, "0.55", comp(r, "adjustment").ExclVAT.String(), "total_cost beyond the dimension costs, with markup")
	require.Equal(t, "7.95", r.ExclVAT.String())

	in.CPOCosts = nil
	_, err = Compute(in)
	requireFailure(t, err, session.CheckPricingConfigured, ReasonNoCPOTariff)

	in.CPOTariff = cpoTariff()
	in.CPOTariff.Currency = "SEK"
	_, err = Compute(in)
	requireFailure(t, err, session.CheckPricingConfigured, ReasonCurrency)
}

func requireFailure(t *testing.T, err error, c session.Check, reason string) {
	t.Helper()
	var f *session.PricingFailure
	require.ErrorAs(t, err, &f)
	require.Equal(t, c, f.Check)
	require.Equal(t, reason, f.Reason)
}

func TestComputeFailures(t *testing.T) {
	p := simple(Component{Type: Energy, Unit: PerKWh, Price: dec("0.35")})
	in := inputs(p, "NLD")
	in.Subscription = nil
	_, err := Compute(in)
	requireFailure(t, err, session.CheckPricingConfigured, ReasonNoSubscription)
	in = inputs(p, "NLD")
	in.Plan = nil
	_, err = Compute(in)
	requireFailure(t, err, session.CheckPricingConfigured, ReasonNoRatePlan)
	in = inputs(p, "NLD")
	in.PlanUsable = false
	_, err = Compute(in)
	requireFailure(t, err, session.CheckPricingConfigured, ReasonRatePlanNotValid)
	in = inputs(p, "NLD")
	in.Plan.Rules = []Rule{{Rate: "std", Country: "DE"}}
	_, err = Compute(in)
	requireFailure(t, err, session.CheckPricingConfigured, ReasonNoRule)
	in = inputs(p, "NLD")
	in.VAT.Seller.Fallback = vat.FallbackError
	in.Session.Location.Country = "DEU"
	_, err = Compute(in)
	requireFailure(t, err, session.CheckVATDetermined, ReasonVAT)

	// The maximum price per session, bypassable.
	in = inputs(p, "NLD")
	in.Checks.MaxPrice = decp("5")
	_, err = Compute(in)
	requireFailure(t, err, session.CheckPricePlausible, ReasonTooExpensive)
	in.Session.Bypass = []session.Check{session.CheckPricePlausible}
	r, err := Compute(in)
	require.NoError(t, err)
	require.Equal(t, "7", r.ExclVAT.String())
}

// TestPartnerCostCheck: the CDR's total_cost against our recomputation of
// the CPO tariff (20 kWh × 0.25 + 1.5 h × 1 + 0.30 = 6.80).
func TestPartnerCostCheck(t *testing.T) {
	p := simple(Component{Type: Energy, Unit: PerKWh, Price: dec("0.35")})
	for _, tc := range []struct {
		reported string
		checks   Checks
		fails    bool
	}{
		{"6.80", Checks{PartnerCostAbsolute: decp("0")}, false},
		{"6.90", Checks{}, false},
		{"6.90", Checks{PartnerCostAbsolute: decp("0.10")}, false},
		{"6.91", Checks{PartnerCostAbsolute: decp("0.10")}, true},
		{"6.70", Checks{PartnerCostAbsolute: decp("0.05")}, true},
		{"7.10", Checks{PartnerCostPercentage: decp("5")}, false}, // 0.30 ≤ 5 % of 7.10
		{"7.20", Checks{PartnerCostPercentage: decp("5")}, true},  // 0.40 > 0.36
	} {
		in := inputs(p, "NLD")
		in.CPOTariff = cpoTariff()
		in.CPOCosts = &CPOCosts{Total: dec(tc.reported)}
		in.Checks = tc.checks
		_, err := Compute(in)
		if !tc.fails {
			require.NoError(t, err, tc.reported)
			continue
		}
		requireFailure(t, err, session.CheckPartnerCostMatches, ReasonPartnerCost)
		in.Session.Bypass = []session.Check{session.CheckPartnerCostMatches}
		_, err = Compute(in)
		require.NoError(t, err, "bypassed")
	}
}

func TestCreditCDRReverses(t *testing.T) {
	in := inputs(simple(Component{Type: Energy, Unit: PerKWh, Price: dec("0.35")}), "NLD")
	r, err := Compute(in)
	require.NoError(t, err)
	in.Session.Credit = true
	c, err := Compute(in)
	require.NoError(t, err)
	require.True(t, c.InclVAT.Equal(r.InclVAT.Neg()))
	require.True(t, c.VAT.Equal(r.VAT.Neg()))
}

// Properties (issue 6 → Done means): repricing the same inputs gives the
// same result, and totals equal the sum of the components.
func TestProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cents := func(label string, max int) decimal.Decimal {
			return decimal.New(int64(rapid.IntRange(0, max).Draw(t, label)), -2)
		}
		cs := []Component{{Type: Energy, Unit: PerKWh, Price: cents("energy", 200), StepSize: int64(rapid.IntRange(0, 1000).Draw(t, "estep"))}}
		if rapid.Bool().Draw(t, "time") {
			cs = append(cs, Component{Type: Time, Unit: rapid.SampledFrom([]Unit{PerHour, PerMinute}).Draw(t, "tunit"), Price: cents("tprice", 500),
				StepSize: int64(rapid.IntRange(0, 900).Draw(t, "tstep"))})
		}
		if rapid.Bool().Draw(t, "parking") {
			cs = append(cs, Component{Type: ParkingTime, Unit: PerHour, Price: cents("pprice", 1000)})
		}
		if rapid.Bool().Draw(t, "flat") {
			cs = append(cs, Component{Type: Flat, Unit: PerSession, Price: cents("flat", 300)})
		}
		p := simple(cs...)
		if rapid.Bool().Draw(t, "min") {
			p.Rates[0].MinPrice = decp("2.50")
		}
		in := inputs(p, rapid.SampledFrom([]string{"NLD", "BEL", "NOR", "DEU"}).Draw(t, "country"))
		in.Session.TotalEnergy = decimal.New(int64(rapid.IntRange(0, 80000).Draw(t, "wh")), -3)
		mins := rapid.IntRange(1, 600).Draw(t, "minutes")
		in.Session.End = in.Session.Start.Add(time.Duration(mins) * time.Minute)
		in.Session.TotalTime = decimal.NewFromInt(int64(mins)).Div(decimal.NewFromInt(60))
		in.Session.TotalParkingTime = decimal.NewFromInt(int64(rapid.IntRange(0, mins).Draw(t, "parked"))).Div(decimal.NewFromInt(60))
		a, err := Compute(in)
		if err != nil {
			t.Fatalf("compute: %v", err)
		}
		b, err := Compute(in)
		if err != nil {
			t.Fatalf("compute again: %v", err)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Fatalf("repricing differs:\n%s\n%s", ja, jb)
		}
		// The totals are the sums of the components, summed here rather
		// than with PriceResult.Totals (which Compute itself uses).
		excl, vatSum, incl := decimal.Zero, decimal.Zero, decimal.Zero
		for _, c := range a.Components {
			excl, vatSum, incl = excl.Add(c.ExclVAT), vatSum.Add(c.VAT), incl.Add(c.InclVAT)
		}
		if !excl.Equal(a.ExclVAT) || !vatSum.Equal(a.VAT) || !incl.Equal(a.InclVAT) {
			t.Fatalf("totals %s/%s/%s are not the sums %s/%s/%s", a.ExclVAT, a.VAT, a.InclVAT, excl, vatSum, incl)
		}
		for _, c := range a.Components {
			if !c.InclVAT.Equal(c.ExclVAT.Add(c.VAT)) || c.VAT.IsNegative() {
				t.Fatalf("component %s: %s + %s ≠ %s", c.Component, c.ExclVAT, c.VAT, c.InclVAT)
			}
		}
	})
}

// The partner's checks win over the administration's, field by field.
func TestChecksLayer(t *testing.T) {
	admin := Checks{PartnerCostAbsolute: decp("0.10"), MaxPrice: decp("100")}
	partner := Checks{PartnerCostAbsolute: decp("0.50"), PartnerCostPercentage: decp("2")}
	c := admin.Layer(partner)
	require.Equal(t, "0.5", c.PartnerCostAbsolute.String())
	require.Equal(t, "2", c.PartnerCostPercentage.String())
	require.Equal(t, "100", c.MaxPrice.String(), "unset in the partner's: the administration's")
	require.Error(t, Checks{MaxPrice: decp("-1")}.Validate())
}

// A location without a time_zone is priced in its country's zone when the
// country keeps one local time (issue 6: "in the location's local time
// from its IANA time_zone, falling back to the country"); a country with
// several zones gets none guessed: UTC, with a note in the detail.
func TestZoneFallsBackToTheCountry(t *testing.T) {
	c09, c11 := pricing.Clock(9*60), pricing.Clock(11*60)
	// 0.10 per kWh from 09:00 to 11:00 local, 0.30 otherwise.
	morning := &pricing.Tariff{ID: "MORNING", Currency: "EUR", Elements: []pricing.Element{
		{Components: []pricing.Component{{Type: pricing.Energy, Price: dec("0.10")}},
			Restrictions: &pricing.Restrictions{StartTime: &c09, EndTime: &c11}},
		{Components: []pricing.Component{{Type: pricing.Energy, Price: dec("0.30")}}},
	}}
	p := Plan{Rates: []Rate{{Code: "pt", PassThrough: &PassThrough{}}}, Rules: []Rule{{Rate: "pt"}}}
	run := func(country string) (session.PriceResult, map[string]any) {
		in := inputs(p, country) // 10:00–12:00 UTC, 20 kWh
		in.TimeZone = ""
		in.CPOTariff = morning
		in.Periods = []pricing.Period{{Start: in.Session.Start, Energy: dec("20")}}
		r, err := Compute(in)
		require.NoError(t, err)
		var det map[string]any
		require.NoError(t, json.Unmarshal(r.Detail, &det))
		return r, det
	}

	// NLD: Europe/Amsterdam, UTC+1 in March: 11:00–13:00 local, after
	// the morning window: 20 kWh × 0.30 = 6.00. (In UTC, 10:00–12:00,
	// the first 10 kWh would cost 0.10: 4.00.)
	r, det := run("NLD")
	require.Equal(t, "6", comp(r, "energy").ExclVAT.String())
	require.Equal(t, "Europe/Amsterdam", det["time_zone"])
	require.Equal(t, "2025-03-12T11:00:00", det["local_start"])
	require.Equal(t, "the location has no time zone: restrictions evaluated in Europe/Amsterdam, the time zone of its country NLD",
		det["time_zone_note"])

	// ESP spans two zones (Madrid, Canary Islands): UTC, and the note says
	// why: 10 kWh × 0.10 + 10 kWh × 0.30 = 4.00.
	r, det = run("ESP")
	require.Equal(t, "4", comp(r, "energy").ExclVAT.String())
	require.Equal(t, "UTC", det["time_zone"])
	require.Equal(t, "the location has no time zone and its country ESP spans several time zones: restrictions evaluated in UTC",
		det["time_zone_note"])
}
