// Command bench-cdrs measures the charge-session pipeline (README "Charge
// sessions and drop-outs", docs/performance.md):
//
//  1. intake: partners POST -n CDRs to the OCPI CDRs receiver of a real node
//     (node.App on a local port, with the exchange log) from -conc
//     keep-alive clients, the worker stopped: every CDR is decoded,
//     checked, stored with its original and outbox event, and enqueued.
//  2. processing: a real worker (worker.Run, -workers concurrent tasks)
//     takes the backlog of -n sessions through matching and validation to
//     ready_for_pricing; the rate is reported overall and per 5 s window.
//  3. mixed (with -mixed): another -n CDRs arrive while the worker runs;
//     the end-to-end rate is from the first POST until the last session
//     is ready_for_pricing.
//
// With -pricing the pipeline goes on to MSP pricing (issue 6) and every
// phase waits for state priced instead: the tokens are linked to
// subscriptions (one per ten tokens), half of them on a plan whose rate
// plan prices energy, time and a flat fee, half on one that passes the
// CPO's tariff (the CDR's own) through with a markup; the seller has a VAT
// setup; so each session is priced with the tariff engine and VAT per
// component and stored as a versioned result with its outbox event.
//
//	go run ./scripts/bench-cdrs                    # 100,000 CDRs
//	go run ./scripts/bench-cdrs -n 20000 -mixed
//	go run ./scripts/bench-cdrs -pricing -mixed    # pipeline with pricing
//
// Postgres comes from DATABASE_URL (a database is cloned from the migrated
// template and dropped at the end), Redis from BENCH_REDIS_URL (default
// redis://127.0.0.1:6379/15, a database index no test uses; it is flushed).
// After processing it lists each prepared statement's generic and custom
// plans; BENCH_PLAN_CACHE_MODE (e.g. force_generic_plan) sets
// plan_cache_mode on the node's and worker's connections, an experiment
// (docs/performance.md, "Pipeline with pricing", round 5).
// Targets (issue 5): intake ≥ 1,500 CDRs/s, processing to
// ready_for_pricing ≥ 800 CDRs/s sustained over 100,000 CDRs; (issue 6)
// the pipeline including pricing ≥ 600 CDRs/s end to end over 100,000
// CDRs.
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
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/node"
	"github.com/roamnode/roamnode/roaming"
	"github.com/roamnode/roamnode/worker"
)

type config struct {
	n, conc, workers, locations, tokens int
	lanes, batch                        int
	dbConns                             int32
	mixed, pricing                      bool
	vacuum                              time.Duration
	timeout                             time.Duration
	cpuprofile                          string
}

// target is the state every session of a phase must reach.
var target = "ready_for_pricing"

func main() {
	var c config
	flag.IntVar(&c.n, "n", 100_000, "CDRs per phase")
	flag.IntVar(&c.conc, "conc", 32, "concurrent partner connections posting CDRs")
	flag.IntVar(&c.workers, "workers", 16, "worker concurrency (asynq tasks: pushes, webhooks)")
	flag.IntVar(&c.lanes, "lanes", 0, "charge-session lanes of the worker (0: the default)")
	flag.IntVar(&c.batch, "batch", 0, "sessions a lane claims per transaction (0: the default)")
	flag.IntVar(&c.locations, "locations", 2000, "partner locations seeded (two EVSEs each)")
	flag.IntVar(&c.tokens, "tokens", 20_000, "MSP tokens seeded")
	dbConns := flag.Int("db-conns", 32, "Postgres pool size of the node and the worker")
	flag.BoolVar(&c.mixed, "mixed", false, "also measure intake and processing at the same time")
	flag.BoolVar(&c.pricing, "pricing", false, "run MSP pricing too (sessions end priced)")
	flag.DurationVar(&c.vacuum, "vacuum", 0, "run VACUUM ANALYZE on the pipeline's tables this often, as autovacuum would (0: never)")
	flag.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of the processing phase to this file")
	flag.DurationVar(&c.timeout, "timeout", 20*time.Minute, "give up after")
	flag.Parse()
	c.dbConns = int32(*dbConns)
	if c.pricing {
		target = "priced"
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench-cdrs:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fmt.Printf("machine: %d CPUs (%s/%s), Go %s; Postgres %s; Redis %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(),
		dbtest.ServerURL(), redisURL())

	d, err := dbtest.New(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	dsn := d.DSN
	if m := os.Getenv("BENCH_PLAN_CACHE_MODE"); m != "" { // experiment: every connection of the node and worker
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + "plan_cache_mode=" + m
	}
	pool, err := db.Open(ctx, dsn, c.dbConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	opt, err := redis.ParseURL(redisURL())
	if err != nil {
		return err
	}
	opt.PoolSize = 64
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return err
	}
	defer rdb.FlushDB(context.Background())

	token, err := seed(ctx, d, c)
	if err != nil {
		return err
	}
	if c.pricing {
		if err := seedPricing(ctx, d, c); err != nil {
			return err
		}
	}
	exchanges := db.NewExchangeLog(pool, log, 10000)
	defer exchanges.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	app := node.App(node.Deps{Pool: pool, Redis: rdb, Log: log, Version: "bench", PublicURL: base, Recorder: exchanges,
		ExchangeBodyBytes: 4096, Client: roaming.Options{Timeout: 5 * time.Second, MaxRetries: 1}})
	go func() { _ = app.Listener(ln) }()
	defer app.ShutdownWithTimeout(5 * time.Second)
	p := &poster{url: base + "/ocpi/2.2.1/emsp/cdrs", auth: "Token " + base64.StdEncoding.EncodeToString([]byte(token)), c: c,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: c.conc, MaxConnsPerHost: c.conc}}}
	fmt.Printf("seeded %d partner locations (%d EVSEs) and %d MSP tokens; %d CDRs per phase, %d clients, worker concurrency %d, %d Postgres connections\n",
		c.locations, 2*c.locations, c.tokens, c.n, c.conc, c.workers, c.dbConns)

	// 1. Intake, worker stopped.
	meter := cpuMeter{d: d, rdb: rdb}
	before := meter.sample(ctx)
	el, lat, err := p.postRange(ctx, 0, c.n)
	if err != nil {
		return err
	}
	stored := count(ctx, d, "SELECT count(*) FROM charge_session")
	due := count(ctx, d, "SELECT count(*) FROM charge_session WHERE state = 'received' AND next_attempt_at IS NULL")
	fmt.Printf("intake: %d CDRs in %.1fs = %.0f CDRs/s (p50 %s, p99 %s); stored %d, due %d\n",
		c.n, el.Seconds(), float64(c.n)/el.Seconds(), lat.p(50), lat.p(99), stored, due)
	meter.sample(ctx).since(before).report("intake", c.n, el)
	if stored != c.n || due != c.n {
		return fmt.Errorf("intake: %d stored and %d due, want %d", stored, due, c.n)
	}

	if c.vacuum > 0 {
		// This machine's Postgres runs with autovacuum off; a production
		// server vacuums and analyzes growing tables by itself.
		go vacuumEvery(ctx, pool, c.vacuum)
	}

	// 2. Processing of the backlog.
	if c.cpuprofile != "" {
		f, err := os.Create(c.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer f.Close()
	}
	before = meter.sample(ctx)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(wctx, worker.Deps{Pool: pool, Redis: rdb, Log: log}, worker.Options{Concurrency: c.workers, ShutdownTimeout: 5 * time.Second},
			worker.Sessions(worker.SessionOptions{Pricing: c.pricing, Lanes: c.lanes, Batch: c.batch}))
	}()
	defer func() { stop(); <-done }()
	el, windows, err := waitReady(ctx, d, c.n, time.Now())
	if err != nil {
		return err
	}
	if c.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	fmt.Printf("processing: %d sessions to %s in %.1fs = %.0f sessions/s; slowest 5 s window %.0f/s, fastest %.0f/s\n",
		c.n, target, el.Seconds(), float64(c.n)/el.Seconds(), windows[0], windows[len(windows)-1])
	meter.sample(ctx).since(before).report("processing", c.n, el)
	planReport(ctx, pool, int64(c.n)/10)

	// 3. Both at once.
	if c.mixed {
		start := time.Now()
		before = meter.sample(ctx)
		if _, _, err := p.postRange(ctx, c.n, 2*c.n); err != nil {
			return err
		}
		el, _, err := waitReady(ctx, d, 2*c.n, start)
		if err != nil {
			return err
		}
		fmt.Printf("mixed: %d CDRs posted and processed to %s in %.1fs = %.0f CDRs/s end to end\n",
			c.n, target, el.Seconds(), float64(c.n)/el.Seconds())
		meter.sample(ctx).since(before).report("mixed", c.n, el)
	}
	if n := count(ctx, d, "SELECT count(*) FROM charge_session WHERE state <> '"+target+"'"); n != 0 {
		return fmt.Errorf("%d sessions did not reach %s", n, target)
	}
	if c.pricing {
		var results, events, passThrough int
		if err := d.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE detail->>'mode' = 'pass_through') FROM charge_session_price
			WHERE kind = 'msp' AND version = 1`).Scan(&results, &passThrough); err != nil {
			return err
		}
		events = count(ctx, d, "SELECT count(*) FROM outbox_event WHERE kind = 'msp-charge-session-priced'")
		fmt.Printf("pricing: %d MSP results (%d passed the CPO tariff through), %d msp-charge-session-priced events\n", results, passThrough, events)
		if results != count(ctx, d, "SELECT count(*) FROM charge_session") || events != results {
			return fmt.Errorf("pricing: %d results and %d events for %d sessions", results, events, count(ctx, d, "SELECT count(*) FROM charge_session"))
		}
	}
	return nil
}

// vacuumEvery stands in for autovacuum: VACUUM ANALYZE of the tables the
// pipeline grows, every d until ctx ends. Its backend counts in the
// Postgres CPU the phases report.
func vacuumEvery(ctx context.Context, pool *pgxpool.Pool, d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) charge_session, charge_session_original, charge_session_price, outbox_event"); err != nil && ctx.Err() == nil {
				fmt.Fprintln(os.Stderr, "bench-cdrs: vacuum:", err)
			}
		}
	}
}

func redisURL() string {
	if u := os.Getenv("BENCH_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/15"
}

func count(ctx context.Context, d *dbtest.Database, q string) int {
	var n int
	if err := d.Pool.QueryRow(ctx, q).Scan(&n); err != nil {
		panic(err)
	}
	return n
}

// waitReady waits until want sessions are in the target state and returns
// the time since start and the rates of each full 5 s window, sorted.
func waitReady(ctx context.Context, d *dbtest.Database, want int, start time.Time) (time.Duration, []float64, error) {
	var windows []float64
	// Every CDR of the phase is stored before this is called, so the done
	// ones are want minus the pending ones. Counting the pending ones walks
	// the pipeline's own indexes (charge_session_pending, and
	// charge_session_state for ready_for_pricing): counting the done ones
	// was a scan of the whole table every poll, up to 100 ms of Postgres
	// CPU each at 200,000 sessions, which the phases' CPU figures counted
	// as the pipeline's.
	q := `SELECT (SELECT count(*) FROM charge_session WHERE state IN ('received', 'matching', 'validating'))
		+ (SELECT count(*) FROM charge_session WHERE side IN ('msp', 'cpo') AND state = 'ready_for_pricing')`
	if target == "ready_for_pricing" {
		q = "SELECT count(*) FROM charge_session WHERE state IN ('received', 'matching', 'validating')"
	}
	done := func() int { return want - count(ctx, d, q) }
	last, lastAt := done(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(time.Second):
		}
		n := done()
		if n >= want {
			el := time.Since(start)
			if len(windows) == 0 {
				windows = []float64{float64(n-last) / time.Since(lastAt).Seconds()}
			}
			sort.Float64s(windows)
			return el, windows, nil
		}
		if time.Since(lastAt) >= 5*time.Second {
			windows = append(windows, float64(n-last)/time.Since(lastAt).Seconds())
			last, lastAt = n, time.Now()
		}
	}
}

// seed stores a seller and administration, a CPO partner BE-BEC on a
// registered connection (whose token it returns), its locations with two
// EVSEs each, and the MSP tokens, with set-based SQL.
func seed(ctx context.Context, d *dbtest.Database, c config) (string, error) {
	now := time.Now().UTC()
	tok := partner.NewToken()
	conn := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "cpo", Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	conn.Registered(tok, "their-token", "http://127.0.0.1:1/versions", "2.2.1", nil, nil, "partner", now)
	if err := db.SaveConnection(ctx, d.Pool, conn, true); err != nil {
		return "", err
	}
	q := db.Q(d.Pool)
	pid := uuid.Must(uuid.NewV7())
	if err := q.InsertPartner(ctx, gen.InsertPartnerParams{ID: pid, Name: "BEC", Country: "BE", CreatedAt: now, UpdatedAt: now}); err != nil {
		return "", err
	}
	if err := q.InsertPartyID(ctx, gen.InsertPartyIDParams{ID: uuid.Must(uuid.NewV7()), PartnerID: pid, ConnectionID: &conn.ID,
		CountryCode: "BE", PartyID: "BEC", Role: "CPO", CreatedAt: now}); err != nil {
		return "", err
	}
	seller, admin := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	stmts := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO seller (id, name, country, created_at, updated_at) VALUES ($1, 'S', 'NL', now(), now())`, []any{seller}},
		{`INSERT INTO administration (id, seller_id, name, currency, created_at, updated_at) VALUES ($1, $2, 'A', 'EUR', now(), now())`, []any{admin, seller}},
		{`INSERT INTO partner_location (id, connection_id, country_code, party_id, location_id, location_key, latitude, longitude, time_zone,
			publish, last_updated, data, created_at, updated_at)
		  SELECT gen_random_uuid(), $1, 'BE', 'BEC', 'L' || lpad(i::text, 6, '0'), 'L' || lpad(i::text, 6, '0'), 51, 3.7, 'Europe/Brussels',
			true, now(), '{}', now(), now() FROM generate_series(1, $2) i`, []any{conn.ID, c.locations}},
		{`INSERT INTO partner_evse (location_ref, position, uid, uid_key, evse_id, evse_id_key, status, last_updated, data)
		  SELECT l.id, e - 1, l.location_id || '-' || e, l.location_key || '-' || e, 'BE*BEC*E' || l.location_id || e, 'BEBECE' || l.location_key || e,
			'AVAILABLE', now(), jsonb_build_object('uid', l.location_id || '-' || e, 'connectors',
			jsonb_build_array(jsonb_build_object('id', '1', 'power_type', 'AC_3_PHASE', 'max_voltage', 230, 'max_amperage', 32, 'max_electric_power', 22000)))
		  FROM partner_location l CROSS JOIN generate_series(1, 2) e`, nil},
		{`INSERT INTO msp_token (id, administration_id, evco_id, country_code, party_id, uid, uid_key, type, issuer, created_at, updated_at)
		  SELECT gen_random_uuid(), $1, 'NLRNEC' || lpad(i::text, 9, '0'), 'NL', 'RNE', 'T' || lpad(i::text, 7, '0'), 'T' || lpad(i::text, 7, '0'),
			'RFID', 'RoamNode', now(), now() FROM generate_series(1, $2) i`, []any{admin, c.tokens}},
		{`ANALYZE`, nil},
	}
	for _, s := range stmts {
		if _, err := d.Pool.Exec(ctx, s.sql, s.args...); err != nil {
			return "", fmt.Errorf("seed: %w", err)
		}
	}
	return tok, nil
}

// seedPricing gives the seeded administration what MSP pricing needs: a
// VAT setup (seller in NL, Belgium on the origin country, charge sessions
// standard, 21 %), a customer, two rate plans — "Standard" (energy
// 0.30/kWh with 1 Wh steps, time 0.02/min in whole minutes, flat 0.35, and
// a more specific rule for DC at BE-BEC that these CDRs do not match) and
// "Roaming" (the CPO's tariff with 10 % and 0.25 markup) — each on a
// subscription plan, one subscription per ten tokens alternating between
// the plans, and every token linked to one.
func seedPricing(ctx context.Context, d *dbtest.Database, c config) error {
	std := `[{"code":"std","components":[{"type":"energy","unit":"kwh","price":"0.30","step_size":1,"credits":{"apply":false}},
		{"type":"time","unit":"minute","price":"0.02","step_size":60,"credits":{"apply":false}},
		{"type":"flat","unit":"session","price":"0.35","credits":{"apply":false}}]},
		{"code":"dc","components":[{"type":"energy","unit":"kwh","price":"0.59","credits":{"apply":false}}]}]`
	stdRules := `[{"rate":"std"},{"rate":"dc","cpo_party":"BE-BEC","power_types":["DC"]}]`
	pt := `[{"code":"pt","pass_through":{"markup_percentage":"10","markup_fixed":"0.25","credits":{"apply":false}}}]`
	ptRules := `[{"rate":"pt"}]`
	stmts := []string{
		`INSERT INTO seller_vat_policy (seller_id, fallback, eu_reverse_charge, country_policies, created_at, updated_at)
		  SELECT seller_id, 'seller_country', false, '{"BE":"origin_country"}', now(), now() FROM administration`,
		`INSERT INTO vat_rule (id, product_category, indicators, criteria_key, kind, created_at, updated_at)
		  VALUES (gen_random_uuid(), 'msp_charge_session', '{}', 'msp_charge_session||', 'standard', now(), now())`,
		`INSERT INTO vat_rate (id, country, kind, percentage, created_at, updated_at)
		  VALUES (gen_random_uuid(), 'NL', 'standard', 21, now(), now()), (gen_random_uuid(), 'BE', 'standard', 21, now(), now())`,
		`INSERT INTO party (id, role, administration_id, name, country, entity_type, created_at, updated_at)
		  SELECT gen_random_uuid(), 'customer', id, 'Customer', 'NL', 'person', now(), now() FROM administration`,
		`INSERT INTO rate_plan (id, administration_id, name, currency, rates, rules, created_at, updated_at)
		  SELECT gen_random_uuid(), id, 'Standard', 'EUR', '` + std + `'::jsonb, '` + stdRules + `'::jsonb, now(), now() FROM administration
		  UNION ALL SELECT gen_random_uuid(), id, 'Roaming', 'EUR', '` + pt + `'::jsonb, '` + ptRules + `'::jsonb, now(), now() FROM administration`,
		`INSERT INTO msp_token_subscription_plan (id, administration_id, name, rate_plan_id, created_at, updated_at)
		  SELECT gen_random_uuid(), r.administration_id, r.name, r.id, now(), now() FROM rate_plan r`,
		`INSERT INTO msp_token_subscription (id, administration_id, customer_id, plan_id, valid_from, created_at, updated_at)
		  SELECT gen_random_uuid(), p.administration_id, c.id, p.id, now() - interval '400 days', now(), now()
		  FROM generate_series(1, ` + fmt.Sprint((c.tokens+9)/10) + `) i
		  JOIN msp_token_subscription_plan p ON p.name = CASE WHEN i % 2 = 0 THEN 'Standard' ELSE 'Roaming' END
		  JOIN party c ON c.administration_id = p.administration_id AND c.role = 'customer'`,
		`INSERT INTO msp_token_link (id, token_id, subscription_id, valid_from, created_at, updated_at)
		  SELECT gen_random_uuid(), t.id, s.id, now() - interval '400 days', now(), now()
		  FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / 10 AS g FROM msp_token) t
		  JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS g FROM msp_token_subscription) s ON s.g = t.g`,
		`ANALYZE`,
	}
	for _, s := range stmts {
		if _, err := d.Pool.Exec(ctx, s); err != nil {
			return fmt.Errorf("seed pricing: %w", err)
		}
	}
	fmt.Printf("seeded pricing: VAT setup, rate plans Standard (energy/time/flat) and Roaming (CPO tariff + markup), %d subscriptions, every token linked\n", (c.tokens+9)/10)
	return nil
}

// poster posts CDRs from concurrent keep-alive clients.
type poster struct {
	url, auth string
	c         config
	client    *http.Client
}

// cdrTemplate is the OCPI 2.2.1 CDR every posted CDR is a copy of (the
// fields a CPO sends; charging periods and costs as in the official
// example).
var cdrTemplate = map[string]any{
	"country_code": "BE", "party_id": "BEC", "id": "", "start_date_time": "", "end_date_time": "", "session_id": "",
	"cdr_token":   map[string]any{"country_code": "NL", "party_id": "RNE", "uid": "", "type": "RFID", "contract_id": ""},
	"auth_method": "WHITELIST",
	"cdr_location": map[string]any{"id": "", "name": "Gent Zuid", "address": "F.Rooseveltlaan 3A", "city": "Gent", "postal_code": "9000",
		"country": "BEL", "coordinates": map[string]any{"latitude": "3.729944", "longitude": "51.047599"}, "evse_uid": "", "evse_id": "",
		"connector_id": "1", "connector_standard": "IEC_62196_T2", "connector_format": "SOCKET", "connector_power_type": "AC_3_PHASE"},
	"currency": "EUR",
	"tariffs": []any{map[string]any{"country_code": "BE", "party_id": "BEC", "id": "12", "currency": "EUR",
		"elements":     []any{map[string]any{"price_components": []any{map[string]any{"type": "TIME", "price": 2.00, "vat": 10.0, "step_size": 300}}}},
		"last_updated": "2015-02-02T14:15:01Z"}},
	"charging_periods": []any{map[string]any{"start_date_time": "", "dimensions": []any{map[string]any{"type": "TIME", "volume": 1.973}}, "tariff_id": "12"}},
	"total_cost":       map[string]any{"excl_vat": 4.00, "incl_vat": 4.40}, "total_energy": 15.342, "total_time": 1.973,
	"total_time_cost": map[string]any{"excl_vat": 4.00, "incl_vat": 4.40}, "last_updated": "",
}

// body returns CDR i: at EVSE (i mod 2) of location (i mod locations),
// with token (i mod tokens), ended an hour ago. Every other CDR was
// authorized in real time and carries an authorization_reference (stored
// and indexed for matching), the others were whitelisted.
func (p *poster) body(i int, end time.Time) []byte {
	m := cdrTemplate
	loc := fmt.Sprintf("L%06d", i%p.c.locations+1)
	e := i%2 + 1
	start := end.Add(-2 * time.Hour)
	auth, ref := "WHITELIST", any(nil)
	if i%2 == 0 {
		auth, ref = "AUTH_REQUEST", uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprintf("auth-%d", i))).String()
	}
	b, _ := json.Marshal(withValues(m, map[string]any{
		"auth_method": auth, "authorization_reference": ref,
		"id": fmt.Sprintf("CDR%09d", i), "session_id": fmt.Sprintf("S%09d", i),
		"start_date_time": start.Format(time.RFC3339), "end_date_time": end.Format(time.RFC3339), "last_updated": end.Format(time.RFC3339),
		"cdr_token.uid": fmt.Sprintf("T%07d", i%p.c.tokens+1), "cdr_token.contract_id": fmt.Sprintf("NL-RNE-C%09d", i%p.c.tokens+1),
		"cdr_location.id": loc, "cdr_location.evse_uid": fmt.Sprintf("%s-%d", loc, e), "cdr_location.evse_id": fmt.Sprintf("BE*BEC*E%s%d", loc, e),
		"charging_periods.0.start_date_time": start.Format(time.RFC3339),
	}))
	return b
}

// withValues copies the template with dotted paths set.
func withValues(t map[string]any, vals map[string]any) map[string]any {
	raw, _ := json.Marshal(t)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	for path, v := range vals {
		var cur any = m
		parts := splitPath(path)
		for _, k := range parts[:len(parts)-1] {
			switch c := cur.(type) {
			case map[string]any:
				cur = c[k]
			case []any:
				cur = c[0]
			}
		}
		cur.(map[string]any)[parts[len(parts)-1]] = v
	}
	return m
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '.' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return append(out, p[start:])
}

// latencies collects request durations.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) p(q int) time.Duration {
	if len(l.d) == 0 {
		return 0
	}
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	return l.d[(len(l.d)-1)*q/100].Round(100 * time.Microsecond)
}

// postRange posts CDRs [from, to) and returns the elapsed time. Bodies are
// built before the clock starts, so the load generator's JSON work is not
// measured as the node's.
func (p *poster) postRange(ctx context.Context, from, to int) (time.Duration, *latencies, error) {
	end := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	bodies := make([][]byte, to-from)
	for i := range bodies {
		bodies[i] = p.body(from+i, end)
	}
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	lat := &latencies{d: make([]time.Duration, 0, len(bodies))}
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < p.c.conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if err := p.post(ctx, bodies[i]); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat.add(time.Since(t0))
			}
		}()
	}
	wg.Wait()
	return time.Since(start), lat, firstErr
}

func (p *poster) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, "POST", p.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", p.auth)
	req.Header.Set("Content-Type", "application/json")
	res, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		return errors.New("POST CDR: " + res.Status + ": " + string(raw))
	}
	return nil
}
