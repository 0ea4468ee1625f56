package adminapi

import (
	"context"
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/fault"
)

// authenticate checks HTTP Basic credentials against the API accounts and
// applies the rate limits (per client IP always, per account once known).
func (a *API) authenticate(c *fiber.Ctx) (access.Account, error) {
	if acct, ok := c.Locals(systemKey{}).(access.Account); ok {
		return acct, nil // the in-process system client (see Internal)
	}
	ip := c.IP()
	user, secret, ok := basicAuth(c.Get(fiber.HeaderAuthorization))
	if !ok {
		if err := a.limit(c, ip, nil); err != nil {
			return access.Account{}, err
		}
		return access.Account{}, errUnauthorized
	}
	acct, err := a.accounts.get(c.UserContext(), user)
	if err != nil && !fault.Is(err, fault.KindNotFound) {
		return access.Account{}, err
	}
	valid := err == nil && !acct.Disabled && acct.CheckSecret(secret)
	if valid {
		err = a.limit(c, ip, &acct)
	} else {
		err = a.limit(c, ip, nil)
	}
	if err != nil {
		return access.Account{}, err
	}
	if !valid {
		return access.Account{}, errUnauthorized
	}
	return acct, nil
}

func basicAuth(h string) (user, secret string, ok bool) {
	const prefix = "basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(prefix):]))
	if err != nil {
		return "", "", false
	}
	user, secret, ok = strings.Cut(string(raw), ":")
	return user, secret, ok && user != ""
}

// accountCache keeps authenticated accounts in memory for a few seconds so
// that a request costs a SHA-256 and no database round trip. A change to an
// account (disable, new secret, permissions) takes effect on every node
// within the TTL.
type accountCache struct {
	pool *pgxpool.Pool
	ttl  time.Duration
	mu   sync.RWMutex
	m    map[string]cachedAccount
}

type cachedAccount struct {
	acct    access.Account
	expires time.Time
}

func newAccountCache(pool *pgxpool.Pool, ttlSeconds int) *accountCache {
	return &accountCache{pool: pool, ttl: time.Duration(ttlSeconds) * time.Second, m: map[string]cachedAccount{}}
}

func (ac *accountCache) get(ctx context.Context, publicID string) (access.Account, error) {
	now := time.Now()
	ac.mu.RLock()
	e, ok := ac.m[publicID]
	ac.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.acct, nil
	}
	acct, err := db.APIAccountByPublicID(ctx, ac.pool, publicID)
	if err != nil {
		return acct, err
	}
	if ac.ttl > 0 {
		ac.mu.Lock()
		if len(ac.m) > 10000 { // bounded: unknown ids are never cached
			ac.m = map[string]cachedAccount{}
		}
		ac.m[publicID] = cachedAccount{acct: acct, expires: now.Add(ac.ttl)}
		ac.mu.Unlock()
	}
	return acct, nil
}

// forget drops an account from this node's cache after a change through
// this node (other nodes see it within the TTL).
func (ac *accountCache) forget(publicID string) {
	ac.mu.Lock()
	delete(ac.m, publicID)
	ac.mu.Unlock()
}
