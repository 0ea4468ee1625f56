package adminapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// cpoReport is a running session at location loc (EVSE uid, connector 1)
// reported as of the given charge periods (each 30 minutes of 5.5 kWh).
func cpoReport(sessionID, loc, uid string, periods int) map[string]any {
	start := time.Date(2024, 5, 6, 8, 0, 0, 0, time.UTC)
	var ps []any
	for i := 0; i < periods; i++ {
		ps = append(ps, map[string]any{"start_date_time": start.Add(time.Duration(i) * 30 * time.Minute).Format(time.RFC3339),
			"dimensions": []any{map[string]any{"type": "ENERGY", "volume": "5.5"}, map[string]any{"type": "TIME", "volume": "0.5"}}})
	}
	return map[string]any{"session_id": sessionID, "status": "ACTIVE", "start_date_time": start.Format(time.RFC3339),
		"kwh": "5.5", "token": map[string]any{"country_code": "de", "party_id": "ems", "uid": "TOK1", "type": "RFID", "contract_id": "DE-EMS-C1"},
		"auth_method": "WHITELIST", "location_id": loc, "evse_uid": uid, "connector_id": "1", "currency": "EUR", "charge_periods": ps}
}

// finish turns a report into the session's end with the CDR's facts.
func finish(b map[string]any) map[string]any {
	b["status"] = "COMPLETED"
	b["end_date_time"] = time.Date(2024, 5, 6, 9, 30, 0, 0, time.UTC).Format(time.RFC3339)
	b["kwh"] = "16.5"
	b["reimbursement_amount_excl_vat"] = "3.30"
	return b
}

// A running session is created, updated with more periods, ends and
// becomes one charge session (with its original, the CMS reimbursement and
// an event per write); repeating any report changes nothing and creates no
// second charge session; a different report after the CDR is a conflict;
// an older report is stale.
func TestCPOChargeSessionIntake(t *testing.T) {
	t.Parallel()
	h := setup(t)
	cc, pid := h.cpoParty()
	loc, uid := "loc-"+uuid.NewString()[:8], "evse-"+uuid.NewString()[:8]
	h.must(201, h.do("POST", "/main/v1/cpo-evse-location/"+loc, cpoLocationBody(cc, pid)))
	sid := "S-" + uuid.NewString()[:8]
	ctx := context.Background()
	events := func() int {
		var n int
		require.NoError(t, testDB.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox_event WHERE kind = 'cpo-charge-session-progress' AND data->>'session_id' = $1`, sid).Scan(&n))
		return n
	}

	b := cpoReport(sid, loc, uid, 1)
	c := h.must(201, h.do("POST", "/main/v1/cpo-charge-session", b))
	require.Equal(t, pid, c.str("party_id"), "the party of the location")
	require.Equal(t, "ACTIVE", c.str("status"))
	require.Equal(t, "DE", c.JSON["token"].(map[string]any)["country_code"], "the token's party is upper case")
	require.Nil(t, c.JSON["charge_session_id"])
	require.Equal(t, "5.5", c.JSON["charge_periods"].([]any)[0].(map[string]any)["dimensions"].([]any)[0].(map[string]any)["volume"])
	id := c.str("id")
	lu := c.str("last_updated")
	require.Equal(t, 1, events())

	// The same report again: nothing written, same answer.
	r := h.must(200, h.do("POST", "/main/v1/cpo-charge-session", b))
	require.Equal(t, lu, r.str("last_updated"))
	require.Equal(t, false, r.JSON["stale_update"])
	require.Equal(t, 1, events())

	// More periods: updated, same record.
	b = cpoReport(sid, loc, uid, 3)
	b["kwh"] = "16.5"
	u := h.must(200, h.do("POST", "/main/v1/cpo-charge-session", b))
	require.Equal(t, id, u.str("id"))
	require.Len(t, u.JSON["charge_periods"], 3)
	require.Equal(t, 2, events())

	// It ends: a charge session of side cpo, once.
	f := finish(cpoReport(sid, loc, uid, 3))
	e := h.must(200, h.do("POST", "/main/v1/cpo-charge-session", f))
	csID := e.str("charge_session_id")
	require.NotEmpty(t, csID)
	require.Equal(t, csID, e.str("cdr_id"), "the CDR id is ours: the charge session's id")
	require.Equal(t, "16.5", e.JSON["cdr"].(map[string]any)["total_energy"], "total_energy defaults to kwh")
	require.Equal(t, "1.5", e.JSON["cdr"].(map[string]any)["total_time"], "total_time defaults to the duration in hours")
	require.Equal(t, "3.3", e.JSON["cdr"].(map[string]any)["reimbursement_amount_excl_vat"])
	cs := h.must(200, h.do("GET", "/main/v1/cpo-charge-session/"+csID, nil))
	require.Equal(t, "cpo", cs.str("side"))
	require.Equal(t, sid, cs.str("session_id"))
	require.Equal(t, "16.5", cs.str("total_energy"))
	orig := h.must(200, h.do("GET", "/main/v1/cpo-charge-session-original/"+csID, nil))
	require.Equal(t, "admin_api", orig.str("channel"))
	require.Contains(t, orig.str("payload"), `"reimbursement_amount_excl_vat":"3.30"`)
	var reimb *bool
	require.NoError(t, testDB.Pool.QueryRow(ctx, `SELECT cms_reimbursement_excl_vat = 3.3 FROM charge_session WHERE id = $1`, csID).Scan(&reimb))
	require.NotNil(t, reimb)
	require.True(t, *reimb, "kept for the reimbursement pricer")
	count := func() int {
		var n int
		require.NoError(t, testDB.Pool.QueryRow(ctx, `SELECT count(*) FROM charge_session WHERE side = 'cpo' AND session_id = $1`, sid).Scan(&n))
		return n
	}
	require.Equal(t, 1, count())

	// The same end again (any number of times): idempotent.
	for range 3 {
		again := h.must(200, h.do("POST", "/main/v1/cpo-charge-session", finish(cpoReport(strings.ToLower(sid), loc, uid, 3))))
		require.Equal(t, csID, again.str("charge_session_id"))
	}
	require.Equal(t, 1, count())
	require.Equal(t, 3, events())

	// A different end after the CDR: a CDR is final.
	g := finish(cpoReport(sid, loc, uid, 3))
	g["kwh"] = "17"
	cf := h.must(409, h.do("POST", "/main/v1/cpo-charge-session", g))
	require.Equal(t, "cdr_issued", cf.code())
	require.Equal(t, 1, count())

	// Stale: an older external_updated_at changes nothing.
	t0 := time.Now().UTC().Add(-time.Hour)
	s2 := "S2-" + uuid.NewString()[:8]
	b2 := cpoReport(s2, loc, uid, 1)
	b2["external_updated_at"] = t0
	h.must(201, h.do("POST", "/main/v1/cpo-charge-session", b2))
	b2 = cpoReport(s2, loc, uid, 2)
	b2["external_updated_at"] = t0.Add(-time.Minute)
	st := h.must(204, h.do("POST", "/main/v1/cpo-charge-session", b2))
	require.Equal(t, "true", st.Header.Get("X-RN-Stale-Update"))
	l := h.must(200, h.do("GET", "/main/v1/cpo-charge-session-progress?session_id="+s2, nil))
	require.Len(t, l.items(), 1)
	require.Len(t, l.items()[0]["charge_periods"], 1)
	fin := h.must(200, h.do("GET", "/main/v1/cpo-charge-session-progress?finished=true&session_id="+sid, nil))
	require.Len(t, fin.items(), 1)
	h.must(200, h.do("GET", "/main/v1/cpo-charge-session-progress/"+id, nil))
}

// Bad input is a 400 listing every problem with its field path; nothing
// is stored.
func TestCPOChargeSessionBadInput(t *testing.T) {
	t.Parallel()
	h := setup(t)
	cc, pid := h.cpoParty()
	loc := "loc-" + uuid.NewString()[:8]
	h.must(201, h.do("POST", "/main/v1/cpo-evse-location/"+loc, cpoLocationBody(cc, pid)))
	sid := "B-" + uuid.NewString()[:8]
	b := cpoReport(sid, loc, "e1", 2)
	b["status"] = "COMPLETED" // without end_date_time
	b["kwh"] = 12.5           // a number, not a decimal string
	b["currency"] = "EURO"
	b["auth_method"] = "SMS"
	b["token"].(map[string]any)["country_code"] = "DEU"
	b["charge_periods"].([]any)[1].(map[string]any)["dimensions"] = []any{map[string]any{"type": "WATTS", "volume": "-1"}}
	b["zz_unknown"] = true
	r := h.must(400, h.do("POST", "/main/v1/cpo-charge-session", b))
	require.ElementsMatch(t, []string{"kwh"}, r.fields(), "type errors are reported first")
	b["kwh"] = "12.5"
	r = h.must(400, h.do("POST", "/main/v1/cpo-charge-session", b))
	require.ElementsMatch(t, []string{"end_date_time", "currency", "auth_method", "token.country_code",
		"charge_periods[1].dimensions[0].type", "charge_periods[1].dimensions[0].volume"}, r.fields())
	require.Equal(t, "zz_unknown", r.Header.Get("X-RN-Unknown-Fields"))

	r = h.must(400, h.do("POST", "/main/v1/cpo-charge-session", map[string]any{"status": "ACTIVE", "total_energy": "1"}))
	require.Subset(t, r.fields(), []string{"session_id", "start_date_time", "kwh", "token", "location_id", "evse_uid", "connector_id",
		"currency", "auth_method", "total_energy"})
	c := cpoReport(sid, loc, "e1", 0)
	c["status"] = "COMPLETED"
	c["end_date_time"] = time.Now().UTC().Format(time.RFC3339)
	r = h.must(400, h.do("POST", "/main/v1/cpo-charge-session", c))
	require.Equal(t, []string{"charge_periods"}, r.fields())
	c = cpoReport(sid, loc, "e1", 1)
	c["country_code"], c["party_id"] = "ZZ", "ZZZ"
	r = h.must(400, h.do("POST", "/main/v1/cpo-charge-session", c))
	require.Equal(t, []string{"party_id"}, r.fields())
	h.must(400, h.do("POST", "/main/v1/cpo-charge-session", "[1]"))

	var n int
	require.NoError(t, testDB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM cpo_session WHERE session_id = $1`, sid).Scan(&n))
	require.Zero(t, n)

	// Accounts limited to some administrations may not report.
	_, adm := h.tenant()
	u, s := h.account([]string{"charge-session:write"}, []string{adm})
	h.must(403, h.doAs(u, s, "POST", "/main/v1/cpo-charge-session", cpoReport(sid, loc, "e1", 1)))
}

// oaCPOChargeSessions exercises the report endpoint and its read model for
// the OpenAPI contract test (openapi_test.go).
func oaCPOChargeSessions(t *testing.T, c *oaClient, tag string) {
	t.Helper()
	pid := strings.ToUpper(tag[:3])
	loc := "oa-loc-" + tag // oaCPO's location of BE-<pid>
	sid := "oa-s-" + tag
	b := cpoReport(sid, loc, "oa-evse-"+tag, 1)
	b["note"] = 1
	cr := c.do(201, "POST", "/main/v1/cpo-charge-session", b)
	require.Equal(t, pid, cr.str("party_id"))
	require.Equal(t, "note", cr.Header.Get("X-RN-Unknown-Fields"))
	b = cpoReport(sid, loc, "oa-evse-"+tag, 2)
	b["external_updated_at"] = time.Now().UTC().Add(-time.Hour)
	c.do(200, "POST", "/main/v1/cpo-charge-session", b)
	b["external_updated_at"] = time.Now().UTC().Add(-2 * time.Hour)
	c.do(204, "POST", "/main/v1/cpo-charge-session", b)
	f := finish(cpoReport(sid, loc, "oa-evse-"+tag, 2))
	f["external_updated_at"] = time.Now().UTC().Add(-time.Minute)
	e := c.do(200, "POST", "/main/v1/cpo-charge-session", f)
	require.NotEmpty(t, e.str("charge_session_id"))
	f["kwh"] = "99"
	c.do(409, "POST", "/main/v1/cpo-charge-session", f)
	c.do(400, "POST", "/main/v1/cpo-charge-session", map[string]any{"session_id": sid, "status": "DONE"}, oaDocRejects())
	l := c.do(200, "GET", "/main/v1/cpo-charge-session-progress?page_size=1&status=COMPLETED&finished=true&session_id="+sid, nil)
	require.Len(t, l.items(), 1)
	c.do(200, "GET", l.str("link_next"), nil)
	c.do(400, "GET", "/main/v1/cpo-charge-session-progress?status=DONE", nil, oaDocRejects())
	c.do(200, "GET", "/main/v1/cpo-charge-session-progress/"+cr.str("id"), nil)
	c.do(400, "GET", "/main/v1/cpo-charge-session-progress/"+uuid.NewString(), nil)
}
