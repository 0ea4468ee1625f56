package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPercentileNearestRank(t *testing.T) {
	// 1..100 ms: the p-th percentile by nearest rank is p ms.
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single p50", durations(7), 50, 7 * time.Millisecond},
		{"single p99", durations(7), 99, 7 * time.Millisecond},
		{"p0 is min", durations(3, 5, 9), 0, 3 * time.Millisecond},
		{"p100 is max", durations(3, 5, 9), 100, 9 * time.Millisecond},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p90 of 1..100", hundred, 90, 90 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p99.9 of 1..100", hundred, 99.9, 100 * time.Millisecond},
		{"p1 of 1..100", hundred, 1, 1 * time.Millisecond},
		// 4 samples: rank ceil(0.5*4)=2, ceil(0.9*4)=4, ceil(0.25*4)=1.
		{"p50 of 4", durations(10, 20, 30, 40), 50, 20 * time.Millisecond},
		{"p90 of 4", durations(10, 20, 30, 40), 90, 40 * time.Millisecond},
		{"p25 of 4", durations(10, 20, 30, 40), 25, 10 * time.Millisecond},
		{"p26 of 4", durations(10, 20, 30, 40), 26, 20 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, percentile(tc.in, tc.p))
		})
	}
}

// The nearest-rank percentile agrees with its definition: the smallest
// sample with at least p% of the samples at or below it.
func TestPercentileDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(500)
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = time.Duration(rng.IntN(1000)) * time.Microsecond
		}
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		for _, p := range []float64{1, 50, 90, 99, 99.9} {
			got := percentile(s, p)
			atOrBelow := 0
			for _, v := range s {
				if v <= got {
					atOrBelow++
				}
			}
			require.GreaterOrEqual(t, float64(atOrBelow)*100, p*float64(n), "n=%d p=%v", n, p)
			below := 0
			for _, v := range s {
				if v < got {
					below++
				}
			}
			require.Less(t, float64(below)*100, p*float64(n), "n=%d p=%v: a smaller sample would do", n, p)
		}
	}
}

func TestSummarise(t *testing.T) {
	samples := []sample{
		{Latency: 4 * time.Millisecond, Status: 201, Created: true},
		{Latency: 1 * time.Millisecond, Status: 200},
		{Latency: 3 * time.Millisecond, Status: 200},
		{Latency: 2 * time.Millisecond, Status: 429, ErrBody: "slow down"},
		{Latency: 10 * time.Millisecond, Status: 0, ErrKind: "timeout", ErrBody: "deadline"},
		{Latency: 5 * time.Millisecond, Status: 500, ErrBody: "boom"},
	}
	st := summarise(kindUpsert, samples, 2)
	require.Equal(t, 6, st.Requests)
	require.Equal(t, 3, st.Success)
	require.Equal(t, 3, st.Errors)
	require.Equal(t, map[string]int{"429": 1, "500": 1, "timeout": 1}, st.ByStatus)
	require.Equal(t, map[string][]string{"429": {"slow down"}, "500": {"boom"}, "timeout": {"deadline"}}, st.Examples)
	require.Equal(t, 3.0, st.RPS)
	require.Equal(t, 1.5, st.OKRPS)
	require.Equal(t, 3.0, st.P50) // sorted 1,2,3,4,5,10: rank 3
	require.Equal(t, 10.0, st.P90)
	require.Equal(t, 10.0, st.P99)
	require.Equal(t, 10.0, st.Max)
	require.Equal(t, 1, st.Created)
	require.Equal(t, 0.3333, st.CreatedFraction)
	require.Equal(t, 4.167, st.Mean)

	reads := summarise(kindRead, []sample{{Latency: time.Millisecond, Status: 200, Items: 50}, {Latency: time.Millisecond, Status: 200, Items: 49}}, 1)
	require.Equal(t, 49.5, reads.ItemsPerPage)
	require.Nil(t, reads.ByStatus)
}

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:18090", "http://127.1.2.3", "http://[::1]:80", "http://localhost:8080", "https://localhost"} {
		require.NoError(t, checkLoopbackURL(ok), ok)
	}
	for _, bad := range []string{"http://10.0.0.1:8080", "http://192.168.1.1", "http://example.com", "http://0.0.0.0:8080",
		"ftp://127.0.0.1", "http://[2001:db8::1]", "http://localhost.example.com", "127.0.0.1:8080"} {
		require.Error(t, checkLoopbackURL(bad), bad)
	}
	require.NoError(t, loopbackControl("tcp", "127.0.0.1:80", nil))
	require.NoError(t, loopbackControl("tcp6", "[::1]:80", nil))
	require.Error(t, loopbackControl("tcp", "10.1.2.3:80", nil))
	require.Error(t, loopbackControl("tcp", "93.184.216.34:443", nil))
}

func TestParseFlagsRefusesRemote(t *testing.T) {
	var buf bytes.Buffer
	_, err := parseFlags([]string{"-url", "http://203.0.113.5:8080", "-user", "u", "-secret", "s"}, &buf)
	require.ErrorContains(t, err, "not a loopback address")
	_, err = parseFlags([]string{"-mode", "upsert", "-user", "u", "-secret", "s"}, &buf)
	require.ErrorContains(t, err, "-admin")
	c, err := parseFlags([]string{"-user", "u", "-secret", "s"}, &buf)
	require.NoError(t, err)
	require.Equal(t, 32, c.Concurrency)
	require.Equal(t, 20*time.Second, c.Duration)
	require.Equal(t, 2*time.Second, c.Warmup)
}

// fakeNode imitates the three Admin API calls loadgen makes, on loopback.
type fakeNode struct {
	mu        sync.Mutex
	ids       []string          // customer ids in order
	byRef     map[string]string // ext ref → id
	failEvery int               // every n-th upsert answers 503
	upserts   int
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if u, p, ok := r.BasicAuth(); !ok || u != "bench" || p != "secret-secret-123" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/main/v1/customer":
		size := 500
		fmt.Sscan(r.URL.Query().Get("page_size"), &size)
		start := 0
		if a := r.URL.Query().Get("after"); a != "" {
			start = -1
			for i, id := range f.ids {
				if id == a {
					start = i + 1
				}
			}
			if start < 0 {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
		}
		endIdx := min(start+size, len(f.ids))
		items := []map[string]string{}
		for _, id := range f.ids[start:endIdx] {
			items = append(items, map[string]string{"id": id, "name": "x"})
		}
		body := map[string]any{"items": items, "page_size": size}
		if endIdx > start {
			body["link_next"] = fmt.Sprintf("/main/v1/customer?page_size=%d&after=%s", size, f.ids[endIdx-1])
		}
		_ = json.NewEncoder(w).Encode(body)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/main/v1/customer/ext_ref."):
		f.upserts++
		if f.failEvery > 0 && f.upserts%f.failEvery == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprint(w, "unavailable")
			return
		}
		ref := strings.TrimPrefix(r.URL.Path, "/main/v1/customer/ext_ref.")
		id, ok := f.byRef[ref]
		status := http.StatusOK
		if !ok {
			id = fmt.Sprintf("c%08d", len(f.ids))
			f.ids = append(f.ids, id)
			f.byRef[ref] = id
			status = http.StatusCreated
		}
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"id":%q}`, id)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/main/v1/seller/"):
		_, _ = fmt.Fprint(w, `{"id":"s1"}`)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/main/v1/administration/"):
		_, _ = fmt.Fprint(w, `{"id":"a1"}`)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func testConfig(url, mode string) config {
	return config{BaseURL: url, User: "bench", Secret: "secret-secret-123", Mode: mode, Concurrency: 4,
		Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond, Timeout: 2 * time.Second, AdminID: "a1",
		Refs: 120, RefPrefix: "t-", PageSize: 50, ReadRatio: 0.5, MaxIDs: 100000}
}

func TestRunAgainstFakeNode(t *testing.T) {
	f := &fakeNode{byRef: map[string]string{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	ctx := context.Background()

	lg, err := newLoadgen(testConfig(srv.URL, "setup"))
	require.NoError(t, err)
	id, err := lg.setup(ctx)
	require.NoError(t, err)
	require.Equal(t, "a1", id)

	// seed creates every ref exactly once.
	cfg := testConfig(srv.URL, "seed")
	cfg.Duration = 10 * time.Second
	lg, _ = newLoadgen(cfg)
	rep, err := lg.run(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Rows, 1)
	require.Equal(t, kindSeed, rep.Rows[0].Kind)
	require.Equal(t, 120, rep.Rows[0].Success)
	require.Equal(t, 120, rep.Rows[0].Created)
	require.Equal(t, 1.0, rep.Rows[0].CreatedFraction)
	require.Len(t, f.ids, 120)

	// reads get full pages after preloading every id.
	lg, _ = newLoadgen(testConfig(srv.URL, "read"))
	rep, err = lg.run(ctx)
	require.NoError(t, err)
	require.Equal(t, 120, rep.PreloadIDs)
	require.Len(t, rep.Rows, 1)
	r := rep.Rows[0]
	require.Equal(t, kindRead, r.Kind)
	require.Positive(t, r.Success)
	require.Zero(t, r.Errors)
	require.Equal(t, 50.0, r.ItemsPerPage)
	require.InDelta(t, 0.3, rep.Seconds, 0.25)
	require.LessOrEqual(t, r.P50, r.P90)
	require.LessOrEqual(t, r.P90, r.P99)
	require.LessOrEqual(t, r.P99, r.Max)

	// mixed over a wider ref range: some upserts create, failures are
	// counted by status, both kinds and a total are reported.
	f.mu.Lock()
	f.failEvery = 5
	f.mu.Unlock()
	cfg = testConfig(srv.URL, "mixed")
	cfg.Refs = 100000
	cfg.WantRPS, cfg.WantP99 = 1, time.Second
	lg, _ = newLoadgen(cfg)
	rep, err = lg.run(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Rows, 2)
	require.NotNil(t, rep.Total)
	up := rep.Rows[1]
	require.Equal(t, kindUpsert, up.Kind)
	require.Positive(t, up.Created)
	require.Positive(t, up.ByStatus["503"])
	require.Equal(t, up.Requests, up.Success+up.Errors)
	require.Equal(t, rep.Rows[0].Requests+up.Requests, rep.Total.Requests)
	require.Len(t, rep.Targets, 2)
	require.False(t, rep.Targets[1].Met, "errors miss the target")

	var out bytes.Buffer
	writeTable(&out, rep)
	require.Contains(t, out.String(), "upsert errors by status: 503:")
	require.Contains(t, out.String(), "503 example: unavailable")
	require.Contains(t, out.String(), "MISSED")
}

func TestRunCommandLine(t *testing.T) {
	f := &fakeNode{byRef: map[string]string{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	t.Setenv("ROAMNODE_ADMIN_ID", "bench")
	t.Setenv("ROAMNODE_ADMIN_SECRET", "secret-secret-123")
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"-url", srv.URL, "-mode", "seed", "-admin", "a1", "-refs", "60", "-c", "3", "-json"}, &out, &errb), errb.String())
	var rep report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	require.Equal(t, 60, rep.Rows[0].Success)

	out.Reset()
	require.Equal(t, 2, run([]string{"-url", "http://198.51.100.7", "-mode", "read"}, &out, &errb))
	require.Contains(t, errb.String(), "loopback")
}
