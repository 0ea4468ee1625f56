package module_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/partner"
)

// registered gives in a registered connection whose partner uses token.
func (in *instance) registered(token string) uuid.UUID {
	in.t.Helper()
	now := time.Now().UTC()
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "hub", Kind: partner.Hub, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	c.Registered(token, "their-token", "http://127.0.0.1:1/versions", "2.2.1", nil, nil, "partner", now)
	require.NoError(in.t, db.SaveConnection(context.Background(), in.db.Pool, c, true))
	return c.ID
}

func TestHubClientInfoReceiver(t *testing.T) {
	a := start(t, "NL", "HUA", "EMSP")
	token := partner.NewToken()
	conn := a.registered(token)
	put := func(cc, pid, status, at string) (int, map[string]any) {
		return a.ocpi(token, true, "PUT", "/ocpi/2.2.1/hubclientinfo/"+cc+"/"+pid, map[string]any{
			"country_code": cc, "party_id": pid, "role": "CPO", "status": status, "last_updated": at})
	}
	st, env := put("BE", "CPX", "CONNECTED", "2024-05-01T10:00:00Z")
	require.Equal(t, 200, st)
	require.Equal(t, float64(1000), env["status_code"])
	// The party appears as a roaming partner behind the hub connection.
	p := a.admin(200, "GET", "/main/v1/roaming-partner?connection_id="+conn.String(), nil)
	items := p["items"].([]any)
	require.Len(t, items, 1)
	ids := items[0].(map[string]any)["party_ids"].([]any)
	require.Equal(t, "CONNECTED", ids[0].(map[string]any)["hub_status"])
	// A newer status wins; an older one (out of order) does not roll it back.
	put("BE", "CPX", "SUSPENDED", "2024-05-02T10:00:00Z")
	put("BE", "CPX", "CONNECTED", "2024-05-01T12:00:00Z")
	st, env = a.ocpi(token, true, "GET", "/ocpi/2.2.1/hubclientinfo/be/cpx", nil)
	require.Equal(t, 200, st)
	require.Equal(t, "SUSPENDED", env["data"].(map[string]any)["status"])
	// Timestamps without a zone are UTC.
	st, _ = put("BE", "CPY", "PLANNED", "2024-05-03T10:00:00")
	require.Equal(t, 200, st)
	// The object must match its URL; enums are checked.
	st, env = a.ocpi(token, true, "PUT", "/ocpi/2.2.1/hubclientinfo/BE/CPZ", map[string]any{
		"country_code": "BE", "party_id": "OTH", "role": "CPO", "status": "CONNECTED", "last_updated": "2024-05-01T10:00:00Z"})
	require.Equal(t, float64(2001), env["status_code"], "%d", st)
	_, env = put("BE", "CPZ", "ASLEEP", "2024-05-01T10:00:00Z")
	require.Equal(t, float64(2001), env["status_code"])
	st, _ = a.ocpi(token, true, "GET", "/ocpi/2.2.1/hubclientinfo/BE/NON", nil)
	require.Equal(t, 404, st)
}

func TestHubClientInfoSenderPagination(t *testing.T) {
	a := start(t, "NL", "P00", "CPO")
	for i := 1; i < 5; i++ {
		a.admin(201, "POST", "/main/v1/own-party", map[string]any{"country_code": "NL", "party_id": fmt.Sprintf("P%02d", i), "role": "EMSP", "name": "p"})
	}
	token := partner.NewToken()
	a.registered(token)
	get := func(q string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest("GET", a.base+"/ocpi/2.2.1/hubclientinfo"+q, nil)
		req.Header.Set("Authorization", "Token "+token) // raw token
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		_, env := a.ocpi(token, true, "GET", "/ocpi/2.2.1/hubclientinfo"+q, nil)
		return res, env
	}
	res, env := get("?limit=2")
	require.Equal(t, "5", res.Header.Get("X-Total-Count"))
	require.Equal(t, "2", res.Header.Get("X-Limit"))
	require.Len(t, env["data"], 2)
	link := res.Header.Get("Link")
	require.Regexp(t, `^<http://127\.0\.0\.1:\d+/ocpi/2\.2\.1/hubclientinfo\?.*offset=2.*>; rel="next"$`, link)
	// Walk the links: every party exactly once, the last page has no Link.
	seen := map[string]bool{}
	next := "?limit=2"
	for pages := 0; next != "" && pages < 10; pages++ {
		res, env = get(next)
		for _, d := range env["data"].([]any) {
			seen[d.(map[string]any)["party_id"].(string)] = true
		}
		next = ""
		if l := res.Header.Get("Link"); l != "" {
			u, err := url.Parse(l[1 : len(l)-len(`>; rel="next"`)])
			require.NoError(t, err)
			next = "?" + u.RawQuery
		}
	}
	require.Len(t, seen, 5)
	require.Empty(t, res.Header.Get("Link"), "no Link on the last page")
	// Empty page past the end.
	res, env = get("?offset=10")
	require.Empty(t, env["data"])
	require.Equal(t, "5", res.Header.Get("X-Total-Count"))
	// A limit above the maximum is clamped to it.
	res, _ = get("?limit=100000")
	require.Equal(t, "100", res.Header.Get("X-Limit"))
	// date_to is exclusive, date_from inclusive.
	res, _ = get("?date_to=2000-01-01T00:00:00Z")
	require.Equal(t, "0", res.Header.Get("X-Total-Count"))
	res, _ = get("?date_from=2000-01-01T00:00:00Z&date_to=" + url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)))
	require.Equal(t, "5", res.Header.Get("X-Total-Count"))
	// At the boundary: an object whose last_updated equals date_to is left
	// out, one equal to date_from is in.
	_, env = get("?limit=1")
	first := env["data"].([]any)[0].(map[string]any)
	lu := first["last_updated"].(string)
	_, env = get("?date_to=" + url.QueryEscape(lu))
	for _, d := range env["data"].([]any) {
		require.NotEqual(t, first["party_id"], d.(map[string]any)["party_id"], "date_to is exclusive")
	}
	_, env = get("?date_from=" + url.QueryEscape(lu))
	found := false
	for _, d := range env["data"].([]any) {
		found = found || d.(map[string]any)["party_id"] == first["party_id"]
	}
	require.True(t, found, "date_from is inclusive")
	// Malformed parameters: 2001 naming them.
	_, env = get("?offset=-1")
	require.Equal(t, float64(2001), env["status_code"])
	_, env = get("?date_from=yesterday")
	require.Equal(t, float64(2001), env["status_code"])
}
