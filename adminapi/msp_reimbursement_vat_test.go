package adminapi_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/rateplan"
	"github.com/roamnode/roamnode/domain/session"
)

// localEVSE adds an EVSE with uid to the fixture: at the partner's
// location LOC1 (what the CDR matches, as every partner EVSE) and as one
// of OUR EVSEs (a cpo_location of the CDR's CPO party BE-<party>: the
// party is ours too), with reimbursement mandatory as given. It returns
// our EVSE's id.
func (f *pricingFixture) localEVSE(uid string, ours, mandatory bool) uuid.UUID {
	f.t.Helper()
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		_, err := testDB.Pool.Exec(ctx, sql, args...)
		require.NoError(f.t, err, sql)
	}
	exec(`INSERT INTO partner_evse (location_ref, position, uid, uid_key, evse_id, evse_id_key, status, last_updated, data)
		VALUES ($1, 1, $2, $3, $4, $5, 'AVAILABLE', now(),
		jsonb_build_object('uid', $2::text, 'connectors', '[{"id":"1","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":32,"max_electric_power":22000}]'::jsonb))`,
		f.location, uid, strings.ToUpper(uid), "BE*"+f.party+"*E"+uid, strings.ToUpper("BE"+f.party+"E"+uid))
	if !ours {
		return uuid.Nil
	}
	loc, evse := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	exec(`INSERT INTO cpo_location (id, location_id, location_key, country_code, party_id, doc, last_updated, created_at, updated_at)
		VALUES ($1, $2, $3, 'BE', $4, '{}', now(), now(), now())`, loc, "L-"+uid, "L-"+strings.ToUpper(uid), f.party)
	exec(`INSERT INTO cpo_evse (id, evse_uid, evse_key, location_uuid, location_id, status, status_updated_at, doc, reimbursement_mandatory,
		last_updated, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'AVAILABLE', now(), '{}', $6, now(), now(), now())`,
		evse, uid, strings.ToUpper(uid), loc, "L-"+uid, mandatory)
	return evse
}

// arrangement puts our EVSE under a reimbursement arrangement, valid for
// the last year, of a new site owner whose reimbursement VAT is rv.
func (f *pricingFixture) arrangement(evse uuid.UUID, rv string) uuid.UUID {
	f.t.Helper()
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		_, err := testDB.Pool.Exec(ctx, sql, args...)
		require.NoError(f.t, err, sql)
	}
	owner, plan, arr := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	from := time.Now().UTC().Add(-365 * 24 * time.Hour).Truncate(time.Minute)
	exec(`INSERT INTO party (id, role, administration_id, name, country, entity_type, reimbursement_vat, created_at, updated_at)
		VALUES ($1, 'customer', $2, 'Site owner', 'MT', 'organisation', $3, now(), now())`, owner, f.admin, rv)
	exec(`INSERT INTO cpo_reimbursement_plan (id, administration_id, name, calculation, created_at, updated_at)
		VALUES ($1, $2, 'Sites', 'cms_provided', now(), now())`, plan, f.admin)
	exec(`INSERT INTO cpo_reimbursement_arrangement (id, administration_id, customer_id, plan_id, valid_from, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, now(), now())`, arr, f.admin, owner, plan, from)
	exec(`INSERT INTO cpo_reimbursement_link (id, arrangement_id, evse_id, valid_from, created_at, updated_at)
		VALUES ($1, $2, $3, $4, now(), now())`, uuid.Must(uuid.NewV7()), arr, evse, from)
	return arr
}

// cdrAt is the fixture's CDR at the EVSE with uid (see localEVSE).
func (f *pricingFixture) cdrAt(id, uid, kwh string) []byte {
	var m map[string]any
	require.NoError(f.t, json.Unmarshal(f.cdr(id, kwh), &m))
	loc := m["cdr_location"].(map[string]any)
	loc["evse_uid"], loc["evse_id"] = uid, "BE*"+f.party+"*E"+uid
	out, err := json.Marshal(m)
	require.NoError(f.t, err)
	return out
}

// TestMSPUseCustomerReimbursementVAT: a partner CDR at one of OUR EVSEs
// (its CPO party is ours) priced on the MSP side for a plan with "Use
// Customer Reimbursement VAT" follows the guide's rule end to end
// (003 → "Subscription plan: use customer reimbursement VAT"); the
// fixture's normal VAT is Malta's 18 % (5.00 excl. → 0.90 VAT).
func TestMSPUseCustomerReimbursementVAT(t *testing.T) {
	t.Parallel()
	type arrangements []string // the reimbursement VAT of each arrangement's customer
	cases := []struct {
		name      string
		flag      bool
		ours      bool
		mandatory bool
		arrs      arrangements
		vat       string // "" when the session drops out
		exempt    bool
		reason    string
	}{
		{name: "exempt", flag: true, ours: true, arrs: arrangements{"exempt"}, vat: "0", exempt: true},
		{name: "applies", flag: true, ours: true, arrs: arrangements{"applies"}, vat: "0.9"},
		{name: "unknown", flag: true, ours: true, arrs: arrangements{"unknown"}, reason: rateplan.ReasonReimbursementVATUnknown},
		{name: "none, mandatory", flag: true, ours: true, mandatory: true, reason: rateplan.ReasonReimbursementArrangementMissing},
		{name: "none, not mandatory", flag: true, ours: true, vat: "0.9"},
		{name: "two arrangements", flag: true, ours: true, arrs: arrangements{"exempt", "exempt"}, reason: rateplan.ReasonReimbursementArrangements},
		{name: "no local EVSE", flag: true, vat: "0.9"},
		{name: "flag off", flag: false, ours: true, mandatory: true, arrs: arrangements{"exempt"}, vat: "0.9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			h := setup(t)
			f := newPricingFixture(t)
			proc := pricingProcessor(t)
			uid := "RV" + strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", "")[:10])
			evse := f.localEVSE(uid, tc.ours, tc.mandatory)
			for _, rv := range tc.arrs {
				f.arrangement(evse, rv)
			}
			p := h.must(200, h.do("POST", "/main/v1/msp-token-subscription-plan/"+f.plan.String(), map[string]any{"use_customer_reimbursement_vat": tc.flag}))
			require.Equal(t, tc.flag, p.JSON["use_customer_reimbursement_vat"])

			// A quote at that EVSE goes the same way (same loader, same rule).
			q := url.Values{"subscription_id": {f.sub.String()}, "location_id": {f.location.String()}, "evse_uid": {uid}, "energy": {"15"}, "duration": {"120"}}
			if tc.reason != "" {
				e := h.must(400, h.do("GET", "/main/v1/msp-charge-cost-calculation?"+q.Encode(), nil))
				require.Equal(t, "not_priceable", e.code())
				require.Contains(t, string(e.Raw), tc.reason)
			} else {
				require.Equal(t, tc.vat, h.must(200, h.do("GET", "/main/v1/msp-charge-cost-calculation?"+q.Encode(), nil)).str("vat"))
			}

			id := f.postCDR(h.app, f.cdrAt("RV-"+uid, uid, "15"))
			require.NoError(t, proc.Process(ctx, id))
			s := h.session(id)
			if tc.reason != "" {
				require.Equal(t, session.DroppedOut, s.State)
				require.Equal(t, tc.reason, *s.DropoutReason, "%s", *s.DropoutDetail)
				require.Equal(t, string(session.CheckVATDetermined), *s.DropoutCheck)
				return
			}
			require.Equal(t, session.Priced, s.State, "%v", s.DropoutDetail)
			g := h.must(200, h.do("GET", "/main/v1/msp-charge-session-priced/"+id.String(), nil))
			price := g.JSON["price"].(map[string]any)
			require.Equal(t, "5", price["excl_vat"])
			require.Equal(t, tc.vat, price["vat"])
			for _, v := range price["detail"].(map[string]any)["vat"].([]any) {
				d := v.(map[string]any)
				require.Equal(t, tc.exempt, d["exempt"], d["explanation"])
				if tc.exempt {
					require.Equal(t, "exempt", d["kind"])
					require.Contains(t, d["explanation"], "reimbursement_vat: ")
				}
			}
		})
	}
}
