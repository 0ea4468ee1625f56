package adminapi_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/session"
)

// TestCPOReimbursementEndToEnd: sessions at our EVSEs reported by our
// charge management system (POST /main/v1/cpo-charge-session) become CPO
// charge sessions that the node's pipeline (worker.SessionProcessor with
// the node's pricers: roaming cost and reimbursement) matches, validates
// and prices. Every arrangement linked to the session's EVSE and valid at
// its start gets one reimbursement calculated from the plan's cost
// components and the calculation inputs (the arrangement's input winning
// over the plan's for the same component and valid_from, the latest
// valid_from not after the start applying), with VAT as the customer's
// reimbursement VAT says (applies: the seller's VAT, 25 % in Croatia;
// exempt: none). The results are visible through
// GET /main/v1/cpo-charge-session-reimbursement with exact amounts, and
// each has exactly one outbox event.
func TestCPOReimbursementEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := setup(t)
	call := func(status int, method, path string, body any) map[string]any {
		return h.must(status, h.do(method, path, body)).JSON
	}
	// Our CPO party, location, an EVSE whose connector names our tariff,
	// and an eMSP with a roaming agreement: what the roaming cost pricer
	// needs (the session is priced by every pricer of the CPO side).
	f := newRoamingCostFixture(t, call)
	party, _ := f.emsp()
	uid2 := "RCE2-" + uuid.NewString()[:8]
	call(201, "POST", "/main/v1/cpo-evse/"+uid2, map[string]any{"location_id": f.loc, "status": "AVAILABLE",
		"connectors": []any{map[string]any{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
			"max_voltage": 230, "max_amperage": 32, "tariff_ids": []string{f.tariff}}}})

	// A seller in Croatia (no other test of the package uses HR VAT)
	// whose reimbursements carry the standard rate of 25 %: no country
	// policy, so the location's country (NL) falls back to the seller's.
	seller := call(201, "POST", "/main/v1/seller", map[string]any{"name": "Seller " + uuid.NewString(), "country": "HR"})["id"].(string)
	admin := call(201, "POST", "/main/v1/administration", map[string]any{"name": "HR EUR", "currency": "EUR", "seller_id": seller})["id"].(string)
	h.must(201, h.do("POST", "/main/v1/seller/"+seller+"/vat-policy", map[string]any{"fallback": "seller_country"}))
	for path, body := range map[string]any{
		"/main/v1/vat-rule/ext_ref.hr-reimbursement-e2e": map[string]any{"product_category": "cpo_reimbursement", "country": "HR", "kind": "standard"},
		"/main/v1/vat-rate/ext_ref.hr-standard-e2e":      map[string]any{"country": "HR", "kind": "standard", "percentage": "25", "valid_from": "2000-01-01T00:00:00Z"},
	} {
		r := h.do("POST", path, body)
		require.Contains(t, []int{200, 201}, r.Status, "%s: %s", path, r.Raw)
	}
	applies := h.customer(admin, map[string]any{"country": "HR", "reimbursement_vat": "applies"}).str("id")
	exempt := h.customer(admin, map[string]any{"country": "HR", "reimbursement_vat": "exempt"}).str("id")

	// The plan: energy, charging time and a flat fee, calculated.
	plan := call(201, "POST", "/main/v1/cpo-reimbursement-plan", map[string]any{"administration_id": admin, "name": "Site owners",
		"calculation": "calculated", "cost_components": []string{"energy", "time", "flat"}})["id"].(string)
	input := func(owner, id, from, comp, value string) {
		t.Helper()
		call(200, "PUT", "/main/v1/"+owner+"/"+id+"/calculation-input/"+from+"/"+comp, map[string]any{"value": value})
	}
	const jan24, jul24 = "2024-01-01T00:00:00Z", "2024-07-01T00:00:00Z"
	input("cpo-reimbursement-plan", plan, jan24, "energy", "0.10")
	input("cpo-reimbursement-plan", plan, "2099-01-01T00:00:00Z", "energy", "9.99") // not valid yet
	input("cpo-reimbursement-plan", plan, jan24, "time", "1.00")
	input("cpo-reimbursement-plan", plan, jul24, "time", "1.50") // later than the arrangement's own time input
	input("cpo-reimbursement-plan", plan, jan24, "flat", "0.50")

	// Arrangement A (reimbursement VAT applies) at the first EVSE, with
	// inputs of its own: energy from the plan's valid_from (wins) and time
	// from an earlier moment than the plan's latest (the plan's wins).
	arrA := call(201, "POST", "/main/v1/cpo-reimbursement-arrangement", map[string]any{"customer_id": applies, "plan_id": plan,
		"valid_from": jan24, "external_reference": "ARR-A-" + f.uid})["id"].(string)
	input("cpo-reimbursement-arrangement", arrA, jan24, "energy", "0.22")
	input("cpo-reimbursement-arrangement", arrA, jan24, "time", "0.80")
	call(201, "POST", "/main/v1/cpo-reimbursement-link", map[string]any{"arrangement_id": arrA, "evse_uid": f.uid, "valid_from": jan24})
	// Arrangement C's link to the first EVSE has ended: nothing for it.
	arrC := call(201, "POST", "/main/v1/cpo-reimbursement-arrangement", map[string]any{"customer_id": applies, "plan_id": plan,
		"valid_from": jan24})["id"].(string)
	call(201, "POST", "/main/v1/cpo-reimbursement-link", map[string]any{"arrangement_id": arrC, "evse_uid": f.uid, "valid_from": jan24,
		"valid_until": "2024-06-01T00:00:00Z"})
	// Arrangement B (exempt customer) at the second EVSE, the plan's inputs only.
	arrB := call(201, "POST", "/main/v1/cpo-reimbursement-arrangement", map[string]any{"customer_id": exempt, "plan_id": plan,
		"valid_from": jan24})["id"].(string)
	call(201, "POST", "/main/v1/cpo-reimbursement-link", map[string]any{"arrangement_id": arrB, "evse_uid": uid2, "valid_from": jan24})

	// The sessions, as our charge management system reports them.
	start := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)
	report := func(uid, kwh string, start time.Time, d time.Duration) uuid.UUID {
		t.Helper()
		sid := "RE2E-" + uuid.NewString()[:8]
		r := call(201, "POST", "/main/v1/cpo-charge-session", map[string]any{"session_id": sid, "status": "COMPLETED",
			"start_date_time": start.Format(time.RFC3339), "end_date_time": start.Add(d).Format(time.RFC3339), "kwh": kwh,
			"token":       map[string]any{"country_code": "DE", "party_id": party, "uid": "TOK-" + sid, "type": "RFID", "contract_id": "DE-" + party + "-C" + sid[5:]},
			"auth_method": "WHITELIST", "location_id": f.loc, "evse_uid": uid, "connector_id": "1", "currency": "EUR",
			"charge_periods": []any{map[string]any{"start_date_time": start.Format(time.RFC3339),
				"dimensions": []any{map[string]any{"type": "ENERGY", "volume": kwh}}}}})
		id, err := uuid.Parse(r["charge_session_id"].(string))
		require.NoError(t, err)
		return id
	}
	s1 := report(f.uid, "12.345", start, 90*time.Minute)
	s2 := report(uid2, "20", start.Add(time.Minute), time.Hour)
	for _, id := range []uuid.UUID{s1, s2} {
		require.Equal(t, session.Received, h.session(id).State, "the intake hands the session to the worker")
	}
	proc := pricingProcessor(t) // the node's pipeline and pricers
	for _, id := range []uuid.UUID{s1, s2} {
		require.NoError(t, proc.Process(ctx, id))
		if rec := h.session(id); rec.State != session.Priced {
			t.Fatalf("session %s is %s, not priced: %v %v", id, rec.State, deref(rec.DropoutReason), deref(rec.DropoutDetail))
		}
		// The roaming cost pricer ran too.
		require.Len(t, h.must(200, h.do("GET", "/main/v1/cpo-charge-session-roaming-cost?charge_session_id="+id.String(), nil)).items(), 1)
	}

	base := "/main/v1/cpo-charge-session-reimbursement"
	list := func(q url.Values) []map[string]any {
		t.Helper()
		return h.must(200, h.do("GET", base+"?"+q.Encode(), nil)).items()
	}
	require.Empty(t, list(url.Values{"arrangement_id": {arrC}}), "a link that ended before the start reimburses nothing")

	// Session 1, arrangement A: energy 12.345 kWh × 0.22 (the arrangement's,
	// over the plan's 0.10) = 2.7159; time 1.5 h × 1.50 (the plan's input of
	// July, later than the arrangement's of January) = 2.25; flat 0.50.
	// VAT 25 % per line: 0.678975 → 0.68, 0.5625 → 0.56, 0.125 → 0.13.
	l1 := list(url.Values{"charge_session_id": {s1.String()}})
	require.Len(t, l1, 1, "one reimbursement: the one arrangement linked to the EVSE at the start")
	r1 := l1[0]
	require.Equal(t, s1.String(), r1["charge_session_id"])
	require.Equal(t, arrA, r1["arrangement_id"])
	require.Equal(t, "ARR-A-"+f.uid, r1["arrangement_external_reference"])
	require.Equal(t, applies, r1["customer_id"])
	require.Equal(t, admin, r1["administration_id"])
	require.Equal(t, float64(1), r1["version"])
	require.Equal(t, "initial", r1["reason"])
	require.Equal(t, f.uid, r1["evse_uid"])
	require.Equal(t, f.cc, r1["country_code"])
	require.Equal(t, f.pid, r1["party_id"])
	require.Equal(t, s1.String(), r1["cdr_id"])
	require.Equal(t, start.Format(time.RFC3339), r1["start_date_time"])
	require.Equal(t, start.Add(90*time.Minute).Format(time.RFC3339), r1["end_date_time"])
	require.Equal(t, "12.345", r1["total_energy"])
	require.Equal(t, "EUR", r1["currency_code"])
	require.Equal(t, "5.4659", r1["total_amount_excl_vat"])
	require.Equal(t, "1.37", r1["total_vat_amount"])
	require.Equal(t, "6.8359", r1["total_amount_incl_vat"])
	require.Equal(t, "HR", r1["vat_country"])
	require.Equal(t, "standard", r1["vat_kind"])
	require.Equal(t, "25", r1["vat_percentage"])
	require.Equal(t, []any{
		map[string]any{"component": "energy", "volume": "12.345", "unit": "kWh", "amount_excl_vat": "2.7159", "vat_rate": "0.25", "vat_amount": "0.68", "amount_incl_vat": "3.3959"},
		map[string]any{"component": "time", "volume": "1.5", "unit": "h", "amount_excl_vat": "2.25", "vat_rate": "0.25", "vat_amount": "0.56", "amount_incl_vat": "2.81"},
		map[string]any{"component": "flat", "volume": "1", "unit": "session", "amount_excl_vat": "0.5", "vat_rate": "0.25", "vat_amount": "0.13", "amount_incl_vat": "0.63"},
	}, r1["components"])
	d1 := r1["detail"].(map[string]any)
	require.Equal(t, "calculated", d1["calculation"])
	require.Equal(t, plan, d1["plan_id"])
	require.Equal(t, []any{
		map[string]any{"component": "energy", "value": "0.22", "valid_from": jan24, "source": "arrangement"},
		map[string]any{"component": "time", "value": "1.5", "valid_from": jul24, "source": "plan"},
		map[string]any{"component": "flat", "value": "0.5", "valid_from": jan24, "source": "plan"},
	}, d1["inputs"], "the inputs used and where they came from")

	// Session 2, arrangement B (exempt): energy 20 × 0.10 = 2, time 1 h ×
	// 1.50, flat 0.50; no VAT.
	l2 := list(url.Values{"charge_session_id": {s2.String()}})
	require.Len(t, l2, 1)
	r2 := l2[0]
	require.Equal(t, arrB, r2["arrangement_id"])
	require.Equal(t, exempt, r2["customer_id"])
	require.Equal(t, uid2, r2["evse_uid"])
	require.Equal(t, "4", r2["total_amount_excl_vat"])
	require.Equal(t, "0", r2["total_vat_amount"])
	require.Equal(t, "4", r2["total_amount_incl_vat"])
	require.Equal(t, "exempt", r2["vat_kind"])
	require.Equal(t, []any{
		map[string]any{"component": "energy", "volume": "20", "unit": "kWh", "amount_excl_vat": "2", "vat_rate": "0", "vat_amount": "0", "amount_incl_vat": "2"},
		map[string]any{"component": "time", "volume": "1", "unit": "h", "amount_excl_vat": "1.5", "vat_rate": "0", "vat_amount": "0", "amount_incl_vat": "1.5"},
		map[string]any{"component": "flat", "volume": "1", "unit": "session", "amount_excl_vat": "0.5", "vat_rate": "0", "vat_amount": "0", "amount_incl_vat": "0.5"},
	}, r2["components"])

	// GET by id and the filters show the same items.
	for _, r := range []map[string]any{r1, r2} {
		require.Equal(t, r, h.must(200, h.do("GET", base+"/"+r["id"].(string), nil)).JSON)
	}
	ids := func(items []map[string]any) []any {
		out := []any{}
		for _, it := range items {
			out = append(out, it["id"])
		}
		return out
	}
	for q, want := range map[string][]any{
		"arrangement_id=" + arrA:                       {r1["id"]},
		"arrangement_id=" + arrB:                       {r2["id"]},
		"customer_id=" + applies:                       {r1["id"]},
		"customer_id=" + exempt:                        {r2["id"]},
		"evse_uid=" + f.uid:                            {r1["id"]},
		"evse_uid=" + uid2:                             {r2["id"]},
		"customer_id=" + applies + "&evse_uid=" + uid2: {},
	} {
		require.Equal(t, want, ids(h.must(200, h.do("GET", base+"?"+q, nil)).items()), q)
	}

	// Exactly one outbox event per result, carrying its amounts.
	for _, r := range []map[string]any{r1, r2} {
		ev := outboxEvents(t, "cpo-charge-session-reimbursement", r["id"].(string))
		require.Len(t, ev, 1, "one event per stored result")
		require.Equal(t, "create", ev[0].Mod)
		require.NotNil(t, ev[0].Admin)
		require.Equal(t, admin, ev[0].Admin.String(), "the event belongs to the arrangement's administration")
		e := ev[0].Data
		require.Equal(t, admin, e["administration_id"], "and says so in its data, as GET does")
		require.Equal(t, r["administration_id"], e["administration_id"])
		require.Equal(t, "reimbursement", e["kind"])
		require.Equal(t, r["arrangement_id"], e["subject_id"])
		require.Equal(t, r["charge_session_id"], e["charge_session_id"])
		require.Equal(t, r["total_amount_excl_vat"], e["excl_vat"])
		require.Equal(t, r["total_vat_amount"], e["vat"])
		require.Equal(t, r["total_amount_incl_vat"], e["incl_vat"])
		require.Equal(t, r["detail"], e["detail"])
		require.Len(t, e["components"], 3)
	}
	for _, id := range []uuid.UUID{s1, s2} {
		var n int
		require.NoError(t, testDB.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox_event WHERE kind = 'cpo-charge-session-reimbursement'
			AND data->>'charge_session_id' = $1`, id.String()).Scan(&n))
		require.Equal(t, 1, n, "one event for the session's one reimbursement")
	}
}
