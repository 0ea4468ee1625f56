package adminapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/session"
)

// reimbursementSetup is a tenant of the test's own (an LU seller whose
// reimbursements carry a VAT kind of the test's own at 17 %), a customer,
// and one of our EVSEs.
type reimbursementSetup struct {
	sellerID, adminID, customerID, evseUID string
}

func (h *harness) reimbursementSetup() reimbursementSetup {
	h.t.Helper()
	s := h.must(201, h.do("POST", "/main/v1/seller", map[string]any{"name": "Seller " + uuid.NewString(), "country": "LU"}))
	a := h.must(201, h.do("POST", "/main/v1/administration", map[string]any{"name": "Adm", "currency": "EUR", "seller_id": s.str("id")}))
	c := h.customer(a.str("id"), map[string]any{"country": "LU", "reimbursement_vat": "applies"})
	kind := "lu-" + uuid.NewString()[:8]
	h.must(201, h.do("POST", "/main/v1/seller/"+s.str("id")+"/vat-policy", map[string]any{"fallback": "seller_country"}))
	h.do("POST", "/main/v1/vat-rule/ext_ref.lu-reimbursement-rule", map[string]any{"product_category": "cpo_reimbursement", "country": "LU", "kind": kind})
	h.must(201, h.do("POST", "/main/v1/vat-rate", map[string]any{"country": "LU", "kind": kind, "percentage": "17"}))
	cc, pid := h.cpoParty()
	loc := "L-" + uuid.NewString()[:8]
	uid := "E-" + uuid.NewString()[:8]
	h.must(201, h.do("POST", "/main/v1/cpo-evse-location/"+loc, cpoLocationBody(cc, pid)))
	h.must(201, h.do("POST", "/main/v1/cpo-evse/"+uid, map[string]any{"location_id": loc, "status": "AVAILABLE", "connectors": []any{
		map[string]any{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32}}}))
	return reimbursementSetup{sellerID: s.str("id"), adminID: a.str("id"), customerID: c.str("id"), evseUID: uid}
}

// TestCPOReimbursementAdminAPI: plans, calculation inputs, arrangements and
// links with their validation, and the read model of a priced session.
func TestCPOReimbursementAdminAPI(t *testing.T) {
	h := setup(t)
	rs := h.reimbursementSetup()

	// Plans: calculation and cost components are validated.
	bad := h.must(400, h.do("POST", "/main/v1/cpo-reimbursement-plan", map[string]any{"administration_id": rs.adminID, "name": "",
		"calculation": "guess", "cost_components": []string{"kwh"}}))
	require.ElementsMatch(t, []string{"name", "calculation", "cost_components[0]"}, bad.fields())
	bad = h.must(400, h.do("POST", "/main/v1/cpo-reimbursement-plan", map[string]any{"administration_id": rs.adminID, "name": "P", "calculation": "calculated"}))
	require.Equal(t, []string{"cost_components"}, bad.fields())
	plan := h.must(201, h.do("POST", "/main/v1/cpo-reimbursement-plan", map[string]any{"administration_id": rs.adminID, "name": "Home charger",
		"calculation": "calculated", "cost_components": []string{"energy", "flat"}}))
	planID := plan.str("id")
	cms := h.must(201, h.do("POST", "/main/v1/cpo-reimbursement-plan/ext_ref.cms-"+planID, map[string]any{"administration_id": rs.adminID,
		"name": "CMS", "calculation": "cms_provided"}))
	require.Equal(t, []any{}, cms.JSON["cost_components"])
	h.must(200, h.do("GET", "/main/v1/cpo-reimbursement-plan?administration_id="+rs.adminID, nil))

	// Calculation inputs: set, validate, replace, remove.
	in := "/main/v1/cpo-reimbursement-plan/" + planID + "/calculation-input/"
	l := h.must(200, h.do("PUT", in+"2025-01-01T00:00:00Z/energy", map[string]any{"value": "0.10"}))
	require.Len(t, l.items(), 1)
	h.must(200, h.do("PUT", in+"2025-01-01T00:00:30Z/flat", map[string]any{"value": "1"}))
	h.must(200, h.do("PUT", in+"2026-01-01T00:00:00Z/flat", map[string]any{"value": "2"}))
	g := h.must(200, h.do("GET", "/main/v1/cpo-reimbursement-plan/"+planID+"/calculation-input", nil))
	require.Len(t, g.items(), 3)
	require.Equal(t, "2025-01-01T00:00:00Z", g.items()[1]["valid_from"], "valid_from is truncated to the minute")
	rm := h.must(200, h.do("PUT", in+"2026-01-01T00:00:00Z/flat", map[string]any{"value": nil}))
	require.Len(t, rm.items(), 2)
	require.Equal(t, []string{"component_type"}, h.must(400, h.do("PUT", in+"2025-01-01T00:00:00Z/time", map[string]any{"value": "1"})).fields())
	require.Equal(t, []string{"value"}, h.must(400, h.do("PUT", in+"2025-01-01T00:00:00Z/energy", map[string]any{"value": "-1"})).fields())
	require.Equal(t, []string{"valid_from"}, h.must(400, h.do("PUT", in+"yesterday/energy", map[string]any{"value": "1"})).fields())
	require.Equal(t, []string{"value"}, h.must(400, h.do("PUT", in+"2025-01-01T00:00:00Z/energy", map[string]any{})).fields())
	require.Equal(t, []string{"component_type"}, h.must(400, h.do("PUT", "/main/v1/cpo-reimbursement-plan/"+cms.str("id")+
		"/calculation-input/2025-01-01T00:00:00Z/energy", map[string]any{"value": "1"})).fields(), "a CMS plan has no cost components")

	// Arrangements: the plan must be of the customer's administration.
	_, other := h.tenant()
	otherPlan := h.must(201, h.do("POST", "/main/v1/cpo-reimbursement-plan", map[string]any{"administration_id": other, "name": "X", "calculation": "cms_provided"}))
	wrong := h.must(400, h.do("POST", "/main/v1/cpo-reimbursement-arrangement", map[string]any{"customer_id": rs.customerID, "plan_id": otherPlan.str("id")}))
	require.Equal(t, []string{"plan_id"}, wrong.fields())
	arr := h.must(201, h.do("POST", "/main/v1/cpo-reimbursement-arrangement", map[string]any{"customer_id": rs.customerID, "plan_id": planID,
		"valid_from": "2025-01-01T00:00:00Z", "external_reference": "ARR-" + planID}))
	arrID := arr.str("id")
	require.Equal(t, rs.adminID, arr.str("administration_id"))
	per := h.must(400, h.do("POST", "/main/v1/cpo-reimbursement-arrangement/"+arrID, map[string]any{"valid_until": "2024-01-01T00:00:00Z"}))
	require.Equal(t, []string{"valid_until"}, per.fields())
	sw := h.must(200, h.do("POST", "/main/v1/cpo-reimbursement-arrangement/"+arrID, map[string]any{"plan_external_reference": "cms-" + planID}))
	require.Equal(t, cms.str("id"), sw.str("plan_id"), "a plan switch")
	h.must(200, h.do("POST", "/main/v1/cpo-reimbursement-arrangement/"+arrID, map[string]any{"plan_id": planID}))
	h.must(200, h.do("PUT", "/main/v1/cpo-reimbursement-arrangement/"+arrID+"/calculation-input/2025-01-01T00:00:00Z/energy", map[string]any{"value": "0.20"}))
	h.must(200, h.do("GET", "/main/v1/cpo-reimbursement-arrangement?customer_id="+rs.customerID+"&valid_at=2025-06-01T00:00:00Z", nil))

	// Links: our EVSE by uid, one link per arrangement and EVSE at a time.
	nf := h.must(400, h.do("POST", "/main/v1/cpo-reimbursement-link", map[string]any{"arrangement_id": arrID, "evse_uid": "nope-" + planID}))
	require.Equal(t, []string{"evse_uid"}, nf.fields())
	link := h.must(201, h.do("POST", "/main/v1/cpo-reimbursement-link", map[string]any{"arrangement_id": arrID, "evse_uid": rs.evseUID,
		"valid_from": "2025-01-01T00:00:00Z"}))
	require.Equal(t, rs.evseUID, link.str("evse_uid"))
	ov := h.must(400, h.do("POST", "/main/v1/cpo-reimbursement-link", map[string]any{"arrangement_external_reference": "ARR-" + planID,
		"evse_uid": rs.evseUID, "valid_from": "2025-06-01T00:00:00Z"}))
	require.Equal(t, "overlapping_validity", ov.code())
	require.Len(t, h.must(200, h.do("GET", "/main/v1/cpo-reimbursement-link?evse_uid="+rs.evseUID, nil)).items(), 1)

	// A session at the EVSE, priced by the reimbursement pricer: the read
	// model shows it.
	id := priceCPOSession(t, rs.evseUID, time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC))
	rl := h.must(200, h.do("GET", "/main/v1/cpo-charge-session-reimbursement?arrangement_id="+arrID, nil))
	require.Len(t, rl.items(), 1)
	it := rl.items()[0]
	require.Equal(t, id.String(), it["charge_session_id"])
	require.Equal(t, "3.5", it["total_amount_excl_vat"]) // 12.5 kWh × 0.20 (the arrangement's) + 1.00
	require.Equal(t, "0.6", it["total_vat_amount"])      // 17 %: 0.425 → 0.43, 0.17
	require.Equal(t, "LU", it["vat_country"])
	require.Equal(t, "17", it["vat_percentage"])
	require.Equal(t, "ARR-"+planID, it["arrangement_external_reference"])
	require.Len(t, it["components"], 2)
	one := h.must(200, h.do("GET", "/main/v1/cpo-charge-session-reimbursement/"+it["id"].(string), nil))
	require.Equal(t, it["id"], one.str("id"))
	for _, q := range []string{"customer_id=" + rs.customerID, "evse_uid=" + rs.evseUID, "customer_id=" + rs.customerID + "&start_gte=2025-03-14T00:00:00Z&start_lt=2025-03-15T00:00:00Z"} {
		require.Len(t, h.must(200, h.do("GET", "/main/v1/cpo-charge-session-reimbursement?"+q, nil)).items(), 1, q)
	}
	require.Empty(t, h.must(200, h.do("GET", "/main/v1/cpo-charge-session-reimbursement?customer_id="+rs.customerID+"&start_gte=2025-03-15T00:00:00Z", nil)).items())
	h.must(400, h.do("GET", "/main/v1/cpo-charge-session-reimbursement?start_gte=soon", nil))

	// Scoping: an account of another administration sees none of it.
	u, s := h.account([]string{"cpo:write", "charge-session:read"}, []string{other})
	h.must(403, h.doAs(u, s, "GET", "/main/v1/cpo-reimbursement-plan/"+planID, nil))
	h.must(403, h.doAs(u, s, "GET", "/main/v1/cpo-reimbursement-plan/"+planID+"/calculation-input", nil))
	h.must(403, h.doAs(u, s, "PUT", in+"2025-01-01T00:00:00Z/energy", map[string]any{"value": "9"}))
	h.must(403, h.doAs(u, s, "GET", "/main/v1/cpo-charge-session-reimbursement/"+it["id"].(string), nil))
	require.Empty(t, h.must(200, h.doAs(u, s, "GET", "/main/v1/cpo-charge-session-reimbursement", nil)).items())

	var events int
	require.NoError(t, testDB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox_event WHERE kind = 'cpo-reimbursement-calculation-input'
		AND data->>'plan_id' = $1`, planID).Scan(&events))
	require.Equal(t, 4, events, "three inputs set and one removed; refused writes leave no event")
}

// priceCPOSession stores a CPO session of 12.5 kWh at our EVSE uid,
// brings it to ready_for_pricing matched to that EVSE (the match and
// validity steps have their own tests) and runs the pricing step with the
// reimbursement pricer.
func priceCPOSession(t *testing.T, uid string, start time.Time) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	e, err := db.CPOEVSEByUID(ctx, testDB.Pool, uid, "", false)
	require.NoError(t, err)
	rec, _, err := db.ReceiveChargeSession(ctx, testDB.Pool, db.Intake{Channel: db.ChannelOCPIPush, Payload: []byte(`{}`),
		Session: session.ChargeSession{Side: session.CPO, CountryCode: "NL", PartyID: "RNC", CdrID: "CDR-" + uuid.NewString(), Start: start,
			End: start.Add(time.Hour), Token: session.Token{CountryCode: "DE", PartyID: "EMP", UID: "T1", Type: "RFID", ContractID: "DE-EMP-C00000001"},
			Location: session.Place{LocationID: e.LocationID, EvseUID: uid, ConnectorID: "1", Country: "LUX"}, Currency: "EUR",
			TotalEnergy: decimal.RequireFromString("12.5"), TotalTime: decimal.NewFromInt(1)}})
	require.NoError(t, err)
	_, err = testDB.Pool.Exec(ctx, `UPDATE charge_session SET state = 'ready_for_pricing', match_location_id = $2, match_evse_id = $3,
		match_evse_uid = $4, match_connector_id = '1' WHERE id = $1`, rec.ID, e.LocationUUID, e.ID, uid)
	require.NoError(t, err)
	rec, err = db.ChargeSession(ctx, testDB.Pool, rec.ID)
	require.NoError(t, err)
	p := session.Pipeline{Pricers: map[session.Side][]session.Pricer{session.CPO: {db.ReimbursementPricer{Pool: testDB.Pool}}}}
	o, err := p.Step(ctx, rec.ChargeSession, time.Now())
	require.NoError(t, err)
	require.Equal(t, session.Priced, o.State, "drop-out: %s %s", o.Reason, o.Detail)
	_, committed, err := db.CommitRecordStep(ctx, testDB.Pool, rec, o, time.Now())
	require.NoError(t, err)
	require.True(t, committed)
	return rec.ID
}

// oaCPOReimbursement exercises the reimbursement operations against the
// OpenAPI document (called from TestOpenAPIContract after oaVAT, which
// gives the seller of admID a VAT policy; custID's reimbursement VAT is
// exempt).
func oaCPOReimbursement(t *testing.T, c *oaClient, tag, admID, custID string) {
	pid := strings.ToUpper(uuid.NewString()[:3])
	c.do(201, "POST", "/main/v1/own-party", map[string]any{"country_code": "NL", "party_id": pid, "role": "CPO", "name": "CPO " + pid})
	loc, uid := "RL-"+tag, "RE-"+tag
	c.do(201, "POST", "/main/v1/cpo-evse-location/"+loc, cpoLocationBody("NL", pid))
	c.do(201, "POST", "/main/v1/cpo-evse/"+uid, map[string]any{"location_id": loc, "status": "AVAILABLE", "connectors": []any{
		map[string]any{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32}}})

	p := c.do(201, "POST", "/main/v1/cpo-reimbursement-plan", map[string]any{"administration_id": admID, "name": "Home", "calculation": "calculated",
		"cost_components": []string{"energy"}})
	pID := p.str("id")
	c.do(200, "GET", "/main/v1/cpo-reimbursement-plan/"+pID, nil)
	c.do(200, "GET", "/main/v1/cpo-reimbursement-plan?administration_id="+admID+"&external_reference=x", nil)
	c.do(200, "POST", "/main/v1/cpo-reimbursement-plan/"+pID, map[string]any{"name": "Home charger", "external_updated_at": "2025-01-01T00:00:00Z"})
	c.do(204, "POST", "/main/v1/cpo-reimbursement-plan/"+pID, map[string]any{"name": "Old", "external_updated_at": "2024-01-01T00:00:00Z"})
	c.do(201, "POST", "/main/v1/cpo-reimbursement-plan/ext_ref.RP-"+tag, map[string]any{"administration_id": admID, "name": "CMS", "calculation": "cms_provided"})
	c.do(400, "POST", "/main/v1/cpo-reimbursement-plan", map[string]any{"administration_id": admID, "name": "X", "calculation": "guess"}, oaDocRejects())
	c.do(200, "PUT", "/main/v1/cpo-reimbursement-plan/"+pID+"/calculation-input/2025-01-01T00:00:00Z/energy", map[string]any{"value": "0.10"})
	c.do(200, "GET", "/main/v1/cpo-reimbursement-plan/"+pID+"/calculation-input", nil)
	c.do(400, "PUT", "/main/v1/cpo-reimbursement-plan/"+pID+"/calculation-input/2025-01-01T00:00:00Z/energy", map[string]any{"value": 1}, oaDocRejects())

	a := c.do(201, "POST", "/main/v1/cpo-reimbursement-arrangement", map[string]any{"customer_id": custID, "plan_id": pID, "valid_from": "2025-01-01T00:00:00Z"})
	aID := a.str("id")
	c.do(200, "GET", "/main/v1/cpo-reimbursement-arrangement/"+aID, nil)
	c.do(200, "GET", "/main/v1/cpo-reimbursement-arrangement?customer_id="+custID+"&plan_id="+pID+"&valid_at=2025-06-01T00:00:00Z&external_reference=x", nil)
	c.do(200, "POST", "/main/v1/cpo-reimbursement-arrangement/"+aID, map[string]any{"external_updated_at": "2025-01-01T00:00:00Z"})
	c.do(204, "POST", "/main/v1/cpo-reimbursement-arrangement/"+aID, map[string]any{"valid_until": "2030-01-01T00:00:00Z", "external_updated_at": "2024-01-01T00:00:00Z"})
	c.do(201, "POST", "/main/v1/cpo-reimbursement-arrangement/ext_ref.RA-"+tag, map[string]any{"customer_id": custID, "plan_external_reference": "RP-" + tag,
		"valid_from": "2020-01-01T00:00:00Z", "valid_until": "2021-01-01T00:00:00Z"})
	c.do(200, "PUT", "/main/v1/cpo-reimbursement-arrangement/"+aID+"/calculation-input/2025-01-01T00:00:00Z/energy", map[string]any{"value": "0.20"})
	c.do(200, "GET", "/main/v1/cpo-reimbursement-arrangement/"+aID+"/calculation-input", nil)

	l := c.do(201, "POST", "/main/v1/cpo-reimbursement-link", map[string]any{"arrangement_id": aID, "evse_uid": uid, "valid_from": "2025-01-01T00:00:00Z"})
	c.do(200, "GET", "/main/v1/cpo-reimbursement-link/"+l.str("id"), nil)
	c.do(200, "GET", "/main/v1/cpo-reimbursement-link?arrangement_id="+aID+"&evse_uid="+uid+"&valid_at=2025-06-01T00:00:00Z&external_reference=x", nil)
	c.do(200, "POST", "/main/v1/cpo-reimbursement-link/"+l.str("id"), map[string]any{"external_updated_at": "2025-01-01T00:00:00Z"})
	c.do(204, "POST", "/main/v1/cpo-reimbursement-link/"+l.str("id"), map[string]any{"valid_until": "2030-01-01T00:00:00Z", "external_updated_at": "2024-01-01T00:00:00Z"})
	c.do(201, "POST", "/main/v1/cpo-reimbursement-link/ext_ref.RK-"+tag, map[string]any{"arrangement_external_reference": "RA-" + tag, "evse_uid": uid})
	c.do(400, "POST", "/main/v1/cpo-reimbursement-link", map[string]any{"arrangement_id": aID, "evse_uid": uid, "valid_from": "2025-06-01T00:00:00Z"})

	priceCPOSession(t, uid, time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC))
	rl := c.do(200, "GET", "/main/v1/cpo-charge-session-reimbursement?arrangement_id="+aID+"&customer_id="+custID+"&evse_uid="+uid+
		"&start_gte=2025-03-01T00:00:00Z&start_lt=2025-04-01T00:00:00Z", nil)
	require.Len(t, rl.items(), 1)
	require.Equal(t, "exempt", rl.items()[0]["vat_kind"])
	c.do(200, "GET", "/main/v1/cpo-charge-session-reimbursement/"+rl.items()[0]["id"].(string), nil)
	c.do(200, "GET", "/main/v1/cpo-charge-session-reimbursement?charge_session_id="+rl.items()[0]["charge_session_id"].(string), nil)
	c.do(400, "GET", "/main/v1/cpo-charge-session-reimbursement/"+uuid.NewString(), nil)
}
