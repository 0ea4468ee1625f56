package adminapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/vat"
)

// TestVATRateCRUDAndValidation: a VAT rate is created, read, listed,
// merge-updated; bad input is a 400 naming every bad field; two rates of
// one country and kind may not overlap.
func TestVATRateCRUDAndValidation(t *testing.T) {
	h := setup(t)
	kind := "k" + uuid.NewString()[:8] // a kind of the test's own (rates are instance-wide)
	r := h.must(201, h.do("POST", "/main/v1/vat-rate", map[string]any{"country": "nl", "kind": kind, "percentage": "21",
		"valid_from": "2019-01-01T00:00:30Z", "valid_until": "2030-01-01T00:00:00Z"}))
	require.Equal(t, "NL", r.str("country"), "country is stored upper case")
	require.Equal(t, "21", r.str("percentage"))
	require.Equal(t, "2019-01-01T00:00:00Z", r.str("valid_from"), "validity truncated to the minute")
	require.Equal(t, "external_reference", r.Header.Get("X-RN-Implicit-Fields"))
	id := r.str("id")

	h.must(200, h.do("GET", "/main/v1/vat-rate/"+id, nil))
	l := h.must(200, h.do("GET", "/main/v1/vat-rate?kind="+kind+"&valid_at=2025-01-01T00:00:00Z", nil))
	require.Len(t, l.items(), 1)
	l = h.must(200, h.do("GET", "/main/v1/vat-rate?kind="+kind+"&valid_at=2031-01-01T00:00:00Z", nil))
	require.Empty(t, l.items())

	u := h.must(200, h.do("POST", "/main/v1/vat-rate/"+id, map[string]any{"percentage": "21.5"}))
	require.Equal(t, "21.5", u.str("percentage"))
	require.Equal(t, false, u.JSON["stale_update"])

	bad := h.must(400, h.do("POST", "/main/v1/vat-rate", map[string]any{"country": "XX", "kind": "", "percentage": "101",
		"valid_from": "2025-01-01T00:00:00Z", "valid_until": "2024-01-01T00:00:00Z"}))
	require.ElementsMatch(t, []string{"country", "kind", "percentage", "valid_until"}, bad.fields())
	miss := h.must(400, h.do("POST", "/main/v1/vat-rate", map[string]any{"country": "NL", "kind": kind}))
	require.Equal(t, []string{"percentage"}, miss.fields())
	neg := h.must(400, h.do("POST", "/main/v1/vat-rate/"+id, map[string]any{"percentage": "-1"}))
	require.Equal(t, []string{"percentage"}, neg.fields())

	ov := h.must(400, h.do("POST", "/main/v1/vat-rate", map[string]any{"country": "NL", "kind": kind, "percentage": "9",
		"valid_from": "2029-06-01T00:00:00Z"}))
	require.Equal(t, "overlapping_validity", ov.code())
	// A hand-over at the same instant is not an overlap.
	h.must(201, h.do("POST", "/main/v1/vat-rate/ext_ref.R-"+kind, map[string]any{"country": "NL", "kind": kind, "percentage": "9",
		"valid_from": "2030-01-01T00:00:00Z"}))
	h.must(200, h.do("POST", "/main/v1/vat-rate/ext_ref.R-"+kind, map[string]any{"percentage": "9"}))

	// The seller family guards it.
	u2, s2 := h.account([]string{"customer:write"}, nil)
	h.must(403, h.doAs(u2, s2, "GET", "/main/v1/vat-rate", nil))
}

// TestVATRuleCRUDAndValidation: rules with and without country and
// indicators; the product category is required; two rules that would
// always tie (same category, country and indicators, overlapping) are
// refused, whatever the order or case of the indicators.
func TestVATRuleCRUDAndValidation(t *testing.T) {
	h := setup(t)
	cat := "cat_" + uuid.NewString()[:8]
	r := h.must(201, h.do("POST", "/main/v1/vat-rule", map[string]any{"product_category": cat, "kind": "standard"}))
	require.Nil(t, r.JSON["country"])
	require.Equal(t, []any{}, r.JSON["indicators"])
	h.must(201, h.do("POST", "/main/v1/vat-rule", map[string]any{"product_category": cat, "kind": "reduced", "country": "be",
		"indicators": []string{"Low", "public"}}))
	dup := h.must(400, h.do("POST", "/main/v1/vat-rule", map[string]any{"product_category": cat, "kind": "zero", "country": "BE",
		"indicators": []string{"PUBLIC", "low"}}))
	require.Equal(t, "overlapping_validity", dup.code())
	dup = h.must(400, h.do("POST", "/main/v1/vat-rule", map[string]any{"product_category": cat, "kind": "zero", "valid_from": "2020-01-01T00:00:00Z"}))
	require.Equal(t, "overlapping_validity", dup.code())

	bad := h.must(400, h.do("POST", "/main/v1/vat-rule", map[string]any{"kind": "", "country": "QQ", "indicators": []string{""},
		"valid_from": "2025-01-01T00:00:00Z", "valid_until": "2025-01-01T00:00:00Z"}))
	require.ElementsMatch(t, []string{"product_category", "kind", "country", "indicators[0]", "valid_until"}, bad.fields())

	l := h.must(200, h.do("GET", "/main/v1/vat-rule?product_category="+cat+"&country=BE", nil))
	require.Len(t, l.items(), 1)
	u := h.must(200, h.do("POST", "/main/v1/vat-rule/"+r.str("id"), map[string]any{"valid_until": "2026-01-01T00:00:00Z"}))
	require.Equal(t, "2026-01-01T00:00:00Z", u.str("valid_until"))
}

// TestSellerVATPolicy: the default policy, the first write (201), merge
// semantics of country_policies (null removes), validation with field
// paths, stale updates, and the loader seeing what the API wrote.
func TestSellerVATPolicy(t *testing.T) {
	h := setup(t)
	sellerID, _ := h.tenant()
	path := "/main/v1/seller/" + sellerID + "/vat-policy"
	g := h.must(200, h.do("GET", path, nil))
	require.Equal(t, "error", g.str("fallback"))
	require.Equal(t, "NL", g.str("vat_country"))
	require.Nil(t, g.JSON["created_at"])

	c := h.must(201, h.do("POST", path, map[string]any{"fallback": "seller_country", "country_policies": map[string]any{"be": "origin_country", "NO": "origin_country"},
		"external_updated_at": "2025-01-01T00:00:00Z"}))
	require.Equal(t, map[string]any{"BE": "origin_country", "NO": "origin_country"}, c.JSON["country_policies"])
	require.NotNil(t, c.JSON["created_at"])
	same := h.must(200, h.do("POST", path, map[string]any{"fallback": "seller_country"}))
	require.Equal(t, c.JSON["updated_at"], same.JSON["updated_at"], "an unchanged policy is not written")

	m := h.must(200, h.do("POST", path, map[string]any{"country_policies": map[string]any{"NO": nil, "DE": "seller_country"}}))
	require.Equal(t, map[string]any{"BE": "origin_country", "DE": "seller_country"}, m.JSON["country_policies"])

	bad := h.must(400, h.do("POST", path, map[string]any{"fallback": "guess", "country_policies": map[string]any{"XX": "origin_country", "FR": "theirs", "NL": "origin_country"}}))
	require.ElementsMatch(t, []string{"fallback", "country_policies.XX", "country_policies.FR", "country_policies.NL"}, bad.fields())

	st := h.do("POST", path, map[string]any{"fallback": "error", "external_updated_at": "2024-01-01T00:00:00Z"})
	require.Equal(t, 204, st.Status)
	require.Equal(t, "true", st.Header.Get("X-RN-Stale-Update"))
	h.must(400, h.do("POST", path, map[string]any{"external_updated_at": time.Now().Add(time.Hour).Format(time.RFC3339)}))
	h.must(400, h.do("GET", "/main/v1/seller/"+uuid.NewString()+"/vat-policy", nil))

	// By external reference, and the loader sees the policy.
	sref := "S-" + uuid.NewString()[:8]
	s := h.must(201, h.do("POST", "/main/v1/seller/ext_ref."+sref, map[string]any{"name": "S", "country": "BE"}))
	h.must(201, h.do("POST", "/main/v1/seller/ext_ref."+sref+"/vat-policy", map[string]any{"fallback": "seller_country", "eu_reverse_charge": true}))
	cfg, err := db.VATConfig(context.Background(), testDB.Pool, uuid.MustParse(s.str("id")))
	require.NoError(t, err)
	require.Equal(t, "BE", cfg.Seller.Country)
	require.Equal(t, vat.FallbackSellerCountry, cfg.Seller.Fallback)
	require.True(t, cfg.Seller.EUReverseCharge)

	var events int
	require.NoError(t, testDB.Pool.QueryRow(context.Background(),
		"SELECT count(*) FROM outbox_event WHERE kind = 'seller-vat-policy' AND data->>'seller_id' = $1", sellerID).Scan(&events))
	require.Equal(t, 2, events, "one event per change: the creation and the merge")

	u2, s2 := h.account([]string{"seller:read"}, nil)
	h.must(200, h.doAs(u2, s2, "GET", path, nil))
	h.must(403, h.doAs(u2, s2, "POST", path, map[string]any{"fallback": "error"}))
}

// oaVAT exercises the VAT configuration operations against the OpenAPI
// document (called from TestOpenAPIContract).
func oaVAT(t *testing.T, c *oaClient, tag, sellerID string) {
	kind := "oa-" + tag
	r := c.do(201, "POST", "/main/v1/vat-rate", map[string]any{"country": "NL", "kind": kind, "percentage": "21", "valid_from": "2019-01-01T00:00:00Z"})
	c.do(200, "GET", "/main/v1/vat-rate/"+r.str("id"), nil)
	c.do(200, "GET", "/main/v1/vat-rate?country=NL&kind="+kind+"&valid_at=2025-01-01T00:00:00Z&external_reference=x", nil)
	c.do(200, "POST", "/main/v1/vat-rate/"+r.str("id"), map[string]any{"percentage": "21.0", "external_updated_at": "2025-01-01T00:00:00Z"})
	c.do(204, "POST", "/main/v1/vat-rate/"+r.str("id"), map[string]any{"percentage": "9", "external_updated_at": "2024-01-01T00:00:00Z"})
	c.do(201, "POST", "/main/v1/vat-rate/ext_ref.VR-"+tag, map[string]any{"country": "BE", "kind": kind, "percentage": "6"})
	c.do(400, "POST", "/main/v1/vat-rate", map[string]any{"country": "NL", "kind": kind, "percentage": "5"})
	c.do(400, "POST", "/main/v1/vat-rate", map[string]any{"country": "NL", "kind": kind, "percentage": 5}, oaDocRejects())

	cat := "oa_" + tag
	u := c.do(201, "POST", "/main/v1/vat-rule", map[string]any{"product_category": cat, "kind": "standard", "indicators": []string{"x"}})
	c.do(200, "GET", "/main/v1/vat-rule/"+u.str("id"), nil)
	c.do(200, "GET", "/main/v1/vat-rule?product_category="+cat+"&country=NL&kind=standard&valid_at=2025-01-01T00:00:00Z", nil)
	c.do(200, "POST", "/main/v1/vat-rule/"+u.str("id"), map[string]any{"country": "NL", "external_updated_at": "2025-01-01T00:00:00Z"})
	c.do(204, "POST", "/main/v1/vat-rule/"+u.str("id"), map[string]any{"country": nil, "external_updated_at": "2024-01-01T00:00:00Z"})
	c.do(201, "POST", "/main/v1/vat-rule/ext_ref.VU-"+tag, map[string]any{"product_category": cat, "kind": "zero"})
	c.do(400, "POST", "/main/v1/vat-rule", map[string]any{"product_category": "", "kind": "zero"}, oaDocRejects())

	p := "/main/v1/seller/" + sellerID + "/vat-policy"
	c.do(200, "GET", p, nil)
	c.do(201, "POST", p, map[string]any{"fallback": "seller_country", "country_policies": map[string]any{"BE": "origin_country"}, "external_updated_at": "2025-01-01T00:00:00Z"})
	c.do(200, "POST", p, map[string]any{"country_policies": map[string]any{"BE": nil, "NO": "origin_country"}})
	c.do(204, "POST", p, map[string]any{"fallback": "error", "external_updated_at": "2024-01-01T00:00:00Z"})
	c.do(400, "POST", p, map[string]any{"fallback": "guess"}, oaDocRejects())
	c.do(200, "GET", p, nil)
}
