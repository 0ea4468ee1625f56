package ocpi

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/ocpi/ocpitest"
)

// examplesDir holds the official examples of the spec.
const examplesDir = "../../shared/ocpi-2.2.1/examples"

// envelope is a response envelope with typed data, for decoding examples.
type envelope[T any] struct {
	Data          T        `json:"data"`
	StatusCode    int      `json:"status_code"`
	StatusMessage string   `json:"status_message,omitempty"`
	Timestamp     DateTime `json:"timestamp"`
}

// decodeExample decodes an official example through Decode into a new T,
// re-marshals it and requires the JSON to mean the same as the original.
func decodeExample[T any](t *testing.T, name string) T {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examplesDir, name))
	require.NoError(t, err)
	var v T
	require.NoError(t, Decode(b, &v), name)
	out, err := json.Marshal(v)
	require.NoError(t, err)
	require.JSONEq(t, string(b), string(out), name)
	return v
}

func TestOfficialExamples(t *testing.T) {
	t.Run("credentials", func(t *testing.T) {
		c := decodeExample[Credentials](t, "credentials_example.json")
		require.Equal(t, "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2", c.Token)
		require.Equal(t, "https://example.com/ocpi/versions", c.URL)
		require.Equal(t, []CredentialsRole{{Role: RoleCPO, PartyID: "EXA", CountryCode: "NL", BusinessDetails: BusinessDetails{Name: "Example Operator"}}}, c.Roles)

		c = decodeExample[Credentials](t, "credentials_example2.json")
		require.Len(t, c.Roles, 2)
		require.True(t, c.Has(RoleEMSP, "NL", "EXA"))
		require.Equal(t, "Example Provider", c.Roles[1].BusinessDetails.Name)

		c = decodeExample[Credentials](t, "credentials_example3.json")
		logo := c.Roles[0].BusinessDetails.Logo
		require.NotNil(t, logo)
		require.Equal(t, Image{URL: "https://example.com/img/logo.jpg", Thumbnail: "https://example.com/img/logo_thumb.jpg",
			Category: ImageOperator, Type: "jpeg", Width: 512, Height: 512}, *logo)
		require.Equal(t, "http://example.com", c.Roles[0].BusinessDetails.Website)

		c = decodeExample[Credentials](t, "credentials_example4.json")
		require.Len(t, c.Roles, 3)
		require.Equal(t, []string{"EXO", "PFC", "CGP"}, []string{c.Roles[0].PartyID, c.Roles[1].PartyID, c.Roles[2].PartyID})
	})
	t.Run("versions", func(t *testing.T) {
		vs := decodeExample[[]Version](t, "versions_info_example.json")
		require.Equal(t, []Version{{Version211, "https://www.server.com/ocpi/2.1.1"}, {Version221, "https://www.server.com/ocpi/2.2.1"}}, vs)

		env := decodeExample[envelope[[]Version]](t, "transport_and_format_version_info_example.json")
		require.Equal(t, StatusSuccess, env.StatusCode)
		require.Equal(t, "Success", env.StatusMessage)
		require.Equal(t, "2015-06-30T21:59:59Z", env.Timestamp.String())
		require.Equal(t, []Version{{Version211, "https://example.com/ocpi/cpo/2.1.1"}, {Version22, "https://example.com/ocpi/cpo/2.2"}}, env.Data)
	})
	t.Run("version details", func(t *testing.T) {
		d := decodeExample[VersionDetails](t, "version_details_example.json")
		require.Equal(t, Version22, d.Version)
		require.Equal(t, Endpoint{ModuleLocations, InterfaceSender, "https://example.com/ocpi/cpo/2.2/locations"}, d.Endpoints[1])

		d = decodeExample[VersionDetails](t, "version_details_example2.json")
		require.Len(t, d.Endpoints, 5)
		u, ok := d.Endpoint(ModuleTokens, InterfaceSender)
		require.True(t, ok)
		require.Equal(t, "https://example.com/ocpi/msp/2.2/tokens", u)
		u, ok = d.Endpoint(ModuleCredentials, InterfaceSender) // its role is disregarded
		require.True(t, ok)
		require.Equal(t, "https://example.com/ocpi/2.2/credentials", u)
		_, ok = d.Endpoint(ModuleCDRs, InterfaceReceiver)
		require.False(t, ok)

		env := decodeExample[envelope[VersionDetails]](t, "transport_and_format_version_details_example.json")
		require.Equal(t, StatusSuccess, env.StatusCode)
		require.Len(t, env.Data.Endpoints, 2)
		require.Equal(t, ModuleCredentials, env.Data.Endpoints[0].Identifier)
	})
}

// officialSchema loads a schema of the official OpenAPI files.
func officialSchema(t *testing.T, file, name string) *openapi3.Schema {
	t.Helper()
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	doc, err := loader.LoadFromFile(filepath.Join(ocpitest.Dir(), file))
	require.NoError(t, err, file)
	ref := doc.Components.Schemas[name]
	require.NotNil(t, ref, "%s in %s", name, file)
	return ref.Value
}

func enumStrings(s *openapi3.Schema) []string {
	out := make([]string, 0, len(s.Enum))
	for _, v := range s.Enum {
		out = append(out, v.(string))
	}
	slices.Sort(out)
	return out
}

func sortedStrings[T ~string](vs ...T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	slices.Sort(out)
	return out
}

// oneofOf returns the sorted values of the oneof rule of a struct field.
func oneofOf(t *testing.T, typ reflect.Type, field string) []string {
	t.Helper()
	f, ok := typ.FieldByName(field)
	require.True(t, ok, field)
	for _, rule := range strings.Split(f.Tag.Get("validate"), ",") {
		if v, ok := strings.CutPrefix(rule, "oneof="); ok {
			out := strings.Fields(v)
			slices.Sort(out)
			return out
		}
	}
	t.Fatalf("%s.%s has no oneof rule", typ.Name(), field)
	return nil
}

// TestEnumsMatchOfficialSchemas: our constants and oneof rules list exactly
// the values of the official enums.
func TestEnumsMatchOfficialSchemas(t *testing.T) {
	vs := "modules/versions/schema.yaml"
	require.Equal(t, enumStrings(officialSchema(t, vs, "ModuleID")), sortedStrings(Modules...))
	require.Equal(t, enumStrings(officialSchema(t, vs, "VersionNumber")), sortedStrings(Version20, Version21, Version211, Version22, Version221))
	interfaceRoles := enumStrings(officialSchema(t, vs, "InterfaceRole"))
	require.Equal(t, interfaceRoles, sortedStrings(InterfaceSender, InterfaceReceiver))
	require.Equal(t, interfaceRoles, oneofOf(t, reflect.TypeFor[Endpoint](), "Role"))

	hci := "modules/hubclientinfo/schema.yaml"
	roles := enumStrings(officialSchema(t, hci, "Role"))
	require.Equal(t, roles, sortedStrings(RoleCPO, RoleEMSP, RoleHub, RoleNAP, RoleNSP, RoleOther, RoleSCSP))
	require.Equal(t, roles, oneofOf(t, reflect.TypeFor[CredentialsRole](), "Role"))
	require.Equal(t, roles, oneofOf(t, reflect.TypeFor[ClientInfo](), "Role"))
	statuses := enumStrings(officialSchema(t, hci, "ConnectionStatus"))
	require.Equal(t, statuses, sortedStrings(ConnectionConnected, ConnectionOffline, ConnectionPlanned, ConnectionSuspended))
	require.Equal(t, statuses, oneofOf(t, reflect.TypeFor[ClientInfo](), "Status"))

	require.Equal(t, enumStrings(officialSchema(t, "components/schema.yaml", "ImageCategory")),
		sortedStrings(ImageCharger, ImageEntrance, ImageLocation, ImageNetwork, ImageOperator, ImageOther, ImageOwner))
}

// TestTypesMatchOfficialSchemas: each wire type has exactly the official
// properties, marks exactly the official required ones required, and
// limits string lengths like the official maxLength.
func TestTypesMatchOfficialSchemas(t *testing.T) {
	for _, tc := range []struct {
		file, name string
		typ        reflect.Type
	}{
		{"modules/versions/schema.yaml", "Version", reflect.TypeFor[Version]()},
		{"modules/versions/schema.yaml", "VersionDetails", reflect.TypeFor[VersionDetails]()},
		{"modules/versions/schema.yaml", "Endpoint", reflect.TypeFor[Endpoint]()},
		{"modules/credentials/schema.yaml", "Credentials", reflect.TypeFor[Credentials]()},
		{"modules/credentials/schema.yaml", "CredentialsRole", reflect.TypeFor[CredentialsRole]()},
		{"components/schema.yaml", "BusinessDetails", reflect.TypeFor[BusinessDetails]()},
		{"components/schema.yaml", "Image", reflect.TypeFor[Image]()},
		{"modules/hubclientinfo/schema.yaml", "ClientInfo", reflect.TypeFor[ClientInfo]()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := officialSchema(t, tc.file, tc.name)
			var props []string
			for name := range s.Properties {
				props = append(props, name)
			}
			slices.Sort(props)
			var fields, required []string
			rules := map[string][]string{}
			for i := 0; i < tc.typ.NumField(); i++ {
				f := tc.typ.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				fields = append(fields, name)
				rules[name] = strings.Split(f.Tag.Get("validate"), ",")
				if slices.Contains(rules[name], "required") {
					required = append(required, name)
				}
			}
			slices.Sort(fields)
			slices.Sort(required)
			want := slices.Clone(s.Required)
			slices.Sort(want)
			require.Equal(t, props, fields, "properties")
			require.Equal(t, want, required, "required")
			for name, p := range s.Properties {
				if p.Value.MaxLength != nil && p.Value.Type.Is("string") {
					n := strconv.FormatUint(*p.Value.MaxLength, 10)
					ok := slices.Contains(rules[name], "max="+n) ||
						(n == "2" && slices.Contains(rules[name], TagCountry)) || (n == "3" && slices.Contains(rules[name], TagParty))
					require.True(t, ok, "%s: maxLength %s, rules %v", name, n, rules[name])
				}
			}
		})
	}
}

// TestHandlersConformToOfficialOpenAPI serves the transport helpers the way
// module handlers use them and validates every answer with ocpitest.
func TestHandlersConformToOfficialOpenAPI(t *testing.T) {
	const base = "https://node.example.com"
	app := testApp()
	registered := false
	auth := func(c *fiber.Ctx) error {
		for _, tok := range TokenCandidates(c.Get(HeaderAuthorization)) {
			if tok == "token-c" {
				return c.Next()
			}
		}
		return Unauthorized("unknown credentials token")
	}
	ocpi := app.Group("/ocpi", auth)
	ocpi.Get("/versions", func(c *fiber.Ctx) error {
		return OK(c, []Version{{Version221, base + "/ocpi/2.2.1"}})
	})
	ocpi.Get("/2.2.1", func(c *fiber.Ctx) error {
		return OK(c, VersionDetails{Version: Version221, Endpoints: []Endpoint{
			{ModuleCredentials, InterfaceSender, base + "/ocpi/2.2.1/credentials"},
			{ModuleTariffs, InterfaceSender, base + "/ocpi/2.2.1/cpo/tariffs"},
			{ModuleHubClientInfo, InterfaceReceiver, base + "/ocpi/2.2.1/hubclientinfo"},
		}})
	})
	ocpi.Post("/2.2.1/credentials", func(c *fiber.Ctx) error {
		if registered {
			return MethodNotAllowed("already registered, use PUT")
		}
		var in Credentials
		if err := Decode(c.Body(), &in); err != nil {
			return err
		}
		registered = true
		return OK(c, Credentials{Token: "token-c2", URL: base + "/ocpi/versions", Roles: []CredentialsRole{
			{Role: RoleCPO, PartyID: "RNO", CountryCode: "NL", BusinessDetails: BusinessDetails{Name: "roamnode"}}}})
	})
	ocpi.Get("/2.2.1/cpo/tariffs", func(c *fiber.Ctx) error {
		p, err := ParsePage(c, 2)
		if err != nil {
			return err
		}
		all := []map[string]any{}
		for i := p.Offset; i < 3 && i < p.Offset+p.Limit; i++ {
			all = append(all, map[string]any{"country_code": "NL", "party_id": "RNO", "id": "T" + strconv.Itoa(i), "currency": "EUR",
				"elements":     []any{map[string]any{"price_components": []any{map[string]any{"type": "ENERGY", "price": 0.25, "step_size": 1}}}},
				"last_updated": "2024-05-01T10:00:00Z"})
		}
		return WritePage(c, base, p, 3, all)
	})
	ocpi.Put("/2.2.1/hubclientinfo/:country_code/:party_id", func(c *fiber.Ctx) error {
		var ci ClientInfo
		if err := Decode(c.Body(), &ci); err != nil {
			return err
		}
		if !EqualCI(ci.CountryCode, c.Params("country_code")) || !EqualCI(ci.PartyID, c.Params("party_id")) {
			return InvalidParam("party_id", "does not match the URL")
		}
		return Respond(c, fiber.StatusCreated, nil)
	})

	call := func(method, path, body string, tokenB64 bool) (int, Response) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", EncodeToken("token-c", tokenB64))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, b := ocpitest.Call(t, app, req)
		var env Response
		require.NoError(t, json.Unmarshal(b, &env))
		return res.StatusCode, env
	}

	st, env := call("GET", "/ocpi/versions", "", true)
	require.Equal(t, 200, st)
	require.Equal(t, StatusSuccess, env.StatusCode)
	st, _ = call("GET", "/ocpi/versions", "", false) // a raw token is accepted too
	require.Equal(t, 200, st)
	st, _ = call("GET", "/ocpi/2.2.1", "", true)
	require.Equal(t, 200, st)

	// Unknown token: HTTP 401.
	req := httptest.NewRequest("GET", "/ocpi/2.2.1", nil)
	req.Header.Set("Authorization", EncodeToken("token-x", true))
	res, _ := ocpitest.Call(t, app, req)
	require.Equal(t, 401, res.StatusCode)

	// Credentials: malformed JSON is 400, an invalid object 2001 in a 200,
	// a valid one registers, a second POST is 405.
	st, env = call("POST", "/ocpi/2.2.1/credentials", `{"token": `, true)
	require.Equal(t, 400, st)
	require.Equal(t, StatusInvalidParams, env.StatusCode)
	st, env = call("POST", "/ocpi/2.2.1/credentials", `{"token":"token-b","url":"https://p.example/versions","roles":[{"role":"EMSP","party_id":"PA","country_code":"DE","business_details":{"name":"P"}}]}`, true)
	require.Equal(t, 200, st)
	require.Equal(t, StatusInvalidParams, env.StatusCode)
	require.Contains(t, env.StatusMessage, "roles[0].party_id")
	b, err := os.ReadFile(filepath.Join(examplesDir, "credentials_example2.json"))
	require.NoError(t, err)
	st, env = call("POST", "/ocpi/2.2.1/credentials", string(b), true)
	require.Equal(t, 200, st)
	require.Equal(t, StatusSuccess, env.StatusCode)
	st, _ = call("POST", "/ocpi/2.2.1/credentials", string(b), true)
	require.Equal(t, 405, st)

	// A paginated list: two pages.
	req = httptest.NewRequest("GET", "/ocpi/2.2.1/cpo/tariffs?date_from=2024-01-01T00:00:00Z", nil)
	req.Header.Set("Authorization", EncodeToken("token-c", true))
	res, _ = ocpitest.Call(t, app, req)
	next, ok := NextLink(res.Header.Get("Link"))
	require.True(t, ok)
	require.Equal(t, base+"/ocpi/2.2.1/cpo/tariffs?offset=2&limit=2&date_from=2024-01-01T00:00:00Z", next)
	st, env = call("GET", strings.TrimPrefix(next, base), "", true)
	require.Equal(t, 200, st)
	require.Len(t, env.Data, 1)
	st, env = call("GET", "/ocpi/2.2.1/cpo/tariffs?limit=many", "", true)
	require.Equal(t, 200, st)
	require.Equal(t, StatusInvalidParams, env.StatusCode)

	// Hub client info push: created, then a mismatch with the URL.
	st, env = call("PUT", "/ocpi/2.2.1/hubclientinfo/NL/EXA", `{"country_code":"nl","party_id":"exa","role":"CPO","status":"PLANNED","last_updated":"2024-05-01T10:00:00"}`, true)
	require.Equal(t, 201, st)
	require.Equal(t, StatusSuccess, env.StatusCode)
	st, env = call("PUT", "/ocpi/2.2.1/hubclientinfo/NL/EXA", `{"country_code":"NL","party_id":"EXB","role":"CPO","status":"PLANNED","last_updated":"2024-05-01T10:00:00Z"}`, true)
	require.Equal(t, 200, st)
	require.Equal(t, StatusInvalidParams, env.StatusCode)
}
