package roaming_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/domain/network"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/roaming"
)

// fakeCPO is a partner speaking OCPI: a Locations and a Tariffs sender
// with offset/limit pagination, date_from/date_to filters and absolute
// Link headers, over real HTTP.
type fakeCPO struct {
	t     *testing.T
	srv   *httptest.Server
	limit int
	mu    sync.Mutex
	locs  map[string]map[string]any // id → Location
	tars  map[string]map[string]any
	// log records each request's offset and date_from.
	log []request
	// fail, when set, may answer instead (once per offset it returns true).
	fail func(module string, offset int, w http.ResponseWriter) bool
}

type request struct {
	module   string
	offset   int
	dateFrom string
}

func newFakeCPO(t *testing.T, limit int) *fakeCPO {
	f := &fakeCPO{t: t, limit: limit, locs: map[string]map[string]any{}, tars: map[string]map[string]any{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCPO) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		w.WriteHeader(401)
		return
	}
	module := r.URL.Path[len("/ocpi/2.2.1/"):]
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("offset"))
	f.mu.Lock()
	f.log = append(f.log, request{module: module, offset: offset, dateFrom: q.Get("date_from")})
	fail := f.fail
	src := f.locs
	if module == "tariffs" {
		src = f.tars
	}
	var all []map[string]any
	for _, o := range src {
		if from := q.Get("date_from"); from != "" && o["last_updated"].(string) < from {
			continue
		}
		all = append(all, o)
	}
	f.mu.Unlock()
	if fail != nil && fail(module, offset, w) {
		return
	}
	// Oldest first, ties by id (transport_and_format: best practice).
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i]["last_updated"].(string), all[j]["last_updated"].(string)
		if a != b {
			return a < b
		}
		return all[i]["id"].(string) < all[j]["id"].(string)
	})
	end := min(offset+f.limit, len(all))
	page := all[min(offset, len(all)):end]
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Total-Count", strconv.Itoa(len(all)))
	w.Header().Set("X-Limit", strconv.Itoa(f.limit))
	if end < len(all) {
		next := fmt.Sprintf("%s%s?offset=%d&limit=%d", f.srv.URL, r.URL.Path, end, f.limit)
		if d := q.Get("date_from"); d != "" {
			next += "&date_from=" + d
		}
		w.Header().Set("Link", "<"+next+`>; rel="next"`)
	}
	if page == nil {
		page = []map[string]any{}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"data": page, "status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"})
}

// location builds a valid OCPI Location with evses EVSEs.
func location(cc, pid, id string, evses int, lu time.Time) map[string]any {
	var es []any
	for i := 0; i < evses; i++ {
		es = append(es, map[string]any{"uid": fmt.Sprintf("%s-E%d", id, i), "evse_id": fmt.Sprintf("%s*%s*E%s%d", cc, pid, id, i),
			"status": "AVAILABLE", "connectors": []any{map[string]any{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
				"power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 16, "last_updated": lu.Format(time.RFC3339)}},
			"last_updated": lu.Format(time.RFC3339)})
	}
	return map[string]any{"country_code": cc, "party_id": pid, "id": id, "publish": true, "name": "Location " + id,
		"address": "Street 1", "city": "Utrecht", "country": "NLD", "coordinates": map[string]any{"latitude": "52.090737", "longitude": "5.121420"},
		"time_zone": "Europe/Amsterdam", "evses": es, "last_updated": lu.Format(time.RFC3339)}
}

func (f *fakeCPO) put(l map[string]any) {
	f.mu.Lock()
	f.locs[l["id"].(string)] = l
	f.mu.Unlock()
}

func (f *fakeCPO) requests(module string) []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []request
	for _, r := range f.log {
		if r.module == module {
			out = append(out, r)
		}
	}
	f.log = nil
	return out
}

// syncEnv is a database with a registered connection to a fakeCPO whose
// CPO party is NL-TNM.
type syncEnv struct {
	t      *testing.T
	db     *dbtest.Database
	cpo    *fakeCPO
	connID uuid.UUID
	now    time.Time
}

func newSyncEnv(t *testing.T, limit int) *syncEnv {
	t.Helper()
	ctx := context.Background()
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	cpo := newFakeCPO(t, limit)
	now := time.Now().UTC()
	require.NoError(t, db.SaveOwnParty(ctx, d.Pool, partner.OwnParty{ID: uuid.Must(uuid.NewV7()), CountryCode: "NL", PartyID: "EMS",
		Role: partner.RoleEMSP, Name: "eMSP", CreatedAt: now, UpdatedAt: now}, true))
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "cpo", Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	c.Registered(partner.NewToken(), "their-token", cpo.srv.URL+"/ocpi/versions", "2.2.1", []partner.Endpoint{
		{Identifier: "locations", Role: "SENDER", URL: cpo.srv.URL + "/ocpi/2.2.1/locations"},
		{Identifier: "tariffs", Role: "SENDER", URL: cpo.srv.URL + "/ocpi/2.2.1/tariffs"},
	}, nil, "us", now)
	require.NoError(t, db.SaveConnection(ctx, d.Pool, c, true))
	require.NoError(t, db.RoamingStore{Pool: d.Pool}.InTx(ctx, func(tx roaming.Tx) error {
		return tx.LinkParties(ctx, c.ID, []partner.CredentialsRole{{Role: partner.RoleCPO, CountryCode: "NL", PartyID: "TNM", Name: "TNM"}})
	}))
	return &syncEnv{t: t, db: d, cpo: cpo, connID: c.ID, now: now}
}

func (e *syncEnv) syncer(store roaming.SyncStore) *roaming.Syncer {
	if store == nil {
		store = db.SyncStore{Pool: e.db.Pool}
	}
	return &roaming.Syncer{Store: store, Client: roaming.NewClient(roaming.Options{MaxRetries: -1, Timeout: 5 * time.Second}, nil),
		Margin: time.Minute, Stale: time.Minute, Now: func() time.Time { return e.now }}
}

// stored returns location id → last_updated, and the EVSE count.
func (e *syncEnv) stored() (map[string]time.Time, int) {
	e.t.Helper()
	ctx := context.Background()
	rows, err := e.db.Pool.Query(ctx, "SELECT location_id, last_updated FROM partner_location")
	require.NoError(e.t, err)
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var lu time.Time
		require.NoError(e.t, rows.Scan(&id, &lu))
		_, dup := out[id]
		require.False(e.t, dup, "location %s stored twice", id)
		out[id] = lu.UTC()
	}
	require.NoError(e.t, rows.Err())
	var n int
	require.NoError(e.t, e.db.Pool.QueryRow(ctx, "SELECT count(*) FROM partner_evse").Scan(&n))
	return out, n
}

func (e *syncEnv) state(m network.Module) db.SyncState {
	st, err := db.Syncs(context.Background(), e.db.Pool, e.connID)
	require.NoError(e.t, err)
	for _, s := range st {
		if s.Module == string(m) {
			return s
		}
	}
	e.t.Fatalf("no sync state for %s", m)
	return db.SyncState{}
}

func TestPullSyncFullThenIncremental(t *testing.T) {
	e := newSyncEnv(t, 5)
	ctx := context.Background()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 23; i++ {
		e.cpo.put(location("NL", "TNM", fmt.Sprintf("L%02d", i), 3, t0.Add(time.Duration(i)*time.Minute)))
	}
	// Objects of a party that is not the connection's are ignored; an
	// invalid one is counted and skipped, not fatal.
	e.cpo.put(location("DE", "XXX", "FOREIGN", 1, t0))
	bad := location("NL", "TNM", "BAD", 1, t0)
	bad["coordinates"] = map[string]any{"latitude": "north", "longitude": "5.1"}
	e.cpo.put(bad)

	s := e.syncer(nil)
	res, err := s.Sync(ctx, e.connID, network.ModuleLocations)
	require.NoError(t, err)
	require.Equal(t, network.ModeFull, res.Mode)
	require.False(t, res.Resumed)
	require.Equal(t, 5, res.Pages) // 25 objects, 5 per page
	require.Equal(t, 23, res.Applied)
	require.Equal(t, 1, res.Ignored)
	require.Equal(t, 1, res.Rejected)
	reqs := e.cpo.requests("locations")
	require.Len(t, reqs, 5)
	require.Empty(t, reqs[0].dateFrom, "a first sync is a full sync")
	for i, r := range reqs {
		require.Equal(t, i*5, r.offset, "pages follow the Link headers in order")
	}
	got, evses := e.stored()
	require.Len(t, got, 23)
	require.Equal(t, 69, evses)
	st := e.state(network.ModuleLocations)
	require.Equal(t, "idle", st.Status)
	require.Nil(t, st.NextUrl)
	require.Equal(t, int32(1), st.Rejected)
	require.Contains(t, *st.LastRejection, "latitude")
	firstStart := e.now

	// Changes at the partner: two updated, one new; and a push that is
	// newer than the partner's list for L03 (the push must win).
	t1 := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	e.cpo.put(location("NL", "TNM", "L01", 2, t1))
	e.cpo.put(location("NL", "TNM", "L02", 3, t1))
	e.cpo.put(location("NL", "TNM", "L99", 1, t1))
	e.cpo.put(location("NL", "TNM", "L03", 3, t1))
	// The partner stamps these changes after the first run started.
	e.cpo.mu.Lock()
	for _, id := range []string{"L01", "L02", "L99", "L03"} {
		e.cpo.locs[id]["last_updated"] = firstStart.Add(time.Second).Format(time.RFC3339)
	}
	e.cpo.mu.Unlock()
	pushed := location("NL", "TNM", "L03", 1, firstStart.Add(time.Hour))
	require.NoError(t, pushLocation(ctx, e, pushed))

	e.now = e.now.Add(10 * time.Minute)
	res, err = s.Sync(ctx, e.connID, network.ModuleLocations)
	require.NoError(t, err)
	require.Equal(t, network.ModeIncremental, res.Mode)
	reqs = e.cpo.requests("locations")
	require.Equal(t, firstStart.Add(-time.Minute).Format("2006-01-02T15:04:05Z"), reqs[0].dateFrom,
		"date_from = start of the last successful run minus the margin")
	require.Equal(t, 4, res.Objects, "only changed objects are pulled")
	require.Equal(t, 3, res.Applied, "the newer push of L03 wins over the pulled L03")
	got, evses = e.stored()
	require.Len(t, got, 24)
	// L01: 3 → 2 EVSEs, L99: new with 1, L03: 3 → 1 (the pushed version).
	require.Equal(t, 69-1+1-2, evses)
	loc, err := db.PartnerLocationByKey(ctx, e.db.Pool, "NL", "TNM", "L03", false)
	require.NoError(t, err)
	require.Len(t, loc.EVSEs, 1)
	// The EVSE id lookup tolerates separators and case.
	m, err := db.PartnerEVSEsByEVSEID(ctx, e.db.Pool, "nl-tnm-el990")
	require.NoError(t, err)
	require.Len(t, m, 1)
	require.Equal(t, "L99", m[0].LocationID)
}

// pushLocation stores a location as the receiver would (a push).
func pushLocation(ctx context.Context, e *syncEnv, l map[string]any) error {
	b, _ := json.Marshal(l)
	w, err := decodeLocation(b)
	if err != nil {
		return err
	}
	tx, err := e.db.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := db.SavePartnerLocations(ctx, tx, &e.connID, []network.Location{w}, time.Now()); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// crashingStore commits pages like the real store but "dies" after the
// page numbered crashAfter: it cancels the run's context and records
// nothing more (a killed process cannot mark its run failed).
type crashingStore struct {
	db.SyncStore
	crashAfter int
	pages      int
	cancel     context.CancelFunc
}

func (s *crashingStore) SavePage(ctx context.Context, run roaming.SyncRun, p roaming.SyncPage, next *string, now time.Time) (int, error) {
	n, err := s.SyncStore.SavePage(ctx, run, p, next, now)
	s.pages++
	if s.pages == s.crashAfter {
		s.cancel()
	}
	return n, err
}

func (s *crashingStore) Fail(context.Context, roaming.SyncRun, string, time.Time) error { return nil }

func TestPullSyncResumesAfterCrash(t *testing.T) {
	e := newSyncEnv(t, 5)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 40; i++ {
		e.cpo.put(location("NL", "TNM", fmt.Sprintf("L%02d", i), 2, t0.Add(time.Duration(i)*time.Second)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	crash := &crashingStore{SyncStore: db.SyncStore{Pool: e.db.Pool}, crashAfter: 3, cancel: cancel}
	_, err := e.syncer(crash).Sync(ctx, e.connID, network.ModuleLocations)
	require.Error(t, err, "the run dies in the middle")
	got, _ := e.stored()
	require.Len(t, got, 15, "three pages were committed")
	st := e.state(network.ModuleLocations)
	require.Equal(t, "running", st.Status, "a dead run still looks running")
	require.NotNil(t, st.NextUrl)
	require.Contains(t, *st.NextUrl, "offset=15")
	e.cpo.requests("locations")

	// Another process while the dead run's heartbeat is fresh: skipped.
	res, err := e.syncer(nil).Sync(context.Background(), e.connID, network.ModuleLocations)
	require.NoError(t, err)
	require.True(t, res.Skipped)
	require.Empty(t, e.cpo.requests("locations"))

	// Once the heartbeat is stale the run is resumed from its cursor.
	e.now = e.now.Add(2 * time.Minute)
	res, err = e.syncer(nil).Sync(context.Background(), e.connID, network.ModuleLocations)
	require.NoError(t, err)
	require.True(t, res.Resumed)
	require.Equal(t, network.ModeFull, res.Mode)
	reqs := e.cpo.requests("locations")
	require.Equal(t, 15, reqs[0].offset, "resumed at the persisted cursor, not at the first page")
	require.Len(t, reqs, 5)
	got, evses := e.stored()
	require.Len(t, got, 40, "no loss")
	require.Equal(t, 80, evses, "no duplicates")
	st = e.state(network.ModuleLocations)
	require.Equal(t, "idle", st.Status)
	require.Equal(t, int32(8), st.Pages, "the resumed run continues the counts of the dead one")
	require.NotNil(t, st.LastSuccessStartedAt)
}

func TestPullSyncFailureKeepsCursor(t *testing.T) {
	e := newSyncEnv(t, 4)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 10; i++ {
		e.cpo.put(location("NL", "TNM", fmt.Sprintf("L%02d", i), 1, t0.Add(time.Duration(i)*time.Second)))
	}
	failed := false
	e.cpo.fail = func(_ string, offset int, w http.ResponseWriter) bool {
		if offset == 8 && !failed {
			failed = true
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		return false
	}
	s := e.syncer(nil)
	_, err := s.Sync(context.Background(), e.connID, network.ModuleLocations)
	require.Error(t, err)
	st := e.state(network.ModuleLocations)
	require.Equal(t, "failed", st.Status)
	require.Contains(t, *st.LastError, "502")
	require.Contains(t, *st.NextUrl, "offset=8")
	e.cpo.requests("locations")
	res, err := s.Sync(context.Background(), e.connID, network.ModuleLocations)
	require.NoError(t, err)
	require.True(t, res.Resumed)
	require.Equal(t, []request{{module: "locations", offset: 8}}, e.cpo.requests("locations"))
	got, _ := e.stored()
	require.Len(t, got, 10)
	// An operator's full sync ignores the cursor and date_from.
	_, err = db.RequestSync(context.Background(), e.db.Pool, e.connID, network.ModuleLocations, true, e.now)
	require.NoError(t, err)
	res, err = s.Sync(context.Background(), e.connID, network.ModuleLocations)
	require.NoError(t, err)
	require.Equal(t, network.ModeFull, res.Mode)
	require.Empty(t, e.cpo.requests("locations")[0].dateFrom)
}

func TestPullSyncTariffsAndSweep(t *testing.T) {
	e := newSyncEnv(t, 2)
	for i := 0; i < 5; i++ {
		e.cpo.tars[fmt.Sprint(i)] = map[string]any{"country_code": "NL", "party_id": "TNM", "id": fmt.Sprintf("T%d", i), "currency": "EUR",
			"elements":     []any{map[string]any{"price_components": []any{map[string]any{"type": "ENERGY", "price": 0.25, "step_size": 1}}}},
			"last_updated": "2024-01-01T00:00:0" + fmt.Sprint(i) + "Z"}
	}
	// Both modules are due for a registered connection never synced.
	due, err := db.DueSyncs(context.Background(), e.db.Pool, e.now.Add(-time.Minute), e.now.Add(-time.Hour), e.now.Add(-time.Minute))
	require.NoError(t, err)
	require.ElementsMatch(t, []db.DueSync{{ConnectionID: e.connID, Module: network.ModuleLocations}, {ConnectionID: e.connID, Module: network.ModuleTariffs}}, due)
	res, err := e.syncer(nil).Sync(context.Background(), e.connID, network.ModuleTariffs)
	require.NoError(t, err)
	require.Equal(t, 5, res.Applied)
	require.Equal(t, 3, res.Pages)
	tr, err := db.PartnerTariffByKey(context.Background(), e.db.Pool, "NL", "TNM", "t3")
	require.NoError(t, err)
	require.Equal(t, "EUR", tr.Currency)
	// Just synced: tariffs are no longer due until the interval passes.
	due, err = db.DueSyncs(context.Background(), e.db.Pool, time.Now().Add(-time.Minute), time.Now().Add(-time.Hour), time.Now().Add(-time.Minute))
	require.NoError(t, err)
	require.Equal(t, []db.DueSync{{ConnectionID: e.connID, Module: network.ModuleLocations}}, due)
}
