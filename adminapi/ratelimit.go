package adminapi

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/roamnode/roamnode/domain/access"
)

// Limiter is a token bucket per key kept in Redis, so that limits hold
// across replicas (003 → Rate limits: 200 requests/s, bursts to 500).
// One script call checks the client IP's bucket and the account's together.
type Limiter struct {
	rdb      redis.UniversalClient
	log      *slog.Logger
	Prefix   string
	downTill atomic.Int64 // unix nanos: skip Redis until then after a failure
}

// NewLimiter returns a limiter on rdb.
func NewLimiter(rdb redis.UniversalClient, log *slog.Logger) *Limiter {
	return &Limiter{rdb: rdb, log: log, Prefix: "rn:rl:"}
}

// The script takes keys (one bucket each) and per key rate and burst; it
// takes a token from every bucket only when all have one, and returns 0 or
// the microseconds until the emptiest bucket has a token again. Time comes
// from Redis so that replicas' clocks do not matter.
var bucketScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait = 0
local state = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2*i-1])
  local burst = tonumber(ARGV[2*i])
  local b = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(b[1]) or burst
  local ts = tonumber(b[2]) or now
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000000)
  if tokens < 1 then
    local w = math.ceil((1 - tokens) * 1000000 / rate)
    if w > wait then wait = w end
  end
  state[i] = tokens
end
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2*i-1])
  local burst = tonumber(ARGV[2*i])
  local tokens = state[i]
  if wait == 0 then tokens = tokens - 1 end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', now)
  redis.call('PEXPIRE', key, math.ceil(burst * 1000 / rate) + 1000)
end
return wait
`)

// Allow takes one token from each bucket; it returns the time to wait when
// any bucket is empty. When Redis is unreachable it allows the request (the
// API stays up; /readyz reports Redis) and stops asking Redis for a second.
func (l *Limiter) Allow(ctx context.Context, buckets []Bucket) time.Duration {
	if len(buckets) == 0 || time.Now().UnixNano() < l.downTill.Load() {
		return 0
	}
	keys := make([]string, len(buckets))
	args := make([]any, 0, 2*len(buckets))
	for i, b := range buckets {
		keys[i] = l.Prefix + b.Key
		args = append(args, b.RPS, b.Burst)
	}
	ctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
	defer cancel()
	wait, err := bucketScript.Run(ctx, l.rdb, keys, args...).Int64()
	if err != nil {
		l.downTill.Store(time.Now().Add(time.Second).UnixNano())
		l.log.Warn("rate limiter unavailable, allowing requests", "err", err)
		return 0
	}
	return time.Duration(wait) * time.Microsecond
}

// Bucket is one rate-limited key with its rate and burst.
type Bucket struct {
	Key   string
	RPS   int
	Burst int
}

// limit applies the per-IP and (when known) per-account limits; a request
// over either gets 429 with Retry-After.
func (a *API) limit(c *fiber.Ctx, ip string, acct *access.Account) error {
	if a.opts.RateRPS <= 0 {
		return nil
	}
	buckets := []Bucket{{Key: "ip:" + ip, RPS: a.opts.RateRPS, Burst: a.opts.RateBurst}}
	if acct != nil {
		b := Bucket{Key: "acct:" + acct.ID.String(), RPS: a.opts.RateRPS, Burst: a.opts.RateBurst}
		if acct.RateLimitRPS != nil {
			b.RPS, b.Burst = *acct.RateLimitRPS, *acct.RateLimitBurst
			// An account with its own higher limit is not held back by
			// the default per-IP limit either.
			if b.RPS > buckets[0].RPS {
				buckets[0].RPS, buckets[0].Burst = b.RPS, b.Burst
			}
		}
		buckets = append(buckets, b)
	}
	wait := a.limiter.Allow(c.UserContext(), buckets)
	if wait <= 0 {
		return nil
	}
	secs := int((wait + time.Second - 1) / time.Second)
	return &apiError{Status: fiber.StatusTooManyRequests, Code: "rate_limited", Message: "too many requests; retry after the delay in Retry-After",
		Headers: map[string]string{"Retry-After": strconv.Itoa(secs)}}
}
