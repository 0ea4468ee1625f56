package module_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
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
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/node"
	"github.com/roamnode/roamnode/ocpi/ocpitest"
	"github.com/roamnode/roamnode/roaming"
)

// authorizeFrom asks for real-time authorization as CPO party cc-pid
// (OCPI-from routing headers); the answer is validated against the
// official OpenAPI files. It returns allowed and the data object.
func authorizeFrom(t *testing.T, in *instance, token, uid, cc, pid string, body any) (string, map[string]any) {
	t.Helper()
	return allowedOf(t, authorizeEnvelope(t, in, token, uid, cc, pid, body))
}

// authorizeEnvelope is authorizeFrom's request; it returns the envelope,
// whatever its status.
func authorizeEnvelope(t *testing.T, in *instance, token, uid, cc, pid string, body any) map[string]any {
	t.Helper()
	p := "/ocpi/2.2.1/emsp/tokens/" + url.PathEscape(uid) + "/authorize"
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest("POST", in.base+p, rd)
	req.Header.Set("Authorization", "Token "+base64.StdEncoding.EncodeToString([]byte(token)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("OCPI-from-country-code", cc)
	req.Header.Set("OCPI-from-party-id", pid)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	ocpitest.ValidateResponse(t, "POST", p, res.StatusCode, res.Header, raw)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", raw)
	var env map[string]any
	require.NoError(t, json.Unmarshal(raw, &env))
	return env
}

// partnerLocation stores a partner location with a time zone (the rules'
// local-time windows read it).
func partnerLocation(t *testing.T, in *instance, cc, pid, id, tz string) {
	t.Helper()
	now := time.Now()
	_, err := in.db.Pool.Exec(context.Background(), `INSERT INTO partner_location (id, country_code, party_id, location_id, location_key,
		latitude, longitude, time_zone, publish, last_updated, data, created_at, updated_at)
		VALUES ($1, $2, $3, $4, upper($4), 52, 4, $5, true, $6, '{}', $6, $6)`, uuid.New(), cc, pid, id, tz, now)
	require.NoError(t, err)
}

// TestEMSPTokensAuthorizeChargeRules covers every branch of the charge
// authorization rules through real-time authorization, and their
// precedence after the token's own validity.
func TestEMSPTokensAuthorizeChargeRules(t *testing.T) {
	a := start(t, "NL", "RNE", "EMSP")
	tok := partner.NewToken()
	a.registered(tok)
	f := newMSPFixture(a)
	s1 := f.subscription("2024-01-01T00:00:00Z", "")
	s2 := f.subscription("2024-01-01T00:00:00Z", "")
	s3 := f.subscription("2024-01-01T00:00:00Z", "")
	s4 := f.subscription("2024-01-01T00:00:00Z", "")
	issue := func(sub, until string) string {
		uid := "R" + strings.ToUpper(uuid.NewString()[:8])
		id := f.token(uid, nil)
		if sub != "" {
			f.link(id, sub, "2024-01-01T00:00:00Z", until, nil)
		}
		return uid
	}
	t1, t2, t3, t4 := issue(s1, ""), issue(s2, ""), issue(s3, ""), issue(s4, "")
	expired, unlinked := issue(s1, at(-time.Minute)), issue("", "")
	rule := func(b map[string]any) string {
		if b["plan_id"] == nil && b["subscription_id"] == nil {
			b["administration_external_reference"] = f.adminRef
		}
		b["name"] = "rule"
		return a.admin(201, "POST", "/main/v1/msp-charge-authorization-rule", b)["id"].(string)
	}

	// Before any rule.
	allowed, _ := authorizeFrom(t, a, tok, t1, "DE", "BAD", nil)
	require.Equal(t, "ALLOWED", allowed)

	rule(map[string]any{"effect": "deny", "cpo_parties": []string{"de-bad"}})
	rule(map[string]any{"effect": "deny", "location_ids": []string{"loc-x"}})
	rule(map[string]any{"effect": "deny", "evse_uids": []string{"EVSE-2"}})
	rule(map[string]any{"effect": "require_credit", "subscription_id": s2})
	rule(map[string]any{"effect": "deny", "plan_id": f.planID, "cpo_country_codes": []string{"FR"}})
	rule(map[string]any{"effect": "deny", "plan_id": f.planID, "cpo_country_codes": []string{"BE"}, "valid_until": at(-time.Minute)})
	rule(map[string]any{"effect": "deny", "plan_id": f.planID, "cpo_country_codes": []string{"BE"}, "valid_from": at(time.Hour)})
	rule(map[string]any{"effect": "deny", "subscription_id": s3})
	rule(map[string]any{"effect": "allow", "subscription_id": s4})
	// A window around now in Tokyo's local time (UTC+9, no DST), at two
	// locations: one in Tokyo, one in UTC where it is another time of day.
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	now := time.Now().In(tokyo)
	rule(map[string]any{"effect": "deny", "location_ids": []string{"LOC-TYO", "LOC-UTC"},
		"start_time": now.Add(-30 * time.Minute).Format("15:04"), "end_time": now.Add(30 * time.Minute).Format("15:04")})
	partnerLocation(t, a, "NL", "GOO", "LOC-TYO", "Asia/Tokyo")
	partnerLocation(t, a, "NL", "GOO", "LOC-UTC", "UTC")

	loc := func(id string, evses ...string) map[string]any {
		m := map[string]any{"location_id": id}
		if len(evses) > 0 {
			m["evse_uids"] = evses
		}
		return m
	}
	for _, c := range []struct {
		name, uid, cc, pid string
		body               any
		want               string
	}{
		{"no rule applies", t1, "NL", "GOO", loc("LOC-1"), "ALLOWED"},
		{"deny by party", t1, "DE", "BAD", nil, "NOT_ALLOWED"},
		{"deny by party, other party", t1, "DE", "GUD", loc("LOC-1"), "ALLOWED"},
		{"deny by location", t1, "NL", "GOO", loc("LOC-X"), "NOT_ALLOWED"},
		{"deny by EVSE: the only one asked", t1, "NL", "GOO", loc("LOC-1", "evse-2"), "NOT_ALLOWED"},
		{"deny by plan country", t1, "FR", "ABC", nil, "NOT_ALLOWED"},
		{"plan rules outside their validity", t1, "BE", "ABC", loc("LOC-1"), "ALLOWED"},
		{"subscription-scoped require_credit, no credit", t2, "NL", "GOO", nil, "NO_CREDIT"},
		{"subscription-scoped rule, other subscription", t1, "NL", "GOO", loc("LOC-1"), "ALLOWED"},
		{"unconditional deny blocks", t3, "NL", "GOO", nil, "BLOCKED"},
		{"subscription allow overrides administration deny", t4, "DE", "BAD", nil, "ALLOWED"},
		{"validity first: expired", expired, "DE", "BAD", nil, "EXPIRED"},
		{"validity first: no link", unlinked, "DE", "BAD", nil, "BLOCKED"},
		{"window in the location's local time", t1, "NL", "GOO", loc("LOC-TYO"), "NOT_ALLOWED"},
		{"window outside at a UTC location", t1, "NL", "GOO", loc("LOC-UTC"), "ALLOWED"},
	} {
		got, d := authorizeFrom(t, a, tok, c.uid, c.cc, c.pid, c.body)
		require.Equal(t, c.want, got, c.name)
		if c.want != "ALLOWED" {
			require.NotContains(t, d, "location", c.name)
		}
		auth, err := db.MSPTokenAuthorizationByID(context.Background(), a.db.Pool, uuid.MustParse(d["authorization_reference"].(string)))
		require.NoError(t, err)
		require.Equal(t, c.want, auth.Allowed, c.name)
	}

	// No LocationReferences while rules on locations and EVSEs would
	// decide: status 2002 without data, and no decision stored (mod_tokens:
	// "too little information … SHALL respond with the OCPI status: 2002").
	var before int
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM msp_token_authorization`).Scan(&before))
	env := authorizeEnvelope(t, a, tok, t1, "NL", "GOO", nil)
	require.Equal(t, float64(2002), env["status_code"], "%v", env)
	require.Nil(t, env["data"])
	var after int
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM msp_token_authorization`).Scan(&after))
	require.Equal(t, before, after)

	// EVSEs: the allowed ones are answered, the denied one left out.
	_, d := authorizeFrom(t, a, tok, t1, "NL", "GOO", loc("LOC-1", "EVSE-1", "evse-2", "EVSE-3"))
	require.Equal(t, map[string]any{"location_id": "LOC-1", "evse_uids": []any{"EVSE-1", "EVSE-3"}}, d["location"])

	// Credit: an expired credit does not count, a valid one with a balance does.
	a.admin(201, "POST", "/main/v1/msp-token-subscription/"+s2+"/monetary-credit",
		map[string]any{"amount": "10", "valid_from": "2024-01-01T00:00:00Z", "valid_until": "2024-06-01T00:00:00Z"})
	got, _ := authorizeFrom(t, a, tok, t2, "NL", "GOO", nil)
	require.Equal(t, "NO_CREDIT", got, "expired credit")
	a.admin(201, "POST", "/main/v1/msp-token-subscription/"+s2+"/energy-credit", map[string]any{"energy": "5"})
	got, _ = authorizeFrom(t, a, tok, t2, "NL", "GOO", loc("LOC-1"))
	require.Equal(t, "ALLOWED", got, "credit with a balance")
	got, _ = authorizeFrom(t, a, tok, t2, "FR", "ABC", nil)
	require.Equal(t, "NOT_ALLOWED", got, "the plan's deny still applies after the subscription's credit check")
}

// startOn starts a second node on in's database, with a pool of its own:
// another node of the same deployment, whose Redis is down (real-time
// authorization and its rules need Postgres only).
func startOn(t *testing.T, in *instance) *instance {
	t.Helper()
	pool, err := db.Open(context.Background(), in.db.DSN, 4)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	require.Error(t, rdb.Ping(context.Background()).Err(), "this Redis must be down")
	app := node.App(node.Deps{Pool: pool, Redis: rdb, Log: testLog(), Version: "t", PublicURL: base,
		Client: roaming.Options{Timeout: 5 * time.Second, MaxRetries: 1}})
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })
	b := *in
	b.base = base
	b.db = &dbtest.Database{Pool: pool, DSN: in.db.DSN}
	return &b
}

// TestEMSPTokensChargeRulesAcrossNodes shows that a rule change takes
// effect on every node for the first authorization after it committed
// (no Redis involved: the rules version travels with the token lookup,
// and node b runs with Redis down),
// and that without applicable rules an authorization runs no statement
// for them.
func TestEMSPTokensChargeRulesAcrossNodes(t *testing.T) {
	a := start(t, "NL", "RNE", "EMSP")
	b := startOn(t, a)
	tok := partner.NewToken()
	a.registered(tok)
	f := newMSPFixture(a)
	sub := f.subscription("2024-01-01T00:00:00Z", "")
	uid := "X" + strings.ToUpper(uuid.NewString()[:8])
	f.link(f.token(uid, nil), sub, "", "", nil)

	// Both nodes answer and have loaded the (empty) rule set.
	for _, n := range []*instance{a, b} {
		got, _ := authorizeFrom(t, n, tok, uid, "DE", "BAD", nil)
		require.Equal(t, "ALLOWED", got)
	}
	// No rules: further authorizations run no statement for rules.
	before := db.AuthorizationRuleStatements(b.db.Pool)
	for range 5 {
		got, _ := authorizeFrom(t, b, tok, uid, "DE", "BAD", map[string]any{"location_id": "L1"})
		require.Equal(t, "ALLOWED", got)
	}
	require.Equal(t, before, db.AuthorizationRuleStatements(b.db.Pool), "no statement without rules")

	// A rule of another administration: one reload, then nothing per request.
	g := newMSPFixture(a)
	a.admin(201, "POST", "/main/v1/msp-charge-authorization-rule", map[string]any{"administration_external_reference": g.adminRef,
		"name": "other", "effect": "require_credit"})
	got, _ := authorizeFrom(t, b, tok, uid, "DE", "BAD", nil)
	require.Equal(t, "ALLOWED", got)
	reloaded := db.AuthorizationRuleStatements(b.db.Pool)
	require.Equal(t, before+2, reloaded, "one reload: the version and the rules")
	for range 5 {
		authorizeFrom(t, b, tok, uid, "DE", "BAD", nil)
	}
	require.Equal(t, reloaded, db.AuthorizationRuleStatements(b.db.Pool), "no statement for rules of other administrations")

	// A rule written through node a is in force on node b at once.
	r := a.admin(201, "POST", "/main/v1/msp-charge-authorization-rule", map[string]any{"administration_external_reference": f.adminRef,
		"name": "no BAD", "effect": "deny", "cpo_parties": []string{"DE-BAD"}})
	got, _ = authorizeFrom(t, b, tok, uid, "DE", "BAD", nil)
	require.Equal(t, "NOT_ALLOWED", got)
	got, _ = authorizeFrom(t, a, tok, uid, "DE", "BAD", nil)
	require.Equal(t, "NOT_ALLOWED", got)
	// Ending it (through node a; b's Redis is down) is in force on node b at once.
	a.admin(200, "POST", "/main/v1/msp-charge-authorization-rule/"+r["id"].(string), map[string]any{"valid_until": at(-time.Minute),
		"valid_from": at(-2 * time.Minute)})
	got, _ = authorizeFrom(t, b, tok, uid, "DE", "BAD", nil)
	require.Equal(t, "ALLOWED", got)
}
