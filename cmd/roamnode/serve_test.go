package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db/dbtest"
)

// serve migrates, bootstraps the admin account, answers, and on
// cancellation (SIGTERM) stops accepting, drains and returns without error.
func TestServeStartsAndShutsDownGracefully(t *testing.T) {
	ctx := context.Background()
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	defer d.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("DATABASE_URL", d.DSN)
	t.Setenv("REDIS_URL", dbtest.RedisURL())
	t.Setenv("ROAMNODE_LISTEN", addr)
	t.Setenv("ROAMNODE_ADMIN_ID", "boot")
	t.Setenv("ROAMNODE_ADMIN_SECRET", "a-long-enough-secret")
	t.Setenv("ROAMNODE_SHUTDOWN_TIMEOUT", "5s")
	cfg, err := loadConfig(true, true)
	require.NoError(t, err)

	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- serve(sctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), true, true) }()

	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "node not ready in time: %v", err)
		time.Sleep(50 * time.Millisecond)
	}
	req, _ := http.NewRequest("GET", base+"/main/v1/seller", nil)
	req.SetBasicAuth("boot", "a-long-enough-secret")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode, "the bootstrap account was created at start")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not return after cancellation")
	}
	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "the listener is closed")
}
