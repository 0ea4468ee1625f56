package adminapi_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/rateplan"
	"github.com/roamnode/roamnode/domain/session"
)

// TestCPOEVSEReimbursementMandatoryViaAdminAPI: reimbursement_mandatory is
// set on one of OUR EVSEs through the Admin API (a field of cpo-evse: the
// guide's PUT /cpo-evse/{evse_uid}/reimbursement-mandatory was removed in
// v3.33.0), reads back, survives merges that leave it out, and takes
// effect: with a plan that uses the customer reimbursement VAT and no
// reimbursement arrangement, a quote and a session at that EVSE drop out;
// turned off again, both are priced.
func TestCPOEVSEReimbursementMandatoryViaAdminAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := setup(t)
	f := newPricingFixture(t)
	proc := pricingProcessor(t)
	uid := "RM" + strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", "")[:10])
	// The partner's view of the EVSE (what the CDR matches) only; our own
	// location and EVSE come through the Admin API, in the CDR's CPO party
	// BE-<party> made one of our own.
	f.localEVSE(uid, false, false)
	h.must(201, h.do("POST", "/main/v1/own-party", map[string]any{"country_code": "BE", "party_id": f.party, "role": "CPO", "name": "Own " + f.party}))
	loc := "L-" + uid
	h.must(201, h.do("POST", "/main/v1/cpo-evse-location/"+loc, map[string]any{"country_code": "BE", "party_id": f.party,
		"address": "Stationsplein 1", "city": "Gent", "country": "BEL", "coordinates": map[string]any{"latitude": "51.035000", "longitude": "3.710000"},
		"time_zone": "Europe/Brussels"}))
	conn := map[string]any{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32}
	path := "/main/v1/cpo-evse/" + uid

	// A bad value is 400 naming the field; nothing is created.
	bad := h.must(400, h.do("POST", path, map[string]any{"location_id": loc, "status": "AVAILABLE", "connectors": []any{conn}, "reimbursement_mandatory": "yes"}))
	require.Equal(t, []string{"reimbursement_mandatory"}, bad.fields())
	require.Equal(t, "not_found", h.must(400, h.do("GET", path, nil)).code())

	// Set on create, read back; a merge that leaves it out keeps it.
	c := h.must(201, h.do("POST", path, map[string]any{"location_id": loc, "status": "AVAILABLE", "connectors": []any{conn}, "reimbursement_mandatory": true}))
	require.Equal(t, true, c.JSON["reimbursement_mandatory"])
	require.Equal(t, true, h.must(200, h.do("GET", path, nil)).JSON["reimbursement_mandatory"])
	m := h.must(200, h.do("POST", path, map[string]any{"status": "CHARGING"}))
	require.Equal(t, true, m.JSON["reimbursement_mandatory"])
	require.Equal(t, "CHARGING", m.str("status"))
	l := h.must(200, h.do("GET", "/main/v1/cpo-evse?location_id="+loc, nil)).items()
	require.Len(t, l, 1)
	require.Equal(t, true, l[0]["reimbursement_mandatory"])

	h.must(200, h.do("POST", "/main/v1/msp-token-subscription-plan/"+f.plan.String(), map[string]any{"use_customer_reimbursement_vat": true}))
	quote := url.Values{"subscription_id": {f.sub.String()}, "location_id": {f.location.String()}, "evse_uid": {uid}, "energy": {"15"}, "duration": {"120"}}

	// In effect: no arrangement at a mandatory EVSE drops out.
	e := h.must(400, h.do("GET", "/main/v1/msp-charge-cost-calculation?"+quote.Encode(), nil))
	require.Equal(t, "not_priceable", e.code())
	require.Contains(t, string(e.Raw), rateplan.ReasonReimbursementArrangementMissing)
	id := f.postCDR(h.app, f.cdrAt("RM1-"+uid, uid, "15"))
	require.NoError(t, proc.Process(ctx, id))
	s := h.session(id)
	require.Equal(t, session.DroppedOut, s.State)
	require.Equal(t, rateplan.ReasonReimbursementArrangementMissing, *s.DropoutReason, "%s", *s.DropoutDetail)

	// Turned off through the API: priced with the normal VAT (Malta 18 %).
	off := h.must(200, h.do("POST", path, map[string]any{"reimbursement_mandatory": false}))
	require.Equal(t, false, off.JSON["reimbursement_mandatory"])
	require.Equal(t, "CHARGING", off.str("status"), "a merge keeps the other fields")
	require.Equal(t, false, h.must(200, h.do("GET", path, nil)).JSON["reimbursement_mandatory"])
	require.Equal(t, "0.9", h.must(200, h.do("GET", "/main/v1/msp-charge-cost-calculation?"+quote.Encode(), nil)).str("vat"))
	id = f.postCDR(h.app, f.cdrAt("RM2-"+uid, uid, "15"))
	require.NoError(t, proc.Process(ctx, id))
	s = h.session(id)
	require.Equal(t, session.Priced, s.State, "%v", s.DropoutDetail)

	// And on again: the next session drops out again.
	h.must(200, h.do("POST", path, map[string]any{"reimbursement_mandatory": true}))
	id = f.postCDR(h.app, f.cdrAt("RM3-"+uid, uid, "15"))
	require.NoError(t, proc.Process(ctx, id))
	require.Equal(t, session.DroppedOut, h.session(id).State)
}
