// Command loadgen drives roamnode's Admin API with a fixed number of
// concurrent clients for a bounded time and reports throughput and exact
// latency percentiles. It is the load generator of scripts/bench; see
// docs/performance.md.
//
// Modes:
//
//	setup   create (or find) a benchmark seller and administration by
//	        external reference and print the administration id
//	seed    upsert customers ext_ref.<prefix>000000 … <prefix>(refs-1) once each
//	read    GET /main/v1/customer?page_size=N&after=<id>, id drawn at random
//	        from the ids preloaded at start, so reads hit different pages
//	upsert  POST /main/v1/customer/ext_ref.<ref> with a random ref out of
//	        -refs, and a name that changes on every request so that an
//	        update really writes
//	mixed   read or upsert per request, reads with probability -read-ratio
//
// It only ever connects to loopback addresses: the base URL must name a
// loopback IP or localhost, and the dialer refuses any other address (this
// workplace forbids load against non-local hosts). Proxies from the
// environment are ignored and redirects are not followed, for the same
// reason.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// config is the command line.
type config struct {
	BaseURL     string
	User        string
	Secret      string
	Mode        string
	Concurrency int
	Duration    time.Duration
	Warmup      time.Duration
	Timeout     time.Duration
	AdminID     string
	Refs        int
	RefPrefix   string
	PageSize    int
	ReadRatio   float64 // a probability, not an amount
	MaxIDs      int
	JSON        bool
	WantRPS     float64
	WantP99     time.Duration
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	lg, err := newLoadgen(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	if cfg.Mode == "setup" {
		id, err := lg.setup(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen: setup:", err)
			return 1
		}
		fmt.Fprintln(stdout, id)
		return 0
	}
	rep, err := lg.run(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
	} else {
		writeTable(stdout, rep)
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.BaseURL, "url", "http://127.0.0.1:18090", "base URL of the node (loopback only)")
	fs.StringVar(&c.User, "user", os.Getenv("ROAMNODE_ADMIN_ID"), "API account id (default $ROAMNODE_ADMIN_ID)")
	fs.StringVar(&c.Secret, "secret", "", "API account secret (default $ROAMNODE_ADMIN_SECRET; prefer the variable, a flag shows in ps)")
	fs.StringVar(&c.Mode, "mode", "read", "setup | seed | read | upsert | mixed")
	fs.IntVar(&c.Concurrency, "c", 32, "concurrent clients (each one request at a time)")
	fs.DurationVar(&c.Duration, "d", 20*time.Second, "measured duration after the warm-up (seed: upper bound)")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "warm-up before measuring (not counted)")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.StringVar(&c.AdminID, "admin", "", "administration id of the upserted customers (seed, upsert, mixed)")
	fs.IntVar(&c.Refs, "refs", 10000, "distinct external references (seed creates them; upsert picks among them)")
	fs.StringVar(&c.RefPrefix, "ref-prefix", "bench-", "external reference prefix of the customers")
	fs.IntVar(&c.PageSize, "page-size", 50, "page_size of the reads")
	fs.Float64Var(&c.ReadRatio, "read-ratio", 0.75, "mixed: probability that a request is a read")
	fs.IntVar(&c.MaxIDs, "max-ids", 200000, "read: at most this many ids are preloaded")
	fs.BoolVar(&c.JSON, "json", false, "print the report as JSON instead of a table")
	fs.Float64Var(&c.WantRPS, "want-rps", 0, "target successful requests/s (0: none); the report says met or missed")
	fs.DurationVar(&c.WantP99, "want-p99", 0, "target p99 latency (0: none)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.Secret == "" {
		c.Secret = os.Getenv("ROAMNODE_ADMIN_SECRET")
	}
	switch {
	case c.User == "" || c.Secret == "":
		return c, errors.New("give -user and a secret (-secret or $ROAMNODE_ADMIN_SECRET)")
	case c.Concurrency < 1 || c.Concurrency > 4096:
		return c, errors.New("-c must be from 1 to 4096")
	case c.Duration <= 0 || c.Duration > time.Hour:
		return c, errors.New("-d must be positive and at most 1h")
	case c.Warmup < 0 || c.Warmup > 10*time.Minute:
		return c, errors.New("-warmup must be from 0 to 10m")
	case c.Timeout <= 0:
		return c, errors.New("-timeout must be positive")
	case c.Refs < 1:
		return c, errors.New("-refs must be at least 1")
	case c.PageSize < 1 || c.PageSize > 1000:
		return c, errors.New("-page-size must be from 1 to 1000")
	case c.ReadRatio < 0 || c.ReadRatio > 1:
		return c, errors.New("-read-ratio must be from 0 to 1")
	}
	switch c.Mode {
	case "setup", "read":
	case "seed", "upsert", "mixed":
		if c.AdminID == "" {
			return c, fmt.Errorf("-mode %s needs -admin (an administration id; see -mode setup)", c.Mode)
		}
	default:
		return c, fmt.Errorf("unknown -mode %q (setup | seed | read | upsert | mixed)", c.Mode)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c, checkLoopbackURL(c.BaseURL)
}

// checkLoopbackURL refuses a base URL whose host is not a loopback address:
// an IP literal must be loopback; a name must be localhost (or end in
// .localhost) and resolve only to loopback addresses.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("-url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("-url: scheme must be http or https, not %q", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("-url: no host")
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("-url: %s is not a loopback address; loadgen only targets this machine", host)
		}
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name != "localhost" && !strings.HasSuffix(name, ".localhost") {
		return fmt.Errorf("-url: host %q is not a loopback address or localhost; loadgen only targets this machine", host)
	}
	ips, err := net.LookupIP(name)
	if err != nil {
		return fmt.Errorf("-url: resolve %s: %v", name, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("-url: %s resolves to %s, which is not a loopback address", name, ip)
		}
	}
	return nil
}

// loopbackControl is the dialer's last check, on the address actually
// dialled: anything but a loopback IP is refused.
func loopbackControl(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing to connect to %s: not a loopback address", address)
	}
	return nil
}

// newClient is a keep-alive client for concurrency clients to one host.
func newClient(concurrency int, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackControl}
	tr := &http.Transport{
		Proxy:               nil, // never through a proxy: it would not be local
		DialContext:         d.DialContext,
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// loadgen holds the client and what a run needs.
type loadgen struct {
	cfg    config
	client *http.Client
	auth   string
	ids    []string // read: preloaded customer ids
}

func newLoadgen(cfg config) (*loadgen, error) {
	return &loadgen{cfg: cfg, client: newClient(cfg.Concurrency, cfg.Timeout),
		auth: "Basic " + basicToken(cfg.User, cfg.Secret)}, nil
}

func basicToken(user, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + secret))
}

// response is what a worker keeps of one answer.
type response struct {
	Status int
	Body   []byte
}

// do sends one request and reads the whole body (so the connection is
// reused).
func (l *loadgen) do(ctx context.Context, method, path string, body []byte) (response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.cfg.BaseURL+path, rd)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", l.auth)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{Status: resp.StatusCode}, err
	}
	return response{Status: resp.StatusCode, Body: b}, nil
}

// postID posts a JSON body and returns the "id" of a 200/201 answer.
func (l *loadgen) postID(ctx context.Context, path string, body any) (string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	r, err := l.do(ctx, http.MethodPost, path, b)
	if err != nil {
		return "", err
	}
	if r.Status != http.StatusOK && r.Status != http.StatusCreated {
		return "", fmt.Errorf("POST %s: HTTP %d: %s", path, r.Status, truncate(r.Body, 300))
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil || out.ID == "" {
		return "", fmt.Errorf("POST %s: no id in the answer: %s", path, truncate(r.Body, 300))
	}
	return out.ID, nil
}

// setup creates or finds the benchmark seller and administration (by
// external reference, so it can run again) and returns the
// administration's id.
func (l *loadgen) setup(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	seller, err := l.postID(ctx, "/main/v1/seller/ext_ref."+url.PathEscape(l.cfg.RefPrefix+"seller"),
		map[string]string{"name": "Benchmark seller", "country": "NL"})
	if err != nil {
		return "", err
	}
	return l.postID(ctx, "/main/v1/administration/ext_ref."+url.PathEscape(l.cfg.RefPrefix+"administration"),
		map[string]string{"name": "Benchmark administration", "currency": "EUR", "seller_id": seller})
}

// preload pages through /main/v1/customer (page_size 1000) collecting ids,
// up to MaxIDs, so that reads can start at random places.
func (l *loadgen) preload(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	path := "/main/v1/customer?page_size=1000"
	for len(l.ids) < l.cfg.MaxIDs {
		r, err := l.do(ctx, http.MethodGet, path, nil)
		if err != nil {
			return fmt.Errorf("preload: %v", err)
		}
		if r.Status != http.StatusOK {
			return fmt.Errorf("preload: GET %s: HTTP %d: %s", path, r.Status, truncate(r.Body, 300))
		}
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			LinkNext string `json:"link_next"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			return fmt.Errorf("preload: %v", err)
		}
		for _, it := range page.Items {
			l.ids = append(l.ids, it.ID)
		}
		if len(page.Items) == 0 || page.LinkNext == "" {
			break
		}
		path = page.LinkNext
	}
	if len(l.ids) == 0 {
		return errors.New("preload: no customers to read; seed first (-mode seed)")
	}
	return nil
}

// kind names what a request did, for the report rows.
const (
	kindRead   = "read"
	kindUpsert = "upsert"
	kindSeed   = "seed"
)

// sample is one finished request.
type sample struct {
	Latency time.Duration
	Status  int    // 0 on a transport error
	ErrKind string // transport error class when Status is 0
	Created bool   // upsert answered 201
	Items   int    // read: items in the page
	ErrBody string // first bytes of a non-2xx answer (or the transport error)
}

// recorder collects one worker's samples per kind (no locking: merged at
// the end).
type recorder map[string][]sample

func (l *loadgen) run(ctx context.Context) (report, error) {
	cfg := l.cfg
	if cfg.Mode == "read" || cfg.Mode == "mixed" {
		if err := l.preload(ctx); err != nil {
			return report{}, err
		}
	}
	warmup := cfg.Warmup
	if cfg.Mode == "seed" {
		warmup = 0
	}
	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(cfg.Duration)
	// Hard bound: requests still running a timeout after the end are cut.
	runCtx, cancel := context.WithDeadline(ctx, end.Add(cfg.Timeout))
	defer cancel()

	var seedNext chan int
	if cfg.Mode == "seed" {
		seedNext = make(chan int, cfg.Concurrency)
		go func() {
			defer close(seedNext)
			for i := 0; i < cfg.Refs; i++ {
				select {
				case seedNext <- i:
				case <-runCtx.Done():
					return
				}
			}
		}()
	}

	recs := make([]recorder, cfg.Concurrency)
	lastDone := make([]time.Time, cfg.Concurrency)
	var wg sync.WaitGroup
	for w := 0; w < cfg.Concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			rec := recorder{}
			rev := 0
			for {
				if runCtx.Err() != nil || time.Now().After(end) {
					break
				}
				var kind, method, path string
				var body []byte
				switch {
				case cfg.Mode == "seed":
					i, ok := <-seedNext
					if !ok {
						break
					}
					kind, method = kindSeed, http.MethodPost
					path, body = l.upsertRequest(i, 0)
				case cfg.Mode == "read" || (cfg.Mode == "mixed" && rng.Float64() < cfg.ReadRatio):
					kind, method, path = kindRead, http.MethodGet, l.readPath(rng)
				default:
					rev++
					kind, method = kindUpsert, http.MethodPost
					path, body = l.upsertRequest(rng.IntN(cfg.Refs), w*1_000_000+rev)
				}
				if kind == "" {
					break // seed: every ref done
				}
				t0 := time.Now()
				r, err := l.do(runCtx, method, path, body)
				t1 := time.Now()
				if t0.Before(measureFrom) {
					continue // warm-up
				}
				s := sample{Latency: t1.Sub(t0), Status: r.Status}
				if err != nil {
					s.Status, s.ErrKind, s.ErrBody = 0, errKind(err), err.Error()
				} else if s.Status < 200 || s.Status >= 300 {
					s.ErrBody = truncate(r.Body, 300)
				}
				if s.Status == http.StatusCreated {
					s.Created = true
				}
				if kind == kindRead && s.Status == http.StatusOK {
					s.Items = bytes.Count(r.Body, []byte(`{"id":`))
				}
				rec[kind] = append(rec[kind], s)
				lastDone[w] = t1
			}
			recs[w] = rec
		}(w)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return report{}, errors.New("interrupted")
	}
	stopAt := end
	if cfg.Mode == "seed" {
		stopAt = measureFrom
	}
	for _, t := range lastDone {
		if t.After(stopAt) {
			stopAt = t
		}
	}
	if cfg.Mode != "seed" && stopAt.Before(end) {
		stopAt = end
	}
	return buildReport(cfg, recs, stopAt.Sub(measureFrom), len(l.ids)), nil
}

// readPath is a page request starting after a random preloaded id. The id
// is drawn from all but the last page_size ids, so that every page is full.
func (l *loadgen) readPath(rng *rand.Rand) string {
	n := len(l.ids)
	if n > l.cfg.PageSize {
		n -= l.cfg.PageSize
	}
	return "/main/v1/customer?page_size=" + strconv.Itoa(l.cfg.PageSize) + "&after=" + l.ids[rng.IntN(n)]
}

// upsertRequest is the create-or-update of customer i; rev > 0 changes the
// name so that an update is a real write, not a no-op.
func (l *loadgen) upsertRequest(i, rev int) (string, []byte) {
	ref := fmt.Sprintf("%s%06d", l.cfg.RefPrefix, i)
	name := "Bench customer " + ref
	if rev > 0 {
		name += " r" + strconv.Itoa(rev)
	}
	body, _ := json.Marshal(map[string]string{"administration_id": l.cfg.AdminID, "name": name, "country": "NL", "entity_type": "person"})
	return "/main/v1/customer/ext_ref." + url.PathEscape(ref), body
}

// errKind classifies a transport error for the report.
func errKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	default:
		return "transport error"
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// --- statistics ------------------------------------------------------------

// report is the result of a run.
type report struct {
	Mode        string    `json:"mode"`
	URL         string    `json:"url"`
	Concurrency int       `json:"concurrency"`
	Warmup      string    `json:"warmup"`
	Duration    string    `json:"duration"`
	Seconds     float64   `json:"measured_seconds"`
	Refs        int       `json:"refs,omitempty"`
	PageSize    int       `json:"page_size,omitempty"`
	PreloadIDs  int       `json:"preloaded_ids,omitempty"`
	Rows        []stats   `json:"rows"`
	Targets     []verdict `json:"targets,omitempty"`
	Finished    time.Time `json:"finished"`
	Total       *stats    `json:"total,omitempty"`
}

// stats summarises the samples of one kind. Latencies are in milliseconds.
type stats struct {
	Kind     string         `json:"kind"`
	Requests int            `json:"requests"`
	Success  int            `json:"success"`
	Errors   int            `json:"errors"`
	ByStatus map[string]int `json:"errors_by_status,omitempty"`
	// Examples holds up to three distinct error answers per status.
	Examples map[string][]string `json:"error_examples,omitempty"`
	RPS      float64             `json:"requests_per_second"`
	OKRPS    float64             `json:"success_per_second"`
	P50      float64             `json:"p50_ms"`
	P90      float64             `json:"p90_ms"`
	P99      float64             `json:"p99_ms"`
	Max      float64             `json:"max_ms"`
	Mean     float64             `json:"mean_ms"`
	Created  int                 `json:"created,omitempty"`
	// CreatedFraction is created / success for upserts.
	CreatedFraction float64 `json:"created_fraction,omitempty"`
	// ItemsPerPage is the mean number of items in a successful read.
	ItemsPerPage float64 `json:"items_per_page,omitempty"`
}

// verdict compares a row with the targets given on the command line.
type verdict struct {
	Kind    string  `json:"kind"`
	WantRPS float64 `json:"want_rps,omitempty"`
	GotRPS  float64 `json:"got_rps"`
	WantP99 float64 `json:"want_p99_ms,omitempty"`
	GotP99  float64 `json:"got_p99_ms"`
	Met     bool    `json:"met"`
}

// percentile is the nearest-rank percentile p (0 < p ≤ 100) of sorted: the
// smallest sample such that at least p% of the samples are ≤ it. p ≤ 0
// gives the minimum; an empty slice gives 0.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	if p >= 100 {
		return sorted[n-1]
	}
	// Integer arithmetic on p in millionths avoids 0.99*100 = 98.99999….
	rank := (int64(math.Round(p*1e6))*int64(n) + 100e6 - 1) / 100e6
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3 // milliseconds, microsecond precision
}

// summarise computes the stats of samples measured over secs seconds.
func summarise(kind string, samples []sample, secs float64) stats {
	st := stats{Kind: kind, Requests: len(samples), ByStatus: map[string]int{}, Examples: map[string][]string{}}
	example := func(key, text string) {
		if len(st.Examples[key]) < 3 && !contains(st.Examples[key], text) {
			st.Examples[key] = append(st.Examples[key], text)
		}
	}
	lat := make([]time.Duration, len(samples))
	var sum time.Duration
	items := 0
	for i, s := range samples {
		lat[i] = s.Latency
		sum += s.Latency
		switch {
		case s.Status >= 200 && s.Status < 300:
			st.Success++
			items += s.Items
			if s.Created {
				st.Created++
			}
		case s.Status == 0:
			st.Errors++
			st.ByStatus[s.ErrKind]++
			example(s.ErrKind, s.ErrBody)
		default:
			st.Errors++
			st.ByStatus[strconv.Itoa(s.Status)]++
			example(strconv.Itoa(s.Status), s.ErrBody)
		}
	}
	if len(st.ByStatus) == 0 {
		st.ByStatus, st.Examples = nil, nil
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	st.P50, st.P90, st.P99 = ms(percentile(lat, 50)), ms(percentile(lat, 90)), ms(percentile(lat, 99))
	st.Max = ms(percentile(lat, 100))
	if len(lat) > 0 {
		st.Mean = ms(sum / time.Duration(len(lat)))
	}
	if secs > 0 {
		st.RPS = round1(float64(st.Requests) / secs)
		st.OKRPS = round1(float64(st.Success) / secs)
	}
	if st.Success > 0 {
		if kind != kindRead {
			st.CreatedFraction = math.Round(float64(st.Created)/float64(st.Success)*1e4) / 1e4
		} else {
			st.ItemsPerPage = round1(float64(items) / float64(st.Success))
		}
	}
	return st
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// buildReport merges the workers' samples into one row per kind, plus a
// total row when there are several kinds.
func buildReport(cfg config, recs []recorder, measured time.Duration, preloaded int) report {
	secs := measured.Seconds()
	byKind := map[string][]sample{}
	var all []sample
	for _, r := range recs {
		for k, s := range r {
			byKind[k] = append(byKind[k], s...)
			all = append(all, s...)
		}
	}
	rep := report{Mode: cfg.Mode, URL: cfg.BaseURL, Concurrency: cfg.Concurrency, Warmup: cfg.Warmup.String(),
		Duration: cfg.Duration.String(), Seconds: math.Round(secs*1000) / 1000, PreloadIDs: preloaded, Finished: time.Now().UTC()}
	if cfg.Mode == "seed" {
		rep.Warmup = "0s"
	}
	if cfg.Mode != "read" {
		rep.Refs = cfg.Refs
	}
	if cfg.Mode == "read" || cfg.Mode == "mixed" {
		rep.PageSize = cfg.PageSize
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		rep.Rows = append(rep.Rows, summarise(k, byKind[k], secs))
	}
	if len(kinds) > 1 {
		t := summarise("total", all, secs)
		t.Created, t.CreatedFraction, t.ItemsPerPage = 0, 0, 0
		rep.Total = &t
	}
	if cfg.WantRPS > 0 || cfg.WantP99 > 0 {
		for _, r := range rep.Rows {
			v := verdict{Kind: r.Kind, WantRPS: cfg.WantRPS, GotRPS: r.OKRPS, WantP99: ms(cfg.WantP99), GotP99: r.P99, Met: true}
			if cfg.WantRPS > 0 && r.OKRPS < cfg.WantRPS {
				v.Met = false
			}
			if cfg.WantP99 > 0 && r.P99 >= ms(cfg.WantP99) {
				v.Met = false
			}
			if r.Errors > 0 {
				v.Met = false
			}
			rep.Targets = append(rep.Targets, v)
		}
	}
	return rep
}

// writeTable prints the report for people.
func writeTable(w io.Writer, rep report) {
	fmt.Fprintf(w, "mode %s  url %s  concurrency %d  warm-up %s  measured %.3fs", rep.Mode, rep.URL, rep.Concurrency, rep.Warmup, rep.Seconds)
	if rep.PreloadIDs > 0 {
		fmt.Fprintf(w, "  preloaded ids %d  page_size %d", rep.PreloadIDs, rep.PageSize)
	}
	if rep.Refs > 0 {
		fmt.Fprintf(w, "  refs %d", rep.Refs)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\trequests\tsuccess\terrors\treq/s\tok/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\tmean ms\t")
	rows := rep.Rows
	if rep.Total != nil {
		rows = append(append([]stats{}, rows...), *rep.Total)
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", r.Kind, r.Requests, r.Success, r.Errors,
			r.RPS, r.OKRPS, r.P50, r.P90, r.P99, r.Max, r.Mean)
	}
	tw.Flush()
	for _, r := range rep.Rows {
		if r.Kind != kindRead && r.Success > 0 {
			fmt.Fprintf(w, "%s: %d of %d successful upserts created a customer (%.2f%%), the rest updated one\n",
				r.Kind, r.Created, r.Success, r.CreatedFraction*100)
		}
		if r.Kind == kindRead && r.Success > 0 {
			fmt.Fprintf(w, "read: %.1f items per page on average\n", r.ItemsPerPage)
		}
		if len(r.ByStatus) > 0 {
			keys := make([]string, 0, len(r.ByStatus))
			for k := range r.ByStatus {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = fmt.Sprintf("%s: %d", k, r.ByStatus[k])
			}
			fmt.Fprintf(w, "%s errors by status: %s\n", r.Kind, strings.Join(parts, ", "))
			for _, k := range keys {
				for _, e := range r.Examples[k] {
					fmt.Fprintf(w, "  %s example: %s\n", k, e)
				}
			}
		}
	}
	for _, v := range rep.Targets {
		state := "MET"
		if !v.Met {
			state = "MISSED"
		}
		fmt.Fprintf(w, "target %s: want", v.Kind)
		if v.WantRPS > 0 {
			fmt.Fprintf(w, " ≥ %.0f ok/s", v.WantRPS)
		}
		if v.WantP99 > 0 {
			fmt.Fprintf(w, " p99 < %.0f ms", v.WantP99)
		}
		fmt.Fprintf(w, ", no errors; got %.1f ok/s, p99 %.2f ms: %s\n", v.GotRPS, v.GotP99, state)
	}
}
