package session

import (
	"time"

	"github.com/shopspring/decimal"
)

// The progress of sessions as partners' CPOs report them while they run
// (mod_sessions, our eMSP role): the read model msp-charge-session-progress
// keeps the latest report of each session, and every accepted change is
// told to webhook consumers with what kind of change it was. A session's
// CDR, which ends it commercially, is a charge session of the pipeline;
// progress reports are informative and never priced or billed.

// ProgressStatus is the status of a reported session (mod_sessions →
// SessionStatus enum).
type ProgressStatus string

// The session statuses of mod_sessions.
const (
	StatusActive      ProgressStatus = "ACTIVE"
	StatusCompleted   ProgressStatus = "COMPLETED"
	StatusInvalid     ProgressStatus = "INVALID"
	StatusPending     ProgressStatus = "PENDING"
	StatusReservation ProgressStatus = "RESERVATION"
)

// ProgressStatuses lists the statuses in the spec's order.
var ProgressStatuses = []ProgressStatus{StatusActive, StatusCompleted, StatusInvalid, StatusPending, StatusReservation}

// Valid reports whether s is a status of mod_sessions.
func (s ProgressStatus) Valid() bool {
	for _, v := range ProgressStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Final reports whether a session in status s is over: COMPLETED ("No more
// modifications will be made") or INVALID ("declared invalid and will not
// be billed"), mod_sessions → SessionStatus.
func (s ProgressStatus) Final() bool { return s == StatusCompleted || s == StatusInvalid }

// Progress is what a change of a reported session is judged on.
type Progress struct {
	Status ProgressStatus
	// Kwh is the energy charged so far (Session.kwh).
	Kwh decimal.Decimal
	// Periods is the number of charging periods.
	Periods int
	// LastUpdated is the partner's Session.last_updated.
	LastUpdated time.Time
}

// Change says what an accepted report changed, for webhook consumers
// (issue 7: "OCPI session start/update/stop and charging-period (meter)
// updates"). It travels as last_change in the msp-charge-session-progress
// record and so in its outbox events.
type Change string

// The kinds of change, in precedence order.
const (
	// ChangeStopped: the session reached a final status (COMPLETED or
	// INVALID), or was first reported already final.
	ChangeStopped Change = "stopped"
	// ChangeStarted: the first report of a session that is not over.
	ChangeStarted Change = "started"
	// ChangeMeter: the energy (kwh) or the charging periods changed.
	ChangeMeter Change = "meter"
	// ChangeUpdated: anything else (a status such as PENDING → ACTIVE,
	// the cost, the end time, the token …).
	ChangeUpdated Change = "updated"
)

// Changes lists the kinds of change.
var Changes = []Change{ChangeStarted, ChangeUpdated, ChangeStopped, ChangeMeter}

// ChangeOf classifies a report next that replaces prev (nil for the first
// report of a session). A stop wins over everything (a final report often
// carries the last meter values too), then the start, then meter values.
func ChangeOf(prev *Progress, next Progress) Change {
	switch {
	case next.Status.Final() && (prev == nil || !prev.Status.Final()):
		return ChangeStopped
	case prev == nil:
		return ChangeStarted
	case !prev.Kwh.Equal(next.Kwh) || prev.Periods != next.Periods:
		return ChangeMeter
	}
	return ChangeUpdated
}

// AcceptsReport is the ordering of reports (mod_sessions → PUT and PATCH
// carry last_updated; transport_and_format leaves the order of pushes and
// pulls open): a report is applied when its last_updated is not before
// the stored one, so an older PUT or PATCH never overwrites newer data and
// a report sent again is harmless.
func AcceptsReport(stored, incoming time.Time) bool { return !incoming.Before(stored) }
