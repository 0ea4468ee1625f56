// Package authrule decides the MSP's charge authorization rules: the third
// condition of token validity (guide 003 → Token Validity: "The conditions
// set in the charge authorization rules must permit the token to initiate
// a charge session"; seed 001 → Charging Authorization Restrictions). The
// guide names the rules without specifying them; this package defines them.
//
// A rule belongs to an administration and applies to the whole
// administration, to one subscription plan, or to one subscription, during
// its validity period (guide → Validity periods: half-open, whole minutes).
// Its conditions on the charging location are ANDed; an empty condition
// matches anything:
//
//   - the CPO's country codes and parties (from the request's routing
//     headers, else the asking connection),
//   - location ids and EVSE uids (from the request's LocationReferences;
//     compared ignoring case, OCPI CiString),
//   - days of week and a local-time window [start, end) in the location's
//     time zone (the rule's time_zone when the location is unknown, else UTC).
//
// Effects: deny answers NOT_ALLOWED ("Token is valid, but is not allowed to
// charge at the given location", mod_tokens AllowedType) — or BLOCKED when
// the rule has no condition at all, because the token may then charge
// nowhere; require_credit answers NO_CREDIT unless the subscription holds a
// charge credit (monetary or energy) with a positive balance valid at the
// instant; allow is an exception that stops the rules of the less specific
// levels.
//
// Precedence (Decide): the token's link and subscription validity are
// checked first (domain/token.Evaluate: EXPIRED/BLOCKED), then the rules,
// most specific level first — subscription, plan, administration. Within a
// level deny rules come first, then require_credit, then allow. The first
// refusal is the answer; a matching allow rule ends the evaluation with
// what is still permitted; denials of EVSEs accumulate across levels.
//
// A request without LocationReferences cannot be decided by a rule with
// location or EVSE conditions whose other conditions hold: unless another
// rule refuses regardless of the place, Decide answers NeedsLocation, which
// the real-time authorization turns into OCPI status 2002 (mod_tokens, "Real-time
// authorization").
//
// No I/O: the credit check and the location's time zone are functions the
// caller passes, called only when a rule needs them.
package authrule

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/iso"
	"github.com/roamnode/roamnode/domain/period"
	"github.com/roamnode/roamnode/domain/pricing"
	"github.com/roamnode/roamnode/domain/token"
)

// Effect is what a matching rule does.
type Effect string

// The effects of a rule.
const (
	Deny          Effect = "deny"
	RequireCredit Effect = "require_credit"
	Allow         Effect = "allow"
)

// Spec is a rule as it is written and stored: strings as given.
type Spec struct {
	ID               uuid.UUID
	AdministrationID uuid.UUID
	PlanID           *uuid.UUID
	SubscriptionID   *uuid.UUID
	Effect           string
	ValidFrom        *time.Time
	ValidUntil       *time.Time
	CountryCodes     []string
	Parties          []string
	LocationIDs      []string
	EVSEUIDs         []string
	DaysOfWeek       []string
	StartTime        *string
	EndTime          *string
	TimeZone         *string
}

// Rule is a compiled rule: keys upper case, days and clock parsed.
type Rule struct {
	ID               uuid.UUID
	AdministrationID uuid.UUID
	PlanID           *uuid.UUID
	SubscriptionID   *uuid.UUID
	Effect           Effect
	ValidFrom        *time.Time
	ValidUntil       *time.Time
	countries        []string
	parties          []string
	locations        []string
	evses            []string
	days             []time.Weekday
	window           bool
	start, end       pricing.Clock
	zone             *time.Location
}

// Normalize trims nothing (the API does) but canonicalises what compares:
// country codes and parties upper case, validity bounds truncated to whole
// minutes (guide → Validity periods), duplicate list entries dropped. It
// returns the spec as it should be stored.
func Normalize(s Spec) Spec {
	up := func(in []string) []string {
		out := make([]string, 0, len(in))
		for _, v := range in {
			v = strings.ToUpper(v)
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		return out
	}
	keep := func(in []string) []string {
		out := make([]string, 0, len(in))
		for _, v := range in {
			if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, v) }) {
				out = append(out, v)
			}
		}
		return out
	}
	s.CountryCodes, s.Parties, s.DaysOfWeek = up(s.CountryCodes), up(s.Parties), up(s.DaysOfWeek)
	s.LocationIDs, s.EVSEUIDs = keep(s.LocationIDs), keep(s.EVSEUIDs)
	s.ValidFrom, s.ValidUntil = period.Truncate(s.ValidFrom), period.Truncate(s.ValidUntil)
	return s
}

// Compile validates a spec and compiles it; every problem is reported with
// its field path in one fault.Invalid.
func Compile(s Spec) (Rule, error) {
	var fs fault.Fields
	r := Rule{ID: s.ID, AdministrationID: s.AdministrationID, PlanID: s.PlanID, SubscriptionID: s.SubscriptionID,
		Effect: Effect(s.Effect), ValidFrom: period.Truncate(s.ValidFrom), ValidUntil: period.Truncate(s.ValidUntil)}
	switch r.Effect {
	case Deny, RequireCredit, Allow:
	default:
		fs.Add("effect", "must be deny, require_credit or allow")
	}
	if s.PlanID != nil && s.SubscriptionID != nil {
		fs.Add("subscription_id", "a rule applies to the administration, one plan or one subscription: give at most one of plan and subscription")
	}
	period.Check(&fs, "", r.ValidFrom, r.ValidUntil)
	for i, c := range s.CountryCodes {
		if c = strings.ToUpper(c); !iso.Country(c) {
			fs.Add(path("cpo_country_codes", i), "must be an ISO 3166-1 alpha-2 country code")
		}
		r.countries = append(r.countries, c)
	}
	for i, p := range s.Parties {
		if p = strings.ToUpper(p); !isParty(p) {
			fs.Add(path("cpo_parties", i), "must be a country code and a party id as CC-PPP (NL-TNM)")
		}
		r.parties = append(r.parties, p)
	}
	ids := func(name string, in []string) []string {
		out := make([]string, 0, len(in))
		for i, v := range in {
			if v == "" || len(v) > 36 || !printable(v) {
				fs.Add(path(name, i), "must be 1 to 36 printable ASCII characters (OCPI CiString(36))")
			}
			out = append(out, strings.ToUpper(v))
		}
		return out
	}
	r.locations, r.evses = ids("location_ids", s.LocationIDs), ids("evse_uids", s.EVSEUIDs)
	for i, d := range s.DaysOfWeek {
		wd, err := pricing.ParseWeekday(d)
		if err != nil {
			fs.Add(path("days_of_week", i), "must be MONDAY … SUNDAY")
		}
		r.days = append(r.days, wd)
	}
	switch {
	case s.StartTime == nil && s.EndTime == nil:
	case s.StartTime == nil || s.EndTime == nil:
		fs.Add("end_time", "start_time and end_time go together")
	default:
		var err error
		r.window = true
		if r.start, err = pricing.ParseClock(*s.StartTime); err != nil {
			fs.Add("start_time", "must be HH:MM")
		}
		if r.end, err = pricing.ParseClock(*s.EndTime); err != nil {
			fs.Add("end_time", "must be HH:MM")
		}
	}
	if s.TimeZone != nil {
		loc, err := time.LoadLocation(*s.TimeZone)
		if err != nil || *s.TimeZone == "" || *s.TimeZone == "Local" {
			fs.Add("time_zone", "must be an IANA time zone (Europe/Amsterdam)")
		}
		r.zone = loc
	}
	return r, fs.Err()
}

func path(name string, i int) string { return name + "[" + strconv.Itoa(i) + "]" }

func isParty(p string) bool {
	if len(p) != 6 || p[2] != '-' || !iso.Country(p[:2]) {
		return false
	}
	for _, c := range p[3:] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Unconditional reports a rule with no condition on the charging location
// or the time of day: it applies everywhere during its validity.
func (r Rule) Unconditional() bool {
	return len(r.countries) == 0 && len(r.parties) == 0 && len(r.locations) == 0 && len(r.evses) == 0 &&
		len(r.days) == 0 && !r.window
}

// level is the rule's specificity: 0 subscription, 1 plan, 2 administration.
func (r Rule) level() int {
	switch {
	case r.SubscriptionID != nil:
		return 0
	case r.PlanID != nil:
		return 1
	}
	return 2
}

// order ranks effects within a level: deny, then require_credit, then allow.
func (r Rule) order() int {
	switch r.Effect {
	case Deny:
		return 0
	case RequireCredit:
		return 1
	}
	return 2
}

// Set is the compiled rules of every administration, each administration's
// in evaluation order. A nil *Set has no rules.
type Set struct {
	byAdmin map[uuid.UUID][]Rule
}

// NewSet groups and orders rules for evaluation.
func NewSet(rules []Rule) *Set {
	s := &Set{byAdmin: map[uuid.UUID][]Rule{}}
	for _, r := range rules {
		s.byAdmin[r.AdministrationID] = append(s.byAdmin[r.AdministrationID], r)
	}
	for _, rs := range s.byAdmin {
		slices.SortStableFunc(rs, func(a, b Rule) int {
			if d := a.level() - b.level(); d != 0 {
				return d
			}
			return a.order() - b.order()
		})
	}
	return s
}

// For returns the rules of an administration in evaluation order; nil when
// it has none (the caller then skips the rules entirely).
func (s *Set) For(admin uuid.UUID) []Rule {
	if s == nil {
		return nil
	}
	return s.byAdmin[admin]
}

// Len is the number of rules in the set.
func (s *Set) Len() int {
	n := 0
	if s != nil {
		for _, rs := range s.byAdmin {
			n += len(rs)
		}
	}
	return n
}

// Request is the charging context of an authorization.
type Request struct {
	At time.Time
	// CountryCode and PartyID are the CPO asking, upper case; "" when unknown.
	CountryCode, PartyID string
	// LocationID and EVSEUIDs are the request's LocationReferences; "" and
	// nil when it gave none.
	LocationID string
	EVSEUIDs   []string
	// TimeZone returns the location's IANA time zone, "" when unknown; it
	// is called at most once, only when a rule with a day or time window
	// applies.
	TimeZone func() (string, error)
	// HasCredit reports whether the subscription holds a charge credit with
	// a positive balance valid at At; called at most once, only when a
	// require_credit rule applies.
	HasCredit func(subscription uuid.UUID) (bool, error)
}

// Outcome is what the rules decided.
type Outcome struct {
	Decision token.Decision
	// EVSEUIDs are the requested EVSEs the token may charge at, when the
	// request listed EVSEs and the decision is Permit (a subset of them
	// when rules deny some).
	EVSEUIDs []string
	// RuleID is the rule that refused, nil when permitted.
	RuleID *uuid.UUID
	// NeedsLocation: the answer depends on where the token is, and the
	// request gave no LocationReferences (a rule with location or EVSE
	// conditions applies and decides). Decision is then Block, so that it
	// fails closed; the real-time authorization answers OCPI status 2002
	// instead (mod_tokens: "too little information (no LocationReferences
	// provided) to determine if the Token might be used, the eMSP SHALL
	// respond with the OCPI status: 2002").
	NeedsLocation bool
}

// Decide evaluates rules (one administration's, in Set order) for the
// subscription sub (with its plan) in the request's context. See the
// package comment for the precedence.
func Decide(rules []Rule, sub token.Subscription, req Request) (Outcome, error) {
	e := evaluation{req: req, denied: make([]bool, len(req.EVSEUIDs)), party: req.CountryCode + "-" + req.PartyID,
		loc: strings.ToUpper(req.LocationID), evses: make([]string, len(req.EVSEUIDs))}
	for j, u := range req.EVSEUIDs {
		e.evses[j] = strings.ToUpper(u)
	}
	level := -1
	allowed := false
	// unknown: a deny or require_credit rule whose match needs the
	// location; unknownAllow: the most specific level of an allow rule
	// whose match needs it (-1: none), which might have stopped the rules
	// of the less specific levels.
	unknown, unknownAllow := false, -1
	for i := range rules {
		r := &rules[i]
		if r.level() != level {
			if allowed {
				break // an allow rule at a more specific level ends it
			}
			level = r.level()
		}
		if !r.appliesTo(sub) || !period.Contains(r.ValidFrom, r.ValidUntil, req.At) {
			continue
		}
		ok, evses, err := e.matches(r)
		if err != nil {
			return Outcome{Decision: token.Block}, err
		}
		if ok && e.loc == "" && (len(r.locations) > 0 || len(r.evses) > 0) {
			// Everything but the place matches, and the request does not say
			// where the token is.
			switch r.Effect {
			case Allow:
				if unknownAllow < 0 {
					unknownAllow = r.level()
				}
			case RequireCredit:
				// With credit the rule refuses nowhere: the place is moot.
				has, err := e.credit(sub.ID)
				if err != nil {
					return Outcome{Decision: token.Block}, err
				}
				unknown = unknown || !has
			default:
				unknown = true
			}
			continue
		}
		if !ok {
			continue
		}
		var refusal token.Decision
		switch r.Effect {
		case Deny:
			switch {
			case r.Unconditional():
				refusal = token.Block
			case evses == nil: // the whole location
				refusal = token.DenyHere
			default:
				for _, j := range evses {
					e.denied[j] = true
				}
				if !slices.Contains(e.denied, false) {
					refusal = token.DenyHere
				}
			}
		case RequireCredit:
			has, err := e.credit(sub.ID)
			if err != nil {
				return Outcome{Decision: token.Block}, err
			}
			if !has {
				refusal = token.DenyNoCredit
			}
		case Allow:
			allowed = true
		}
		if refusal != token.Permit {
			if unknownAllow >= 0 && unknownAllow < r.level() {
				// An exception of a more specific level might apply here.
				return Outcome{Decision: token.Block, NeedsLocation: true}, nil
			}
			return refuse(refusal, r), nil
		}
	}
	if unknown {
		return Outcome{Decision: token.Block, NeedsLocation: true}, nil
	}
	out := Outcome{Decision: token.Permit}
	if len(req.EVSEUIDs) > 0 {
		for j, u := range req.EVSEUIDs {
			if !e.denied[j] {
				out.EVSEUIDs = append(out.EVSEUIDs, u)
			}
		}
	}
	return out, nil
}

func refuse(d token.Decision, r *Rule) Outcome {
	id := r.ID
	return Outcome{Decision: d, RuleID: &id}
}

func (r *Rule) appliesTo(sub token.Subscription) bool {
	switch {
	case r.SubscriptionID != nil:
		return *r.SubscriptionID == sub.ID
	case r.PlanID != nil:
		return *r.PlanID == sub.PlanID
	}
	return true
}

// evaluation memoises the lookups of one Decide.
type evaluation struct {
	req      Request
	party    string   // CC-PPP of the CPO
	loc      string   // the location id, upper case
	evses    []string // upper case, in request order
	denied   []bool
	zone     *time.Location
	zoneDone bool
	credited *bool
}

// matches reports whether the rule's conditions hold. A rule with EVSE
// uids matches only a request that lists EVSEs, and then only those among
// them (their indexes in evses); evses is nil when the rule concerns the
// whole location. For a request without LocationReferences the location
// and EVSE conditions are taken as met: Decide then tells that the answer
// needs the location.
func (e *evaluation) matches(r *Rule) (bool, []int, error) {
	q := e.req
	if len(r.countries) > 0 && !slices.Contains(r.countries, q.CountryCode) {
		return false, nil, nil
	}
	if len(r.parties) > 0 && !slices.Contains(r.parties, e.party) {
		return false, nil, nil
	}
	if len(r.locations) > 0 && e.loc != "" && !slices.Contains(r.locations, e.loc) {
		return false, nil, nil
	}
	var evses []int
	if len(r.evses) > 0 && e.loc != "" {
		for j, u := range e.evses {
			if slices.Contains(r.evses, u) {
				evses = append(evses, j)
			}
		}
		if len(evses) == 0 {
			return false, nil, nil
		}
	}
	if len(r.days) > 0 || r.window {
		loc, err := e.location(r)
		if err != nil {
			return false, nil, err
		}
		local := q.At.In(loc)
		if len(r.days) > 0 && !slices.Contains(r.days, local.Weekday()) {
			return false, nil, nil
		}
		if r.window && !inWindow(pricing.Clock(local.Hour()*60+local.Minute()), r.start, r.end) {
			return false, nil, nil
		}
	}
	return true, evses, nil
}

// inWindow reports whether c is in [start, end); end not after start wraps
// past midnight (22:00–06:00), and equal bounds are the whole day.
func inWindow(c, start, end pricing.Clock) bool {
	if start < end {
		return c >= start && c < end
	}
	return c >= start || c < end
}

// location is the time zone of the rule's window: the location's, else
// the rule's own, else UTC.
func (e *evaluation) location(r *Rule) (*time.Location, error) {
	if !e.zoneDone {
		e.zoneDone = true
		if e.req.TimeZone != nil {
			name, err := e.req.TimeZone()
			if err != nil {
				return nil, err
			}
			if name != "" {
				if loc, err := time.LoadLocation(name); err == nil {
					e.zone = loc
				}
			}
		}
	}
	switch {
	case e.zone != nil:
		return e.zone, nil
	case r.zone != nil:
		return r.zone, nil
	}
	return time.UTC, nil
}

func (e *evaluation) credit(sub uuid.UUID) (bool, error) {
	if e.credited == nil {
		has := false
		if e.req.HasCredit != nil {
			var err error
			if has, err = e.req.HasCredit(sub); err != nil {
				return false, err
			}
		}
		e.credited = &has
	}
	return *e.credited, nil
}

// Standing is what the rules in force say about a token wherever it
// charges: what the OCPI Token object (Tokens sender, token push) carries,
// which cannot depend on a location.
type Standing struct {
	// Blocked: a condition-free deny is in force (and no allow exception of
	// a more specific level), so the token may charge nowhere: valid false.
	Blocked bool
	// Restricted: a conditional deny or a require_credit rule is in force,
	// so only we can tell whether the token may charge at a given place
	// and moment: valid stays true (mod_tokens NOT_ALLOWED: "Token is valid,
	// but is not allowed to charge at the given location") and the token is
	// whitelisted NEVER, so the CPO asks in real time (token.Config).
	Restricted bool
}

// StandingOf evaluates rules (one administration's, in Set order) for the
// subscription sub at instant at, with Decide's precedence: levels from
// the most specific, and a condition-free allow ends the evaluation at its
// level. An allow with conditions is an exception somewhere only, so the
// less specific rules still count, but a condition-free deny below it
// cannot block the token everywhere any more: it restricts it.
func StandingOf(rules []Rule, sub token.Subscription, at time.Time) Standing {
	var st Standing
	level := -1
	allowedAbove, allowedHere, stop := false, false, false
	for i := range rules {
		r := &rules[i]
		if r.level() != level {
			if stop {
				break
			}
			allowedAbove = allowedAbove || allowedHere
			allowedHere = false
			level = r.level()
		}
		if !r.appliesTo(sub) || !period.Contains(r.ValidFrom, r.ValidUntil, at) {
			continue
		}
		switch r.Effect {
		case Deny:
			if r.Unconditional() && !allowedAbove {
				return Standing{Blocked: true}
			}
			st.Restricted = true
		case RequireCredit:
			st.Restricted = true
		case Allow:
			if r.Unconditional() {
				stop = true
			} else {
				allowedHere = true
			}
		}
	}
	return st
}

// Publish evaluates token t for the OCPI Token object at instant at with
// its administration's rules (Set.For): the state's valid is false when
// the rules block the token (token.OCPIValid of ReasonBlocked), and the
// token returned is Restricted when they restrict it. The rules apply to
// the subscription of the link in effect; a token that is not valid by its
// links is neither blocked nor restricted by them.
func Publish(t token.Issued, rules []Rule, at time.Time) (token.Issued, token.State) {
	if len(rules) == 0 {
		return t, t.State(at)
	}
	var st Standing
	s := t.StateWith(at, func(at time.Time, link token.Link) token.Decision {
		st = StandingOf(rules, link.Subscription, at)
		if st.Blocked {
			return token.Block
		}
		return token.Permit
	})
	t.Restricted = st.Restricted
	return t, s
}

// Replaced returns an administration's rules with the rule id replaced by
// r (left out when r is nil), in evaluation order: the rules as they were
// before a change of that rule, to compare with the rules now.
func (s *Set) Replaced(admin, id uuid.UUID, r *Rule) []Rule {
	var rules []Rule
	for _, x := range s.For(admin) {
		if x.ID != id {
			rules = append(rules, x)
		}
	}
	if r != nil {
		x := *r
		x.AdministrationID = admin
		rules = append(rules, x)
	}
	return NewSet(rules).For(admin)
}
