package module_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/node"
	"github.com/roamnode/roamnode/ocpi/ocpitest"
	"github.com/roamnode/roamnode/roaming"
	"github.com/roamnode/roamnode/worker"
)

// cdrBench is a node with a registered CPO partner (BE-BEC) that posts CDRs
// to our CDRs receiver, and a session processor on the same database.
type cdrBench struct {
	t     *testing.T
	db    *dbtest.Database
	base  string
	token string
	conn  uuid.UUID
	proc  *worker.SessionProcessor
}

// startCDRs runs a node whose Redis is redisURL (an unreachable one tests
// intake without Redis) and a processor with schedule.
func startCDRs(t *testing.T, redisURL string, schedule session.Schedule) *cdrBench {
	t.Helper()
	ctx := context.Background()
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	opt, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	opt.DialTimeout, opt.MaxRetries = 100*time.Millisecond, -1
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	app := node.App(node.Deps{Pool: d.Pool, Redis: rdb, Log: testLog(), Version: "t", PublicURL: base,
		Client: roaming.Options{Timeout: 5 * time.Second, MaxRetries: 1}})
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })

	b := &cdrBench{t: t, db: d, base: base, token: partner.NewToken()}
	now := time.Now().UTC()
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "cpo", Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	c.Registered(b.token, "their-token", "http://127.0.0.1:1/versions", "2.2.1", nil, nil, "partner", now)
	require.NoError(t, db.SaveConnection(ctx, d.Pool, c, true))
	b.conn = c.ID
	q := db.Q(d.Pool)
	pid := uuid.Must(uuid.NewV7())
	require.NoError(t, q.InsertPartner(ctx, gen.InsertPartnerParams{ID: pid, Name: "BEC", Country: "BE", CreatedAt: now, UpdatedAt: now}))
	require.NoError(t, q.InsertPartyID(ctx, gen.InsertPartyIDParams{ID: uuid.Must(uuid.NewV7()), PartnerID: pid, ConnectionID: &c.ID,
		CountryCode: "BE", PartyID: "BEC", Role: "CPO", CreatedAt: now}))
	b.proc = worker.NewSessionProcessor(worker.Deps{Pool: d.Pool, Redis: rdb, Log: testLog()}, worker.SessionOptions{Schedule: schedule})
	return b
}

// post sends a raw CDR body; it returns the HTTP status, the Location and
// the envelope, validated against the official receiver interface.
func (b *cdrBench) post(body []byte) (int, string, map[string]any) {
	b.t.Helper()
	res, raw := b.do("POST", "/ocpi/2.2.1/emsp/cdrs", body)
	var env map[string]any
	require.NoError(b.t, json.Unmarshal(raw, &env))
	return res.StatusCode, res.Header.Get("Location"), env
}

func (b *cdrBench) do(method, path string, body []byte) (*http.Response, []byte) {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, b.base+path, rd)
	req.Header.Set("Authorization", "Token "+base64.StdEncoding.EncodeToString([]byte(b.token)))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	ocpitest.ValidateResponse(b.t, method, path, res.StatusCode, res.Header, raw)
	return res, raw
}

// addEVSE stores a partner location LOC1 of BE-BEC with EVSE uid 3256 (EVSE
// id BE*BEC*E041503003) and connector 1, as the locations receiver would.
func (b *cdrBench) addEVSE() {
	b.t.Helper()
	ctx := context.Background()
	id := uuid.Must(uuid.NewV7())
	_, err := b.db.Pool.Exec(ctx, `INSERT INTO partner_location (id, connection_id, country_code, party_id, location_id, location_key,
		latitude, longitude, time_zone, publish, last_updated, data, created_at, updated_at)
		VALUES ($1, $2, 'BE', 'BEC', 'LOC1', 'LOC1', 51.04, 3.72, 'Europe/Brussels', true, now(), '{}', now(), now())`, id, b.conn)
	require.NoError(b.t, err)
	_, err = b.db.Pool.Exec(ctx, `INSERT INTO partner_evse (location_ref, position, uid, uid_key, evse_id, evse_id_key, status, last_updated, data)
		VALUES ($1, 0, '3256', '3256', 'BE*BEC*E041503003', 'BEBECE041503003', 'AVAILABLE', now(),
		'{"uid":"3256","connectors":[{"id":"1","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":32,"max_electric_power":22000}]}')`, id)
	require.NoError(b.t, err)
}

// cdr returns a CDR for BE-BEC at LOC1/3256/1 that ended an hour ago.
func cdr(id string, mut func(m map[string]any)) []byte {
	raw, err := os.ReadFile(ocpitest.Dir() + "/../examples/cdr_example.json")
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	end := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	m["id"] = id
	m["start_date_time"] = end.Add(-2 * time.Hour).Format(time.RFC3339)
	m["end_date_time"] = end.Format(time.RFC3339)
	if mut != nil {
		mut(m)
	}
	out, _ := json.Marshal(m)
	return out
}

func (b *cdrBench) count(table string) int {
	b.t.Helper()
	var n int
	require.NoError(b.t, b.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

func sessionIDOf(t *testing.T, location string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(location[strings.LastIndex(location, "/")+1:])
	require.NoError(t, err)
	return id
}

func (b *cdrBench) state(id uuid.UUID) db.ChargeSessionRecord {
	b.t.Helper()
	r, err := db.ChargeSession(context.Background(), b.db.Pool, id)
	require.NoError(b.t, err)
	return r
}

func TestCDRKnownEVSEReachesReadyForPricing(t *testing.T) {
	b := startCDRs(t, dbtest.RedisURL(), session.Schedule{time.Millisecond})
	b.addEVSE()
	// The EVSE id arrives with other separators and casing.
	st, loc, env := b.post(cdr("C-1", func(m map[string]any) {
		m["cdr_location"].(map[string]any)["evse_id"] = "be-bec-e041503003"
	}))
	require.Equal(t, 201, st, "%v", env)
	require.Equal(t, float64(1000), env["status_code"])
	require.Contains(t, loc, b.base+"/ocpi/2.2.1/emsp/cdrs/")
	id := sessionIDOf(t, loc)
	require.Equal(t, session.Received, b.state(id).State)

	require.NoError(t, b.proc.Process(context.Background(), id))
	r := b.state(id)
	// The example's token is not one of ours: the session matched, then
	// dropped out on the token check.
	require.Equal(t, session.DroppedOut, r.State)
	require.NotNil(t, r.Match)
	require.Equal(t, "22", r.Match.MaxPowerKW.String())
	require.Equal(t, string(session.CheckTokenKnown), *r.DropoutCheck)

	// Reprocessing the case with "bypass token_known" completes it.
	res, raw := b.do("GET", strings.TrimPrefix(loc, b.base), nil)
	require.Equal(t, 200, res.StatusCode, "%s", raw)
	recs, err := db.ReprocessCase(context.Background(), b.db.Pool, *r.DropoutCaseID, session.Bypass, session.CheckTokenKnown)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.NoError(t, b.proc.Process(context.Background(), id))
	require.Equal(t, session.ReadyForPricing, b.state(id).State)
	c, err := db.Q(b.db.Pool).GetDropoutCase(context.Background(), *r.DropoutCaseID)
	require.NoError(t, err)
	require.Equal(t, "resolved", c.State)
	// Every state change left an event.
	var events int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox_event WHERE kind = 'msp-charge-session'").Scan(&events))
	require.GreaterOrEqual(t, events, 5) // create, validating, dropped_out, received (reprocess), validating, ready
}

func TestCDRUnknownEVSERetriedDroppedThenReprocessed(t *testing.T) {
	b := startCDRs(t, dbtest.RedisURL(), session.Schedule{time.Millisecond, time.Millisecond})
	st, loc, _ := b.post(cdr("C-2", nil))
	require.Equal(t, 201, st)
	id := sessionIDOf(t, loc)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		require.NoError(t, b.proc.Process(ctx, id))
		time.Sleep(2 * time.Millisecond) // let the (1 ms) retry delay pass
	}
	r := b.state(id)
	require.Equal(t, session.DroppedOut, r.State)
	require.Equal(t, 3, r.Attempts)
	require.Equal(t, string(session.LocationNotFound), *r.DropoutReason)
	// A second unknown-EVSE CDR at the same EVSE joins the same open case.
	_, loc2, _ := b.post(cdr("C-3", nil))
	id2 := sessionIDOf(t, loc2)
	for i := 0; i < 3; i++ {
		require.NoError(t, b.proc.Process(ctx, id2))
		time.Sleep(2 * time.Millisecond)
	}
	require.Equal(t, r.DropoutCaseID, b.state(id2).DropoutCaseID)
	require.Equal(t, 1, b.count("dropout_case"))

	// The EVSE arrives; the case is reprocessed; with our token the
	// sessions complete.
	b.addEVSE()
	addToken(t, b.db, "012345678")
	_, err := db.ReprocessCase(ctx, b.db.Pool, *r.DropoutCaseID, session.Retry, "")
	require.NoError(t, err)
	require.Equal(t, 2, b.countWhere("state = 'received' AND next_attempt_at IS NULL"), "reprocessed sessions are due for the worker's lanes")
	require.NoError(t, b.proc.Process(ctx, id))
	require.NoError(t, b.proc.Process(ctx, id2))
	require.Equal(t, session.ReadyForPricing, b.state(id).State)
	require.Equal(t, session.ReadyForPricing, b.state(id2).State)
	require.NotNil(t, b.state(id).AdministrationID, "the token's administration")
	// Running a step again is harmless.
	require.NoError(t, b.proc.Process(ctx, id))
	require.Equal(t, session.ReadyForPricing, b.state(id).State)
}

// addToken stores an MSP token with uid (of a fresh seller/administration).
func addToken(t *testing.T, d *dbtest.Database, uid string) {
	t.Helper()
	ctx := context.Background()
	seller, admin := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	_, err := d.Pool.Exec(ctx, `INSERT INTO seller (id, name, country, created_at, updated_at) VALUES ($1, 'S', 'NL', now(), now())`, seller)
	require.NoError(t, err)
	_, err = d.Pool.Exec(ctx, `INSERT INTO administration (id, seller_id, name, currency, created_at, updated_at) VALUES ($1, $2, 'A', 'EUR', now(), now())`, admin, seller)
	require.NoError(t, err)
	_, err = d.Pool.Exec(ctx, `INSERT INTO msp_token (id, administration_id, evco_id, country_code, party_id, uid, uid_key, type, issuer, created_at, updated_at)
		VALUES ($1, $2, 'NLRNEC123456780', 'NL', 'RNE', $3, upper($3), 'RFID', 'RoamNode', now(), now())`, uuid.Must(uuid.NewV7()), admin, uid)
	require.NoError(t, err)
}

func TestCDRIntakeRules(t *testing.T) {
	b := startCDRs(t, dbtest.RedisURL(), nil)
	// The official example passes through the receiver unchanged.
	example, err := os.ReadFile(ocpitest.Dir() + "/../examples/cdr_example.json")
	require.NoError(t, err)
	st, loc, env := b.post(example)
	require.Equal(t, 201, st, "%v", env)
	res, raw := b.do("GET", strings.TrimPrefix(loc, b.base), nil)
	require.Equal(t, 200, res.StatusCode)
	var got struct {
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(raw, &got))
	require.JSONEq(t, string(example), string(got.Data))
	orig, err := db.ChargeSessionOriginal(context.Background(), b.db.Pool, sessionIDOf(t, loc))
	require.NoError(t, err)
	require.Equal(t, string(example), orig.Payload, "the payload is kept exactly as received")

	// A duplicate creates nothing new and gets the same Location; the same
	// id with other content is a conflict.
	st, loc2, _ := b.post(example)
	require.Equal(t, 201, st)
	require.Equal(t, loc, loc2)
	changed := bytes.Replace(example, []byte(`"total_energy": 15.342`), []byte(`"total_energy": 16`), 1)
	st, _, env = b.post(changed)
	require.Equal(t, 409, st, "%v", env)
	require.Equal(t, 1, b.count("charge_session"))
	require.Equal(t, 1, b.count("charge_session_original"))

	// Malformed: 2001 naming the fields, nothing stored.
	st, _, env = b.post(cdr("BAD", func(m map[string]any) {
		delete(m, "cdr_token")
		m["cdr_location"].(map[string]any)["evse_uid"] = ""
	}))
	require.Equal(t, 400, st)
	require.Equal(t, float64(2001), env["status_code"])
	require.Contains(t, env["status_message"], "cdr_token.uid")
	require.Contains(t, env["status_message"], "cdr_location.evse_uid")
	st, _, env = b.post([]byte(`{"id": 12}`))
	require.Equal(t, 400, st)
	require.Equal(t, float64(2001), env["status_code"])
	st, _, _ = b.post([]byte(`not json`))
	require.Equal(t, 400, st)
	// Another party's CDR.
	st, _, env = b.post(cdr("X-1", func(m map[string]any) { m["party_id"] = "XXX" }))
	require.Equal(t, 400, st)
	require.Contains(t, env["status_message"], "not a CPO party of this connection")
	require.Equal(t, 1, b.count("charge_session"))

	// Credit CDRs must reference a received CDR and are stored linked.
	st, _, env = b.post(cdr("12345-C", func(m map[string]any) { m["credit"] = true; m["credit_reference_id"] = "NOPE" }))
	require.Equal(t, 400, st)
	require.Contains(t, env["status_message"], "credit_reference_id")
	st, cloc, _ := b.post(cdr("12345-C", func(m map[string]any) { m["credit"] = true; m["credit_reference_id"] = "12345" }))
	require.Equal(t, 201, st)
	credit := b.state(sessionIDOf(t, cloc))
	require.Equal(t, sessionIDOf(t, loc), *credit.CreditedSessionID)
	// A CDR is credited once: the same credit CDR again is a duplicate, a
	// second credit CDR of it is refused with 2001.
	st, again, _ := b.post(cdr("12345-C", func(m map[string]any) { m["credit"] = true; m["credit_reference_id"] = "12345" }))
	require.Equal(t, 201, st)
	require.Equal(t, cloc, again)
	st, _, env = b.post(cdr("12345-C2", func(m map[string]any) { m["credit"] = true; m["credit_reference_id"] = "12345" }))
	require.Equal(t, 400, st)
	require.Equal(t, float64(2001), env["status_code"])
	require.Contains(t, env["status_message"], "credited already")

	// Another partner cannot GET our partner's CDR; an unknown id is 404.
	res, _ = b.do("GET", "/ocpi/2.2.1/emsp/cdrs/"+uuid.NewString(), nil)
	require.Equal(t, 404, res.StatusCode)
}

// With Redis gone, intake stores CDRs and the worker still processes
// them: they are due in Postgres, where its lanes claim them on their idle
// poll (worker/session_drain.go); nothing waits for Redis.
func TestCDRIntakeAndProcessingWithRedisDown(t *testing.T) {
	// Nothing listens on port 1: every Redis call fails fast.
	b := startCDRs(t, "redis://127.0.0.1:1/1", nil)
	ids := map[uuid.UUID]bool{}
	for _, id := range []string{"R-1", "R-2", "R-3"} {
		st, loc, env := b.post(cdr(id, nil))
		require.Equal(t, 201, st, "%v", env)
		ids[sessionIDOf(t, loc)] = true
	}
	require.Equal(t, 3, b.count("charge_session"))
	require.Equal(t, 3, b.countWhere("state = 'received' AND next_attempt_at IS NULL"), "due in Postgres")
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	defer dead.Close()
	p := worker.NewSessionProcessor(worker.Deps{Pool: b.db.Pool, Redis: dead, Log: testLog()}, worker.SessionOptions{IdlePoll: 50 * time.Millisecond})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Drain(ctx) }()
	defer func() { stop(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for id := range ids {
		for b.state(id).State != session.Matching { // no EVSE yet: retried on the default schedule
			require.True(t, time.Now().Before(deadline), "session %s not processed without Redis", id)
			time.Sleep(20 * time.Millisecond)
		}
	}
}
