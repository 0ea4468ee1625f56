package module_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/domain/roamingcost"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/node"
	"github.com/roamnode/roamnode/ocpi/module"
	"github.com/roamnode/roamnode/ocpi/ocpitest"
	"github.com/roamnode/roamnode/roaming"
	"github.com/roamnode/roamnode/worker"
)

// cpoNode is a node with a real worker on its own Redis database
// (dbtest.RedisDBCPOSessions): the session pipeline with the roaming-cost
// pricer, the OCPI push, and the drop-out reprocessing.
type cpoNode struct {
	*instance
	rdb *redis.Client
}

func startCPONode(t *testing.T, cc, pid string) *cpoNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	rdb := redis.NewClient(dbtest.RedisDB(dbtest.RedisDBCPOSessions))
	t.Cleanup(func() { rdb.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	xlog := db.NewExchangeLog(d.Pool, testLog(), 1000)
	app := node.App(node.Deps{Pool: d.Pool, Redis: rdb, Log: testLog(), Version: "t", PublicURL: base, Recorder: xlog,
		Client: roaming.Options{Timeout: 2 * time.Second, MaxRetries: -1}})
	go func() { _ = app.Listener(ln) }()
	wd := worker.Deps{Pool: d.Pool, Redis: rdb, Log: testLog()}
	push := worker.PushOptions{PushOptions: roaming.PushOptions{BackoffMin: 50 * time.Millisecond, BackoffMax: 300 * time.Millisecond},
		Client: roaming.Options{Timeout: 2 * time.Second, MaxRetries: -1}, SweepEvery: time.Second}
	pricers := map[session.Side][]session.Pricer{session.CPO: {roamingcost.Pricer{Loader: db.RoamingCostLoader{Pool: d.Pool}}}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = worker.Run(ctx, wd, worker.Options{Concurrency: 4, ShutdownTimeout: 2 * time.Second},
			worker.Sessions(worker.SessionOptions{Schedule: session.Schedule{50 * time.Millisecond}, Pricers: pricers}),
			worker.Push(push, func(d worker.Deps) map[string]roaming.Renderer { return module.PushRenderers(d.Pool) }),
			worker.DropoutReprocess())
	}()
	t.Cleanup(func() { cancel(); <-done; _ = app.ShutdownWithTimeout(2 * time.Second); xlog.Close() })
	in := &instance{t: t, db: d, base: base, user: "admin", secret: access.NewSecret(), log: xlog}
	require.NoError(t, db.Q(d.Pool).UpsertBootstrapAccount(ctx, gen.UpsertBootstrapAccountParams{
		ID: uuid.Must(uuid.NewV7()), PublicID: in.user, SecretHash: access.HashSecret(in.secret), CreatedAt: time.Now()}))
	in.admin(201, "POST", "/main/v1/own-party", map[string]any{"country_code": cc, "party_id": pid, "role": "CPO", "name": cc + "-" + pid + " B.V."})
	return &cpoNode{instance: in, rdb: rdb}
}

// receiver is a partner's Sessions and CDRs receiver: it records every
// request with its routing headers and answers 1000.
type receiver struct {
	srv  *httptest.Server
	down atomic.Bool // answers HTTP 503 while set
	mu   sync.Mutex
	got  []received
}

type received struct {
	Method, Path string
	To, From     string // OCPI-to and OCPI-from routing headers, "CC-PID"
	Body         map[string]any
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status_code":3000,"status_message":"down","timestamp":"2024-01-01T00:00:00Z"}`))
			return
		}
		raw, _ := io.ReadAll(q.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		r.mu.Lock()
		r.got = append(r.got, received{q.Method, q.URL.Path, q.Header.Get("OCPI-to-country-code") + "-" + q.Header.Get("OCPI-to-party-id"),
			q.Header.Get("OCPI-from-country-code") + "-" + q.Header.Get("OCPI-from-party-id"), body})
		r.mu.Unlock()
		_, _ = w.Write([]byte(`{"status_code":1000,"timestamp":"2024-01-01T00:00:00Z"}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// to returns the requests to path (method "" for any).
func (r *receiver) to(method, path string) []received {
	var out []received
	for _, g := range r.requests() {
		if g.Path == path && (method == "" || g.Method == method) {
			out = append(out, g)
		}
	}
	return out
}

// partnerConn registers a connection with the given receiver modules at
// rcv and credentials roles; its partners are linked to their parties as
// at registration. It returns the connection id.
func (n *cpoNode) partnerConn(token string, kind partner.ConnectionKind, rcv *receiver, modules []string, roles ...partner.CredentialsRole) uuid.UUID {
	n.t.Helper()
	now := time.Now().UTC()
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "partner " + token[:6], Kind: kind, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	var eps []partner.Endpoint
	for _, m := range modules {
		eps = append(eps, partner.Endpoint{Identifier: m, Role: "RECEIVER", URL: rcv.srv.URL + "/ocpi/emsp/2.2.1/" + m})
	}
	c.Registered(token, "their-"+token[:6], rcv.srv.URL+"/versions", "2.2.1", eps, roles, "partner", now)
	ctx := context.Background()
	require.NoError(n.t, db.SaveConnection(ctx, n.db.Pool, c, true))
	require.NoError(n.t, db.RoamingStore{Pool: n.db.Pool}.InTx(ctx, func(tx roaming.Tx) error { return tx.LinkParties(ctx, c.ID, roles) }))
	return c.ID
}

// agreement gives the partner with party cc-pid a roaming agreement in
// role cpo (their customers charge at our charge points) from 2020 on.
func (n *cpoNode) agreement(cc, pid string) {
	n.t.Helper()
	var partnerID uuid.UUID
	require.NoError(n.t, n.db.Pool.QueryRow(context.Background(), `SELECT partner_id FROM roaming_party_id WHERE country_code = $1 AND party_id = $2`,
		cc, pid).Scan(&partnerID))
	n.admin(201, "POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": partnerID, "role": "cpo", "valid_from": "2020-01-01T00:00:00Z"})
}

// ocpiGet calls one of our OCPI GETs as a partner (optionally naming its
// party in OCPI-from) and validates the answer against the official files.
func (n *cpoNode) ocpiGet(token, from, path string) (map[string]any, http.Header) {
	n.t.Helper()
	req, _ := http.NewRequest("GET", n.base+path, nil)
	req.Header.Set("Authorization", "Token "+token)
	if cc, pid, ok := strings.Cut(from, "-"); ok {
		req.Header.Set("OCPI-from-country-code", cc)
		req.Header.Set("OCPI-from-party-id", pid)
		req.Header.Set("OCPI-to-country-code", "BE")
		req.Header.Set("OCPI-to-party-id", "BEC")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(n.t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	ocpitest.ValidateResponse(n.t, "GET", path, res.StatusCode, res.Header, raw)
	require.Equal(n.t, 200, res.StatusCode, "%s", raw)
	var env map[string]any
	require.NoError(n.t, json.Unmarshal(raw, &env))
	require.Equal(n.t, float64(1000), env["status_code"], "%s", raw)
	return env, res.Header
}

func (n *cpoNode) ocpiPut(token, path string, body any) (int, map[string]any) {
	n.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("PUT", n.base+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Token "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(n.t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	ocpitest.ValidateResponse(n.t, "PUT", path, res.StatusCode, res.Header, raw)
	var env map[string]any
	require.NoError(n.t, json.Unmarshal(raw, &env))
	return res.StatusCode, env
}

// ourLocation loads the official location example LOC1 (BE-BEC, EVSEs 3256
// and 3257) and our tariff 11 of its EVSE 3256 connector 1: the tariff of
// the official CDR example (TIME at 2.00/h, 10 % VAT, per 5 minutes).
func (n *cpoNode) ourLocation() {
	n.t.Helper()
	ex := readCPOExample(n.t, "location_example.json")
	n.admin(201, "POST", "/main/v1/cpo-evse-location/LOC1", adminBody(ex, locationFields, "id", "evses"))
	for _, e := range ex["evses"].([]any) {
		evse := e.(map[string]any)
		eb := adminBody(evse, evseFields, "uid")
		eb["location_id"] = "LOC1"
		n.admin(201, "POST", "/main/v1/cpo-evse/"+evse["uid"].(string), eb)
	}
	cdr := readCPOExample(n.t, "cdr_example.json")
	t := cdr["tariffs"].([]any)[0].(map[string]any)
	n.admin(201, "POST", "/main/v1/cpo-tariff/11", map[string]any{"country_code": "BE", "party_id": "BEC", "currency": "EUR", "elements": t["elements"]})
}

// sessionBody turns an official Session example into a report of our
// charge management system (decimals as strings, charge_periods).
func sessionBody(ex map[string]any) map[string]any {
	dec := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	var periods []any
	for _, p := range ex["charging_periods"].([]any) {
		pm := p.(map[string]any)
		var dims []any
		for _, d := range pm["dimensions"].([]any) {
			dm := d.(map[string]any)
			dims = append(dims, map[string]any{"type": dm["type"], "volume": dec(dm["volume"])})
		}
		out := map[string]any{"start_date_time": pm["start_date_time"], "dimensions": dims}
		if tid, ok := pm["tariff_id"]; ok {
			out["tariff_id"] = tid
		}
		periods = append(periods, out)
	}
	b := map[string]any{"session_id": ex["id"], "status": ex["status"], "start_date_time": ex["start_date_time"], "kwh": dec(ex["kwh"]),
		"token": ex["cdr_token"], "auth_method": ex["auth_method"], "location_id": ex["location_id"], "evse_uid": ex["evse_uid"],
		"connector_id": ex["connector_id"], "currency": ex["currency"], "charge_periods": periods}
	if e, ok := ex["end_date_time"]; ok {
		b["end_date_time"] = e
	}
	if tc, ok := ex["total_cost"].(map[string]any); ok {
		b["total_cost"] = map[string]any{"excl_vat": dec(tc["excl_vat"]), "incl_vat": dec(tc["incl_vat"])}
	}
	return b
}

// recentCDRSession is the official CDR example as a session of token
// cc-pid that ended an hour ago (the CDR example's dates are too old for
// the validity checks): 1.973 hours of charging, 15.342 kWh.
func recentCDRSession(t *testing.T, id, cc, pid string) map[string]any {
	ex := readCPOExample(t, "cdr_example.json")
	start := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	end := start.Add(time.Hour + 58*time.Minute + 23*time.Second)
	tok := ex["cdr_token"].(map[string]any)
	tok["country_code"], tok["party_id"] = cc, pid
	return map[string]any{"session_id": id, "status": "COMPLETED", "start_date_time": start.Format(time.RFC3339),
		"end_date_time": end.Format(time.RFC3339), "kwh": "15.342", "token": tok, "auth_method": ex["auth_method"], "location_id": "LOC1",
		"evse_uid": "3256", "connector_id": "1", "currency": "EUR", "total_time": "1.973",
		"charge_periods": []any{map[string]any{"start_date_time": start.Format(time.RFC3339), "tariff_id": "12",
			"dimensions": []any{map[string]any{"type": "TIME", "volume": "1.973"}}}}}
}

// A session is pushed only to the eMSP that owns its token (directly, or
// through a hub with routing headers naming it), as a PUT when it starts
// or gains charge periods and a PATCH otherwise; once it ends and is
// priced with the roaming cost, its CDR (total_cost = roaming cost, to the
// cent) is POSTed to that eMSP only, or waits in the CDRs sender when the
// eMSP has no CDRs receiver. The senders show each partner its own
// sessions and CDRs only, paginated, in the official shape.
func TestCPOSessionsAndCDRsToTheTokenOwner(t *testing.T) {
	n := startCPONode(t, "BE", "BEC")
	n.ourLocation()
	ra, rb, rh := newReceiver(t), newReceiver(t), newReceiver(t)
	ta, tb, th := partner.NewToken(), partner.NewToken(), partner.NewToken()
	n.partnerConn(ta, partner.PeerToPeer, ra, []string{"sessions", "cdrs"}, partner.CredentialsRole{Role: partner.RoleEMSP, CountryCode: "DE", PartyID: "TNM", Name: "A"})
	n.partnerConn(tb, partner.PeerToPeer, rb, []string{"sessions"}, partner.CredentialsRole{Role: partner.RoleEMSP, CountryCode: "NL", PartyID: "TST", Name: "B"})
	hub := n.partnerConn(th, partner.Hub, rh, []string{"sessions", "cdrs"}, partner.CredentialsRole{Role: partner.RoleHub, CountryCode: "NL", PartyID: "HUB", Name: "Hub"})
	require.NoError(t, db.UpsertHubClient(context.Background(), n.db.Pool, hub, db.HubClient{Ref: partner.PartyRef{CountryCode: "FR", PartyID: "HBC"},
		Role: partner.RoleEMSP, Status: "CONNECTED", LastUpdated: time.Now().UTC()}))
	n.agreement("DE", "TNM")
	n.agreement("NL", "TST")

	// A's running session: a PUT to A only, addressed to DE-TNM, retried
	// while A is down (every attempt in the exchange log) until accepted.
	ra.down.Store(true)
	sa := recentCDRSession(t, "SA-1", "DE", "TNM")
	run := map[string]any{}
	for k, v := range sa {
		run[k] = v
	}
	run["status"], run["kwh"] = "ACTIVE", "3"
	delete(run, "end_date_time")
	delete(run, "total_time")
	n.admin(201, "POST", "/main/v1/cpo-charge-session", run)
	eventually(t, "failed attempts logged", func() bool {
		var failed int
		require.NoError(t, n.db.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM roaming_exchange WHERE direction = 'outbound' AND http_status = 503 AND url LIKE '%/sessions/BE/BEC/SA-1'`).Scan(&failed))
		return failed >= 2
	})
	require.Empty(t, ra.requests())
	ra.down.Store(false)
	eventually(t, "the session PUT at A", func() bool { return len(ra.to("PUT", "/ocpi/emsp/2.2.1/sessions/BE/BEC/SA-1")) == 1 })
	put := ra.to("PUT", "/ocpi/emsp/2.2.1/sessions/BE/BEC/SA-1")[0]
	require.Equal(t, "DE-TNM", put.To)
	require.Equal(t, "BE-BEC", put.From)
	require.Equal(t, "ACTIVE", put.Body["status"])
	require.Equal(t, float64(3), put.Body["kwh"])

	// More energy, same periods: a PATCH of kwh and last_updated.
	run["kwh"] = "7.5"
	n.admin(200, "POST", "/main/v1/cpo-charge-session", run)
	eventually(t, "the PATCH at A", func() bool { return len(ra.to("PATCH", "/ocpi/emsp/2.2.1/sessions/BE/BEC/SA-1")) == 1 })
	patch := ra.to("PATCH", "/ocpi/emsp/2.2.1/sessions/BE/BEC/SA-1")[0]
	require.Equal(t, float64(7.5), patch.Body["kwh"])
	require.Contains(t, patch.Body, "last_updated")
	require.Len(t, patch.Body, 2)

	// It ends: the session's end is pushed, the charge session is priced
	// with the roaming cost and its CDR POSTed to A.
	n.admin(200, "POST", "/main/v1/cpo-charge-session", sa)
	eventually(t, "the CDR POST at A", func() bool { return len(ra.to("POST", "/ocpi/emsp/2.2.1/cdrs")) == 1 })
	cdr := ra.to("POST", "/ocpi/emsp/2.2.1/cdrs")[0]
	require.Equal(t, "DE-TNM", cdr.To)
	ex := readCPOExample(t, "cdr_example.json")
	for _, k := range []string{"total_cost", "total_time_cost", "total_energy", "total_time", "auth_method", "currency", "country_code", "party_id"} {
		sameMeaning(t, ex[k], cdr.Body[k], k)
	}
	require.Equal(t, map[string]any{"excl_vat": float64(4), "incl_vat": 4.4}, cdr.Body["total_cost"], "the roaming cost, to the cent")
	require.Equal(t, "DE", cdr.Body["cdr_token"].(map[string]any)["country_code"])
	loc := cdr.Body["cdr_location"].(map[string]any)
	require.Equal(t, "LOC1", loc["id"])
	require.Equal(t, "3256", loc["evse_uid"])
	require.Equal(t, "BE*BEC*E041503001", loc["evse_id"])
	require.Equal(t, "11", cdr.Body["tariffs"].([]any)[0].(map[string]any)["id"])
	require.Equal(t, "SA-1", cdr.Body["session_id"])
	// The end of the session went to A before or after, as a PATCH (the
	// periods did not change).
	eventually(t, "the session's end at A", func() bool {
		for _, p := range ra.to("PATCH", "/ocpi/emsp/2.2.1/sessions/BE/BEC/SA-1") {
			if p.Body["status"] == "COMPLETED" {
				return true
			}
		}
		return false
	})
	var roaming map[string]any
	for _, p := range n.admin(200, "GET", "/main/v1/cpo-charge-session?state=priced", nil)["items"].([]any) {
		roaming = p.(map[string]any)
	}
	require.NotNil(t, roaming, "the charge session is priced")

	// The official Session example (token NL-TST) goes to B only; its
	// CDR-to-be and a recent one of B are priced, B has no CDRs receiver:
	// B pulls its CDR from the sender.
	s101 := readCPOExample(t, "session_example_2_short_finished.json")
	n.admin(201, "POST", "/main/v1/cpo-charge-session", sessionBody(s101))
	n.admin(201, "POST", "/main/v1/cpo-charge-session", recentCDRSession(t, "SB-1", "NL", "TST"))
	eventually(t, "the sessions at B", func() bool {
		return len(rb.to("PUT", "/ocpi/emsp/2.2.1/sessions/BE/BEC/101")) == 1 && len(rb.to("PUT", "/ocpi/emsp/2.2.1/sessions/BE/BEC/SB-1")) == 1
	})
	require.Equal(t, "NL-TST", rb.to("PUT", "/ocpi/emsp/2.2.1/sessions/BE/BEC/101")[0].To)
	env, _ := n.ocpiGet(tb, "", "/ocpi/2.2.1/cpo/sessions?date_from=2015-01-01T00:00:00Z")
	var got101 any
	for _, s := range env["data"].([]any) {
		if s.(map[string]any)["id"] == "101" {
			got101 = s
		}
	}
	sameMeaning(t, withoutLastUpdated(s101), withoutLastUpdated(got101), "the official Session example, read back")
	eventually(t, "B's CDR in the sender", func() bool {
		env, _ := n.ocpiGet(tb, "", "/ocpi/2.2.1/cpo/cdrs")
		return len(env["data"].([]any)) == 1
	})
	env, h := n.ocpiGet(tb, "", "/ocpi/2.2.1/cpo/cdrs")
	bcdr := env["data"].([]any)[0].(map[string]any)
	require.Equal(t, "SB-1", bcdr["session_id"])
	require.Equal(t, map[string]any{"excl_vat": float64(4), "incl_vat": 4.4}, bcdr["total_cost"])
	require.Equal(t, "1", h.Get("X-Total-Count"))
	require.Empty(t, rb.to("POST", "/ocpi/emsp/2.2.1/cdrs"), "B has no CDRs receiver")

	// The hub's client FR-HBC: pushed through the hub, addressed to it; no
	// agreement, so its charge session drops out and no CDR is sent.
	sh := recentCDRSession(t, "SH-1", "FR", "HBC")
	n.admin(201, "POST", "/main/v1/cpo-charge-session", sh)
	eventually(t, "the session at the hub", func() bool { return len(rh.to("PUT", "/ocpi/emsp/2.2.1/sessions/BE/BEC/SH-1")) == 1 })
	require.Equal(t, "FR-HBC", rh.to("PUT", "/ocpi/emsp/2.2.1/sessions/BE/BEC/SH-1")[0].To, "routing headers through the hub")
	eventually(t, "the hub client's session drops out", func() bool {
		items := n.admin(200, "GET", "/main/v1/cpo-charge-session?state=dropped_out", nil)["items"].([]any)
		for _, it := range items {
			m := it.(map[string]any)
			if m["session_id"] == "SH-1" && m["dropout"].(map[string]any)["reason"] == roamingcost.ReasonNoAgreement {
				return true
			}
		}
		return false
	})

	// Nobody got another partner's session or CDR.
	for _, g := range ra.requests() {
		if g.Method == "POST" { // CDRs are posted to the endpoint itself
			require.Equal(t, "SA-1", g.Body["session_id"])
			continue
		}
		require.Contains(t, g.Path, "SA-1", "A only gets its own session")
	}
	for _, g := range rb.requests() {
		require.True(t, strings.HasSuffix(g.Path, "/101") || strings.HasSuffix(g.Path, "/SB-1"), g.Path)
	}
	for _, g := range rh.requests() {
		require.True(t, strings.HasSuffix(g.Path, "/SH-1"), g.Path)
	}

	// The senders: each partner its own, paginated.
	n.admin(201, "POST", "/main/v1/cpo-charge-session", map[string]any{"session_id": "SA-2", "status": "ACTIVE",
		"start_date_time": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339), "kwh": "0", "token": sa["token"], "auth_method": "WHITELIST",
		"location_id": "LOC1", "evse_uid": "3256", "connector_id": "1", "currency": "EUR"})
	env, h = n.ocpiGet(ta, "", "/ocpi/2.2.1/cpo/sessions?limit=1")
	require.Equal(t, "2", h.Get("X-Total-Count"))
	require.Equal(t, "1", h.Get("X-Limit"))
	require.Len(t, env["data"], 1)
	require.Equal(t, "SA-1", env["data"].([]any)[0].(map[string]any)["id"], "oldest last_updated first")
	next, ok := ocpiNext(h.Get("Link"))
	require.True(t, ok, h.Get("Link"))
	env, h = n.ocpiGet(ta, "", next)
	require.Equal(t, "SA-2", env["data"].([]any)[0].(map[string]any)["id"])
	require.Empty(t, h.Get("Link"))
	env, _ = n.ocpiGet(ta, "", "/ocpi/2.2.1/cpo/sessions?date_from=2999-01-01T00:00:00Z")
	require.Empty(t, env["data"])
	env, _ = n.ocpiGet(ta, "", "/ocpi/2.2.1/cpo/cdrs")
	require.Len(t, env["data"], 1)
	require.Equal(t, "SA-1", env["data"].([]any)[0].(map[string]any)["session_id"])
	env, _ = n.ocpiGet(th, "FR-HBC", "/ocpi/2.2.1/cpo/sessions")
	require.Len(t, env["data"], 1, "the hub sees its client's session")
	env, _ = n.ocpiGet(th, "FR-HBC", "/ocpi/2.2.1/cpo/cdrs")
	require.Empty(t, env["data"], "a dropped-out session has no CDR")

	// Charging preferences are never accepted: an unknown (or another
	// eMSP's) session and an EVSE that is not capable are 404/2001; a
	// capable EVSE answers NOT_POSSIBLE.
	prefs := map[string]any{"profile_type": "FAST", "energy_need": 20}
	st, e := n.ocpiPut(ta, "/ocpi/2.2.1/cpo/sessions/NOPE/charging_preferences", prefs)
	require.Equal(t, 404, st)
	require.Equal(t, float64(2001), e["status_code"])
	st, _ = n.ocpiPut(tb, "/ocpi/2.2.1/cpo/sessions/SA-2/charging_preferences", prefs)
	require.Equal(t, 404, st, "another eMSP's session is unknown to B")
	st, _ = n.ocpiPut(ta, "/ocpi/2.2.1/cpo/sessions/SA-2/charging_preferences", prefs)
	require.Equal(t, 404, st, "EVSE 3256 is not CHARGING_PREFERENCES_CAPABLE")
	n.admin(200, "POST", "/main/v1/cpo-evse/3256", map[string]any{"capabilities": []string{"RESERVABLE", "CHARGING_PREFERENCES_CAPABLE"}})
	st, e = n.ocpiPut(ta, "/ocpi/2.2.1/cpo/sessions/sa-2/charging_preferences", prefs)
	require.Equal(t, 200, st)
	require.Equal(t, "NOT_POSSIBLE", e["data"])
	st, e = n.ocpiPut(ta, "/ocpi/2.2.1/cpo/sessions/SA-2/charging_preferences", map[string]any{"profile_type": "TURBO"})
	require.Equal(t, float64(2001), e["status_code"], "%v", st)

	// The version details list both senders.
	_, vd := n.ocpi(ta, true, "GET", "/ocpi/2.2.1", nil)
	var senders []string
	for _, ep := range vd["data"].(map[string]any)["endpoints"].([]any) {
		m := ep.(map[string]any)
		if m["role"] == "SENDER" && strings.Contains(m["url"].(string), "/cpo/") {
			senders = append(senders, m["identifier"].(string))
		}
	}
	require.Subset(t, senders, []string{"sessions", "cdrs"})

	// Every push is in the exchange log (the worker's log flushes within a
	// second).
	eventually(t, "the CDR push in the exchange log", func() bool {
		var logged int
		require.NoError(t, n.db.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM roaming_exchange WHERE direction = 'outbound' AND method = 'POST' AND url LIKE '%/cdrs'`).Scan(&logged))
		return logged >= 1
	})
}

func ocpiNext(link string) (string, bool) {
	u, ok := strings.CutPrefix(link, "<")
	if !ok {
		return "", false
	}
	u, _, _ = strings.Cut(u, ">")
	p, err := url.Parse(u)
	if err != nil {
		return "", false
	}
	return p.RequestURI(), true
}

// Turning an EVSE's dropout_all_chargesessions off with reprocess_dropouts
// retries the sessions it dropped: they go back to the pipeline once (a
// second run changes nothing), are priced, and their CDRs published.
func TestCPODropoutAllReprocessed(t *testing.T) {
	n := startCPONode(t, "BE", "BEC")
	n.ourLocation()
	ra := newReceiver(t)
	ta := partner.NewToken()
	n.partnerConn(ta, partner.PeerToPeer, ra, []string{"cdrs"}, partner.CredentialsRole{Role: partner.RoleEMSP, CountryCode: "DE", PartyID: "TNM", Name: "A"})
	n.agreement("DE", "TNM")
	n.admin(200, "PUT", "/main/v1/cpo-evse/3256/dropout-all-chargesessions", map[string]any{"dropout_all_chargesessions": true})

	for _, id := range []string{"D-1", "D-2"} {
		n.admin(201, "POST", "/main/v1/cpo-charge-session", recentCDRSession(t, id, "DE", "TNM"))
	}
	dropped := func() int {
		var c int
		require.NoError(t, n.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM charge_session WHERE side = 'cpo' AND state = 'dropped_out'
			AND dropout_reason = $1`, session.ReasonDropoutAll).Scan(&c))
		return c
	}
	eventually(t, "both sessions dropped by the flag", func() bool { return dropped() == 2 })

	// Off without reprocess_dropouts: nothing is retried.
	n.admin(200, "PUT", "/main/v1/cpo-evse/3256/dropout-all-chargesessions", map[string]any{"dropout_all_chargesessions": false})
	r := worker.NewDropoutReprocessor(worker.Deps{Pool: n.db.Pool, Redis: n.rdb, Log: testLog()})
	k, err := r.Run(context.Background(), time.Now())
	require.NoError(t, err)
	require.Zero(t, k)
	require.Equal(t, 2, dropped())

	// On and off again with reprocess_dropouts: both are retried, once.
	n.admin(200, "PUT", "/main/v1/cpo-evse/3256/dropout-all-chargesessions", map[string]any{"dropout_all_chargesessions": true})
	n.admin(200, "PUT", "/main/v1/cpo-evse/3256/dropout-all-chargesessions", map[string]any{"dropout_all_chargesessions": false, "reprocess_dropouts": true})
	k, err = r.Run(context.Background(), time.Now())
	require.NoError(t, err)
	require.Equal(t, 2, k)
	k, err = r.Run(context.Background(), time.Now())
	require.NoError(t, err)
	require.Zero(t, k, "a consumed request is not consumed again")
	var open int
	require.NoError(t, n.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM cpo_dropout_reprocess_request WHERE consumed_at IS NULL`).Scan(&open))
	require.Zero(t, open)
	eventually(t, "both priced and their CDRs sent", func() bool { return len(ra.to("POST", "/ocpi/emsp/2.2.1/cdrs")) == 2 })
	require.Zero(t, dropped())
}
