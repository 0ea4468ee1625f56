package adminapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
)

// oaWebhooks exercises the webhook-subscription operations for the
// contract test (TestOpenAPIContract): every success status of every
// operation, the main errors, each answer validated against the document.
// admID and custID are a visible administration and customer.
func oaWebhooks(t *testing.T, c *oaClient, tag string, admID string) {
	t.Helper()
	ctx := context.Background()
	ref := "WH-" + tag
	// A public IP literal: no DNS needed, and not refused as private.
	target := "https://93.184.216.34/hook"
	s := c.do(201, "POST", "/main/v1/webhook-subscription", map[string]any{"url": target, "kinds": []string{"customer", "billing-address.delete"},
		"headers": map[string]any{"X-Api-Key": "receiver-key-0123456789"}, "batch_size": 10})
	require.NotEmpty(t, s.str("secret"))
	require.Equal(t, "external_reference", s.Header.Get("X-RN-Implicit-Fields"))
	require.Equal(t, "…6789", s.JSON["headers"].(map[string]any)["X-Api-Key"], "header values are masked")
	id := s.str("id")
	g := c.do(200, "GET", "/main/v1/webhook-subscription/"+id, nil)
	require.NotContains(t, g.JSON, "secret", "the secret is shown once")
	require.Equal(t, "active", g.str("state"))

	// Validation: private targets (SSRF), kinds, reserved headers, batch.
	for _, u := range []string{"http://127.0.0.1:8080/x", "http://[::1]/", "http://169.254.169.254/latest", "http://10.0.0.7/", "http://localhost/"} {
		r := c.do(400, "POST", "/main/v1/webhook-subscription", map[string]any{"url": u})
		require.Equal(t, []string{"url"}, r.errPaths(), u)
	}
	bad := c.do(400, "POST", "/main/v1/webhook-subscription", map[string]any{"url": "ftp://x", "kinds": []string{"Customer"},
		"headers": map[string]any{"X-RN-Webhook-Signature": "forged"}, "batch_size": 0}, oaDocRejects())
	require.ElementsMatch(t, []string{"url", "kinds[0]", "headers.X-RN-Webhook-Signature", "batch_size"}, bad.errPaths())
	c.do(400, "POST", "/main/v1/webhook-subscription", map[string]any{"kinds": []string{}}, oaDocRejects())

	// Merge-update: the masked header given back keeps its value; pause,
	// resume; create-or-update by reference; stale updates.
	m := c.do(200, "POST", "/main/v1/webhook-subscription/"+id, map[string]any{"headers": g.JSON["headers"], "state": "paused", "name": "CRM"})
	require.Equal(t, "paused", m.str("state"))
	require.Equal(t, false, m.JSON["stale_update"])
	uid := uuid.MustParse(id)
	stored, err := db.WebhookSubscription(ctx, testDB.Pool, &uid, "", false)
	require.NoError(t, err)
	require.Equal(t, "receiver-key-0123456789", stored.Headers["X-Api-Key"])
	require.Equal(t, "active", c.do(200, "POST", "/main/v1/webhook-subscription/"+id, map[string]any{"state": "active"}).str("state"))
	c.do(400, "POST", "/main/v1/webhook-subscription/"+id, map[string]any{"state": "failing"})
	e := c.do(201, "POST", "/main/v1/webhook-subscription/ext_ref."+ref, map[string]any{"url": target, "state": "paused"})
	require.NotEmpty(t, e.str("secret"))
	require.Equal(t, "paused", e.str("state"))
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	c.do(200, "POST", "/main/v1/webhook-subscription/ext_ref."+ref, map[string]any{"external_updated_at": t0, "batch_linger_ms": 500})
	c.do(204, "POST", "/main/v1/webhook-subscription/ext_ref."+ref, map[string]any{"external_updated_at": t0.Add(-time.Second), "batch_size": 3})
	require.Len(t, c.do(200, "GET", "/main/v1/webhook-subscription?state=paused&external_reference="+ref, nil).items(), 1)
	c.do(200, "GET", "/main/v1/webhook-subscription?page_size=2", nil)
	c.do(400, "GET", "/main/v1/webhook-subscription?state=gone", nil, oaDocRejects())

	// Rotation: a new secret, the old one still signs for the overlap.
	rot := c.do(200, "POST", "/main/v1/webhook-subscription/"+id+"/rotate-secret", map[string]any{"overlap_seconds": 3600})
	require.NotEqual(t, s.str("secret"), rot.str("secret"))
	require.NotNil(t, rot.JSON["previous_secret_expires_at"])
	c.do(200, "POST", "/main/v1/webhook-subscription/ext_ref."+ref+"/rotate-secret", nil)
	c.do(400, "POST", "/main/v1/webhook-subscription/"+id+"/rotate-secret", map[string]any{"overlap_seconds": -1}, oaDocRejects())

	// Skip and replay need events the subscription owes: a customer
	// change, and a horizon past it (what the worker's dispatcher does).
	cust := c.do(201, "POST", "/main/v1/customer", map[string]any{"administration_id": admID, "name": "Hook", "country": "NL", "entity_type": "person"})
	var evID uuid.UUID
	var evAt time.Time
	require.NoError(t, testDB.Pool.QueryRow(ctx, "SELECT id, occurred_at FROM outbox_event WHERE kind = 'customer' AND data->>'id' = $1", cust.str("id")).Scan(&evID, &evAt))
	var hz db.Horizon
	require.Eventually(t, func() bool {
		h, err := hz.Advance(ctx, testDB.Pool)
		var seq int64
		_ = testDB.Pool.QueryRow(ctx, "SELECT seq FROM outbox_event WHERE id = $1", evID).Scan(&seq)
		return err == nil && h >= seq
	}, 10*time.Second, 10*time.Millisecond)
	sk := c.do(200, "POST", "/main/v1/webhook-subscription/"+id+"/skip", map[string]any{"through_event_id": evID})
	require.Equal(t, "active", sk.str("state"))
	c.do(400, "POST", "/main/v1/webhook-subscription/"+id+"/skip", map[string]any{"through_event_id": evID}) // already handled
	c.do(400, "POST", "/main/v1/webhook-subscription/"+id+"/skip", map[string]any{"through_event_id": uuid.New()})
	c.do(400, "POST", "/main/v1/webhook-subscription/"+id+"/skip", map[string]any{"through": "x"}, oaDocRejects())
	c.do(200, "POST", "/main/v1/webhook-subscription/"+id+"/replay", map[string]any{"from_event_id": evID})
	c.do(200, "POST", "/main/v1/webhook-subscription/"+id+"/replay", map[string]any{"from": evAt.Add(-time.Second)})
	c.do(400, "POST", "/main/v1/webhook-subscription/"+id+"/replay", map[string]any{})
	c.do(400, "POST", "/main/v1/webhook-subscription/"+id+"/replay", map[string]any{"from": time.Now().Add(time.Hour)})

	// The delivery log has the skip.
	dl := c.do(200, "GET", "/main/v1/webhook-subscription/"+id+"/delivery?outcome=skipped", nil)
	require.Len(t, dl.items(), 1)
	require.Equal(t, evID.String(), dl.items()[0]["last_event_id"])
	c.do(200, "GET", "/main/v1/webhook-subscription/ext_ref."+ref+"/delivery?page_size=10", nil)
	c.do(400, "GET", "/main/v1/webhook-subscription/"+id+"/delivery?after="+uuid.NewString(), nil)
	c.do(400, "GET", "/main/v1/webhook-subscription/"+id+"/delivery?outcome=x", nil, oaDocRejects())
	c.do(400, "GET", "/main/v1/webhook-subscription/"+uuid.NewString()+"/delivery", nil)

	// Permissions: none → 403; a webhook writer holding less than the
	// owner cannot redirect the owner's events.
	none := c.do(201, "POST", "/main/v1/api-account", map[string]any{"name": "no hooks", "permissions": []string{"customer:read"}, "administration_ids": []string{admID}})
	c.do(403, "GET", "/main/v1/webhook-subscription", nil, oaAs(none.str("public_id"), none.str("secret")))
	w := c.do(201, "POST", "/main/v1/api-account", map[string]any{"name": "hooks", "permissions": []string{"webhook:write", "customer:read"}, "administration_ids": []string{admID}})
	wu, wsec := w.str("public_id"), w.str("secret")
	c.do(403, "POST", "/main/v1/webhook-subscription/"+id, map[string]any{"url": "https://93.184.216.35/mine"}, oaAs(wu, wsec))
	c.do(403, "POST", "/main/v1/webhook-subscription/"+id+"/replay", map[string]any{"from_event_id": evID}, oaAs(wu, wsec))
	own := c.do(201, "POST", "/main/v1/webhook-subscription", map[string]any{"url": target}, oaAs(wu, wsec))
	require.Equal(t, w.str("id"), own.str("owner_account_id"))
	c.do(200, "POST", "/main/v1/webhook-subscription/"+own.str("id"), map[string]any{"kinds": []string{"customer"}}, oaAs(wu, wsec))
	c.do(401, "GET", "/main/v1/webhook-subscription/"+id+"/delivery", nil, oaAnonymous())

	// Scope: an account of fewer administrations than the owner neither
	// sees nor deletes the owner's subscription; it lists its own.
	c.do(403, "GET", "/main/v1/webhook-subscription/"+id, nil, oaAs(wu, wsec))
	c.do(403, "GET", "/main/v1/webhook-subscription/"+id+"/delivery", nil, oaAs(wu, wsec))
	c.do(403, "DELETE", "/main/v1/webhook-subscription/"+id, nil, oaAs(wu, wsec))
	for _, it := range c.do(200, "GET", "/main/v1/webhook-subscription?page_size=1000", nil, oaAs(wu, wsec)).items() {
		require.NotEqual(t, id, it["id"])
	}
	// Delete: 204, then the subscription and its log are gone.
	c.do(204, "DELETE", "/main/v1/webhook-subscription/"+own.str("id"), nil, oaAs(wu, wsec))
	c.do(400, "GET", "/main/v1/webhook-subscription/"+own.str("id"), nil)
	c.do(400, "DELETE", "/main/v1/webhook-subscription/"+own.str("id"), nil)
	c.do(400, "DELETE", "/main/v1/webhook-subscription/not-an-id", nil)
	c.do(204, "DELETE", "/main/v1/webhook-subscription/ext_ref."+ref, nil)

	// Every documented input field is known to the server.
	for _, kind := range []string{"Create", "Merge"} {
		b := map[string]any{"zz_made_up": 1}
		for name := range c.spec.doc.Components.Schemas["WebhookSubscription"+kind].Value.Properties {
			b[name] = nil
		}
		r := c.do(400, "POST", "/main/v1/webhook-subscription", b)
		require.Equal(t, "zz_made_up", r.Header.Get("X-RN-Unknown-Fields"), "WebhookSubscription%s documents a field the server does not know", kind)
	}

}
