package token

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/domain/fault"
)

// ---------------------------------------------------------------------------
// Period

// Field paths of a validity period in fault.Invalid errors.
const (
	PathValidFrom  = "valid_from"
	PathValidUntil = "valid_until"
)

// Period is a validity period [valid_from, valid_until) (guide, "Validity
// periods"): From is inclusive, Until exclusive, a missing bound is unbounded
// (valid since ever / until further notice). Bounds are whole minutes in UTC.
// The zero Period is unbounded on both sides (always valid). Build bounded
// periods with NewPeriod, which enforces Until > From.
type Period struct {
	from, until       time.Time
	hasFrom, hasUntil bool
}

// NewPeriod returns the period [from, until); nil means unbounded. Both
// bounds are truncated to whole minutes ("Any seconds or fractions will be
// truncated") and converted to UTC. After truncation Until must be later than
// From, so a period is never empty and cannot begin and end within the same
// minute; otherwise a fault.Invalid at PathValidUntil is returned.
func NewPeriod(from, until *time.Time) (Period, error) {
	var p Period
	if from != nil {
		p.from, p.hasFrom = truncMinute(*from), true
	}
	if until != nil {
		p.until, p.hasUntil = truncMinute(*until), true
	}
	if p.hasFrom && p.hasUntil && !p.until.After(p.from) {
		return Period{}, fault.Invalid(PathValidUntil, "must be later than valid_from (%s), in whole minutes", p.from.Format(time.RFC3339))
	}
	return p, nil
}

// truncMinute truncates t to the whole minute, in UTC, without monotonic
// clock reading.
func truncMinute(t time.Time) time.Time { return t.UTC().Truncate(time.Minute) }

// From returns the inclusive start, or nil when unbounded.
func (p Period) From() *time.Time {
	if !p.hasFrom {
		return nil
	}
	t := p.from
	return &t
}

// Until returns the exclusive end, or nil when unbounded.
func (p Period) Until() *time.Time {
	if !p.hasUntil {
		return nil
	}
	t := p.until
	return &t
}

// Contains reports whether instant t lies in [From, Until).
func (p Period) Contains(t time.Time) bool {
	return !p.StartsAfter(t) && !p.EndedBy(t)
}

// StartsAfter reports whether the period has not started yet at t (t < From).
func (p Period) StartsAfter(t time.Time) bool { return p.hasFrom && t.Before(p.from) }

// EndedBy reports whether the period is over at t (t >= Until).
func (p Period) EndedBy(t time.Time) bool { return p.hasUntil && !t.Before(p.until) }

// Overlaps reports whether p and o share at least one instant. Because Until
// is exclusive, a period ending at X does not overlap one starting at X: this
// is the seamless hand-over of a token between subscriptions (guide, "Token
// Validity": set the old valid_until and the new valid_from to the same value).
func (p Period) Overlaps(o Period) bool {
	// [a, b) ∩ [c, d) ≠ ∅  ⇔  a < d ∧ c < b, with missing bounds as ∓∞.
	return before(p.from, p.hasFrom, o.until, o.hasUntil) && before(o.from, o.hasFrom, p.until, p.hasUntil)
}

// before reports start < end where a missing start is -∞ and a missing end +∞.
func before(start time.Time, hasStart bool, end time.Time, hasEnd bool) bool {
	if !hasStart || !hasEnd {
		return true
	}
	return start.Before(end)
}

// Equal reports whether p and o have the same bounds.
func (p Period) Equal(o Period) bool {
	return p.hasFrom == o.hasFrom && p.hasUntil == o.hasUntil &&
		(!p.hasFrom || p.from.Equal(o.from)) && (!p.hasUntil || p.until.Equal(o.until))
}

// String renders the period as "[from, until)" with "-∞"/"+∞" for missing bounds.
func (p Period) String() string {
	from, until := "-∞", "+∞"
	if p.hasFrom {
		from = p.from.Format(time.RFC3339)
	}
	if p.hasUntil {
		until = p.until.Format(time.RFC3339)
	}
	return "[" + from + ", " + until + ")"
}

// ---------------------------------------------------------------------------
// Links and subscriptions

// Subscription is the part of an MSP token subscription that token validity
// depends on (guide, "Subscription"): its validity period and whether it was
// marked defunct.
type Subscription struct {
	ID uuid.UUID
	// PlanID is the subscription's plan (plan-scoped charge authorization
	// rules).
	PlanID  uuid.UUID
	Period  Period
	Defunct bool
	// UpdatedAt is when the subscription record was last written; it feeds
	// the OCPI last_updated of its tokens (see Issued.State).
	UpdatedAt time.Time
}

// Link is an MSP token link: it ties a token to a subscription for a period
// (guide, "Token Validity"). A defunct link is annulled: it never makes the
// token valid and does not take part in the one-subscription-at-a-time rule.
type Link struct {
	ID           uuid.UUID
	TokenID      uuid.UUID
	Subscription Subscription
	Period       Period
	Defunct      bool
	// UpdatedAt is when the link record was last written (see Issued.State).
	UpdatedAt time.Time
}

// Decision is what the charge authorization rules (authorization
// restrictions, seed 001; domain/restriction) decide for a token.
type Decision int

// The decisions of the charge authorization rules.
const (
	// Permit: the rules let the token start a charge session.
	Permit Decision = iota
	// Block: the token is blocked everywhere.
	Block
	// DenyHere: the token is fine but may not charge at the location asked about.
	DenyHere
	// DenyNoCredit: the account lacks credit to charge.
	DenyNoCredit
)

// Rules evaluates the charge authorization rules at instant at for the link
// that is in effect. Callers close over the context (location, CPO, …); for
// a location-independent question (the OCPI `valid` flag) the rules must only
// answer Permit or Block. A nil Rules permits everything.
type Rules func(at time.Time, link Link) Decision

// Reason explains a validity verdict. Its values are stable machine codes.
type Reason string

// The reasons Evaluate returns, one per branch of the guide's rule.
const (
	ReasonValid                   Reason = "valid"
	ReasonNoLink                  Reason = "no_link"
	ReasonLinkNotYetValid         Reason = "link_not_yet_valid"
	ReasonLinkExpired             Reason = "link_expired"
	ReasonLinkDefunct             Reason = "link_defunct"
	ReasonLinksOverlap            Reason = "links_overlap"
	ReasonSubscriptionNotYetValid Reason = "subscription_not_yet_valid"
	ReasonSubscriptionExpired     Reason = "subscription_expired"
	ReasonSubscriptionDefunct     Reason = "subscription_defunct"
	ReasonBlocked                 Reason = "blocked"
	ReasonNotAllowedHere          Reason = "not_allowed_here"
	ReasonNoCredit                Reason = "no_credit"
)

// Result is the outcome of Evaluate.
type Result struct {
	// Valid is true exactly when Reason is ReasonValid.
	Valid  bool
	Reason Reason
	// Link is the link in effect at the instant (period contains it, not
	// defunct); nil when there is none or when several are (ReasonLinksOverlap).
	Link *Link
}

// Evaluate applies the MSP token validity rule (guide, "Token Validity") to
// the links of one token at instant at. The token is valid exactly when
//
//  1. it has a link whose period contains at and which is not defunct,
//  2. that link's subscription period contains at and it is not defunct, and
//  3. the charge authorization rules permit it.
//
// When no link is in effect the reason is, in this order: ReasonLinkDefunct
// if a defunct link covers at; ReasonLinkNotYetValid if a live link starts
// later (e.g. a gap in a hand-over); ReasonLinkExpired if a live link ended
// before; ReasonLinkDefunct if the only links are defunct; ReasonNoLink if
// there are none. Two live links covering at break the one-subscription rule
// (see CheckExclusive); Evaluate then fails closed with ReasonLinksOverlap.
func Evaluate(links []Link, at time.Time, rules Rules) Result {
	var active []int
	var defunctHere, anyDefunct, future, past bool
	for i, l := range links {
		switch {
		case l.Defunct:
			anyDefunct = true
			defunctHere = defunctHere || l.Period.Contains(at)
		case l.Period.Contains(at):
			active = append(active, i)
		case l.Period.StartsAfter(at):
			future = true
		default:
			past = true
		}
	}
	switch {
	case len(active) > 1:
		return Result{Reason: ReasonLinksOverlap}
	case len(active) == 0:
		r := ReasonNoLink
		switch {
		case defunctHere:
			r = ReasonLinkDefunct
		case future:
			r = ReasonLinkNotYetValid
		case past:
			r = ReasonLinkExpired
		case anyDefunct:
			r = ReasonLinkDefunct
		}
		return Result{Reason: r}
	}
	link := links[active[0]]
	res := Result{Link: &link}
	sub := link.Subscription
	switch {
	case sub.Defunct:
		res.Reason = ReasonSubscriptionDefunct
	case sub.Period.StartsAfter(at):
		res.Reason = ReasonSubscriptionNotYetValid
	case sub.Period.EndedBy(at):
		res.Reason = ReasonSubscriptionExpired
	default:
		res.Reason = authorize(rules, at, link)
	}
	res.Valid = res.Reason == ReasonValid
	return res
}

// authorize maps the rules' decision to a reason.
func authorize(rules Rules, at time.Time, link Link) Reason {
	if rules == nil {
		return ReasonValid
	}
	switch d := rules(at, link); d {
	case Permit:
		return ReasonValid
	case Block:
		return ReasonBlocked
	case DenyHere:
		return ReasonNotAllowedHere
	case DenyNoCredit:
		return ReasonNoCredit
	default:
		// An unknown decision must never grant access.
		return ReasonBlocked
	}
}

// Valid is Evaluate reduced to (valid, reason).
func Valid(links []Link, at time.Time, rules Rules) (bool, Reason) {
	r := Evaluate(links, at, rules)
	return r.Valid, r.Reason
}

// CodeLinkOverlap is the fault code of CheckExclusive's conflict.
const CodeLinkOverlap = "token_link_overlap"

// CheckExclusive enforces "a token can only be associated with one
// subscription at any given time, regardless of the subscription's validity"
// (guide, "Token Validity") over a set of links, before the database's
// exclusion constraint does. Links are grouped by TokenID; defunct links are
// ignored. Periods are half-open, so a hand-over where the old link's
// valid_until equals the new link's valid_from is allowed. Every overlapping
// pair is reported, in input order, in one fault.Conflict with code CodeLinkOverlap; nil when
// there is none.
func CheckExclusive(links []Link) error {
	var clashes []string
	for i := range links {
		a := links[i]
		if a.Defunct {
			continue
		}
		for j := i + 1; j < len(links); j++ {
			b := links[j]
			if b.Defunct || b.TokenID != a.TokenID || !a.Period.Overlaps(b.Period) {
				continue
			}
			clashes = append(clashes, fmt.Sprintf("token %s: link %s %s overlaps link %s %s",
				a.TokenID, a.ID, a.Period, b.ID, b.Period))
		}
	}
	if len(clashes) == 0 {
		return nil
	}
	return fault.Conflict(CodeLinkOverlap, "a token can belong to only one subscription at a time: %s", strings.Join(clashes, "; "))
}
