package session

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// creditLookup is a CreditLookup of a fixed credited session.
type creditLookup struct{ c Credited }

func (l creditLookup) Credited(context.Context, ChargeSession) (Credited, error) { return l.c, nil }

// creditedMSP is a priced credited session whose latest MSP result is
// version 2: energy 3.50 + 0.74 VAT and a flat 0.50 + 0.11 VAT.
func creditedMSP(state State) Credited {
	sub := uuid.Must(uuid.NewV7())
	detail, _ := json.Marshal(map[string]any{"subscription_id": sub, "rule": "std"})
	r := PriceResult{Kind: KindMSP, Currency: "EUR", Detail: detail, Components: []PriceComponent{
		{Component: "energy", Volume: dec("10"), Unit: "kWh", ExclVAT: dec("3.5"), VATRate: dec("0.21"), VAT: dec("0.74"), InclVAT: dec("4.24")},
		{Component: "flat", Volume: dec("1"), Unit: "session", ExclVAT: dec("0.5"), VATRate: dec("0.21"), VAT: dec("0.11"), InclVAT: dec("0.61")},
	}}.Totals()
	return Credited{SessionID: uuid.Must(uuid.NewV7()), CdrID: "CDR-1", State: state,
		Latest: []CreditedPrice{{ID: uuid.Must(uuid.NewV7()), Version: 2, Result: r}}}
}

// A credit CDR's result is the exact reversal of the credited session's
// latest result: every component, its VAT and its volume negated, the
// same currency and VAT rate, totals the sums, a reference to the
// reversed result, and the credited session's charge credits given back.
func TestCreditCDRReversesTheCreditedResult(t *testing.T) {
	c := creditedMSP(Priced)
	p := Pipeline{Pricers: map[Side][]Pricer{MSP: {perKWh{price: dec("99")}}}, Credited: creditLookup{c}}
	s := ChargeSession{Side: MSP, Credit: true, CreditReferenceID: "CDR-1", TotalEnergy: dec("10"), State: ReadyForPricing}
	o, err := p.Step(context.Background(), s, time.Now())
	require.NoError(t, err)
	require.Equal(t, Priced, o.State)
	require.Len(t, o.Prices, 1)
	r := o.Prices[0]
	orig := c.Latest[0].Result
	require.Equal(t, KindMSP, r.Kind)
	require.Equal(t, "EUR", r.Currency)
	require.Len(t, r.Components, len(orig.Components))
	for i, pc := range r.Components {
		oc := orig.Components[i]
		require.Equal(t, oc.Component, pc.Component)
		require.True(t, pc.ExclVAT.Equal(oc.ExclVAT.Neg()), pc.Component)
		require.True(t, pc.VAT.Equal(oc.VAT.Neg()), pc.Component)
		require.True(t, pc.InclVAT.Equal(oc.InclVAT.Neg()), pc.Component)
		require.True(t, pc.Volume.Equal(oc.Volume.Neg()), pc.Component)
		require.True(t, pc.VATRate.Equal(oc.VATRate), "the rate stays")
	}
	require.Equal(t, "-4", r.ExclVAT.String(), "not the rate plan's price of the credit's own figures")
	require.Equal(t, "-0.85", r.VAT.String())
	require.Equal(t, "-4.85", r.InclVAT.String())
	require.Equal(t, &CreditRef{ChargeSessionID: c.SessionID, CdrID: "CDR-1", PriceID: c.Latest[0].ID, Version: 2}, r.CreditOf)
	require.NotNil(t, r.Credits)
	require.Equal(t, c.SessionID, *r.Credits.GiveBack, "the credited session's credits are given back")
	require.Empty(t, r.Credits.Movements, "a credit consumes no credit")
	var d map[string]any
	require.NoError(t, json.Unmarshal(r.Detail, &d))
	require.NotNil(t, d["subscription_id"], "the subscription it was priced for (the read model's filter)")
	require.Equal(t, c.SessionID.String(), d["credit_of"].(map[string]any)["charge_session_id"])
}

// A credit CDR whose credited session is still on its way waits in
// ready_for_pricing on the retry schedule, then drops out; one whose
// credited session dropped out (or was discarded) drops out at once with
// a clear reason.
func TestCreditCDRWaitsThenDropsOut(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := ChargeSession{Side: MSP, Credit: true, CreditReferenceID: "CDR-1", State: ReadyForPricing}
	for _, st := range []State{Received, Matching, Validating, ReadyForPricing} {
		p := Pipeline{Pricers: map[Side][]Pricer{MSP: {perKWh{price: dec("1")}}}, Credited: creditLookup{creditedMSP(st)},
			Schedule: Schedule{time.Minute, time.Hour}}
		o, err := p.Step(context.Background(), s, now)
		require.NoError(t, err)
		require.Equal(t, ReadyForPricing, o.State, st)
		require.Equal(t, 1, o.Attempts)
		require.Equal(t, now.Add(time.Minute), o.RetryAt)
		s2 := s
		s2.Attempts = 1
		o, _ = p.Step(context.Background(), s2, now)
		require.Equal(t, now.Add(time.Hour), o.RetryAt)
		s2.Attempts = 2
		o, err = p.Step(context.Background(), s2, now)
		require.NoError(t, err)
		require.Equal(t, DroppedOut, o.State, "the schedule is spent")
		require.Equal(t, ReasonCreditedNotPriced, o.Reason)
		require.Contains(t, o.Detail, "CDR-1")
	}
	for _, st := range []State{DroppedOut, Discarded} {
		p := Pipeline{Pricers: map[Side][]Pricer{MSP: {perKWh{price: dec("1")}}}, Credited: creditLookup{creditedMSP(st)},
			Schedule: Schedule{time.Minute}}
		o, err := p.Step(context.Background(), s, now)
		require.NoError(t, err)
		require.Equal(t, DroppedOut, o.State, st)
		require.Equal(t, ReasonCreditedNotPriced, o.Reason)
		require.Equal(t, CheckCreditedPriced, o.Check)
		require.Contains(t, o.Detail, string(st))
	}
}
