package module_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/roaming"
)

const examplesDir = "../../../shared/ocpi-2.2.1/examples"

// cpoPartner registers a partner connection using token whose credentials
// roles are the given CPO parties ("BE-BEC", …).
func (in *instance) cpoPartner(token string, parties ...string) uuid.UUID {
	in.t.Helper()
	id := in.registered(token)
	var roles []partner.CredentialsRole
	for _, p := range parties {
		ref, ok := partner.ParsePartyRef(p)
		require.True(in.t, ok, p)
		roles = append(roles, partner.CredentialsRole{Role: partner.RoleCPO, CountryCode: ref.CountryCode, PartyID: ref.PartyID, Name: "CPO " + p})
	}
	require.NoError(in.t, db.RoamingStore{Pool: in.db.Pool}.InTx(context.Background(), func(tx roaming.Tx) error {
		return tx.LinkParties(context.Background(), id, roles)
	}))
	return id
}

func readExample(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examplesDir, name))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), name)
	return m
}

// sameJSON compares two JSON values in meaning (key order, number
// spelling such as 2.00 and 2 do not matter).
func sameJSON(t *testing.T, want, got any, msgAndArgs ...any) {
	t.Helper()
	norm := func(v any) any {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		var out any
		require.NoError(t, json.Unmarshal(b, &out))
		return out
	}
	require.Equal(t, norm(want), norm(got), msgAndArgs...)
}

func locURL(cc, pid, id string, more ...string) string {
	u := "/ocpi/2.2.1/emsp/locations/" + cc + "/" + pid + "/" + id
	for _, m := range more {
		u += "/" + m
	}
	return u
}

// TestEMSPLocationsOfficialExamples pushes every official Location (and the
// Hours and EnergyMix fragments inside one), every EVSE and Connector of
// them on their own, and the PATCH examples through our receiver, and reads
// each back with GET identical in meaning; every answer is validated
// against the official OpenAPI files.
func TestEMSPLocationsOfficialExamples(t *testing.T) {
	a := start(t, "NL", "EMS", "EMSP")
	token := partner.NewToken()
	files, err := filepath.Glob(filepath.Join(examplesDir, "location_example*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	parties := map[string]bool{}
	for _, f := range files {
		l := readExample(t, filepath.Base(f))
		parties[l["country_code"].(string)+"-"+l["party_id"].(string)] = true
	}
	var ps []string
	for p := range parties {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	a.cpoPartner(token, ps...)

	seen := map[string]bool{}
	for fi, f := range files {
		name := filepath.Base(f)
		l := readExample(t, name)
		cc, pid, id := l["country_code"].(string), l["party_id"].(string), l["id"].(string)
		st, env := a.ocpi(token, true, "PUT", locURL(cc, pid, id), l)
		// Two examples (uc2, uc3) share party and id: the second replaces.
		want := 201
		if seen[cc+pid+id] {
			want = 200
		}
		seen[cc+pid+id] = true
		require.Equal(t, want, st, "%s: %v", name, env)
		require.Equal(t, float64(1000), env["status_code"], name)
		st, env = a.ocpi(token, true, "GET", locURL(cc, pid, id), nil)
		require.Equal(t, 200, st, name)
		sameJSON(t, l, env["data"], name)
		// A second PUT of the same object replaces it (200, not 201).
		st, _ = a.ocpi(token, true, "PUT", locURL(cc, pid, id), l)
		require.Equal(t, 200, st, name)
		// Each EVSE and Connector on its own, under a fresh location.
		evses, _ := l["evses"].([]any)
		if len(evses) == 0 {
			continue
		}
		parts := fmt.Sprintf("P%d-%s", fi, id[:min(len(id), 30)])
		bare := clone(l)
		bare["id"] = parts
		delete(bare, "evses")
		st, _ = a.ocpi(token, true, "PUT", locURL(cc, pid, parts), bare)
		require.Equal(t, 201, st, name)
		for _, ev := range evses {
			e := clone(ev.(map[string]any))
			uid := e["uid"].(string)
			conns := e["connectors"].([]any)
			first := clone(e)
			first["connectors"] = conns[:1]
			st, env = a.ocpi(token, true, "PUT", locURL(cc, pid, parts, uid), first)
			require.Equal(t, 201, st, "%s EVSE %s: %v", name, uid, env)
			for _, cn := range conns[1:] {
				c := cn.(map[string]any)
				st, env = a.ocpi(token, true, "PUT", locURL(cc, pid, parts, uid, c["id"].(string)), c)
				require.Equal(t, 201, st, "%s connector: %v", name, env)
				_, env = a.ocpi(token, true, "GET", locURL(cc, pid, parts, uid, c["id"].(string)), nil)
				sameJSON(t, c, env["data"], name)
			}
			_, env = a.ocpi(token, true, "GET", locURL(cc, pid, parts, uid), nil)
			got := env["data"].(map[string]any)
			// The EVSE's last_updated follows its newest connector.
			want := clone(e)
			want["last_updated"] = maxTime(e["last_updated"].(string), conns)
			sameJSON(t, want, got, "%s EVSE %s", name, uid)
		}
	}

	// The Hours and EnergyMix fragments, inside the first example.
	base := readExample(t, "location_example.json")
	frags, _ := filepath.Glob(filepath.Join(examplesDir, "location_*energymix*.json"))
	hours, _ := filepath.Glob(filepath.Join(examplesDir, "location_hours_*.json"))
	reg, _ := filepath.Glob(filepath.Join(examplesDir, "location_regularhours_example.json"))
	for i, f := range append(append(frags, hours...), reg...) {
		frag := readExample(t, filepath.Base(f))
		l := clone(base)
		l["id"] = fmt.Sprintf("FRAG%d", i)
		if strings.Contains(f, "location_hours_") {
			l["opening_times"] = frag
		} else {
			for k, v := range frag {
				l[k] = v
			}
		}
		st, env := a.ocpi(token, true, "PUT", locURL("BE", "BEC", l["id"].(string)), l)
		require.Equal(t, 201, st, "%s: %v", f, env)
		_, env = a.ocpi(token, true, "GET", locURL("BE", "BEC", l["id"].(string)), nil)
		sameJSON(t, l, env["data"], f)
	}

	// The PATCH examples (mod_locations, PATCH), on the URLs the spec gives
	// them, applied to location_example.json (BE-BEC LOC1).
	patch := func(name string, more ...string) map[string]any {
		p := readExample(t, name)
		st, env := a.ocpi(token, true, "PATCH", locURL("BE", "BEC", "LOC1", more...), p)
		require.Equal(t, 200, st, "%s: %v", name, env)
		require.Equal(t, float64(1000), env["status_code"], name)
		_, env = a.ocpi(token, true, "GET", locURL("BE", "BEC", "LOC1"), nil)
		return env["data"].(map[string]any)
	}
	got := patch("location_patch_example_location.json")
	require.Equal(t, "Interparking Gent Zuid", got["name"])
	require.Equal(t, "2019-06-24T12:39:09Z", got["last_updated"])
	require.Len(t, got["evses"], 2, "a Location PATCH without evses keeps them")
	got = patch("location_patch_example_status.json", "3256")
	evse := got["evses"].([]any)[0].(map[string]any)
	require.Equal(t, "CHARGING", evse["status"])
	require.Equal(t, "2019-06-24T12:39:09Z", evse["last_updated"])
	require.Equal(t, "BE*BEC*E041503001", evse["evse_id"], "fields not in the PATCH are unchanged")
	got = patch("location_patch_example_tariff.json", "3256", "2")
	cn := got["evses"].([]any)[0].(map[string]any)["connectors"].([]any)[1].(map[string]any)
	require.Equal(t, []any{"15"}, cn["tariff_ids"])
	require.Equal(t, "2019-06-24T12:39:09Z", cn["last_updated"])
	got = patch("location_patch_example_remove_evse.json", "3257")
	require.Equal(t, "REMOVED", got["evses"].([]any)[1].(map[string]any)["status"])
	require.Equal(t, "2019-06-24T12:39:09Z", got["last_updated"], "the location follows its EVSE")

	// location_put_example_add_evse.json is not a valid EVSE (errata: its
	// physical_reference is a number and its connector lacks power_type,
	// max_voltage and max_amperage): refused with 2001 naming the field.
	add := readExample(t, "location_put_example_add_evse.json")
	st, env := a.ocpi(token, true, "PUT", locURL("BE", "BEC", "LOC1", "3258"), func() map[string]any { e := clone(add); e["uid"] = "3258"; return e }())
	require.Equal(t, 200, st)
	require.Equal(t, float64(2001), env["status_code"])
	require.Contains(t, env["status_message"], "physical_reference")
	// Corrected, it adds the EVSE (the spec's example URL is …/LOC1/3256;
	// 3256 exists in location_example.json, so it is a replacement there).
	add["physical_reference"] = "3"
	add["floor_level"] = "-1"
	delete(add, "floor")
	c0 := add["connectors"].([]any)[0].(map[string]any)
	c0["power_type"], c0["max_voltage"], c0["max_amperage"], c0["last_updated"] = "AC_3_PHASE", 230, 16, "2019-06-24T12:39:09Z"
	add["uid"] = "3258"
	st, env = a.ocpi(token, true, "PUT", locURL("BE", "BEC", "LOC1", "3258"), add)
	require.Equal(t, 201, st, "%v", env)
	_, env = a.ocpi(token, true, "GET", locURL("BE", "BEC", "LOC1", "3258"), nil)
	sameJSON(t, add, env["data"])
}

// TestEMSPTariffsOfficialExamples pushes every official Tariff example and
// reads it back identical in meaning, then deletes it.
func TestEMSPTariffsOfficialExamples(t *testing.T) {
	a := start(t, "NL", "EMS", "EMSP")
	token := partner.NewToken()
	files, err := filepath.Glob(filepath.Join(examplesDir, "tariff*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 20)
	a.cpoPartner(token, "DE-ALL", "NL-TNM", "BE-BEC")
	for i, f := range files {
		name := filepath.Base(f)
		tr := readExample(t, name)
		// Several examples share an id; each gets its own so that they do
		// not replace one another.
		id := fmt.Sprintf("EX%02d", i)
		tr["id"] = id
		cc, pid := tr["country_code"].(string), tr["party_id"].(string)
		u := "/ocpi/2.2.1/emsp/tariffs/" + cc + "/" + pid + "/" + id
		if _, ok := tr["last_updated"]; !ok {
			// tariff_put_example.json lacks the required last_updated
			// (errata): refused with 2001 naming it, accepted with it.
			st, env := a.ocpi(token, true, "PUT", u, tr)
			require.Equal(t, 200, st)
			require.Equal(t, float64(2001), env["status_code"], name)
			require.Contains(t, env["status_message"], "last_updated", name)
			tr["last_updated"] = "2019-06-24T12:39:09Z"
		}
		st, env := a.ocpi(token, true, "PUT", u, tr)
		require.Equal(t, 201, st, "%s: %v", name, env)
		st, env = a.ocpi(token, true, "GET", u, nil)
		require.Equal(t, 200, st)
		sameJSON(t, tr, env["data"], name)
		st, _ = a.ocpi(token, true, "DELETE", u, nil)
		require.Equal(t, 200, st)
		st, _ = a.ocpi(token, true, "GET", u, nil)
		require.Equal(t, 404, st)
		st, _ = a.ocpi(token, true, "DELETE", u, nil)
		require.Equal(t, 404, st, "deleting an unknown tariff")
	}
}

// TestEMSPLocationOrdering: an update older than the stored object is
// answered with success and not applied, at every level; a PATCH needs
// last_updated.
func TestEMSPLocationOrdering(t *testing.T) {
	a := start(t, "NL", "EMS", "EMSP")
	token := partner.NewToken()
	a.cpoPartner(token, "BE-BEC")
	l := readExample(t, "location_example.json")
	u := locURL("BE", "BEC", "LOC1")
	l["last_updated"] = "2024-01-02T00:00:00Z"
	st, _ := a.ocpi(token, true, "PUT", u, l)
	require.Equal(t, 201, st)
	get := func(path ...string) map[string]any {
		_, env := a.ocpi(token, true, "GET", locURL("BE", "BEC", "LOC1", path...), nil)
		return env["data"].(map[string]any)
	}
	// Older PUT of the location: 1000, message, nothing changes.
	old := clone(l)
	old["name"], old["last_updated"] = "Old name", "2024-01-01T00:00:00Z"
	st, env := a.ocpi(token, true, "PUT", u, old)
	require.Equal(t, 200, st)
	require.Equal(t, float64(1000), env["status_code"])
	require.Contains(t, env["status_message"], "not applied")
	require.Equal(t, "Gent Zuid", get()["name"])
	// Older PATCH: ignored; newer: applied; same instant: applied (a
	// re-send is harmless).
	_, env = a.ocpi(token, true, "PATCH", u, map[string]any{"name": "Older", "last_updated": "2023-12-31T00:00:00Z"})
	require.Contains(t, env["status_message"], "not applied")
	require.Equal(t, "Gent Zuid", get()["name"])
	_, env = a.ocpi(token, true, "PATCH", u, map[string]any{"name": "Newer", "last_updated": "2024-01-03T00:00:00Z"})
	require.Empty(t, env["status_message"])
	require.Equal(t, "Newer", get()["name"])
	// PATCH without last_updated: 2001.
	st, env = a.ocpi(token, true, "PATCH", u, map[string]any{"name": "No time"})
	require.Equal(t, 200, st)
	require.Equal(t, float64(2001), env["status_code"])
	require.Contains(t, env["status_message"], "last_updated")
	// EVSE: a status PATCH newer than the EVSE but older than the location
	// applies to the EVSE; the location keeps its later last_updated.
	_, env = a.ocpi(token, true, "PATCH", locURL("BE", "BEC", "LOC1", "3257"), map[string]any{"status": "AVAILABLE", "last_updated": "2024-01-02T12:00:00Z"})
	require.Empty(t, env["status_message"])
	require.Equal(t, "AVAILABLE", get("3257")["status"])
	require.Equal(t, "2024-01-03T00:00:00Z", get()["last_updated"])
	// An older EVSE status (out of order) does not roll it back.
	_, env = a.ocpi(token, true, "PATCH", locURL("BE", "BEC", "LOC1", "3257"), map[string]any{"status": "CHARGING", "last_updated": "2024-01-02T06:00:00Z"})
	require.Contains(t, env["status_message"], "not applied")
	require.Equal(t, "AVAILABLE", get("3257")["status"])
	// Connector: a newer one moves the EVSE and the location along.
	c := get("3257", "1")
	c["max_amperage"], c["last_updated"] = float64(32), "2024-02-01T00:00:00Z"
	st, _ = a.ocpi(token, true, "PUT", locURL("BE", "BEC", "LOC1", "3257", "1"), c)
	require.Equal(t, 200, st)
	require.Equal(t, "2024-02-01T00:00:00Z", get("3257")["last_updated"])
	require.Equal(t, "2024-02-01T00:00:00Z", get()["last_updated"])
	c["max_amperage"], c["last_updated"] = float64(8), "2024-01-15T00:00:00Z"
	_, env = a.ocpi(token, true, "PUT", locURL("BE", "BEC", "LOC1", "3257", "1"), c)
	require.Contains(t, env["status_message"], "not applied")
	require.Equal(t, float64(32), get("3257", "1")["max_amperage"])
	// An older whole-location PUT (e.g. a pulled snapshot) does not undo
	// the pushed changes.
	l["last_updated"] = "2024-01-20T00:00:00Z"
	_, env = a.ocpi(token, true, "PUT", u, l)
	require.Contains(t, env["status_message"], "not applied")
	require.Equal(t, float64(32), get("3257", "1")["max_amperage"])
	// Connector ids and EVSE uids compare case-insensitively.
	_, env = a.ocpi(token, true, "GET", locURL("BE", "BEC", "loc1", "3257", "1"), nil)
	require.Equal(t, float64(1000), env["status_code"])
}

// TestEMSPLocationErrors: malformed input is 2001 with field paths; URLs
// that do not match the object, other parties' objects, unknown parents.
func TestEMSPLocationErrors(t *testing.T) {
	a := start(t, "NL", "EMS", "EMSP")
	token := partner.NewToken()
	a.cpoPartner(token, "BE-BEC")
	l := readExample(t, "location_example.json")
	u := locURL("BE", "BEC", "LOC1")
	code := func(st int, env map[string]any) (int, float64, string) {
		msg, _ := env["status_message"].(string)
		return st, env["status_code"].(float64), msg
	}
	// Not JSON: HTTP 400, 2001.
	req := func(method, path string, body any) (int, float64, string) {
		return code(a.ocpi(token, true, method, path, body))
	}
	st, c, _ := req("PUT", u, json.RawMessage(`{"id": "LOC1",`))
	require.Equal(t, 400, st)
	require.Equal(t, float64(2001), c)
	// Wrong type deep inside: the JSON path is named.
	bad := clone(l)
	bad["evses"].([]any)[0].(map[string]any)["connectors"].([]any)[1].(map[string]any)["max_voltage"] = "220"
	st, c, msg := req("PUT", u, bad)
	require.Equal(t, 200, st)
	require.Equal(t, float64(2001), c)
	require.Contains(t, msg, "evses[0].connectors[1].max_voltage")
	// Missing required fields and bad values, every path named.
	bad = clone(l)
	delete(bad, "address")
	bad["coordinates"] = map[string]any{"latitude": "91.0", "longitude": "3.729944"}
	bad["evses"].([]any)[1].(map[string]any)["status"] = "BROKEN"
	_, c, msg = req("PUT", u, bad)
	require.Equal(t, float64(2001), c)
	for _, p := range []string{"address", "evses[1].status"} {
		require.Contains(t, msg, p)
	}
	bad = clone(l)
	bad["coordinates"] = map[string]any{"latitude": "91.0", "longitude": "3.729944"}
	_, c, msg = req("PUT", u, bad)
	require.Equal(t, float64(2001), c)
	require.Contains(t, msg, "coordinates.latitude")
	// The object must match its URL.
	_, c, msg = req("PUT", locURL("BE", "BEC", "LOC2"), l)
	require.Equal(t, float64(2001), c)
	require.Contains(t, msg, "id")
	// Objects of a party that is not the connection's: refused on write,
	// invisible on read.
	other := clone(l)
	other["country_code"], other["party_id"] = "NL", "XXX"
	_, c, msg = req("PUT", locURL("NL", "XXX", "LOC1"), other)
	require.Equal(t, float64(2001), c)
	require.Contains(t, msg, "NL-XXX")
	st, _, _ = req("GET", locURL("NL", "XXX", "LOC1"), nil)
	require.Equal(t, 404, st)
	// Unknown objects: GET 404, PATCH 404, EVSE/Connector PUT under an
	// unknown location or EVSE: 2003 Unknown Location.
	st, _, _ = req("GET", u, nil)
	require.Equal(t, 404, st)
	st, _, _ = req("PATCH", u, map[string]any{"name": "x", "last_updated": "2024-01-01T00:00:00Z"})
	require.Equal(t, 404, st)
	evse := l["evses"].([]any)[0]
	st, c, _ = req("PUT", locURL("BE", "BEC", "LOC1", "3256"), evse)
	require.Equal(t, 200, st)
	require.Equal(t, float64(2003), c)
	st, _, _ = req("PUT", u, l)
	require.Equal(t, 201, st)
	conn := evse.(map[string]any)["connectors"].([]any)[0]
	_, c, _ = req("PUT", locURL("BE", "BEC", "LOC1", "9999", "1"), conn)
	require.Equal(t, float64(2003), c)
	st, _, _ = req("PATCH", locURL("BE", "BEC", "LOC1", "9999"), map[string]any{"status": "AVAILABLE", "last_updated": "2024-01-01T00:00:00Z"})
	require.Equal(t, 404, st)
	st, _, _ = req("GET", locURL("BE", "BEC", "LOC1", "3256", "9"), nil)
	require.Equal(t, 404, st)
	// A PATCH that would make the object invalid is refused whole.
	_, c, msg = req("PATCH", locURL("BE", "BEC", "LOC1", "3256"), map[string]any{"status": "ASLEEP", "last_updated": "2030-01-01T00:00:00Z"})
	require.Equal(t, float64(2001), c)
	require.Contains(t, msg, "status")
	_, c, _ = req("PATCH", locURL("BE", "BEC", "LOC1", "3256"), map[string]any{"uid": "OTHER", "last_updated": "2030-01-01T00:00:00Z"})
	require.Equal(t, float64(2001), c)
	// Bad ids in the path.
	_, c, _ = req("GET", locURL("BE", "BEC", strings.Repeat("X", 37)), nil)
	require.Equal(t, float64(2001), c)
}

// TestEMSPLocationConcurrentPushes: concurrent pushes of one EVSE's status
// end with the newest one, whatever the arrival order.
func TestEMSPLocationConcurrentPushes(t *testing.T) {
	a := start(t, "NL", "EMS", "EMSP")
	token := partner.NewToken()
	a.cpoPartner(token, "BE-BEC")
	l := readExample(t, "location_example.json")
	st, _ := a.ocpi(token, true, "PUT", locURL("BE", "BEC", "LOC1"), l)
	require.Equal(t, 201, st)
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	statuses := []string{"AVAILABLE", "CHARGING", "BLOCKED", "INOPERATIVE", "OUTOFORDER", "RESERVED", "UNKNOWN", "PLANNED"}
	done := make(chan struct{})
	for i, s := range statuses {
		go func() {
			defer func() { done <- struct{}{} }()
			a.ocpi(token, true, "PATCH", locURL("BE", "BEC", "LOC1", "3256"), map[string]any{"status": s,
				"last_updated": base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)})
		}()
	}
	for range statuses {
		<-done
	}
	_, env := a.ocpi(token, true, "GET", locURL("BE", "BEC", "LOC1", "3256"), nil)
	require.Equal(t, "PLANNED", env["data"].(map[string]any)["status"])
	// The stored rows agree with the wire.
	var n int
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM partner_evse WHERE status = 'PLANNED'").Scan(&n))
	require.Equal(t, 1, n)
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// maxTime is the latest of an EVSE's last_updated and its connectors'.
func maxTime(evse string, conns []any) string {
	best := evse
	for _, c := range conns {
		if lu := c.(map[string]any)["last_updated"].(string); lu > best {
			best = lu
		}
	}
	return best
}
