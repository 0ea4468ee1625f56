package adminapi

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/roamnode/roamnode/domain/access"
)

// Limiter is a token bucket per key kept in Redis, so that limits hold
// across replicas (003 → Rate limits: 200 requests/s, bursts to 500).
//
// A node does not ask Redis for every request: it leases a few tokens at a
// time (about 1/20 s worth of the rate, at most 50) and spends them
// locally; leased tokens it does not spend within a second are forfeited.
// The shared limit is therefore exact to within one lease per node, and a
// busy node costs Redis one script call per lease instead of per request.
type Limiter struct {
	rdb      redis.UniversalClient
	log      *slog.Logger
	Prefix   string
	downTill atomic.Int64 // unix nanos: skip Redis until then after a failure
	mu       sync.Mutex
	leases   map[string]*lease
}

// lease is a node's local share of a bucket.
type lease struct {
	tokens  int
	expires time.Time
}

// leaseTTL is how long leased tokens may be spent.
const leaseTTL = time.Second

// NewLimiter returns a limiter on rdb.
func NewLimiter(rdb redis.UniversalClient, log *slog.Logger) *Limiter {
	return &Limiter{rdb: rdb, log: log, Prefix: "rn:rl:", leases: map[string]*lease{}}
}

// leaseSize is how many tokens one Redis call takes for a bucket.
func leaseSize(rps int) int {
	return max(1, min(50, rps/20))
}

// The script takes keys (one bucket each) and per key rate, burst and the
// tokens wanted; when every bucket has at least one token it grants each
// min(wanted, available) and returns {0, granted...}; otherwise it takes
// nothing and returns the microseconds until the emptiest bucket has a
// token again. Time comes from Redis so that replicas' clocks do not matter.
var bucketScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait = 0
local state = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[3*i-2])
  local burst = tonumber(ARGV[3*i-1])
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
local out = {wait}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[3*i-2])
  local burst = tonumber(ARGV[3*i-1])
  local want = tonumber(ARGV[3*i])
  local tokens = state[i]
  local grant = 0
  if wait == 0 then
    grant = math.min(want, math.floor(tokens))
    tokens = tokens - grant
  end
  out[i+1] = grant
  redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', now)
  redis.call('PEXPIRE', key, math.ceil(burst * 1000 / rate) + 1000)
end
return out
`)

// Allow spends one token from each bucket; it returns the time to wait when
// any bucket is empty. When Redis is unreachable it allows the request (the
// API stays up; /readyz reports Redis) and stops asking Redis for a second.
func (l *Limiter) Allow(ctx context.Context, buckets []Bucket) time.Duration {
	if len(buckets) == 0 {
		return 0
	}
	now := time.Now()
	l.mu.Lock()
	var need []int
	for i, b := range buckets {
		if ls := l.leases[b.Key]; ls == nil || ls.tokens < 1 || now.After(ls.expires) {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		l.spend(buckets)
		l.mu.Unlock()
		return 0
	}
	l.mu.Unlock()
	if now.UnixNano() < l.downTill.Load() {
		return 0
	}
	keys := make([]string, len(need))
	args := make([]any, 0, 3*len(need))
	for j, i := range need {
		b := buckets[i]
		keys[j] = l.Prefix + b.Key
		args = append(args, b.RPS, b.Burst, leaseSize(b.RPS))
	}
	ctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
	defer cancel()
	res, err := bucketScript.Run(ctx, l.rdb, keys, args...).Int64Slice()
	if err != nil || len(res) != len(need)+1 {
		l.downTill.Store(time.Now().Add(time.Second).UnixNano())
		l.log.Warn("rate limiter unavailable, allowing requests", "err", err)
		return 0
	}
	if res[0] > 0 {
		return time.Duration(res[0]) * time.Microsecond
	}
	l.mu.Lock()
	if len(l.leases) > 100_000 { // bounded: one entry per client IP and account
		l.leases = map[string]*lease{}
	}
	for j, i := range need {
		l.leases[buckets[i].Key] = &lease{tokens: int(res[j+1]), expires: now.Add(leaseTTL)}
	}
	l.spend(buckets)
	l.mu.Unlock()
	return 0
}

// spend takes one local token from each bucket (l.mu held). A concurrent
// request may have spent the last one since the lease: it is allowed
// anyway, an overshoot bounded by the node's concurrency.
func (l *Limiter) spend(buckets []Bucket) {
	for _, b := range buckets {
		if ls := l.leases[b.Key]; ls != nil {
			ls.tokens--
		}
	}
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
