package adminapi_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// ratePlanBody is a valid rate plan of adm: a default rate and a rate for
// DC charging.
func ratePlanBody(adm string) map[string]any {
	return map[string]any{"administration_id": adm, "name": "Standard",
		"rates": []any{
			map[string]any{"code": "std", "components": []any{
				map[string]any{"type": "energy", "unit": "kwh", "price": "0.35", "step_size": 1,
					"credits": map[string]any{"apply": true, "shortfall": "charge_remainder"}},
				map[string]any{"type": "flat", "unit": "session", "price": "0.50"},
			}},
			map[string]any{"code": "dc", "components": []any{map[string]any{"type": "energy", "unit": "kwh", "price": "0.59"}}, "min_price": "1.00"},
		},
		"rules": []any{map[string]any{"rate": "std"}, map[string]any{"rate": "dc", "power_types": []string{"DC"}}}}
}

// ratePlan creates a rate plan of adm and returns its id.
func (h *harness) ratePlan(adm string) string {
	h.t.Helper()
	return h.must(201, h.do("POST", "/main/v1/rate-plan", ratePlanBody(adm))).str("id")
}

func TestRatePlan(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, adm := h.tenant()
	r := h.must(201, h.do("POST", "/main/v1/rate-plan", ratePlanBody(adm)))
	require.Equal(t, "EUR", r.str("currency"), "the currency is the administration's")
	rules := r.JSON["rules"].([]any)
	require.Equal(t, "dc", rules[0].(map[string]any)["rate"], "rules are shown most specific first")
	rate := r.JSON["rates"].([]any)[0].(map[string]any)
	comp := rate["components"].([]any)[0].(map[string]any)
	require.Equal(t, "0.35", comp["price"], "decimals are strings")

	// Nested validation reports field paths.
	bad := ratePlanBody(adm)
	bad["currency"] = "USD"
	bad["rates"] = []any{map[string]any{"code": "x", "components": []any{map[string]any{"type": "energy", "unit": "hour", "price": "-1"}}}}
	bad["rules"] = []any{map[string]any{"rate": "y", "country": "Narnia"}}
	e := h.must(400, h.do("POST", "/main/v1/rate-plan", bad))
	require.ElementsMatch(t, []string{"currency", "rates[0].components[0].unit", "rates[0].components[0].price", "rules[0].rate", "rules[0].country"}, e.fields())

	// Merge-update replaces the rules; currency and owner are fixed.
	id := r.str("id")
	u := h.must(200, h.do("POST", "/main/v1/rate-plan/"+id, map[string]any{"rules": []any{map[string]any{"rate": "std"}}}))
	require.Len(t, u.JSON["rules"], 1)
	h.must(400, h.do("POST", "/main/v1/rate-plan/"+id, map[string]any{"currency": "SEK"}))

	// Sharing: only with administrations of the same currency; an
	// administration whose subscription plans use the rate plan stays.
	sellerID, _ := h.tenant()
	other := h.must(201, h.do("POST", "/main/v1/administration", map[string]any{"name": "Other", "currency": "EUR", "seller_id": sellerID})).str("id")
	sek := h.must(201, h.do("POST", "/main/v1/administration", map[string]any{"name": "Swedish", "currency": "SEK", "seller_id": sellerID})).str("id")
	e = h.must(400, h.do("POST", "/main/v1/rate-plan/"+id, map[string]any{"shared_administration_ids": []string{other, sek, adm}}))
	require.ElementsMatch(t, []string{"shared_administration_ids[1]", "shared_administration_ids[2]"}, e.fields())
	h.must(200, h.do("POST", "/main/v1/rate-plan/"+id, map[string]any{"shared_administration_ids": []string{other}}))
	l := h.must(200, h.do("GET", "/main/v1/rate-plan?administration_id="+other, nil))
	require.Len(t, l.items(), 1, "the administration filter finds plans shared with it")
	h.must(201, h.do("POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_id": other, "name": "P", "rate_plan_id": id}))
	e = h.must(400, h.do("POST", "/main/v1/rate-plan/"+id, map[string]any{"shared_administration_ids": []string{}}))
	require.Equal(t, []string{"shared_administration_ids"}, e.fields())

	// ext_ref create-or-update; an unknown rate plan cannot be a plan's.
	ref := "RP-" + uuid.NewString()[:8]
	h.must(201, h.do("POST", "/main/v1/rate-plan/ext_ref."+ref, ratePlanBody(adm)))
	h.must(200, h.do("POST", "/main/v1/rate-plan/ext_ref."+ref, map[string]any{"name": "Renamed"}))
	require.Equal(t, "Renamed", h.must(200, h.do("GET", "/main/v1/rate-plan/ext_ref."+ref, nil)).str("name"))
	e = h.must(400, h.do("POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_id": adm, "name": "P", "rate_plan_id": uuid.NewString()}))
	require.Equal(t, []string{"rate_plan_id"}, e.fields())
	// A rate plan neither owned by nor shared with the plan's
	// administration cannot be its rate plan (pricing could not use it).
	e = h.must(400, h.do("POST", "/main/v1/msp-token-subscription-plan", map[string]any{"administration_id": sek, "name": "P", "rate_plan_id": id}))
	require.Equal(t, []string{"rate_plan_id"}, e.fields())
}
