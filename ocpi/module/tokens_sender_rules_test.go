package module_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/partner"
)

// The Tokens sender and the token push with the charge authorization
// rules (README → charge authorization rules): a condition-free deny in
// force makes valid false, a conditional deny or require_credit keeps it
// true with whitelist NEVER, allow exceptions count; a rule change moves
// last_updated and pushes exactly the tokens whose fields change.

// ruleTokens issues one RFID token per subscription, linked from 2024.
func ruleTokens(f *mspFixture, subs ...string) []string {
	uids := make([]string, len(subs))
	for i, s := range subs {
		uids[i] = "R" + strings.ToUpper(uuid.NewString()[:8])
		f.link(f.token(uids[i], nil), s, "2024-01-01T00:00:00Z", "", nil)
	}
	return uids
}

// chargeRule creates a rule (administration scope unless plan_id or
// subscription_id is given) and returns its id.
func chargeRule(in *instance, f *mspFixture, b map[string]any) string {
	if b["plan_id"] == nil && b["subscription_id"] == nil {
		b["administration_external_reference"] = f.adminRef
	}
	b["name"] = "rule"
	return in.admin(201, "POST", "/main/v1/msp-charge-authorization-rule", b)["id"].(string)
}

// listed is the Tokens sender's list (validated against the official
// OpenAPI) by UID.
func listed(t *testing.T, in *instance, token, q string) map[string]map[string]any {
	t.Helper()
	_, env := in.ocpi(token, true, "GET", "/ocpi/2.2.1/emsp/tokens?limit=1000"+q, nil)
	out := map[string]map[string]any{}
	for _, x := range env["data"].([]any) {
		m := x.(map[string]any)
		out[m["uid"].(string)] = m
	}
	return out
}

// recheck works off every queued rule change (what the worker's boundary
// task does) in batches of two tokens, and returns how many tokens it
// pushed.
func recheck(t *testing.T, in *instance) int {
	t.Helper()
	rules := db.NewAuthorizationRules(in.db.Pool)
	total := 0
	for {
		_, n, done, err := db.RecheckTokenRules(context.Background(), in.db.Pool, rules, time.Now(), 2)
		require.NoError(t, err)
		total += n
		if done {
			return total
		}
	}
}

func TestTokensSenderChargeRules(t *testing.T) {
	a := start(t, "NL", "RNE", "EMSP")
	tok := partner.NewToken()
	a.registered(tok)
	f := newMSPFixture(a)
	sub := func() string { return f.subscription("2024-01-01T00:00:00Z", "") }
	sDeny, sCond, sCredit, sFuture, sFree, sApp := sub(), sub(), sub(), sub(), sub(), sub()
	u := ruleTokens(f, sDeny, sCond, sCredit, sFuture, sFree)
	app := "A" + strings.ToUpper(uuid.NewString()[:8])
	f.link(f.token(app, map[string]any{"type": "APP_USER"}), sApp, "2024-01-01T00:00:00Z", "", nil)
	chargeRule(a, f, map[string]any{"effect": "deny", "subscription_id": sDeny})
	chargeRule(a, f, map[string]any{"effect": "deny", "subscription_id": sCond, "cpo_country_codes": []string{"FR"}})
	chargeRule(a, f, map[string]any{"effect": "require_credit", "subscription_id": sCredit})
	chargeRule(a, f, map[string]any{"effect": "deny", "subscription_id": sFuture, "valid_from": at(time.Hour)})
	chargeRule(a, f, map[string]any{"effect": "deny", "subscription_id": sApp})

	// A second administration: everything denied, with exceptions.
	g := newMSPFixture(a)
	gsub := func() string { return g.subscription("2024-01-01T00:00:00Z", "") }
	gAllow, gCondAllow, gNone := gsub(), gsub(), gsub()
	v := ruleTokens(g, gAllow, gCondAllow, gNone)
	chargeRule(a, g, map[string]any{"effect": "deny"})
	chargeRule(a, g, map[string]any{"effect": "allow", "subscription_id": gAllow})
	chargeRule(a, g, map[string]any{"effect": "allow", "subscription_id": gCondAllow, "cpo_country_codes": []string{"NL"}})

	got := listed(t, a, tok, "")
	for _, c := range []struct {
		uid       string
		valid     bool
		whitelist string
		why       string
	}{
		{u[0], false, "ALLOWED", "condition-free deny: blocked everywhere"},
		{u[1], true, "NEVER", "conditional deny: the CPO must ask"},
		{u[2], true, "NEVER", "require_credit: the CPO must ask"},
		{u[3], true, "ALLOWED", "a rule not in force yet"},
		{u[4], true, "ALLOWED", "no rule for its subscription"},
		{app, false, "NEVER", "an app user blocked (NEVER by type)"},
		{v[0], true, "ALLOWED", "allow exception of its subscription"},
		{v[1], true, "NEVER", "a conditional allow: denied elsewhere, so the CPO must ask"},
		{v[2], false, "ALLOWED", "administration-wide deny"},
	} {
		require.Contains(t, got, c.uid, c.why)
		require.Equal(t, c.valid, got[c.uid]["valid"], c.why)
		require.Equal(t, c.whitelist, got[c.uid]["whitelist"], c.why)
	}
}

// backdate moves every token, link and subscription write an hour back,
// so that a date_from pull from a minute ago returns only what changes
// afterwards.
func backdate(t *testing.T, in *instance) {
	t.Helper()
	for _, tbl := range []string{"msp_token", "msp_token_link", "msp_token_subscription"} {
		_, err := in.db.Pool.Exec(context.Background(), "UPDATE "+tbl+" SET updated_at = updated_at - interval '1 hour'")
		require.NoError(t, err)
	}
}

func TestTokenPushOnChargeRuleChange(t *testing.T) {
	a := start(t, "NL", "RNE", "EMSP")
	tok := partner.NewToken()
	a.registered(tok)
	cpo := newFakeCPO(t)
	a.cpoTokenReceiver(cpo)
	f := newMSPFixture(a)
	sub := func() string { return f.subscription("2024-01-01T00:00:00Z", "") }
	s1, s2, sAllow := sub(), sub(), sub()
	in1 := ruleTokens(f, s1, s1, s1, s1, s1) // more than a batch
	out := ruleTokens(f, s2)[0]
	allowed := ruleTokens(f, sAllow)[0]
	other := newMSPFixture(a)
	outsider := ruleTokens(other, other.subscription("2024-01-01T00:00:00Z", ""))[0]
	chargeRule(a, f, map[string]any{"effect": "allow", "subscription_id": sAllow})
	require.Zero(t, recheck(t, a), "an allow rule alone changes no token")
	drainPushes(t, a)
	backdate(t, a)
	since := "&date_from=" + at(-time.Minute)
	require.Empty(t, listed(t, a, tok, since))
	pushed := len(cpo.pushes())
	path := func(uid string) string { return "/ocpi/cpo/2.2.1/tokens/NL/RNE/" + uid }

	// A subscription rule: its five tokens, nothing else.
	r1 := chargeRule(a, f, map[string]any{"effect": "deny", "subscription_id": s1})
	require.Equal(t, 5, recheck(t, a))
	drainPushes(t, a)
	got := cpo.pushes()[pushed:]
	require.Len(t, got, 5)
	for _, uid := range in1 {
		p := cpo.last(path(uid))
		require.Equal(t, "PUT", p.Method)
		require.Equal(t, false, p.Body["valid"], uid)
	}
	pulled := listed(t, a, tok, since)
	require.Len(t, pulled, 5, "a date_from pull picks the rule change up")
	for _, uid := range in1 {
		require.Equal(t, false, pulled[uid]["valid"])
	}

	// A change of the rule's name only: nothing to compare, nothing pushed.
	pushed = len(cpo.pushes())
	a.admin(200, "POST", "/main/v1/msp-charge-authorization-rule/"+r1, map[string]any{"name": "renamed"})
	require.Zero(t, recheck(t, a))
	// Made conditional: valid again but whitelist NEVER, pushed again.
	a.admin(200, "POST", "/main/v1/msp-charge-authorization-rule/"+r1, map[string]any{"cpo_country_codes": []string{"FR"}})
	require.Equal(t, 5, recheck(t, a))
	drainPushes(t, a)
	for _, uid := range in1 {
		p := cpo.last(path(uid))
		require.Equal(t, true, p.Body["valid"], uid)
		require.Equal(t, "NEVER", p.Body["whitelist"], uid)
	}

	// An administration-wide deny: the tokens it blocks (s2's; s1's are
	// restricted already and stay so, but become blocked), not the token
	// under the allow exception, not another administration's.
	pushed = len(cpo.pushes())
	chargeRule(a, f, map[string]any{"effect": "deny"})
	require.Equal(t, 6, recheck(t, a))
	drainPushes(t, a)
	for _, p := range cpo.pushes()[pushed:] {
		require.NotEqual(t, path(allowed), p.Path, "the allow exception is untouched")
		require.NotEqual(t, path(outsider), p.Path, "another administration is untouched")
		require.Equal(t, false, p.Body["valid"], p.Path)
	}
	require.Equal(t, false, cpo.last(path(out)).Body["valid"])
	pulled = listed(t, a, tok, since)
	require.NotContains(t, pulled, allowed)
	require.NotContains(t, pulled, outsider)
	require.Contains(t, pulled, out)
}

func TestTokenPushWhenChargeRuleBoundaryPasses(t *testing.T) {
	a := start(t, "NL", "RNE", "EMSP")
	tok := partner.NewToken()
	a.registered(tok)
	cpo := newFakeCPO(t)
	a.cpoTokenReceiver(cpo)
	f := newMSPFixture(a)
	ctx := context.Background()
	s1, s2 := f.subscription("2024-01-01T00:00:00Z", ""), f.subscription("2024-01-01T00:00:00Z", "")
	in, out := ruleTokens(f, s1)[0], ruleTokens(f, s2)[0]
	// The first boundary run only sets the watermark.
	_, _, _, err := db.PushPassedTokenBoundaries(ctx, a.db.Pool, time.Now(), 10)
	require.NoError(t, err)

	// A deny of s1 that ended at the current minute, written (backdated)
	// while it was in force: its end unblocks s1's token by time alone.
	r := chargeRule(a, f, map[string]any{"effect": "deny", "subscription_id": s1, "valid_until": at(0)})
	require.Zero(t, recheck(t, a), "written after its end: no change")
	drainPushes(t, a)
	backdate(t, a)
	_, err = a.db.Pool.Exec(ctx, "UPDATE msp_charge_authorization_rule SET updated_at = now() - interval '1 hour' WHERE id = $1", r)
	require.NoError(t, err)
	_, err = a.db.Pool.Exec(ctx, "UPDATE msp_token_push_watermark SET passed_until = $1", time.Now().Truncate(time.Minute).Add(-5*time.Minute))
	require.NoError(t, err)
	pushed := len(cpo.pushes())

	_, n, _, err := db.PushPassedTokenBoundaries(ctx, a.db.Pool, time.Now(), 10)
	require.NoError(t, err)
	require.Zero(t, n, "no link or subscription boundary")
	require.Equal(t, 1, recheck(t, a))
	drainPushes(t, a)
	got := cpo.pushes()[pushed:]
	require.Len(t, got, 1)
	require.Equal(t, "/ocpi/cpo/2.2.1/tokens/NL/RNE/"+in, got[0].Path)
	require.Equal(t, true, got[0].Body["valid"])
	pulled := listed(t, a, tok, "&date_from="+at(-time.Minute))
	require.Contains(t, pulled, in)
	require.NotContains(t, pulled, out)

	// The boundary is handled once.
	_, _, _, err = db.PushPassedTokenBoundaries(ctx, a.db.Pool, time.Now(), 10)
	require.NoError(t, err)
	require.Zero(t, recheck(t, a))
}

// TestRuleRecheckScale measures (RN_RULE_RECHECK_TOKENS=100000 go test
// -run RuleRecheckScale) the worker's recheck of an administration-wide
// rule over many tokens with one partner receiving the pushes, and a page
// of the Tokens sender with that rule in force. Skipped by default.
func TestRuleRecheckScale(t *testing.T) {
	n := os.Getenv("RN_RULE_RECHECK_TOKENS")
	if n == "" {
		t.Skip("set RN_RULE_RECHECK_TOKENS")
	}
	a := start(t, "NL", "RNE", "EMSP")
	tok := partner.NewToken()
	a.registered(tok)
	a.cpoTokenReceiver(newFakeCPO(t))
	f := newMSPFixture(a)
	s := f.subscription("2024-01-01T00:00:00Z", "")
	ctx := context.Background()
	seed := time.Now()
	_, err := a.db.Pool.Exec(ctx, `INSERT INTO msp_token (id, administration_id, evco_id, country_code, party_id, uid, uid_key, type, issuer, created_at, updated_at)
		SELECT gen_random_uuid(), (SELECT id FROM administration WHERE external_reference = $1), 'NLRNEC' || lpad(n::text, 8, '0'), 'NL', 'RNE',
		'TOK' || lpad(n::text, 6, '0'), 'TOK' || lpad(n::text, 6, '0'), 'RFID', 'Bench', now(), now()
		FROM generate_series(0, $2::int - 1) n`, f.adminRef, n)
	require.NoError(t, err)
	_, err = a.db.Pool.Exec(ctx, `INSERT INTO msp_token_link (id, token_id, subscription_id, valid_from, created_at, updated_at)
		SELECT gen_random_uuid(), id, $1, '2024-01-01', now(), now() FROM msp_token`, s)
	require.NoError(t, err)
	_, err = a.db.Pool.Exec(ctx, "VACUUM ANALYZE")
	require.NoError(t, err)
	t.Logf("seeded %s tokens in %s", n, time.Since(seed))
	chargeRule(a, f, map[string]any{"effect": "deny"})
	rules := db.NewAuthorizationRules(a.db.Pool)
	began, total := time.Now(), 0
	for {
		_, k, done, err := db.RecheckTokenRules(ctx, a.db.Pool, rules, time.Now(), 1000)
		require.NoError(t, err)
		total += k
		if done {
			break
		}
	}
	t.Logf("recheck: %d tokens pushed in %s", total, time.Since(began))
	began = time.Now()
	got := listed(t, a, tok, "")
	t.Logf("Tokens sender page of %d with the rule: %s", len(got), time.Since(began))
}
