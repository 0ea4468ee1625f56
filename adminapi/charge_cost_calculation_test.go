package adminapi_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// creditQuoteFixture is the pricing fixture whose plan uses a rate plan
// where charge credits pay energy (0.30/kWh, charge_remainder) but not
// the flat fee (0.50, "credits do not apply"); VAT is Malta's 18 %.
func creditQuoteFixture(t *testing.T, h *harness) *pricingFixture {
	t.Helper()
	f := newPricingFixture(t)
	rp := h.must(201, h.do("POST", "/main/v1/rate-plan", map[string]any{"administration_id": f.admin.String(), "name": "Credits",
		"rates": []any{map[string]any{"code": "std", "components": []any{
			map[string]any{"type": "energy", "unit": "kwh", "price": "0.30", "credits": map[string]any{"apply": true, "shortfall": "charge_remainder"}},
			map[string]any{"type": "flat", "unit": "session", "price": "0.50", "credits": map[string]any{"apply": false}},
		}}},
		"rules": []any{map[string]any{"rate": "std"}}})).str("id")
	h.must(200, h.do("POST", "/main/v1/msp-token-subscription-plan/"+f.plan.String(), map[string]any{"rate_plan_id": rp}))
	return f
}

// quote asks for a 20 kWh, 90 minute quote at the fixture's location.
func (f *pricingFixture) quote(h *harness, by string) resp {
	q := url.Values{by + "_id": {f.sub.String()}, "location_id": {f.location.String()}, "energy": {"20"}, "duration": {"90"}}
	if by == "plan" {
		q.Set("plan_id", f.plan.String())
	}
	return h.must(200, h.do("GET", "/main/v1/msp-charge-cost-calculation?"+q.Encode(), nil))
}

// grant gives the fixture's subscription a credit (valid since an hour
// ago) and returns its id.
func (f *pricingFixture) grant(h *harness, kind, field, amount string) string {
	from := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	return h.must(201, h.do("POST", "/main/v1/msp-token-subscription/"+f.sub.String()+"/"+kind+"-credit",
		map[string]any{field: amount, "valid_from": from})).str("id")
}

// TestChargeCostCalculationWithCredits: a subscription's quote shows what
// the customer would pay after its current credits (the same allocation as
// a session's), the price before them and each credit's share, and
// consumes nothing; a plan's quote has no credits. 20 kWh × 0.30 = 6.00
// energy + 0.50 flat = 6.50 before credits (VAT 1.08 + 0.09).
func TestChargeCostCalculationWithCredits(t *testing.T) {
	t.Parallel()
	h := setup(t)
	creditsOf := func(r resp) []map[string]any {
		var out []map[string]any
		for _, c := range r.JSON["credits"].([]any) {
			out = append(out, c.(map[string]any))
		}
		return out
	}
	before := func(r resp) map[string]any { return r.JSON["before_credits"].(map[string]any) }

	t.Run("monetary credit covering part", func(t *testing.T) {
		f := creditQuoteFixture(t, h)
		id := f.grant(h, "monetary", "amount", "2.00")
		r := f.quote(h, "subscription")
		require.Equal(t, "6.5", before(r)["excl_vat"])
		require.Equal(t, "7.67", before(r)["incl_vat"])
		// energy 6.00 − 2.00 = 4.00 (VAT 0.72) + flat 0.50 (VAT 0.09)
		require.Equal(t, "4.5", r.str("excl_vat"))
		require.Equal(t, "0.81", r.str("vat"))
		require.Equal(t, "5.31", r.str("incl_vat"))
		cs := creditsOf(r)
		require.Len(t, cs, 1)
		require.Equal(t, id, cs[0]["credit_id"])
		require.Equal(t, "monetary", cs[0]["kind"])
		require.Equal(t, "EUR", cs[0]["unit"])
		require.Equal(t, "2", cs[0]["amount"])
		require.Equal(t, "2", cs[0]["covered_excl_vat"])
		require.Equal(t, []any{"energy"}, cs[0]["components"])

		// Quoting again gives the same: the balance is untouched, the
		// ledger holds only the grant.
		require.Equal(t, "4.5", f.quote(h, "subscription").str("excl_vat"))
		b := h.must(200, h.do("GET", "/main/v1/msp-token-subscription/"+f.sub.String()+"/charge-credit", nil))
		require.Equal(t, "2", b.JSON["monetary_credit"].(map[string]any)["balance"])
		require.Len(t, h.must(200, h.do("GET", "/main/v1/charge-credit-movement?subscription_id="+f.sub.String(), nil)).items(), 1)

		// A prospect's quote by plan has no credits.
		p := f.quote(h, "plan")
		require.Equal(t, "6.5", p.str("excl_vat"))
		require.Equal(t, "6.5", before(p)["excl_vat"])
		require.Empty(t, creditsOf(p))
	})

	t.Run("energy credit", func(t *testing.T) {
		f := creditQuoteFixture(t, h)
		id := f.grant(h, "energy", "energy", "5")
		r := f.quote(h, "subscription")
		// 5 of 20 kWh: 6.00 × 5 ÷ 20 = 1.50 covered; energy 4.50 (VAT 0.81) + flat 0.50 (0.09)
		require.Equal(t, "5", r.str("excl_vat"))
		require.Equal(t, "0.9", r.str("vat"))
		cs := creditsOf(r)
		require.Len(t, cs, 1)
		require.Equal(t, id, cs[0]["credit_id"])
		require.Equal(t, "energy", cs[0]["kind"])
		require.Equal(t, "kWh", cs[0]["unit"])
		require.Equal(t, "5", cs[0]["amount"])
		require.Equal(t, "1.5", cs[0]["covered_excl_vat"])
	})

	t.Run("component without credits", func(t *testing.T) {
		f := creditQuoteFixture(t, h)
		f.grant(h, "monetary", "amount", "100")
		r := f.quote(h, "subscription")
		// The credit pays all the energy (6.00) but not the flat fee, whose rate says credits do not apply.
		require.Equal(t, "0.5", r.str("excl_vat"))
		require.Equal(t, "0.59", r.str("incl_vat"))
		cs := creditsOf(r)
		require.Len(t, cs, 1)
		require.Equal(t, "6", cs[0]["amount"])
		require.Equal(t, []any{"energy"}, cs[0]["components"])
		comps := r.JSON["components"].([]any)
		require.Equal(t, "0", comps[0].(map[string]any)["excl_vat"])
		require.Equal(t, "0.5", comps[1].(map[string]any)["excl_vat"])
	})
}
