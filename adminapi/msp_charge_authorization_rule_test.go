package adminapi_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// oaChargeAuthorizationRule exercises msp-charge-authorization-rule in the
// contract test: the three scopes, normalisation, validation with field
// paths, immutability of the scope, stale updates and the list filters.
func oaChargeAuthorizationRule(t *testing.T, c *oaClient, tag, adminID, customerID string) {
	t.Helper()
	plan := c.do(201, "POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_id": adminID, "name": "Rules " + tag})
	sub := c.do(201, "POST", "/main/v1/msp-token-subscription", map[string]any{"customer_id": customerID, "plan_id": plan.str("id"),
		"valid_from": "2024-01-01T00:00:00Z", "external_reference": "RS-" + tag})
	base := "/main/v1/msp-charge-authorization-rule"

	a := c.do(201, "POST", base, map[string]any{"administration_id": adminID, "name": "No TNM", "effect": "deny",
		"cpo_parties": []string{"nl-tnm", "NL-TNM"}, "valid_from": "2024-01-01T10:15:42Z"})
	require.Equal(t, []any{"NL-TNM"}, a.JSON["cpo_parties"], "parties are upper case, once")
	require.Equal(t, "2024-01-01T10:15:00Z", a.str("valid_from"), "validity bounds are whole minutes")
	require.Nil(t, a.JSON["plan_id"])
	require.Equal(t, "external_reference", a.Header.Get("X-RN-Implicit-Fields"))
	p := c.do(201, "POST", base+"/ext_ref.RP-"+tag, map[string]any{"plan_id": plan.str("id"), "name": "Credit abroad", "effect": "require_credit",
		"cpo_country_codes": []string{"DE", "be"}})
	require.Equal(t, adminID, p.str("administration_id"), "the plan gives the administration")
	s := c.do(201, "POST", base, map[string]any{"subscription_external_reference": "RS-" + tag, "name": "Nights", "effect": "deny",
		"start_time": "22:00", "end_time": "06:00", "days_of_week": []string{"saturday"}, "time_zone": "Europe/Amsterdam",
		"location_ids": []string{"Loc-1"}, "evse_uids": []string{"E1"}})
	require.Equal(t, sub.str("id"), s.str("subscription_id"))
	require.Equal(t, []any{"SATURDAY"}, s.JSON["days_of_week"])

	c.do(200, "GET", base+"/"+a.str("id"), nil)
	c.do(200, "GET", base+"/ext_ref.RP-"+tag, nil)
	u := c.do(200, "POST", base+"/"+s.str("id"), map[string]any{"plan_id": plan.str("id"), "subscription_id": nil, "evse_uids": nil, "name": "Nights off"})
	require.Equal(t, sub.str("id"), u.str("subscription_id"), "the scope is immutable")
	require.Equal(t, []any{}, u.JSON["evse_uids"])
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	c.do(200, "POST", base+"/ext_ref.RP-"+tag, map[string]any{"external_updated_at": t0, "valid_until": "2099-01-01T00:00:00Z"})
	c.do(204, "POST", base+"/ext_ref.RP-"+tag, map[string]any{"external_updated_at": t0.Add(-time.Minute), "effect": "deny"})
	require.Equal(t, "require_credit", c.do(200, "GET", base+"/ext_ref.RP-"+tag, nil).str("effect"))

	bad := c.do(400, "POST", base, map[string]any{"administration_id": adminID, "name": "x", "effect": "deny", "cpo_parties": []string{"NLTNM"},
		"start_time": "23:00", "end_time": "24:00", "time_zone": "Mars/Olympus", "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2024-01-01T00:00:00Z"}, oaDocRejects())
	require.Subset(t, bad.errPaths(), []string{"cpo_parties[0]", "end_time", "time_zone", "valid_until"})
	both := c.do(400, "POST", base, map[string]any{"plan_id": plan.str("id"), "subscription_id": sub.str("id"), "name": "x", "effect": "deny"})
	require.Equal(t, []string{"plan_id"}, both.errPaths())
	c.do(400, "POST", base, map[string]any{"name": "x", "effect": "deny"})
	c.do(400, "POST", base, map[string]any{"administration_id": adminID, "name": "x", "effect": "maybe"}, oaDocRejects())
	c.do(400, "GET", base+"/"+uuid.NewString(), nil)

	l := c.do(200, "GET", base+"?administration_id="+adminID+"&effect=deny&valid_at=2030-01-01T00:00:00Z", nil)
	require.Len(t, l.items(), 2)
	require.Len(t, c.do(200, "GET", base+"?plan_id="+plan.str("id"), nil).items(), 1)
	require.Len(t, c.do(200, "GET", base+"?subscription_id="+sub.str("id")+"&external_reference=none", nil).items(), 0)
	c.do(400, "GET", base+"?effect=deny&valid_at=yesterday", nil, oaDocRejects())
}
