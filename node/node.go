// Package node assembles roamnode's HTTP app from its surfaces — OCPI, the
// Admin API and the App API — plus health, readiness and metrics, so that
// the binary and the tests run exactly the same app.
package node

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/roamnode/roamnode/adminapi"
	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/ocpi/module"
	"github.com/roamnode/roamnode/roaming"
	"github.com/roamnode/roamnode/worker"
)

// Deps are the node's connections and settings.
type Deps struct {
	Pool      *pgxpool.Pool
	Redis     redis.UniversalClient
	Log       *slog.Logger
	Version   string
	PublicURL string
	AccessLog bool
	Admin     adminapi.Options
	// Recorder receives every OCPI exchange in both directions (the
	// exchange log); nil discards them.
	Recorder roaming.Recorder
	// Client tunes outbound OCPI calls.
	Client roaming.Options
	// ExchangeBodyBytes is how much of each body the exchange log keeps
	// (both directions; 0 = 4096).
	ExchangeBodyBytes int
}

type discard struct{}

func (discard) Record(context.Context, roaming.Exchange) {}

// App builds the Fiber app.
func App(d Deps) *fiber.App {
	if d.Admin.Version == "" {
		d.Admin.Version = d.Version
	}
	if d.Admin.PublicURL == "" {
		d.Admin.PublicURL = d.PublicURL
	}
	app := fiber.New(fiber.Config{
		AppName:               "roamnode " + d.Version,
		DisableStartupMessage: true,
		BodyLimit:             4 << 20,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		JSONEncoder:           marshalJSON,
		// Each surface answers errors in its own format.
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			if strings.HasPrefix(c.Path(), "/ocpi") {
				return ocpi.WriteError(c, err, d.Log)
			}
			return adminapi.WriteError(c, err, d.Log)
		},
	})
	app.Use(observe(d))
	// A panicking handler answers 500 (through the surface's error format)
	// instead of taking the process down.
	app.Use(recover.New())
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok", "version": d.Version}) })
	app.Get("/readyz", readyz(d))
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(registry(), promhttp.HandlerOpts{})))
	if d.Recorder == nil {
		d.Recorder = discard{}
	}
	if d.ExchangeBodyBytes > 0 {
		d.Client.LogBodyBytes = d.ExchangeBodyBytes
	}
	client := roaming.NewClient(d.Client, d.Recorder)
	versionsURL := strings.TrimRight(d.PublicURL, "/") + "/ocpi/versions"
	registrar := roaming.NewRegistrar(db.RoamingStore{Pool: d.Pool, View: func(c partner.Connection) any {
		return adminapi.ConnectionView(c, versionsURL)
	}}, client, d.PublicURL)
	ocpiSrv := module.New(d.Pool, registrar, d.Recorder, d.Log, module.Options{PublicURL: d.PublicURL, LogBodyBytes: d.ExchangeBodyBytes})
	ocpiSrv.Mount(app)
	// New charge sessions go to the worker through Redis; Postgres keeps them
	// pending, so intake works (and the sweeper catches up) when Redis is down.
	ocpiSrv.MountCDRs(app, worker.NewSessionQueue(d.Redis, d.Pool))
	d.Admin.Registrar = registrar
	d.Admin.CPOTokens.Client = client
	adminapi.New(d.Pool, d.Redis, d.Log, d.Admin).Mount(app)
	return app
}

// marshalJSON encodes responses without HTML escaping, so that links such
// as link_next keep a literal "&". It uses goccy/go-json, a drop-in
// encoding/json replacement that compiles encoders per type instead of
// reflecting per value: JSON encoding was the largest node-side cost of
// list pages (docs/performance.md).
func marshalJSON(v any) ([]byte, error) {
	return gojson.MarshalWithOption(v, gojson.DisableHTMLEscape())
}

// readyz reports 200 when Postgres and Redis answer, else 503 naming each
// failing dependency. The pools reconnect by themselves, so readiness
// returns once the dependency does.
func readyz(d Deps) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		var mu sync.Mutex
		failing := map[string]string{}
		var wg sync.WaitGroup
		check := func(name string, f func(context.Context) error) {
			defer wg.Done()
			if err := f(ctx); err != nil {
				mu.Lock()
				failing[name] = "unreachable"
				mu.Unlock()
				d.Log.Warn("readiness check failed", "dependency", name, "err", err)
			}
		}
		wg.Add(2)
		go check("postgres", d.Pool.Ping)
		go check("redis", func(ctx context.Context) error { return d.Redis.Ping(ctx).Err() })
		wg.Wait()
		if len(failing) > 0 {
			names := make([]string, 0, len(failing))
			for n := range failing {
				names = append(names, n)
			}
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "failing": names})
		}
		return c.JSON(fiber.Map{"status": "ready"})
	}
}

var (
	regOnce  sync.Once
	reg      *prometheus.Registry
	requests *prometheus.HistogramVec
)

// registry holds the node's metrics (one per process).
func registry() *prometheus.Registry {
	regOnce.Do(func() {
		reg = prometheus.NewRegistry()
		reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
		requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "roamnode_http_request_duration_seconds",
			Help:    "HTTP requests by method, route template and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route", "status"})
		reg.MustRegister(requests)
	})
	return reg
}

// observerKey names one series of the request histogram.
type observerKey struct {
	method, route string
	status        int
}

// observers caches the histogram's series by method, route and status, so
// that a request costs one map lookup instead of formatting and hashing
// three label values (WithLabelValues); there are as many entries as
// series, which the route templates bound.
var observers sync.Map // observerKey → prometheus.Observer

// observer returns the series of (method, route, status).
func observer(method, route string, status int) prometheus.Observer {
	if o, ok := observers.Load(observerKey{method, route, status}); ok {
		return o.(prometheus.Observer)
	}
	// Fiber's strings may point into buffers it reuses: the key keeps copies.
	k := observerKey{strings.Clone(method), strings.Clone(route), status}
	o := requests.WithLabelValues(k.method, k.route, strconv.Itoa(status))
	observers.Store(k, o)
	return o
}

// observe gives every request an id (kept from X-Request-ID when sent),
// records its duration by route template, and writes one access-log line.
func observe(d Deps) fiber.Handler {
	registry()
	return func(c *fiber.Ctx) error {
		start := time.Now()
		rid := c.Get("X-Request-ID")
		if rid == "" || len(rid) > 128 {
			rid = uuid.NewString()
		}
		c.Set("X-Request-ID", rid)
		err := c.Next()
		var fe *fiber.Error
		unmatched := errors.As(err, &fe) && fe.Code == fiber.StatusNotFound
		if err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		status := c.Response().StatusCode()
		route := c.Route().Path
		if unmatched { // the router found no route: one label for all such paths
			route = "unmatched"
		}
		dur := time.Since(start)
		observer(c.Method(), route, status).Observe(dur.Seconds())
		if d.AccessLog {
			d.Log.Info("request", "request_id", rid, "method", c.Method(), "route", route,
				"path", strings.Clone(c.Path()), "status", status, "duration_ms", float64(dur.Microseconds())/1000)
		}
		return nil
	}
}
