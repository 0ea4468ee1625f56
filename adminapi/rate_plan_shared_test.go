package adminapi_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/rateplan"
	"github.com/roamnode/roamnode/domain/session"
)

// TestSharedRatePlanPricing: a subscription plan of administration B uses
// a rate plan that administration A owns and shares with B (guide 003 →
// Rate plan: shareable with administrations of its currency); a session of
// B's token (a partner CDR over OCPI) is priced by the pipeline with that
// rate plan, with B's VAT (its seller's, Malta 18 %) and attributed to B.
// A rate plan that is not shared with an administration of the same
// currency cannot become the rate plan of its subscription plans (400 on
// rate_plan_id, by id, by external reference, and on a merge-update); and
// should the sharing be gone when a session is priced, the session drops
// out (Rate plan not usable by the administration).
func TestSharedRatePlanPricing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := setup(t)
	f := newPricingFixture(t) // administration B: its customer, subscription, plan and token
	_, adminA := h.tenant()   // administration A (an NL seller), EUR
	ref := "RP-SHARED-" + uuid.NewString()[:8]
	rp := h.must(201, h.do("POST", "/main/v1/rate-plan/ext_ref."+ref, map[string]any{"administration_id": adminA, "name": "A's rates",
		"rates": []any{map[string]any{"code": "a-std", "components": []any{
			map[string]any{"type": "energy", "unit": "kwh", "price": "0.41"},
			map[string]any{"type": "flat", "unit": "session", "price": "0.20"}}}},
		"rules": []any{map[string]any{"rate": "a-std"}}, "shared_administration_ids": []string{f.admin.String()}}))
	rpID := rp.str("id")
	require.Equal(t, adminA, rp.str("administration_id"))
	require.Equal(t, []any{f.admin.String()}, rp.JSON["shared_administration_ids"])

	// B's plan takes A's shared rate plan.
	h.must(200, h.do("POST", "/main/v1/msp-token-subscription-plan/"+f.plan.String(), map[string]any{"rate_plan_id": rpID}))

	id := f.postCDR(h.app, f.cdr("SHR-"+f.party, "15"))
	require.NoError(t, pricingProcessor(t).Process(ctx, id))
	rec := h.session(id)
	require.Equal(t, session.Priced, rec.State, "drop-out: %s %s", deref(rec.DropoutReason), deref(rec.DropoutDetail))
	require.Equal(t, &f.admin, rec.AdministrationID)
	g := h.must(200, h.do("GET", "/main/v1/msp-charge-session-priced/"+id.String(), nil))
	price := g.JSON["price"].(map[string]any)
	// 15 kWh × 0.41 = 6.15 + 0.20; B's VAT (Malta 18 %): 1.107 → 1.11, 0.036 → 0.04.
	require.Equal(t, "6.35", price["excl_vat"])
	require.Equal(t, "1.15", price["vat"])
	require.Equal(t, "7.5", price["incl_vat"])
	require.Equal(t, f.admin.String(), price["administration_id"], "the result is B's")
	detail := price["detail"].(map[string]any)
	require.Equal(t, rpID, detail["rate_plan_id"], "priced with A's rate plan")
	require.Equal(t, "a-std", detail["rate"])
	require.Equal(t, f.plan.String(), detail["subscription_plan_id"])
	require.Equal(t, f.sub.String(), detail["subscription_id"])
	// B's accounts see the priced session; A's do not (sharing a rate plan
	// shares no sessions).
	ub, sb := h.account([]string{"charge-session:read"}, []string{f.admin.String()})
	h.must(200, h.doAs(ub, sb, "GET", "/main/v1/msp-charge-session-priced/"+id.String(), nil))
	ua, sa := h.account([]string{"charge-session:read"}, []string{adminA})
	h.must(403, h.doAs(ua, sa, "GET", "/main/v1/msp-charge-session-priced/"+id.String(), nil))

	// An administration of the same currency that A did not share with:
	// its subscription plans cannot take the rate plan (the existing test
	// refuses it for an administration of another currency only).
	sellerC, _ := h.tenant()
	adminC := h.must(201, h.do("POST", "/main/v1/administration", map[string]any{"name": "C", "currency": "EUR", "seller_id": sellerC})).str("id")
	e := h.must(400, h.do("POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_id": adminC, "name": "C plan", "rate_plan_id": rpID}))
	require.Equal(t, []string{"rate_plan_id"}, e.fields())
	e = h.must(400, h.do("POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_id": adminC, "name": "C plan",
		"rate_plan_external_reference": ref}))
	require.Equal(t, []string{"rate_plan_id"}, e.fields())
	planC := h.must(201, h.do("POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_id": adminC, "name": "C plan"})).str("id")
	e = h.must(400, h.do("POST", "/main/v1/msp-token-subscription-plan/"+planC, map[string]any{"rate_plan_id": rpID}))
	require.Equal(t, []string{"rate_plan_id"}, e.fields())
	require.Nil(t, h.must(200, h.do("GET", "/main/v1/msp-token-subscription-plan/"+planC, nil)).JSON["rate_plan_id"], "nothing changed")

	// The rate plan is no longer shared with B when the next session is
	// priced (the Admin API refuses withdrawing it from an administration
	// whose plans use it; data loaded around it can still end up so):
	// pricing refuses to use it.
	_, err := testDB.Pool.Exec(ctx, `UPDATE rate_plan SET shared_administration_ids = '{}', updated_at = now() WHERE id = $1`, rpID)
	require.NoError(t, err)
	id2 := f.postCDR(h.app, f.cdr("SHR2-"+f.party, "15"))
	require.NoError(t, pricingProcessor(t).Process(ctx, id2))
	rec = h.session(id2)
	require.Equal(t, session.DroppedOut, rec.State)
	require.Equal(t, rateplan.ReasonRatePlanNotValid, deref(rec.DropoutReason))
	require.Equal(t, string(session.CheckPricingConfigured), deref(rec.DropoutCheck))
}
