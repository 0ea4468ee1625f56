package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// This file is the pricing framework of the pipeline (issue 6; guide 003 →
// Charge Sessions: "after the checks the session is priced"): a session in
// ReadyForPricing runs every Pricer registered for its side and moves to
// Priced with all their results, or drops out when a pricer reports a
// PricingFailure. The store keeps every result as a version per (session,
// kind, subject): repricing appends version n+1 and keeps the older ones,
// so that what a customer was once told stays explainable.

// PriceKind says which amount of a session a result is: what our customer
// pays (MSP), what we charge an eMSP for roaming at our charge points, or
// what we owe a site owner.
type PriceKind string

// The price kinds (issue 6: MSP pricing, CPO roaming cost, CPO
// reimbursements).
const (
	KindMSP           PriceKind = "msp"
	KindRoamingCost   PriceKind = "roaming_cost"
	KindReimbursement PriceKind = "reimbursement"
)

// Valid reports whether k is one of the price kinds.
func (k PriceKind) Valid() bool {
	return k == KindMSP || k == KindRoamingCost || k == KindReimbursement
}

// PriceResult is one amount of a session with its VAT: the result a pricer
// returns and the store keeps as a version. Totals are the sums of the
// components (Totals computes them so), so that a credit or an invoice
// line can consume per component and still add up.
type PriceResult struct {
	Kind PriceKind
	// SubjectID is what the result is about when a kind has several per
	// session: the reimbursement arrangement; nil otherwise.
	SubjectID *uuid.UUID
	// Currency is the ISO 4217 code of every amount.
	Currency   string
	Components []PriceComponent
	ExclVAT    decimal.Decimal
	VAT        decimal.Decimal
	InclVAT    decimal.Decimal
	// Detail is the explainable breakdown (engine lines, the rule chosen,
	// the VAT steps) as JSON, stored and shown as is.
	Detail json.RawMessage
	// Credits, when not nil, is the charge-credit consumption of this
	// result (domain/credit): once the result is committed, the session's
	// consumption is exactly Credits.Movements, what it consumed before
	// (an earlier version) being given back in the same transaction. Nil:
	// the result does not touch charge credits.
	Credits *CreditUse
	// CreditOf, on a credit CDR's result, names the result it reverses
	// (Reverse); nil otherwise.
	CreditOf *CreditRef
	// AdministrationID is the administration the result's event belongs
	// to when it is not the session's: a reimbursement's arrangement's (a
	// CPO session has none). Nil: the session's.
	AdministrationID *uuid.UUID
}

// CreditUse is what a result consumes of its subscription's charge
// credits (guide 003 → Charge credits), committed atomically with the
// result so that a balance never goes negative.
type CreditUse struct {
	Movements []CreditMovement
	// GiveBack, on a credit CDR's result, is the credited session: what
	// it consumed and was not given back yet is given back in the
	// result's transaction (mod_cdrs → Credit CDRs: the credited charge
	// is cancelled, so are the credits that paid for it).
	GiveBack *uuid.UUID
}

// CreditMovement is one consumption of a charge credit by a component of
// a result.
type CreditMovement struct {
	CreditID  uuid.UUID
	Component string
	// Amount is what the credit gives, positive: money excluding VAT for a
	// monetary credit, kWh for an energy credit.
	Amount decimal.Decimal
	// Covered is the money (excluding VAT, in the result's currency) the
	// movement took off the component.
	Covered decimal.Decimal
}

// PriceComponent is a subtotal of a result: one dimension (energy, time,
// parking_time, flat, reservation, reimbursement, …) with its volume and
// its VAT. Credits consume per component, so each carries its own VAT.
type PriceComponent struct {
	Component string
	Volume    decimal.Decimal
	// Unit of Volume: kWh, h, session, …
	Unit    string
	ExclVAT decimal.Decimal
	// VATRate is a fraction (0.21 for 21 %).
	VATRate decimal.Decimal
	VAT     decimal.Decimal
	InclVAT decimal.Decimal
}

// Totals sets the result's totals to the sums of its components: a
// result's totals are never computed apart from its lines (issue 6:
// "totals equal the sum of the breakdown lines").
func (r PriceResult) Totals() PriceResult {
	r.ExclVAT, r.VAT, r.InclVAT = decimal.Zero, decimal.Zero, decimal.Zero
	for _, c := range r.Components {
		r.ExclVAT = r.ExclVAT.Add(c.ExclVAT)
		r.VAT = r.VAT.Add(c.VAT)
		r.InclVAT = r.InclVAT.Add(c.InclVAT)
	}
	return r
}

// checked returns r with totals summed from its components when the pricer
// left them zero, and an error when the pricer set totals that are not the
// sums (a pricer bug: the stored result would not add up).
func (r PriceResult) checked() (PriceResult, error) {
	if !r.Kind.Valid() {
		return r, fmt.Errorf("price result of unknown kind %q", r.Kind)
	}
	if r.Currency == "" {
		return r, fmt.Errorf("%s price result without a currency", r.Kind)
	}
	t := r.Totals()
	if r.ExclVAT.IsZero() && r.VAT.IsZero() && r.InclVAT.IsZero() {
		return t, nil
	}
	if !t.ExclVAT.Equal(r.ExclVAT) || !t.VAT.Equal(r.VAT) || !t.InclVAT.Equal(r.InclVAT) {
		return r, fmt.Errorf("%s price result totals %s/%s/%s are not the sums of its components %s/%s/%s",
			r.Kind, r.ExclVAT, r.VAT, r.InclVAT, t.ExclVAT, t.VAT, t.InclVAT)
	}
	return r, nil
}

// Pricer computes one or more amounts of a session. It returns zero or more
// results; a business failure that must send the session to a drop-out
// case (no rate plan, the partner's total_cost too far from ours, VAT that
// cannot be determined, …) is a *PricingFailure; any other error is a
// failure of the store and the step is retried. A pricer must be
// deterministic for the same stored inputs, so that repricing without a
// change gives the same result.
type Pricer interface {
	Price(ctx context.Context, s ChargeSession, now time.Time) ([]PriceResult, error)
}

// PricingFailure is a pricing check a session did not pass: the pipeline
// drops the session out with Reason (grouped into cases like the validity
// checks' drop-outs) and Detail. Check names the check so an operator can
// bypass it when reprocessing; a pricer that can go on without the check
// consults ChargeSession.Bypasses itself, and a failure whose check the
// session bypasses is otherwise taken as "this pricer has no result".
type PricingFailure struct {
	Check  Check
	Reason string // short, the same for similar sessions (the case key)
	Detail string // the session's own figures, for the operator
}

func (f *PricingFailure) Error() string {
	if f.Detail == "" {
		return "pricing: " + f.Reason
	}
	return "pricing: " + f.Reason + ": " + f.Detail
}

// Failf returns a *PricingFailure of check with a reason and a formatted
// detail.
func Failf(check Check, reason, detail string, args ...any) *PricingFailure {
	return &PricingFailure{Check: check, Reason: reason, Detail: fmt.Sprintf(detail, args...)}
}

// The pricing checks. They share the validity checks' namespace: an
// operator bypasses either kind the same way (Reprocess with Bypass).
const (
	// CheckPricingConfigured: what prices the session exists (a rate plan
	// through the token's subscription, a roaming agreement and tariff, a
	// reimbursement plan). Bypassed, the pricer has no result.
	CheckPricingConfigured Check = "pricing_configured"
	// CheckPartnerCostMatches: the partner's total_cost agrees with our
	// recomputation of its tariff within the configured tolerance.
	// Bypassed, the session is priced anyway.
	CheckPartnerCostMatches Check = "partner_cost_matches"
	// CheckVATDetermined: the VAT of every component could be determined
	// (guide 003 → Determining VAT: no policy, several reimbursement
	// arrangements disagreeing, …). Bypassed, the pricer has no result.
	CheckVATDetermined Check = "vat_determined"
	// CheckPricePlausible: the price is within the configured maximum per
	// session. Bypassed, the session is priced anyway.
	CheckPricePlausible Check = "price_plausible"
)

// PricingChecks lists the pricing checks; Check.Valid accepts them as well
// as the validity checks.
var PricingChecks = []Check{CheckPricingConfigured, CheckPartnerCostMatches, CheckVATDetermined, CheckPricePlausible}

// Bypasses reports whether an operator chose to skip check c for s (see
// Reprocess).
func (s ChargeSession) Bypasses(c Check) bool { return s.bypasses(c) }

// Prices reports whether the pipeline prices sessions of side: at least
// one pricer is registered for it. Without pricers, ReadyForPricing stays
// where the pipeline ends, as before pricing existed.
func (p Pipeline) Prices(side Side) bool { return len(p.Pricers[side]) > 0 }

// Owes reports whether a step is owed on s: the pending states, and
// ReadyForPricing when the side has pricers.
func (p Pipeline) Owes(s ChargeSession) bool {
	return s.State.Pending() || (s.State == ReadyForPricing && p.Prices(s.Side))
}

// price runs every pricer of the session's side in order and returns the
// outcome: Priced with all results, or DroppedOut at the first pricing
// failure whose check the session does not bypass.
func (p Pipeline) price(ctx context.Context, s ChargeSession, now time.Time) (Outcome, error) {
	rs, err := p.Price(ctx, s, now)
	var w errCreditWait
	if errors.As(err, &w) {
		return p.creditWait(s, w, now), nil
	}
	var f *PricingFailure
	if errors.As(err, &f) {
		return Outcome{State: DroppedOut, Attempts: s.Attempts, Match: s.Match, Reason: f.Reason, Detail: f.Detail, Check: f.Check}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{State: Priced, Attempts: s.Attempts, Match: s.Match, Prices: rs}, nil
}

// Price runs the pricers of s's side and returns their results in pricer
// order, each with totals equal to the sum of its components (zero totals
// are filled in; totals that differ are an error of the pricer). A
// *PricingFailure is returned as is unless s bypasses its check, in which
// case that pricer contributes nothing. It is the one code path of pricing
// a session, of repricing it, and of quoting (a ChargeSession built from a
// quote's expected figures).
func (p Pipeline) Price(ctx context.Context, s ChargeSession, now time.Time) ([]PriceResult, error) {
	if s.Credit && p.Credited != nil {
		// A credit CDR is not priced: it reverses what its credited
		// session was priced (Reverse).
		return p.credit(ctx, s)
	}
	var out []PriceResult
	type key struct {
		kind    PriceKind
		subject uuid.UUID
	}
	seen := map[key]bool{}
	for _, pr := range p.Pricers[s.Side] {
		rs, err := pr.Price(ctx, s, now)
		var f *PricingFailure
		if errors.As(err, &f) && f.Check != "" && s.bypasses(f.Check) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			r, err := r.checked()
			if err != nil {
				return nil, fmt.Errorf("pricer %T: %w", pr, err)
			}
			k := key{kind: r.Kind}
			if r.SubjectID != nil {
				k.subject = *r.SubjectID
			}
			if seen[k] {
				return nil, fmt.Errorf("pricer %T: a second %s result for subject %v (one result per kind and subject)", pr, r.Kind, r.SubjectID)
			}
			seen[k] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// ---- credit CDRs (mod_cdrs → Credit CDRs)

// CreditRef names the result a credit CDR's result reverses: the credited
// session, its CDR id, and the id and version of its latest result.
type CreditRef struct {
	ChargeSessionID uuid.UUID `json:"charge_session_id"`
	CdrID           string    `json:"cdr_id"`
	PriceID         uuid.UUID `json:"price_id"`
	Version         int       `json:"version"`
}

// Credited is what a credit CDR's pricing needs of the session it
// credits: its state and the latest version of each of its results.
type Credited struct {
	SessionID uuid.UUID
	CdrID     string
	State     State
	Latest    []CreditedPrice
}

// CreditedPrice is one latest result of a credited session.
type CreditedPrice struct {
	ID      uuid.UUID
	Version int
	Result  PriceResult
}

// CreditLookup loads the session a credit CDR s credits (the store linked
// them at intake).
type CreditLookup interface {
	Credited(ctx context.Context, s ChargeSession) (Credited, error)
}

// ReasonCreditedNotPriced is the drop-out reason of a credit CDR whose
// credited session has no result to reverse: it dropped out or was
// discarded, or it was still pending after the whole retry schedule.
const ReasonCreditedNotPriced = "Credited session not priced"

// CheckCreditedPriced is the check of that drop-out. It cannot be
// bypassed into a price: a credit without the result it reverses has
// nothing to be; retry the credit once the credited session is priced.
const CheckCreditedPriced Check = "credited_priced"

// errCreditWait is a credit CDR whose credited session is still on its
// way through the pipeline: the credit waits (Pipeline.price).
type errCreditWait struct{ detail string }

func (e errCreditWait) Error() string { return "credit CDR waits: " + e.detail }

// Reverse returns the results of a credit CDR: the exact reversal of
// each latest result of the credited session (mod_cdrs → Credit CDRs: the
// credit cancels the CDR it references, so what we charged for that CDR
// is taken back, not a fresh price of the credit's negative figures).
// Every component's volume and amounts, and so the VAT, are negated; the
// VAT rate, currency, kind and subject stay. An MSP result gives back the
// charge credits the credited session consumed (CreditUse.GiveBack). The
// detail names the reversed result and keeps the subscription and
// customer it was priced for (the read model's filters).
func Reverse(c Credited) []PriceResult {
	out := make([]PriceResult, 0, len(c.Latest))
	for _, p := range c.Latest {
		r := p.Result
		ref := CreditRef{ChargeSessionID: c.SessionID, CdrID: c.CdrID, PriceID: p.ID, Version: p.Version}
		rev := PriceResult{Kind: r.Kind, SubjectID: r.SubjectID, Currency: r.Currency, CreditOf: &ref}
		for _, pc := range r.Components {
			rev.Components = append(rev.Components, PriceComponent{Component: pc.Component, Volume: pc.Volume.Neg(), Unit: pc.Unit,
				ExclVAT: pc.ExclVAT.Neg(), VATRate: pc.VATRate, VAT: pc.VAT.Neg(), InclVAT: pc.InclVAT.Neg()})
		}
		detail := map[string]any{"credit_of": ref}
		var orig map[string]json.RawMessage
		if json.Unmarshal(r.Detail, &orig) == nil {
			for _, k := range []string{"subscription_id", "customer_id"} {
				if v, ok := orig[k]; ok {
					detail[k] = v
				}
			}
		}
		rev.Detail, _ = json.Marshal(detail) // a map of JSON values always marshals
		if r.Kind == KindMSP {
			id := c.SessionID
			rev.Credits = &CreditUse{GiveBack: &id}
		}
		out = append(out, rev.Totals())
	}
	return out
}

// credit prices a credit CDR: the reversal of its credited session's
// latest results when that session is priced; errCreditWait while it is
// pending; a drop-out when it dropped out, was discarded, or is invalid.
func (p Pipeline) credit(ctx context.Context, s ChargeSession) ([]PriceResult, error) {
	c, err := p.Credited.Credited(ctx, s)
	if err != nil {
		return nil, err
	}
	switch {
	case c.State == Priced && len(c.Latest) > 0:
		return Reverse(c), nil
	case c.State.Pending() || c.State == ReadyForPricing:
		return nil, errCreditWait{detail: fmt.Sprintf("credited CDR %s is %s", c.CdrID, c.State)}
	}
	return nil, Failf(CheckCreditedPriced, ReasonCreditedNotPriced, "credited CDR %s is %s; retry this credit once it is priced", c.CdrID, c.State)
}

// creditWait is the outcome of a credit CDR that waits for its credited
// session: it stays ready for pricing and is tried again on the match
// schedule (the attempts it has left), then drops out.
func (p Pipeline) creditWait(s ChargeSession, w errCreditWait, now time.Time) Outcome {
	if s.Attempts < len(p.Schedule) {
		return Outcome{State: ReadyForPricing, Attempts: s.Attempts + 1, Match: s.Match, RetryAt: now.Add(p.Schedule[s.Attempts])}
	}
	return Outcome{State: DroppedOut, Attempts: s.Attempts, Match: s.Match, Reason: ReasonCreditedNotPriced, Check: CheckCreditedPriced,
		Detail: w.detail + " after the whole retry schedule"}
}
