// Package ocpitest validates OCPI responses against the official OCPI 2.2.1
// OpenAPI files (shared/ocpi-2.2.1/openapi) in tests, so that every handler
// test checks the wire format of what it serves, not only its values.
//
// It maps roamnode's own paths onto the paths of the official interface
// files and adds the envelope rules the files leave out. It does not
// import package ocpi, so tests inside package ocpi can use it.
package ocpitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gofiber/fiber/v2"
)

// EnvDir names the environment variable that overrides the location of the
// official OpenAPI files (the directory holding components/ and modules/).
const EnvDir = "ROAMNODE_OCPI_OPENAPI"

// Dir returns the directory of the official OpenAPI files: $ROAMNODE_OCPI_OPENAPI,
// or shared/ocpi-2.2.1/openapi next to the repository.
func Dir() string {
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	// file is <repo>/ocpi/ocpitest/ocpitest.go; shared/ is beside <repo>.
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "ocpi-2.2.1", "openapi")
}

// Which interface of a module each of our two roles implements
// (version_information_endpoint → InterfaceRole; the module chapters say who
// owns the data). As CPO we own locations, sessions, CDRs and tariffs and
// receive tokens, commands and charging profiles; as eMSP the reverse. As a
// party connected to a hub we implement the hubclientinfo receiver.
var (
	cpoInterface = map[string]string{
		"cdrs": "sender", "locations": "sender", "sessions": "sender", "tariffs": "sender",
		"tokens": "receiver", "commands": "receiver", "chargingprofiles": "receiver", "hubclientinfo": "receiver",
	}
	emspInterface = map[string]string{
		"cdrs": "receiver", "locations": "receiver", "sessions": "receiver", "tariffs": "receiver",
		"tokens": "sender", "commands": "sender", "chargingprofiles": "sender", "hubclientinfo": "receiver",
	}
)

// configurationModules must not carry routing headers
// (transport_and_format → "Message Routing Headers").
var configurationModules = map[string]bool{"versions": true, "credentials": true, "hubclientinfo": true}

// SpecPath maps one of our OCPI paths onto an official interface file
// (relative to Dir) and the path inside it:
//
//	/ocpi/versions                    → modules/versions/interface.yaml  /versions
//	/ocpi/2.2.1                       → modules/versions/interface.yaml  /versions/2.2.1
//	/ocpi/2.2.1/credentials           → modules/credentials/interface.yaml /credentials
//	/ocpi/2.2.1/hubclientinfo/…       → modules/hubclientinfo/receiver-interface.yaml /hubclientinfo/…
//	/ocpi/2.2.1/cpo/<module>/…        → modules/<module>/<CPO's interface>-interface.yaml /<module>/…
//	/ocpi/2.2.1/emsp/<module>/…       → modules/<module>/<eMSP's interface>-interface.yaml /<module>/…
//
// A query string and a trailing slash are ignored.
func SpecPath(path string) (file, specPath string, err error) {
	path, _, _ = strings.Cut(path, "?")
	path = strings.TrimRight(path, "/")
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(segs) < 2 || segs[0] != "ocpi" {
		return "", "", fmt.Errorf("ocpitest: %q is not an OCPI path (/ocpi/…)", path)
	}
	switch {
	case len(segs) == 2 && segs[1] == "versions":
		return "modules/versions/interface.yaml", "/versions", nil
	case segs[1] != "2.2.1":
		return "", "", fmt.Errorf("ocpitest: %q: only version 2.2.1 has official files", path)
	case len(segs) == 2:
		return "modules/versions/interface.yaml", "/versions/2.2.1", nil
	case segs[2] == "credentials" || segs[2] == "hubclientinfo":
		iface := "interface.yaml"
		if segs[2] == "hubclientinfo" {
			// The collection is the sender interface (the list of the
			// parties we host); /{country_code}/{party_id} is the receiver.
			iface = "receiver-interface.yaml"
			if len(segs) == 3 {
				iface = "sender-interface.yaml"
			}
		}
		return "modules/" + segs[2] + "/" + iface, "/" + strings.Join(segs[2:], "/"), nil
	case len(segs) >= 4 && (segs[2] == "cpo" || segs[2] == "emsp"):
		m := cpoInterface
		if segs[2] == "emsp" {
			m = emspInterface
		}
		iface, ok := m[segs[3]]
		if !ok {
			return "", "", fmt.Errorf("ocpitest: %q: unknown module %q", path, segs[3])
		}
		return "modules/" + segs[3] + "/" + iface + "-interface.yaml", "/" + strings.Join(segs[3:], "/"), nil
	}
	return "", "", fmt.Errorf("ocpitest: %q does not map onto an official interface file", path)
}

// spec is one loaded interface file with its router.
type spec struct {
	doc    *openapi3.T
	router routers.Router
	err    error
}

var (
	specsMu sync.Mutex
	specs   = map[string]*spec{}
)

// load parses an interface file once, following its relative $refs into
// the shared components and schema files.
func load(file string) (*spec, error) {
	specsMu.Lock()
	defer specsMu.Unlock()
	if s, ok := specs[file]; ok {
		return s, s.err
	}
	s := &spec{}
	specs[file] = s
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	s.doc, s.err = loader.LoadFromFile(filepath.Join(Dir(), file))
	if s.err != nil {
		s.err = fmt.Errorf("ocpitest: load %s: %w", file, s.err)
		return s, s.err
	}
	// The interface files require the OCPIToken scheme but it is declared
	// in components/schema.yaml, which they only reach through schema
	// $refs; declare it in each document so that security resolves.
	common, err := loader.LoadFromFile(filepath.Join(Dir(), "components", "schema.yaml"))
	if err != nil {
		s.err = fmt.Errorf("ocpitest: load components/schema.yaml: %w", err)
		return s, s.err
	}
	if s.doc.Components == nil {
		s.doc.Components = &openapi3.Components{}
	}
	if s.doc.Components.SecuritySchemes == nil {
		s.doc.Components.SecuritySchemes = openapi3.SecuritySchemes{}
	}
	for name, sch := range common.Components.SecuritySchemes {
		if _, ok := s.doc.Components.SecuritySchemes[name]; !ok {
			s.doc.Components.SecuritySchemes[name] = sch
		}
	}
	s.router, s.err = gorillamux.NewRouter(s.doc)
	if s.err != nil {
		s.err = fmt.Errorf("ocpitest: router for %s: %w", file, s.err)
	}
	return s, s.err
}

// formats asserts the string formats of the official files (JSON Schema
// 2020-12 treats formats as annotations unless a validator is given):
// "uri" must be an absolute URL, "date-time" an OCPI DateTime (types →
// "DateTime type": RFC 3339, zone optional, at most 25 characters).
// X-Request-ID and X-Correlation-ID are declared "uuid" but the spec only
// advises UUIDs, so uuid is not asserted.
var formats = openapi3.WithStringFormatValidators(map[string]openapi3.StringFormatValidator{
	"uri": openapi3.NewCallbackValidator(func(s string) error {
		u, err := url.Parse(s)
		if err != nil || !u.IsAbs() || u.Host == "" {
			return fmt.Errorf("%q is not an absolute URL", s)
		}
		return nil
	}),
	"date-time": openapi3.NewCallbackValidator(checkDateTime),
})

// ocpiDateTime is the OCPI DateTime syntax: RFC 3339 with optional
// fractional seconds and an optional "Z" (types → "DateTime type": "other
// formats/patterns are not allowed").
var ocpiDateTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?$`)

func checkDateTime(s string) error {
	if len(s) > 25 || !ocpiDateTime.MatchString(s) {
		return fmt.Errorf("%q is not an OCPI DateTime (RFC 3339 UTC, string(25))", s)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.999999999", strings.TrimSuffix(s, "Z")); err != nil {
		return fmt.Errorf("%q is not a valid date-time: %v", s, err)
	}
	return nil
}

// ValidateResponse fails t when a response of ours to method path does not
// conform to the official OpenAPI files and the transport rules; see
// CheckResponse.
func ValidateResponse(t testing.TB, method, path string, status int, header http.Header, body []byte) {
	t.Helper()
	if err := CheckResponse(method, path, status, header, body); err != nil {
		t.Fatalf("%s %s → %d does not conform to OCPI 2.2.1: %v\nbody: %s", method, path, status, err, body)
	}
}

// CheckResponse checks a response of ours to method path (one of our paths,
// see SpecPath) and returns every problem found:
//   - the official operation must exist and document the HTTP status, and
//     headers and body must match its schemas (uri and date-time asserted);
//   - the envelope (transport_and_format → "Response format"): a JSON
//     object with an integer status_code in a defined range, a timestamp
//     (card. 1 both, which the official schema does not mark required) in
//     the OCPI DateTime format, an optional string status_message;
//   - X-Request-ID and X-Correlation-ID are present ("Unique message IDs");
//   - a successful paginated GET carries X-Total-Count and X-Limit as
//     non-negative integers, and a Link, when present, is `<absolute URL>;
//     rel="next"` ("Paginated Response");
//   - configuration modules (versions, credentials, hubclientinfo) carry no
//     routing headers ("Message Routing Headers").
func CheckResponse(method, path string, status int, header http.Header, body []byte) error {
	file, specPath, err := SpecPath(path)
	if err != nil {
		return err
	}
	s, err := load(file)
	if err != nil {
		return err
	}
	if header == nil {
		header = http.Header{}
	}
	_, query, _ := strings.Cut(path, "?")
	u := specPath
	if query != "" {
		u += "?" + query
	}
	req := httptest.NewRequest(method, u, nil)
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%s %s (%s in %s): %w", method, path, specPath, file, err)
	}
	var errs []error
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{formats}}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		errs = append(errs, fmt.Errorf("official schema (%s, operation %s): %w", file, route.Operation.OperationID, err))
	}
	for _, h := range []string{"X-Request-ID", "X-Correlation-ID"} {
		if header.Get(h) == "" {
			errs = append(errs, fmt.Errorf("header %s is missing", h))
		}
	}
	module := strings.Split(strings.TrimPrefix(specPath, "/"), "/")[0]
	if configurationModules[module] {
		for _, h := range []string{"OCPI-from-country-code", "OCPI-from-party-id", "OCPI-to-country-code", "OCPI-to-party-id"} {
			if header.Get(h) != "" {
				errs = append(errs, fmt.Errorf("configuration module %s must not carry routing header %s", module, h))
			}
		}
	}
	code, envErrs := checkEnvelope(body)
	errs = append(errs, envErrs...)
	if resp := route.Operation.Responses.Status(status); resp != nil && resp.Value != nil && code/1000 == 1 {
		if _, paginated := resp.Value.Headers["X-Total-Count"]; paginated {
			errs = append(errs, checkPagination(header)...)
		}
	}
	return errors.Join(errs...)
}

// checkEnvelope checks the envelope fields and returns the status code.
func checkEnvelope(body []byte) (int, []error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return 0, []error{fmt.Errorf("body is not a JSON object: %v", err)}
	}
	var errs []error
	code := 0
	if raw, ok := env["status_code"]; !ok {
		errs = append(errs, errors.New("status_code is missing (card. 1)"))
	} else if err := json.Unmarshal(raw, &code); err != nil {
		errs = append(errs, fmt.Errorf("status_code %s is not an integer", raw))
	} else if !knownStatus(code) {
		errs = append(errs, fmt.Errorf("status_code %d is not an OCPI status code (status_codes)", code))
	}
	var ts string
	if raw, ok := env["timestamp"]; !ok {
		errs = append(errs, errors.New("timestamp is missing (card. 1)"))
	} else if err := json.Unmarshal(raw, &ts); err != nil {
		errs = append(errs, fmt.Errorf("timestamp %s is not a string", raw))
	} else if err := checkDateTime(ts); err != nil {
		errs = append(errs, fmt.Errorf("timestamp: %w", err))
	}
	if raw, ok := env["status_message"]; ok {
		var m *string
		if err := json.Unmarshal(raw, &m); err != nil {
			errs = append(errs, fmt.Errorf("status_message %s is not a string", raw))
		}
	}
	return code, errs
}

// knownStatus reports whether c is a status code of status_codes: 1000,
// 2000–2004, 3000–3003, 4000–4003 or a custom x9xx code.
func knownStatus(c int) bool {
	switch {
	case c == 1000, c >= 2000 && c <= 2004, c >= 3000 && c <= 3003, c >= 4000 && c <= 4003:
		return true
	case c >= 1900 && c <= 1999, c >= 2900 && c <= 2999, c >= 3900 && c <= 3999, c >= 4900 && c <= 4999:
		return true
	}
	return false
}

// linkNext is the Link header form of transport_and_format → "Pagination
// Examples".
var linkNext = regexp.MustCompile(`^<([^<>]+)>; rel="next"$`)

func checkPagination(h http.Header) []error {
	var errs []error
	for _, name := range []string{"X-Total-Count", "X-Limit"} {
		v := h.Get(name)
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || strconv.Itoa(n) != v {
			errs = append(errs, fmt.Errorf("paginated response: header %s = %q, want a non-negative integer", name, v))
		}
	}
	if links := h.Values("Link"); len(links) > 0 {
		m := linkNext.FindStringSubmatch(strings.Join(links, ", "))
		if m == nil {
			errs = append(errs, fmt.Errorf(`paginated response: Link %q, want <URL>; rel="next"`, links))
		} else if u, err := url.Parse(m[1]); err != nil || !u.IsAbs() || u.Host == "" {
			errs = append(errs, fmt.Errorf("paginated response: Link target %q is not an absolute URL", m[1]))
		}
	}
	return errs
}

// Call sends req to app, validates the response with ValidateResponse and
// returns it with its body read.
func Call(t testing.TB, app *fiber.App, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	ValidateResponse(t, req.Method, req.URL.RequestURI(), res.StatusCode, res.Header, body)
	return res, body
}

// ValidateRequest fails t when a request to method path (one of our paths,
// see SpecPath) does not conform to the official OpenAPI files; see
// CheckRequest.
func ValidateRequest(t testing.TB, method, path string, header http.Header, body []byte) {
	t.Helper()
	if err := CheckRequest(method, path, header, body); err != nil {
		t.Fatalf("request %s %s does not conform to OCPI 2.2.1: %v\nbody: %s", method, path, err, body)
	}
}

// CheckRequest checks a request against the official operation for our
// path: path and query parameters, the required X-Request-ID and
// X-Correlation-ID headers, routing header lengths, the body schema, and
// an Authorization header "Token <t>" (the token's encoding is not
// checked; ocpi.TokenCandidates accepts both forms).
// An outbound client can check what it sends to a partner by passing our
// path of the same interface, e.g. /ocpi/2.2.1/emsp/locations/… for a push
// to a partner eMSP's locations receiver.
func CheckRequest(method, path string, header http.Header, body []byte) error {
	file, specPath, err := SpecPath(path)
	if err != nil {
		return err
	}
	s, err := load(file)
	if err != nil {
		return err
	}
	_, query, _ := strings.Cut(path, "?")
	u := specPath
	if query != "" {
		u += "?" + query
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, u, rd)
	for k, vs := range header {
		req.Header[k] = vs
	}
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%s %s (%s in %s): %w", method, path, specPath, file, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{formats}}}
	var errs []error
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		errs = append(errs, fmt.Errorf("official schema (%s, operation %s): %w", file, route.Operation.OperationID, err))
	}
	// transport_and_format → "Authorization header": every request MUST
	// carry "Token <encoded token>" (kin-openapi's no-op authentication
	// does not check that the header is there).
	kw, tok, _ := strings.Cut(strings.TrimSpace(req.Header.Get("Authorization")), " ")
	if !strings.EqualFold(kw, "Token") || strings.TrimSpace(tok) == "" {
		errs = append(errs, errors.New(`security: the Authorization header "Token <credentials token>" is missing`))
	}
	return errors.Join(errs...)
}
