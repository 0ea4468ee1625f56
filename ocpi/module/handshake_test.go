package module_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/node"
	"github.com/roamnode/roamnode/ocpi/ocpitest"
	"github.com/roamnode/roamnode/roaming"
)

// instance is one running roamnode: its own database, a real listener.
type instance struct {
	t      *testing.T
	db     *dbtest.Database
	base   string
	user   string
	secret string
	log    *db.ExchangeLog
}

func testLog() *slog.Logger {
	if os.Getenv("ROAMNODE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// start runs a node with own party cc-pid in the given role.
func start(t *testing.T, cc, pid, role string) *instance {
	t.Helper()
	ctx := context.Background()
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	opt, err := redis.ParseURL(dbtest.RedisURL())
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	xlog := db.NewExchangeLog(d.Pool, testLog(), 1000)
	app := node.App(node.Deps{Pool: d.Pool, Redis: rdb, Log: testLog(), Version: "t", PublicURL: base, Recorder: xlog,
		Client: roaming.Options{Timeout: 5 * time.Second, MaxRetries: 1}})
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second); xlog.Close() })
	in := &instance{t: t, db: d, base: base, user: "admin", secret: access.NewSecret(), log: xlog}
	require.NoError(t, db.Q(d.Pool).UpsertBootstrapAccount(ctx, gen.UpsertBootstrapAccountParams{
		ID: uuid.Must(uuid.NewV7()), PublicID: in.user, SecretHash: access.HashSecret(in.secret), CreatedAt: time.Now()}))
	in.admin(201, "POST", "/main/v1/own-party", map[string]any{"country_code": cc, "party_id": pid, "role": role, "name": cc + "-" + pid + " B.V."})
	return in
}

// admin calls the Admin API and checks the status.
func (in *instance) admin(status int, method, path string, body any) map[string]any {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, in.base+path, rd)
	req.SetBasicAuth(in.user, in.secret)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(in.t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	require.Equal(in.t, status, res.StatusCode, "%s %s: %s", method, path, raw)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// ocpi calls an OCPI endpoint with a raw or base64 token; it returns the
// HTTP status and the envelope.
func (in *instance) ocpi(token string, b64 bool, method, path string, body any) (int, map[string]any) {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, in.base+path, rd)
	if b64 {
		token = base64.StdEncoding.EncodeToString([]byte(token))
	}
	req.Header.Set("Authorization", "Token "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(in.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(in.t, err)
	// Every answer must match the official OCPI 2.2.1 OpenAPI files.
	ocpitest.ValidateResponse(in.t, method, path, res.StatusCode, res.Header, raw)
	var env map[string]any
	require.NoError(in.t, json.Unmarshal(raw, &env), "every OCPI answer is an envelope")
	return res.StatusCode, env
}

// theirToken reads the token this instance uses to call its partner: the
// token the partner issued, which the partner must accept.
func (in *instance) theirToken(connID string) string {
	in.t.Helper()
	var tok *string
	require.NoError(in.t, in.db.Pool.QueryRow(context.Background(), "SELECT their_token FROM roaming_connection WHERE id = $1", connID).Scan(&tok))
	if tok == nil {
		return ""
	}
	return *tok
}

// works reports whether token authenticates a module call at in.
func (in *instance) works(token string) bool {
	status, _ := in.ocpi(token, true, "GET", "/ocpi/2.2.1/hubclientinfo", nil)
	return status == 200
}

func TestRegistrationBothWays(t *testing.T) {
	a := start(t, "NL", "AAA", "CPO")
	b := start(t, "DE", "BBB", "EMSP")

	// A (receiver) creates a connection and hands token A and its versions
	// URL to B's operator; B (sender) registers outbound.
	ca := a.admin(201, "POST", "/main/v1/roaming-connection", map[string]any{"name": "to B", "kind": "peer_to_peer"})
	tokenA := ca["token_a"].(string)
	cb := b.admin(201, "POST", "/main/v1/roaming-connection", map[string]any{"name": "to A", "kind": "peer_to_peer"})

	// Token A works for versions (raw and base64) but not for modules.
	for _, b64 := range []bool{true, false} {
		st, env := a.ocpi(tokenA, b64, "GET", "/ocpi/versions", nil)
		require.Equal(t, 200, st)
		require.Equal(t, float64(1000), env["status_code"])
	}
	st, env := a.ocpi(tokenA, true, "GET", "/ocpi/2.2.1/hubclientinfo", nil)
	require.Equal(t, 401, st, "token A outside versions/credentials")
	require.Equal(t, float64(2000), env["status_code"])
	st, _ = a.ocpi("no-such-token", true, "GET", "/ocpi/versions", nil)
	require.Equal(t, 401, st)

	reg := b.admin(200, "POST", "/main/v1/roaming-connection/"+cb["id"].(string)+"/register",
		map[string]any{"versions_url": ca["versions_url"], "token": tokenA})
	require.Equal(t, "registered", reg["status"])
	require.Equal(t, "2.2.1", reg["version"])
	ga := a.admin(200, "GET", "/main/v1/roaming-connection/"+ca["id"].(string), nil)
	require.Equal(t, "registered", ga["status"])
	require.Equal(t, "partner", ga["initiated_by"])
	require.Equal(t, "us", reg["initiated_by"])
	require.NotEmpty(t, ga["their_endpoints"])
	// Token A stops working once used.
	st, _ = a.ocpi(tokenA, true, "GET", "/ocpi/versions", nil)
	require.Equal(t, 401, st, "token A is thrown away after registration")
	// Each side's stored token works at the other.
	cTok, bTok := b.theirToken(cb["id"].(string)), a.theirToken(ca["id"].(string))
	require.True(t, a.works(cTok))
	require.True(t, b.works(bTok))
	// A learnt B's party from its credentials roles.
	partners := a.admin(200, "GET", "/main/v1/roaming-partner?party=DE-BBB", nil)
	require.Len(t, partners["items"], 1)
	// A second POST is refused with 405.
	st, _ = a.ocpi(cTok, true, "POST", "/ocpi/2.2.1/credentials", map[string]any{"token": "x", "url": b.base + "/ocpi/versions",
		"roles": []map[string]any{{"role": "EMSP", "party_id": "BBB", "country_code": "DE", "business_details": map[string]any{"name": "B"}}}})
	require.Equal(t, 405, st)

	// B rotates (outbound PUT): the old tokens stop working both ways.
	b.admin(200, "POST", "/main/v1/roaming-connection/"+cb["id"].(string)+"/rotate", nil)
	cTok2, bTok2 := b.theirToken(cb["id"].(string)), a.theirToken(ca["id"].(string))
	require.NotEqual(t, cTok, cTok2)
	require.NotEqual(t, bTok, bTok2)
	require.False(t, a.works(cTok), "old token C rejected after rotation")
	require.False(t, b.works(bTok), "old token B rejected after rotation")
	require.True(t, a.works(cTok2))
	require.True(t, b.works(bTok2))

	// A rotates the other way (A sends the PUT to B).
	a.admin(200, "POST", "/main/v1/roaming-connection/"+ca["id"].(string)+"/rotate", nil)
	cTok3, bTok3 := b.theirToken(cb["id"].(string)), a.theirToken(ca["id"].(string))
	require.False(t, a.works(cTok2))
	require.False(t, b.works(bTok2))
	require.True(t, a.works(cTok3))
	require.True(t, b.works(bTok3))

	// A PUT whose new endpoints cannot be read fails with 3001 and changes
	// nothing: the tokens in use keep working on both sides.
	st, env = a.ocpi(cTok3, true, "PUT", "/ocpi/2.2.1/credentials", map[string]any{"token": "new-token-b", "url": "http://127.0.0.1:1/versions",
		"roles": []map[string]any{{"role": "EMSP", "party_id": "BBB", "country_code": "DE", "business_details": map[string]any{"name": "B"}}}})
	require.Equal(t, 200, st)
	require.Equal(t, float64(3001), env["status_code"])
	require.True(t, a.works(cTok3), "old state kept after a failed PUT")
	require.Equal(t, bTok3, a.theirToken(ca["id"].(string)))

	// A unregisters (outbound DELETE): nothing works any more, both sides
	// know it.
	un := a.admin(200, "POST", "/main/v1/roaming-connection/"+ca["id"].(string)+"/unregister", nil)
	require.Equal(t, "unregistered", un["status"])
	require.Equal(t, "unregistered", b.admin(200, "GET", "/main/v1/roaming-connection/"+cb["id"].(string), nil)["status"])
	require.False(t, a.works(cTok3))
	require.False(t, b.works(bTok3))

	// And the other direction: B's operator issues a new token A, A
	// registers outbound with B.
	nt := b.admin(200, "POST", "/main/v1/roaming-connection/"+cb["id"].(string)+"/token-a", nil)
	a.admin(200, "POST", "/main/v1/roaming-connection/"+ca["id"].(string)+"/register",
		map[string]any{"versions_url": nt["versions_url"], "token": nt["token_a"]})
	require.Equal(t, "registered", b.admin(200, "GET", "/main/v1/roaming-connection/"+cb["id"].(string), nil)["status"])
	require.True(t, b.works(a.theirToken(ca["id"].(string))))
	require.True(t, a.works(b.theirToken(cb["id"].(string))))
	// Inbound unregistration from B's side (B DELETEs at A).
	b.admin(200, "POST", "/main/v1/roaming-connection/"+cb["id"].(string)+"/unregister", nil)
	require.Equal(t, "unregistered", a.admin(200, "GET", "/main/v1/roaming-connection/"+ca["id"].(string), nil)["status"])

	// Every exchange was logged on both sides, with tokens masked (the log
	// is written asynchronously: wait until both directions are there).
	var items []any
	dirs := map[string]bool{}
	waitFor(t, func() bool {
		ex := a.admin(200, "GET", "/main/v1/roaming-exchange?connection_id="+ca["id"].(string)+"&page_size=1000", nil)
		items = ex["items"].([]any)
		for _, it := range items {
			dirs[it.(map[string]any)["direction"].(string)] = true
		}
		return dirs["inbound"] && dirs["outbound"]
	})
	for _, it := range items {
		m := it.(map[string]any)
		for _, tok := range []string{tokenA, cTok, cTok2, cTok3, bTok, bTok2, bTok3} {
			require.NotContains(t, fmt.Sprint(m["request_body"]), tok)
			require.NotContains(t, fmt.Sprint(m["response_body"]), tok)
		}
	}
}

func TestRegistrationFailures(t *testing.T) {
	a := start(t, "NL", "AAC", "CPO")
	ca := a.admin(201, "POST", "/main/v1/roaming-connection", map[string]any{"name": "nowhere"})
	// A partner that is not there: 502, the connection stays pending.
	r := a.admin(502, "POST", "/main/v1/roaming-connection/"+ca["id"].(string)+"/register",
		map[string]any{"versions_url": "http://127.0.0.1:1/ocpi/versions", "token": "x"})
	require.Equal(t, "partner_error", r["error"].(map[string]any)["code"])
	require.Equal(t, "pending", a.admin(200, "GET", "/main/v1/roaming-connection/"+ca["id"].(string), nil)["status"])
	// A partner without 2.2.1: a clear refusal naming what it offers.
	srv := fakePartner(t, `{"data":[{"version":"2.1.1","url":"http://127.0.0.1:1/2.1.1"}],"status_code":1000,"timestamp":"2024-01-01T00:00:00Z"}`)
	r = a.admin(400, "POST", "/main/v1/roaming-connection/"+ca["id"].(string)+"/register",
		map[string]any{"versions_url": srv + "/versions", "token": "x"})
	require.Contains(t, r["error"].(map[string]any)["message"], "2.1.1")
	// A partner whose 2.2.1 endpoints lack the credentials module: refused
	// (3003, no matching endpoints), the connection unchanged.
	mux := http.NewServeMux()
	var base string
	envelope := func(w http.ResponseWriter, data string) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":` + data + `,"status_code":1000,"timestamp":"2024-01-01T00:00:00Z"}`))
	}
	mux.HandleFunc("/versions", func(w http.ResponseWriter, _ *http.Request) {
		envelope(w, `[{"version":"2.2.1","url":"`+base+`/2.2.1"}]`)
	})
	mux.HandleFunc("/2.2.1", func(w http.ResponseWriter, _ *http.Request) {
		envelope(w, `{"version":"2.2.1","endpoints":[{"identifier":"locations","role":"SENDER","url":"`+base+`/locations"}]}`)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base = "http://" + ln.Addr().String()
	srv2 := &http.Server{Handler: mux}
	go func() { _ = srv2.Serve(ln) }()
	defer srv2.Close()
	r = a.admin(400, "POST", "/main/v1/roaming-connection/"+ca["id"].(string)+"/register",
		map[string]any{"versions_url": base + "/versions", "token": "x"})
	require.Contains(t, r["error"].(map[string]any)["message"], "credentials module")
	require.Equal(t, "pending", a.admin(200, "GET", "/main/v1/roaming-connection/"+ca["id"].(string), nil)["status"])
	// Missing fields.
	a.admin(400, "POST", "/main/v1/roaming-connection/"+ca["id"].(string)+"/register", map[string]any{})
	// Wrong credentials from a partner: 2001 naming the problem (HTTP 200:
	// valid JSON reached the OCPI layer, status_codes); JSON that does not
	// parse is an HTTP 400.
	tokenA := ca["token_a"].(string)
	st, env := a.ocpi(tokenA, true, "POST", "/ocpi/2.2.1/credentials", map[string]any{"token": 12, "url": "x"})
	require.Equal(t, 200, st)
	require.Equal(t, float64(2001), env["status_code"])
	require.Contains(t, env["status_message"], "token")
	st, env = a.ocpi(tokenA, true, "POST", "/ocpi/2.2.1/credentials", json.RawMessage(`{"token": "abc",`))
	require.Equal(t, 400, st)
	require.Equal(t, float64(2001), env["status_code"])
	// Credentials pointing at a partner we cannot reach: 3001, and token A
	// still works for a retry.
	st, env = a.ocpi(tokenA, true, "POST", "/ocpi/2.2.1/credentials", map[string]any{"token": "abc", "url": "http://127.0.0.1:1/versions",
		"roles": []map[string]any{{"role": "EMSP", "party_id": "XYZ", "country_code": "DE", "business_details": map[string]any{"name": "X"}}}})
	require.Equal(t, 200, st)
	require.Equal(t, float64(3001), env["status_code"])
	st, _ = a.ocpi(tokenA, true, "GET", "/ocpi/versions", nil)
	require.Equal(t, 200, st)
	// PUT and DELETE before registration: 405.
	st, _ = a.ocpi(tokenA, true, "DELETE", "/ocpi/2.2.1/credentials", nil)
	require.Equal(t, 405, st)
}

// fakePartner serves body on every path.
func fakePartner(t *testing.T, body string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
