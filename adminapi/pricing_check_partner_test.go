package adminapi_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/rateplan"
	"github.com/roamnode/roamnode/domain/session"
)

// cdrCosting is the fixture's CDR (the spec's example: the CPO's own
// tariff TIME 2.00/h in steps of 5 minutes over two hours, which our
// recomputation prices at 4.00) reporting total_cost excl.
func (f *pricingFixture) cdrCosting(id, excl string) []byte {
	f.t.Helper()
	var m map[string]any
	require.NoError(f.t, json.Unmarshal(f.cdr(id, "15"), &m))
	m["total_cost"] = map[string]any{"excl_vat": json.Number(excl), "incl_vat": json.Number(excl)}
	out, err := json.Marshal(m)
	require.NoError(f.t, err)
	return out
}

// TestPartnerPricingCheckDropsOut: a roaming partner's own pricing check
// (partner_cost_absolute, the CDR's total_cost against our recomputation
// of its tariff) applies to the real sessions of its CDRs, over its
// administration's more lenient value: a CDR whose total_cost is 0.50 off
// drops out with the check's reason into a drop-out case (reprocessing it
// with a bypass of the check prices it); a CDR 0.05 off, within the
// partner's tolerance of 0.10, is priced; once the partner's value is
// removed, the administration's 1.00 applies and the same difference is
// priced.
func TestPartnerPricingCheckDropsOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := setup(t)
	f := newPricingFixture(t)
	admin := "/main/v1/administration/" + f.admin.String() + "/pricing-checks"
	partner := "/main/v1/roaming-partner/" + f.partnerID.String() + "/pricing-checks"
	h.must(200, h.do("POST", admin, map[string]any{"partner_cost_absolute": "1.00"}))
	require.Equal(t, "0.1", h.must(200, h.do("POST", partner, map[string]any{"partner_cost_absolute": "0.10"})).str("partner_cost_absolute"))

	process := func(id uuid.UUID) map[string]any {
		t.Helper()
		require.NoError(t, pricingProcessor(t).Process(ctx, id)) // a processor of its own: no cached checks
		return h.must(200, h.do("GET", "/main/v1/msp-charge-session/"+id.String(), nil)).JSON
	}
	priced := func(id uuid.UUID) map[string]any {
		t.Helper()
		s := process(id)
		require.Equal(t, "priced", s["state"], "drop-out: %v", s["dropout"])
		return h.must(200, h.do("GET", "/main/v1/msp-charge-session-priced/"+id.String(), nil)).JSON["price"].(map[string]any)
	}

	// 0.50 above our 4.00: more than the partner's 0.10 (the
	// administration's 1.00 would let it through).
	off := f.postCDR(h.app, f.cdrCosting("PCK-OFF-"+f.party, "4.50"))
	s := process(off)
	require.Equal(t, "dropped_out", s["state"])
	d := s["dropout"].(map[string]any)
	require.Equal(t, rateplan.ReasonPartnerCost, d["reason"])
	require.Equal(t, string(session.CheckPartnerCostMatches), d["check"])
	require.Contains(t, d["detail"], "CDR total_cost 4.5, tariff 12 gives 4: 0.5 apart, more than 0.1")
	caseID := d["case_id"].(string)
	c := h.must(200, h.do("GET", "/main/v1/msp-dropout-case/"+caseID, nil)).JSON
	require.Equal(t, rateplan.ReasonPartnerCost, c["reason"])
	require.Equal(t, "open", c["state"])
	require.Equal(t, "BE", c["country_code"])
	require.Equal(t, f.party, c["party_id"])
	require.Equal(t, float64(1), c["open_sessions"])
	require.Equal(t, off.String(), c["sessions"].([]any)[0].(map[string]any)["id"])
	require.Empty(t, h.must(200, h.do("GET", "/main/v1/msp-charge-session-priced?subscription_id="+f.sub.String(), nil)).items(),
		"nothing is priced")

	// 0.05 above: within the partner's tolerance.
	within := f.postCDR(h.app, f.cdrCosting("PCK-IN-"+f.party, "4.05"))
	p := priced(within)
	require.Equal(t, "5", p["excl_vat"], "our price: 15 kWh × 0.30 + 0.50, whatever the CPO charged")
	require.Equal(t, "0.05", p["detail"].(map[string]any)["partner_cost_difference"])
	require.Equal(t, "4", p["detail"].(map[string]any)["cpo_tariff_total_excl_vat"])

	// The drop-out, reprocessed with a bypass of the check, is priced; the
	// case is resolved.
	h.must(200, h.do("POST", "/main/v1/msp-charge-session/"+off.String()+"/reprocess",
		map[string]any{"instruction": "bypass", "check": string(session.CheckPartnerCostMatches)}))
	p = priced(off)
	require.Contains(t, p["detail"].(map[string]any)["notes"], "partner cost check bypassed: more than 0.1")
	require.Equal(t, "resolved", h.must(200, h.do("GET", "/main/v1/msp-dropout-case/"+caseID, nil)).str("state"))

	// Without the partner's value, the administration's 1.00 applies.
	h.must(200, h.do("POST", partner, map[string]any{"partner_cost_absolute": nil}))
	again := f.postCDR(h.app, f.cdrCosting("PCK-ADM-"+f.party, "4.50"))
	p = priced(again)
	require.Equal(t, "0.5", p["detail"].(map[string]any)["partner_cost_difference"])
}
