package roaming

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
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
// implements it on the roaming_sync rows of SyncStore).
type SessionPullStore interface {
	Connection(ctx context.Context, id uuid.UUID) (model.Connection, error)
	OwnParties(ctx context.Context) ([]model.OwnParty, error)
	Parties(ctx context.Context, connID uuid.UUID) ([]model.PartyRef, error)
	Claim(ctx context.Context, run SyncRun, staleBefore, now time.Time) (network.SyncState, bool, error)
	Start(ctx context.Context, run SyncRun, plan network.Plan, firstURL string, now time.Time) error
	// SavePulled stores a page and the next page to fetch (nil after the
	// last); ErrSyncLost when the claim is gone.
	SavePulled(ctx context.Context, run SyncRun, page PulledPage, next *string, now time.Time) (PulledResult, error)
	Finish(ctx context.Context, run SyncRun, now time.Time) error
	Fail(ctx context.Context, run SyncRun, reason string, now time.Time) error
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

func (p *SessionPuller) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

// withDefaults returns a copy with the defaults filled in: one puller
// serves concurrent tasks, so Pull must not write to it.
func (p *SessionPuller) withDefaults() *SessionPuller {
	q := *p
	p = &q
	if p.Margin == 0 {
		p.Margin = 5 * time.Minute
	}
	if p.Stale == 0 {
		p.Stale = 2 * time.Minute
	}
	if p.Window == 0 {
		p.Window = 31 * 24 * time.Hour
	}
	if p.Log == nil {
		p.Log = slog.Default()
	}
	return p
}

// Pull runs (or resumes) the pull of module (ModuleSessions or
// ModuleCDRs) from one connection. It returns when the run reaches the
// last page, fails, or ctx ends; a failed or interrupted run keeps its
// cursor and the next call resumes it. One run holds a pull at a time,
// across processes.
func (p *SessionPuller) Pull(ctx context.Context, connID uuid.UUID, module network.Module) (SyncResult, error) {
	p = p.withDefaults()
	if !IsSessionModule(module) {
		return SyncResult{}, fmt.Errorf("roaming: the session pull does not pull module %q", module)
	}
	if module == ModuleCDRs && p.Check == nil {
		return SyncResult{}, errors.New("roaming: SessionPuller.Check is required to pull CDRs")
	}
	conn, err := p.Store.Connection(ctx, connID)
	if err != nil {
		return SyncResult{}, err
	}
	if conn.Status != model.StatusRegistered || conn.TheirToken == nil {
		return SyncResult{}, fmt.Errorf("roaming: connection %s is not registered", connID)
	}
	endpoint, ok := conn.Endpoint(string(module), string(ocpi.InterfaceSender))
	if !ok {
		return SyncResult{}, ErrNoSender
	}
	origin, err := parseAbsolute(endpoint)
	if err != nil {
		return SyncResult{}, err
	}
	run := SyncRun{ConnectionID: connID, Module: module, RunID: uuid.Must(uuid.NewV7())}
	now := p.now()
	state, ok, err := p.Store.Claim(ctx, run, now.Add(-p.Stale), now)
	if err != nil || !ok {
		return SyncResult{Skipped: !ok}, err
	}
	plan := network.PlanRun(state, p.Margin)
	if !plan.Resume && plan.DateFrom == nil {
		from := now.Add(-p.Window)
		plan.DateFrom = &from
	}
	res := SyncResult{Resumed: plan.Resume, Mode: plan.Mode}
	cursor := ""
	if plan.Resume {
		cursor = *state.NextURL
	} else {
		cursor = firstPage(endpoint, plan.DateFrom, p.PageLimit)
		if err := p.Store.Start(ctx, run, plan, cursor, now); err != nil {
			return res, err
		}
	}
	t, owners, err := p.target(ctx, conn)
	if err != nil {
		return res, p.fail(ctx, run, err)
	}
	p.Log.Info("session pull started", "connection_id", connID, "module", module, "mode", plan.Mode, "resumed", plan.Resume)
	if err := p.walk(ctx, t, origin, cursor, run, owners, &res); err != nil {
		return res, p.fail(ctx, run, err)
	}
	if err := p.Store.Finish(ctx, run, p.now()); err != nil {
		return res, err
	}
	p.Log.Info("session pull finished", "connection_id", connID, "module", module, "mode", plan.Mode, "pages", res.Pages,
		"objects", res.Objects, "applied", res.Applied, "ignored", res.Ignored, "rejected", res.Rejected)
	return res, nil
}

// fail records err on the run, even when ctx has ended (a shutdown is an
// orderly stop and the next run resumes at once), and returns it.
func (p *SessionPuller) fail(ctx context.Context, run SyncRun, err error) error {
	if errors.Is(err, ErrSyncLost) {
		return err
	}
	msg := err.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	if ferr := p.Store.Fail(context.WithoutCancel(ctx), run, msg, p.now()); ferr != nil {
		return errors.Join(err, ferr)
	}
	p.Log.Warn("session pull failed", "connection_id", run.ConnectionID, "module", run.Module, "err", err)
	return err
}

// target is how we call the partner (its token; our eMSP party in the
// routing "from" headers when it is unambiguous) and the connection's CPO
// parties, the owners whose objects we take.
func (p *SessionPuller) target(ctx context.Context, conn model.Connection) (Target, map[model.PartyRef]bool, error) {
	t := Target{ConnectionID: &conn.ID, Token: *conn.TheirToken, Base64Token: conn.TokenBase64}
	own, err := p.Store.OwnParties(ctx)
	if err != nil {
		return t, nil, err
	}
	var emsp []model.OwnParty
	for _, o := range own {
		if o.Role == model.RoleEMSP {
			emsp = append(emsp, o)
		}
	}
	if len(emsp) == 1 {
		t.FromCountry, t.FromParty = emsp[0].CountryCode, emsp[0].PartyID
	}
	parties, err := p.Store.Parties(ctx, conn.ID)
	if err != nil {
		return t, nil, err
	}
	owners := make(map[model.PartyRef]bool, len(parties))
	for _, r := range parties {
		owners[model.PartyRef{CountryCode: strings.ToUpper(r.CountryCode), PartyID: strings.ToUpper(r.PartyID)}] = true
	}
	return t, owners, nil
}

// walk fetches pages from cur to the last one, storing each with the next
// page's URL and handing new charge sessions to the queue. Links are
// resolved against the page that carried them and must stay on the
// partner's host; a link to a page already fetched ends it with
// ErrPageLoop.
func (p *SessionPuller) walk(ctx context.Context, t Target, origin *url.URL, cur string, run SyncRun, owners map[model.PartyRef]bool, res *SyncResult) error {
	seen := map[string]struct{}{}
	for page := 1; ; page++ {
		if page > p.Client.opts.MaxPages {
			return &PageError{NextURL: cur, Page: page, Err: ErrTooManyPages}
		}
		if err := ctx.Err(); err != nil {
			return &PageError{NextURL: cur, Page: page, Err: err}
		}
		seen[cur] = struct{}{}
		resp, err := p.Client.Do(ctx, t, http.MethodGet, cur, nil)
		if err != nil {
			return &PageError{NextURL: cur, Page: page, Err: err}
		}
		var next *string
		if link, ok := nextLink(resp.Header); ok {
			n, err := resolveLink(origin, cur, link)
			if err != nil {
				return &PageError{NextURL: link, Page: page + 1, Err: err}
			}
			if _, dup := seen[n]; dup {
				return &PageError{NextURL: n, Page: page + 1, Err: ErrPageLoop}
			}
			next = &n
		}
		pp, err := p.decodePage(resp.Envelope.Data, run.Module, owners)
		if err != nil {
			return &PageError{NextURL: cur, Page: page, Err: err}
		}
		r, err := p.Store.SavePulled(ctx, run, pp, next, p.now())
		if err != nil {
			return &PageError{NextURL: cur, Page: page, Err: err}
		}
		p.enqueue(ctx, r.New)
		res.Pages++
		res.Objects += len(pp.Sessions) + len(pp.CDRs)
		res.Applied += r.Applied
		res.Ignored += pp.Ignored + r.Ignored
		res.Rejected += pp.Rejected + r.Invalid
		if next == nil {
			return nil
		}
		cur = *next
	}
}

// enqueue hands new charge sessions to the pipeline; a failure is only
// logged (the sweeper enqueues pending sessions from Postgres).
func (p *SessionPuller) enqueue(ctx context.Context, ids []uuid.UUID) {
	if p.Queue == nil || len(ids) == 0 {
		return
	}
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := time.Now()
	for _, id := range ids {
		if err := p.Queue.Enqueue(qctx, id, session.Received, 0, now); err != nil {
			p.Log.Warn("pulled charge session not enqueued; the sweeper will pick it up", "session_id", id, "err", err)
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
