package module_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi/ocpitest"
)

func sessionURL(cc, pid, id string) string {
	return "/ocpi/2.2.1/emsp/sessions/" + cc + "/" + pid + "/" + id
}

// rawOCPI sends a raw body (which may not be JSON) and returns the HTTP
// status and the envelope, validated against the official files.
func (in *instance) rawOCPI(token, method, path string, body []byte) (int, map[string]any) {
	in.t.Helper()
	req, _ := http.NewRequest(method, in.base+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Token "+base64.StdEncoding.EncodeToString([]byte(token)))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(in.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(in.t, err)
	ocpitest.ValidateResponse(in.t, method, path, res.StatusCode, res.Header, raw)
	var env map[string]any
	require.NoError(in.t, json.Unmarshal(raw, &env))
	return res.StatusCode, env
}

// progressEvents counts the outbox events of partner sessions.
func (in *instance) progressEvents() int {
	in.t.Helper()
	var n int
	require.NoError(in.t, in.db.Pool.QueryRow(context.Background(),
		"SELECT count(*) FROM outbox_event WHERE kind = 'msp-charge-session-progress'").Scan(&n))
	return n
}

// TestEMSPSessionsOfficialExamples pushes every official Session example
// through our receiver and reads each back identical in meaning, then
// applies the official PATCH examples; every answer is validated against
// the official OpenAPI files.
func TestEMSPSessionsOfficialExamples(t *testing.T) {
	a := start(t, "NL", "EMS", "EMSP")
	token := partner.NewToken()
	files, err := filepath.Glob(filepath.Join(examplesDir, "session_example*.json"))
	require.NoError(t, err)
	require.Len(t, files, 2)
	parties := map[string]bool{}
	for _, f := range files {
		s := readExample(t, filepath.Base(f))
		parties[s["country_code"].(string)+"-"+s["party_id"].(string)] = true
	}
	var ps []string
	for p := range parties {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	a.cpoPartner(token, ps...)

	for _, f := range files {
		name := filepath.Base(f)
		s := readExample(t, name)
		u := sessionURL(s["country_code"].(string), s["party_id"].(string), s["id"].(string))
		st, env := a.ocpi(token, true, "PUT", u, s)
		require.Equal(t, 201, st, "%s: %v", name, env)
		require.Equal(t, float64(1000), env["status_code"])
		st, env = a.ocpi(token, true, "GET", u, nil)
		require.Equal(t, 200, st, name)
		sameJSON(t, s, env["data"], name)
		st, env = a.ocpi(token, true, "PUT", u, s)
		require.Equal(t, 200, st, "the same PUT again: %v", env)
	}
	require.Equal(t, 2, a.progressEvents(), "a PUT that changes nothing writes no event")

	// session_patch_example_total_cost.json (last_updated 2019-06-23) is
	// older than example 1 (2020-03-09): answered 1000, not applied.
	s1 := readExample(t, "session_example_1_simple_start.json")
	u1 := sessionURL("NL", "STK", "101")
	st, env := a.ocpi(token, true, "PATCH", u1, readExample(t, "session_patch_example_total_cost.json"))
	require.Equal(t, 200, st)
	require.Equal(t, float64(1000), env["status_code"])
	require.Contains(t, env["status_message"], "not applied")
	_, env = a.ocpi(token, true, "GET", u1, nil)
	sameJSON(t, s1, env["data"], "an older PATCH never overwrites newer data")
	// The same PATCH dated after the stored session applies.
	p := readExample(t, "session_patch_example_total_cost.json")
	p["last_updated"] = "2020-03-09T10:20:00Z"
	st, env = a.ocpi(token, true, "PATCH", u1, p)
	require.Equal(t, 200, st, "%v", env)
	want := clone(s1)
	want["total_cost"], want["last_updated"] = p["total_cost"], p["last_updated"]
	_, env = a.ocpi(token, true, "GET", u1, nil)
	sameJSON(t, want, env["data"])

	// session_patch_example_charging_period.json on example 2: kwh,
	// total_cost and last_updated replaced, the period appended.
	s2 := readExample(t, "session_example_2_short_finished.json")
	u2 := sessionURL("BE", "BEC", "101")
	cp := readExample(t, "session_patch_example_charging_period.json")
	st, env = a.ocpi(token, true, "PATCH", u2, cp)
	require.Equal(t, 200, st, "%v", env)
	want = clone(s2)
	want["kwh"], want["total_cost"], want["last_updated"] = cp["kwh"], cp["total_cost"], cp["last_updated"]
	want["charging_periods"] = append(append([]any{}, s2["charging_periods"].([]any)...), cp["charging_periods"].([]any)...)
	_, env = a.ocpi(token, true, "GET", u2, nil)
	sameJSON(t, want, env["data"])
	// Sent again (a retry), it adds no period twice and writes no event.
	n := a.progressEvents()
	st, _ = a.ocpi(token, true, "PATCH", u2, cp)
	require.Equal(t, 200, st)
	_, env = a.ocpi(token, true, "GET", u2, nil)
	sameJSON(t, want, env["data"])
	require.Equal(t, n, a.progressEvents())
}

// TestEMSPSessionsReceiverRules: PUT replaces charging periods and PATCH
// appends them, last_updated ordering, party and id checks, malformed
// input as 2001, the version details, and the events with last_change.
func TestEMSPSessionsReceiverRules(t *testing.T) {
	a := start(t, "NL", "EMS", "EMSP")
	token := partner.NewToken()
	a.cpoPartner(token, "BE-BEC")
	other := partner.NewToken()
	a.cpoPartner(other, "DE-OTH")
	u := sessionURL("BE", "BEC", "S-1")
	base := readExample(t, "session_example_2_short_finished.json")
	base["id"], base["status"], base["last_updated"] = "S-1", "ACTIVE", "2024-05-01T10:00:00Z"
	delete(base, "end_date_time")

	// Version details list the Sessions receiver of our eMSP role.
	_, env := a.ocpi(token, true, "GET", "/ocpi/2.2.1", nil)
	found := false
	for _, e := range env["data"].(map[string]any)["endpoints"].([]any) {
		m := e.(map[string]any)
		if m["identifier"] == "sessions" && m["role"] == "RECEIVER" {
			found = true
			require.Equal(t, a.base+"/ocpi/2.2.1/emsp/sessions", m["url"])
		}
	}
	require.True(t, found, "version details list sessions RECEIVER")

	st, env := a.ocpi(token, true, "PUT", u, base)
	require.Equal(t, 201, st, "%v", env)
	period := func(at string, kwh float64) map[string]any {
		return map[string]any{"start_date_time": at, "dimensions": []any{map[string]any{"type": "ENERGY", "volume": kwh}}}
	}
	// Two PATCHes each append their period.
	for i, at := range []string{"2024-05-01T10:05:00Z", "2024-05-01T10:10:00Z"} {
		st, env = a.ocpi(token, true, "PATCH", u, map[string]any{"charging_periods": []any{period(at, float64(i+1))}, "kwh": 42 + i,
			"last_updated": at})
		require.Equal(t, 200, st, "%v", env)
		require.Equal(t, float64(1000), env["status_code"])
	}
	_, env = a.ocpi(token, true, "GET", u, nil)
	got := env["data"].(map[string]any)
	require.Len(t, got["charging_periods"], 5)
	require.Equal(t, float64(43), got["kwh"])
	// A PATCH with an empty list keeps the periods.
	st, _ = a.ocpi(token, true, "PATCH", u, map[string]any{"charging_periods": []any{}, "status": "ACTIVE", "last_updated": "2024-05-01T10:11:00Z"})
	require.Equal(t, 200, st)
	_, env = a.ocpi(token, true, "GET", u, nil)
	require.Len(t, env["data"].(map[string]any)["charging_periods"], 5)
	// An older PATCH and an older PUT are answered 1000 and not applied.
	st, env = a.ocpi(token, true, "PATCH", u, map[string]any{"kwh": 1, "last_updated": "2024-05-01T10:01:00Z"})
	require.Equal(t, 200, st)
	require.Equal(t, float64(1000), env["status_code"])
	old := clone(base)
	old["kwh"], old["last_updated"] = 2, "2024-05-01T09:00:00Z"
	st, env = a.ocpi(token, true, "PUT", u, old)
	require.Equal(t, 200, st)
	require.Equal(t, float64(1000), env["status_code"])
	require.Contains(t, env["status_message"], "not applied")
	_, env = a.ocpi(token, true, "GET", u, nil)
	require.Equal(t, float64(43), env["data"].(map[string]any)["kwh"])
	// A newer PUT replaces everything; without charging_periods it removes them.
	put := clone(base)
	delete(put, "charging_periods")
	put["kwh"], put["status"], put["end_date_time"], put["last_updated"] = 50, "COMPLETED", "2024-05-01T11:00:00Z", "2024-05-01T11:00:00Z"
	st, _ = a.ocpi(token, true, "PUT", u, put)
	require.Equal(t, 200, st)
	_, env = a.ocpi(token, true, "GET", u, nil)
	sameJSON(t, put, env["data"])

	// The events: created (started), a meter update per period PATCH, an
	// update (status only), the stop; nothing for the older reports.
	rows, err := a.db.Pool.Query(context.Background(), `SELECT modification_kind, data->>'last_change' FROM outbox_event
		WHERE kind = 'msp-charge-session-progress' ORDER BY id`)
	require.NoError(t, err)
	var seen []string
	for rows.Next() {
		var mod, change string
		require.NoError(t, rows.Scan(&mod, &change))
		seen = append(seen, mod+":"+change)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"create:started", "update:meter", "update:meter", "update:updated", "update:stopped"}, seen)

	// Timestamps without Z are UTC; unknown fields are tolerated.
	tol := clone(base)
	tol["id"], tol["start_date_time"], tol["last_updated"], tol["future"] = "S-2", "2024-05-01T10:00:00", "2024-05-01T10:00:00", []any{1}
	st, env = a.ocpi(token, true, "PUT", sessionURL("BE", "BEC", "S-2"), tol)
	require.Equal(t, 201, st, "%v", env)
	_, env = a.ocpi(token, true, "GET", sessionURL("be", "bec", "s-2"), nil)
	require.Equal(t, "2024-05-01T10:00:00Z", env["data"].(map[string]any)["start_date_time"], "ids and parties compare case-insensitively")

	// Malformed input: 2001, nothing stored.
	n := a.progressEvents()
	bad := func(status int, method, path string, body any, msg string) {
		t.Helper()
		var raw []byte
		if b, ok := body.([]byte); ok {
			raw = b
		} else {
			raw, _ = json.Marshal(body)
		}
		st, env := a.rawOCPI(token, method, path, raw)
		require.Equal(t, status, st, "%v", env)
		require.Equal(t, float64(2001), env["status_code"], "%v", env)
		require.Contains(t, env["status_message"], msg)
	}
	withKwh := clone(base)
	withKwh["kwh"] = "42"
	bad(200, "PUT", u, withKwh, "kwh")
	noToken := clone(base)
	delete(noToken, "cdr_token")
	bad(200, "PUT", u, noToken, "cdr_token")
	bad(400, "PUT", u, []byte(`{"id": `), "not valid JSON")
	bad(200, "PUT", sessionURL("BE", "BEC", "OTHER-ID"), base, "id")
	wrongParty := clone(base)
	wrongParty["party_id"] = "XXX"
	bad(200, "PUT", u, wrongParty, "country_code/party_id")
	bad(200, "PUT", sessionURL("DE", "OTH", "S-1"), base, "not a CPO party of this connection")
	bad(200, "PATCH", u, map[string]any{"kwh": 51}, "last_updated")
	bad(200, "PATCH", u, map[string]any{"status": "CHARGING", "last_updated": "2024-05-01T12:00:00Z"}, "status")
	bad(200, "PATCH", u, map[string]any{"charging_periods": []any{map[string]any{"start_date_time": "2024-05-01T12:00:00Z"}},
		"last_updated": "2024-05-01T12:00:00Z"}, "charging_periods[0].dimensions")
	bad(200, "PATCH", sessionURL("BE", "BEC", "NEVER-PUT"), map[string]any{"kwh": 1, "last_updated": "2024-05-01T12:00:00Z"}, "PUT the whole Session first")
	bad(200, "PUT", sessionURL("BE", "BEC", "much-too-long-session-identifier-of-more-than-36"), base, "session_id")
	require.Equal(t, n, a.progressEvents())

	// Another connection's party: a GET is 404, its own sessions are its own.
	st, _ = a.ocpi(other, true, "GET", u, nil)
	require.Equal(t, 404, st)
	st, _ = a.ocpi(token, true, "GET", sessionURL("BE", "BEC", "UNKNOWN"), nil)
	require.Equal(t, 404, st)
}

// TestEMSPSessionsConcurrentWrites: concurrent PUTs of a new session
// create it once (one 201, one create event), and concurrent PATCHes each
// append their period (the merge runs under the session's row lock).
func TestEMSPSessionsConcurrentWrites(t *testing.T) {
	a := start(t, "NL", "EMS", "EMSP")
	token := partner.NewToken()
	a.cpoPartner(token, "BE-BEC")
	u := sessionURL("BE", "BEC", "C-1")
	s := readExample(t, "session_example_2_short_finished.json")
	s["id"], s["status"] = "C-1", "ACTIVE"
	delete(s, "end_date_time")
	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _ := a.ocpi(token, true, "PUT", u, s)
			statuses <- st
		}()
	}
	wg.Wait()
	close(statuses)
	created := 0
	for st := range statuses {
		if st == 201 {
			created++
		} else {
			require.Equal(t, 200, st)
		}
	}
	require.Equal(t, 1, created)
	require.Equal(t, 1, a.progressEvents())

	patched := make(chan int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st, _ := a.ocpi(token, true, "PATCH", u, map[string]any{"last_updated": "2015-06-29T23:59:00Z",
				"charging_periods": []any{map[string]any{"start_date_time": fmt.Sprintf("2015-06-29T23:%02d:00Z", 10+i),
					"dimensions": []any{map[string]any{"type": "ENERGY", "volume": i + 1}}}}})
			patched <- st
		}(i)
	}
	wg.Wait()
	close(patched)
	for st := range patched {
		require.Equal(t, 200, st)
	}
	_, env := a.ocpi(token, true, "GET", u, nil)
	require.Len(t, env["data"].(map[string]any)["charging_periods"], 3+n, "every concurrent PATCH added its period")
	require.Equal(t, 1+n, a.progressEvents())
}
