package session

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/domain/fault"
)

// Matcher finds the location, EVSE and connector a session happened at,
// among partners' locations (MSP side) or our own (CPO side). It reports
// the deepest level it could not find as a Miss; an error is a failure of
// the store, not a miss.
type Matcher interface {
	Match(ctx context.Context, s ChargeSession) (*Match, Miss, error)
}

// Lookup gives the validity checks what only a store knows: the facts
// about the session (its token) and the thresholds that apply to it
// (defaults layered with its administration's and partner's overrides).
type Lookup interface {
	Facts(ctx context.Context, s ChargeSession) (Facts, error)
	Thresholds(ctx context.Context, s ChargeSession, admin *uuid.UUID, defaults Thresholds) (Thresholds, error)
}

// Queue hands a pending session to the worker for its next step at a
// time. Postgres is the record of pending work (the state and
// next_attempt_at the worker claims by), so an enqueue may be a mere
// wake-up; one that fails delays the step, it never loses it.
type Queue interface {
	Enqueue(ctx context.Context, id uuid.UUID, state State, attempts int, at time.Time) error
}

// Pipeline runs the steps of a session: match (retried on Schedule), then
// the validity checks with Defaults as base thresholds, then pricing: every
// pricer of the session's side, in order (pricing.go). A side without
// pricers ends at ReadyForPricing.
type Pipeline struct {
	Matcher  Matcher
	Lookup   Lookup
	Schedule Schedule
	Defaults Thresholds
	// Pricers are the pricers of each side: MSP pricing on the MSP side;
	// roaming cost and reimbursement on the CPO side.
	Pricers map[Side][]Pricer
	// Credited, when set, prices credit CDRs as the reversal of the
	// session they credit (pricing.go, Reverse) instead of the pricers.
	Credited CreditLookup
}

// Step returns the outcome of the step owed on s at now. It only decides;
// the caller commits the outcome (with an optimistic check on s.State and
// s.Attempts, so that a step run twice commits once).
func (p Pipeline) Step(ctx context.Context, s ChargeSession, now time.Time) (Outcome, error) {
	switch s.State {
	case Received, Matching:
		m, miss, err := p.Matcher.Match(ctx, s)
		if err != nil {
			return Outcome{}, err
		}
		o := AfterMatch(s, m, miss, p.Schedule, now)
		if o.State == Validating && p.Prices(s.Side) {
			// A side with pricers goes on to validation and pricing in the
			// same step: one commit per processed session.
			next := s
			next.State, next.Attempts, next.Match = Validating, o.Attempts, o.Match
			return p.Step(ctx, next, now)
		}
		return o, nil
	case Validating:
		f, err := p.Lookup.Facts(ctx, s)
		if err != nil {
			return Outcome{}, err
		}
		admin := s.AdministrationID
		if f.AdministrationID != nil {
			admin = f.AdministrationID
		}
		th, err := p.Lookup.Thresholds(ctx, s, admin, p.Defaults)
		if err != nil {
			return Outcome{}, err
		}
		o := AfterValidation(s, th, f, now)
		o.AdministrationID = admin
		if o.State == ReadyForPricing && p.Prices(s.Side) {
			// Priced in the same step: one commit instead of two, and the
			// pricers see the session as the validation left it.
			next := s
			next.State, next.AdministrationID = ReadyForPricing, admin
			po, err := p.price(ctx, next, now)
			if err != nil {
				return Outcome{}, err
			}
			po.AdministrationID = admin
			return po, nil
		}
		return o, nil
	case ReadyForPricing:
		if p.Prices(s.Side) {
			return p.price(ctx, s, now)
		}
	}
	return Outcome{}, fault.Conflict("not_pending", "no step is owed on a session that is %s", s.State)
}
