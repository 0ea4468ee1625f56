package ocpi

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// decodeErr decodes body into v and returns the OCPI error (nil if none).
func decodeErr(t *testing.T, body string, v any) *Error {
	t.Helper()
	err := Decode([]byte(body), v)
	if err == nil {
		return nil
	}
	oe, ok := err.(*Error)
	require.True(t, ok, "%T: %v", err, err)
	return oe
}

const validCreds = `{
  "token": "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2",
  "url": "https://example.com/ocpi/versions",
  "roles": [
    {"role": "CPO", "party_id": "EXA", "country_code": "NL", "business_details": {"name": "Example Operator"}},
    {"role": "EMSP", "party_id": "EXA", "country_code": "NL", "business_details": {"name": "Example Provider",
      "logo": {"url": "https://example.com/l.png", "category": "OPERATOR", "type": "png", "width": 512}}}
  ],
  "some_future_field": {"x": [1, 2]}
}`

func TestDecodeValid(t *testing.T) {
	var c Credentials
	require.Nil(t, decodeErr(t, validCreds, &c))
	require.Len(t, c.Roles, 2)
	require.Equal(t, RoleEMSP, c.Roles[1].Role)
	require.Equal(t, 512, c.Roles[1].BusinessDetails.Logo.Width)
	require.True(t, c.Has(RoleCPO, "nl", "exa"))
	require.False(t, c.Has(RoleHub, "NL", "EXA"))
}

func TestDecodeSyntaxErrors(t *testing.T) {
	for _, body := range []string{``, `   `, `{`, `{"token": }`, `{"token": "a",}`, `nul`, `{"a":1} x`} {
		var c Credentials
		e := decodeErr(t, body, &c)
		require.NotNil(t, e, body)
		require.Equal(t, 400, e.HTTP, body)
		require.Equal(t, StatusInvalidParams, e.Code, body)
	}
}

// TestDecodeTypeErrors: wrong JSON types are 2001 inside HTTP 200 with the
// full path, array indices included.
func TestDecodeTypeErrors(t *testing.T) {
	for _, tc := range []struct {
		body, path, msg string
		v               any
	}{
		{strings.Replace(validCreds, `"name": "Example Provider"`, `"name": 42`, 1), "roles[1].business_details.name", "must be a string, not number", &Credentials{}},
		{strings.Replace(validCreds, `"width": 512`, `"width": "512"`, 1), "roles[1].business_details.logo.width", "must be an integer, not string", &Credentials{}},
		{strings.Replace(validCreds, `"width": 512`, `"width": 51.2`, 1), "roles[1].business_details.logo.width", "must be an integer", &Credentials{}},
		{`{"token":"t","url":"https://a.example/v","roles":{"a":1}}`, "roles", "must be an array", &Credentials{}},
		{`{"token": ["x"]}`, "token", "must be a string, not array", &Credentials{}},
		{`[1]`, "body", "must be an object, not array", &Credentials{}},
		// An error from a json.Unmarshaler (DateTime) gets its path too.
		{`{"party_id":"EXA","country_code":"NL","role":"CPO","status":"CONNECTED","last_updated":"yesterday"}`, "last_updated", "RFC 3339", &ClientInfo{}},
		{`{"party_id":"EXA","country_code":"NL","role":"CPO","status":"CONNECTED","last_updated":12}`, "last_updated", "must be a string", &ClientInfo{}},
		{`[{"version":"2.2.1","url":"https://a.example/2.2.1"},{"version":2.2,"url":"https://a.example/2.2"}]`, "[1].version", "must be a string", &[]Version{}},
		{`{"version":"2.2.1","endpoints":[{"identifier":"cdrs","role":"SENDER","url":"https://a.example/c"},{"identifier":"tokens","role":true,"url":"https://a.example/t"}]}`,
			"endpoints[1].role", "must be a string, not bool", &VersionDetails{}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			e := decodeErr(t, tc.body, tc.v)
			require.NotNil(t, e)
			require.Equal(t, 200, e.HTTP)
			require.Equal(t, StatusInvalidParams, e.Code)
			require.True(t, strings.HasPrefix(e.Message, tc.path+": "), e.Message)
			require.Contains(t, e.Message, tc.msg)
			require.NotContains(t, e.Message, "ocpi.", "no Go type names in messages")
		})
	}
}

// TestDecodeViolations: validate tags are reported with JSON paths, all of
// them in one message.
func TestDecodeViolations(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want []string
	}{
		{"missing everything", `{}`, []string{"token: is required", "url: is required", "roles: is required"}},
		{"empty roles", `{"token":"t","url":"https://a.example/v","roles":[]}`, []string{"roles: must have at least 1 element"}},
		{"bad role fields", `{"token":"t","url":"https://a.example/v","roles":[{"role":"CPO","party_id":"EXA","country_code":"NL","business_details":{"name":"x"}},
			{"role":"BOSS","party_id":"EXAM","country_code":"N1","business_details":{}}]}`,
			[]string{"roles[1].role: must be one of CPO, EMSP, HUB, NAP, NSP, OTHER, SCSP", "roles[1].business_details: is required",
				"roles[1].party_id: must be 3 letters or digits", "roles[1].country_code: must be a 2-letter ISO 3166 country code"}},
		{"missing business details", `{"token":"t","url":"https://a.example/v","roles":[{"role":"CPO","party_id":"EXA","country_code":"NL"}]}`,
			[]string{"roles[0].business_details: is required"}},
		{"nested name", `{"token":"t","url":"https://a.example/v","roles":[{"role":"CPO","party_id":"EXA","country_code":"NL","business_details":{"website":"https://a.example"}}]}`,
			[]string{"roles[0].business_details.name: is required"}},
		{"long name, bad website, bad logo", `{"token":"t","url":"https://a.example/v","roles":[{"role":"CPO","party_id":"EXA","country_code":"NL","business_details":{"name":"` + strings.Repeat("é", 101) + `","website":"ftp://a.example","logo":{"url":"/rel.png","category":"OPERATOR","type":"jpeg2","width":100000}}}]}`,
			[]string{"roles[0].business_details.name: must be at most 100 characters", "roles[0].business_details.website: must be an absolute http(s) URL",
				"roles[0].business_details.logo.url: must be an absolute http(s) URL", "roles[0].business_details.logo.type: must be at most 4 characters",
				"roles[0].business_details.logo.width: must be at most 99999"}},
		{"token with space, too long url", `{"token":"a b","url":"https://a.example/` + strings.Repeat("v", 250) + `","roles":[{"role":"CPO","party_id":"EXA","country_code":"NL","business_details":{"name":"x"}}]}`,
			[]string{"token: must be printable ASCII without whitespace", "url: must be at most 255 characters"}},
		{"token too long", `{"token":"` + strings.Repeat("t", 65) + `","url":"https://a.example/v","roles":[{"role":"CPO","party_id":"EXA","country_code":"NL","business_details":{"name":"x"}}]}`,
			[]string{"token: must be at most 64 characters"}},
		{"duplicate role, case-insensitively", `{"token":"t","url":"https://a.example/v","roles":[{"role":"CPO","party_id":"EXA","country_code":"NL","business_details":{"name":"x"}},{"role":"CPO","party_id":"exa","country_code":"nl","business_details":{"name":"y"}}]}`,
			[]string{"roles[1]: duplicates another role"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := decodeErr(t, tc.body, &Credentials{})
			require.NotNil(t, e)
			require.Equal(t, 200, e.HTTP)
			require.Equal(t, StatusInvalidParams, e.Code)
			require.True(t, strings.HasPrefix(e.Message, "invalid or missing parameters: "), e.Message)
			for _, w := range tc.want {
				require.Contains(t, e.Message, w)
			}
			require.Equal(t, len(tc.want), strings.Count(e.Message, ";")+1, e.Message)
		})
	}
	// The same role for two parties, or two roles for one party, is fine.
	require.Nil(t, decodeErr(t, `{"token":"t","url":"https://a.example/v","roles":[{"role":"CPO","party_id":"EXA","country_code":"NL","business_details":{"name":"x"}},{"role":"CPO","party_id":"EXB","country_code":"NL","business_details":{"name":"y"}},{"role":"EMSP","party_id":"EXA","country_code":"NL","business_details":{"name":"z"}}]}`, &Credentials{}))
}

func TestDecodeClientInfo(t *testing.T) {
	var ci ClientInfo
	require.Nil(t, decodeErr(t, `{"country_code":"NL","party_id":"ALL","role":"CPO","status":"PLANNED","last_updated":"2019-01-28T12:00:00"}`, &ci))
	require.Equal(t, ConnectionPlanned, ci.Status)
	require.Equal(t, "2019-01-28T12:00:00Z", ci.LastUpdated.String())

	e := decodeErr(t, `{"country_code":"NL","party_id":"ALL","role":"CPO","status":"ONLINE"}`, &ClientInfo{})
	require.NotNil(t, e)
	require.Contains(t, e.Message, "status: must be one of CONNECTED, OFFLINE, PLANNED, SUSPENDED")
	require.Contains(t, e.Message, "last_updated: is required")
}

func TestDecodeVersions(t *testing.T) {
	var vs []Version
	require.Nil(t, decodeErr(t, `[{"version":"2.1.1","url":"https://a.example/2.1.1"},{"version":"3.0","url":"https://a.example/3.0"}]`, &vs),
		"VersionNumber is an open enum")
	vs = nil // encoding/json decodes into existing slice elements
	e := decodeErr(t, `[{"version":"2.2.1","url":"https://a.example/2.2.1"},{"version":"2.1.1"}]`, &vs)
	require.NotNil(t, e)
	require.Equal(t, "invalid or missing parameters: [1].url: is required", e.Message)

	var d VersionDetails
	require.Nil(t, decodeErr(t, `{"version":"2.2.1","endpoints":[{"identifier":"nltnm-tokens","role":"SENDER","url":"https://a.example/t"}]}`, &d),
		"custom module ids are allowed")
	e = decodeErr(t, `{"version":"2.2.1","endpoints":[{"identifier":"cdrs","role":"sender","url":"https://a.example/c"}]}`, &d)
	require.NotNil(t, e)
	require.Contains(t, e.Message, "endpoints[0].role: must be one of SENDER, RECEIVER", "enums are case sensitive")
}

func TestValidateNilAndNonStruct(t *testing.T) {
	var c *Credentials
	require.Error(t, Validate(c))
	require.NoError(t, Validate(3))
	require.Error(t, Unmarshal([]byte(`{}`), Credentials{}), "needs a pointer")
}

func TestValidatorRules(t *testing.T) {
	for s, want := range map[string]bool{"abc": true, "a b~": true, "": true, "a\tb": false, "a\nb": false, "é": false, "\x7f": false} {
		require.Equal(t, want, IsCiString(s), "%q", s)
	}
	for s, want := range map[string]bool{"Zürich": true, "a b": true, "a\nb": false, "a\u200bb": false, "\xff": false} {
		require.Equal(t, want, IsPrintableString(s), "%q", s)
	}
	for s, want := range map[string]bool{
		"https://example.com/ocpi/versions": true, "http://localhost:8080/v": true, "HTTPS://A.EXAMPLE": true,
		"/ocpi/versions": false, "ftp://a.example": false, "https://": false, "https://u:p@a.example/": false,
		"https://a.example/a b": false, "mailto:a@b.c": false, "": false,
	} {
		require.Equal(t, want, IsURL(s), "%q", s)
	}
	type probe struct {
		S string `json:"s" validate:"omitempty,ocpi_string"`
		C string `json:"c" validate:"omitempty,cistring"`
	}
	err := Validate(probe{S: "line\nbreak", C: "tab\there"})
	require.Error(t, err)
	require.Contains(t, err.Error(), "s: must be printable text without control characters")
	require.Contains(t, err.Error(), "c: must be printable ASCII (CiString)")
}

func FuzzDecodeCredentials(f *testing.F) {
	f.Add([]byte(validCreds))
	f.Add([]byte(`{"roles":[{"business_details":{"logo":{"width":"x"}}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Credentials
		err := Decode(b, &c)
		if err == nil {
			return
		}
		oe, ok := err.(*Error)
		require.True(t, ok, "%T %v", err, err)
		require.Equal(t, StatusInvalidParams, oe.Code)
		require.Contains(t, []int{200, 400}, oe.HTTP)
	})
}
