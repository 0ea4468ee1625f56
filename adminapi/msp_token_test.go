package adminapi_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/token"
)

// evco returns a fresh valid EVCO ID (without check digit) of provider
// NL-RNT, unique per call, and its normalised form with check digit.
func evco(t *testing.T) (given, normalized string) {
	t.Helper()
	inst := strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", "")[:8])
	given = "nl-rnt-c" + strings.ToLower(inst)
	id, err := token.ParseEVCOID(given)
	require.NoError(t, err)
	return given, id.WithCheckDigit().Normalized()
}

// mspSetup is a tenant with a customer, a plan and a subscription.
type mspSetup struct {
	adminID, customerID, planID, subID string
}

func (h *harness) mspTenant() mspSetup {
	_, adm := h.tenant()
	cust := h.customer(adm, nil)
	plan := h.must(201, h.do("POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_id": adm, "name": "Basic",
		"rate_plan_id": h.ratePlan(adm)}))
	sub := h.must(201, h.do("POST", "/main/v1/msp-token-subscription", map[string]any{"customer_id": cust.str("id"), "plan_id": plan.str("id"),
		"valid_from": "2024-01-01T00:00:00Z"}))
	return mspSetup{adminID: adm, customerID: cust.str("id"), planID: plan.str("id"), subID: sub.str("id")}
}

func (h *harness) mspToken(adminID string, extra map[string]any) resp {
	given, _ := evco(h.t)
	b := map[string]any{"administration_id": adminID, "evco_id": given, "uid": "uid-" + uuid.NewString()[:12], "type": "RFID"}
	for k, v := range extra {
		b[k] = v
	}
	return h.must(201, h.do("POST", "/main/v1/msp-token", b))
}

func TestMSPToken(t *testing.T) {
	t.Parallel()
	h := setup(t)
	sellerID, adm := h.tenant()
	given, norm := evco(t)
	uid := "04a1B2c3-" + uuid.NewString()[:8]
	r := h.must(201, h.do("POST", "/main/v1/msp-token", map[string]any{"administration_id": adm, "evco_id": given, "uid": uid,
		"form_factor": "card", "visual_number": "RNT-0001", "language": "nl"}))
	require.Equal(t, norm, r.str("evco_id"), "normalised with check digit")
	require.Equal(t, norm[:2]+"-"+norm[2:5]+"-"+norm[5:14]+"-"+norm[14:], r.str("evco_id_formatted"))
	require.Equal(t, "NL", r.str("country_code"))
	require.Equal(t, "RNT", r.str("party_id"))
	require.Equal(t, uid, r.str("uid"), "original casing kept")
	require.Equal(t, "RFID", r.str("type"), "the OCPI default type")
	require.Equal(t, "external_reference,type", r.Header.Get("X-RN-Implicit-Fields"))
	seller := h.must(200, h.do("GET", "/main/v1/seller/"+sellerID, nil))
	require.Equal(t, seller.str("name"), r.str("issuer"), "the issuer defaults to the seller's name")

	// UIDs are case-insensitive: the same UID in other casing and the same
	// type is a duplicate; another type is another token.
	g2, _ := evco(t)
	dup := h.must(400, h.do("POST", "/main/v1/msp-token", map[string]any{"administration_id": adm, "evco_id": g2, "uid": strings.ToUpper(uid)}))
	require.Equal(t, "duplicate", dup.code())
	require.Equal(t, []string{"uid"}, dup.fields())
	h.must(201, h.do("POST", "/main/v1/msp-token", map[string]any{"administration_id": adm, "evco_id": g2, "uid": strings.ToUpper(uid), "type": "APP_USER"}))
	// The EVCO ID is unique, in any spelling.
	dup = h.must(400, h.do("POST", "/main/v1/msp-token", map[string]any{"administration_id": adm, "evco_id": norm, "uid": "other-" + uuid.NewString()[:8]}))
	require.Equal(t, []string{"evco_id"}, dup.fields())

	// Validation names each bad field.
	bad := h.must(400, h.do("POST", "/main/v1/msp-token", map[string]any{"administration_id": adm, "evco_id": norm[:14] + wrongDigit(norm[14]),
		"uid": "has space", "type": "rfid", "form_factor": "ring", "language": "NLD", "whitelist": "SOMETIMES", "group_id": strings.Repeat("g", 37)}))
	require.ElementsMatch(t, []string{"evco_id", "uid", "type", "form_factor", "language", "whitelist", "group_id"}, bad.fields())
	require.Contains(t, string(bad.Raw), "check digit")
	bad = h.must(400, h.do("POST", "/main/v1/msp-token", map[string]any{"administration_id": adm, "evco_id": "NL-RNT-X12345678", "uid": "é"}))
	require.ElementsMatch(t, []string{"evco_id", "uid"}, bad.fields())

	// Identity is immutable; the rest merges.
	u := h.must(200, h.do("POST", "/main/v1/msp-token/"+r.str("id"), map[string]any{"uid": "changed", "evco_id": g2, "type": "OTHER",
		"whitelist": "NEVER", "brand": "Blue", "visual_number": nil}))
	require.Equal(t, uid, u.str("uid"))
	require.Equal(t, norm, u.str("evco_id"))
	require.Equal(t, "RFID", u.str("type"))
	require.Equal(t, "NEVER", u.str("whitelist"))
	require.Nil(t, u.JSON["visual_number"])

	// Filters: the EVCO ID in any spelling, the UID in any casing.
	for _, q := range []string{"evco_id=" + url.QueryEscape(given), "evco_id=" + norm, "uid=" + url.QueryEscape(strings.ToLower(uid)) + "&type=RFID"} {
		l := h.must(200, h.do("GET", "/main/v1/msp-token?"+q, nil))
		require.Len(t, l.items(), 1, q)
		require.Equal(t, r.str("id"), l.items()[0]["id"], q)
	}
	h.must(400, h.do("GET", "/main/v1/msp-token?evco_id=nonsense", nil))
	h.must(400, h.do("GET", "/main/v1/msp-token?type=CARD", nil))

	// Scoping: an account of another administration sees nothing of it.
	_, other := h.tenant()
	user, secret := h.account([]string{"token:write"}, []string{other})
	h.must(403, h.doAs(user, secret, "GET", "/main/v1/msp-token/"+r.str("id"), nil))
	h.must(403, h.doAs(user, secret, "POST", "/main/v1/msp-token", map[string]any{"administration_id": adm, "evco_id": given, "uid": "x"}))
	require.Empty(t, h.must(200, h.doAs(user, secret, "GET", "/main/v1/msp-token?administration_id="+adm, nil)).items())
	reader, rsecret := h.account([]string{"customer:read"}, []string{adm})
	h.must(403, h.doAs(reader, rsecret, "GET", "/main/v1/msp-token", nil))
}

// wrongDigit returns a check digit other than d.
func wrongDigit(d byte) string {
	if d == '0' {
		return "1"
	}
	return "0"
}

func TestMSPTokenEVCOValidate(t *testing.T) {
	t.Parallel()
	h := setup(t)
	r := h.must(200, h.do("POST", "/main/v1/msp-token-evco-id/validate", map[string]any{"evco_id": "nl-tdr-ca1b2c3d4"}))
	require.Equal(t, "NLTDRCA1B2C3D4E", r.str("normalized"))
	require.Equal(t, "NL-TDR-CA1B2C3D4-E", r.str("formatted"))
	require.Equal(t, "E", r.str("check_digit"))
	require.Equal(t, false, r.JSON["check_digit_given"])
	require.Equal(t, "TDR", r.str("provider_id"))
	r = h.must(200, h.do("POST", "/main/v1/msp-token-evco-id/validate", map[string]any{"evco_id": "NLABCC11222344X", "evco": 1}))
	require.Equal(t, "NL-ABC-C11222344-X", r.str("formatted"))
	require.Equal(t, true, r.JSON["check_digit_given"])
	require.Equal(t, "evco", r.Header.Get("X-RN-Unknown-Fields"))
	bad := h.must(400, h.do("POST", "/main/v1/msp-token-evco-id/validate", map[string]any{"evco_id": "NL-TDR-CA1B2C3D4-F"}))
	require.Equal(t, []string{"evco_id"}, bad.fields())
	require.Contains(t, string(bad.Raw), "check digit 'F' is wrong, expected 'E'")
	h.must(400, h.do("POST", "/main/v1/msp-token-evco-id/validate", map[string]any{}))
	h.must(400, h.do("POST", "/main/v1/msp-token-evco-id/validate", "nope"))
}

func TestMSPTokenLinksOneSubscriptionAtATime(t *testing.T) {
	t.Parallel()
	h := setup(t)
	s := h.mspTenant()
	sub2 := h.must(201, h.do("POST", "/main/v1/msp-token-subscription", map[string]any{"customer_id": s.customerID, "plan_id": s.planID,
		"valid_from": "2024-01-01T00:00:00Z"})).str("id")
	tok := h.mspToken(s.adminID, nil).str("id")

	l1 := h.must(201, h.do("POST", "/main/v1/msp-token-link", map[string]any{"token_id": tok, "subscription_id": s.subID,
		"valid_from": "2024-01-01T00:00:59Z"}))
	require.Equal(t, "2024-01-01T00:00:00Z", l1.str("valid_from"), "whole minutes")
	// Overlap with another subscription: refused by the database.
	ov := h.must(400, h.do("POST", "/main/v1/msp-token-link", map[string]any{"token_id": tok, "subscription_id": sub2,
		"valid_from": "2024-06-01T00:00:00Z"}))
	require.Equal(t, "overlapping_validity", ov.code())
	// Hand-over: the old link ends when the new one starts.
	h.must(200, h.do("POST", "/main/v1/msp-token-link/"+l1.str("id"), map[string]any{"valid_until": "2024-06-01T00:00:00Z"}))
	l2 := h.must(201, h.do("POST", "/main/v1/msp-token-link", map[string]any{"token_id": tok, "subscription_id": sub2,
		"valid_from": "2024-06-01T00:00:00Z"}))
	// Stretching the old link back over the new one is refused too.
	h.must(400, h.do("POST", "/main/v1/msp-token-link/"+l1.str("id"), map[string]any{"valid_until": "2024-06-01T00:01:00Z"}))
	// A defunct link does not count, and defunct is final.
	h.must(200, h.do("POST", "/main/v1/msp-token-link/"+l2.str("id"), map[string]any{"defunct": true}))
	h.must(201, h.do("POST", "/main/v1/msp-token-link", map[string]any{"token_id": tok, "subscription_id": sub2, "valid_from": "2024-07-01T00:00:00Z"}))
	undo := h.must(400, h.do("POST", "/main/v1/msp-token-link/"+l2.str("id"), map[string]any{"defunct": false}))
	require.Equal(t, []string{"defunct"}, undo.fields())
	// Periods must not be empty.
	h.must(400, h.do("POST", "/main/v1/msp-token-link", map[string]any{"token_id": tok, "subscription_id": s.subID,
		"valid_from": "2020-01-01T00:00:10Z", "valid_until": "2020-01-01T00:00:50Z"}))
	l := h.must(200, h.do("GET", "/main/v1/msp-token-link?token_id="+tok+"&valid_at=2024-03-01T00:00:00Z", nil))
	require.Len(t, l.items(), 1)
	require.Equal(t, l1.str("id"), l.items()[0]["id"])
	require.Len(t, h.must(200, h.do("GET", "/main/v1/msp-token-link?token_id="+tok+"&defunct=true", nil)).items(), 1)
	h.must(400, h.do("GET", "/main/v1/msp-token-link?defunct=yes", nil))
}

func TestMSPTokenSubscriptionDefunctMarksLinksDefunct(t *testing.T) {
	t.Parallel()
	h := setup(t)
	s := h.mspTenant()
	t1, t2 := h.mspToken(s.adminID, nil).str("id"), h.mspToken(s.adminID, nil).str("id")
	l1 := h.must(201, h.do("POST", "/main/v1/msp-token-link", map[string]any{"token_id": t1, "subscription_id": s.subID})).str("id")
	l2 := h.must(201, h.do("POST", "/main/v1/msp-token-link", map[string]any{"token_id": t2, "subscription_id": s.subID,
		"valid_from": "2024-02-01T00:00:00Z"})).str("id")

	d := h.must(200, h.do("POST", "/main/v1/msp-token-subscription/"+s.subID, map[string]any{"defunct": true}))
	require.Equal(t, true, d.JSON["defunct"])
	for _, id := range []string{l1, l2} {
		require.Equal(t, true, h.must(200, h.do("GET", "/main/v1/msp-token-link/"+id, nil)).JSON["defunct"])
	}
	// Each link change has its event, in the same transaction as the subscription's.
	var n int
	require.NoError(t, testDB.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM outbox_event WHERE kind = 'msp-token-link' AND modification_kind = 'update' AND data->>'subscription_id' = $1 AND (data->>'defunct')::bool`,
		s.subID).Scan(&n))
	require.Equal(t, 2, n)
	// Final, and no new links on a defunct subscription.
	h.must(400, h.do("POST", "/main/v1/msp-token-subscription/"+s.subID, map[string]any{"defunct": false}))
	nl := h.must(400, h.do("POST", "/main/v1/msp-token-link", map[string]any{"token_id": t1, "subscription_id": s.subID}))
	require.Equal(t, []string{"subscription_id"}, nl.fields())
	// The token is free for another subscription over the same period.
	sub2 := h.must(201, h.do("POST", "/main/v1/msp-token-subscription", map[string]any{"customer_id": s.customerID, "plan_id": s.planID,
		"valid_from": "2024-01-01T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z", "buyer_reference": "PO-1"}))
	h.must(201, h.do("POST", "/main/v1/msp-token-link", map[string]any{"token_id": t1, "subscription_id": sub2.str("id")}))

	// Subscription rules: a start is required, the end after it.
	bad := h.must(400, h.do("POST", "/main/v1/msp-token-subscription", map[string]any{"customer_id": s.customerID, "plan_id": s.planID}))
	require.Equal(t, []string{"valid_from"}, bad.fields())
	h.must(400, h.do("POST", "/main/v1/msp-token-subscription", map[string]any{"customer_id": s.customerID, "plan_id": s.planID,
		"valid_from": "2024-01-01T00:00:00Z", "valid_until": "2023-01-01T00:00:00Z"}))
	h.must(400, h.do("POST", "/main/v1/msp-token-subscription", map[string]any{"customer_id": s.customerID, "plan_id": uuid.NewString(),
		"valid_from": "2024-01-01T00:00:00Z"}))
	l := h.must(200, h.do("GET", "/main/v1/msp-token-subscription?customer_id="+s.customerID+"&defunct=false&valid_at=2029-01-01T00:00:00Z", nil))
	require.Len(t, l.items(), 1)
	require.Equal(t, sub2.str("id"), l.items()[0]["id"])
}

func TestMSPTokenSubscriptionPlan(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, adm := h.tenant()
	ref := "PLAN-" + uuid.NewString()[:8]
	p := h.must(201, h.do("POST", "/main/v1/msp-token-subscription-plan/ext_ref."+ref, map[string]any{"administration_id": adm, "name": " Basic ",
		"publish_from": "2024-01-01T00:00:30Z", "description": "line one\nline two"}))
	require.Equal(t, "Basic", p.str("name"))
	require.Equal(t, "2024-01-01T00:00:00Z", p.str("publish_from"))
	require.Equal(t, "rate_plan_id", p.Header.Get("X-RN-Implicit-Fields"))
	rp := h.ratePlan(adm)
	u := h.must(200, h.do("POST", "/main/v1/msp-token-subscription-plan/ext_ref."+ref, map[string]any{"rate_plan_id": rp}))
	require.Equal(t, rp, u.str("rate_plan_id"))
	require.Equal(t, false, u.JSON["use_customer_reimbursement_vat"], "off unless set")

	// "Use Customer Reimbursement VAT" is kept through merge-updates until
	// changed; the rate plan can be named by its external reference.
	u = h.must(200, h.do("POST", "/main/v1/msp-token-subscription-plan/ext_ref."+ref, map[string]any{"use_customer_reimbursement_vat": true}))
	require.Equal(t, true, u.JSON["use_customer_reimbursement_vat"])
	u = h.must(200, h.do("POST", "/main/v1/msp-token-subscription-plan/ext_ref."+ref, map[string]any{"description": "d"}))
	require.Equal(t, true, u.JSON["use_customer_reimbursement_vat"])
	rpRef := "RP-" + uuid.NewString()[:8]
	body := ratePlanBody(adm)
	body["name"] = "By reference"
	rp2 := h.must(201, h.do("POST", "/main/v1/rate-plan/ext_ref."+rpRef, body)).str("id")
	u = h.must(200, h.do("POST", "/main/v1/msp-token-subscription-plan/ext_ref."+ref, map[string]any{"rate_plan_external_reference": rpRef}))
	require.Equal(t, rp2, u.str("rate_plan_id"))
	e := h.must(400, h.do("POST", "/main/v1/msp-token-subscription-plan/ext_ref."+ref, map[string]any{"rate_plan_external_reference": "nope-" + rpRef}))
	require.Equal(t, []string{"rate_plan_external_reference"}, e.fields())
	e = h.must(400, h.do("POST", "/main/v1/msp-token-subscription-plan/ext_ref."+ref, map[string]any{"use_customer_reimbursement_vat": "yes"}))
	require.Equal(t, []string{"use_customer_reimbursement_vat"}, e.fields())
	bad := h.must(400, h.do("POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_id": adm, "name": "",
		"publish_from": "2024-01-01T00:00:00Z", "publish_until": "2023-01-01T00:00:00Z"}))
	require.ElementsMatch(t, []string{"name", "publish_until"}, bad.fields())
	require.Len(t, h.must(200, h.do("GET", "/main/v1/msp-token-subscription-plan?administration_id="+adm, nil)).items(), 1)
}

// oaMSPToken exercises every MSP token operation for the OpenAPI contract
// test (each answer is validated against the document there).
func oaMSPToken(t *testing.T, c *oaClient, tag string, adminID, customerID string) {
	t.Helper()
	// stale sends an update with an external_updated_at, then an older one (204).
	newer, old := time.Now().Add(-time.Hour), time.Now().Add(-2*time.Hour)
	stale := func(path string) {
		c.do(200, "POST", path, map[string]any{"external_updated_at": newer})
		c.do(204, "POST", path, map[string]any{"external_updated_at": old})
	}
	given, norm := evco(t)
	plan := c.do(201, "POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_id": adminID, "name": "Plan " + tag,
		"rate_plan_id": nil, "publish_from": "2024-01-01T00:00:00Z"})
	c.do(200, "GET", "/main/v1/msp-token-subscription-plan/"+plan.str("id"), nil)
	c.do(200, "GET", "/main/v1/msp-token-subscription-plan?administration_id="+adminID, nil)
	c.do(200, "POST", "/main/v1/msp-token-subscription-plan/"+plan.str("id"), map[string]any{"description": "d", "use_customer_reimbursement_vat": true})
	c.do(201, "POST", "/main/v1/msp-token-subscription-plan/ext_ref.P-"+tag, map[string]any{"administration_id": adminID, "name": "By ref"})
	stale("/main/v1/msp-token-subscription-plan/ext_ref.P-" + tag)

	tok := c.do(201, "POST", "/main/v1/msp-token", map[string]any{"administration_id": adminID, "evco_id": given, "uid": "OA-" + tag,
		"type": "RFID", "form_factor": "card", "whitelist": "ALLOWED", "language": "en"})
	require.Equal(t, norm, tok.str("evco_id"))
	c.do(200, "GET", "/main/v1/msp-token/"+tok.str("id"), nil)
	c.do(200, "GET", "/main/v1/msp-token?evco_id="+norm+"&uid=oa-"+tag+"&type=RFID", nil)
	c.do(200, "POST", "/main/v1/msp-token/"+tok.str("id"), map[string]any{"brand": "B"})
	g2, _ := evco(t)
	c.do(201, "POST", "/main/v1/msp-token/ext_ref.T-"+tag, map[string]any{"administration_id": adminID, "evco_id": g2, "uid": "OA2-" + tag})
	stale("/main/v1/msp-token/ext_ref.T-" + tag)

	sub := c.do(201, "POST", "/main/v1/msp-token-subscription", map[string]any{"customer_id": customerID, "plan_id": plan.str("id"),
		"valid_from": "2024-01-01T00:00:00Z"})
	c.do(200, "GET", "/main/v1/msp-token-subscription/"+sub.str("id"), nil)
	c.do(200, "GET", "/main/v1/msp-token-subscription?customer_id="+customerID+"&defunct=false&valid_at=2024-02-01T00:00:00Z", nil)
	c.do(200, "POST", "/main/v1/msp-token-subscription/"+sub.str("id"), map[string]any{"buyer_reference": "PO"})
	c.do(201, "POST", "/main/v1/msp-token-subscription/ext_ref.S-"+tag, map[string]any{"customer_id": customerID, "plan_id": plan.str("id"),
		"valid_from": "2024-01-01T00:00:00Z"})
	stale("/main/v1/msp-token-subscription/ext_ref.S-" + tag)

	link := c.do(201, "POST", "/main/v1/msp-token-link", map[string]any{"token_id": tok.str("id"), "subscription_id": sub.str("id"),
		"valid_from": "2024-01-01T00:00:00Z", "valid_until": "2024-06-01T00:00:00Z"})
	c.do(200, "GET", "/main/v1/msp-token-link/"+link.str("id"), nil)
	c.do(200, "GET", "/main/v1/msp-token-link?token_id="+tok.str("id")+"&defunct=false", nil)
	c.do(200, "POST", "/main/v1/msp-token-link/"+link.str("id"), map[string]any{"valid_until": "2024-07-01T00:00:00Z"})
	c.do(201, "POST", "/main/v1/msp-token-link/ext_ref.L-"+tag, map[string]any{"token_id": tok.str("id"), "subscription_id": sub.str("id"),
		"valid_from": "2024-07-01T00:00:00Z"})
	stale("/main/v1/msp-token-link/ext_ref.L-" + tag)
	ov := c.do(400, "POST", "/main/v1/msp-token-link", map[string]any{"token_id": tok.str("id"), "subscription_id": sub.str("id")})
	require.Equal(t, "overlapping_validity", ov.errCode())

	v := c.do(200, "POST", "/main/v1/msp-token-evco-id/validate", map[string]any{"evco_id": given})
	require.Equal(t, norm, v.str("normalized"))
	c.do(400, "POST", "/main/v1/msp-token-evco-id/validate", map[string]any{"evco_id": "XX"})

	// Every documented input field is one the server knows.
	for seg, schema := range map[string]string{"msp-token": "MspToken", "msp-token-subscription-plan": "MspTokenSubscriptionPlan",
		"msp-token-subscription": "MspTokenSubscription", "msp-token-link": "MspTokenLink"} {
		for _, kind := range []string{"Create", "Merge"} {
			b := map[string]any{"zz_made_up": 1}
			for name := range c.spec.doc.Components.Schemas[schema+kind].Value.Properties {
				b[name] = nil
			}
			r := c.do(400, "POST", "/main/v1/"+seg, b)
			require.Equal(t, "zz_made_up", r.Header.Get("X-RN-Unknown-Fields"), fmt.Sprintf("%s%s documents a field the server does not know", schema, kind))
		}
	}
}
