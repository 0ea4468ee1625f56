package node_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/node"
)

var testDB *dbtest.Database

func TestMain(m *testing.M) { dbtest.Main(m, &testDB) }

// proxy forwards TCP connections to a target and can be cut and restored
// on the same address: Redis "disappearing" and coming back.
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// cut closes the listener and every connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restore listens again on the same address.
func (p *proxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(p.t, err)
	p.serve(ln)
}

func TestReadinessFollowsRedis(t *testing.T) {
	opt, err := redis.ParseURL(dbtest.RedisURL())
	require.NoError(t, err)
	px := newProxy(t, opt.Addr)
	opt.Addr = px.addr
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	opt.MaxRetries = 0
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	app := node.App(node.Deps{Pool: testDB.Pool, Redis: rdb, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: "t"})

	status := func(path string) (int, map[string]any) {
		res, err := app.Test(httptest.NewRequest("GET", path, nil), -1)
		require.NoError(t, err)
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body
	}
	code, _ := status("/readyz")
	require.Equal(t, 200, code)

	px.cut()
	code, body := status("/readyz")
	require.Equal(t, 503, code)
	require.Equal(t, []any{"redis"}, body["failing"])
	code, _ = status("/healthz")
	require.Equal(t, 200, code, "the process is alive even when Redis is not")

	px.restore()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ = status("/readyz"); code == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, 200, code, "the node recovers by itself when Redis returns")
}

func TestMetricsAndUnknownRoutes(t *testing.T) {
	opt, err := redis.ParseURL(dbtest.RedisURL())
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	app := node.App(node.Deps{Pool: testDB.Pool, Redis: rdb, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: "t"})
	res, err := app.Test(httptest.NewRequest("GET", "/main/v1/no-such-thing", nil), -1)
	require.NoError(t, err)
	require.Equal(t, 404, res.StatusCode, "404 only for unknown routes")
	require.Contains(t, res.Header.Get("Content-Type"), "application/json")
	// The OCPI surface answers even unknown paths with an OCPI envelope
	// (authentication comes first, so without a token that is a 401).
	res, err = app.Test(httptest.NewRequest("GET", "/ocpi/2.2.1/nothing", nil), -1)
	require.NoError(t, err)
	require.Equal(t, 401, res.StatusCode)
	var env map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&env))
	require.Equal(t, float64(2000), env["status_code"])
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, env["timestamp"])
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-ID", "abc-123")
	res, err = app.Test(req, -1)
	require.NoError(t, err)
	require.Equal(t, "abc-123", res.Header.Get("X-Request-ID"))
	res, err = app.Test(httptest.NewRequest("GET", "/metrics", nil), -1)
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	require.Equal(t, 200, res.StatusCode)
	require.True(t, strings.Contains(string(b), `roamnode_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}`), "labelled by route template")
	require.Contains(t, string(b), `route="unmatched"`)
}
