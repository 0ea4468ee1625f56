package network

import "time"

// Module is an OCPI module this node pulls from partners' senders.
type Module string

// The pulled modules.
const (
	ModuleLocations Module = "locations"
	ModuleTariffs   Module = "tariffs"
)

// Modules lists the pulled modules.
var Modules = []Module{ModuleLocations, ModuleTariffs}

// Valid reports whether m is a pulled module.
func (m Module) Valid() bool { return m == ModuleLocations || m == ModuleTariffs }

// Sync modes.
const (
	ModeFull        = "full"
	ModeIncremental = "incremental"
)

// SyncState is what a new run needs to know about the previous ones.
type SyncState struct {
	// NextURL is the cursor of an unfinished run: the page to fetch next.
	NextURL *string
	// Mode and DateFrom of the unfinished run.
	Mode     string
	DateFrom *time.Time
	// LastSuccessStartedAt is the start of the last run that reached the
	// last page.
	LastSuccessStartedAt *time.Time
	// RequestedFull: an operator asked for a full sync.
	RequestedFull bool
}

// Plan is how a run proceeds.
type Plan struct {
	// Resume: continue the unfinished run from its cursor (same mode and
	// date_from); otherwise start at the first page.
	Resume   bool
	Mode     string
	DateFrom *time.Time
}

// PlanRun decides how the next run goes:
//   - an unfinished run (its process died, or it stopped on an error) is
//     resumed from its persisted cursor, so a crash costs at most the page
//     in flight, unless an operator asked for a full sync;
//   - a connection never synchronised completely gets a full sync (no
//     date_from);
//   - otherwise an incremental sync asks for objects changed since the
//     start of the last successful run, minus margin: the partner's clock
//     and its commit delays may put a change made during that run slightly
//     before its start (transport_and_format: date_from is inclusive, so
//     the overlap only re-sends objects, which ordering makes harmless).
func PlanRun(s SyncState, margin time.Duration) Plan {
	if s.NextURL != nil && !s.RequestedFull && (s.Mode == ModeFull || s.Mode == ModeIncremental) {
		return Plan{Resume: true, Mode: s.Mode, DateFrom: s.DateFrom}
	}
	if s.LastSuccessStartedAt == nil || s.RequestedFull {
		return Plan{Mode: ModeFull}
	}
	from := s.LastSuccessStartedAt.Add(-margin).UTC()
	return Plan{Mode: ModeIncremental, DateFrom: &from}
}
