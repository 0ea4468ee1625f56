package module_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi/module"
	"github.com/roamnode/roamnode/ocpi/ocpitest"
	"github.com/roamnode/roamnode/roaming"
)

// cpoExamplesDir holds the official examples of the spec.
const cpoExamplesDir = "../../../shared/ocpi-2.2.1/examples"

func readCPOExample(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cpoExamplesDir, name))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), name)
	return m
}

// sameMeaning compares two JSON values in meaning (key order and number
// spelling do not matter).
func sameMeaning(t *testing.T, want, got any, msgAndArgs ...any) {
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

// fakeEMSP is a partner's Locations and Tariffs receiver: it records every
// request and answers 1000, or HTTP 503 while down.
type fakeEMSP struct {
	srv  *httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	got  []pushed
}

type pushed struct {
	Method, Path string
	Body         map[string]any
}

func newFakeEMSP(t *testing.T) *fakeEMSP {
	f := &fakeEMSP{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if f.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status_code":3000,"status_message":"down","timestamp":"2024-01-01T00:00:00Z"}`))
			return
		}
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		f.mu.Lock()
		f.got = append(f.got, pushed{r.Method, r.URL.Path, body})
		f.mu.Unlock()
		_, _ = w.Write([]byte(`{"status_code":1000,"timestamp":"2024-01-01T00:00:00Z"}`))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEMSP) requests() []pushed {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pushed(nil), f.got...)
}

// emspReceiver registers at in a connection to the fake eMSP with its
// Locations and Tariffs receivers; token is what the partner uses to call
// us.
func (in *instance) emspReceiver(token string, f *fakeEMSP) uuid.UUID {
	in.t.Helper()
	now := time.Now().UTC()
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "emsp", Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	eps := []partner.Endpoint{
		{Identifier: "locations", Role: "RECEIVER", URL: f.srv.URL + "/ocpi/emsp/2.2.1/locations"},
		{Identifier: "tariffs", Role: "RECEIVER", URL: f.srv.URL + "/ocpi/emsp/2.2.1/tariffs"},
	}
	roles := []partner.CredentialsRole{{Role: partner.RoleEMSP, CountryCode: "DE", PartyID: "EMS", Name: "eMSP"}}
	c.Registered(token, "their-token", f.srv.URL+"/versions", "2.2.1", eps, roles, "partner", now)
	require.NoError(in.t, db.SaveConnection(context.Background(), in.db.Pool, c, true))
	return c.ID
}

// ocpiAs calls one of our OCPI endpoints addressed to our party cc-pid
// (routing headers) and validates the answer against the official files.
func (in *instance) ocpiAs(token, cc, pid, path string) (int, map[string]any, http.Header) {
	in.t.Helper()
	req, _ := http.NewRequest("GET", in.base+path, nil)
	req.Header.Set("Authorization", "Token "+token)
	req.Header.Set("OCPI-to-country-code", cc)
	req.Header.Set("OCPI-to-party-id", pid)
	req.Header.Set("OCPI-from-country-code", "DE")
	req.Header.Set("OCPI-from-party-id", "EMS")
	res, err := http.DefaultClient.Do(req)
	require.NoError(in.t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	ocpitest.ValidateResponse(in.t, "GET", path, res.StatusCode, res.Header, raw)
	var env map[string]any
	require.NoError(in.t, json.Unmarshal(raw, &env))
	return res.StatusCode, env, res.Header
}

// withoutLastUpdated drops every last_updated (ours are our own clock).
func withoutLastUpdated(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if k != "last_updated" {
				out[k] = withoutLastUpdated(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = withoutLastUpdated(e)
		}
		return out
	}
	return v
}

// adminBody turns an OCPI object into a full create-or-merge body: the
// given fields dropped, every other known field present (null when the
// example leaves it out, so that a merge replaces the record).
func adminBody(obj map[string]any, known []string, drop ...string) map[string]any {
	b := map[string]any{}
	for _, k := range known {
		b[k] = nil
	}
	for k, v := range obj {
		b[k] = v
	}
	for _, d := range append(drop, "last_updated") {
		delete(b, d)
	}
	return b
}

var (
	locationFields = []string{"publish", "publish_allowed_to", "name", "address", "city", "postal_code", "state", "country", "coordinates",
		"related_locations", "parking_type", "directions", "operator", "suboperator", "owner", "facilities", "time_zone", "opening_times",
		"charging_when_closed", "images", "energy_mix"}
	evseFields = []string{"evse_id", "status", "status_schedule", "capabilities", "connectors", "floor_level", "coordinates",
		"physical_reference", "directions", "parking_restrictions", "images"}
	tariffFields = []string{"currency", "type", "tariff_alt_text", "tariff_alt_url", "min_price", "max_price", "elements",
		"start_date_time", "end_date_time", "energy_mix"}
)

// TestCPOLocationsAndTariffsOfficialExamples loads every official Location
// (with its EVSEs and connectors) and Tariff example through our Admin API
// and reads each back through our OCPI senders identical in meaning
// (last_updated aside: it is our clock); every OCPI answer is validated
// against the official OpenAPI files. Then it pushes: everything arrives
// at a partner's receivers, an EVSE status flip arrives as a PATCH, and a
// partner that was down catches up in order.
func TestCPOLocationsAndTariffsOfficialExamples(t *testing.T) {
	a := start(t, "NL", "CPA", "CPO")
	for _, p := range []string{"BE-BEC", "SE-EVC", "NL-ALF", "NL-ALL", "DE-ALL"} {
		cc, pid, _ := strings.Cut(p, "-")
		a.admin(201, "POST", "/main/v1/own-party", map[string]any{"country_code": cc, "party_id": pid, "role": "CPO", "name": p})
	}
	f := newFakeEMSP(t)
	token := partner.NewToken()
	conn := a.emspReceiver(token, f)

	files, err := filepath.Glob(filepath.Join(cpoExamplesDir, "location_example*.json"))
	require.NoError(t, err)
	require.Len(t, files, 6)
	for _, file := range files {
		ex := readCPOExample(t, filepath.Base(file))
		id := ex["id"].(string)
		body := adminBody(ex, locationFields, "id", "evses")
		a.admin(0+statusOf(a, "/main/v1/cpo-evse-location/"+id), "POST", "/main/v1/cpo-evse-location/"+id, body)
		for _, e := range ex["evses"].([]any) {
			evse := e.(map[string]any)
			eb := adminBody(evse, evseFields, "uid")
			eb["location_id"] = id
			a.admin(statusOf(a, "/main/v1/cpo-evse/"+evse["uid"].(string)), "POST", "/main/v1/cpo-evse/"+evse["uid"].(string), eb)
		}
		cc, pid := ex["country_code"].(string), ex["party_id"].(string)
		st, env, _ := a.ocpiAs(token, cc, pid, "/ocpi/2.2.1/cpo/locations/"+id)
		require.Equal(t, 200, st)
		require.Equal(t, float64(1000), env["status_code"], "%v", env)
		sameMeaning(t, withoutLastUpdated(ex), withoutLastUpdated(env["data"]), file)
		// Every EVSE and connector on its own, ids in any case.
		for _, e := range ex["evses"].([]any) {
			evse := e.(map[string]any)
			_, env, _ := a.ocpiAs(token, cc, pid, "/ocpi/2.2.1/cpo/locations/"+strings.ToLower(id)+"/"+evse["uid"].(string))
			sameMeaning(t, withoutLastUpdated(evse), withoutLastUpdated(env["data"]), file)
			for _, k := range evse["connectors"].([]any) {
				conn := k.(map[string]any)
				_, env, _ := a.ocpiAs(token, cc, pid, "/ocpi/2.2.1/cpo/locations/"+id+"/"+evse["uid"].(string)+"/"+conn["id"].(string))
				sameMeaning(t, withoutLastUpdated(conn), withoutLastUpdated(env["data"]), file)
			}
		}
	}
	// Unknown objects are 2003; another party's location is unknown too.
	for _, p := range []string{"/ocpi/2.2.1/cpo/locations/NOPE", "/ocpi/2.2.1/cpo/locations/LOC1/NOPE", "/ocpi/2.2.1/cpo/locations/LOC1/3256/9"} {
		st, env, _ := a.ocpiAs(token, "BE", "BEC", p)
		require.Equal(t, 200, st)
		require.Equal(t, float64(2003), env["status_code"], p)
	}
	_, env, _ := a.ocpiAs(token, "SE", "EVC", "/ocpi/2.2.1/cpo/locations/LOC1")
	require.Equal(t, float64(2003), env["status_code"])

	tariffs, err := filepath.Glob(filepath.Join(cpoExamplesDir, "tariff_*.json"))
	require.NoError(t, err)
	require.Len(t, tariffs, 18)
	for _, file := range tariffs {
		ex := readCPOExample(t, filepath.Base(file))
		id := ex["id"].(string)
		a.admin(statusOf(a, "/main/v1/cpo-tariff/"+id), "POST", "/main/v1/cpo-tariff/"+id, adminBody(ex, tariffFields, "id"))
		_, env, h := a.ocpiAs(token, "DE", "ALL", "/ocpi/2.2.1/cpo/tariffs?limit=100")
		require.Equal(t, float64(1000), env["status_code"])
		var found bool
		for _, d := range env["data"].([]any) {
			if d.(map[string]any)["id"] == id {
				sameMeaning(t, withoutLastUpdated(ex), withoutLastUpdated(d), file)
				found = true
			}
		}
		require.True(t, found, file)
		require.NotEmpty(t, h.Get("X-Total-Count"))
	}

	// Pagination and date filters of the locations list.
	_, env, h := a.ocpiAs(token, "BE", "BEC", "/ocpi/2.2.1/cpo/locations?limit=1")
	require.Len(t, env["data"], 1)
	require.Equal(t, "1", h.Get("X-Total-Count"))
	_, env, _ = a.ocpiAs(token, "BE", "BEC", "/ocpi/2.2.1/cpo/locations?date_from=2999-01-01T00:00:00Z")
	require.Empty(t, env["data"])

	// Push: everything so far reaches the partner's receivers.
	pusher := roaming.NewPusher(db.PushStore{Pool: a.db.Pool}, roaming.NewClient(roaming.Options{Timeout: 2 * time.Second, MaxRetries: -1}, a.log),
		module.PushRenderers(a.db.Pool), roaming.PushOptions{BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	drain := func() {
		ctx := context.Background()
		refs, err := db.DuePushGroups(ctx, a.db.Pool, 1000)
		require.NoError(t, err)
		for _, r := range refs {
			_, err := pusher.Run(ctx, r)
			require.NoError(t, err)
		}
	}
	pending := func() int {
		gs, err := db.PendingPushes(context.Background(), a.db.Pool, 1000)
		require.NoError(t, err)
		return len(gs)
	}
	waitFor(t, func() bool { drain(); return pending() == 0 })
	got := f.requests()
	require.Contains(t, got, pushedPath(got, "PUT", "/ocpi/emsp/2.2.1/locations/BE/BEC/LOC1"))
	require.NotEmpty(t, pushedPath(got, "PUT", "/ocpi/emsp/2.2.1/tariffs/DE/ALL/12").Method)
	// The location PUT carries its EVSEs: creating them did not send more.
	require.Empty(t, pushedPath(got, "PUT", "/ocpi/emsp/2.2.1/locations/BE/BEC/LOC1/3256").Method)

	// An EVSE status flip is a PATCH of status and last_updated.
	n := len(f.requests())
	a.admin(200, "POST", "/main/v1/cpo-evse/3256", map[string]any{"status": "CHARGING"})
	waitFor(t, func() bool { drain(); return len(f.requests()) > n })
	flip := f.requests()[n]
	require.Equal(t, "PATCH", flip.Method)
	require.Equal(t, "/ocpi/emsp/2.2.1/locations/BE/BEC/LOC1/3256", flip.Path)
	require.Equal(t, "CHARGING", flip.Body["status"])
	require.Contains(t, flip.Body, "last_updated")
	require.Len(t, flip.Body, 2)

	// The partner goes down: changes wait, attempts are logged, nothing is lost.
	f.down.Store(true)
	a.admin(200, "POST", "/main/v1/cpo-evse-location/LOC1", map[string]any{"name": "Gent Zuid (renamed)"})
	a.admin(200, "POST", "/main/v1/cpo-evse/3257", map[string]any{"status": "AVAILABLE"})
	a.admin(200, "POST", "/main/v1/cpo-evse/3257", map[string]any{"status": "OUTOFORDER"})
	a.admin(200, "POST", "/main/v1/cpo-tariff/12", map[string]any{"tariff_alt_url": "https://example.com/tariff-12"})
	for i := 0; i < 3; i++ {
		drain()
		time.Sleep(30 * time.Millisecond)
	}
	require.Equal(t, 2, pending(), "the location group and the tariff group wait")
	gs, _ := db.PendingPushes(context.Background(), a.db.Pool, 10)
	for _, g := range gs {
		require.Equal(t, conn, g.ConnectionID)
		require.Positive(t, g.Attempts)
	}
	var failed int
	waitFor(t, func() bool {
		require.NoError(t, a.db.Pool.QueryRow(context.Background(),
			"SELECT count(*) FROM roaming_exchange WHERE connection_id = $1 AND http_status = 503", conn).Scan(&failed))
		return failed > 0
	})

	// Back up: it catches up by itself, in order, coalesced (two status
	// changes of 3257 are one PATCH with the latest status).
	f.down.Store(false)
	n = len(f.requests())
	waitFor(t, func() bool { drain(); return pending() == 0 })
	after := f.requests()[n:]
	var locs []pushed
	for _, p := range after {
		if strings.Contains(p.Path, "/locations/") {
			locs = append(locs, p)
		}
	}
	require.Len(t, locs, 2, "%+v", after)
	require.Equal(t, pushed{"PATCH", "/ocpi/emsp/2.2.1/locations/BE/BEC/LOC1", locs[0].Body}, locs[0])
	require.Equal(t, "Gent Zuid (renamed)", locs[0].Body["name"])
	require.Equal(t, "/ocpi/emsp/2.2.1/locations/BE/BEC/LOC1/3257", locs[1].Path)
	require.Equal(t, "OUTOFORDER", locs[1].Body["status"])
	tp := pushedPath(after, "PUT", "/ocpi/emsp/2.2.1/tariffs/DE/ALL/12")
	require.Equal(t, "https://example.com/tariff-12", tp.Body["tariff_alt_url"])
}

// statusOf is the status a create-or-update by key answers: 200 when the
// record exists, else 201.
func statusOf(in *instance, path string) int {
	req, _ := http.NewRequest("GET", in.base+path, nil)
	req.SetBasicAuth(in.user, in.secret)
	res, err := http.DefaultClient.Do(req)
	require.NoError(in.t, err)
	res.Body.Close()
	if res.StatusCode == 200 {
		return 200
	}
	return 201
}

func pushedPath(ps []pushed, method, path string) pushed {
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].Method == method && ps[i].Path == path {
			return ps[i]
		}
	}
	return pushed{}
}
