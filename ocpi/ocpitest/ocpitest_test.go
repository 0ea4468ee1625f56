package ocpitest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Request-ID", "0190a0e8-7c4e-7b1a-9c41-2d2f0f6a1b11")
	h.Set("X-Correlation-ID", "0190a0e8-7c4e-7b1a-9c41-2d2f0f6a1b12")
	h.Set("Authorization", "Token dG9rZW4tYw==")
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

const versionsOK = `{"data":[{"version":"2.2.1","url":"https://node.example.com/ocpi/2.2.1"}],"status_code":1000,"timestamp":"2024-05-01T10:00:00Z"}`

func TestSpecPath(t *testing.T) {
	for _, tc := range []struct{ path, file, sp string }{
		{"/ocpi/versions", "modules/versions/interface.yaml", "/versions"},
		{"/ocpi/2.2.1", "modules/versions/interface.yaml", "/versions/2.2.1"},
		{"/ocpi/2.2.1/", "modules/versions/interface.yaml", "/versions/2.2.1"},
		{"/ocpi/2.2.1/credentials", "modules/credentials/interface.yaml", "/credentials"},
		{"/ocpi/2.2.1/hubclientinfo/NL/EXA", "modules/hubclientinfo/receiver-interface.yaml", "/hubclientinfo/NL/EXA"},
		{"/ocpi/2.2.1/cpo/locations?offset=5", "modules/locations/sender-interface.yaml", "/locations"},
		{"/ocpi/2.2.1/emsp/locations/NL/EXA/LOC1/EVSE1", "modules/locations/receiver-interface.yaml", "/locations/NL/EXA/LOC1/EVSE1"},
		{"/ocpi/2.2.1/cpo/tokens/NL/EXA/012345678", "modules/tokens/receiver-interface.yaml", "/tokens/NL/EXA/012345678"},
		{"/ocpi/2.2.1/emsp/tokens/012345678/authorize", "modules/tokens/sender-interface.yaml", "/tokens/012345678/authorize"},
		{"/ocpi/2.2.1/cpo/commands/START_SESSION", "modules/commands/receiver-interface.yaml", "/commands/START_SESSION"},
		{"/ocpi/2.2.1/emsp/commands/START_SESSION/abc", "modules/commands/sender-interface.yaml", "/commands/START_SESSION/abc"},
		{"/ocpi/2.2.1/emsp/cdrs/", "modules/cdrs/receiver-interface.yaml", "/cdrs"},
	} {
		file, sp, err := SpecPath(tc.path)
		require.NoError(t, err, tc.path)
		require.Equal(t, tc.file, file, tc.path)
		require.Equal(t, tc.sp, sp, tc.path)
	}
	for _, p := range []string{"/main/v1/x", "/ocpi/2.1.1/credentials", "/ocpi/2.2.1/cpo/nothing", "/ocpi/2.2.1/cpo", "/ocpi"} {
		_, _, err := SpecPath(p)
		require.Error(t, err, p)
	}
}

// TestEveryInterfaceFileLoads: all official interface files load with their
// relative references resolved, and get a router.
func TestEveryInterfaceFileLoads(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range []map[string]string{cpoInterface, emspInterface} {
		for mod, iface := range m {
			seen["modules/"+mod+"/"+iface+"-interface.yaml"] = true
		}
	}
	seen["modules/versions/interface.yaml"] = true
	seen["modules/credentials/interface.yaml"] = true
	require.Len(t, seen, 17)
	for f := range seen {
		s, err := load(f)
		require.NoError(t, err, f)
		require.NotEmpty(t, s.doc.Paths.Map(), f)
	}
}

func TestCheckResponse(t *testing.T) {
	pass := func(method, path string, status int, h http.Header, body string) {
		t.Helper()
		require.NoError(t, CheckResponse(method, path, status, h, []byte(body)))
	}
	fail := func(method, path string, status int, h http.Header, body, want string) {
		t.Helper()
		err := CheckResponse(method, path, status, h, []byte(body))
		require.Error(t, err)
		require.Contains(t, err.Error(), want)
	}

	pass("GET", "/ocpi/versions", 200, hdr(), versionsOK)
	// Timestamps without a zone are OCPI DateTimes too.
	pass("GET", "/ocpi/versions", 200, hdr(), strings.Replace(versionsOK, "10:00:00Z", "10:00:00.123", 1))
	fail("GET", "/ocpi/versions", 200, hdr(), `{"data":[],"timestamp":"2024-05-01T10:00:00Z"}`, "status_code is missing")
	fail("GET", "/ocpi/versions", 200, hdr(), `{"data":[],"status_code":1000}`, "timestamp is missing")
	fail("GET", "/ocpi/versions", 200, hdr(), `{"data":[],"status_code":1234,"timestamp":"2024-05-01T10:00:00Z"}`, "not an OCPI status code")
	fail("GET", "/ocpi/versions", 200, hdr(), `{"data":[],"status_code":"1000","timestamp":"2024-05-01T10:00:00Z"}`, "status_code")
	fail("GET", "/ocpi/versions", 200, hdr(), strings.Replace(versionsOK, "10:00:00Z", "10:00:00+00:00", 1), "not an OCPI DateTime")
	fail("GET", "/ocpi/versions", 200, hdr(), strings.Replace(versionsOK, `"2.2.1",`, `221,`, 1), "official schema")
	fail("GET", "/ocpi/versions", 200, hdr(), strings.Replace(versionsOK, `"https://node.example.com/ocpi/2.2.1"`, `"/ocpi/2.2.1"`, 1), "absolute URL")
	fail("GET", "/ocpi/versions", 200, hdr(), `{"data":{"version":"2.2.1"},"status_code":1000,"timestamp":"2024-05-01T10:00:00Z"}`, "official schema")
	fail("GET", "/ocpi/versions", 200, hdr(), `not json`, "not a JSON object")
	// Missing message ids, routing headers on a configuration module.
	h := hdr()
	h.Del("X-Correlation-ID")
	fail("GET", "/ocpi/versions", 200, h, versionsOK, "X-Correlation-ID")
	fail("GET", "/ocpi/versions", 200, hdr("OCPI-to-party-id", "EXA"), versionsOK, "routing header")
	// An undocumented status, an unknown operation.
	fail("GET", "/ocpi/versions", 418, hdr(), versionsOK, "official schema")
	fail("PATCH", "/ocpi/versions", 200, hdr(), versionsOK, "method not allowed")

	// Errors: 401 with 2000 for an unknown token, 405 on credentials.
	pass("GET", "/ocpi/2.2.1", 401, hdr(), `{"status_code":2000,"status_message":"unknown token","timestamp":"2024-05-01T10:00:00Z"}`)
	pass("POST", "/ocpi/2.2.1/credentials", 405, hdr(), `{"status_code":2000,"timestamp":"2024-05-01T10:00:00Z"}`)

	// Version details and credentials with their official schemas.
	pass("GET", "/ocpi/2.2.1", 200, hdr(), `{"data":{"version":"2.2.1","endpoints":[{"identifier":"credentials","role":"SENDER","url":"https://n.example/ocpi/2.2.1/credentials"}]},"status_code":1000,"timestamp":"2024-05-01T10:00:00Z"}`)
	fail("GET", "/ocpi/2.2.1", 200, hdr(), `{"data":{"version":"2.2.1","endpoints":[{"identifier":"credentials","role":"BOTH","url":"https://n.example/ocpi/2.2.1/credentials"}]},"status_code":1000,"timestamp":"2024-05-01T10:00:00Z"}`, "official schema")
	creds := `{"data":{"token":"abc","url":"https://n.example/ocpi/versions","roles":[{"role":"CPO","party_id":"RNO","country_code":"NL","business_details":{"name":"roamnode"}}]},"status_code":1000,"timestamp":"2024-05-01T10:00:00Z"}`
	pass("GET", "/ocpi/2.2.1/credentials", 200, hdr(), creds)
	fail("GET", "/ocpi/2.2.1/credentials", 200, hdr(), strings.Replace(creds, `"RNO"`, `"RNOX"`, 1), "official schema")
	fail("GET", "/ocpi/2.2.1/credentials", 200, hdr(), strings.Replace(creds, `,"business_details":{"name":"roamnode"}`, ``, 1), "business_details")

	// Pagination headers on a list.
	list := `{"data":[],"status_code":1000,"timestamp":"2024-05-01T10:00:00Z"}`
	pass("GET", "/ocpi/2.2.1/cpo/tariffs?offset=0", 200, hdr("X-Total-Count", "0", "X-Limit", "100"), list)
	pass("GET", "/ocpi/2.2.1/cpo/tariffs", 200, hdr("X-Total-Count", "250", "X-Limit", "100",
		"Link", `<https://n.example/ocpi/2.2.1/cpo/tariffs?offset=100&limit=100>; rel="next"`), list)
	fail("GET", "/ocpi/2.2.1/cpo/tariffs", 200, hdr("X-Limit", "100"), list, "X-Total-Count")
	fail("GET", "/ocpi/2.2.1/cpo/tariffs", 200, hdr("X-Total-Count", "-1", "X-Limit", "100"), list, "X-Total-Count")
	fail("GET", "/ocpi/2.2.1/cpo/tariffs", 200, hdr("X-Total-Count", "250", "X-Limit", "100",
		"Link", `</ocpi/2.2.1/cpo/tariffs?offset=100>; rel="next"`), list, "absolute URL")
	fail("GET", "/ocpi/2.2.1/cpo/tariffs", 200, hdr("X-Total-Count", "250", "X-Limit", "100",
		"Link", `https://n.example/x; rel=next`), list, "Link")
	// An error answer of a list needs no pagination headers.
	pass("GET", "/ocpi/2.2.1/cpo/tariffs?offset=x", 200, hdr(), `{"status_code":2001,"status_message":"offset: must be a non-negative integer","timestamp":"2024-05-01T10:00:00Z"}`)
}

// fakeT records a failure instead of stopping the test.
type fakeT struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = format
}

func TestValidateResponseFailsTheTest(t *testing.T) {
	ft := &fakeT{TB: t}
	ValidateResponse(ft, "GET", "/ocpi/versions", 200, hdr(), []byte(versionsOK))
	require.False(t, ft.failed)
	ValidateResponse(ft, "GET", "/ocpi/versions", 200, hdr(), []byte(`{"data":[],"timestamp":"2024-05-01T10:00:00Z"}`))
	require.True(t, ft.failed)
}

func TestCheckRequest(t *testing.T) {
	h := hdr()
	body := []byte(`{"country_code":"NL","party_id":"EXA","role":"CPO","status":"PLANNED","last_updated":"2024-05-01T10:00:00Z"}`)
	require.NoError(t, CheckRequest("PUT", "/ocpi/2.2.1/hubclientinfo/NL/EXA", h, body))
	err := CheckRequest("PUT", "/ocpi/2.2.1/hubclientinfo/NL/EXA", h, []byte(`{"country_code":"NL","party_id":"EXA","role":"CPO","status":"ONLINE","last_updated":"2024-05-01T10:00:00Z"}`))
	require.Error(t, err)
	require.Contains(t, err.Error(), "status")
	err = CheckRequest("PUT", "/ocpi/2.2.1/hubclientinfo/NLD/EXA", h, body)
	require.Error(t, err, "country_code path parameter is 2 characters")
	noIDs := http.Header{"Content-Type": {"application/json"}}
	require.Error(t, CheckRequest("PUT", "/ocpi/2.2.1/hubclientinfo/NL/EXA", noIDs, body), "X-Request-ID is required")
	require.NoError(t, CheckRequest("GET", "/ocpi/2.2.1/cpo/tariffs?offset=0&limit=10&date_from=2024-01-01T00:00:00Z", h, nil))
	require.Error(t, CheckRequest("GET", "/ocpi/2.2.1/cpo/tariffs?offset=-1", h, nil))
	ft := &fakeT{TB: t}
	ValidateRequest(ft, "GET", "/ocpi/versions", h, nil)
	require.False(t, ft.failed)
	ValidateRequest(ft, "GET", "/ocpi/versions", noIDs, nil)
	require.True(t, ft.failed)
}

func TestCheckRequestNeedsAuthorization(t *testing.T) {
	h := hdr()
	h.Del("Authorization")
	err := CheckRequest("GET", "/ocpi/versions", h, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "security")
}
