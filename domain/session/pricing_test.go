package session

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

// perKWh is a pricer for tests: price × energy with 21 % VAT, failing the
// partner-cost check above maxKWh unless the session bypasses it.
type perKWh struct {
	price  decimal.Decimal
	maxKWh decimal.Decimal
	kind   PriceKind
	check  Check
}

func (p perKWh) Price(_ context.Context, s ChargeSession, _ time.Time) ([]PriceResult, error) {
	if !p.maxKWh.IsZero() && s.TotalEnergy.GreaterThan(p.maxKWh) && !s.Bypasses(CheckPartnerCostMatches) {
		return nil, Failf(p.check, "Partner cost differs", "%s kWh", s.TotalEnergy)
	}
	excl := p.price.Mul(s.TotalEnergy).Round(2)
	vat := excl.Mul(decimal.RequireFromString("0.21")).Round(2)
	kind := p.kind
	if kind == "" {
		kind = KindMSP
	}
	return []PriceResult{{Kind: kind, Currency: "EUR", Components: []PriceComponent{{Component: "energy", Volume: s.TotalEnergy, Unit: "kWh",
		ExclVAT: excl, VATRate: decimal.RequireFromString("0.21"), VAT: vat, InclVAT: excl.Add(vat)}}}}, nil
}

func priced(p Pricer) Pipeline {
	return Pipeline{Pricers: map[Side][]Pricer{MSP: {p}}}
}

func TestPricingStep(t *testing.T) {
	ctx := context.Background()
	s := good()
	s.State = ReadyForPricing
	s.TotalEnergy = decimal.NewFromInt(10)

	// No pricer for the side: nothing is owed, ready_for_pricing is final.
	require.False(t, Pipeline{}.Owes(s))
	cpoOnly := Pipeline{Pricers: map[Side][]Pricer{CPO: {perKWh{price: decimal.NewFromInt(1)}}}}
	require.False(t, cpoOnly.Owes(s), "pricers of the other side do not make an MSP session owed")
	_, err := cpoOnly.Step(ctx, s, now)
	require.Error(t, err)

	p := priced(perKWh{price: decimal.RequireFromString("0.35"), maxKWh: decimal.NewFromInt(40), check: CheckPartnerCostMatches})
	require.True(t, p.Owes(s))
	o, err := p.Step(ctx, s, now)
	require.NoError(t, err)
	require.Equal(t, Priced, o.State)
	require.Len(t, o.Prices, 1)
	r := o.Prices[0]
	require.Equal(t, "3.5", r.ExclVAT.String(), "totals filled in from the components")
	require.Equal(t, "0.74", r.VAT.String())
	require.Equal(t, "4.24", r.InclVAT.String())
	require.False(t, p.Owes(ChargeSession{Side: MSP, State: Priced}), "priced is final until a reprice")

	// A pricing failure drops the session out with its check, like a
	// validity check; bypassing the check prices it.
	s.TotalEnergy = decimal.NewFromInt(50)
	o, err = p.Step(ctx, s, now)
	require.NoError(t, err)
	require.Equal(t, DroppedOut, o.State)
	require.Equal(t, CheckPartnerCostMatches, o.Check)
	require.Equal(t, "Partner cost differs", o.Reason)
	s.State = DroppedOut
	back, err := Reprocess(s, Bypass, CheckPartnerCostMatches)
	require.NoError(t, err, "a pricing check can be bypassed")
	back.State = ReadyForPricing
	o, err = p.Step(ctx, back, now)
	require.NoError(t, err)
	require.Equal(t, Priced, o.State)
	require.Equal(t, "17.5", o.Prices[0].ExclVAT.String())

	// A pricer that cannot go on without the check: bypassed, it has no
	// result and the others still price.
	strict := perKWh{price: decimal.NewFromInt(1), maxKWh: decimal.NewFromInt(1), check: CheckPricingConfigured, kind: KindRoamingCost}
	two := Pipeline{Pricers: map[Side][]Pricer{MSP: {strictPricer{strict}, perKWh{price: decimal.NewFromInt(1)}}}}
	o, err = two.Step(ctx, back, now)
	require.NoError(t, err)
	require.Equal(t, DroppedOut, o.State)
	require.Equal(t, CheckPricingConfigured, o.Check)
	back.Bypass = append(back.Bypass, CheckPricingConfigured)
	o, err = two.Step(ctx, back, now)
	require.NoError(t, err)
	require.Equal(t, Priced, o.State)
	require.Len(t, o.Prices, 1)
	require.Equal(t, KindMSP, o.Prices[0].Kind)
}

// strictPricer fails its check whatever the session bypasses (a pricer
// that cannot price without what the check requires).
type strictPricer struct{ perKWh }

func (p strictPricer) Price(_ context.Context, s ChargeSession, _ time.Time) ([]PriceResult, error) {
	if s.TotalEnergy.GreaterThan(p.maxKWh) {
		return nil, Failf(p.check, "No rate plan", "none")
	}
	return p.perKWh.Price(context.Background(), s, now)
}

// fixed returns its results as they are.
type fixed []PriceResult

func (f fixed) Price(context.Context, ChargeSession, time.Time) ([]PriceResult, error) { return f, nil }

// A session that passes validation on a side with pricers is priced in
// the same step (one commit); a pricing failure then drops it out.
func TestValidationAndPricingInOneStep(t *testing.T) {
	ctx := context.Background()
	admin := uuid.New()
	found := table{match: &Match{ConnectorID: "1"}, facts: Facts{TokenKnown: true, AdministrationID: &admin}}
	p := Pipeline{Matcher: found, Lookup: found, Defaults: DefaultThresholds,
		Pricers: map[Side][]Pricer{MSP: {perKWh{price: decimal.NewFromInt(1), maxKWh: decimal.NewFromInt(20), check: CheckPartnerCostMatches}}}}
	s := good()
	s.State, s.Match = Validating, &Match{ConnectorID: "1"}
	o, err := p.Step(ctx, s, now)
	require.NoError(t, err)
	require.Equal(t, Priced, o.State)
	require.Equal(t, &admin, o.AdministrationID)
	require.Len(t, o.Prices, 1)
	s.TotalEnergy = decimal.NewFromInt(21)
	o, err = p.Step(ctx, s, now)
	require.NoError(t, err)
	require.Equal(t, DroppedOut, o.State)
	require.Equal(t, CheckPartnerCostMatches, o.Check)
	require.Equal(t, &admin, o.AdministrationID)

	// From received: matched, validated and priced in one step.
	r := good()
	o, err = p.Step(ctx, r, now)
	require.NoError(t, err)
	require.Equal(t, Priced, o.State)
	require.Equal(t, "1", o.Match.ConnectorID, "the match is committed with the price")
	require.Equal(t, &admin, o.AdministrationID)
	// Without pricers the steps stay apart.
	p.Pricers = nil
	o, err = p.Step(ctx, r, now)
	require.NoError(t, err)
	require.Equal(t, Validating, o.State)
}

func TestPricingResultsAreConsistent(t *testing.T) {
	ctx := context.Background()
	s := good()
	s.State = ReadyForPricing
	one := decimal.NewFromInt(1)
	c := PriceComponent{Component: "flat", Volume: one, Unit: "session", ExclVAT: one, VAT: decimal.Zero, InclVAT: one}
	// Totals that are not the sums of the components are a pricer bug.
	_, err := priced(fixed{{Kind: KindMSP, Currency: "EUR", Components: []PriceComponent{c}, ExclVAT: decimal.NewFromInt(2), InclVAT: decimal.NewFromInt(2)}}).Step(ctx, s, now)
	require.ErrorContains(t, err, "not the sums")
	// Matching totals pass as they are.
	o, err := priced(fixed{{Kind: KindMSP, Currency: "EUR", Components: []PriceComponent{c}, ExclVAT: one, InclVAT: one}}).Step(ctx, s, now)
	require.NoError(t, err)
	require.Equal(t, Priced, o.State)
	// Unknown kinds, missing currencies and a second result of the same
	// kind and subject are refused.
	_, err = priced(fixed{{Kind: "bonus", Currency: "EUR"}}).Step(ctx, s, now)
	require.ErrorContains(t, err, "unknown kind")
	_, err = priced(fixed{{Kind: KindMSP}}).Step(ctx, s, now)
	require.ErrorContains(t, err, "currency")
	_, err = priced(fixed{{Kind: KindMSP, Currency: "EUR"}, {Kind: KindMSP, Currency: "EUR"}}).Step(ctx, s, now)
	require.ErrorContains(t, err, "second")
	a, b := uuid.New(), uuid.New()
	o, err = priced(fixed{{Kind: KindReimbursement, SubjectID: &a, Currency: "EUR"}, {Kind: KindReimbursement, SubjectID: &b, Currency: "EUR"}}).Step(ctx, s, now)
	require.NoError(t, err, "one reimbursement per arrangement")
	require.Len(t, o.Prices, 2)
	// Zero results are a priced session too (nothing to charge).
	o, err = priced(fixed{}).Step(ctx, s, now)
	require.NoError(t, err)
	require.Equal(t, Priced, o.State)
	require.Empty(t, o.Prices)
}

func TestPricingChecksAreChecks(t *testing.T) {
	for _, c := range PricingChecks {
		require.True(t, c.Valid(), c)
	}
	require.False(t, Check("nonsense").Valid())
	var f error = Failf(CheckVATDetermined, "VAT undetermined", "no policy for %s", "NL")
	require.Equal(t, "pricing: VAT undetermined: no policy for NL", f.Error())
}
