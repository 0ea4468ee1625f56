package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/roamnode/roamnode/domain/authz"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/roaming"
	"github.com/roamnode/roamnode/worker"
)

// Config is every setting of the node, read from the environment.
type Config struct {
	DatabaseURL     string `env:"DATABASE_URL"`
	RedisURL        string `env:"REDIS_URL"`
	Listen          string `env:"ROAMNODE_LISTEN" envDefault:":8080"`
	PublicURL       string `env:"ROAMNODE_PUBLIC_URL"`
	AdminID         string `env:"ROAMNODE_ADMIN_ID"`
	AdminSecret     string `env:"ROAMNODE_ADMIN_SECRET"`
	AutoMigrate     bool   `env:"ROAMNODE_AUTO_MIGRATE" envDefault:"true"`
	RateRPS         int    `env:"ROAMNODE_RATE_LIMIT_RPS" envDefault:"200"`
	RateBurst       int    `env:"ROAMNODE_RATE_LIMIT_BURST" envDefault:"500"`
	AccountCacheTTL int    `env:"ROAMNODE_ACCOUNT_CACHE_SECONDS" envDefault:"5"`
	DBMaxConns      int32  `env:"ROAMNODE_DB_MAX_CONNS" envDefault:"32"`
	WorkerConc      int    `env:"ROAMNODE_WORKER_CONCURRENCY" envDefault:"10"`
	// SessionLanes and SessionBatch size the charge-session lanes
	// (worker/session_drain.go): batches at once, sessions per batch.
	SessionLanes    int           `env:"ROAMNODE_SESSION_LANES" envDefault:"12"`
	SessionBatch    int           `env:"ROAMNODE_SESSION_BATCH" envDefault:"16"`
	ShutdownTimeout time.Duration `env:"ROAMNODE_SHUTDOWN_TIMEOUT" envDefault:"20s"`
	AccessLog       bool          `env:"ROAMNODE_ACCESS_LOG" envDefault:"true"`
	ExchangeKeep    time.Duration `env:"ROAMNODE_EXCHANGE_RETENTION" envDefault:"720h"`
	ExchangeBody    int           `env:"ROAMNODE_EXCHANGE_BODY_BYTES" envDefault:"4096"`
	LogLevel        string        `env:"ROAMNODE_LOG_LEVEL" envDefault:"info"`
	// MatchSchedule is the delays between EVSE match attempts of a charge
	// session (comma-separated durations); after the last, it drops out.
	MatchSchedule string `env:"ROAMNODE_MATCH_SCHEDULE" envDefault:"1m,5m,15m,1h,2h,4h,8h,8h"`
	// SessionMaxAge is the default age limit of the "not too old" validity
	// check (administrations and partners may override it).
	SessionMaxAge time.Duration `env:"ROAMNODE_SESSION_MAX_AGE" envDefault:"4320h"`
	matchSchedule session.Schedule

	// DropoutRetention is how long resolved drop-out cases are kept.
	DropoutRetention time.Duration `env:"ROAMNODE_DROPOUT_RETENTION" envDefault:"2160h"`

	// Webhooks (README → Webhooks).
	WebhookAllowPrivate bool          `env:"ROAMNODE_WEBHOOK_ALLOW_PRIVATE" envDefault:"false"`
	WebhookTimeout      time.Duration `env:"ROAMNODE_WEBHOOK_TIMEOUT" envDefault:"10s"`
	WebhookFailingAfter time.Duration `env:"ROAMNODE_WEBHOOK_FAILING_AFTER" envDefault:"15m"`
	WebhookMaxBackoff   time.Duration `env:"ROAMNODE_WEBHOOK_MAX_BACKOFF" envDefault:"5m"`
	WebhookPoll         time.Duration `env:"ROAMNODE_WEBHOOK_POLL" envDefault:"50ms"`
	WebhookLogRetention time.Duration `env:"ROAMNODE_WEBHOOK_LOG_RETENTION" envDefault:"720h"`

	// Pull synchronisation of partners' locations and tariffs (README →
	// Partners' charge points).
	SyncInterval time.Duration `env:"ROAMNODE_SYNC_INTERVAL" envDefault:"15m"`
	SyncMargin   time.Duration `env:"ROAMNODE_SYNC_MARGIN" envDefault:"5m"`

	// Partners' tokens as CPO (README → Partners' tokens and authorization
	// at our EVSEs).
	AuthorizeTimeout  time.Duration `env:"ROAMNODE_AUTHORIZE_TIMEOUT" envDefault:"3s"`
	AuthorizeFallback authz.Policy  `env:"ROAMNODE_AUTHORIZE_FALLBACK" envDefault:"allow_if_whitelisted"`
	TokenPullInterval time.Duration `env:"ROAMNODE_TOKEN_PULL_INTERVAL" envDefault:"1h"`

	// OCPI pushes to partners (README → Our charge points and tariffs).
	PushBackoffMax time.Duration `env:"ROAMNODE_PUSH_MAX_BACKOFF" envDefault:"5m"`
	PushSweep      time.Duration `env:"ROAMNODE_PUSH_SWEEP" envDefault:"30s"`
}

// loadConfig parses the environment; the error names the one setting that
// is missing or malformed, for a one-line message at start.
func loadConfig(needDB, needRedis bool) (Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		var agg env.AggregateError
		if errors.As(err, &agg) && len(agg.Errors) > 0 {
			err = agg.Errors[0]
		}
		var pe env.ParseError
		if errors.As(err, &pe) {
			if f, ok := reflect.TypeOf(c).FieldByName(pe.Name); ok {
				return c, fmt.Errorf("%s is malformed: %v", f.Tag.Get("env"), pe.Err)
			}
		}
		return c, err
	}
	if needDB {
		if c.DatabaseURL == "" {
			return c, errors.New("DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/roamnode?sslmode=disable)")
		}
		if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
			return c, fmt.Errorf("DATABASE_URL is malformed: %v", err)
		}
	}
	if needRedis {
		if c.RedisURL == "" {
			return c, errors.New("REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)")
		}
		if _, err := redis.ParseURL(c.RedisURL); err != nil {
			return c, fmt.Errorf("REDIS_URL is malformed: %v", err)
		}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return c, fmt.Errorf("ROAMNODE_LISTEN is malformed (want host:port or :port): %v", err)
	}
	if c.PublicURL == "" {
		_, port, _ := net.SplitHostPort(c.Listen)
		c.PublicURL = "http://localhost:" + port
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, errors.New("ROAMNODE_PUBLIC_URL is malformed (want an absolute http(s) URL)")
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if (c.AdminID == "") != (c.AdminSecret == "") {
		return c, errors.New("ROAMNODE_ADMIN_ID and ROAMNODE_ADMIN_SECRET must be set together")
	}
	if c.AdminSecret != "" && len(c.AdminSecret) < 16 {
		return c, errors.New("ROAMNODE_ADMIN_SECRET is too short (at least 16 characters)")
	}
	if c.RateRPS < 0 || c.RateBurst < c.RateRPS {
		return c, errors.New("ROAMNODE_RATE_LIMIT_BURST must be at least ROAMNODE_RATE_LIMIT_RPS (and both ≥ 0)")
	}
	if c.ExchangeBody < 256 || c.ExchangeBody > 1<<20 {
		return c, errors.New("ROAMNODE_EXCHANGE_BODY_BYTES must be between 256 and 1048576")
	}
	if c.ExchangeKeep < time.Hour {
		return c, errors.New("ROAMNODE_EXCHANGE_RETENTION must be at least 1h (e.g. 720h for 30 days)")
	}
	if c.WebhookTimeout < time.Second || c.WebhookPoll < 5*time.Millisecond || c.WebhookPoll > 10*time.Second ||
		c.WebhookMaxBackoff < time.Second || c.WebhookFailingAfter < time.Minute || c.WebhookLogRetention < time.Hour {
		return c, errors.New("ROAMNODE_WEBHOOK_*: TIMEOUT ≥ 1s, POLL between 5ms and 10s, MAX_BACKOFF ≥ 1s, FAILING_AFTER ≥ 1m, LOG_RETENTION ≥ 1h")
	}
	sched, err := session.ParseSchedule(c.MatchSchedule)
	if err != nil {
		return c, fmt.Errorf("ROAMNODE_MATCH_SCHEDULE is malformed (want durations such as 1m,5m,1h): %v", err)
	}
	c.matchSchedule = sched
	if c.SessionMaxAge < time.Hour {
		return c, errors.New("ROAMNODE_SESSION_MAX_AGE must be at least 1h")
	}
	if c.DropoutRetention < time.Hour {
		return c, errors.New("ROAMNODE_DROPOUT_RETENTION must be at least 1h (e.g. 2160h for 90 days)")
	}
	if c.SyncInterval < time.Minute || c.SyncMargin < 0 {
		return c, errors.New("ROAMNODE_SYNC_INTERVAL must be at least 1m and ROAMNODE_SYNC_MARGIN must not be negative")
	}
	if c.PushBackoffMax < time.Second || c.PushSweep < time.Second {
		return c, errors.New("ROAMNODE_PUSH_MAX_BACKOFF and ROAMNODE_PUSH_SWEEP must be at least 1s")
	}
	if c.AuthorizeTimeout < 100*time.Millisecond || c.AuthorizeTimeout > time.Minute {
		return c, errors.New("ROAMNODE_AUTHORIZE_TIMEOUT must be between 100ms and 1m")
	}
	if p, err := authz.ParsePolicy(string(c.AuthorizeFallback)); err == nil {
		c.AuthorizeFallback = p
	} else {
		return c, errors.New("ROAMNODE_AUTHORIZE_FALLBACK must be deny, allow_if_whitelisted or allow")
	}
	if c.TokenPullInterval < time.Minute {
		return c, errors.New("ROAMNODE_TOKEN_PULL_INTERVAL must be at least 1m")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return c, errors.New("ROAMNODE_LOG_LEVEL must be one of debug, info, warn, error")
	}
	return c, nil
}

// webhookOptions are the worker's webhook settings.
func (c Config) webhookOptions() worker.WebhookOptions {
	return worker.WebhookOptions{AllowPrivate: c.WebhookAllowPrivate, Timeout: c.WebhookTimeout, FailingAfter: c.WebhookFailingAfter,
		MaxBackoff: c.WebhookMaxBackoff, Poll: c.WebhookPoll, LogRetention: c.WebhookLogRetention}
}

// sessionOptions are the charge-session pipeline's settings.
func (c Config) sessionOptions() worker.SessionOptions {
	th := session.DefaultThresholds
	th.MaxAge = c.SessionMaxAge
	return worker.SessionOptions{Schedule: c.matchSchedule, Thresholds: th, DropoutRetention: c.DropoutRetention, Pricing: true,
		Lanes: c.SessionLanes, Batch: c.SessionBatch}
}

// pushOptions are the OCPI push worker's settings.
func (c Config) pushOptions() worker.PushOptions {
	return worker.PushOptions{PushOptions: roaming.PushOptions{BackoffMax: c.PushBackoffMax}, SweepEvery: c.PushSweep,
		ExchangeBodyBytes: c.ExchangeBody}
}
