package ocpi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestTokenCandidates(t *testing.T) {
	const uuidTok = "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2"
	b64 := base64.StdEncoding.EncodeToString([]byte(uuidTok))
	for _, tc := range []struct {
		name   string
		header string
		want   []string
	}{
		// The raw value is always a candidate as well, after the decoded one.
		{"base64 padded", "Token " + b64, []string{uuidTok, b64}},
		{"base64 without padding", "Token " + base64.RawStdEncoding.EncodeToString([]byte("token-12")), []string{"token-12", "dG9rZW4tMTI"}},
		{"spec example with trailing newline", "Token ZWJmM2IzOTktNzc5Zi00NDk3LTliOWQtYWM2YWQzY2M0NGQyCg==", []string{uuidTok, "ZWJmM2IzOTktNzc5Zi00NDk3LTliOWQtYWM2YWQzY2M0NGQyCg=="}},
		{"spec example-token", "Token ZXhhbXBsZS10b2tlbgo=", []string{"example-token", "ZXhhbXBsZS10b2tlbgo="}},
		{"raw 2.1.1 token", "Token " + uuidTok, []string{uuidTok}},
		{"lowercase keyword", "token " + b64, []string{uuidTok, b64}},
		{"upper keyword, extra spaces", "  TOKEN   " + uuidTok + "  ", []string{uuidTok}},
		// Valid Base64 that decodes to binary: only the raw form is a token.
		{"hex raw token decoding to binary", "Token 0123456789abcdef0123456789abcdef", []string{"0123456789abcdef0123456789abcdef"}},
		// The ambiguity: both forms are printable, both are returned, the
		// decoded one first.
		{"ambiguous", "Token dG9rZW4x", []string{"token1", "dG9rZW4x"}},
		{"bearer", "Bearer " + uuidTok, nil},
		{"no token", "Token ", nil},
		{"keyword only", "Token", nil},
		{"empty", "", nil},
		{"glued keyword", "Token" + uuidTok, nil},
		{"control char", "Token abc\x01def", nil},
		{"non-ascii raw", "Token tøken", nil},
		{"base64 of text with space", "Token " + base64.StdEncoding.EncodeToString([]byte("a b")), []string{base64.StdEncoding.EncodeToString([]byte("a b"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := TokenCandidates(tc.header)
			require.Equal(t, tc.want, got)
			tok, ok := TokenFromHeader(tc.header)
			require.Equal(t, len(tc.want) > 0, ok)
			if ok {
				require.Equal(t, tc.want[0], tok)
			}
		})
	}
}

func TestEncodeTokenRoundTrip(t *testing.T) {
	for _, tok := range []string{"ebf3b399-779f-4497-9b9d-ac6ad3cc44d2", "a", "ab", "abc", "x!~{}"} {
		h := EncodeToken(tok, true)
		require.Equal(t, "Token "+base64.StdEncoding.EncodeToString([]byte(tok)), h)
		got, ok := TokenFromHeader(h)
		require.True(t, ok)
		require.Equal(t, tok, got)
		require.Equal(t, "Token "+tok, EncodeToken(tok, false))
		require.Contains(t, TokenCandidates(EncodeToken(tok, false)), tok)
	}
}

func FuzzTokenCandidates(f *testing.F) {
	f.Add("Token ZXhhbXBsZS10b2tlbgo=")
	f.Add("token abc")
	f.Fuzz(func(t *testing.T, h string) {
		for _, c := range TokenCandidates(h) {
			require.True(t, isTokenString(c), "%q", c)
		}
	})
}

func TestEqualCI(t *testing.T) {
	require.True(t, EqualCI("NL", "nl"))
	require.True(t, EqualCI("Ex1", "eX1"))
	require.False(t, EqualCI("NL", "NLD"))
	require.False(t, EqualCI("@", "`")) // 0x40 and 0x60 differ only in the case bit but are not letters
	require.False(t, EqualCI("k", "\u212a"))
	require.True(t, EqualCI("", ""))
}

func TestIdentifiers(t *testing.T) {
	for s, want := range map[string]bool{"NL": true, "nl": true, "N1": false, "NLD": false, "": false, "É": false} {
		require.Equal(t, want, IsCountryCode(s), s)
	}
	for s, want := range map[string]bool{"EXA": true, "ex1": true, "E-X": false, "EX": false, "EXAM": false, "": false} {
		require.Equal(t, want, IsPartyID(s), s)
	}
}

// testApp returns a Fiber app with the OCPI error handler and Headers.
func testApp() *fiber.App {
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		return WriteError(c, err, nil)
	}})
	app.Use(Headers())
	return app
}

func do(t *testing.T, app *fiber.App, req *http.Request) (*http.Response, Response, []byte) {
	t.Helper()
	res, err := app.Test(req, -1)
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var env Response
	if len(body) > 0 {
		require.NoError(t, json.Unmarshal(body, &env), "%s", body)
	}
	return res, env, body
}

func TestRoutingHeaders(t *testing.T) {
	app := testApp()
	var got Routing
	app.Get("/r", func(c *fiber.Ctx) error {
		r, err := RoutingFrom(c)
		if err != nil {
			return err
		}
		got = r
		return OK(c, nil)
	})

	req := httptest.NewRequest("GET", "/r", nil)
	req.Header.Set("ocpi-from-country-code", "NL")
	req.Header.Set("OCPI-FROM-PARTY-ID", "exa")
	req.Header.Set(HeaderToCountry, "de")
	req.Header.Set(HeaderToParty, "RN1")
	res, env, _ := do(t, app, req)
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, StatusSuccess, env.StatusCode)
	require.Equal(t, Routing{FromCountry: "NL", FromParty: "exa", ToCountry: "de", ToParty: "RN1"}, got)
	// The response is routed back: to the requester, from us.
	require.Equal(t, "de", res.Header.Get(HeaderFromCountry))
	require.Equal(t, "RN1", res.Header.Get(HeaderFromParty))
	require.Equal(t, "NL", res.Header.Get(HeaderToCountry))
	require.Equal(t, "exa", res.Header.Get(HeaderToParty))

	// Open routing: no "to" pair; nothing is echoed.
	got = Routing{}
	req = httptest.NewRequest("GET", "/r", nil)
	req.Header.Set(HeaderFromCountry, "NL")
	req.Header.Set(HeaderFromParty, "EXA")
	res, env, _ = do(t, app, req)
	require.Equal(t, StatusSuccess, env.StatusCode)
	require.Equal(t, Routing{FromCountry: "NL", FromParty: "EXA"}, got)
	require.True(t, got.HasFrom())
	require.False(t, got.HasTo())
	require.Empty(t, res.Header.Get(HeaderToCountry))

	for _, tc := range []struct{ name, header, value, field string }{
		{"country too long", HeaderFromCountry, "NLD", HeaderFromCountry},
		{"country digits", HeaderToCountry, "N1", HeaderToCountry},
		{"party too short", HeaderFromParty, "EX", HeaderFromParty},
		{"party with dash", HeaderToParty, "E-X", HeaderToParty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/r", nil)
			req.Header.Set(HeaderFromCountry, "NL")
			req.Header.Set(HeaderFromParty, "EXA")
			req.Header.Set(HeaderToCountry, "DE")
			req.Header.Set(HeaderToParty, "RN1")
			req.Header.Set(tc.header, tc.value)
			res, env, _ := do(t, app, req)
			require.Equal(t, 200, res.StatusCode)
			require.Equal(t, StatusInvalidParams, env.StatusCode)
			require.Contains(t, env.StatusMessage, tc.field)
		})
	}
	// A country code without its party id.
	req = httptest.NewRequest("GET", "/r", nil)
	req.Header.Set(HeaderToCountry, "DE")
	_, env, _ = do(t, app, req)
	require.Equal(t, StatusInvalidParams, env.StatusCode)
	require.Contains(t, env.StatusMessage, HeaderToParty)
}

func TestRoutingSetReverse(t *testing.T) {
	r := Routing{FromCountry: "NL", FromParty: "EXA", ToCountry: "DE", ToParty: "RN1"}
	require.Equal(t, Routing{FromCountry: "DE", FromParty: "RN1", ToCountry: "NL", ToParty: "EXA"}, r.Reverse())
	require.Equal(t, r, r.Reverse().Reverse())
	h := http.Header{}
	h.Set(HeaderToParty, "OLD")
	r.Set(h)
	back, err := RoutingFromHeader(h)
	require.NoError(t, err)
	require.Equal(t, r, back)
	Routing{FromCountry: "NL", FromParty: "EXA"}.Set(h)
	require.Empty(t, h.Get(HeaderToParty))
	require.Empty(t, h.Values(HeaderToCountry))
	require.Equal(t, "EXA", h.Get("ocpi-from-party-id"))
}

func TestRequestIDs(t *testing.T) {
	app := testApp()
	var rid, cid string
	app.Get("/ids", func(c *fiber.Ctx) error {
		rid, cid = RequestIDs(c)
		r2, c2 := RequestIDs(c)
		if r2 != rid || c2 != cid {
			return errors.New("RequestIDs is not stable")
		}
		return OK(c, map[string]string{"a": "b"})
	})
	app.Get("/fail", func(c *fiber.Ctx) error { return Unauthorized("unknown token") })

	req := httptest.NewRequest("GET", "/ids", nil)
	req.Header.Set("x-request-id", "req-1")
	req.Header.Set("X-Correlation-Id", "corr-1")
	res, env, body := do(t, app, req)
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "req-1", res.Header.Get(HeaderRequestID))
	require.Equal(t, "corr-1", res.Header.Get(HeaderCorrelationID))
	require.Equal(t, "req-1", rid)
	require.Equal(t, "corr-1", cid)
	require.Equal(t, StatusSuccess, env.StatusCode)
	require.JSONEq(t, `{"a":"b"}`, string(mustRaw(t, body, "data")))
	require.NotContains(t, string(body), "status_message")

	// Missing ids are generated, and error responses carry them too.
	res, env, _ = do(t, app, httptest.NewRequest("GET", "/fail", nil))
	require.Equal(t, 401, res.StatusCode)
	require.Equal(t, StatusClientError, env.StatusCode)
	_, err := uuid.Parse(res.Header.Get(HeaderRequestID))
	require.NoError(t, err)
	_, err = uuid.Parse(res.Header.Get(HeaderCorrelationID))
	require.NoError(t, err)
	require.NotEqual(t, res.Header.Get(HeaderRequestID), res.Header.Get(HeaderCorrelationID))
}

func mustRaw(t *testing.T, body []byte, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &m))
	return m[key]
}

func TestErrorHelpers(t *testing.T) {
	for _, tc := range []struct {
		err        *Error
		http, code int
	}{
		{InvalidParam("roles[0].party_id", "bad"), 200, 2001},
		{UnknownLocation("no such location"), 200, 2003},
		{UnknownToken("no such token"), 404, 2004},
		{Unauthorized("unknown credentials token"), 401, 2000},
		{NotFound("no such tariff"), 404, 2000},
		{MethodNotAllowed("already registered"), 405, 2000},
		{Fail(400, 2001, "x"), 400, 2001},
	} {
		require.Equal(t, tc.http, tc.err.HTTP, tc.err.Message)
		require.Equal(t, tc.code, tc.err.Code, tc.err.Message)
	}
	require.Equal(t, "roles[0].party_id: bad", InvalidParam("roles[0].party_id", "bad").Message)
}

func TestRespondCreated(t *testing.T) {
	app := testApp()
	app.Put("/x", func(c *fiber.Ctx) error { return Respond(c, fiber.StatusCreated, nil) })
	res, env, body := do(t, app, httptest.NewRequest("PUT", "/x", nil))
	require.Equal(t, 201, res.StatusCode)
	require.Equal(t, StatusSuccess, env.StatusCode)
	require.Nil(t, mustRaw(t, body, "data"), "data left unset: %s", body)
	require.False(t, env.Timestamp.IsZero())
}
