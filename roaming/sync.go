package roaming

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/domain/network"
	model "github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
)

// Pull synchronisation of partners' Locations and Tariffs (we are the
// eMSP; mod_locations and mod_tariffs: "eMSPs who do not support Push mode
// need to call GET on the CPO's Locations endpoint … regularly"). A run
// walks the partner's Sender list page by page (transport_and_format,
// pagination: Link rel="next"), stores each page in one transaction together
// with the URL of the next page, and so holds one page in memory at a time
// and resumes after a crash from the page it was on. The first run is a full
// sync; later ones ask for date_from = start of the last successful run
// minus a margin (network.PlanRun). Stored objects follow the receivers'
// last_updated ordering, so a push newer than a pulled object wins.

// ErrSyncLost ends a run whose claim was taken over by another process
// (its heartbeat had gone stale): the other run continues from the cursor.
var ErrSyncLost = errors.New("roaming: the sync run lost its claim to another run")

// SyncRun identifies a claimed run.
type SyncRun struct {
	ConnectionID uuid.UUID
	Module       network.Module
	RunID        uuid.UUID
}

// SyncPage is one page's outcome, stored atomically with the cursor.
type SyncPage struct {
	Locations []network.Location
	Tariffs   []network.Tariff
	// Ignored counts objects of parties that are not the connection's
	// (transport_and_format → Client Owned Object Pull: "these objects may
	// be ignored"); Rejected counts objects that fail validation, with the
	// last reason. Neither stops the run.
	Ignored       int
	Rejected      int
	LastRejection string
}

// SyncStore is what pull synchronisation needs from storage (db implements it).
type SyncStore interface {
	// Connection loads a connection.
	Connection(ctx context.Context, id uuid.UUID) (model.Connection, error)
	// OwnParties are our parties (the eMSP one names us in routing headers).
	OwnParties(ctx context.Context) ([]model.OwnParty, error)
	// Parties are the parties of the connection with role CPO: the owners
	// whose objects we accept.
	Parties(ctx context.Context, connID uuid.UUID) ([]model.PartyRef, error)
	// Claim takes the sync of (connection, module) for run unless a live
	// run (heartbeat at or after staleBefore) holds it: ok is false then.
	// The state is the row as it was, for network.PlanRun.
	Claim(ctx context.Context, run SyncRun, staleBefore, now time.Time) (network.SyncState, bool, error)
	// Start records a new run's mode, date_from and first page.
	Start(ctx context.Context, run SyncRun, plan network.Plan, firstURL string, now time.Time) error
	// SavePage stores a page and the next page to fetch (nil after the
	// last) in one transaction; ErrSyncLost when the claim is gone.
	SavePage(ctx context.Context, run SyncRun, page SyncPage, next *string, now time.Time) (applied int, err error)
	// Finish ends a run that reached the last page.
	Finish(ctx context.Context, run SyncRun, now time.Time) error
	// Fail ends a run on an error, keeping its cursor.
	Fail(ctx context.Context, run SyncRun, reason string, now time.Time) error
}

// Syncer runs pull synchronisations.
type Syncer struct {
	Store  SyncStore
	Client *Client
	Log    *slog.Logger
	// Margin is subtracted from the last successful run's start to give
	// the next date_from (default 5 min).
	Margin time.Duration
	// Stale is how long a run may go without a heartbeat (one per page)
	// before another process may take it over (default 2 min: longer than
	// a page fetch with its retries).
	Stale time.Duration
	// PageLimit, when positive, is sent as limit (the partner may lower it).
	PageLimit int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// SyncResult says what a run did.
type SyncResult struct {
	// Skipped: another live run holds this sync; nothing was done.
	Skipped bool
	Resumed bool
	Mode    string
	Pages   int
	// Objects is the number of valid objects received, Applied how many
	// were stored (the others were older than what we had).
	Objects  int
	Applied  int
	Ignored  int
	Rejected int
}

// ErrNoSender: the partner offers no Sender endpoint of the module, so
// there is nothing to pull.
var ErrNoSender = errors.New("roaming: the partner has no sender endpoint for this module")

// Sync runs (or resumes) the pull synchronisation of one module from one
// connection. It returns when the run reaches the last page, fails, or ctx
// ends; a failed or interrupted run keeps its cursor and the next call
// resumes it. It is safe to call concurrently from several processes: one
// run holds the sync at a time.
func (s *Syncer) Sync(ctx context.Context, connID uuid.UUID, module network.Module) (SyncResult, error) {
	if !module.Valid() {
		return SyncResult{}, fmt.Errorf("roaming: cannot pull module %q", module)
	}
	r := pullRun{What: "pull sync", Store: s.Store, Client: s.Client, Log: s.Log, Margin: s.Margin, Stale: s.Stale,
		PageLimit: s.PageLimit, Now: s.Now}.withDefaults()
	return r.run(ctx, connID, module, func(run SyncRun, owners map[model.PartyRef]bool, data json.RawMessage, next *string, res *SyncResult) error {
		sp, err := decodePage(data, module, owners)
		if err != nil {
			return err
		}
		applied, err := s.Store.SavePage(ctx, run, sp, next, r.now())
		if err != nil {
			return err
		}
		res.Pages++
		res.Objects += len(sp.Locations) + len(sp.Tariffs)
		res.Applied += applied
		res.Ignored += sp.Ignored
		res.Rejected += sp.Rejected
		return nil
	})
}

// pullStore is the part of storage every claimed pull run uses: the
// roaming_sync row of (connection, module) and the parties. SyncStore and
// SessionPullStore both have it.
type pullStore interface {
	Connection(ctx context.Context, id uuid.UUID) (model.Connection, error)
	OwnParties(ctx context.Context) ([]model.OwnParty, error)
	Parties(ctx context.Context, connID uuid.UUID) ([]model.PartyRef, error)
	Claim(ctx context.Context, run SyncRun, staleBefore, now time.Time) (network.SyncState, bool, error)
	Start(ctx context.Context, run SyncRun, plan network.Plan, firstURL string, now time.Time) error
	Finish(ctx context.Context, run SyncRun, now time.Time) error
	Fail(ctx context.Context, run SyncRun, reason string, now time.Time) error
}

// pullRun is the run of a claimed pull, shared by Syncer (locations,
// tariffs) and SessionPuller (sessions, CDRs): claim the roaming_sync row
// unless a live run holds it, plan the run (resume from the cursor, or
// start with date_from = last successful start − Margin), walk the pages
// (walkPages) and finish or fail the run. It is built per call, so one
// Syncer or SessionPuller serves concurrent tasks.
type pullRun struct {
	// What names the pull in the log ("pull sync", "session pull").
	What   string
	Store  pullStore
	Client *Client
	Log    *slog.Logger
	Margin time.Duration
	Stale  time.Duration
	// Window, when positive, is how far back a run without date_from (a
	// first or full one) asks: date_from = now − Window.
	Window    time.Duration
	PageLimit int
	Now       func() time.Time
	// FoldParties upper-cases the connection's parties in the owners map
	// (the session pull looks owners up upper-cased).
	FoldParties bool
}

// withDefaults fills the zero fields: Margin 5 min, Stale 2 min (longer
// than a page fetch with its retries), the default logger.
func (r pullRun) withDefaults() pullRun {
	if r.Margin == 0 {
		r.Margin = 5 * time.Minute
	}
	if r.Stale == 0 {
		r.Stale = 2 * time.Minute
	}
	if r.Log == nil {
		r.Log = slog.Default()
	}
	return r
}

func (r pullRun) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

// pageSaver stores one page (its data, with the URL of the next page, nil
// after the last) of run, and adds what it did to res.
type pageSaver func(run SyncRun, owners map[model.PartyRef]bool, data json.RawMessage, next *string, res *SyncResult) error

// run runs (or resumes) the pull of module from connection connID, saving
// each page with save; see Syncer.Sync.
func (r pullRun) run(ctx context.Context, connID uuid.UUID, module network.Module, save pageSaver) (SyncResult, error) {
	conn, err := r.Store.Connection(ctx, connID)
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
	now := r.now()
	state, ok, err := r.Store.Claim(ctx, run, now.Add(-r.Stale), now)
	if err != nil || !ok {
		return SyncResult{Skipped: !ok}, err
	}
	plan := network.PlanRun(state, r.Margin)
	if r.Window > 0 && !plan.Resume && plan.DateFrom == nil {
		from := now.Add(-r.Window)
		plan.DateFrom = &from
	}
	res := SyncResult{Resumed: plan.Resume, Mode: plan.Mode}
	cursor := ""
	if plan.Resume {
		cursor = *state.NextURL
	} else {
		cursor = firstPage(endpoint, plan.DateFrom, r.PageLimit)
		if err := r.Store.Start(ctx, run, plan, cursor, now); err != nil {
			return res, err
		}
	}
	t, owners, err := r.target(ctx, conn)
	if err != nil {
		return res, r.fail(ctx, run, err)
	}
	r.Log.Info(r.What+" started", "connection_id", connID, "module", module, "mode", plan.Mode, "resumed", plan.Resume)
	err = walkPages(ctx, r.Client, t, origin, cursor, func(data json.RawMessage, _ *Response, next *string) error {
		return save(run, owners, data, next, &res)
	})
	if err != nil {
		return res, r.fail(ctx, run, err)
	}
	if err := r.Store.Finish(ctx, run, r.now()); err != nil {
		return res, err
	}
	r.Log.Info(r.What+" finished", "connection_id", connID, "module", module, "mode", plan.Mode, "pages", res.Pages,
		"objects", res.Objects, "applied", res.Applied, "ignored", res.Ignored, "rejected", res.Rejected)
	return res, nil
}

// fail records err on the run (even when ctx has ended: a shutdown is an
// orderly stop, and the next run resumes at once instead of waiting for
// the heartbeat to go stale) and returns it.
func (r pullRun) fail(ctx context.Context, run SyncRun, err error) error {
	if errors.Is(err, ErrSyncLost) {
		return err
	}
	msg := err.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	if ferr := r.Store.Fail(context.WithoutCancel(ctx), run, msg, r.now()); ferr != nil {
		return errors.Join(err, ferr)
	}
	r.Log.Warn(r.What+" failed", "connection_id", run.ConnectionID, "module", run.Module, "err", err)
	return err
}

// target is how we call the partner: its token, and our eMSP party in the
// routing "from" headers when it is unambiguous; and the connection's CPO
// parties, the owners whose objects we take.
func (r pullRun) target(ctx context.Context, conn model.Connection) (Target, map[model.PartyRef]bool, error) {
	t := Target{ConnectionID: &conn.ID, Token: *conn.TheirToken, Base64Token: conn.TokenBase64}
	own, err := r.Store.OwnParties(ctx)
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
	parties, err := r.Store.Parties(ctx, conn.ID)
	if err != nil {
		return t, nil, err
	}
	owners := make(map[model.PartyRef]bool, len(parties))
	for _, p := range parties {
		if r.FoldParties {
			p = model.PartyRef{CountryCode: strings.ToUpper(p.CountryCode), PartyID: strings.ToUpper(p.PartyID)}
		}
		owners[p] = true
	}
	return t, owners, nil
}

// firstPage is the Sender list URL with date_from (and limit).
func firstPage(endpoint string, from *time.Time, limit int) string {
	q := url.Values{}
	if from != nil {
		q.Set(ocpi.ParamDateFrom, ocpi.NewDateTime(*from).String())
	}
	if limit > 0 {
		q.Set(ocpi.ParamLimit, strconv.Itoa(limit))
	}
	if len(q) == 0 {
		return endpoint
	}
	sep := "?"
	if strings.Contains(endpoint, "?") {
		sep = "&"
	}
	return endpoint + sep + q.Encode()
}

// walkPages is the page walk of the pulls (locations and tariffs here,
// tokens in tokens.go): it GETs cur and each next page (transport_and_format,
// Pagination: Link rel="next"), one page in memory at a time, and hands
// each page's data with the URL of the page after it (nil on the last) to
// each, which stores both in one transaction so that a run resumes after
// a crash at the page it was on. The next link is resolved against the
// page that carried it and checked before the page is handed on: it must
// stay on origin's scheme and host (our token must not go elsewhere) and
// must not point to a page already fetched in this walk (ErrPageLoop).
// Every failure is a *PageError naming the page to resume from; at most
// the client's MaxPages pages are fetched.
func walkPages(ctx context.Context, c *Client, t Target, origin *url.URL, cur string,
	each func(data json.RawMessage, resp *Response, next *string) error) error {
	seen := map[string]struct{}{}
	for page := 1; ; page++ {
		if page > c.opts.MaxPages {
			return &PageError{NextURL: cur, Page: page, Err: ErrTooManyPages}
		}
		if err := ctx.Err(); err != nil {
			return &PageError{NextURL: cur, Page: page, Err: err}
		}
		seen[cur] = struct{}{}
		resp, err := c.Do(ctx, t, http.MethodGet, cur, nil)
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
		if err := each(resp.Envelope.Data, resp, next); err != nil {
			return &PageError{NextURL: cur, Page: page, Err: err}
		}
		if next == nil {
			return nil
		}
		cur = *next
	}
}

// decodePage decodes a page's objects one by one, so that one invalid
// object is counted and skipped rather than failing the page, and keeps
// those of the connection's parties.
func decodePage(data json.RawMessage, module network.Module, owners map[model.PartyRef]bool) (SyncPage, error) {
	var raw []json.RawMessage
	if len(data) > 0 && string(data) != "null" {
		if err := json.Unmarshal(data, &raw); err != nil {
			return SyncPage{}, fmt.Errorf("roaming: the page's data is not an array of objects: %w", err)
		}
	}
	decode, ok := pageDecoders[module]
	if !ok {
		return SyncPage{}, fmt.Errorf("roaming: cannot pull module %q", module)
	}
	var sp SyncPage
	for i, r := range raw {
		party, keep, err := decode(r)
		switch {
		case err != nil:
			sp.Rejected++
			sp.LastRejection = fmt.Sprintf("object %d of a page: %v", i, err)
		case !owners[party]:
			sp.Ignored++
		default:
			keep(&sp)
		}
	}
	return sp, nil
}

// pageDecoder decodes and validates one object of a module's Sender list
// into its stored form: its owner, and how to add it to the page.
type pageDecoder func(raw json.RawMessage) (owner model.PartyRef, keep func(*SyncPage), err error)

// pageDecoders are the decoders of the modules Syncer pulls.
var pageDecoders = map[network.Module]pageDecoder{
	network.ModuleLocations: decodeAs(ocpi.DecodeLocation, ocpi.Location.ToNetwork,
		func(n network.Location) model.PartyRef {
			return model.PartyRef{CountryCode: n.CountryCode, PartyID: n.PartyID}
		},
		func(sp *SyncPage, n network.Location) { sp.Locations = append(sp.Locations, n) }),
	network.ModuleTariffs: decodeAs(ocpi.DecodeTariff, ocpi.Tariff.ToNetwork,
		func(n network.Tariff) model.PartyRef {
			return model.PartyRef{CountryCode: n.CountryCode, PartyID: n.PartyID}
		},
		func(sp *SyncPage, n network.Tariff) { sp.Tariffs = append(sp.Tariffs, n) }),
}

// decodeAs builds a pageDecoder from a module's wire decoder (which
// validates), its mapping to the stored form, the owner of a stored object
// and where a page keeps it.
func decodeAs[W, N any](decode func([]byte) (W, error), toNetwork func(W) (N, error), owner func(N) model.PartyRef,
	add func(*SyncPage, N)) pageDecoder {
	return func(raw json.RawMessage) (model.PartyRef, func(*SyncPage), error) {
		w, err := decode(raw)
		if err != nil {
			return model.PartyRef{}, nil, err
		}
		n, err := toNetwork(w)
		if err != nil {
			return model.PartyRef{}, nil, err
		}
		return owner(n), func(sp *SyncPage) { add(sp, n) }, nil
	}
}
