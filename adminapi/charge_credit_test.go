package adminapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// subscriptionOf creates a subscription plan and a subscription of a new
// customer in adm, valid since 2024, and returns the subscription's id.
func (h *harness) subscriptionOf(adm string) string {
	h.t.Helper()
	cust := h.customer(adm, nil).str("id")
	plan := h.must(201, h.do("POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_id": adm, "name": "Plan"})).str("id")
	return h.must(201, h.do("POST", "/main/v1/msp-token-subscription", map[string]any{"customer_id": cust, "plan_id": plan,
		"valid_from": "2024-01-01T00:00:00Z"})).str("id")
}

// TestChargeCredit: grants of monetary and energy credits with their
// validation (field paths), balances per kind, the credit list and the
// ledger, scoping, and the outbox events.
func TestChargeCredit(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, adm := h.tenant()
	sub := h.subscriptionOf(adm)
	base := "/main/v1/msp-token-subscription/" + sub

	ref := "CC-" + uuid.NewString()
	m := h.must(201, h.do("POST", base+"/monetary-credit", map[string]any{"amount": "10.50", "valid_from": "2025-01-01T00:00:30Z",
		"description": "welcome", "external_reference": ref}))
	require.Equal(t, "monetary", m.str("kind"))
	require.Equal(t, "EUR", m.str("currency"), "the administration's currency")
	require.Equal(t, "10.5", m.str("balance"))
	require.Equal(t, "2025-01-01T00:00:00Z", m.str("valid_from"), "whole minutes")
	require.Nil(t, m.JSON["valid_until"])
	e := h.must(201, h.do("POST", base+"/energy-credit", map[string]any{"energy": "25", "valid_until": "2099-01-01T00:00:00Z", "typo": 1}))
	require.Equal(t, "typo", e.Header.Get("X-RN-Unknown-Fields"))
	require.Equal(t, "kWh", e.str("unit"))
	require.Nil(t, e.JSON["currency"])

	// Validation: 400 with the body's field paths; nothing is granted.
	for _, tc := range []struct {
		path  string
		body  map[string]any
		field string
	}{
		{"/monetary-credit", map[string]any{}, "amount"},
		{"/monetary-credit", map[string]any{"amount": "0"}, "amount"},
		{"/monetary-credit", map[string]any{"amount": "-5"}, "amount"},
		{"/monetary-credit", map[string]any{"amount": 5}, "amount"},
		{"/energy-credit", map[string]any{"amount": "5"}, "energy"},
		{"/energy-credit", map[string]any{"energy": "5", "valid_from": "2025-01-02T00:00:00Z", "valid_until": "2025-01-01T00:00:00Z"}, "valid_until"},
		{"/monetary-credit", map[string]any{"amount": "1", "external_reference": ref}, "external_reference"},
	} {
		r := h.must(400, h.do("POST", base+tc.path, tc.body))
		require.Contains(t, r.fields(), tc.field, "%v: %s", tc.body, r.Raw)
	}
	h.must(400, h.do("POST", "/main/v1/msp-token-subscription/"+uuid.NewString()+"/monetary-credit", map[string]any{"amount": "1"}))

	// Balances per kind at a moment; credits; the ledger.
	b := h.must(200, h.do("GET", base+"/charge-credit?at=2030-01-01T00:00:00Z", nil))
	require.Equal(t, "10.5", b.JSON["monetary_credit"].(map[string]any)["balance"])
	require.Equal(t, "25", b.JSON["energy_credit"].(map[string]any)["balance"])
	b = h.must(200, h.do("GET", base+"/charge-credit?at=2024-06-01T00:00:00Z", nil))
	require.Nil(t, b.JSON["monetary_credit"], "the monetary credit is not valid yet then")
	h.must(400, h.do("GET", base+"/charge-credit?when=now", nil))
	l := h.must(200, h.do("GET", "/main/v1/charge-credit?subscription_id="+sub, nil))
	require.Len(t, l.items(), 2)
	require.Len(t, h.must(200, h.do("GET", "/main/v1/charge-credit?subscription_id="+sub+"&kind=energy", nil)).items(), 1)
	h.must(400, h.do("GET", "/main/v1/charge-credit?kind=gold", nil))
	g := h.must(200, h.do("GET", "/main/v1/charge-credit/ext_ref."+ref, nil))
	require.Equal(t, m.str("id"), g.str("id"))
	mv := h.must(200, h.do("GET", "/main/v1/charge-credit-movement?subscription_id="+sub, nil))
	require.Len(t, mv.items(), 2)
	for _, it := range mv.items() {
		require.Equal(t, "grant", it["kind"])
		require.Equal(t, it["amount"], it["balance_after"])
	}
	require.Len(t, h.must(200, h.do("GET", "/main/v1/charge-credit-movement?credit_id="+e.str("id")+"&kind=grant", nil)).items(), 1)

	// A defunct subscription gets no credit.
	h.must(200, h.do("POST", base, map[string]any{"defunct": true}))
	r := h.must(400, h.do("POST", base+"/energy-credit", map[string]any{"energy": "1"}))
	require.Contains(t, r.fields(), "id")

	// Scoping: an account of another administration sees none of it.
	_, other := h.tenant()
	u, s := h.account([]string{"token:write"}, []string{other})
	h.must(403, h.doAs(u, s, "POST", "/main/v1/msp-token-subscription/"+h.subscriptionOf(adm)+"/monetary-credit", map[string]any{"amount": "1"}))
	h.must(403, h.doAs(u, s, "GET", "/main/v1/charge-credit/"+m.str("id"), nil))
	h.must(403, h.doAs(u, s, "GET", base+"/charge-credit", nil))
	require.Empty(t, h.must(200, h.doAs(u, s, "GET", "/main/v1/charge-credit?subscription_id="+sub, nil)).items())
	require.Empty(t, h.must(200, h.doAs(u, s, "GET", "/main/v1/charge-credit-movement?subscription_id="+sub, nil)).items())
	ro, rs := h.account([]string{"token:read"}, []string{adm})
	h.must(403, h.doAs(ro, rs, "POST", base+"/monetary-credit", map[string]any{"amount": "1"}))

	// Events: the credit and its grant movement, in the grant's transaction.
	var n int
	require.NoError(t, testDB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox_event
		WHERE kind IN ('charge-credit', 'charge-credit-movement') AND data->>'subscription_id' = $1 AND occurred_at > $2`,
		sub, time.Now().Add(-time.Hour)).Scan(&n))
	require.Equal(t, 4, n)
}

// oaChargeCredit exercises the charge-credit operations for the contract
// test.
func oaChargeCredit(t *testing.T, c *oaClient, tag, adminID, customerID string) {
	t.Helper()
	plan := c.do(201, "POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_id": adminID, "name": "Credits " + tag})
	sub := c.do(201, "POST", "/main/v1/msp-token-subscription", map[string]any{"customer_id": customerID, "plan_id": plan.str("id"),
		"valid_from": "2024-01-01T00:00:00Z"}).str("id")
	base := "/main/v1/msp-token-subscription/" + sub
	m := c.do(201, "POST", base+"/monetary-credit", map[string]any{"amount": "12.5", "external_reference": "OC-" + tag, "description": "d"})
	c.do(201, "POST", base+"/energy-credit", map[string]any{"energy": "30", "valid_from": "2024-02-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z"})
	c.do(400, "POST", base+"/energy-credit", map[string]any{"energy": 3}, oaDocRejects())
	c.do(400, "POST", base+"/monetary-credit", map[string]any{"amount": "0"})
	c.do(200, "GET", base+"/charge-credit", nil)
	c.do(200, "GET", base+"/charge-credit?at=2023-01-01T00:00:00Z", nil)
	c.do(200, "GET", "/main/v1/charge-credit?subscription_id="+sub+"&kind=monetary&valid_at=2030-01-01T00:00:00Z", nil)
	c.do(200, "GET", "/main/v1/charge-credit/"+m.str("id"), nil)
	c.do(200, "GET", "/main/v1/charge-credit/ext_ref.OC-"+tag, nil)
	c.do(400, "GET", "/main/v1/charge-credit/"+uuid.NewString(), nil)
	c.do(200, "GET", "/main/v1/charge-credit-movement?subscription_id="+sub+"&kind=grant", nil)
	c.do(200, "GET", "/main/v1/charge-credit-movement?credit_id="+m.str("id"), nil)
}
