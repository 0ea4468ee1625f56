package roaming

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// memRecorder keeps exchanges in memory; onRecord, when set, runs after
// each one is stored.
type memRecorder struct {
	mu       sync.Mutex
	ex       []Exchange
	onRecord func(e Exchange)
}

func (r *memRecorder) Record(_ context.Context, e Exchange) {
	r.mu.Lock()
	r.ex = append(r.ex, e)
	f := r.onRecord
	r.mu.Unlock()
	if f != nil {
		f(e)
	}
}

func (r *memRecorder) all() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Exchange(nil), r.ex...)
}

// fastOpts keeps backoffs short so tests run quickly.
func fastOpts() Options {
	return Options{Timeout: 2 * time.Second, MaxRetries: 3, BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond}
}

// writeEnv answers with an OCPI envelope.
func writeEnv(w http.ResponseWriter, httpStatus, code int, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"data": data, "status_code": code, "status_message": "msg " + strconv.Itoa(code),
		"timestamp": "2024-05-01T10:00:00Z",
	})
}

// partner is an httptest server counting requests and running answer for
// the n-th (1-based) one.
type partner struct {
	*httptest.Server
	hits atomic.Int32
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
	at   []time.Time
}

func newPartner(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *partner {
	t.Helper()
	return newPartnerWith(t, nil, answer)
}

// newPartnerWith is newPartner with configure run before the server starts.
func newPartnerWith(t *testing.T, configure func(*httptest.Server), answer func(n int, w http.ResponseWriter, r *http.Request)) *partner {
	t.Helper()
	p := &partner{}
	p.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.reqs = append(p.reqs, r.Clone(context.Background()))
		p.body = append(p.body, b)
		p.at = append(p.at, time.Now())
		p.mu.Unlock()
		answer(int(p.hits.Add(1)), w, r)
	}))
	if configure != nil {
		configure(p.Server)
	}
	p.Start()
	t.Cleanup(p.Close)
	return p
}

func (p *partner) request(i int) (*http.Request, []byte, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reqs[i], p.body[i], p.at[i]
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	require.ErrorAs(t, err, &e)
	return e
}

func TestGetRetriedAfter500(t *testing.T) {
	p := newPartner(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			writeEnv(w, 500, 3000, nil)
			return
		}
		writeEnv(w, 200, 1000, map[string]int{"x": 1})
	})
	rec := &memRecorder{}
	c := NewClient(fastOpts(), rec)
	conn := uuid.New()
	resp, err := c.Do(context.Background(), Target{ConnectionID: &conn, Token: "tok", CountryCode: "NL", PartyID: "ABC"}, "GET", p.URL+"/ocpi/2.2.1/locations", nil)
	require.NoError(t, err)
	require.Equal(t, 200, resp.HTTPStatus)
	require.Equal(t, 1000, resp.Envelope.StatusCode)
	require.Equal(t, "msg 1000", resp.Envelope.StatusMessage)
	require.Equal(t, "2024-05-01T10:00:00Z", resp.Envelope.Timestamp.String())
	require.JSONEq(t, `{"x":1}`, string(resp.Envelope.Data))
	require.EqualValues(t, 2, p.hits.Load())

	ex := rec.all()
	require.Len(t, ex, 2)
	for i, e := range ex {
		require.Equal(t, i+1, e.Attempt)
		require.Equal(t, DirectionOutbound, e.Direction)
		require.Equal(t, "GET", e.Method)
		require.Equal(t, p.URL+"/ocpi/2.2.1/locations", e.URL)
		require.Equal(t, conn, *e.ConnectionID)
		require.Equal(t, "NL", e.CountryCode)
		require.Equal(t, "ABC", e.PartyID)
		require.Equal(t, ex[0].RequestID, e.RequestID, "one X-Request-ID per logical request")
		require.Equal(t, 7, int(e.ID.Version()))
		require.GreaterOrEqual(t, e.DurationMs, 0.0)
		require.NotNil(t, e.OCPIStatus)
	}
	require.Equal(t, 500, ex[0].HTTPStatus)
	require.Equal(t, 3000, *ex[0].OCPIStatus)
	require.Contains(t, ex[0].Error, "HTTP 500")
	require.Equal(t, 200, ex[1].HTTPStatus)
	require.Equal(t, 1000, *ex[1].OCPIStatus)
	require.Empty(t, ex[1].Error)
	require.Contains(t, ex[1].ResponseBody, `"x":1`)
	require.NotEqual(t, ex[0].ID, ex[1].ID)
}

func TestRetryPolicyPerMethodOn5xx(t *testing.T) {
	for _, tc := range []struct {
		method string
		hits   int
	}{
		{"GET", 4}, {"PUT", 4}, {"POST", 1}, {"PATCH", 1}, {"DELETE", 1},
	} {
		t.Run(tc.method, func(t *testing.T) {
			p := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) { writeEnv(w, 502, 3000, nil) })
			rec := &memRecorder{}
			var body any
			if tc.method != "GET" && tc.method != "DELETE" {
				body = map[string]string{"id": "1"}
			}
			resp, err := NewClient(fastOpts(), rec).Do(context.Background(), Target{Token: "t"}, tc.method, p.URL+"/x", body)
			e := asError(t, err)
			require.Equal(t, KindHTTP, e.Kind)
			require.Equal(t, 502, e.HTTPStatus)
			require.Equal(t, 3000, e.OCPIStatus)
			require.Equal(t, tc.hits, e.Attempts)
			require.NotNil(t, resp)
			require.Equal(t, 502, resp.HTTPStatus)
			require.EqualValues(t, tc.hits, p.hits.Load())
			require.Len(t, rec.all(), tc.hits)
		})
	}
}

func TestPostNotRetriedOn500(t *testing.T) {
	p := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) { writeEnv(w, 500, 3000, nil) })
	rec := &memRecorder{}
	resp, err := NewClient(fastOpts(), rec).Do(context.Background(), Target{Token: "t"}, "POST", p.URL+"/cdrs", map[string]string{"id": "c1"})
	e := asError(t, err)
	require.Equal(t, KindHTTP, e.Kind)
	require.Equal(t, 500, e.HTTPStatus)
	require.Equal(t, 1, e.Attempts)
	require.False(t, e.Unsent)
	require.Equal(t, 500, resp.HTTPStatus)
	require.EqualValues(t, 1, p.hits.Load())
	require.Len(t, rec.all(), 1)
	_, body, _ := p.request(0)
	require.JSONEq(t, `{"id":"c1"}`, string(body))
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestPostToClosedPortRetried(t *testing.T) {
	rec := &memRecorder{}
	addr := closedAddr(t)
	_, err := NewClient(fastOpts(), rec).Do(context.Background(), Target{Token: "t"}, "POST", "http://"+addr+"/cdrs", map[string]string{"id": "c1"})
	e := asError(t, err)
	require.Equal(t, KindNetwork, e.Kind)
	require.True(t, e.Unsent)
	require.Equal(t, 4, e.Attempts)
	ex := rec.all()
	require.Len(t, ex, 4)
	for _, x := range ex {
		require.Zero(t, x.HTTPStatus)
		require.Nil(t, x.OCPIStatus)
		require.Contains(t, x.Error, "network")
		require.JSONEq(t, `{"id":"c1"}`, x.RequestBody)
	}
}

func TestPostDeliveredOnceWhenPartnerComesUp(t *testing.T) {
	addr := closedAddr(t)
	var hits atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		writeEnv(w, 200, 1000, nil)
	}))
	var once sync.Once
	rec := &memRecorder{}
	rec.onRecord = func(e Exchange) {
		// The first attempt found the port closed: bring the partner up.
		once.Do(func() {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Errorf("listen %s: %v", addr, err)
				return
			}
			srv.Listener.Close()
			srv.Listener = ln
			srv.Start()
		})
	}
	t.Cleanup(srv.Close)
	resp, err := NewClient(fastOpts(), rec).Do(context.Background(), Target{Token: "t"}, "POST", "http://"+addr+"/commands/START_SESSION", map[string]string{"x": "y"})
	require.NoError(t, err)
	require.Equal(t, 200, resp.HTTPStatus)
	require.EqualValues(t, 1, hits.Load())
	ex := rec.all()
	require.Len(t, ex, 2)
	require.NotEmpty(t, ex[0].Error)
	require.Empty(t, ex[1].Error)
}

func TestRetryAfter429(t *testing.T) {
	p := newPartner(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			writeEnv(w, 429, 2000, nil)
			return
		}
		writeEnv(w, 200, 1000, []int{1})
	})
	rec := &memRecorder{}
	resp, err := NewClient(fastOpts(), rec).Do(context.Background(), Target{Token: "t"}, "GET", p.URL+"/tariffs", nil)
	require.NoError(t, err)
	require.Equal(t, 200, resp.HTTPStatus)
	require.EqualValues(t, 2, p.hits.Load())
	_, _, first := p.request(0)
	_, _, second := p.request(1)
	gap := second.Sub(first)
	require.GreaterOrEqual(t, gap, 950*time.Millisecond, "Retry-After: 1 honoured")
	require.Less(t, gap, 10*time.Second, "not a much longer back-off")
	require.Len(t, rec.all(), 2)
	require.Equal(t, 429, rec.all()[0].HTTPStatus)
}

func TestRetryAfterBeyondDeadlineNotWaited(t *testing.T) {
	p := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "30")
		writeEnv(w, 429, 2000, nil)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := NewClient(fastOpts(), nil).Do(ctx, Target{Token: "t"}, "GET", p.URL+"/tariffs", nil)
	e := asError(t, err)
	require.Less(t, time.Since(start), 10*time.Second, "the 30 s Retry-After was not waited")
	require.Equal(t, KindHTTP, e.Kind)
	require.Equal(t, 429, e.HTTPStatus)
	require.Equal(t, 30*time.Second, e.RetryAfter)
	require.Equal(t, 429, resp.HTTPStatus)
	require.EqualValues(t, 1, p.hits.Load())
}

func TestRetryAfterBeyondMaxNotWaited(t *testing.T) {
	p := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(2*time.Hour).UTC().Format(http.TimeFormat))
		writeEnv(w, 503, 3000, nil)
	})
	start := time.Now()
	_, err := NewClient(fastOpts(), nil).Do(context.Background(), Target{Token: "t"}, "GET", p.URL+"/tariffs", nil)
	e := asError(t, err)
	require.Less(t, time.Since(start), 10*time.Second, "the 2 h Retry-After was not waited")
	require.Equal(t, 503, e.HTTPStatus)
	require.InDelta(t, (2 * time.Hour).Seconds(), e.RetryAfter.Seconds(), 5)
	require.EqualValues(t, 1, p.hits.Load())
}

func TestPost429NotRetried(t *testing.T) {
	p := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "0")
		writeEnv(w, 429, 2000, nil)
	})
	_, err := NewClient(fastOpts(), nil).Do(context.Background(), Target{Token: "t"}, "POST", p.URL+"/cdrs", []byte(`{}`))
	require.Equal(t, 429, asError(t, err).HTTPStatus)
	require.EqualValues(t, 1, p.hits.Load())
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{"Wed, 01 May 2024 10:00:30 GMT", 30 * time.Second, true},
		{"Wednesday, 01-May-24 10:01:00 GMT", time.Minute, true}, // RFC 850
		{"Wed May  1 10:00:05 2024", 5 * time.Second, true},      // asctime
		{"Wed, 01 May 2024 09:00:00 GMT", 0, true},               // past
		{"99999999999999999999", 0, false},
		{"9999999999999", 365 * 24 * time.Hour, true},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		require.Equal(t, tc.ok, ok, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

// slowPartner never answers before the client gives up.
func slowPartner(t *testing.T) *partner {
	release := make(chan struct{})
	p := newPartner(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before p.Close
	return p
}

func TestSlowPartnerTimeout(t *testing.T) {
	opts := fastOpts()
	opts.Timeout = 150 * time.Millisecond
	opts.MaxRetries = 2

	t.Run("GET retried", func(t *testing.T) {
		p := slowPartner(t)
		rec := &memRecorder{}
		start := time.Now()
		_, err := NewClient(opts, rec).Do(context.Background(), Target{Token: "t"}, "GET", p.URL+"/sessions", nil)
		elapsed := time.Since(start)
		e := asError(t, err)
		require.Equal(t, KindTimeout, e.Kind)
		require.Equal(t, 3, e.Attempts)
		require.GreaterOrEqual(t, elapsed, 3*opts.Timeout)
		require.Less(t, elapsed, 3*opts.Timeout+2*opts.BackoffMax+10*time.Second, "bounded by the timeouts (the partner never answers)")
		require.Len(t, rec.all(), 3)
		for _, x := range rec.all() {
			require.Contains(t, x.Error, "timeout")
			require.GreaterOrEqual(t, x.DurationMs, 140.0)
		}
		require.Eventually(t, func() bool { return p.hits.Load() == 3 }, 2*time.Second, 5*time.Millisecond)
	})
	t.Run("POST not retried", func(t *testing.T) {
		p := slowPartner(t)
		start := time.Now()
		_, err := NewClient(opts, nil).Do(context.Background(), Target{Token: "t"}, "POST", p.URL+"/cdrs", map[string]int{"a": 1})
		elapsed := time.Since(start)
		e := asError(t, err)
		require.Equal(t, KindTimeout, e.Kind)
		require.False(t, e.Unsent)
		require.Equal(t, 1, e.Attempts)
		require.GreaterOrEqual(t, elapsed, opts.Timeout)
		require.Less(t, elapsed, opts.Timeout+10*time.Second, "bounded by the timeout (the partner never answers)")
		require.EqualValues(t, 1, p.hits.Load())
	})
}

func TestContextDeadlineEndsCall(t *testing.T) {
	p := slowPartner(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := NewClient(fastOpts(), nil).Do(ctx, Target{Token: "t"}, "GET", p.URL+"/x", nil)
	e := asError(t, err)
	require.Equal(t, KindTimeout, e.Kind)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 1, e.Attempts)

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = NewClient(fastOpts(), nil).Do(ctx, Target{Token: "t"}, "GET", p.URL+"/x", nil)
	require.Equal(t, KindCanceled, asError(t, err).Kind)
	require.ErrorIs(t, err, context.Canceled)
}

func TestMalformedAnswers(t *testing.T) {
	for name, body := range map[string]string{
		"broken JSON":       `{"status_code": 1000, "data": [`,
		"not an envelope":   `{"id": "LOC1", "name": "x"}`,
		"array":             `[{"status_code": 1000}]`,
		"html":              `<html>hello</html>`,
		"empty":             ``,
		"string code":       `{"status_code": "1000", "timestamp": "2024-05-01T10:00:00Z"}`,
		"trailing garbage":  `{"status_code": 1000} x`,
		"fractional status": `{"status_code": 1000.5}`,
	} {
		t.Run(name, func(t *testing.T) {
			p := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(200)
				_, _ = io.WriteString(w, body)
			})
			rec := &memRecorder{}
			resp, err := NewClient(fastOpts(), rec).Do(context.Background(), Target{Token: "t"}, "GET", p.URL+"/x", nil)
			e := asError(t, err)
			require.Equal(t, KindMalformed, e.Kind)
			require.Equal(t, 200, e.HTTPStatus)
			require.NotNil(t, resp)
			require.EqualValues(t, 1, p.hits.Load(), "a malformed answer is not retried")
			require.Len(t, rec.all(), 1)
			require.Nil(t, rec.all()[0].OCPIStatus)
			require.Contains(t, rec.all()[0].Error, "malformed")
		})
	}
}

func TestOCPIErrorInHTTP200(t *testing.T) {
	for _, code := range []int{2001, 2004, 3000, 3001, 4001, 900} {
		p := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) { writeEnv(w, 200, code, nil) })
		resp, err := NewClient(fastOpts(), nil).Do(context.Background(), Target{Token: "t"}, "GET", p.URL+"/x", nil)
		e := asError(t, err)
		require.Equal(t, KindOCPI, e.Kind, code)
		require.Equal(t, code, e.OCPIStatus)
		require.Equal(t, 200, e.HTTPStatus)
		require.Equal(t, "msg "+strconv.Itoa(code), e.Message)
		require.Equal(t, code, resp.Envelope.StatusCode)
		require.EqualValues(t, 1, p.hits.Load())
	}
	// 19xx is the custom success range (status_codes, 1xxx: Success).
	p := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) { writeEnv(w, 201, 1901, "ok") })
	resp, err := NewClient(fastOpts(), nil).Do(context.Background(), Target{Token: "t"}, "PUT", p.URL+"/x", []byte(`{}`))
	require.NoError(t, err)
	require.Equal(t, 1901, resp.Envelope.StatusCode)
	require.Equal(t, 201, resp.HTTPStatus)
}

func TestHTTPErrorWithoutEnvelope(t *testing.T) {
	p := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "nope", http.StatusUnauthorized)
	})
	resp, err := NewClient(fastOpts(), nil).Do(context.Background(), Target{Token: "t"}, "GET", p.URL+"/x", nil)
	e := asError(t, err)
	require.Equal(t, KindHTTP, e.Kind)
	require.Equal(t, 401, e.HTTPStatus)
	require.Zero(t, e.OCPIStatus)
	require.Equal(t, "Unauthorized", e.Message)
	require.Equal(t, 401, resp.HTTPStatus)
	require.EqualValues(t, 1, p.hits.Load())
}

func TestRedirectNotFollowed(t *testing.T) {
	var other atomic.Int32
	target := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) { other.Add(1) })
	p := newPartner(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/steal", http.StatusFound)
	})
	_, err := NewClient(fastOpts(), nil).Do(context.Background(), Target{Token: "secret"}, "GET", p.URL+"/x", nil)
	require.Equal(t, 302, asError(t, err).HTTPStatus)
	require.Zero(t, other.Load())
}

func TestOversizedBody(t *testing.T) {
	opts := fastOpts()
	opts.MaxBodyBytes = 1024
	big := `{"status_code":1000,"data":"` + strings.Repeat("a", 5000) + `"}`
	for _, chunked := range []bool{false, true} {
		t.Run("chunked="+strconv.FormatBool(chunked), func(t *testing.T) {
			p := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				if !chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(big)))
				}
				w.WriteHeader(200)
				for i := 0; i < len(big); i += 100 {
					_, _ = io.WriteString(w, big[i:min(i+100, len(big))])
					if chunked {
						w.(http.Flusher).Flush()
					}
				}
			})
			rec := &memRecorder{}
			resp, err := NewClient(opts, rec).Do(context.Background(), Target{Token: "t"}, "GET", p.URL+"/x", nil)
			require.Nil(t, resp)
			e := asError(t, err)
			require.Equal(t, KindTooLarge, e.Kind)
			require.Equal(t, 200, e.HTTPStatus)
			require.EqualValues(t, 1, p.hits.Load(), "not retried")
			require.Len(t, rec.all(), 1)
			require.Contains(t, rec.all()[0].Error, "too large")
		})
	}
	// Exactly at the limit is fine.
	exact := `{"status_code":1000,"data":"` + strings.Repeat("a", 1024-len(`{"status_code":1000,"data":""}`)) + `"}`
	require.Len(t, exact, 1024)
	p := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, exact) })
	_, err := NewClient(opts, nil).Do(context.Background(), Target{Token: "t"}, "GET", p.URL+"/x", nil)
	require.NoError(t, err)
}

func TestHeadersSent(t *testing.T) {
	p := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) { writeEnv(w, 200, 1000, nil) })
	rec := &memRecorder{}
	c := NewClient(fastOpts(), rec)
	token := "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2"
	routed := Target{Token: token, Base64Token: true, FromCountry: "NL", FromParty: "RNC", ToCountry: "DE", ToParty: "XYZ"}

	ctx := WithCorrelationID(context.Background(), "corr-42")
	require.Equal(t, "corr-42", CorrelationID(ctx))
	require.Empty(t, CorrelationID(context.Background()))
	_, err := c.Do(ctx, routed, "POST", p.URL+"/a", map[string]string{"k": "v"})
	require.NoError(t, err)
	_, err = c.Do(ctx, routed, "GET", p.URL+"/b", nil)
	require.NoError(t, err)
	_, err = c.Do(context.Background(), Target{Token: token}, "GET", p.URL+"/c", nil)
	require.NoError(t, err)
	_, err = c.Do(context.Background(), Target{Token: token}, "GET", p.URL+"/d", nil)
	require.NoError(t, err)

	r0, _, _ := p.request(0)
	r1, _, _ := p.request(1)
	r2, _, _ := p.request(2)
	r3, _, _ := p.request(3)
	// Authorization: Base64 as OCPI 2.2.1 requires, or raw for older partners.
	require.Equal(t, "Token "+base64.StdEncoding.EncodeToString([]byte(token)), r0.Header.Get("Authorization"))
	require.Equal(t, "Token ZWJmM2IzOTktNzc5Zi00NDk3LTliOWQtYWM2YWQzY2M0NGQy", r0.Header.Get("Authorization"))
	require.Equal(t, "Token "+token, r2.Header.Get("Authorization"))
	// X-Request-ID: a UUID, unique per request.
	ids := map[string]bool{}
	for _, r := range []*http.Request{r0, r1, r2, r3} {
		id := r.Header.Get("X-Request-ID")
		_, err := uuid.Parse(id)
		require.NoError(t, err)
		ids[id] = true
		require.Equal(t, "application/json", r.Header.Get("Accept"))
	}
	require.Len(t, ids, 4)
	// X-Correlation-ID: from the context, else new per call.
	require.Equal(t, "corr-42", r0.Header.Get("X-Correlation-ID"))
	require.Equal(t, "corr-42", r1.Header.Get("X-Correlation-ID"))
	require.NotEmpty(t, r2.Header.Get("X-Correlation-ID"))
	require.NotEqual(t, r2.Header.Get("X-Correlation-ID"), r3.Header.Get("X-Correlation-ID"))
	// Routing headers when set, none otherwise.
	require.Equal(t, "NL", r0.Header.Get("OCPI-from-country-code"))
	require.Equal(t, "RNC", r0.Header.Get("OCPI-from-party-id"))
	require.Equal(t, "DE", r0.Header.Get("OCPI-to-country-code"))
	require.Equal(t, "XYZ", r0.Header.Get("OCPI-to-party-id"))
	for _, h := range []string{"OCPI-from-country-code", "OCPI-from-party-id", "OCPI-to-country-code", "OCPI-to-party-id"} {
		require.Empty(t, r2.Header.Values(h), h)
	}
	// Content-Type with a body only (transport_and_format, Request format).
	require.Equal(t, "application/json", r0.Header.Get("Content-Type"))
	require.Empty(t, r1.Header.Get("Content-Type"))

	ex := rec.all()
	require.Len(t, ex, 4)
	require.Equal(t, r0.Header.Get("X-Request-ID"), ex[0].RequestID)
	require.Equal(t, "corr-42", ex[0].CorrelationID)
	require.Equal(t, r3.Header.Get("X-Correlation-ID"), ex[3].CorrelationID)
}

func TestNoTokenNoAuthorization(t *testing.T) {
	require.Empty(t, Target{}.Authorization())
	require.Equal(t, "Token abc", Target{Token: "abc"}.Authorization())
	require.Equal(t, "Token ZXhhbXBsZS10b2tlbg==", Target{Token: "example-token", Base64Token: true}.Authorization())
}

func TestLoggedBodiesMasked(t *testing.T) {
	tokenB := "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2"
	tokenC := "0b7e1f9a-3c2d-4e5f-8a9b-1c2d3e4f5a6b"
	p := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		writeEnv(w, 200, 1000, map[string]any{"token": tokenC, "url": "https://p.example/ocpi/versions",
			"roles": []map[string]any{{"role": "CPO", "country_code": "DE", "party_id": "XYZ"}}})
	})
	rec := &memRecorder{}
	creds := map[string]any{"token": tokenB, "url": "https://rn.example/ocpi/versions",
		"roles": []map[string]any{{"role": "EMSP", "country_code": "NL", "party_id": "RNC"}}}
	resp, err := NewClient(fastOpts(), rec).Do(context.Background(), Target{Token: "token-a-123456"}, "POST", p.URL+"/credentials", creds)
	require.NoError(t, err)
	require.Contains(t, string(resp.Envelope.Data), tokenC, "the caller gets the real answer")
	_, sent, _ := p.request(0)
	require.Contains(t, string(sent), tokenB, "the partner gets the real body")

	ex := rec.all()[0]
	require.NotContains(t, ex.RequestBody, tokenB)
	require.Contains(t, ex.RequestBody, `"token":"***44d2"`)
	require.Contains(t, ex.RequestBody, `"party_id":"RNC"`)
	require.NotContains(t, ex.ResponseBody, tokenC)
	require.Contains(t, ex.ResponseBody, `"token":"***5a6b"`)
	require.Contains(t, ex.ResponseBody, `"url":"https://p.example/ocpi/versions"`)
}

func TestLoggedBodiesTruncated(t *testing.T) {
	opts := fastOpts()
	opts.LogBodyBytes = 64
	long := strings.Repeat("é", 100) // 200 bytes
	p := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) { writeEnv(w, 200, 1000, long) })
	rec := &memRecorder{}
	resp, err := NewClient(opts, rec).Do(context.Background(), Target{Token: "t"}, "PUT", p.URL+"/x", map[string]string{"a": long})
	require.NoError(t, err)
	require.Contains(t, string(resp.Envelope.Data), long, "only the log is cut")
	ex := rec.all()[0]
	for _, b := range []string{ex.RequestBody, ex.ResponseBody} {
		kept, marker, ok := strings.Cut(b, "…[truncated ")
		require.True(t, ok, b)
		require.LessOrEqual(t, len(kept), 64)
		require.GreaterOrEqual(t, len(kept), 61)
		require.True(t, strings.HasSuffix(marker, " bytes]"))
		n, err := strconv.Atoi(strings.TrimSuffix(marker, " bytes]"))
		require.NoError(t, err)
		require.Greater(t, n, 100)
	}
	require.True(t, strings.HasPrefix(ex.RequestBody, `{"a":"éé`))
	_, sent, _ := p.request(0)
	require.Equal(t, len(sent), len(strings.SplitN(ex.RequestBody, "…", 2)[0])+mustTruncatedN(t, ex.RequestBody))
}

func mustTruncatedN(t *testing.T, s string) int {
	t.Helper()
	_, m, _ := strings.Cut(s, "…[truncated ")
	n, err := strconv.Atoi(strings.TrimSuffix(m, " bytes]"))
	require.NoError(t, err)
	return n
}

func TestGetJSON(t *testing.T) {
	p := newPartner(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			writeEnv(w, 200, 1000, "not an object")
			return
		}
		writeEnv(w, 200, 1000, map[string]any{"id": "LOC1", "evses": []any{}})
	})
	c := NewClient(fastOpts(), nil)
	var loc struct {
		ID string `json:"id"`
	}
	_, err := c.GetJSON(context.Background(), Target{Token: "t"}, p.URL+"/ok", &loc)
	require.NoError(t, err)
	require.Equal(t, "LOC1", loc.ID)
	resp, err := c.GetJSON(context.Background(), Target{Token: "t"}, p.URL+"/bad", &loc)
	require.Equal(t, KindMalformed, asError(t, err).Kind)
	require.Equal(t, 200, resp.HTTPStatus)
}

func TestInvalidRequestNotSent(t *testing.T) {
	rec := &memRecorder{}
	c := NewClient(fastOpts(), rec)
	_, err := c.Do(context.Background(), Target{}, "GET", "/relative", nil)
	require.Error(t, err)
	_, err = c.Do(context.Background(), Target{}, "GET", "ftp://x/y", nil)
	require.Error(t, err)
	_, err = c.Do(context.Background(), Target{}, "POST", "http://127.0.0.1:1/x", make(chan int))
	require.Error(t, err)
	_, err = c.Do(context.Background(), Target{}, "BAD METHOD", "http://127.0.0.1:1/x", nil)
	require.Error(t, err)
	require.Empty(t, rec.all())
}

func TestConcurrentCallsShareConnections(t *testing.T) {
	var newConns atomic.Int32
	p := newPartnerWith(t, func(s *httptest.Server) {
		s.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				newConns.Add(1)
			}
		}
	}, func(_ int, w http.ResponseWriter, r *http.Request) {
		writeEnv(w, 200, 1000, r.URL.Query().Get("i"))
	})
	rec := &memRecorder{}
	c := NewClient(fastOpts(), rec)
	// Sequential calls reuse one kept-alive connection.
	for i := 0; i < 10; i++ {
		_, err := c.Do(context.Background(), Target{Token: "t"}, "GET", p.URL+"/seq", nil)
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, newConns.Load())

	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := c.Do(context.Background(), Target{Token: "t"}, "GET", p.URL+"/c?i="+strconv.Itoa(i), nil)
			if err != nil {
				errs <- err
				return
			}
			if string(resp.Envelope.Data) != strconv.Quote(strconv.Itoa(i)) {
				errs <- errors.New("answer mixed up: " + string(resp.Envelope.Data))
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, rec.all(), 60)
	require.LessOrEqual(t, newConns.Load(), int32(1+50))
}

func TestErrorString(t *testing.T) {
	e := &Error{Kind: KindOCPI, Method: "GET", URL: "http://x/y", HTTPStatus: 200, OCPIStatus: 2001, Message: "missing id", Attempts: 2}
	require.Equal(t, "roaming: ocpi error: GET http://x/y: HTTP 200: status_code 2001: missing id (after 2 attempts)", e.Error())
	require.Equal(t, "kind(99)", Kind(99).String())
}
