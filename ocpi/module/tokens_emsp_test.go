package module_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
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
	"github.com/roamnode/roamnode/node"
	"github.com/roamnode/roamnode/roaming"
)

// mspFixture is an MSP tenant on an instance: an administration, a
// customer, a plan and helpers to issue tokens and subscriptions.
type mspFixture struct {
	in         *instance
	adminRef   string
	customerID string
	planID     string
	n          int
}

func newMSPFixture(in *instance) *mspFixture {
	tag := uuid.NewString()[:8]
	in.admin(201, "POST", "/main/v1/seller/ext_ref.s-"+tag, map[string]any{"name": "Demo Mobility", "country": "NL"})
	in.admin(201, "POST", "/main/v1/administration/ext_ref.a-"+tag, map[string]any{"seller_external_reference": "s-" + tag, "name": "NL", "currency": "EUR"})
	c := in.admin(201, "POST", "/main/v1/customer", map[string]any{"administration_external_reference": "a-" + tag, "name": "Jane", "country": "NL", "entity_type": "person"})
	p := in.admin(201, "POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_external_reference": "a-" + tag, "name": "Basic"})
	return &mspFixture{in: in, adminRef: "a-" + tag, customerID: c["id"].(string), planID: p["id"].(string)}
}

// subscription creates a subscription with the given period ("" = open end).
func (f *mspFixture) subscription(from, until string) string {
	b := map[string]any{"customer_id": f.customerID, "plan_id": f.planID, "valid_from": from}
	if until != "" {
		b["valid_until"] = until
	}
	return f.in.admin(201, "POST", "/main/v1/msp-token-subscription", b)["id"].(string)
}

// token issues a token (EVCO ID of NL-RNE) with the given UID and extra fields.
func (f *mspFixture) token(uid string, extra map[string]any) string {
	f.n++
	b := map[string]any{"administration_external_reference": f.adminRef, "evco_id": evcoFor(uid), "uid": uid}
	for k, v := range extra {
		b[k] = v
	}
	return f.in.admin(201, "POST", "/main/v1/msp-token", b)["id"].(string)
}

// evcoFor derives a unique EVCO ID instance from a UID.
func evcoFor(uid string) string {
	h := strings.ToUpper(strings.ReplaceAll(uuid.NewSHA1(uuid.NameSpaceOID, []byte(uid)).String(), "-", ""))
	return "NL-RNE-C" + h[:8]
}

// link links a token to a subscription ("" bounds are open).
func (f *mspFixture) link(tokenID, subID, from, until string, extra map[string]any) string {
	b := map[string]any{"token_id": tokenID, "subscription_id": subID}
	if from != "" {
		b["valid_from"] = from
	}
	if until != "" {
		b["valid_until"] = until
	}
	for k, v := range extra {
		b[k] = v
	}
	return f.in.admin(201, "POST", "/main/v1/msp-token-link", b)["id"].(string)
}

// at formats an instant relative to now, whole minutes, RFC 3339.
func at(d time.Duration) string {
	return time.Now().UTC().Add(d).Truncate(time.Minute).Format(time.RFC3339)
}

// authorize asks for real-time authorization; it returns the HTTP status
// and the envelope (validated against the official OpenAPI by in.ocpi).
func authorize(in *instance, token, uid, typ string, body any) (int, map[string]any) {
	p := "/ocpi/2.2.1/emsp/tokens/" + url.PathEscape(uid) + "/authorize"
	if typ != "" {
		p += "?type=" + typ
	}
	return in.ocpi(token, true, "POST", p, body)
}

func allowedOf(t *testing.T, env map[string]any) (string, map[string]any) {
	t.Helper()
	require.Equal(t, float64(1000), env["status_code"], "%v", env)
	d := env["data"].(map[string]any)
	return d["allowed"].(string), d
}

func TestEMSPTokensAuthorizeEveryValidityBranch(t *testing.T) {
	a := start(t, "NL", "RNE", "EMSP")
	token := partner.NewToken()
	conn := a.registered(token)
	f := newMSPFixture(a)
	live := f.subscription("2024-01-01T00:00:00Z", "")
	ended := f.subscription("2024-01-01T00:00:00Z", at(-time.Hour))
	later := f.subscription(at(time.Hour), "")
	doomed := f.subscription("2024-01-01T00:00:00Z", "")

	type tc struct {
		name, uid, allowed string
		valid              bool
	}
	var cases []tc
	add := func(name, allowed string, valid bool, setup func(tokenID string)) {
		uid := "T" + strings.ToUpper(uuid.NewString()[:8])
		setup(f.token(uid, nil))
		cases = append(cases, tc{name, uid, allowed, valid})
	}
	add("valid", "ALLOWED", true, func(id string) { f.link(id, live, "2024-01-01T00:00:00Z", "", nil) })
	add("no link", "BLOCKED", false, func(string) {})
	add("link expired", "EXPIRED", false, func(id string) { f.link(id, live, "2024-01-01T00:00:00Z", at(-time.Minute), nil) })
	add("link not yet valid", "BLOCKED", false, func(id string) { f.link(id, live, at(time.Hour), "", nil) })
	add("link defunct", "BLOCKED", false, func(id string) { f.link(id, live, "", "", map[string]any{"defunct": true}) })
	add("subscription expired", "EXPIRED", false, func(id string) { f.link(id, ended, "", "", nil) })
	add("subscription not yet valid", "BLOCKED", false, func(id string) { f.link(id, later, "", "", nil) })
	add("subscription defunct", "BLOCKED", false, func(id string) { f.link(id, doomed, "", "", nil) })
	// Hand-over at the current minute: the old link ended at the instant
	// the new one (in another subscription) started.
	handOver := at(0)
	add("hand-over instant", "ALLOWED", true, func(id string) {
		f.link(id, ended, "2024-01-01T00:00:00Z", handOver, nil)
		f.link(id, live, handOver, "", nil)
	})
	a.admin(200, "POST", "/main/v1/msp-token-subscription/"+doomed, map[string]any{"defunct": true})

	for _, c := range cases {
		st, env := authorize(a, token, strings.ToLower(c.uid), "RFID", nil) // UIDs are case-insensitive
		require.Equal(t, 200, st, c.name)
		allowed, d := allowedOf(t, env)
		require.Equal(t, c.allowed, allowed, c.name)
		tok := d["token"].(map[string]any)
		require.Equal(t, c.uid, tok["uid"], "%s: the UID in its original casing", c.name)
		require.Equal(t, c.valid, tok["valid"], c.name)
		require.Equal(t, "NL", tok["country_code"])
		require.Equal(t, "RNE", tok["party_id"])
		require.Equal(t, "ALLOWED", tok["whitelist"], "RFID default")
		ref := d["authorization_reference"].(string)
		// The decision is stored before it is answered.
		auth, err := db.MSPTokenAuthorizationByID(context.Background(), a.db.Pool, uuid.MustParse(ref))
		require.NoError(t, err, c.name)
		require.Equal(t, c.allowed, auth.Allowed)
		require.Equal(t, conn, *auth.ConnectionID)
	}

	// The list says the same about valid.
	_, env := a.ocpi(token, true, "GET", "/ocpi/2.2.1/emsp/tokens?limit=1000", nil)
	byUID := map[string]map[string]any{}
	for _, x := range env["data"].([]any) {
		m := x.(map[string]any)
		byUID[m["uid"].(string)] = m
	}
	for _, c := range cases {
		require.Equal(t, c.valid, byUID[c.uid]["valid"], c.name)
	}

	// Location references: echoed when allowed, stored either way; invalid
	// ones are 2001.
	loc := map[string]any{"location_id": "LOC1", "evse_uids": []string{"EVSE-1", "evse-2"}}
	_, env = authorize(a, token, cases[0].uid, "", loc)
	_, d := allowedOf(t, env)
	require.Equal(t, "LOC1", d["location"].(map[string]any)["location_id"])
	auth, err := db.MSPTokenAuthorizationByID(context.Background(), a.db.Pool, uuid.MustParse(d["authorization_reference"].(string)))
	require.NoError(t, err)
	require.Equal(t, "LOC1", auth.LocationID)
	require.Equal(t, []string{"EVSE-1", "evse-2"}, auth.EVSEUIDs)
	// The exchange log shows the request and the decision with its
	// reference, not the token object (stored in msp_token already).
	ref := d["authorization_reference"].(string)
	var reqBody, respBody string
	var ocpiStatus int
	waitFor(t, func() bool {
		return a.db.Pool.QueryRow(context.Background(), `SELECT request_body, response_body, ocpi_status FROM roaming_exchange
			WHERE direction = 'inbound' AND response_body LIKE '%' || $1 || '%'`, ref).Scan(&reqBody, &respBody, &ocpiStatus) == nil
	})
	require.JSONEq(t, `{"location_id": "LOC1", "evse_uids": ["EVSE-1", "evse-2"]}`, reqBody)
	require.JSONEq(t, `{"data": {"allowed": "ALLOWED", "authorization_reference": "`+ref+`"}, "status_code": 1000}`, respBody)
	require.Equal(t, 1000, ocpiStatus)
	_, env = authorize(a, token, cases[1].uid, "", loc)
	_, d = allowedOf(t, env)
	require.NotContains(t, d, "location", "not allowed: no location")
	_, env = authorize(a, token, cases[0].uid, "", map[string]any{"evse_uids": []string{"x"}})
	require.Equal(t, float64(2001), env["status_code"])

	// Unknown token: HTTP 404 with 2004 and no data; so is a known UID of
	// another type, and a request addressed to a party that does not own it.
	st, env := authorize(a, token, "NO-SUCH-TOKEN", "", nil)
	require.Equal(t, http.StatusNotFound, st)
	require.Equal(t, float64(2004), env["status_code"])
	require.NotContains(t, env, "data")
	st, env = authorize(a, token, cases[0].uid, "APP_USER", nil)
	require.Equal(t, http.StatusNotFound, st)
	require.Equal(t, float64(2004), env["status_code"])
	_, env = authorize(a, token, cases[0].uid, "CARD", nil)
	require.Equal(t, float64(2001), env["status_code"])
}

func TestEMSPTokensListAndOfficialExample(t *testing.T) {
	a := start(t, "NL", "RNE", "EMSP")
	token := partner.NewToken()
	a.registered(token)
	f := newMSPFixture(a)
	sub := f.subscription("2024-01-01T00:00:00Z", "")
	// The fields of the official full RFID example (token_example_2_full_rfid.json)
	// that the MSP token model carries.
	ex := f.token("12345678905880", map[string]any{"type": "RFID", "visual_number": "DF000-2001-8999-1", "issuer": "TheNewMotion",
		"group_id": "DF000-2001-8999", "language": "it", "whitelist": "ALLOWED"})
	f.link(ex, sub, "2024-01-01T00:00:00Z", "", nil)
	app := f.token("bdf21bce-fc97-11e8-8eb2-f2801f1b9fd1", map[string]any{"type": "APP_USER", "issuer": "TheNewMotion"})
	f.link(app, sub, "", "", nil)
	for i := 0; i < 3; i++ {
		f.token("EXTRA"+strings.ToUpper(uuid.NewString()[:6]), nil)
	}

	res, env := listTokens(a, token, "?limit=2")
	require.Equal(t, "5", res.Header.Get("X-Total-Count"))
	require.Equal(t, "2", res.Header.Get("X-Limit"))
	require.Contains(t, res.Header.Get("Link"), "offset=2")
	// Walk the pages: every token once, oldest last_updated first.
	seen := map[string]map[string]any{}
	var last string
	next := "?limit=2"
	for pages := 0; next != "" && pages < 10; pages++ {
		res, env = listTokens(a, token, next)
		for _, x := range env["data"].([]any) {
			m := x.(map[string]any)
			seen[m["uid"].(string)] = m
			require.GreaterOrEqual(t, m["last_updated"].(string), last)
			last = m["last_updated"].(string)
		}
		next = ""
		if l := res.Header.Get("Link"); l != "" {
			u, err := url.Parse(l[1 : len(l)-len(`>; rel="next"`)])
			require.NoError(t, err)
			next = "?" + u.RawQuery
		}
	}
	require.Len(t, seen, 5)
	got := seen["12345678905880"]
	for k, v := range map[string]any{"uid": "12345678905880", "type": "RFID", "visual_number": "DF000-2001-8999-1", "issuer": "TheNewMotion",
		"group_id": "DF000-2001-8999", "valid": true, "whitelist": "ALLOWED", "language": "it", "country_code": "NL", "party_id": "RNE"} {
		require.Equal(t, v, got[k], k)
	}
	require.Equal(t, "NEVER", seen["bdf21bce-fc97-11e8-8eb2-f2801f1b9fd1"]["whitelist"], "APP_USER default")
	require.Equal(t, false, seen[firstExtra(seen)]["valid"], "a token without a link is not valid")

	// last_updated moves when validity changes through a link edit.
	before := got["last_updated"].(string)
	time.Sleep(1100 * time.Millisecond) // OCPI DateTime has whole seconds
	links := a.admin(200, "GET", "/main/v1/msp-token-link?token_id="+ex, nil)["items"].([]any)
	a.admin(200, "POST", "/main/v1/msp-token-link/"+links[0].(map[string]any)["id"].(string), map[string]any{"defunct": true})
	_, env = listTokens(a, token, "?date_from="+url.QueryEscape(before))
	var after map[string]any
	for _, x := range env["data"].([]any) {
		if m := x.(map[string]any); m["uid"] == "12345678905880" {
			after = m
		}
	}
	require.NotNil(t, after, "the changed token is in the incremental sync")
	require.Greater(t, after["last_updated"].(string), before)
	require.Equal(t, false, after["valid"])
	// date_to is exclusive; routing to another party shows none of ours.
	res, _ = listTokens(a, token, "?date_to=2000-01-01T00:00:00Z")
	require.Equal(t, "0", res.Header.Get("X-Total-Count"))
	res, _ = listTokens(a, token, "?offset=100")
	require.Equal(t, "5", res.Header.Get("X-Total-Count"))
	_, env = listTokens(a, token, "?date_from=nope")
	require.Equal(t, float64(2001), env["status_code"])
}

func firstExtra(seen map[string]map[string]any) string {
	for k := range seen {
		if strings.HasPrefix(k, "EXTRA") {
			return k
		}
	}
	return ""
}

func listTokens(in *instance, token, q string) (*http.Response, map[string]any) {
	in.t.Helper()
	req, _ := http.NewRequest("GET", in.base+"/ocpi/2.2.1/emsp/tokens"+q, nil)
	req.Header.Set("Authorization", "Token "+token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(in.t, err)
	res.Body.Close()
	_, env := in.ocpi(token, true, "GET", "/ocpi/2.2.1/emsp/tokens"+q, nil)
	return res, env
}

// TestEMSPTokensAuthorizeWithoutRedis runs a node whose Redis does not
// exist: real-time authorization (and the token list) keep answering.
func TestEMSPTokensAuthorizeWithoutRedis(t *testing.T) {
	ctx := context.Background()
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })
	require.Error(t, dead.Ping(ctx).Err(), "this Redis must be down")
	xlog := db.NewExchangeLog(d.Pool, testLog(), 1000)
	app := node.App(node.Deps{Pool: d.Pool, Redis: dead, Log: testLog(), Version: "t", PublicURL: base, Recorder: xlog,
		Client: roaming.Options{Timeout: 5 * time.Second, MaxRetries: 1}})
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second); xlog.Close() })
	in := &instance{t: t, db: d, base: base, user: "admin", secret: access.NewSecret(), log: xlog}
	require.NoError(t, db.Q(d.Pool).UpsertBootstrapAccount(ctx, gen.UpsertBootstrapAccountParams{
		ID: uuid.Must(uuid.NewV7()), PublicID: in.user, SecretHash: access.HashSecret(in.secret), CreatedAt: time.Now()}))
	token := partner.NewToken()
	in.registered(token)
	f := newMSPFixture(in) // the Admin API's rate limiter fails open
	tok := f.token("NOREDIS1", nil)
	f.link(tok, f.subscription("2024-01-01T00:00:00Z", ""), "", "", nil)
	for i := 0; i < 3; i++ {
		st, env := authorize(in, token, "noredis1", "", nil)
		require.Equal(t, 200, st)
		allowed, _ := allowedOf(t, env)
		require.Equal(t, "ALLOWED", allowed)
	}
	st, _ := in.ocpi(token, true, "GET", "/ocpi/2.2.1/emsp/tokens", nil)
	require.Equal(t, 200, st)
}
