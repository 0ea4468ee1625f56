// Package adminapi serves the Admin API (/main/v1) for integrators,
// following the conventions of the TandemDrive guide (shared/seeds/003…,
// Implementation guide): HTTP Basic with API accounts, seek pagination,
// ext_ref keys, merge-update, stale-update prevention, decimals as strings.
// Handlers are thin: decode, call domain rules, store, respond.
package adminapi

import (
	"context"
	_ "embed" // for the //go:embed of the OpenAPI document
	"log/slog"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/roaming"
	"github.com/roamnode/roamnode/worker"
)

// Options configure the Admin API.
type Options struct {
	Version      string // product version, sent as X-RN-Version
	RateRPS      int    // default requests/s per account and per client IP; 0 disables
	RateBurst    int    // default burst
	AccountCache int    // seconds an authenticated account is cached in-process
	RatePrefix   string // Redis key prefix of the rate-limit buckets (default "rn:rl:")
	PublicURL    string // how partners reach this node (for the OCPI versions URL we hand out)
	// Registrar runs OCPI credentials handshakes for the roaming-connection
	// actions (register, rotate, unregister).
	Registrar *roaming.Registrar
	// WebhookAllowPrivate lets webhook subscriptions target loopback,
	// link-local and private addresses (ROAMNODE_WEBHOOK_ALLOW_PRIVATE).
	WebhookAllowPrivate bool
	// CPOTokens configures partners' tokens as CPO (real-time authorization).
	CPOTokens CPOTokenOptions
}

// API is the Admin API.
type API struct {
	pool     *pgxpool.Pool
	log      *slog.Logger
	opts     Options
	accounts *accountCache
	limiter  *Limiter
	known    *idSet
	// kick enqueues the worker tasks of OCPI pushes recorded by a write.
	kick func(context.Context, ...roaming.PushRef)
	// sessions wakes the worker's charge-session lanes (nil without Redis).
	sessions *worker.SessionQueue
}

// New returns the Admin API.
func New(pool *pgxpool.Pool, rdb redis.UniversalClient, log *slog.Logger, opts Options) *API {
	lim := NewLimiter(rdb, log)
	if opts.RatePrefix != "" {
		lim.Prefix = opts.RatePrefix
	}
	a := &API{pool: pool, log: log, opts: opts, accounts: newAccountCache(pool, opts.AccountCache), limiter: lim,
		known: newIDSet(200_000), kick: worker.NewPushKicker(rdb, log).Kick}
	if rdb != nil {
		a.sessions = worker.NewSessionQueue(rdb, pool)
	}
	return a
}

// request is what an authenticated handler gets besides the Fiber context.
type request struct {
	api     *API
	account access.Account
}

// handler is an authenticated, authorized Admin API handler.
type handler func(c *fiber.Ctx, rq *request) error

// handle wraps h with authentication, rate limiting and the permission check.
func (a *API) handle(family string, level access.Level, h handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		acct, err := a.authenticate(c)
		if err != nil {
			return err
		}
		if !acct.Can(family, level) {
			return forbidden("the API account lacks the permission " + family + ":" + string(level))
		}
		return h(c, &request{api: a, account: acct})
	}
}

// Mount registers the Admin API under /main.
func (a *API) Mount(app *fiber.App) {
	main := app.Group("/main", func(c *fiber.Ctx) error {
		c.Set("X-RN-Version", a.opts.Version)
		return c.Next()
	})
	main.Get("/version", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"versions": []fiber.Map{{"version": "v1", "url": "/main/v1", "status": "current"}}})
	})
	v1 := main.Group("/v1")
	v1.Get("/openapi.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(openapiDoc)
	})
	sellerResource().mount(a, v1)
	administrationResource().mount(a, v1)
	customerResource().mount(a, v1)
	billingAddressResource().mount(a, v1)
	apiAccountResource().mount(a, v1)
	v1.Post("/api-account/:key/rotate-secret", a.handle("api-account", access.Write, rotateSecret))
	a.mountRoaming(v1)
	a.mountPartnerNetwork(v1)
	a.mountCPO(v1)
	a.mountPartnerTokens(v1)
	a.mountMSPToken(v1)
	a.mountTokenAuthorizations(v1)
	a.mountChargeCredits(v1)
	a.mountChargeAuthorizationRules(v1)
	a.mountSubscriptionCorrection(v1)
	a.mountWebhooks(v1)
	a.mountChargeSessions(v1)
	a.mountChargeSessionProgress(v1)
	a.mountCPOChargeSessions(v1)
	a.mountVAT(v1)
	a.mountPricing(v1)
	a.mountCPOReimbursements(v1)
	a.mountCPORoamingCost(v1)
}

// OpenAPI returns the embedded OpenAPI document (tests validate against it).
func OpenAPI() []byte { return openapiDoc }
