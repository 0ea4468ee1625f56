package adminapi_test

import (
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/adminapi"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	h := setup(t)
	r := h.doAs("", "", "GET", "/main/v1/customer", nil)
	require.Equal(t, 401, r.Status)
	require.Contains(t, r.Header.Get("WWW-Authenticate"), "Basic")
	require.Equal(t, "unauthorized", r.code())
	require.Equal(t, 401, h.doAs(h.user, "wrong-secret", "GET", "/main/v1/customer", nil).Status)
	require.Equal(t, 401, h.doAs("nobody-"+uuid.NewString(), h.secret, "GET", "/main/v1/customer", nil).Status)
	require.Equal(t, "test", r.Header.Get("X-RN-Version"), "X-RN-Version on every Admin API response, errors too")
	ok := h.must(200, h.do("GET", "/main/v1/customer", nil))
	require.Equal(t, "test", ok.Header.Get("X-RN-Version"))

	// A malformed Authorization header is a 401, not a 500.
	req := httptest.NewRequest("GET", "/main/v1/customer", nil)
	req.Header.Set("Authorization", "Basic !!!notbase64")
	res, err := h.app.Test(req, -1)
	require.NoError(t, err)
	require.Equal(t, 401, res.StatusCode)
}

func TestPermissionsAndAdministrationScope(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, admA := h.tenant()
	_, admB := h.tenant()
	custA := h.customer(admA, nil).str("id")
	custB := h.customer(admB, nil).str("id")

	// An account limited to administration A with customer read only.
	user, secret := h.account([]string{"customer:read"}, []string{admA})
	require.Equal(t, 200, h.doAs(user, secret, "GET", "/main/v1/customer/"+custA, nil).Status)
	r := h.doAs(user, secret, "GET", "/main/v1/customer/"+custB, nil)
	require.Equal(t, 403, r.Status, "wrong administration")
	require.Equal(t, "forbidden", r.code())
	// Lists only show what the account may see.
	list := h.doAs(user, secret, "GET", "/main/v1/customer?page_size=1000", nil)
	for _, it := range list.items() {
		require.Equal(t, admA, it["administration_id"])
	}
	// Read does not imply write.
	r = h.doAs(user, secret, "POST", "/main/v1/customer", map[string]any{"administration_id": admA, "name": "x", "country": "NL", "entity_type": "person"})
	require.Equal(t, 403, r.Status, "missing permission")
	// No permission for the family at all.
	require.Equal(t, 403, h.doAs(user, secret, "GET", "/main/v1/seller", nil).Status)

	// Write access to A only: creating a customer in B is forbidden.
	wuser, wsecret := h.account([]string{"customer:write"}, []string{admA})
	require.Equal(t, 201, h.doAs(wuser, wsecret, "POST", "/main/v1/customer", map[string]any{"administration_id": admA, "name": "x", "country": "NL", "entity_type": "person"}).Status)
	require.Equal(t, 403, h.doAs(wuser, wsecret, "POST", "/main/v1/customer", map[string]any{"administration_id": admB, "name": "x", "country": "NL", "entity_type": "person"}).Status)
	require.Equal(t, 403, h.doAs(wuser, wsecret, "POST", "/main/v1/customer/"+custB, map[string]any{"name": "hijack"}).Status)
	require.Equal(t, "Jane", h.must(200, h.do("GET", "/main/v1/customer/"+custB, nil)).str("name"))
	// Only accounts that see every administration create administrations.
	sellers := h.must(200, h.do("GET", "/main/v1/seller?page_size=1", nil)).items()
	auser, asecret := h.account([]string{"administration:write"}, []string{admA})
	require.Equal(t, 403, h.doAs(auser, asecret, "POST", "/main/v1/administration", map[string]any{"name": "n", "currency": "EUR", "seller_id": sellers[0]["id"]}).Status)
}

func TestAPIAccounts(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, admA := h.tenant()
	_, admB := h.tenant()

	r := h.must(201, h.do("POST", "/main/v1/api-account", map[string]any{"name": "integrator", "permissions": []string{"customer:write", "api-account:write"}, "administration_ids": []string{admA}}))
	user, secret := r.str("public_id"), r.str("secret")
	require.GreaterOrEqual(t, len(secret), 43, "256-bit secret")
	// The secret is never readable back.
	got := h.must(200, h.do("GET", "/main/v1/api-account/"+r.str("id"), nil))
	require.NotContains(t, string(got.Raw), secret)
	require.NotContains(t, got.JSON, "secret")
	require.NotContains(t, got.JSON, "secret_hash")
	require.Equal(t, 200, h.doAs(user, secret, "GET", "/main/v1/customer", nil).Status)

	// Nobody grants more than they hold: not another administration, not
	// another permission, not "*".
	for _, body := range []map[string]any{
		{"name": "x", "permissions": []string{"customer:read"}, "administration_ids": []string{admB}},
		{"name": "x", "permissions": []string{"seller:read"}, "administration_ids": []string{admA}},
		{"name": "x", "permissions": []string{"*"}},
		{"name": "x", "permissions": []string{"customer:read"}, "all_administrations": true},
	} {
		require.Equal(t, 403, h.doAs(user, secret, "POST", "/main/v1/api-account", body).Status, "%v", body)
	}
	sub := h.doAs(user, secret, "POST", "/main/v1/api-account", map[string]any{"name": "sub", "permissions": []string{"customer:read"}, "administration_ids": []string{admA}})
	require.Equal(t, 201, sub.Status, "%s", sub.Raw)
	// It cannot change the bootstrap account, which holds more.
	boot := h.must(200, h.do("GET", "/main/v1/api-account?page_size=1000", nil))
	var bootID string
	for _, it := range boot.items() {
		if it["public_id"] == h.user {
			bootID = it["id"].(string)
		}
	}
	require.NotEmpty(t, bootID)
	require.Equal(t, 403, h.doAs(user, secret, "POST", "/main/v1/api-account/"+bootID, map[string]any{"disabled": true}).Status)

	// Invalid permissions name the element.
	bad := h.must(400, h.do("POST", "/main/v1/api-account", map[string]any{"name": "x", "permissions": []string{"customer:read", "customer:delete"}}))
	require.Equal(t, []string{"permissions[1]"}, bad.fields())
	// Rate limit overrides come in pairs.
	bad = h.must(400, h.do("POST", "/main/v1/api-account", map[string]any{"name": "x", "permissions": []string{}, "rate_limit_rps": 10}))
	require.Equal(t, []string{"rate_limit_burst"}, bad.fields())
	// Unknown administration.
	bad = h.must(400, h.do("POST", "/main/v1/api-account", map[string]any{"name": "x", "permissions": []string{}, "administration_ids": []string{uuid.NewString()}}))
	require.Equal(t, []string{"administration_ids"}, bad.fields())

	// Rotation: the new secret works at once, the old one stops working.
	rot := h.must(200, h.do("POST", "/main/v1/api-account/"+r.str("id")+"/rotate-secret", nil))
	newSecret := rot.str("secret")
	require.NotEqual(t, secret, newSecret)
	require.Equal(t, 401, h.doAs(user, secret, "GET", "/main/v1/customer", nil).Status)
	require.Equal(t, 200, h.doAs(user, newSecret, "GET", "/main/v1/customer", nil).Status)

	// Disabling locks the account out.
	h.must(200, h.do("POST", "/main/v1/api-account/"+r.str("id"), map[string]any{"disabled": true}))
	h2 := setup(t) // a fresh node (no cached account) sees the change at once
	require.Equal(t, 401, h2.doAs(user, newSecret, "GET", "/main/v1/customer", nil).Status)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	prefix := "rn:test:" + uuid.NewString() + ":"
	limited := func(o *adminapi.Options) { o.RateRPS, o.RateBurst, o.RatePrefix = 2, 5, prefix }
	h := setup(t, limited)
	codes := map[int]int{}
	var retryAfter string
	for i := 0; i < 12; i++ {
		r := h.do("GET", "/main/v1/seller?page_size=1", nil)
		codes[r.Status]++
		if r.Status == 429 {
			retryAfter = r.Header.Get("Retry-After")
			require.Equal(t, "rate_limited", r.code())
		}
	}
	require.Equal(t, 12, codes[200]+codes[429])
	require.GreaterOrEqual(t, codes[429], 5, "burst of 5 then about 2/s: %v", codes)
	require.LessOrEqual(t, codes[200], 7, "%v", codes)
	require.Equal(t, "1", retryAfter)

	// A second node on the same Redis shares the buckets, so the limit
	// holds across replicas: the same account is limited there at once.
	h2 := setup(t, limited)
	require.Equal(t, 429, h2.doAs(h.user, h.secret, "GET", "/main/v1/seller?page_size=1", nil).Status)
}

func TestRateLimitPerAccountOverride(t *testing.T) {
	t.Parallel()
	h := setup(t, func(o *adminapi.Options) { o.RateRPS, o.RateBurst = 1, 2 })
	r := h.do("POST", "/main/v1/api-account", map[string]any{"name": "bulk", "permissions": []string{"seller:read"}, "rate_limit_rps": 100000, "rate_limit_burst": 100000})
	require.Equal(t, 201, r.Status, "%s", r.Raw)
	for i := 0; i < 20; i++ {
		require.Equal(t, 200, h.doAs(r.str("public_id"), r.str("secret"), "GET", "/main/v1/seller?page_size=1", nil).Status, "request %d", i)
	}
}
