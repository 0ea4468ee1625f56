package adminapi_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// correctionSetup is an administration with two plans, a customer's
// subscription since 2024 and a token linked to it without bounds.
type correctionSetup struct {
	adm, cust, planA, planB, sub, tok, link string
}

func (h *harness) correctionSetup() correctionSetup {
	h.t.Helper()
	var s correctionSetup
	_, s.adm = h.tenant()
	s.cust = h.customer(s.adm, nil).str("id")
	for _, p := range []*string{&s.planA, &s.planB} {
		*p = h.must(201, h.do("POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_id": s.adm, "name": "Plan"})).str("id")
	}
	s.sub = h.must(201, h.do("POST", "/main/v1/msp-token-subscription", map[string]any{"customer_id": s.cust, "plan_id": s.planA,
		"valid_from": "2024-01-01T00:00:00Z"})).str("id")
	given, _ := evco(h.t)
	s.tok = h.must(201, h.do("POST", "/main/v1/msp-token", map[string]any{"administration_id": s.adm, "evco_id": given,
		"uid": "C" + uuid.NewString()[:8], "type": "RFID"})).str("id")
	s.link = h.must(201, h.do("POST", "/main/v1/msp-token-link", map[string]any{"token_id": s.tok, "subscription_id": s.sub})).str("id")
	return s
}

// TestSubscriptionCorrection: a split from a date (the old subscription
// ends, a new one with the new plan takes the token, its link split at the
// date), the validation errors with field paths, a failing correction
// writing nothing, a move to another subscription, an in-place correction,
// and the older PUT form.
func TestSubscriptionCorrection(t *testing.T) {
	t.Parallel()
	h := setup(t)
	s := h.correctionSetup()
	path := "/main/v1/msp-token-subscription/" + s.sub + "/plan-or-customer-correction"

	// Validation: field paths, nothing written.
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"new_plan_id": s.planB}, "valid_from"},
		{map[string]any{"valid_from": "2025-01-01T00:00:00Z", "new_plan_id": s.planA}, "new_plan_id"},
		{map[string]any{"valid_from": "2025-01-01T00:00:00Z", "new_plan_id": s.planB, "new_plan_external_reference": "x"}, "new_plan_id"},
		{map[string]any{"valid_from": "2025-01-01T00:00:00Z", "new_plan_external_reference": "no-such-" + uuid.NewString()}, "new_plan_external_reference"},
		{map[string]any{"valid_from": "2025-01-01T00:00:00Z", "new_plan_id": s.planB, "token_ids": []string{uuid.NewString()}}, "token_ids[0]"},
		{map[string]any{"valid_from": "2025-01-01T00:00:00Z", "new_plan_id": s.planB, "target_subscription_id": s.sub}, "target_subscription_id"},
		{map[string]any{"valid_from": "yesterday", "new_plan_id": s.planB}, "valid_from"},
	} {
		r := h.must(400, h.do("POST", path, tc.body))
		require.Contains(t, r.fields(), tc.field, "%v: %s", tc.body, r.Raw)
	}
	_, other := h.tenant()
	foreign := h.must(201, h.do("POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_id": other, "name": "F"})).str("id")
	require.Contains(t, h.must(400, h.do("POST", path, map[string]any{"valid_from": "2025-01-01T00:00:00Z", "new_plan_id": foreign})).fields(), "new_plan_id")

	// A failing correction (duplicate reference of the new subscription)
	// leaves the subscription and its link as they were.
	dup := "SUB-" + uuid.NewString()
	h.must(201, h.do("POST", "/main/v1/msp-token-subscription/ext_ref."+dup, map[string]any{"customer_id": s.cust, "plan_id": s.planA,
		"valid_from": "2024-01-01T00:00:00Z"}))
	r := h.must(400, h.do("POST", path, map[string]any{"valid_from": "2025-01-01T00:00:00Z", "new_plan_id": s.planB, "new_subscription_external_reference": dup}))
	require.Contains(t, r.fields(), "new_subscription_external_reference")
	require.Nil(t, h.must(200, h.do("GET", "/main/v1/msp-token-subscription/"+s.sub, nil)).JSON["valid_until"])
	require.Nil(t, h.must(200, h.do("GET", "/main/v1/msp-token-link/"+s.link, nil)).JSON["valid_until"])

	// The split.
	r = h.must(200, h.do("POST", path, map[string]any{"valid_from": "2025-01-01T00:00:40Z", "new_plan_id": s.planB, "reason": "sold the wrong plan", "x": 1}))
	require.Equal(t, "x", r.Header.Get("X-RN-Unknown-Fields"))
	require.Equal(t, "split", r.str("mode"))
	require.Contains(t, r.str("reason"), "sold the wrong plan")
	require.Equal(t, "2025-01-01T00:00:00Z", r.JSON["subscription"].(map[string]any)["valid_until"])
	ns := r.JSON["new_subscription"].(map[string]any)
	require.Equal(t, s.planB, ns["plan_id"])
	require.Equal(t, s.cust, ns["customer_id"])
	require.Equal(t, "2025-01-01T00:00:00Z", ns["valid_from"])
	require.Len(t, r.JSON["links"], 2)
	require.Empty(t, r.JSON["repriced_charge_session_ids"], "no priced sessions yet")
	links := h.must(200, h.do("GET", "/main/v1/msp-token-link?token_id="+s.tok, nil)).items()
	require.Len(t, links, 2)
	require.Equal(t, "2025-01-01T00:00:00Z", links[0]["valid_until"])
	require.Equal(t, "2025-01-01T00:00:00Z", links[1]["valid_from"])
	require.Equal(t, ns["id"], links[1]["subscription_id"])
	var events int
	require.NoError(t, testDB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox_event
		WHERE (kind = 'msp-token-subscription' AND data->>'id' IN ($1, $2)) OR (kind = 'msp-token-link' AND data->>'token_id' = $3)`,
		s.sub, ns["id"], s.tok).Scan(&events))
	require.Equal(t, 3+3, events, "subscription create and update, new subscription create; link create, update, continuation create")

	// A move of the token from the new subscription to another one.
	target := h.must(201, h.do("POST", "/main/v1/msp-token-subscription", map[string]any{"customer_id": s.cust, "plan_id": s.planA,
		"valid_from": "2024-01-01T00:00:00Z"})).str("id")
	mv := h.must(200, h.do("POST", "/main/v1/msp-token-subscription/"+ns["id"].(string)+"/plan-or-customer-correction",
		map[string]any{"valid_from": "2025-06-01T00:00:00Z", "target_subscription_id": target, "token_ids": []string{s.tok}}))
	require.Equal(t, "move", mv.str("mode"))
	require.Equal(t, target, mv.JSON["target_subscription"].(map[string]any)["id"])
	require.Nil(t, mv.JSON["subscription"].(map[string]any)["valid_until"], "a move leaves the source's period alone")
	require.Len(t, h.must(200, h.do("GET", "/main/v1/msp-token-link?subscription_id="+target, nil)).items(), 1)

	// In place: another customer for the whole of the old subscription,
	// with the older PUT form.
	cust2 := h.customer(s.adm, nil).str("id")
	ip := h.must(200, h.do("PUT", path, map[string]any{"valid_from": "2023-01-01T00:00:00Z", "new_customer_id": cust2}))
	require.Equal(t, "in_place", ip.str("mode"))
	require.Equal(t, cust2, ip.JSON["subscription"].(map[string]any)["customer_id"])
	require.Nil(t, ip.JSON["new_subscription"])

	// Scoping and permissions.
	u, sec := h.account([]string{"token:write"}, []string{other})
	h.must(403, h.doAs(u, sec, "POST", path, map[string]any{"valid_from": "2025-01-01T00:00:00Z", "new_plan_id": s.planB}))
	ro, rs := h.account([]string{"token:read"}, []string{s.adm})
	h.must(403, h.doAs(ro, rs, "POST", path, map[string]any{"valid_from": "2025-01-01T00:00:00Z", "new_plan_id": s.planB}))
}

// oaSubscriptionCorrection exercises the correction (POST and PUT) for the
// contract test.
func oaSubscriptionCorrection(t *testing.T, c *oaClient, tag, adminID, customerID string) {
	t.Helper()
	plan := func(name string) string {
		return c.do(201, "POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_id": adminID, "name": name + " " + tag,
			"external_reference": name + "-" + tag}).str("id")
	}
	a, _ := plan("CorrA"), plan("CorrB")
	sub := c.do(201, "POST", "/main/v1/msp-token-subscription", map[string]any{"customer_id": customerID, "plan_id": a,
		"valid_from": "2024-01-01T00:00:00Z"}).str("id")
	given, _ := evco(t)
	tok := c.do(201, "POST", "/main/v1/msp-token", map[string]any{"administration_id": adminID, "evco_id": given, "uid": "OC-" + tag, "type": "RFID"})
	c.do(201, "POST", "/main/v1/msp-token-link", map[string]any{"token_id": tok.str("id"), "subscription_id": sub, "valid_from": "2024-01-01T00:00:00Z"})
	p := "/main/v1/msp-token-subscription/" + sub + "/plan-or-customer-correction"
	r := c.do(200, "POST", p, map[string]any{"valid_from": "2025-01-01T00:00:00Z", "new_plan_external_reference": "CorrB-" + tag,
		"new_subscription_external_reference": "OCS-" + tag, "reason": "oa"})
	c.do(200, "PUT", p, map[string]any{"valid_from": "2023-01-01T00:00:00Z", "new_plan_id": r.JSON["new_subscription"].(map[string]any)["plan_id"]})
	c.do(400, "POST", p, map[string]any{"new_plan_id": a}, oaDocRejects())
	c.do(400, "POST", p, map[string]any{"valid_from": "2025-01-01T00:00:00Z", "token_ids": []string{uuid.NewString()}, "new_plan_id": a})
}
