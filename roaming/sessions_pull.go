package roaming

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/domain/network"
	model "github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/ocpi"
)

// Pull of partners' Sessions and CDRs (we are the eMSP; mod_sessions →
// Pull model: "eMSPs who do not support the Push model need to call GET on
// the CPO's Sessions endpoint … can also be used in combination with the
// Push model to retrieve Sessions after the system (re-)connects"; mod_cdrs
// likewise). It runs like the pull of locations and tariffs (sync.go): a
// run claims the roaming_sync row of its connection and module, walks the
// Sender list page by page (Link rel="next"), stores each page with the
// URL of the next one, so it holds one page in memory and resumes after a
// crash from the page it was on, and asks later runs for date_from = start
// of the last successful run minus a margin. Sessions need a date_from
// (mod_sessions → GET, date_from required): a first run (or a full one)
// asks for the last Window. Pulled sessions follow the receiver's
// last_updated ordering; pulled CDRs take the intake of pushed ones, and a
// CDR that is malformed or fails the basic checks, which a pull cannot
// refuse, is kept as an invalid charge session with its reasons.

// The modules of the session pull (roaming_sync.module).
const (
	ModuleSessions network.Module = "sessions"
	ModuleCDRs     network.Module = "cdrs"
)

// SessionModules are the modules SessionPuller pulls.
var SessionModules = []network.Module{ModuleSessions, ModuleCDRs}

// IsSessionModule reports whether m is pulled by SessionPuller.
func IsSessionModule(m network.Module) bool { return m == ModuleSessions || m == ModuleCDRs }

// CDRCheck decodes a pulled CDR and returns the charge session it makes,
// or the problems (JSON types, field formats, the pipeline's basic checks)
// that keep it out of the pipeline. ocpi/module provides it (the checks of
// the CDRs receiver), which this package cannot import.
type CDRCheck func(raw []byte) (session.ChargeSession, []session.Problem)

// PulledSession is a valid pulled Session of one of the connection's
// parties, with its object as received.
type PulledSession struct {
	Session ocpi.Session
	Body    []byte
}

// PulledCDR is a pulled CDR of one of the connection's parties, or one
// whose party cannot be read: valid (Problems empty) with the charge
// session it makes, or invalid with its problems and its party and id as
// far as they could be read.
type PulledCDR struct {
	Body        []byte
	Session     session.ChargeSession
	Problems    []session.Problem
	CountryCode string
	PartyID     string
	CdrID       string
}

// PulledPage is one page of a session or CDR pull.
type PulledPage struct {
	Sessions []PulledSession
	CDRs     []PulledCDR
	// Ignored counts objects of parties that are not the connection's
	// (transport_and_format → Client Owned Object Pull); Rejected counts
	// sessions that fail validation, with the last reason.
	Ignored       int
	Rejected      int
	LastRejection string
}

// PulledResult says what storing a page did.
type PulledResult struct {
	// Applied: sessions stored, or CDRs that became new charge sessions.
	Applied int
	// Invalid: CDRs kept as invalid charge sessions.
	Invalid int
	// Ignored: sessions not applied (the stored report is newer or the
	// same) and CDRs already received.
	Ignored int
	// New are the new charge sessions, to hand to the pipeline.
	New []uuid.UUID
}

// SessionPullStore is what the session pull needs from storage (db
// implements it on the roaming_sync rows of SyncStore): the run's rows
// and parties as SyncStore has them (pullStore), and the pages' storage.
type SessionPullStore interface {
	pullStore
	// SavePulled stores a page and the next page to fetch (nil after the
	// last); ErrSyncLost when the claim is gone.
	SavePulled(ctx context.Context, run SyncRun, page PulledPage, next *string, now time.Time) (PulledResult, error)
}

// SessionPuller runs pulls of partners' sessions and CDRs.
type SessionPuller struct {
	Store  SessionPullStore
	Client *Client
	// Check decodes pulled CDRs (required for the cdrs module).
	Check CDRCheck
	// Queue receives the new charge sessions of pulled CDRs; nil or
	// failing, the pipeline's sweeper finds them in Postgres.
	Queue session.Queue
	Log   *slog.Logger
	// Margin is subtracted from the last successful run's start to give
	// the next date_from (default 5 min).
	Margin time.Duration
	// Stale is how long a run may go without a heartbeat before another
	// process takes it over (default 2 min).
	Stale time.Duration
	// Window is how far back a first or full run asks (date_from = now −
	// Window; default 31 days): the Sessions sender requires date_from,
	// and older CDRs would fail the pipeline's age check anyway.
	Window time.Duration
	// PageLimit, when positive, is sent as limit.
	PageLimit int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Pull runs (or resumes) the pull of module (ModuleSessions or
// ModuleCDRs) from one connection. It returns when the run reaches the
// last page, fails, or ctx ends; a failed or interrupted run keeps its
// cursor and the next call resumes it. One run holds a pull at a time,
// across processes. The run is the location sync's (pullRun, sync.go),
// with date_from = now − Window on a first or full run.
func (p *SessionPuller) Pull(ctx context.Context, connID uuid.UUID, module network.Module) (SyncResult, error) {
	if !IsSessionModule(module) {
		return SyncResult{}, fmt.Errorf("roaming: the session pull does not pull module %q", module)
	}
	if module == ModuleCDRs && p.Check == nil {
		return SyncResult{}, errors.New("roaming: SessionPuller.Check is required to pull CDRs")
	}
	window := p.Window
	if window == 0 {
		window = 31 * 24 * time.Hour
	}
	r := pullRun{What: "session pull", Store: p.Store, Client: p.Client, Log: p.Log, Margin: p.Margin, Stale: p.Stale,
		Window: window, PageLimit: p.PageLimit, Now: p.Now, FoldParties: true}.withDefaults()
	return r.run(ctx, connID, module, func(run SyncRun, owners map[model.PartyRef]bool, data json.RawMessage, next *string, res *SyncResult) error {
		pp, err := p.decodePage(data, run.Module, owners)
		if err != nil {
			return err
		}
		sr, err := p.Store.SavePulled(ctx, run, pp, next, r.now())
		if err != nil {
			return err
		}
		p.enqueue(ctx, r.Log, sr.New)
		res.Pages++
		res.Objects += len(pp.Sessions) + len(pp.CDRs)
		res.Applied += sr.Applied
		res.Ignored += pp.Ignored + sr.Ignored
		res.Rejected += pp.Rejected + sr.Invalid
		return nil
	})
}

// enqueue hands new charge sessions to the pipeline; a failure is only
// logged (the sweeper enqueues pending sessions from Postgres).
func (p *SessionPuller) enqueue(ctx context.Context, log *slog.Logger, ids []uuid.UUID) {
	if p.Queue == nil || len(ids) == 0 {
		return
	}
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := time.Now()
	for _, id := range ids {
		if err := p.Queue.Enqueue(qctx, id, session.Received, 0, now); err != nil {
			log.Warn("pulled charge session not enqueued; the sweeper will pick it up", "session_id", id, "err", err)
			return
		}
	}
}

// decodePage decodes a page's objects one by one: an invalid session is
// counted and skipped, an invalid CDR kept with its problems, objects of
// other parties ignored.
func (p *SessionPuller) decodePage(data json.RawMessage, module network.Module, owners map[model.PartyRef]bool) (PulledPage, error) {
	var raw []json.RawMessage
	if len(data) > 0 && string(data) != "null" {
		if err := json.Unmarshal(data, &raw); err != nil {
			return PulledPage{}, fmt.Errorf("roaming: the page's data is not an array: %w", err)
		}
	}
	var pp PulledPage
	owned := func(cc, pid string) bool {
		return owners[model.PartyRef{CountryCode: strings.ToUpper(cc), PartyID: strings.ToUpper(pid)}]
	}
	for i, r := range raw {
		body := append([]byte(nil), r...)
		switch module {
		case ModuleSessions:
			s, err := ocpi.DecodeSession(body)
			if err != nil {
				pp.Rejected++
				pp.LastRejection = fmt.Sprintf("session %d of a page: %v", i, err)
				continue
			}
			if !owned(s.CountryCode, s.PartyID) {
				pp.Ignored++
				continue
			}
			pp.Sessions = append(pp.Sessions, PulledSession{Session: s, Body: body})
		case ModuleCDRs:
			cc, pid, id := peekCDR(body)
			if ocpi.IsCountryCode(cc) && ocpi.IsPartyID(pid) && !owned(cc, pid) {
				pp.Ignored++
				continue
			}
			cs, problems := p.Check(body)
			pp.CDRs = append(pp.CDRs, PulledCDR{Body: body, Session: cs, Problems: problems, CountryCode: cc, PartyID: pid, CdrID: id})
		}
	}
	return pp, nil
}

// peekCDR reads the party and id of a CDR that may not decode as a whole.
func peekCDR(raw []byte) (countryCode, partyID, id string) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return "", "", ""
	}
	str := func(k string) string {
		var s string
		if json.Unmarshal(m[k], &s) != nil {
			return ""
		}
		return strings.TrimSpace(s)
	}
	return str("country_code"), str("party_id"), str("id")
}
