package adminapi_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/adminapi"
)

// With Redis gone the API keeps answering: the limiter allows requests,
// and after the first failure it stops asking Redis for a while, so that a
// dead Redis costs no latency per request.
func TestLimiterFailsOpenWhenRedisIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens here any more
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: 0})
	defer rdb.Close()
	l := adminapi.NewLimiter(rdb, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b := []adminapi.Bucket{{Key: "ip:x", RPS: 1, Burst: 1}}
	for i := 0; i < 50; i++ {
		require.Zero(t, l.Allow(context.Background(), b), "request %d allowed", i)
	}
}

// The bucket refills at its rate: an empty bucket asks for a wait of about
// 1/rate, and allows again after it.
func TestLimiterBucket(t *testing.T) {
	rdb := newRedis(t)
	l := adminapi.NewLimiter(rdb, slog.New(slog.NewTextHandler(io.Discard, nil)))
	l.Prefix = "rn:test:bucket:" + time.Now().Format(time.RFC3339Nano) + ":"
	b := []adminapi.Bucket{{Key: "k", RPS: 10, Burst: 3}}
	for i := 0; i < 3; i++ {
		require.Zero(t, l.Allow(context.Background(), b))
	}
	wait := l.Allow(context.Background(), b)
	require.Greater(t, wait, time.Duration(0))
	require.LessOrEqual(t, wait, 100*time.Millisecond)
	// Two buckets: one empty bucket blocks, and nothing is taken from the other.
	other := []adminapi.Bucket{{Key: "other", RPS: 10, Burst: 1}, {Key: "k", RPS: 10, Burst: 3}}
	require.Greater(t, l.Allow(context.Background(), other), time.Duration(0))
	require.Zero(t, l.Allow(context.Background(), []adminapi.Bucket{{Key: "other", RPS: 10, Burst: 1}}), "the other bucket kept its token")
}

// Two nodes leasing from one bucket together admit no more than the burst
// plus what refilled meanwhile plus one unspent lease per node.
func TestLimiterLeasesHoldAcrossNodes(t *testing.T) {
	rdb := newRedis(t)
	prefix := "rn:test:lease:" + time.Now().Format(time.RFC3339Nano) + ":"
	nodes := make([]*adminapi.Limiter, 2)
	for i := range nodes {
		nodes[i] = adminapi.NewLimiter(rdb, slog.New(slog.NewTextHandler(io.Discard, nil)))
		nodes[i].Prefix = prefix
	}
	const rps, burst = 200, 200 // lease of 10 tokens
	b := []adminapi.Bucket{{Key: "acct", RPS: rps, Burst: burst}}
	start := time.Now()
	allowed := 0
	for i := 0; i < 600; i++ {
		if nodes[i%2].Allow(context.Background(), b) == 0 {
			allowed++
		}
	}
	elapsed := time.Since(start)
	maxAllowed := burst + int(elapsed.Seconds()*rps) + 1 + 2*10
	require.GreaterOrEqual(t, allowed, burst-2*10, "the burst is available")
	require.LessOrEqual(t, allowed, maxAllowed, "allowed %d in %s", allowed, elapsed)
}
