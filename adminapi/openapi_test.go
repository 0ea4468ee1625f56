package adminapi_test

// The contract test of the Admin API: every response the real node gives —
// successes and the main errors of every operation — is validated against
// the embedded OpenAPI 3.1 document (DESIGN.md → Chosen libraries:
// "kin-openapi validates responses in tests"), the document's routes must be
// exactly the app's routes, and every documented success status must be
// exercised, so that neither the code nor the document can drift.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"sort"
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
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/adminapi"
	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/node"
)

// oaSpec is the parsed, validated document with its router.
type oaSpec struct {
	doc    *openapi3.T
	router routers.Router
}

func loadOASpec(t *testing.T) *oaSpec {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(adminapi.OpenAPI())
	require.NoError(t, err, "openapi.json must parse")
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.True(t, doc.IsOpenAPI31OrLater())
	require.NoError(t, doc.Validate(context.Background()), "openapi.json must be a valid OpenAPI 3.1 document")
	r, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &oaSpec{doc: doc, router: r}
}

// oaFormats asserts the string formats the document uses besides
// date-time (which kin-openapi asserts by itself): JSON Schema 2020-12
// treats formats as annotations unless a validator is registered.
var oaFormats = openapi3.WithStringFormatValidators(map[string]openapi3.StringFormatValidator{
	"uuid": openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562),
	"email": openapi3.NewCallbackValidator(func(s string) error {
		a, err := mail.ParseAddress(s)
		if err == nil && a.Address != s {
			err = errors.New("not a plain e-mail address")
		}
		return err
	}),
})

// oaClient sends requests to a real node and validates every answer.
type oaClient struct {
	t      *testing.T
	spec   *oaSpec
	app    *fiber.App
	user   string
	secret string
	cov    *oaCoverage
}

// oaCoverage records which (operation, status) pairs were validated.
type oaCoverage struct {
	mu   sync.Mutex
	seen map[string]bool // "operationId status", and "status" alone
}

func (c *oaCoverage) add(opID string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[opID+" "+strconv.Itoa(status)] = true
	c.seen[strconv.Itoa(status)] = true
}

// oaResp is a validated response.
type oaResp struct {
	Status int
	Header http.Header
	Raw    []byte
	JSON   map[string]any
}

func (r oaResp) str(k string) string { s, _ := r.JSON[k].(string); return s }

func (r oaResp) errCode() string {
	e, _ := r.JSON["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (r oaResp) errPaths() []string {
	e, _ := r.JSON["error"].(map[string]any)
	fs, _ := e["fields"].([]any)
	var out []string
	for _, f := range fs {
		out = append(out, f.(map[string]any)["path"].(string))
	}
	return out
}

func (r oaResp) items() []map[string]any {
	is, _ := r.JSON["items"].([]any)
	out := make([]map[string]any, len(is))
	for i, x := range is {
		out[i] = x.(map[string]any)
	}
	return out
}

// oaOpt adjusts one call.
type oaOpt func(*oaCall)

type oaCall struct {
	user, secret string
	noAuth       bool
	reqInvalid   bool // the document must reject the request too
	header       map[string]string
}

func oaAs(user, secret string) oaOpt {
	return func(c *oaCall) { c.user, c.secret = user, secret }
}

func oaAnonymous() oaOpt { return func(c *oaCall) { c.noAuth = true } }

// oaDocRejects asserts that the document's request schema refuses the
// request as well: what the server refuses, the contract must not promise.
func oaDocRejects() oaOpt { return func(c *oaCall) { c.reqInvalid = true } }

func oaHeader(k, v string) oaOpt { return func(c *oaCall) { c.header[k] = v } }

// do sends the request, checks the status and validates the response (and,
// for successes, the request) against the document.
func (c *oaClient) do(want int, method, path string, body any, opts ...oaOpt) oaResp {
	c.t.Helper()
	call := oaCall{user: c.user, secret: c.secret, header: map[string]string{}}
	for _, o := range opts {
		o(&call)
	}
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		raw, err = json.Marshal(b)
		require.NoError(c.t, err)
	}
	newReq := func() *http.Request {
		var rd io.Reader
		if raw != nil {
			rd = bytes.NewReader(raw)
		}
		req := httptest.NewRequest(method, path, rd)
		if raw != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if !call.noAuth {
			req.SetBasicAuth(call.user, call.secret)
		}
		for k, v := range call.header {
			req.Header.Set(k, v)
		}
		return req
	}
	res, err := c.app.Test(newReq(), -1)
	require.NoError(c.t, err)
	got, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	r := oaResp{Status: res.StatusCode, Header: res.Header, Raw: got}
	if len(got) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		require.NoError(c.t, json.Unmarshal(got, &r.JSON), "JSON body of %s %s: %s", method, path, got)
	}
	require.Equal(c.t, want, r.Status, "%s %s: %s", method, path, got)
	c.validate(newReq(), call, r)
	return r
}

// validate checks r against the document: the operation's response for the
// status (undocumented statuses fail), its headers and body, that no
// roamnode header is sent that the response does not declare, and that a
// response without documented content has no body.
func (c *oaClient) validate(req *http.Request, call oaCall, r oaResp) {
	c.t.Helper()
	ctx := context.Background()
	route, params, err := c.spec.router.FindRoute(req)
	if err != nil {
		// Only unknown routes may miss the document: they answer 404, or
		// 405 when the path exists with other methods.
		if errors.Is(err, routers.ErrMethodNotAllowed) {
			require.Equal(c.t, http.StatusMethodNotAllowed, r.Status, "%s %s", req.Method, req.URL)
			c.validateComponent("MethodNotAllowed", r)
			c.cov.add("unrouted", r.Status)
			return
		}
		require.Equal(c.t, http.StatusNotFound, r.Status, "%s %s is not in the document: %v", req.Method, req.URL, err)
		c.validateComponent("NotFound", r)
		c.cov.add("unrouted", r.Status)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{oaFormats}}}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	switch {
	case call.reqInvalid:
		require.Error(c.t, reqErr, "%s %s: the server refused the request, the document should too", req.Method, req.URL)
	case r.Status < 300:
		require.NoError(c.t, reqErr, "%s %s: the server accepted a request the document refuses", req.Method, req.URL)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.Status, Header: r.Header,
		Body: io.NopCloser(bytes.NewReader(r.Raw)), Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{oaFormats}}}
	require.NoError(c.t, openapi3filter.ValidateResponse(ctx, out), "%s %s → %d: %s", req.Method, req.URL, r.Status, r.Raw)
	resp := route.Operation.Responses.Status(r.Status).Value
	c.checkHeadersDeclared(resp, r)
	c.cov.add(route.Operation.OperationID, r.Status)
}

// checkHeadersDeclared fails on a roamnode-specific header the response
// object does not declare, and on a body where none is documented.
func (c *oaClient) checkHeadersDeclared(resp *openapi3.Response, r oaResp) {
	c.t.Helper()
	for name := range r.Header {
		cn := http.CanonicalHeaderKey(name)
		if !strings.HasPrefix(cn, "X-Rn-") && !slices.Contains([]string{"Link", "Retry-After", "Www-Authenticate", "X-Request-Id"}, cn) {
			continue
		}
		found := false
		for declared := range resp.Headers {
			if http.CanonicalHeaderKey(declared) == cn {
				found = true
			}
		}
		require.True(c.t, found, "response header %s is not declared for status %d", name, r.Status)
	}
	if len(resp.Content) == 0 {
		require.Empty(c.t, r.Raw, "status %d documents no body", r.Status)
	}
}

// validateComponent validates a response that no route describes against
// a shared response object (headers and body).
func (c *oaClient) validateComponent(name string, r oaResp) {
	c.t.Helper()
	ref := c.spec.doc.Components.Responses[name]
	require.NotNil(c.t, ref, name)
	resp := ref.Value
	for hn, h := range resp.Headers {
		v := r.Header.Get(hn)
		if h.Value.Required {
			require.NotEmpty(c.t, v, "required header %s", hn)
		}
		if v != "" {
			var x any = v
			if h.Value.Schema.Value.Type.Is("integer") {
				var n int
				require.NoError(c.t, json.Unmarshal([]byte(v), &n), hn)
				x = float64(n)
			}
			require.NoError(c.t, h.Value.Schema.Value.VisitJSON(x, openapi3.EnableJSONSchema2020(), oaFormats), hn)
		}
	}
	mt := resp.Content.Get(r.Header.Get("Content-Type"))
	require.NotNil(c.t, mt, "content type %q", r.Header.Get("Content-Type"))
	var body any
	require.NoError(c.t, json.Unmarshal(r.Raw, &body))
	require.NoError(c.t, mt.Schema.Value.VisitJSON(body, openapi3.EnableJSONSchema2020(), oaFormats), "%s", r.Raw)
	c.checkHeadersDeclared(resp, r)
}

// oaRedis connects to the test Redis.
func oaRedis(t *testing.T) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(dbtest.RedisURL())
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// oaBootstrap creates a bootstrap account (every permission, every
// administration) as cmd/roamnode does, and returns its credentials. It
// uses testDB, the package's database that TestMain (main_test.go) sets up
// with dbtest.Main.
func oaBootstrap(t *testing.T) (string, string) {
	t.Helper()
	user, secret := "oa-"+uuid.NewString()[:8], access.NewSecret()
	require.NoError(t, db.Q(testDB.Pool).UpsertBootstrapAccount(context.Background(), gen.UpsertBootstrapAccountParams{
		ID: uuid.Must(uuid.NewV7()), PublicID: user, SecretHash: access.HashSecret(secret), CreatedAt: time.Now().UTC()}))
	return user, secret
}

func oaApp(t *testing.T, deps node.Deps) *fiber.App {
	t.Helper()
	if deps.Pool == nil {
		deps.Pool = testDB.Pool
	}
	deps.Redis = oaRedis(t)
	deps.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	deps.Version = "9.9.9-oa"
	return node.App(deps)
}

var pathParam = regexp.MustCompile(`\{[^}]+\}|:[A-Za-z_]+`)

// TestOpenAPIRoutes asserts that the document's operations are exactly
// the app's routes under /main (HEAD, which Fiber adds for every GET, aside).
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	spec := loadOASpec(t)
	app := oaApp(t, node.Deps{})
	var inApp, inDoc []string
	for _, r := range app.GetRoutes(true) {
		if r.Method == fiber.MethodHead || !strings.HasPrefix(r.Path, "/main/") {
			continue
		}
		inApp = append(inApp, r.Method+" "+pathParam.ReplaceAllString(r.Path, "{}"))
	}
	for p, item := range spec.doc.Paths.Map() {
		for m := range item.Operations() {
			inDoc = append(inDoc, m+" "+pathParam.ReplaceAllString(p, "{}"))
		}
	}
	sort.Strings(inApp)
	sort.Strings(inDoc)
	inApp = slices.Compact(inApp)
	require.Equal(t, inApp, inDoc, "routes registered under /main and operations in openapi.json differ")

	// Every operation has an id, a description and the shared error answers.
	for p, item := range spec.doc.Paths.Map() {
		for m, op := range item.Operations() {
			require.NotEmpty(t, op.OperationID, "%s %s", m, p)
			require.NotEmpty(t, op.Description, "%s %s", m, p)
			if op.Security != nil && len(*op.Security) == 0 {
				continue // public: /main/version and the document
			}
			for _, st := range []string{"400", "401", "403", "429", "500"} {
				require.NotNil(t, op.Responses.Value(st), "%s %s lacks %s", m, p, st)
			}
		}
	}
}

// TestOpenAPIServedDocument checks that the served document is the
// embedded one.
func TestOpenAPIServedDocument(t *testing.T) {
	t.Parallel()
	spec := loadOASpec(t)
	c := &oaClient{t: t, spec: spec, app: oaApp(t, node.Deps{}), cov: &oaCoverage{seen: map[string]bool{}}}
	r := c.do(200, "GET", "/main/v1/openapi.json", nil, oaAnonymous())
	require.JSONEq(t, string(adminapi.OpenAPI()), string(r.Raw))
	require.Equal(t, "9.9.9-oa", r.Header.Get("X-RN-Version"))
}

// TestOpenAPIContract exercises every operation and validates each answer.
func TestOpenAPIContract(t *testing.T) {
	t.Parallel()
	spec := loadOASpec(t)
	user, secret := oaBootstrap(t)
	cov := &oaCoverage{seen: map[string]bool{}}
	c := &oaClient{t: t, spec: spec, app: oaApp(t, node.Deps{PublicURL: oaPublicURL}), user: user, secret: secret, cov: cov}
	tag := uuid.NewString()[:8] // keeps external references unique across runs

	// Meta.
	v := c.do(200, "GET", "/main/version", nil, oaAnonymous())
	require.Equal(t, "v1", v.JSON["versions"].([]any)[0].(map[string]any)["version"])
	c.do(200, "GET", "/main/v1/openapi.json", nil, oaAnonymous())

	// Authentication: every authenticated operation answers 401 without
	// valid credentials.
	r := c.do(401, "GET", "/main/v1/seller", nil, oaAnonymous())
	require.Equal(t, "unauthorized", r.errCode())
	require.Equal(t, "9.9.9-oa", r.Header.Get("X-RN-Version"))
	c.do(401, "POST", "/main/v1/customer", map[string]any{}, oaAs(user, "wrong"))
	c.do(401, "POST", "/main/v1/api-account/"+uuid.NewString()+"/rotate-secret", nil, oaAnonymous())

	// X-Request-ID is echoed.
	r = c.do(200, "GET", "/main/v1/seller?page_size=1", nil, oaHeader("X-Request-ID", "oa-req-1"))
	require.Equal(t, "oa-req-1", r.Header.Get("X-Request-ID"))

	// ---- seller
	sellerRef := "S-" + tag
	s := c.do(201, "POST", "/main/v1/seller", map[string]any{"name": "  Seller " + tag + "  ", "country": "NL", "vat_nmber": "x"})
	require.Equal(t, "Seller "+tag, s.str("name"), "strings are trimmed")
	require.Equal(t, "vat_nmber", s.Header.Get("X-RN-Unknown-Fields"))
	require.Equal(t, "external_reference", s.Header.Get("X-RN-Implicit-Fields"))
	sellerID := s.str("id")
	c.do(200, "GET", "/main/v1/seller/"+sellerID, nil)
	u := c.do(200, "POST", "/main/v1/seller/"+sellerID, map[string]any{"external_reference": sellerRef, "vat_number": "NL001"})
	require.Equal(t, false, u.JSON["stale_update"])
	require.Equal(t, sellerRef, c.do(200, "GET", "/main/v1/seller/ext_ref."+sellerRef, nil).str("external_reference"))
	s2 := c.do(201, "POST", "/main/v1/seller/ext_ref."+sellerRef+"-2", map[string]any{"name": "Second", "country": "BE", "external_reference": "ignored"})
	require.Equal(t, sellerRef+"-2", s2.str("external_reference"), "the path's reference wins")
	c.do(200, "POST", "/main/v1/seller/ext_ref."+sellerRef+"-2", map[string]any{"vat_number": nil})
	c.do(400, "POST", "/main/v1/seller", map[string]any{"country": "NL"}, oaDocRejects())
	c.do(400, "POST", "/main/v1/seller", map[string]any{"name": "x", "country": "nl"}, oaDocRejects())
	c.do(400, "POST", "/main/v1/seller", "[1]")
	c.do(400, "POST", "/main/v1/seller/ext_ref."+sellerRef+"-3", map[string]any{"country": "NL"}) // creation by reference: the create rules apply
	c.do(400, "GET", "/main/v1/seller/not-a-key", nil)
	nf := c.do(400, "GET", "/main/v1/seller/"+uuid.NewString(), nil)
	require.Equal(t, "not_found", nf.errCode())
	c.do(400, "POST", "/main/v1/seller/"+uuid.NewString(), map[string]any{"name": "x"})
	dup := c.do(400, "POST", "/main/v1/seller", map[string]any{"name": "dup", "country": "NL", "external_reference": sellerRef})
	require.Equal(t, "duplicate", dup.errCode())

	// Stale update prevention.
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	c.do(200, "POST", "/main/v1/seller/"+sellerID, map[string]any{"external_updated_at": t0, "name": "Newer"})
	st := c.do(204, "POST", "/main/v1/seller/"+sellerID, map[string]any{"external_updated_at": t0.Add(-time.Minute), "name": "Older", "junk": 1})
	require.Equal(t, "true", st.Header.Get("X-RN-Stale-Update"))
	require.Equal(t, "junk", st.Header.Get("X-RN-Unknown-Fields"))
	require.Equal(t, "Newer", c.do(200, "GET", "/main/v1/seller/"+sellerID, nil).str("name"))
	fut := c.do(400, "POST", "/main/v1/seller/"+sellerID, map[string]any{"external_updated_at": time.Now().Add(time.Hour)})
	require.Equal(t, []string{"external_updated_at"}, fut.errPaths())

	// Pagination.
	p1 := c.do(200, "GET", "/main/v1/seller?page_size=1", nil)
	require.Len(t, p1.items(), 1)
	require.Equal(t, float64(1), p1.JSON["page_size"])
	require.Equal(t, "<"+p1.str("link_next")+`>; rel="next"`, p1.Header.Get("Link"))
	c.do(200, "GET", p1.str("link_next"), nil)
	c.do(200, "GET", "/main/v1/seller?country=BE&external_reference="+url.QueryEscape(sellerRef+"-2"), nil)
	last := c.do(200, "GET", "/main/v1/seller?external_reference="+url.QueryEscape(sellerRef+"-2")+"&after="+s2.str("id"), nil)
	require.Empty(t, last.items())
	require.Equal(t, "/main/v1/seller?"+url.Values{"after": {s2.str("id")}, "external_reference": {sellerRef + "-2"}}.Encode(), last.str("link_next"),
		"an empty page keeps the after and the filters")
	cg := c.do(200, "GET", "/main/v1/seller?created_gt="+url.QueryEscape(time.Now().Add(-24*time.Hour).UTC().Format(time.RFC3339)), nil)
	require.Empty(t, cg.items())
	require.NotEmpty(t, cg.str("link_next"))
	noItems := c.do(400, "GET", "/main/v1/seller?created_gt="+url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), nil)
	require.Equal(t, "no_items", noItems.errCode())
	c.do(400, "GET", "/main/v1/seller?created_gt=2024-01-01T00:00:00Z&page_size=5", nil)
	c.do(400, "GET", "/main/v1/seller?page_size=0", nil, oaDocRejects())
	c.do(400, "GET", "/main/v1/seller?page_size=1001", nil, oaDocRejects())
	c.do(400, "GET", "/main/v1/seller?after="+uuid.NewString(), nil)
	unk := c.do(400, "GET", "/main/v1/seller?contry=NL", nil)
	require.Equal(t, "unknown_parameter", unk.errCode())

	// ---- administration
	admRef := "A-" + tag
	a := c.do(201, "POST", "/main/v1/administration", map[string]any{"name": "Adm", "currency": "EUR", "seller_id": sellerID,
		"external_reference": admRef, "locale_id": "nl-NL", "min_invoice_amount": "12.500"})
	require.Equal(t, "12.5", a.str("min_invoice_amount"))
	admID := a.str("id")
	a2 := c.do(201, "POST", "/main/v1/administration/ext_ref."+admRef+"-2", map[string]any{"name": "Adm 2", "currency": "GBP", "seller_external_reference": sellerRef})
	adm2ID := a2.str("id")
	c.do(200, "GET", "/main/v1/administration/"+admID, nil)
	c.do(200, "GET", "/main/v1/administration?seller_id="+sellerID+"&currency=EUR&page_size=10", nil)
	m := c.do(200, "POST", "/main/v1/administration/ext_ref."+admRef, map[string]any{"min_invoice_amount": nil, "currency": "USD"})
	require.Nil(t, m.JSON["min_invoice_amount"])
	require.Equal(t, "EUR", m.str("currency"), "currency is immutable")
	c.do(200, "POST", "/main/v1/administration/"+adm2ID, map[string]any{"external_updated_at": t0, "locale_id": "en"})
	c.do(204, "POST", "/main/v1/administration/"+adm2ID, map[string]any{"external_updated_at": t0.Add(-time.Second), "locale_id": "de"})
	c.do(400, "POST", "/main/v1/administration", map[string]any{"name": "x", "currency": "EUR", "seller_id": sellerID, "seller_external_reference": sellerRef}, oaDocRejects())
	c.do(400, "POST", "/main/v1/administration", map[string]any{"name": "x", "currency": "EUR"}, oaDocRejects())
	c.do(400, "POST", "/main/v1/administration", map[string]any{"name": "x", "currency": "EUR", "seller_id": uuid.NewString()})
	c.do(400, "POST", "/main/v1/administration", map[string]any{"name": "x", "currency": "EUR", "seller_id": sellerID, "min_invoice_amount": 12.5}, oaDocRejects())
	c.do(400, "GET", "/main/v1/administration?seller_id=nope", nil, oaDocRejects())

	// ---- customer
	custRef := "C-" + tag
	cu := c.do(201, "POST", "/main/v1/customer", map[string]any{"administration_id": admID, "name": "Jane", "country": "NL", "entity_type": "person",
		"external_reference": custRef, "billing_email": "jane@example.com", "billing_phone": "+31 20 123 4567", "locale_id": "nl",
		"reimbursement_vat": "exempt", "withhold_billing": true, "company_reg_num": " ", "vat_number": nil})
	require.Nil(t, cu.JSON["company_reg_num"], "an empty optional string is null")
	custID := cu.str("id")
	cu2 := c.do(201, "POST", "/main/v1/customer", map[string]any{"administration_external_reference": admRef + "-2", "name": "Org", "country": "GB", "entity_type": "organisation"})
	require.Equal(t, "external_reference,reimbursement_vat", cu2.Header.Get("X-RN-Implicit-Fields"))
	require.Equal(t, "unknown", cu2.str("reimbursement_vat"))
	c.do(200, "GET", "/main/v1/customer/ext_ref."+custRef, nil)
	c.do(200, "GET", "/main/v1/customer?administration_id="+admID+"&country=NL&entity_type=person&external_reference="+custRef+
		"&created_gte="+url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))+"&created_lt="+url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), nil)
	c.do(200, "POST", "/main/v1/customer/"+custID, map[string]any{"billing_phone": nil, "withhold_billing": false, "administration_id": adm2ID})
	c.do(201, "POST", "/main/v1/customer/ext_ref."+custRef+"-2", map[string]any{"administration_id": admID, "name": "By ref", "country": "DE", "entity_type": "person"})
	c.do(200, "POST", "/main/v1/customer/ext_ref."+custRef+"-2", map[string]any{"external_updated_at": time.Now().UTC().Add(-time.Minute)})
	c.do(204, "POST", "/main/v1/customer/ext_ref."+custRef+"-2", map[string]any{"external_updated_at": time.Now().UTC().Add(-2 * time.Hour), "name": "stale"})
	bad := c.do(400, "POST", "/main/v1/customer", map[string]any{"administration_id": admID, "name": "x", "country": "NL", "entity_type": "robot",
		"billing_email": "Jane <jane@example.com>", "reimbursement_vat": "maybe"}, oaDocRejects())
	require.Subset(t, bad.errPaths(), []string{"entity_type", "reimbursement_vat", "billing_email"})
	c.do(400, "POST", "/main/v1/customer", map[string]any{"administration_id": admID, "name": "x\u0007", "country": "NL", "entity_type": "person"}, oaDocRejects())

	// ---- billing address
	baRef := "B-" + tag
	ba := c.do(201, "POST", "/main/v1/billing-address", map[string]any{"party_id": custID, "addressee": "Jane", "country": "NL",
		"address_line1": "Main 1", "locality": "Amsterdam", "valid_from": "2024-01-01T10:15:59.123+01:00", "valid_until": "2024-06-01T00:00:30Z",
		"external_reference": baRef})
	require.Equal(t, "2024-01-01T09:15:00Z", ba.str("valid_from"), "validity periods are truncated to the minute, in UTC")
	require.Equal(t, "2024-06-01T00:00:00Z", ba.str("valid_until"))
	c.do(200, "GET", "/main/v1/billing-address/"+ba.str("id"), nil)
	c.do(200, "GET", "/main/v1/billing-address?party_id="+custID+"&valid_at=2024-03-01T00:00:00Z&external_reference="+baRef, nil)
	c.do(200, "POST", "/main/v1/billing-address/"+ba.str("id"), map[string]any{"region": "NH", "address_line1": nil})
	nba := c.do(201, "POST", "/main/v1/billing-address/ext_ref."+baRef+"-2", map[string]any{"party_external_reference": custRef, "addressee": "Jane", "country": "NL",
		"valid_until": "2023-01-01T00:00:00Z"})
	require.Equal(t, "valid_from", nba.Header.Get("X-RN-Implicit-Fields"))
	c.do(200, "POST", "/main/v1/billing-address/ext_ref."+baRef+"-2", map[string]any{"external_updated_at": t0})
	c.do(204, "POST", "/main/v1/billing-address/ext_ref."+baRef+"-2", map[string]any{"external_updated_at": t0.Add(-time.Second)})
	ov := c.do(400, "POST", "/main/v1/billing-address", map[string]any{"party_id": custID, "addressee": "Jane", "country": "NL", "valid_from": "2024-02-01T00:00:00Z"})
	require.Equal(t, "overlapping_validity", ov.errCode())
	c.do(400, "POST", "/main/v1/billing-address", map[string]any{"party_id": custID, "addressee": "x", "country": "NL",
		"valid_from": "2030-01-01T00:00:10Z", "valid_until": "2030-01-01T00:00:50Z"})
	c.do(400, "POST", "/main/v1/billing-address", map[string]any{"addressee": "x", "country": "NL"}, oaDocRejects())

	// ---- API accounts
	acRef := "K-" + tag
	ac := c.do(201, "POST", "/main/v1/api-account", map[string]any{"name": "limited", "permissions": []string{"customer:read", "administration:write"},
		"administration_ids": []string{admID}, "rate_limit_rps": 5, "rate_limit_burst": 10, "external_reference": acRef})
	require.NotEmpty(t, ac.str("secret"))
	acID, acUser, acSecret := ac.str("id"), ac.str("public_id"), ac.str("secret")
	g := c.do(200, "GET", "/main/v1/api-account/"+acID, nil)
	require.NotContains(t, g.JSON, "secret", "the secret is never readable back")
	c.do(200, "GET", "/main/v1/api-account?external_reference="+acRef, nil)
	c.do(200, "POST", "/main/v1/api-account/ext_ref."+acRef, map[string]any{"name": "limited account", "public_id": "ignored"})
	ak := c.do(201, "POST", "/main/v1/api-account/ext_ref."+acRef+"-2", map[string]any{"name": "by ref", "public_id": "oa." + tag})
	require.Equal(t, "oa."+tag, ak.str("public_id"))
	require.NotEmpty(t, ak.str("secret"))
	require.Equal(t, "permissions", ak.Header.Get("X-RN-Implicit-Fields"))
	c.do(200, "POST", "/main/v1/api-account/"+ak.str("id"), map[string]any{"external_updated_at": t0, "disabled": true})
	c.do(204, "POST", "/main/v1/api-account/"+ak.str("id"), map[string]any{"external_updated_at": t0.Add(-time.Second), "disabled": false})
	c.do(200, "POST", "/main/v1/api-account/"+ak.str("id"), map[string]any{"disabled": false})
	c.do(400, "POST", "/main/v1/api-account", map[string]any{"name": "x", "permissions": []string{"billing:read"}}, oaDocRejects())
	c.do(400, "POST", "/main/v1/api-account", map[string]any{"name": "x", "public_id": "a b"}, oaDocRejects())
	c.do(400, "POST", "/main/v1/api-account", map[string]any{"name": "x", "rate_limit_rps": 5})
	c.do(400, "POST", "/main/v1/api-account", map[string]any{"name": "x", "administration_ids": []string{uuid.NewString()}})

	// The limited account: scoping and permissions (403).
	c.do(200, "GET", "/main/v1/customer/"+custID, nil, oaAs(acUser, acSecret))
	c.do(403, "GET", "/main/v1/customer/"+cu2.str("id"), nil, oaAs(acUser, acSecret))
	c.do(403, "GET", "/main/v1/seller", nil, oaAs(acUser, acSecret))
	c.do(403, "POST", "/main/v1/customer", map[string]any{"administration_id": admID, "name": "x", "country": "NL", "entity_type": "person"}, oaAs(acUser, acSecret))
	c.do(403, "POST", "/main/v1/customer/"+custID, map[string]any{"name": "x"}, oaAs(acUser, acSecret))
	c.do(403, "GET", "/main/v1/billing-address/"+nba.str("id"), nil, oaAs(ak.str("public_id"), ak.str("secret")))
	c.do(403, "POST", "/main/v1/administration", map[string]any{"name": "x", "currency": "EUR", "seller_id": sellerID}, oaAs(acUser, acSecret))
	c.do(403, "POST", "/main/v1/api-account/"+acID+"/rotate-secret", nil, oaAs(acUser, acSecret))
	writer := c.do(201, "POST", "/main/v1/api-account", map[string]any{"name": "writer", "permissions": []string{"api-account:write", "customer:write"}, "administration_ids": []string{admID}})
	wu, ws := writer.str("public_id"), writer.str("secret")
	c.do(403, "POST", "/main/v1/api-account", map[string]any{"name": "x", "permissions": []string{"*"}}, oaAs(wu, ws))
	c.do(403, "POST", "/main/v1/api-account/"+acID, map[string]any{"name": "x"}, oaAs(wu, ws))
	c.do(403, "POST", "/main/v1/billing-address", map[string]any{"party_id": cu2.str("id"), "addressee": "x", "country": "NL"}, oaAs(wu, ws))
	c.do(200, "GET", "/main/v1/billing-address", nil, oaAs(wu, ws))

	// Rotation: the new secret works, the old one does not.
	rot := c.do(200, "POST", "/main/v1/api-account/"+acID+"/rotate-secret", nil)
	require.NotEqual(t, acSecret, rot.str("secret"))
	c.do(401, "GET", "/main/v1/customer/"+custID, nil, oaAs(acUser, acSecret))
	c.do(200, "GET", "/main/v1/customer/"+custID, nil, oaAs(acUser, rot.str("secret")))
	c.do(200, "POST", "/main/v1/api-account/ext_ref."+acRef+"-2/rotate-secret", nil)
	c.do(400, "POST", "/main/v1/api-account/"+uuid.NewString()+"/rotate-secret", nil)
	c.do(400, "POST", "/main/v1/api-account/ext_ref./rotate-secret", nil)

	// Roaming: own parties, partners, agreements, connections, exchange log.
	rm := oaRoaming(t, c, tag, t0)
	oaCPO(t, c, tag)
	oaWebhooks(t, c, tag, admID)
	oaPartnerTokens(t, c, tag)
	oaMSPToken(t, c, tag, admID, custID)
	oaTokenAuthorization(t, c, admID)
	oaChargeCredit(t, c, tag, admID, custID)
	oaChargeAuthorizationRule(t, c, tag, admID, custID)
	oaSubscriptionCorrection(t, c, tag, admID, custID)
	oaPartnerNetwork(t, c, tag)
	oaChargeSessions(t, c, admID)
	oaCPOChargeSessions(t, c, tag)
	oaChargeSessionProgress(t, c, admID)
	oaVAT(t, c, tag, sellerID)
	oaPricing(t, c, tag, admID)
	oaCPOReimbursement(t, c, tag, admID, custID)
	oaCPORoamingCost(t, c)

	// Every documented input field is one the server knows: a body with
	// all of them (null) and one made-up field reports only the made-up one.
	for seg, schema := range map[string]string{"seller": "Seller", "administration": "Administration", "customer": "Customer",
		"billing-address": "BillingAddress", "api-account": "ApiAccount", "own-party": "OwnParty", "roaming-partner": "RoamingPartner",
		"roaming-agreement": "RoamingAgreement", "roaming-connection": "RoamingConnection"} {
		for _, kind := range []string{"Create", "Merge"} {
			b := map[string]any{"zz_made_up": 1}
			for name := range spec.doc.Components.Schemas[schema+kind].Value.Properties {
				b[name] = nil
			}
			r := c.do(400, "POST", "/main/v1/"+seg, b)
			require.Equal(t, "zz_made_up", r.Header.Get("X-RN-Unknown-Fields"), "%s%s documents a field the server does not know", schema, kind)
		}
	}

	// Unknown routes: 404 with the error body and the common headers.
	nr := c.do(404, "GET", "/main/v1/nothing-here", nil)
	require.Equal(t, "not_found", nr.errCode())
	c.do(404, "GET", "/main/v2/seller", nil, oaAnonymous())
	c.do(405, "DELETE", "/main/v1/seller", nil)
	c.do(405, "PUT", "/main/v1/customer/"+custID, map[string]any{"name": "x"})
	c.do(405, "GET", "/main/v1/api-account/"+acID+"/rotate-secret", nil)
	c.do(405, "GET", "/main/v1/roaming-connection/"+rm.connectionID+"/token-a", nil)
	c.do(405, "DELETE", "/main/v1/roaming-exchange/"+rm.exchangeID, nil)

	// 429: a node with a tiny rate limit.
	limited := &oaClient{t: t, spec: spec, user: user, secret: secret, cov: cov,
		app: oaApp(t, node.Deps{Admin: adminapi.Options{RateRPS: 1, RateBurst: 1, RatePrefix: "rn:oa:" + uuid.NewString() + ":"}})}
	got429 := false
	for i := 0; i < 10 && !got429; i++ {
		res := limited.raw("GET", "/main/v1/seller?page_size=1")
		if res.Status == http.StatusTooManyRequests {
			got429 = true
			require.Equal(t, "rate_limited", res.errCode())
			require.NotEmpty(t, res.Header.Get("Retry-After"))
		}
	}
	require.True(t, got429, "a node limited to 1 request/s answers 429 to a burst")

	// 500: a node whose database is gone answers 500 without internals.
	gone, err := db.Open(context.Background(), testDB.DSN, 2)
	require.NoError(t, err)
	gone.Close()
	broken := &oaClient{t: t, spec: spec, user: user, secret: secret, cov: cov, app: oaApp(t, node.Deps{Pool: gone})}
	ie := broken.do(500, "GET", "/main/v1/customer", nil)
	require.Equal(t, "internal", ie.errCode())
	broken.do(500, "POST", "/main/v1/customer/"+custID, map[string]any{"name": "x", "typo": 1})
	broken.do(500, "GET", "/main/v1/roaming-exchange?errors_only=true", nil)

	// Coverage: every documented success of every operation was exercised,
	// and every error status.
	for p, item := range spec.doc.Paths.Map() {
		for m, op := range item.Operations() {
			for code := range op.Responses.Map() {
				if code[0] == '2' {
					require.True(t, cov.seen[op.OperationID+" "+code], "%s %s → %s was never exercised", m, p, code)
				}
			}
		}
	}
	for _, code := range []string{"400", "401", "403", "404", "405", "429", "500"} {
		require.True(t, cov.seen[code], "no %s response was validated", code)
	}
}

// raw sends a request and validates whatever status comes back.
func (c *oaClient) raw(method, path string) oaResp {
	c.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.SetBasicAuth(c.user, c.secret)
	res, err := c.app.Test(req, -1)
	require.NoError(c.t, err)
	got, _ := io.ReadAll(res.Body)
	r := oaResp{Status: res.StatusCode, Header: res.Header, Raw: got}
	if len(got) > 0 {
		require.NoError(c.t, json.Unmarshal(got, &r.JSON))
	}
	vreq := httptest.NewRequest(method, path, nil)
	vreq.SetBasicAuth(c.user, c.secret)
	c.validate(vreq, oaCall{}, r)
	return r
}

// oaPublicURL is the public URL of the contract test's node: the OCPI
// versions URL handed out with token A derives from it.
const oaPublicURL = "https://node.example.com"

// oaRoamingIDs are records oaRoaming made, for the routing checks that
// follow it.
type oaRoamingIDs struct {
	connectionID string
	exchangeID   string
}

// oaRoaming exercises the roaming resources (permission family
// "roaming"): own parties, roaming partners, agreements, connections with
// their token A, and the exchange log. The OCPI registration and the
// exchange-log producers are not Admin API operations, so a registration
// and a few exchanges are written the way those producers do, through the
// stores.
func oaRoaming(t *testing.T, c *oaClient, tag string, t0 time.Time) oaRoamingIDs {
	t.Helper()
	ctx := context.Background()
	// party returns a random OCPI party (country code starting with
	// first, 3 hex digits), so that repeated runs on the same database and
	// the other roaming tests do not collide.
	party := func(first string) (string, string) {
		u := uuid.New()
		return first + string(rune('A'+int(u[0])%26)), strings.ToUpper(strings.ReplaceAll(u.String(), "-", "")[2:5])
	}
	find := func(items []any, key, want string) map[string]any {
		for _, x := range items {
			if m := x.(map[string]any); m[key] == want {
				return m
			}
		}
		t.Fatalf("no item with %s %s in %v", key, want, items)
		return nil
	}

	// ---- own parties: the identity is case-insensitive on input, stored
	// upper case, and immutable.
	opCC, opPID := party("Y")
	opRef := "OP-" + tag
	op := c.do(201, "POST", "/main/v1/own-party", map[string]any{"country_code": strings.ToLower(opCC), "party_id": strings.ToLower(opPID), "role": "emsp",
		"name": "  Our eMSP  ", "website": "https://example.com", "logo_url": " ", "external_reference": opRef})
	require.Equal(t, []string{opCC, opPID, "EMSP", "Our eMSP"}, []string{op.str("country_code"), op.str("party_id"), op.str("role"), op.str("name")})
	require.Nil(t, op.JSON["logo_url"], "an empty optional string is null")
	opID := op.str("id")
	c.do(200, "GET", "/main/v1/own-party/"+opID, nil)
	c.do(200, "GET", "/main/v1/own-party/ext_ref."+opRef, nil)
	require.Len(t, c.do(200, "GET", "/main/v1/own-party?role=EMSP&external_reference="+opRef, nil).items(), 1)
	om := c.do(200, "POST", "/main/v1/own-party/"+opID, map[string]any{"country_code": "BE", "party_id": "ZZZ", "role": "CPO", "name": "Renamed", "website": nil})
	require.Equal(t, []string{opCC, opPID, "EMSP", "Renamed"}, []string{om.str("country_code"), om.str("party_id"), om.str("role"), om.str("name")})
	require.Nil(t, om.JSON["website"])
	oc := c.do(201, "POST", "/main/v1/own-party/ext_ref."+opRef+"-cpo", map[string]any{"country_code": opCC, "party_id": opPID, "role": "CPO", "name": "Our CPO"})
	require.Equal(t, opRef+"-cpo", oc.str("external_reference"), "the same party id may play both roles")
	c.do(200, "POST", "/main/v1/own-party/ext_ref."+opRef+"-cpo", map[string]any{"external_updated_at": t0, "logo_url": "https://example.com/logo.png"})
	c.do(204, "POST", "/main/v1/own-party/ext_ref."+opRef+"-cpo", map[string]any{"external_updated_at": t0.Add(-time.Second), "name": "stale"})
	dup := c.do(400, "POST", "/main/v1/own-party", map[string]any{"country_code": opCC, "party_id": opPID, "role": "CPO", "name": "again"})
	require.Equal(t, "duplicate", dup.errCode())
	bad := c.do(400, "POST", "/main/v1/own-party", map[string]any{"country_code": "NLD", "party_id": "T", "role": "HUB", "name": "", "website": "ftp://x"}, oaDocRejects())
	require.ElementsMatch(t, []string{"party_id", "role", "name", "website"}, bad.errPaths())
	c.do(400, "POST", "/main/v1/own-party", map[string]any{"country_code": "NL", "party_id": "ABC", "role": "CPO", "name": strings.Repeat("n", 101)}, oaDocRejects())
	c.do(400, "GET", "/main/v1/own-party?role=emsp", nil, oaDocRejects())

	// ---- roaming partners: party ids with a role, separator optional.
	pc, pp := party("Z")
	pc2, _ := party("Z")
	prRef := "RP-" + tag
	pr := c.do(201, "POST", "/main/v1/roaming-partner", map[string]any{"name": "Partner " + tag, "country": "DE", "external_reference": prRef,
		"party_ids": []map[string]any{{"party": strings.ToLower(pc + "*" + pp), "role": "cpo"}, {"party": pc + "-" + pp, "role": "EMSP"}}})
	prID := pr.str("id")
	first := find(pr.JSON["party_ids"].([]any), "role", "CPO")
	require.Equal(t, map[string]any{"party": pc + "-" + pp, "country_code": pc, "party_id": pp, "role": "CPO", "connection_id": nil, "hub_status": nil}, first)
	c.do(200, "GET", "/main/v1/roaming-partner/"+prID, nil)
	require.Len(t, c.do(200, "GET", "/main/v1/roaming-partner?"+url.Values{"party": {strings.ToLower(pc + pp)}, "external_reference": {prRef}}.Encode(), nil).items(), 1)
	pr2 := c.do(201, "POST", "/main/v1/roaming-partner/ext_ref."+prRef+"-2", map[string]any{"name": "Second " + tag, "country": "BE"})
	require.Empty(t, pr2.JSON["party_ids"])
	c.do(200, "POST", "/main/v1/roaming-partner/ext_ref."+prRef+"-2", map[string]any{"external_updated_at": t0, "party_ids": []map[string]any{{"party": pc2 + pp, "role": "NSP"}}})
	c.do(204, "POST", "/main/v1/roaming-partner/ext_ref."+prRef+"-2", map[string]any{"external_updated_at": t0.Add(-time.Second), "party_ids": nil})
	taken := c.do(400, "POST", "/main/v1/roaming-partner/ext_ref."+prRef+"-2", map[string]any{"party_ids": []map[string]any{{"party": pc + "-" + pp, "role": "CPO"}}})
	require.Equal(t, "conflict", taken.errCode(), "a party id belongs to one partner")
	require.Equal(t, []string{"party_ids"}, taken.errPaths())
	bp := c.do(400, "POST", "/main/v1/roaming-partner", map[string]any{"name": "x", "country": "NL",
		"party_ids": []map[string]any{{"party": "NL-TOOLONG", "role": "CPO"}, {"party": "DE-ABC", "role": "KING"}}}, oaDocRejects())
	require.ElementsMatch(t, []string{"party_ids[0].party", "party_ids[1].role"}, bp.errPaths())
	c.do(400, "POST", "/main/v1/roaming-partner", map[string]any{"name": "x", "country": "nl"}, oaDocRejects())
	c.do(400, "GET", "/main/v1/roaming-partner?party=NL-TOOLONG", nil, oaDocRejects())
	c.do(400, "GET", "/main/v1/roaming-partner?connection_id=nope", nil, oaDocRejects())

	// ---- roaming agreements: one per partner and role at any instant.
	agRef := "AG-" + tag
	ag := c.do(201, "POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": prID, "role": "msp", "valid_from": "2024-01-01T00:00:30Z",
		"valid_until": "2025-01-01T00:00:00Z", "external_reference": agRef})
	require.Equal(t, "2024-01-01T00:00:00Z", ag.str("valid_from"), "validity periods are truncated to the minute")
	agID := ag.str("id")
	c.do(200, "GET", "/main/v1/roaming-agreement/"+agID, nil)
	require.Len(t, c.do(200, "GET", "/main/v1/roaming-agreement?partner_id="+prID+"&role=msp&valid_at=2024-06-01T00:00:00Z&external_reference="+agRef, nil).items(), 1)
	ag2 := c.do(201, "POST", "/main/v1/roaming-agreement/ext_ref."+agRef+"-2", map[string]any{"partner_external_reference": prRef, "role": "cpo"})
	require.Equal(t, "valid_from", ag2.Header.Get("X-RN-Implicit-Fields"))
	require.Equal(t, prID, ag2.str("partner_id"))
	am := c.do(200, "POST", "/main/v1/roaming-agreement/"+agID, map[string]any{"partner_id": pr2.str("id"), "valid_until": nil})
	require.Equal(t, prID, am.str("partner_id"), "the partner is immutable")
	require.Nil(t, am.JSON["valid_until"])
	c.do(200, "POST", "/main/v1/roaming-agreement/"+agID, map[string]any{"external_updated_at": t0})
	c.do(204, "POST", "/main/v1/roaming-agreement/"+agID, map[string]any{"external_updated_at": t0.Add(-time.Second), "role": "cpo"})
	ov := c.do(400, "POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": prID, "role": "msp", "valid_from": "2030-01-01T00:00:00Z"})
	require.Equal(t, "overlapping_validity", ov.errCode())
	c.do(400, "POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": prID, "partner_external_reference": prRef, "role": "msp"}, oaDocRejects())
	c.do(400, "POST", "/main/v1/roaming-agreement", map[string]any{"role": "msp"}, oaDocRejects())
	c.do(400, "POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": prID, "role": "MSP"}, oaDocRejects())
	c.do(400, "POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": uuid.NewString(), "role": "msp"})
	c.do(400, "GET", "/main/v1/roaming-agreement?role=CPO", nil, oaDocRejects())

	// ---- roaming connections: token A is shown once, on creation and
	// when a new one is issued.
	cnRef := "CN-" + tag
	cn := c.do(201, "POST", "/main/v1/roaming-connection", map[string]any{"name": "Peer " + tag})
	require.Equal(t, "external_reference,kind", cn.Header.Get("X-RN-Implicit-Fields"))
	require.Equal(t, []string{"peer_to_peer", "pending", oaPublicURL + "/ocpi/versions"}, []string{cn.str("kind"), cn.str("status"), cn.str("versions_url")})
	tokenA, cnID := cn.str("token_a"), cn.str("id")
	g := c.do(200, "GET", "/main/v1/roaming-connection/"+cnID, nil)
	require.NotContains(t, string(g.Raw), tokenA, "token A is never readable back")
	require.Equal(t, "…"+tokenA[len(tokenA)-4:], g.str("our_token_hint"))
	cu := c.do(200, "POST", "/main/v1/roaming-connection/"+cnID, map[string]any{"token_base64": false, "external_reference": cnRef, "status": "registered"})
	require.Equal(t, "pending", cu.str("status"), "the status is read-only")
	require.Equal(t, false, cu.JSON["token_base64"])
	cu = c.do(200, "POST", "/main/v1/roaming-connection/ext_ref."+cnRef, map[string]any{"token_base64": nil, "external_updated_at": t0})
	require.Equal(t, false, cu.JSON["token_base64"], "null keeps the current value")
	c.do(204, "POST", "/main/v1/roaming-connection/ext_ref."+cnRef, map[string]any{"external_updated_at": t0.Add(-time.Second), "name": "stale"})
	hub := c.do(201, "POST", "/main/v1/roaming-connection/ext_ref."+cnRef+"-hub", map[string]any{"name": "Hub " + tag, "kind": "hub"})
	require.Len(t, hub.str("token_a"), 43)
	hubID := hub.str("id")
	ta := c.do(200, "POST", "/main/v1/roaming-connection/"+cnID+"/token-a", nil)
	require.NotEqual(t, tokenA, ta.str("token_a"))
	require.Equal(t, "…"+ta.str("token_a")[len(ta.str("token_a"))-4:], ta.str("our_token_hint"))
	c.do(200, "POST", "/main/v1/roaming-connection/ext_ref."+cnRef+"/token-a", nil)
	c.do(400, "POST", "/main/v1/roaming-connection/"+uuid.NewString()+"/token-a", nil)
	bc := c.do(400, "POST", "/main/v1/roaming-connection", map[string]any{"name": " ", "kind": "mesh"}, oaDocRejects())
	require.ElementsMatch(t, []string{"name", "kind"}, bc.errPaths())
	c.do(400, "GET", "/main/v1/roaming-connection?status=active", nil, oaDocRejects())

	// A registration (OCPI credentials module, not an Admin API operation)
	// fills in what the partner sent; a registered connection gets no new
	// token A.
	hubUUID := uuid.MustParse(hubID)
	conn, err := db.Connection(ctx, testDB.Pool, &hubUUID, "", false)
	require.NoError(t, err)
	conn.Registered("our-token-"+tag, "their-token-"+tag, "https://hub.example.com/ocpi/versions", "2.2.1",
		[]partner.Endpoint{{Identifier: "credentials", Role: "RECEIVER", URL: "https://hub.example.com/ocpi/2.2.1/credentials"},
			{Identifier: "locations", Role: "SENDER", URL: "https://hub.example.com/ocpi/2.2.1/locations"}},
		[]partner.CredentialsRole{{Role: partner.RoleHub, CountryCode: "DE", PartyID: "HUB", Name: "The Hub"}}, "partner", time.Now().UTC())
	require.NoError(t, db.SaveConnection(ctx, testDB.Pool, conn, false))
	rg := c.do(200, "GET", "/main/v1/roaming-connection/"+hubID, nil)
	require.Equal(t, []string{"registered", "2.2.1", "…" + tag[4:]}, []string{rg.str("status"), rg.str("version"), rg.str("their_token_hint")})
	require.Len(t, rg.JSON["their_endpoints"], 2)
	require.Len(t, rg.JSON["their_roles"], 1)
	require.Len(t, c.do(200, "GET", "/main/v1/roaming-connection?status=registered&kind=hub&external_reference="+cnRef+"-hub", nil).items(), 1)
	reg := c.do(400, "POST", "/main/v1/roaming-connection/"+hubID+"/token-a", nil)
	require.Equal(t, "conflict", reg.errCode())

	// A party id learnt from the hub (hubclientinfo) keeps its connection
	// and status when the list, fetched with GET, is sent back changed.
	prUUID := uuid.MustParse(prID)
	p, err := db.Partner(ctx, testDB.Pool, &prUUID, "", false)
	require.NoError(t, err)
	connected := "CONNECTED"
	for i := range p.PartyIDs {
		if p.PartyIDs[i].Role == partner.RoleEMSP {
			p.PartyIDs[i].ConnectionID, p.PartyIDs[i].HubStatus = &hubUUID, &connected
		}
	}
	require.NoError(t, db.SavePartner(ctx, testDB.Pool, p, false))
	hp := c.do(200, "GET", "/main/v1/roaming-partner?connection_id="+hubID, nil)
	require.Len(t, hp.items(), 1)
	back := append(hp.items()[0]["party_ids"].([]any), map[string]any{"party": pc + pp, "role": "SCSP"})
	pe := c.do(200, "POST", "/main/v1/roaming-partner/"+prID, map[string]any{"party_ids": back})
	ids := pe.JSON["party_ids"].([]any)
	require.Len(t, ids, 3)
	emsp := find(ids, "role", "EMSP")
	require.Equal(t, []any{hubID, "CONNECTED"}, []any{emsp["connection_id"], emsp["hub_status"]})

	// ---- the exchange log, read-only. Its producers (the OCPI server and
	// client) write entries like these.
	corr, now := "corr-"+tag, time.Now().UTC().Truncate(time.Millisecond)
	cnUUID := uuid.MustParse(cnID)
	str := func(s string) *string { return &s }
	i32 := func(n int32) *int32 { return &n }
	var exIDs []string
	for _, e := range []gen.InsertExchangeParams{
		{At: now.Add(-3 * time.Second), Direction: "inbound", ConnectionID: &cnUUID, CountryCode: str(pc), PartyID: str(pp), Method: "GET",
			Url: "/ocpi/2.2.1/emsp/tokens", HttpStatus: 200, OcpiStatus: i32(1000), DurationMs: 12.5, RequestID: str("req-" + tag),
			CorrelationID: &corr, ResponseBody: str(`{"status_code":1000,"data":[]}`)},
		{At: now.Add(-2 * time.Second), Direction: "outbound", ConnectionID: &hubUUID, Method: "POST", Url: "https://hub.example.com/ocpi/2.2.1/commands",
			HttpStatus: 200, OcpiStatus: i32(2001), DurationMs: 80.25, CorrelationID: &corr, RequestBody: str(`{"response_url":"…"}`),
			ResponseBody: str(`{"status_code":2001}`)},
		{At: now.Add(-time.Second), Direction: "outbound", Method: "PUT", Url: "https://gone.example.com/ocpi/2.2.1/locations/NL/TDR/1",
			HttpStatus: 0, DurationMs: 3000.5, CorrelationID: &corr, Error: str("dial tcp: connection refused")},
	} {
		e.ID = uuid.Must(uuid.NewV7())
		require.NoError(t, db.Q(testDB.Pool).InsertExchange(ctx, e))
		exIDs = append(exIDs, e.ID.String())
	}
	ex := c.do(200, "GET", "/main/v1/roaming-exchange?correlation_id="+corr, nil)
	require.Len(t, ex.items(), 3)
	require.Equal(t, []any{exIDs[0], pc + "-" + pp, 12.5, float64(1000)}, []any{ex.items()[0]["id"], ex.items()[0]["party"], ex.items()[0]["duration_ms"], ex.items()[0]["ocpi_status"]})
	require.Nil(t, ex.items()[2]["party"])
	one := c.do(200, "GET", "/main/v1/roaming-exchange/"+exIDs[1], nil)
	require.Equal(t, "outbound", one.str("direction"))
	failed := c.do(200, "GET", "/main/v1/roaming-exchange?errors_only=true&correlation_id="+corr, nil)
	require.Equal(t, []any{exIDs[1], exIDs[2]}, []any{failed.items()[0]["id"], failed.items()[1]["id"]}, "an OCPI error or an HTTP error")
	all := url.Values{"connection_id": {cnID}, "direction": {"inbound"}, "method": {"GET"}, "http_status": {"200"}, "ocpi_status": {"1000"},
		"request_id": {"req-" + tag}, "correlation_id": {corr}, "party": {strings.ToLower(pc) + "*" + pp}, "errors_only": {"false"},
		"at_gte": {now.Add(-time.Minute).Format(time.RFC3339)}, "at_lt": {now.Add(time.Minute).Format(time.RFC3339)}}
	require.Len(t, c.do(200, "GET", "/main/v1/roaming-exchange?"+all.Encode(), nil).items(), 1)
	p1 := c.do(200, "GET", "/main/v1/roaming-exchange?page_size=2&correlation_id="+corr, nil)
	require.Len(t, p1.items(), 2)
	require.Equal(t, "<"+p1.str("link_next")+`>; rel="next"`, p1.Header.Get("Link"))
	require.Len(t, c.do(200, "GET", p1.str("link_next"), nil).items(), 1)
	cg := c.do(400, "GET", "/main/v1/roaming-exchange?created_gt="+url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339)), nil)
	require.Equal(t, []string{"created_gt"}, cg.errPaths(), "the exchange log starts at a moment with at_gte")
	c.do(400, "GET", "/main/v1/roaming-exchange?after="+uuid.NewString(), nil)
	c.do(400, "GET", "/main/v1/roaming-exchange?direction=sideways", nil, oaDocRejects())
	c.do(400, "GET", "/main/v1/roaming-exchange?http_status=ok", nil, oaDocRejects())
	c.do(400, "GET", "/main/v1/roaming-exchange?party=nope", nil, oaDocRejects())
	c.do(400, "GET", "/main/v1/roaming-exchange?errors_only=maybe", nil, oaDocRejects())
	require.Equal(t, "unknown_parameter", c.do(400, "GET", "/main/v1/roaming-exchange?connection=x", nil).errCode())
	c.do(400, "GET", "/main/v1/roaming-exchange/ext_ref.x", nil, oaDocRejects())
	require.Equal(t, "not_found", c.do(400, "GET", "/main/v1/roaming-exchange/"+uuid.NewString(), nil).errCode())

	// ---- the roaming permission family.
	c.do(401, "GET", "/main/v1/roaming-exchange", nil, oaAnonymous())
	rd := c.do(201, "POST", "/main/v1/api-account", map[string]any{"name": "roaming reader", "permissions": []string{"roaming:read"}})
	rdAs := oaAs(rd.str("public_id"), rd.str("secret"))
	c.do(200, "GET", "/main/v1/roaming-connection/"+cnID, nil, rdAs)
	c.do(200, "GET", "/main/v1/roaming-exchange/"+exIDs[0], nil, rdAs)
	c.do(403, "POST", "/main/v1/roaming-connection/"+cnID+"/token-a", nil, rdAs)
	c.do(403, "POST", "/main/v1/own-party/"+opID, map[string]any{"name": "x"}, rdAs)
	c.do(403, "POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": prID, "role": "cpo"}, rdAs)
	nr := c.do(201, "POST", "/main/v1/api-account", map[string]any{"name": "no roaming", "permissions": []string{"customer:read"}})
	nrAs := oaAs(nr.str("public_id"), nr.str("secret"))
	c.do(403, "GET", "/main/v1/roaming-exchange", nil, nrAs)
	c.do(403, "GET", "/main/v1/roaming-partner/"+prID, nil, nrAs)
	c.do(200, "POST", "/main/v1/api-account/"+nr.str("id"), map[string]any{"permissions": []string{"customer:read", "roaming:write"}})
	c.do(200, "GET", "/main/v1/own-party/"+opID, nil, nrAs)
	oaHandshakes(t, c, tag)
	return oaRoamingIDs{connectionID: cnID, exchangeID: exIDs[0]}
}

// oaFakePartner is a minimal OCPI 2.2.1 platform: versions, version
// details with a credentials endpoint, and a credentials module that
// answers every POST and PUT with a fresh token. It never calls back, which
// is all the handshake actions' responses need.
func oaFakePartner(t *testing.T) string {
	t.Helper()
	var srv *httptest.Server
	n := 0
	env := func(w http.ResponseWriter, data any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": data, "status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"})
	}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/versions":
			env(w, []map[string]any{{"version": "2.2.1", "url": srv.URL + "/2.2.1"}})
		case r.URL.Path == "/2.2.1":
			env(w, map[string]any{"version": "2.2.1", "endpoints": []map[string]any{
				{"identifier": "credentials", "role": "SENDER", "url": srv.URL + "/credentials"},
				{"identifier": "credentials", "role": "RECEIVER", "url": srv.URL + "/credentials"}}})
		case r.URL.Path == "/credentials" && r.Method == "DELETE":
			env(w, nil)
		case r.URL.Path == "/credentials":
			n++
			env(w, map[string]any{"token": fmt.Sprintf("fake-partner-token-%d", n), "url": srv.URL + "/versions",
				"roles": []map[string]any{{"role": "CPO", "party_id": "FKE", "country_code": "NL", "business_details": map[string]any{"name": "Fake CPO"}}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// oaHandshakes exercises the connection actions that talk to a partner:
// register, rotate and unregister against a fake partner, a partner that is
// not there (502), and the refusals (400).
func oaHandshakes(t *testing.T, c *oaClient, tag string) {
	t.Helper()
	partnerURL := oaFakePartner(t)
	cn := c.do(201, "POST", "/main/v1/roaming-connection", map[string]any{"name": "Outbound " + tag})
	id := cn.str("id")
	// The partner is unreachable: 502, and the connection is unchanged.
	gw := c.do(502, "POST", "/main/v1/roaming-connection/"+id+"/register", map[string]any{"versions_url": "http://127.0.0.1:1/versions", "token": "x"})
	require.Equal(t, "partner_error", gw.errCode())
	c.do(400, "POST", "/main/v1/roaming-connection/"+id+"/register", map[string]any{"token": "x"}, oaDocRejects())
	c.do(400, "POST", "/main/v1/roaming-connection/"+id+"/rotate", nil)
	c.do(400, "POST", "/main/v1/roaming-connection/"+id+"/unregister", map[string]any{"force": true})
	// Against a working partner: registered, rotated, unregistered.
	r := c.do(200, "POST", "/main/v1/roaming-connection/"+id+"/register", map[string]any{"versions_url": partnerURL + "/versions", "token": "partner-token-a"})
	require.Equal(t, "registered", r.str("status"))
	require.Equal(t, "us", r.str("initiated_by"))
	c.do(400, "POST", "/main/v1/roaming-connection/"+id+"/register", map[string]any{"versions_url": partnerURL + "/versions", "token": "again"})
	r = c.do(200, "POST", "/main/v1/roaming-connection/"+id+"/rotate", nil)
	require.Equal(t, "…en-2", r.str("their_token_hint"))
	r = c.do(200, "POST", "/main/v1/roaming-connection/"+id+"/unregister", nil)
	require.Equal(t, "unregistered", r.str("status"))
}
