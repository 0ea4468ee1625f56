package session

import (
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/network"
)

// Miss says which level of the location match failed. The store's matcher
// reports the deepest level it could not find.
type Miss string

// The match misses; their text is the drop-out reason of the guide.
const (
	Found             Miss = ""
	LocationNotFound  Miss = "Location not found"
	EVSENotFound      Miss = "EVSE not found"
	ConnectorNotFound Miss = "Connector not found"
)

// ReasonDropoutAll is the drop-out reason of a session at an EVSE whose
// dropout_all_chargesessions flag is on (guide 003 → Safe EVSE
// configuration).
const ReasonDropoutAll = "EVSE drops all charge sessions"

// Schedule is the delays between match attempts: locations often arrive
// after the CDR, so a miss is retried before it becomes a drop-out.
type Schedule []time.Duration

// DefaultSchedule retries eight times over about a day (23 h 21 min).
var DefaultSchedule = Schedule{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 8 * time.Hour}

// Outcome is the result of a pipeline step: the state to commit, and the
// details that go with it.
type Outcome struct {
	State State
	// RetryAt is when to try matching again (State Matching).
	RetryAt time.Time
	// Attempts is the new count of failed match attempts.
	Attempts int
	// Match is the match found (State Validating or later).
	Match *Match
	// Reason and Detail describe a drop-out (State DroppedOut).
	Reason string
	Detail string
	// Check is the failed validity check of a drop-out, empty for a match
	// drop-out.
	Check Check
	// AdministrationID is the administration the validation step found
	// the session to belong to (nil: unchanged).
	AdministrationID *uuid.UUID
	// Prices are the pricers' results (State Priced), stored as the next
	// version of each (kind, subject).
	Prices []PriceResult
}

// AfterMatch decides what follows a match attempt made at now: found
// sessions go on to validation, unless the EVSE drops all its sessions; a
// miss is retried on the schedule and after the last attempt dropped out
// with the miss as its reason.
func AfterMatch(s ChargeSession, m *Match, miss Miss, sched Schedule, now time.Time) Outcome {
	if miss == Found && m != nil {
		if m.DropoutAll {
			return Outcome{State: DroppedOut, Attempts: s.Attempts, Match: m, Reason: ReasonDropoutAll,
				Detail: "EVSE " + s.Location.EvseUID + " has dropout_all_chargesessions on"}
		}
		return Outcome{State: Validating, Attempts: s.Attempts, Match: m}
	}
	if miss == Found {
		miss = LocationNotFound // a matcher that found nothing names no level
	}
	attempts := s.Attempts + 1
	if attempts <= len(sched) {
		return Outcome{State: Matching, Attempts: attempts, RetryAt: now.Add(sched[attempts-1])}
	}
	return Outcome{State: DroppedOut, Attempts: attempts, Reason: string(miss),
		Detail: "location " + s.Location.LocationID + ", EVSE " + s.Location.EvseUID + ", connector " + s.Location.ConnectorID +
			" of " + s.CountryCode + "-" + s.PartyID}
}

// AfterValidation decides what follows the validity checks: the first
// failure drops the session out with its reason (one case per reason keeps
// cases homogeneous); otherwise the session is ready for pricing.
func AfterValidation(s ChargeSession, th Thresholds, f Facts, now time.Time) Outcome {
	if fs := Validate(s, th, f, now); len(fs) > 0 {
		return Outcome{State: DroppedOut, Attempts: s.Attempts, Match: s.Match, Reason: fs[0].Reason, Detail: fs[0].Detail, Check: fs[0].Check}
	}
	return Outcome{State: ReadyForPricing, Attempts: s.Attempts, Match: s.Match}
}

// NormalizeEVSEID is the key EVSE ids are matched on: case-insensitive and
// tolerant of separators ("NL*TNM*E0001" matches "nltnme0001"). It is the
// rule stored partner EVSEs are keyed by (network.EVSEIDKey), so a CDR's
// EVSE id and a received location's meet on the same key.
func NormalizeEVSEID(id string) string { return network.EVSEIDKey(id) }

// CaseKey groups drop-outs into cases: the same side, reason, party and
// EVSE (guide 003 → Drop-outs: "grouped by reason and similar
// properties"), so one fix (add the EVSE, correct a threshold) resolves
// the whole case.
type CaseKey struct {
	Side        Side
	Reason      string
	CountryCode string
	PartyID     string
	EVSE        string // normalized EVSE id, else the normalized EVSE uid
}

// KeyOf returns the case key of a session dropped out with reason.
func KeyOf(s ChargeSession, reason string) CaseKey {
	evse := NormalizeEVSEID(s.Location.EvseID)
	if evse == "" {
		evse = NormalizeEVSEID(s.Location.EvseUID)
	}
	if evse == "" {
		evse = strings.ToUpper(s.Location.EvseUID)
	}
	return CaseKey{Side: s.Side, Reason: reason, CountryCode: strings.ToUpper(s.CountryCode), PartyID: strings.ToUpper(s.PartyID), EVSE: evse}
}

// Instruction is what an operator asks of a reprocessed drop-out.
type Instruction string

// The reprocess instructions (guide 003 → Drop-outs → Reprocessing).
const (
	Retry   Instruction = "retry"
	Bypass  Instruction = "bypass"
	Discard Instruction = "discard"
)

// Reprocess returns the session as an operator's instruction leaves it:
// retry starts the pipeline again from matching with a fresh attempt
// count; bypass does the same and skips the named check from then on;
// discard ends it. Only dropped-out sessions can be reprocessed.
func Reprocess(s ChargeSession, in Instruction, check Check) (ChargeSession, error) {
	if s.State != DroppedOut {
		return s, errNotDropped(s.State)
	}
	switch in {
	case Retry:
	case Bypass:
		if !check.Valid() {
			return s, errUnknownCheck(check)
		}
		if !s.bypasses(check) {
			s.Bypass = append(append([]Check(nil), s.Bypass...), check)
		}
	case Discard:
		s.State = Discarded
		return s, nil
	default:
		return s, errInstruction(in)
	}
	s.State, s.Attempts, s.Match = Received, 0, nil
	return s, nil
}

// ParseSchedule reads a schedule written as comma-separated Go durations
// ("1m,5m,15m,1h"), the form of ROAMNODE_MATCH_SCHEDULE. Every delay must
// be positive; an empty schedule drops a miss at once.
func ParseSchedule(s string) (Schedule, error) {
	var out Schedule
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := time.ParseDuration(part)
		if err != nil || d <= 0 {
			return nil, fault.Invalid("schedule", "%q is not a positive duration such as 5m or 2h", part)
		}
		out = append(out, d)
	}
	return out, nil
}
