package credit

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/domain/rateplan"
	"github.com/roamnode/roamnode/domain/session"
)

// Store gives pricing the charge credits of a session (db.CreditStore).
type Store interface {
	// SessionCredits returns the credits of subscription valid at start,
	// each with Available = balance + what session consumed of it before,
	// and whether session has consumed any credit before (of this or
	// another subscription: a correction may have moved its token), which
	// its next result must give back.
	SessionCredits(ctx context.Context, subscription, sessionID uuid.UUID, start time.Time) (credits []Credit, consumedBefore bool, err error)
}

// Pricer wraps the MSP pricer so that charge credits pay for what they
// cover (guide 003 → Charge credits: "they will automatically be used for
// all charge sessions until the credits are fully depleted"): the MSP
// result's components are discounted by Apply, the result carries the
// movements (session.PriceResult.Credits) that the store commits with it,
// and its detail gains the explanation ("charge_credits"). Results of
// other kinds, and MSP results of subscriptions without credits (and no
// earlier consumption to give back), pass unchanged.
type Pricer struct {
	MSP   session.Pricer
	Store Store
}

var _ session.Pricer = Pricer{}

// Price implements session.Pricer.
func (p Pricer) Price(ctx context.Context, s session.ChargeSession, now time.Time) ([]session.PriceResult, error) {
	rs, err := p.MSP.Price(ctx, s, now)
	if err != nil {
		return rs, err
	}
	for i, r := range rs {
		if rs[i], _, err = Credited(ctx, p.Store, r, s.ID, s.Start); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// Credited applies to MSP result r the credits of the subscription it was
// priced for, as a session sessionID starting at start may use them (what
// that session consumed before counts as available again; a quote passes
// uuid.Nil: it has consumed nothing). It only reads the store: the
// movements are in the returned result's Credits for the caller to commit
// (the pipeline) or to show (a quote, which consumes nothing), and lines
// explain each component. Results of other kinds, results without a
// subscription (a quote by plan) and subscriptions without credits (and
// no earlier consumption to give back) come back unchanged, lines nil.
func Credited(ctx context.Context, st Store, r session.PriceResult, sessionID uuid.UUID, start time.Time) (session.PriceResult, []Line, error) {
	if r.Kind != session.KindMSP {
		return r, nil, nil
	}
	sub, terms, ok := TermsOf(r.Detail)
	if !ok {
		return r, nil, nil
	}
	credits, before, err := st.SessionCredits(ctx, sub, sessionID, start)
	if err != nil || (len(credits) == 0 && !before) {
		return r, nil, err
	}
	return withCredits(r, terms, credits, start)
}

// WithCredits returns r with credits applied (Apply): discounted
// components and totals, the movements in r.Credits (never nil, so that
// the store gives back an earlier consumption even when nothing is
// consumed now), and the explanation in the detail under
// "charge_credits".
func WithCredits(r session.PriceResult, terms Terms, credits []Credit, start time.Time) (session.PriceResult, error) {
	r, _, err := withCredits(r, terms, credits, start)
	return r, err
}

// withCredits is WithCredits that also returns the lines.
func withCredits(r session.PriceResult, terms Terms, credits []Credit, start time.Time) (session.PriceResult, []Line, error) {
	o, err := Apply(r.Components, terms, credits, r.Currency, start)
	if err != nil {
		return r, nil, err
	}
	r.Components = o.Components
	r = r.Totals()
	r.Credits = &session.CreditUse{Movements: o.Movements}
	d := map[string]json.RawMessage{}
	if len(r.Detail) > 0 {
		if err := json.Unmarshal(r.Detail, &d); err != nil {
			return r, nil, err
		}
	}
	raw, err := json.Marshal(o.Lines)
	if err != nil {
		return r, nil, err
	}
	d["charge_credits"] = raw
	if r.Detail, err = json.Marshal(d); err != nil {
		return r, nil, err
	}
	return r, o.Lines, nil
}

// TermsOf reads from an MSP result's detail (domain/rateplan's
// explainable breakdown) the subscription it was priced for and the
// credit terms of each component ("credits": [{"component", "credits":
// {"apply", "shortfall"}}]); ok is false when the detail names no
// subscription.
func TermsOf(detail json.RawMessage) (subscription uuid.UUID, terms Terms, ok bool) {
	var d struct {
		SubscriptionID *uuid.UUID `json:"subscription_id"`
		Credits        []struct {
			Component string           `json:"component"`
			Credits   rateplan.Credits `json:"credits"`
		} `json:"credits"`
	}
	if len(detail) == 0 || json.Unmarshal(detail, &d) != nil || d.SubscriptionID == nil || *d.SubscriptionID == uuid.Nil {
		return uuid.Nil, nil, false
	}
	terms = Terms{}
	for _, c := range d.Credits {
		terms[c.Component] = c.Credits
	}
	return *d.SubscriptionID, terms, true
}
