package adminapi_test

import (
	"context"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/session"
)

// roamingCostCall sends one Admin API request, asserts its status and
// returns the decoded body (the harness and the contract test's client
// both provide one).
type roamingCostCall func(status int, method, path string, body any) map[string]any

// roamingCostFixture is a CPO set-up whose sessions get a roaming cost:
// our CPO party (of the test's own) with a location in Amsterdam, an EVSE
// whose connector names our tariff (ENERGY 0.30/kWh and FLAT 0.50, both
// with 21 % VAT), and eMSPs — roaming partners with a party of the
// test's own and an agreement in role cpo since 2020.
type roamingCostFixture struct {
	t                 *testing.T
	call              roamingCostCall
	cc, pid, loc, uid string
	tariff            string
}

func newRoamingCostFixture(t *testing.T, call roamingCostCall) *roamingCostFixture {
	t.Helper()
	tag := uuid.NewString()[:8]
	f := &roamingCostFixture{t: t, call: call, cc: "NL", pid: freeParty(t), loc: "RCL-" + tag, uid: "RCE-" + tag, tariff: "RCT-" + tag}
	call(201, "POST", "/main/v1/own-party", map[string]any{"country_code": f.cc, "party_id": f.pid, "role": "CPO", "name": "CPO " + f.pid})
	call(201, "POST", "/main/v1/cpo-tariff/"+f.tariff, map[string]any{"country_code": f.cc, "party_id": f.pid, "currency": "EUR", "type": "REGULAR",
		"elements": []any{map[string]any{"price_components": []any{
			map[string]any{"type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1},
			map[string]any{"type": "FLAT", "price": 0.50, "vat": 21, "step_size": 1}}}}})
	call(201, "POST", "/main/v1/cpo-evse-location/"+f.loc, cpoLocationBody(f.cc, f.pid))
	call(201, "POST", "/main/v1/cpo-evse/"+f.uid, map[string]any{"location_id": f.loc, "status": "AVAILABLE", "evse_id": f.cc + "*" + f.pid + "*E" + tag,
		"connectors": []any{map[string]any{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
			"max_voltage": 230, "max_amperage": 32, "tariff_ids": []string{f.tariff}}}})
	return f
}

// emsp registers a roaming partner with the eMSP party DE-<free party id>
// and its agreement in role cpo; it returns the party id and the partner.
func (f *roamingCostFixture) emsp() (string, string) {
	f.t.Helper()
	party := freeParty(f.t)
	p := f.call(201, "POST", "/main/v1/roaming-partner", map[string]any{"name": "eMSP " + party, "country": "DE",
		"party_ids": []map[string]any{{"party": "DE-" + party, "role": "EMSP"}}})
	f.call(201, "POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": p["id"], "role": "cpo", "valid_from": "2020-01-01T00:00:00Z"})
	return party, p["id"].(string)
}

// session reports a finished session of kWh at the fixture's EVSE for a
// token of DE-party, started at start and lasting an hour, and returns
// its CPO charge session's id.
func (f *roamingCostFixture) session(party, kwh string, start time.Time) uuid.UUID {
	f.t.Helper()
	sid := "RCS-" + uuid.NewString()[:8]
	r := f.call(201, "POST", "/main/v1/cpo-charge-session", map[string]any{"session_id": sid, "status": "COMPLETED",
		"start_date_time": start.Format(time.RFC3339), "end_date_time": start.Add(time.Hour).Format(time.RFC3339), "kwh": kwh,
		"token":       map[string]any{"country_code": "DE", "party_id": party, "uid": "TOK-" + sid, "type": "RFID", "contract_id": "DE-" + party + "-C" + sid[4:]},
		"auth_method": "WHITELIST", "location_id": f.loc, "evse_uid": f.uid, "connector_id": "1", "currency": "EUR",
		"charge_periods": []any{map[string]any{"start_date_time": start.Format(time.RFC3339),
			"dimensions": []any{map[string]any{"type": "ENERGY", "volume": kwh}}}}})
	id, err := uuid.Parse(r["charge_session_id"].(string))
	require.NoError(f.t, err)
	return id
}

// roamingCostReadModelFields are the fields the read model adds to the
// result its outbox event carries.
var roamingCostReadModelFields = []string{"latest", "session_id", "cdr_id", "country_code", "party_id", "location_id", "evse_uid", "evse_id",
	"connector_id", "start_date_time", "end_date_time", "total_energy", "total_time", "token_uid", "token_type", "emsp_country_code",
	"emsp_party_id", "partner_id", "partner_name", "agreement_id", "tariff_id", "tariff_choice"}

// requireEventIsGET asserts that the result has exactly one outbox event
// cpo-charge-session-roaming-cost, a create, whose data is the GET by id
// body without the read model's own fields (and that GET adds nothing
// else).
func requireEventIsGET(t *testing.T, got map[string]any) {
	t.Helper()
	id := got["id"].(string)
	ev := outboxEvents(t, "cpo-charge-session-roaming-cost", id)
	require.Len(t, ev, 1, "one event per stored result")
	require.Equal(t, "create", ev[0].Mod)
	require.Nil(t, ev[0].Admin, "a CPO session belongs to no administration")
	want := map[string]any{}
	for k, v := range got {
		if !slices.Contains(roamingCostReadModelFields, k) {
			want[k] = v
		}
	}
	require.Equal(t, want, ev[0].Data, "the event's data is the result as GET shows it")
	var keys []string
	for k := range ev[0].Data {
		keys = append(keys, k)
	}
	keys = append(keys, roamingCostReadModelFields...)
	sort.Strings(keys)
	var gotKeys []string
	for k := range got {
		gotKeys = append(gotKeys, k)
	}
	sort.Strings(gotKeys)
	require.Equal(t, keys, gotKeys, "GET is the event's data plus the read model's fields")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestCPORoamingCostReadModel: sessions at our EVSE for two eMSPs' tokens
// are priced by the node's pipeline; their roaming costs (exact amounts,
// VAT and components) are visible through the list and GET by id with the
// session, the eMSP and the tariff; the filters select; a repricing adds
// version 2 and moves latest; every result has exactly one outbox event
// whose data is the GET body; an account of another administration sees
// nothing.
func TestCPORoamingCostReadModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := setup(t)
	call := func(status int, method, path string, body any) map[string]any {
		return h.must(status, h.do(method, path, body)).JSON
	}
	f := newRoamingCostFixture(t, call)
	partyA, partnerA := f.emsp()
	partyB, partnerB := f.emsp()
	start := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)
	sa := f.session(partyA, "12.5", start)
	sb := f.session(partyB, "20", start.Add(time.Minute))
	proc := pricingProcessor(t) // the node's pricers: roaming cost and reimbursement on the CPO side
	for _, id := range []uuid.UUID{sa, sb} {
		require.NoError(t, proc.Process(ctx, id))
		if rec := h.session(id); rec.State != session.Priced {
			t.Fatalf("session %s is %s, not priced: %v %v", id, rec.State, deref(rec.DropoutReason), deref(rec.DropoutDetail))
		}
	}
	base := "/main/v1/cpo-charge-session-roaming-cost"
	list := func(q url.Values) []map[string]any {
		t.Helper()
		return h.must(200, h.do("GET", base+"?"+q.Encode(), nil)).items()
	}

	// Session A: 12.5 kWh × 0.30 + 0.50, 21 % VAT, exact (no rounding).
	la := list(url.Values{"charge_session_id": {sa.String()}})
	require.Len(t, la, 1)
	a1 := la[0]
	require.Equal(t, sa.String(), a1["charge_session_id"])
	require.Equal(t, "roaming_cost", a1["kind"])
	require.Equal(t, float64(1), a1["version"])
	require.Equal(t, "initial", a1["reason"])
	require.Equal(t, true, a1["latest"])
	require.Nil(t, a1["credit_of"])
	require.Nil(t, a1["subject_id"])
	require.Nil(t, a1["administration_id"])
	require.Equal(t, "EUR", a1["currency"])
	require.Equal(t, "4.25", a1["excl_vat"])
	require.Equal(t, "0.8925", a1["vat"])
	require.Equal(t, "5.1425", a1["incl_vat"])
	require.Equal(t, []any{
		map[string]any{"component": "flat", "unit": "session", "volume": "1", "excl_vat": "0.5", "vat_rate": "0.21", "vat": "0.105", "incl_vat": "0.605"},
		map[string]any{"component": "energy", "unit": "kWh", "volume": "12.5", "excl_vat": "3.75", "vat_rate": "0.21", "vat": "0.7875", "incl_vat": "4.5375"},
	}, a1["components"])
	require.Equal(t, sa.String(), a1["cdr_id"], "the CDR id is the charge session's")
	require.NotEmpty(t, a1["session_id"])
	require.Equal(t, f.cc, a1["country_code"])
	require.Equal(t, f.pid, a1["party_id"])
	require.Equal(t, f.loc, a1["location_id"])
	require.Equal(t, f.uid, a1["evse_uid"])
	require.Equal(t, "1", a1["connector_id"])
	require.Equal(t, start.Format(time.RFC3339), a1["start_date_time"])
	require.Equal(t, start.Add(time.Hour).Format(time.RFC3339), a1["end_date_time"])
	require.Equal(t, "12.5", a1["total_energy"])
	require.Equal(t, "DE", a1["emsp_country_code"])
	require.Equal(t, partyA, a1["emsp_party_id"])
	require.Equal(t, partnerA, a1["partner_id"])
	require.Equal(t, "eMSP "+partyA, a1["partner_name"])
	require.NotEmpty(t, a1["agreement_id"])
	require.Equal(t, f.tariff, a1["tariff_id"])
	require.NotEmpty(t, a1["tariff_choice"])
	require.Equal(t, partnerA, a1["detail"].(map[string]any)["partner_id"])
	one := h.must(200, h.do("GET", base+"/"+a1["id"].(string), nil)).JSON
	require.Equal(t, a1, one, "GET by id shows the list's item")

	// Session B: 20 kWh × 0.30 + 0.50.
	lb := list(url.Values{"charge_session_id": {sb.String()}})
	require.Len(t, lb, 1)
	b1 := lb[0]
	require.Equal(t, "6.5", b1["excl_vat"])
	require.Equal(t, "1.365", b1["vat"])
	require.Equal(t, "7.865", b1["incl_vat"])
	require.Equal(t, partnerB, b1["partner_id"])
	require.Equal(t, partyB, b1["emsp_party_id"])

	// Filters.
	ids := func(items []map[string]any) []any {
		out := []any{}
		for _, it := range items {
			out = append(out, it["id"])
		}
		return out
	}
	for q, want := range map[string][]any{
		"partner_id=" + partnerA: {a1["id"]},
		"partner_id=" + partnerB: {b1["id"]},
		"emsp_country_code=de&emsp_party_id=" + strings.ToLower(partyA): {a1["id"]},
		"emsp_party_id=" + partyB:                                                                          {b1["id"]},
		"evse_uid=" + strings.ToLower(f.uid):                                                               {a1["id"], b1["id"]},
		"evse_uid=" + f.uid + "&currency=eur":                                                              {a1["id"], b1["id"]},
		"evse_uid=" + f.uid + "&currency=USD":                                                              {},
		"evse_uid=" + f.uid + "&latest=true":                                                               {a1["id"], b1["id"]},
		"evse_uid=" + f.uid + "&latest=false":                                                              {},
		"partner_id=" + partnerA + "&charge_session_id=" + sb.String():                                     {},
		"evse_uid=" + f.uid + "&start_gte=" + url.QueryEscape(start.Format(time.RFC3339)):                  {a1["id"], b1["id"]},
		"evse_uid=" + f.uid + "&start_gte=" + url.QueryEscape(start.Add(time.Second).Format(time.RFC3339)): {b1["id"]},
		"evse_uid=" + f.uid + "&start_lt=" + url.QueryEscape(start.Add(time.Second).Format(time.RFC3339)):  {a1["id"]},
		"partner_id=" + uuid.NewString():                                                                   {},
	} {
		got := h.must(200, h.do("GET", base+"?"+q, nil)).items()
		require.Equal(t, want, ids(got), q)
	}
	for q, path := range map[string]string{"latest=maybe": "latest", "partner_id=x": "partner_id", "charge_session_id=1": "charge_session_id",
		"emsp_country_code=DEU": "emsp_country_code", "emsp_party_id=T-1": "emsp_party_id", "currency=EURO": "currency", "start_gte=soon": "start_gte"} {
		require.Equal(t, []string{path}, h.must(400, h.do("GET", base+"?"+q, nil)).fields(), q)
	}
	require.Equal(t, "unknown_parameter", h.must(400, h.do("GET", base+"?arrangement_id="+uuid.NewString(), nil)).code())
	// Seek pagination: page after page, in id order.
	p1 := h.must(200, h.do("GET", base+"?page_size=1&evse_uid="+f.uid, nil))
	require.Equal(t, []any{a1["id"]}, ids(p1.items()))
	p2 := h.must(200, h.do("GET", p1.str("link_next"), nil))
	require.Equal(t, []any{b1["id"]}, ids(p2.items()))

	// A repricing appends version 2 of A's roaming cost (same amounts);
	// version 1 is kept and no longer latest.
	require.NoError(t, proc.Reprice(ctx, sa, "correction: roaming agreement"))
	la = list(url.Values{"charge_session_id": {sa.String()}})
	require.Len(t, la, 2)
	v1, v2 := la[0], la[1]
	require.Equal(t, a1["id"], v1["id"])
	require.Equal(t, false, v1["latest"])
	require.Equal(t, float64(2), v2["version"])
	require.Equal(t, true, v2["latest"])
	require.Equal(t, "correction: roaming agreement", v2["reason"])
	require.Equal(t, "5.1425", v2["incl_vat"])
	require.Equal(t, []any{v2["id"]}, ids(list(url.Values{"charge_session_id": {sa.String()}, "latest": {"true"}})))
	require.Equal(t, []any{v1["id"]}, ids(list(url.Values{"charge_session_id": {sa.String()}, "latest": {"false"}})))
	require.Equal(t, []any{v1["id"], b1["id"], v2["id"]}, ids(list(url.Values{"evse_uid": {f.uid}})))

	// Exactly one outbox event per result, its data the GET by id body.
	for _, it := range []map[string]any{v1, v2, b1} {
		got := h.must(200, h.do("GET", base+"/"+it["id"].(string), nil)).JSON
		require.Equal(t, it, got)
		requireEventIsGET(t, got)
	}
	var perSession int
	require.NoError(t, testDB.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox_event WHERE kind = 'cpo-charge-session-roaming-cost'
		AND data->>'charge_session_id' = $1`, sa.String()).Scan(&perSession))
	require.Equal(t, 2, perSession, "one event per version of A's roaming cost")

	// Scoping: an account of another administration sees none of it (the
	// Admin API answers 403 for a record out of scope, 404 only for
	// unknown routes); an unknown id is 400 not_found.
	_, other := h.tenant()
	u, s := h.account([]string{"charge-session:read"}, []string{other})
	require.Empty(t, h.must(200, h.doAs(u, s, "GET", base, nil)).items())
	require.Empty(t, h.must(200, h.doAs(u, s, "GET", base+"?charge_session_id="+sa.String(), nil)).items())
	require.Empty(t, h.must(200, h.doAs(u, s, "GET", base+"?partner_id="+partnerA, nil)).items())
	for _, it := range []map[string]any{v1, v2, b1} {
		h.must(403, h.doAs(u, s, "GET", base+"/"+it["id"].(string), nil))
	}
	noRead, nrs := h.account([]string{"cpo:read"}, nil)
	h.must(403, h.doAs(noRead, nrs, "GET", base, nil))
	require.Equal(t, "not_found", h.must(400, h.do("GET", base+"/"+uuid.NewString(), nil)).code())
	h.must(400, h.do("GET", base+"/ext_ref.x", nil))
}

// oaCPORoamingCost exercises the roaming-cost read model against the
// OpenAPI document (called from TestOpenAPIContract): a priced session's
// roaming cost through the list with every filter and GET by id, and the
// main errors.
func oaCPORoamingCost(t *testing.T, c *oaClient) {
	t.Helper()
	call := func(status int, method, path string, body any) map[string]any {
		return c.do(status, method, path, body).JSON
	}
	f := newRoamingCostFixture(t, call)
	party, partnerID := f.emsp()
	start := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Minute)
	id := f.session(party, "10", start)
	require.NoError(t, pricingProcessor(t).Process(context.Background(), id))
	base := "/main/v1/cpo-charge-session-roaming-cost"
	q := url.Values{"charge_session_id": {id.String()}, "partner_id": {partnerID}, "emsp_country_code": {"DE"}, "emsp_party_id": {party},
		"evse_uid": {f.uid}, "currency": {"EUR"}, "latest": {"true"}, "start_gte": {start.Format(time.RFC3339)},
		"start_lt": {start.Add(time.Minute).Format(time.RFC3339)}}
	l := c.do(200, "GET", base+"?"+q.Encode(), nil)
	require.Len(t, l.items(), 1)
	require.Equal(t, "3.5", l.items()[0]["excl_vat"]) // 10 kWh × 0.30 + 0.50
	c.do(200, "GET", base+"?page_size=1", nil)
	c.do(200, "GET", base+"/"+l.items()[0]["id"].(string), nil)
	c.do(400, "GET", base+"/"+uuid.NewString(), nil)
	c.do(400, "GET", base+"?latest=maybe", nil, oaDocRejects())
	c.do(400, "GET", base+"?partner_id=x", nil, oaDocRejects())
}
