package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/ocpi/module"
	"github.com/roamnode/roamnode/ocpi/ocpitest"
	"github.com/roamnode/roamnode/roaming"
	"github.com/roamnode/roamnode/worker"
)

// senderCPO is a partner CPO's Sessions and CDRs senders: each serves a
// fixed list of objects, two per page, with Link headers
// (transport_and_format → Pagination), and counts the requests per page.
type senderCPO struct {
	t       *testing.T
	srv     *httptest.Server
	token   string
	objects map[string][]json.RawMessage // module → objects
	mu      sync.Mutex
	hits    map[string]int      // "module@offset" → requests
	froms   map[string][]string // module → date_from of each first page
	// block, when set, holds the request of a page until it is closed or
	// the caller goes away; blocked receives the page's key first.
	block   map[string]chan struct{}
	blocked chan string
}

func newSenderCPO(t *testing.T) *senderCPO {
	s := &senderCPO{t: t, token: partner.NewToken(), objects: map[string][]json.RawMessage{}, hits: map[string]int{},
		froms: map[string][]string{}, block: map[string]chan struct{}{}, blocked: make(chan string, 10)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *senderCPO) serve(w http.ResponseWriter, r *http.Request) {
	module := strings.Trim(r.URL.Path, "/")
	if got, want := r.Header.Get("Authorization"), ocpi.EncodeToken(s.token, true); got != want {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	// The request a sender gets must conform to the official interface
	// (date_from is required by the Sessions sender).
	if err := ocpitest.CheckRequest(r.Method, "/ocpi/2.2.1/cpo/"+module+"?"+r.URL.RawQuery, r.Header, nil); err != nil {
		s.t.Errorf("request to the %s sender: %v", module, err)
	}
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	key := fmt.Sprintf("%s@%d", module, offset)
	s.mu.Lock()
	s.hits[key]++
	if offset == 0 {
		s.froms[module] = append(s.froms[module], r.URL.Query().Get("date_from"))
	}
	all := s.objects[module]
	block := s.block[key]
	s.mu.Unlock()
	if block != nil {
		s.blocked <- key
		select {
		case <-block:
		case <-r.Context().Done():
			return
		}
	}
	end := min(offset+2, len(all))
	page := all[offset:end]
	if end < len(all) {
		q := r.URL.Query()
		q.Set("offset", strconv.Itoa(end))
		q.Set("limit", "2")
		w.Header().Set("Link", fmt.Sprintf(`<%s%s?%s>; rel="next"`, s.srv.URL, r.URL.Path, q.Encode()))
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(len(all)))
	w.Header().Set("X-Limit", "2")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": page, "status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"})
}

func (s *senderCPO) hitsOf(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[key]
}

// connect registers a connection to the sender for CPO party cc-pid.
func (s *senderCPO) connect(cc, pid string) partner.Connection {
	s.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "sender " + pid, Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	c.Registered(partner.NewToken(), s.token, s.srv.URL+"/versions", "2.2.1", []partner.Endpoint{
		{Identifier: "sessions", Role: "SENDER", URL: s.srv.URL + "/sessions"},
		{Identifier: "cdrs", Role: "SENDER", URL: s.srv.URL + "/cdrs"}}, nil, "us", now)
	require.NoError(s.t, db.SaveConnection(ctx, testDB.Pool, c, true))
	require.NoError(s.t, db.RoamingStore{Pool: testDB.Pool}.InTx(ctx, func(tx roaming.Tx) error {
		return tx.LinkParties(ctx, c.ID, []partner.CredentialsRole{{Role: partner.RoleCPO, CountryCode: cc, PartyID: pid, Name: "CPO " + pid}})
	}))
	return c
}

// example reads an official example and applies mut.
func example(t *testing.T, name string, mut func(m map[string]any)) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(ocpitest.Dir() + "/../examples/" + name)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	mut(m)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

// randomParty is a CPO party id of the test's own (the package's tests
// share one database).
func randomParty() string { return "W" + strings.ToUpper(uuid.NewString()[:2]) }

func pullDeps(t *testing.T) (worker.Deps, *redis.Client) {
	ctx := context.Background()
	// Redis database 11 is this test's own: its queue must not meet other
	// packages' workers.
	rdb := redis.NewClient(dbtest.RedisDB(dbtest.RedisDBSessionPull))
	t.Cleanup(func() { rdb.Close() })
	require.NoError(t, rdb.FlushDB(ctx).Err())
	return worker.Deps{Pool: testDB.Pool, Redis: rdb, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, rdb
}

// runWorker runs a worker with the session pull until the test ends.
func runWorker(t *testing.T, d worker.Deps, o worker.SessionPullOptions) {
	wctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(wctx, d, worker.Options{Concurrency: 2, ShutdownTimeout: 5 * time.Second}, worker.SessionPull(o, module.CheckPulledCDR))
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// waitIdle waits until the pull of module from conn has finished a run
// that started after since, and returns its state.
func waitIdle(t *testing.T, conn uuid.UUID, module string, since time.Time) db.SyncState {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := db.Syncs(context.Background(), testDB.Pool, conn)
		require.NoError(t, err)
		for _, s := range st {
			if s.Module == module && s.Status == "idle" && s.LastSuccessStartedAt != nil && !s.LastSuccessStartedAt.Before(since) {
				return s
			}
		}
		for _, s := range st {
			if s.Module == module && s.Status == "failed" && s.LastError != nil {
				t.Logf("%s pull failed: %s", module, *s.LastError)
			}
		}
		require.True(t, time.Now().Before(deadline), "the %s pull did not complete: %+v", module, st)
		time.Sleep(50 * time.Millisecond)
	}
}

func countWhere(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, testDB.Pool.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}

// TestSessionAndCDRPullThroughWorker: the sweep enqueues the due pulls of
// a partner with Sessions and CDRs senders; the worker walks every page;
// sessions land in partner_session, valid CDRs become charge sessions
// queued for the pipeline, malformed ones or those failing the basic
// checks become invalid charge sessions (channel ocpi_pull), objects of
// other parties are ignored; the next run asks with date_from and stores
// nothing twice.
func TestSessionAndCDRPullThroughWorker(t *testing.T) {
	ctx := context.Background()
	d, rdb := pullDeps(t)
	cpo := newSenderCPO(t)
	pid := randomParty()
	var sessions, cdrs []json.RawMessage
	for i := 0; i < 5; i++ {
		sessions = append(sessions, example(t, "session_example_2_short_finished.json", func(m map[string]any) {
			m["country_code"], m["party_id"], m["id"] = "NL", pid, fmt.Sprintf("S%d", i)
		}))
	}
	sessions = append(sessions[:2], append([]json.RawMessage{
		example(t, "session_example_1_simple_start.json", func(m map[string]any) { m["party_id"] = "ZZZ" }),              // another party: ignored
		example(t, "session_example_1_simple_start.json", func(m map[string]any) { m["party_id"], m["kwh"] = pid, "x" }), // invalid: rejected
	}, sessions[2:]...)...)
	for i := 0; i < 3; i++ {
		cdrs = append(cdrs, example(t, "cdr_example.json", func(m map[string]any) {
			m["country_code"], m["party_id"], m["id"] = "NL", pid, fmt.Sprintf("C%d", i)
		}))
	}
	cdrs = append(cdrs,
		example(t, "cdr_example.json", func(m map[string]any) {
			m["country_code"], m["party_id"], m["id"] = "NL", pid, "BAD-1"
			m["total_energy"] = "lots"
		}),
		example(t, "cdr_example.json", func(m map[string]any) {
			m["country_code"], m["party_id"], m["id"] = "NL", pid, "BAD-2"
			m["cdr_token"].(map[string]any)["uid"] = ""
		}),
		example(t, "cdr_example.json", func(m map[string]any) { m["country_code"], m["party_id"], m["id"] = "NL", "ZZZ", "C9" }))
	cpo.objects["sessions"], cpo.objects["cdrs"] = sessions, cdrs
	conn := cpo.connect("NL", pid)

	o := worker.SessionPullOptions{Interval: time.Hour, Sweep: time.Second}
	client := asynq.NewClientFromRedisClient(rdb)
	n, err := worker.SweepSessionPulls(ctx, d, client, o)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 2, "sessions and cdrs of the new connection are due")
	n, err = worker.SweepSessionPulls(ctx, d, client, o)
	require.NoError(t, err)
	require.Zero(t, n, "a queued pull is not enqueued twice")

	started := time.Now().UTC().Add(-time.Second)
	runWorker(t, d, o)
	ss := waitIdle(t, conn.ID, "sessions", started)
	cs := waitIdle(t, conn.ID, "cdrs", started)
	require.Equal(t, int32(4), ss.Pages)
	require.Equal(t, int32(5), ss.Objects)
	require.Equal(t, int32(1), ss.Rejected)
	require.Equal(t, int32(1), ss.Ignored)
	require.Contains(t, *ss.LastRejection, "kwh")
	require.Equal(t, int32(3), cs.Pages)
	require.Equal(t, int32(3), cs.Objects)
	require.Equal(t, int32(2), cs.Rejected)
	require.Equal(t, int32(1), cs.Ignored)
	require.Equal(t, []string{"1", "1", "1", "1"}, []string{strconv.Itoa(cpo.hitsOf("sessions@0")), strconv.Itoa(cpo.hitsOf("sessions@2")),
		strconv.Itoa(cpo.hitsOf("sessions@6")), strconv.Itoa(cpo.hitsOf("cdrs@4"))})
	require.NotEmpty(t, cpo.froms["sessions"][0], "the Sessions sender needs date_from: a first run asks for the last window")

	require.Equal(t, 5, countWhere(t, "SELECT count(*) FROM partner_session WHERE party_id = $1 AND channel = 'ocpi_pull' AND connection_id = $2", pid, conn.ID))
	require.Equal(t, 1, countWhere(t, "SELECT count(*) FROM outbox_event WHERE kind = 'msp-charge-session-progress' AND data->>'session_id' = 'S3' AND data->>'party_id' = $1", pid))
	rows, err := testDB.Pool.Query(ctx, `SELECT s.id, s.state, o.channel FROM charge_session s JOIN charge_session_original o ON o.session_id = s.id
		WHERE s.party_id = $1 ORDER BY s.cdr_id`, pid)
	require.NoError(t, err)
	var ids []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		var state, channel string
		require.NoError(t, rows.Scan(&id, &state, &channel))
		require.Equal(t, "received", state)
		require.Equal(t, db.ChannelOCPIPull, channel)
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	require.Len(t, ids, 3)
	require.Equal(t, 3, countWhere(t, "SELECT count(*) FROM charge_session WHERE id = ANY($1) AND next_attempt_at IS NULL", ids),
		"a pulled CDR's session is handed to the pipeline: due at once, for the worker's lanes to claim")
	type invalid struct {
		cdr      string
		problems string
	}
	var invalids []invalid
	irows, err := testDB.Pool.Query(ctx, `SELECT cdr_id, problems::text FROM invalid_charge_session
		WHERE party_id = $1 AND channel = 'ocpi_pull' AND connection_id = $2 AND resolved_at IS NULL ORDER BY cdr_id`, pid, conn.ID)
	require.NoError(t, err)
	for irows.Next() {
		var v invalid
		require.NoError(t, irows.Scan(&v.cdr, &v.problems))
		invalids = append(invalids, v)
	}
	require.NoError(t, irows.Err())
	require.Len(t, invalids, 2)
	require.Equal(t, "BAD-1", invalids[0].cdr)
	require.Contains(t, invalids[0].problems, "total_energy", "a malformed CDR is kept with its technical reason")
	require.Equal(t, "BAD-2", invalids[1].cdr)
	require.Contains(t, invalids[1].problems, "cdr_token.uid")

	// On demand (the Admin API records the request; the sweep starts it):
	// an incremental run with date_from stores nothing twice.
	for _, m := range roaming.SessionModules {
		_, err := db.RequestSync(ctx, testDB.Pool, conn.ID, m, false, time.Now().UTC())
		require.NoError(t, err)
	}
	again := time.Now().UTC()
	ss = waitIdle(t, conn.ID, "sessions", again)
	cs = waitIdle(t, conn.ID, "cdrs", again)
	require.Equal(t, "incremental", *ss.Mode)
	require.Zero(t, ss.Objects, "sessions already stored are not stored again")
	require.Zero(t, cs.Objects)
	require.Zero(t, cs.Rejected, "an invalid CDR pulled again is kept once")
	require.Len(t, cpo.froms["cdrs"], 2)
	from, err := time.Parse(time.RFC3339, cpo.froms["cdrs"][1])
	require.NoError(t, err)
	require.WithinDuration(t, started.Add(-5*time.Minute), from, 10*time.Second, "date_from = start of the last successful run − margin")
	require.Equal(t, 3, countWhere(t, "SELECT count(*) FROM charge_session WHERE party_id = $1", pid))
	require.Equal(t, 2, countWhere(t, "SELECT count(*) FROM invalid_charge_session WHERE party_id = $1", pid))
	require.Equal(t, 5, countWhere(t, "SELECT count(*) FROM partner_session WHERE party_id = $1", pid))
}

// dyingStore is the store of a process that dies: its runs never record
// a failure, they stop.
type dyingStore struct{ roaming.SessionPullStore }

func (dyingStore) Fail(context.Context, roaming.SyncRun, string, time.Time) error { return nil }

// TestSessionPullResumesAfterCrash: a pull whose process dies on page 2
// (the row still says running, its heartbeat goes stale) is taken over
// by the worker and resumed from the page it was on: page 1 is fetched
// once, every CDR is stored once.
func TestSessionPullResumesAfterCrash(t *testing.T) {
	ctx := context.Background()
	d, _ := pullDeps(t)
	cpo := newSenderCPO(t)
	pid := randomParty()
	for i := 0; i < 5; i++ {
		cpo.objects["cdrs"] = append(cpo.objects["cdrs"], example(t, "cdr_example.json", func(m map[string]any) {
			m["country_code"], m["party_id"], m["id"] = "NL", pid, fmt.Sprintf("K%d", i)
		}))
	}
	conn := cpo.connect("NL", pid)
	hold := make(chan struct{})
	cpo.block["cdrs@2"] = hold

	// The dying process: its context ends while page 2 is in flight.
	o := worker.SessionPullOptions{Interval: time.Hour, Sweep: time.Second, Stale: time.Second}
	dying := worker.NewSessionPuller(d, o, module.CheckPulledCDR)
	dying.Store = dyingStore{dying.Store}
	dctx, die := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := dying.Pull(dctx, conn.ID, roaming.ModuleCDRs)
		done <- err
	}()
	select {
	case key := <-cpo.blocked:
		require.Equal(t, "cdrs@2", key)
	case err := <-done:
		t.Fatalf("the pull ended before page 2: %v", err)
	}
	die()
	require.Error(t, <-done)
	st, err := db.Syncs(ctx, testDB.Pool, conn.ID)
	require.NoError(t, err)
	require.Len(t, st, 1)
	require.Equal(t, "running", st[0].Status, "a dead process leaves its run claimed")
	require.Contains(t, *st[0].NextUrl, "offset=2", "the cursor is the page it was on")
	require.Equal(t, 2, countWhere(t, "SELECT count(*) FROM charge_session WHERE party_id = $1", pid))
	cpo.mu.Lock()
	delete(cpo.block, "cdrs@2")
	cpo.mu.Unlock()
	close(hold)

	// The worker takes the run over once its heartbeat is stale.
	runWorker(t, d, o)
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err = db.Syncs(ctx, testDB.Pool, conn.ID)
		require.NoError(t, err)
		var cdrs *db.SyncState
		for i := range st {
			if st[i].Module == "cdrs" {
				cdrs = &st[i]
			}
		}
		if cdrs != nil && cdrs.Status == "idle" && cdrs.LastSuccessStartedAt != nil {
			require.Equal(t, int32(3), cdrs.Pages, "the resumed run continues the dead run's page count")
			break
		}
		require.True(t, time.Now().Before(deadline), "the dead pull was not resumed: %+v", st)
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, 1, cpo.hitsOf("cdrs@0"), "the resumed run starts at the page it was on")
	require.Equal(t, 5, countWhere(t, "SELECT count(*) FROM charge_session WHERE party_id = $1", pid))
}
