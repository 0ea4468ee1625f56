package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/adminapi"
	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/node"
)

var testDB *dbtest.Database

func TestMain(m *testing.M) { dbtest.Main(m, &testDB) }

// harness is one test's view of a real node: the app on the package's
// database and the real Redis, and a bootstrap account of its own.
type harness struct {
	t      *testing.T
	app    *fiber.App
	rdb    *redis.Client
	user   string
	secret string
}

func newRedis(t *testing.T) *redis.Client {
	opt, err := redis.ParseURL(dbtest.RedisURL())
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func setup(t *testing.T, opts ...func(*adminapi.Options)) *harness {
	t.Helper()
	rdb := newRedis(t)
	o := adminapi.Options{Version: "test", AccountCache: 5, RatePrefix: "rn:test:" + uuid.NewString() + ":"}
	for _, f := range opts {
		f(&o)
	}
	app := node.App(node.Deps{Pool: testDB.Pool, Redis: rdb, Log: testLog(), Version: "test", Admin: o})
	h := &harness{t: t, app: app, rdb: rdb, user: "boot-" + uuid.NewString()[:8], secret: access.NewSecret()}
	require.NoError(t, db.Q(testDB.Pool).UpsertBootstrapAccount(context.Background(), gen.UpsertBootstrapAccountParams{
		ID: uuid.Must(uuid.NewV7()), PublicID: h.user, SecretHash: access.HashSecret(h.secret), CreatedAt: time.Now()}))
	return h
}

// resp is a response with its body decoded.
type resp struct {
	Status int
	Header http.Header
	Raw    []byte
	JSON   map[string]any
}

func (r resp) str(k string) string { s, _ := r.JSON[k].(string); return s }

// fields returns the error's field paths.
func (r resp) fields() []string {
	e, _ := r.JSON["error"].(map[string]any)
	fs, _ := e["fields"].([]any)
	var out []string
	for _, f := range fs {
		out = append(out, f.(map[string]any)["path"].(string))
	}
	return out
}

func (r resp) code() string {
	e, _ := r.JSON["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (r resp) items() []map[string]any {
	is, _ := r.JSON["items"].([]any)
	out := make([]map[string]any, len(is))
	for i, x := range is {
		out[i] = x.(map[string]any)
	}
	return out
}

// do sends a request as the harness's bootstrap account; body may be a
// string (sent raw) or any value (sent as JSON).
func (h *harness) do(method, path string, body any) resp {
	return h.doAs(h.user, h.secret, method, path, body)
}

func (h *harness) doAs(user, secret, method, path string, body any) resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(h.t, err)
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.SetBasicAuth(user, secret)
	}
	res, err := h.app.Test(req, -1)
	require.NoError(h.t, err)
	raw, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.JSON)
	}
	return r
}

// must asserts the status and returns the response.
func (h *harness) must(status int, r resp) resp {
	h.t.Helper()
	require.Equal(h.t, status, r.Status, "body: %s", r.Raw)
	return r
}

// tenant creates a seller and an administration of the test's own.
func (h *harness) tenant() (sellerID, adminID string) {
	s := h.must(201, h.do("POST", "/main/v1/seller", map[string]any{"name": "Seller " + uuid.NewString(), "country": "NL"}))
	a := h.must(201, h.do("POST", "/main/v1/administration", map[string]any{"name": "Adm", "currency": "EUR", "seller_id": s.str("id")}))
	return s.str("id"), a.str("id")
}

func (h *harness) customer(adminID string, extra map[string]any) resp {
	b := map[string]any{"administration_id": adminID, "name": "Jane", "country": "NL", "entity_type": "person"}
	for k, v := range extra {
		b[k] = v
	}
	return h.must(201, h.do("POST", "/main/v1/customer", b))
}

// account creates an API account with the given permissions and
// administrations, returning its public id and secret.
func (h *harness) account(perms []string, admins []string) (string, string) {
	r := h.must(201, h.do("POST", "/main/v1/api-account", map[string]any{"name": "acct", "permissions": perms, "administration_ids": admins}))
	return r.str("public_id"), r.str("secret")
}

// testLog discards logs unless ROAMNODE_TEST_LOG is set.
func testLog() *slog.Logger {
	if os.Getenv("ROAMNODE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
