package credit

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/roamnode/roamnode/domain/rateplan"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/domain/vat"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

var (
	start     = time.Date(2025, 3, 12, 10, 0, 0, 0, time.UTC)
	remainder = rateplan.Credits{Apply: true, Shortfall: rateplan.ChargeRemainder}
	inFull    = rateplan.Credits{Apply: true, Shortfall: rateplan.ChargeInFull}
)

// component prices excl at 21 % VAT rounded to cents.
func component(name, unit, volume, excl string) session.PriceComponent {
	e := dec(excl)
	v := e.Mul(dec("0.21")).Round(2)
	return session.PriceComponent{Component: name, Unit: unit, Volume: dec(volume), ExclVAT: e, VATRate: dec("0.21"), VAT: v, InclVAT: e.Add(v)}
}

func money(id byte, amount string) Credit {
	return Credit{ID: uuid.UUID{id}, Kind: Monetary, Currency: "EUR", Available: dec(amount), ValidFrom: start.Add(-24 * time.Hour)}
}

func energy(id byte, kwh string) Credit {
	return Credit{ID: uuid.UUID{id}, Kind: Energy, Available: dec(kwh), ValidFrom: start.Add(-24 * time.Hour)}
}

func byName(cs []session.PriceComponent, name string) session.PriceComponent {
	for _, c := range cs {
		if c.Component == name {
			return c
		}
	}
	return session.PriceComponent{}
}

// A monetary credit pays components it applies to, excluding VAT; the VAT
// is recomputed on what is left; parking, excluded by its rate, is charged.
func TestMonetaryCreditChargeRemainder(t *testing.T) {
	comps := []session.PriceComponent{component("energy", "kWh", "20", "7"), component("parking_time", "h", "1", "2"), component("flat", "session", "1", "0.5")}
	terms := Terms{"energy": remainder, "flat": remainder, "parking_time": {Apply: false}}
	o, err := Apply(comps, terms, []Credit{money(1, "5")}, "EUR", start)
	require.NoError(t, err)
	e := byName(o.Components, "energy")
	require.Equal(t, "2", e.ExclVAT.String(), "7 less the 5 of credit")
	require.Equal(t, "0.42", e.VAT.String(), "VAT on what is left")
	require.Equal(t, "2.42", e.InclVAT.String())
	require.Equal(t, comps[1], byName(o.Components, "parking_time"), "parking is excluded from credits")
	require.Equal(t, comps[2], byName(o.Components, "flat"), "the credit is depleted by energy")
	require.Len(t, o.Movements, 1)
	require.Equal(t, session.CreditMovement{CreditID: uuid.UUID{1}, Component: "energy", Amount: dec("5"), Covered: dec("5")}, o.Movements[0])
	require.Equal(t, NotePartly, o.Lines[0].Note)
	require.Equal(t, NoteNotApplicable, o.Lines[1].Note)
	require.Equal(t, NoteNoCredit, o.Lines[2].Note)

	// Enough credit: every applicable component is paid, VAT 0.
	o, err = Apply(comps, terms, []Credit{money(1, "100")}, "EUR", start)
	require.NoError(t, err)
	require.True(t, byName(o.Components, "energy").InclVAT.IsZero())
	require.True(t, byName(o.Components, "flat").InclVAT.IsZero())
	require.Len(t, o.Movements, 2)
	require.Equal(t, "7.5", o.Movements[0].Amount.Add(o.Movements[1].Amount).String())
}

// charge_in_full: a credit that cannot pay the whole component pays none
// of it and is kept; one that can pays it all.
func TestChargeInFull(t *testing.T) {
	comps := []session.PriceComponent{component("energy", "kWh", "20", "7"), component("flat", "session", "1", "0.5")}
	terms := Terms{"energy": inFull, "flat": inFull}
	o, err := Apply(comps, terms, []Credit{money(1, "5")}, "EUR", start)
	require.NoError(t, err)
	require.Equal(t, comps[0], o.Components[0], "5 cannot pay 7: energy is charged in full")
	require.Equal(t, NoteInFull, o.Lines[0].Note)
	require.True(t, o.Components[1].ExclVAT.IsZero(), "the kept credit pays the flat fee")
	require.Len(t, o.Movements, 1)
	require.Equal(t, "flat", o.Movements[0].Component)

	// Two credits together can pay it in full.
	o, err = Apply(comps[:1], terms, []Credit{money(1, "5"), money(2, "3")}, "EUR", start)
	require.NoError(t, err)
	require.True(t, o.Components[0].ExclVAT.IsZero())
	require.Len(t, o.Movements, 2)
	require.Equal(t, "5", o.Movements[0].Amount.String())
	require.Equal(t, "2", o.Movements[1].Amount.String())
}

// Energy credits pay billed kWh of energy components only, at the
// component's average price; monetary credits pay the rest.
func TestEnergyCredit(t *testing.T) {
	comps := []session.PriceComponent{component("energy", "kWh", "20", "7"), component("time", "h", "2", "1.2")}
	terms := Terms{"energy": remainder, "time": remainder}
	o, err := Apply(comps, terms, []Credit{energy(1, "5")}, "EUR", start)
	require.NoError(t, err)
	require.Equal(t, "5.25", o.Components[0].ExclVAT.String(), "5 of 20 kWh at 0.35")
	require.Equal(t, comps[1], o.Components[1], "an energy credit does not pay time")
	require.Equal(t, session.CreditMovement{CreditID: uuid.UUID{1}, Component: "energy", Amount: dec("5"), Covered: dec("1.75")}, o.Movements[0])

	// Energy first, then money for what is left.
	o, err = Apply(comps, terms, []Credit{money(2, "10"), energy(1, "15")}, "EUR", start)
	require.NoError(t, err)
	require.True(t, o.Components[0].ExclVAT.IsZero())
	require.True(t, o.Components[1].ExclVAT.IsZero())
	require.Len(t, o.Movements, 3)
	require.Equal(t, uuid.UUID{1}, o.Movements[0].CreditID, "energy credit first")
	require.Equal(t, "15", o.Movements[0].Amount.String())
	require.Equal(t, "5.25", o.Movements[0].Covered.String())
	require.Equal(t, "1.75", o.Movements[1].Amount.String(), "money pays the 5 kWh left")
	require.Equal(t, "1.2", o.Movements[2].Amount.String())

	// A credit with more kWh than billed pays the whole price, uses only
	// the billed kWh.
	o, err = Apply(comps[:1], terms, []Credit{energy(1, "50")}, "EUR", start)
	require.NoError(t, err)
	require.True(t, o.Components[0].InclVAT.IsZero())
	require.Equal(t, "20", o.Movements[0].Amount.String())
	require.Equal(t, "7", o.Movements[0].Covered.String())

	// A third of a component: cut to 12 fractional digits, never more.
	third := []session.PriceComponent{component("energy", "kWh", "3", "1")}
	o, err = Apply(third, terms, []Credit{energy(1, "1")}, "EUR", start)
	require.NoError(t, err)
	require.Equal(t, "0.333333333333", o.Movements[0].Covered.String())
	require.Equal(t, "0.666666666667", o.Components[0].ExclVAT.String())
}

// Only credits valid at the session start, with something left, in the
// result's currency are used; the soonest to expire first.
func TestWhichCreditsAndOrder(t *testing.T) {
	comps := []session.PriceComponent{component("energy", "kWh", "20", "7")}
	terms := Terms{"energy": remainder}
	later := money(1, "100")
	later.ValidFrom = start.Add(time.Minute) // granted after the session started
	ended := money(2, "100")
	ended.ValidUntil = &start // half-open: ends as the session starts
	usd := money(3, "100")
	usd.Currency = "USD"
	empty := money(4, "0")
	soon := money(5, "4")
	soonUntil := start.Add(time.Hour)
	soon.ValidUntil = &soonUntil
	open := money(6, "4")
	o, err := Apply(comps, terms, []Credit{later, ended, usd, empty, open, soon}, "EUR", start)
	require.NoError(t, err)
	require.Len(t, o.Movements, 2)
	require.Equal(t, uuid.UUID{5}, o.Movements[0].CreditID, "the one expiring first")
	require.Equal(t, "4", o.Movements[0].Amount.String())
	require.Equal(t, uuid.UUID{6}, o.Movements[1].CreditID)
	require.Equal(t, "3", o.Movements[1].Amount.String())
}

// A credit CDR (negative amounts) is never paid by credits.
func TestNegativeNotPaid(t *testing.T) {
	comps := []session.PriceComponent{component("energy", "kWh", "20", "-7")}
	o, err := Apply(comps, Terms{"energy": remainder}, []Credit{money(1, "10")}, "EUR", start)
	require.NoError(t, err)
	require.Empty(t, o.Movements)
	require.Equal(t, comps, o.Components)
	require.Equal(t, NoteNothingDue, o.Lines[0].Note)
}

// Properties: whatever the components, terms and credits, no credit gives
// more than it has, what is paid plus what is left is the price, nothing
// goes negative, totals add up, and applying is deterministic.
func TestProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		names := []string{"energy", "time", "parking_time", "flat"}
		units := map[string]string{"energy": "kWh", "time": "h", "parking_time": "h", "flat": "session"}
		var comps []session.PriceComponent
		terms := Terms{}
		for _, n := range names {
			if !rapid.Bool().Draw(t, "has "+n) {
				continue
			}
			excl := decimal.New(rapid.Int64Range(0, 100000).Draw(t, "excl "+n), -3)
			vol := decimal.New(rapid.Int64Range(0, 100000).Draw(t, "vol "+n), -3)
			rate := []string{"0", "0.06", "0.21"}[rapid.IntRange(0, 2).Draw(t, "rate "+n)]
			a, _ := vat.ApplyPercentage(excl, dec(rate).Shift(2), "EUR")
			comps = append(comps, session.PriceComponent{Component: n, Unit: units[n], Volume: vol, ExclVAT: excl, VATRate: dec(rate), VAT: a.VAT, InclVAT: a.InclVAT})
			terms[n] = []rateplan.Credits{{}, remainder, inFull}[rapid.IntRange(0, 2).Draw(t, "terms "+n)]
		}
		var credits []Credit
		for i := range rapid.IntRange(0, 4).Draw(t, "credits") {
			c := Credit{ID: uuid.UUID{byte(i + 1)}, Kind: Monetary, Currency: "EUR", Available: decimal.New(rapid.Int64Range(0, 50000).Draw(t, "avail"), -3),
				ValidFrom: start.Add(-time.Hour)}
			if rapid.Bool().Draw(t, "energy") {
				c.Kind, c.Currency = Energy, ""
			}
			credits = append(credits, c)
		}
		o, err := Apply(comps, terms, credits, "EUR", start)
		require.NoError(t, err)
		used := map[uuid.UUID]decimal.Decimal{}
		covered := map[string]decimal.Decimal{}
		for _, m := range o.Movements {
			require.True(t, m.Amount.IsPositive())
			used[m.CreditID] = used[m.CreditID].Add(m.Amount)
			covered[m.Component] = covered[m.Component].Add(m.Covered)
		}
		for _, c := range credits {
			require.True(t, used[c.ID].LessThanOrEqual(c.Available), "credit %v used %s of %s", c.ID, used[c.ID], c.Available)
		}
		for i, c := range o.Components {
			require.False(t, c.ExclVAT.IsNegative())
			require.True(t, c.ExclVAT.Add(covered[c.Component]).Equal(comps[i].ExclVAT), "paid + left = price")
			require.True(t, c.InclVAT.Equal(c.ExclVAT.Add(c.VAT)))
			if !terms[c.Component].Apply {
				require.Equal(t, comps[i], c)
			}
			if terms[c.Component].Shortfall == rateplan.ChargeInFull {
				require.True(t, c.ExclVAT.IsZero() || c.ExclVAT.Equal(comps[i].ExclVAT), "in full or not at all")
			}
		}
		again, err := Apply(comps, terms, credits, "EUR", start)
		require.NoError(t, err)
		require.Equal(t, o, again)
	})
}

// TermsOf reads what domain/rateplan writes: a real MSP result's detail
// names its subscription and each component's credit terms, and the
// pricer applies them.
func TestPricerOnRatePlanResult(t *testing.T) {
	sub, rp := uuid.New(), uuid.New()
	plan := rateplan.Plan{ID: rp, Currency: "EUR", Rules: []rateplan.Rule{{Rate: "std"}}, Rates: []rateplan.Rate{{Code: "std", Components: []rateplan.Component{
		{Type: rateplan.Energy, Unit: rateplan.PerKWh, Price: dec("0.35"), Credits: remainder},
		{Type: rateplan.ParkingTime, Unit: rateplan.PerHour, Price: dec("2")},
	}}}}
	require.NoError(t, plan.Validate())
	s := session.ChargeSession{ID: uuid.New(), Side: session.MSP, CountryCode: "NL", PartyID: "TNM", Start: start, End: start.Add(2 * time.Hour),
		Token: session.Token{UID: "T1", Type: "RFID"}, Location: session.Place{LocationID: "L", EvseUID: "E", Country: "NLD"},
		Currency: "EUR", TotalEnergy: dec("20"), TotalTime: dec("2"), TotalParkingTime: dec("0.5")}
	in := rateplan.Inputs{Session: s, TimeZone: "Europe/Amsterdam", Plan: &plan, PlanUsable: true,
		Subscription: &rateplan.Subscription{ID: sub, PlanID: uuid.New(), AdministrationID: uuid.New(), RatePlanID: &rp},
		VAT: vat.Config{Seller: vat.SellerPolicy{Country: "NL", Fallback: vat.FallbackSellerCountry},
			Rules: []vat.Rule{{ID: "std", Category: vat.CategoryMSPChargeSession, Kind: vat.KindStandard}},
			Rates: []vat.Rate{{ID: "nl", Country: "NL", Kind: vat.KindStandard, Percentage: dec("21")}}}}
	r, err := rateplan.Compute(in)
	require.NoError(t, err)
	gotSub, terms, ok := TermsOf(r.Detail)
	require.True(t, ok)
	require.Equal(t, sub, gotSub)
	require.Equal(t, remainder, terms["energy"])
	require.False(t, terms["parking_time"].Apply)

	store := fakeStore{credits: []Credit{money(1, "5")}}
	p := Pricer{MSP: fixed{r}, Store: &store}
	rs, err := p.Price(context.Background(), s, start)
	require.NoError(t, err)
	require.Equal(t, sub, store.asked)
	got := rs[0]
	require.NotNil(t, got.Credits)
	require.Len(t, got.Credits.Movements, 1)
	require.Equal(t, "2", byName(got.Components, "energy").ExclVAT.String())
	require.Equal(t, "1", byName(got.Components, "parking_time").ExclVAT.String())
	require.Equal(t, "3", got.ExclVAT.String(), "totals are the sums of the discounted components")
	var d map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(got.Detail, &d))
	require.Contains(t, d, "charge_credits")
	require.Contains(t, d, "subscription_id", "the rate plan's detail is kept")
	// checked by the framework: totals equal the sums
	_, err = session.Pipeline{Pricers: map[session.Side][]session.Pricer{session.MSP: {p}}}.Price(context.Background(), s, start)
	require.NoError(t, err)

	// No credits and nothing consumed before: the result passes unchanged.
	rs, err = Pricer{MSP: fixed{r}, Store: &fakeStore{}}.Price(context.Background(), s, start)
	require.NoError(t, err)
	require.Equal(t, r, rs[0])
	// No credits left but consumed before: Credits is set (empty) so that
	// the store gives the earlier consumption back.
	rs, err = Pricer{MSP: fixed{r}, Store: &fakeStore{before: true}}.Price(context.Background(), s, start)
	require.NoError(t, err)
	require.NotNil(t, rs[0].Credits)
	require.Empty(t, rs[0].Credits.Movements)
	require.True(t, rs[0].InclVAT.Equal(r.InclVAT))
}

type fixed struct{ r session.PriceResult }

func (f fixed) Price(context.Context, session.ChargeSession, time.Time) ([]session.PriceResult, error) {
	return []session.PriceResult{f.r}, nil
}

type fakeStore struct {
	credits []Credit
	before  bool
	asked   uuid.UUID
}

func (f *fakeStore) SessionCredits(_ context.Context, sub, _ uuid.UUID, _ time.Time) ([]Credit, bool, error) {
	f.asked = sub
	return f.credits, f.before, nil
}

func TestGrantValidate(t *testing.T) {
	require.NoError(t, Grant{Kind: Monetary, Amount: dec("10"), Currency: "EUR", ValidFrom: start}.Validate())
	require.NoError(t, Grant{Kind: Energy, Amount: dec("10.5"), ValidFrom: start}.Validate())
	until := start
	err := Grant{Kind: Energy, Amount: dec("0"), ValidFrom: start, ValidUntil: &until}.Validate()
	require.Error(t, err)
	require.Contains(t, err.Error(), "energy")
	require.Contains(t, err.Error(), "valid_until")
	require.Error(t, Grant{Kind: Monetary, Amount: dec("1"), Currency: "EURO", ValidFrom: start}.Validate())
	require.Error(t, Grant{Kind: Monetary, Amount: dec("0.0000000000001"), Currency: "EUR", ValidFrom: start}.Validate())
}

// Uses sums each credit's shares over components, in the order the
// credits were first used (what a quote shows per credit).
func TestUses(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	lines := []Line{
		{Component: "energy", Credits: []LineCredit{{CreditID: b, Kind: Energy, Amount: dec("5"), CoveredExclVAT: dec("1.5")},
			{CreditID: a, Kind: Monetary, Amount: dec("2"), CoveredExclVAT: dec("2")}}},
		{Component: "parking_time", Note: NoteNotApplicable},
		{Component: "flat", Credits: []LineCredit{{CreditID: a, Kind: Monetary, Amount: dec("0.5"), CoveredExclVAT: dec("0.5")}}},
	}
	us := Uses(lines)
	require.Len(t, us, 2)
	require.Equal(t, b, us[0].CreditID)
	require.Equal(t, Energy, us[0].Kind)
	require.Equal(t, []string{"energy"}, us[0].Components)
	require.Equal(t, a, us[1].CreditID)
	require.Equal(t, "2.5", us[1].Amount.String())
	require.Equal(t, "2.5", us[1].CoveredExclVAT.String())
	require.Equal(t, []string{"energy", "flat"}, us[1].Components)
	require.Empty(t, Uses(nil))
}
