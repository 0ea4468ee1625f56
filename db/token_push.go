package db

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/roaming"
)

// Token push: CPOs keep a whitelist of our drivers' tokens, so every change
// of a token's OCPI representation is pushed (PUT of the whole token, the
// mod_tokens receiver interface) to each partner with a Tokens receiver,
// from the eMSP party that issued the token. The representation depends on
// the token, its links and their subscriptions, and on time (the valid
// flag flips when a validity boundary passes), so pushes are enqueued by
// the Admin API writes of all three and by the worker's boundary task
// (PushPassedTokenBoundaries). The renderer (ocpi/module.TokensRenderer)
// loads the token when it is sent, so the partner always gets the current
// valid flag.

// TokenPushObject is a token's path below a partner's Tokens receiver
// endpoint: /{country_code}/{party_id}/{token_uid}?type={type}. The UID is
// path-escaped: UIDs are printable ASCII and may hold '/' or '?'.
func TokenPushObject(country, party, uid, typ string) string {
	return country + "/" + party + "/" + url.PathEscape(uid) + "?type=" + url.QueryEscape(typ)
}

// ParseTokenPushObject is the inverse of TokenPushObject.
func ParseTokenPushObject(obj string) (country, party, uid, typ string, err error) {
	path, query, _ := strings.Cut(obj, "?")
	parts := strings.Split(path, "/")
	q, qerr := url.ParseQuery(query)
	if len(parts) != 3 || qerr != nil || q.Get("type") == "" {
		return "", "", "", "", fmt.Errorf("token push object %q", obj)
	}
	if uid, err = url.PathUnescape(parts[2]); err != nil {
		return "", "", "", "", fmt.Errorf("token push object %q: %w", obj, err)
	}
	return parts[0], parts[1], uid, q.Get("type"), nil
}

// EnqueueTokenPushes records a PUT of each token (unknown ids are skipped)
// to every partner with a Tokens receiver, in the caller's transaction q.
// Each token is its own ordering group; all of them are enqueued with a
// few statements per receiver (EnqueuePushes). It returns the groups to
// kick after the commit.
func EnqueueTokenPushes(ctx context.Context, q Querier, ids ...uuid.UUID) ([]roaming.PushRef, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	ids = slices.Compact(ids)
	keys, err := Q(q).TokenPushKeys(ctx, ids)
	if err != nil {
		return nil, err
	}
	chs := make([]roaming.Change, 0, len(keys))
	for _, k := range keys {
		obj := TokenPushObject(k.CountryCode, k.PartyID, k.Uid, k.Type)
		chs = append(chs, roaming.Change{Module: "tokens", Group: obj, Object: obj, Method: roaming.PushPut,
			FromCountry: k.CountryCode, FromParty: k.PartyID})
	}
	return EnqueuePushes(ctx, q, chs)
}

// EnqueueSubscriptionTokenPushes pushes every token ever linked to the
// subscription (a change of its validity or defunct flag changes theirs).
func EnqueueSubscriptionTokenPushes(ctx context.Context, q Querier, subscriptionID uuid.UUID) ([]roaming.PushRef, error) {
	ids, err := Q(q).TokenIDsOfSubscription(ctx, subscriptionID)
	if err != nil {
		return nil, err
	}
	return EnqueueTokenPushes(ctx, q, ids...)
}

// PushPassedTokenBoundaries handles one batch of validity boundaries that
// passed since the last call, up to now: it enqueues a push of each token
// with such a boundary and moves the watermark (table
// msp_token_push_watermark) past them, in one transaction, so a boundary
// is pushed once even with several workers or after a crash. Boundaries
// of charge authorization rules in the same window are queued for
// RecheckTokenRules (db/token_rules.go), which pushes the tokens whose
// valid/whitelist they change. The very
// first call only sets the watermark (boundaries from before the node
// pushed tokens are history). done is false when more boundaries wait
// (call again); batch bounds the rows read per call.
func PushPassedTokenBoundaries(ctx context.Context, pool *pgxpool.Pool, now time.Time, batch int32) (refs []roaming.PushRef, tokens int, done bool, err error) {
	if batch <= 0 {
		return nil, 0, false, errors.New("db: boundary batch must be positive")
	}
	err = InTx(ctx, pool, func(tx pgx.Tx) error {
		refs, tokens, done = nil, 0, false
		q := Q(tx)
		if err := q.InitTokenPushWatermark(ctx, now); err != nil {
			return err
		}
		after, err := q.LockTokenPushWatermark(ctx)
		if err != nil {
			return err
		}
		upto := now
		if !upto.After(after) {
			done = true
			return nil
		}
		rows, err := q.PassedTokenBoundaries(ctx, gen.PassedTokenBoundariesParams{After: after, Upto: upto, PageLimit: batch})
		if err != nil {
			return err
		}
		done = len(rows) < int(batch)
		if !done {
			// Stop at the last boundary read, and take all tokens sharing
			// it (Postgres keeps microseconds), so none is skipped.
			upto = rows[len(rows)-1].Boundary
			tied, err := q.PassedTokenBoundaries(ctx, gen.PassedTokenBoundariesParams{After: upto.Add(-time.Microsecond),
				Upto: upto, PageLimit: math.MaxInt32})
			if err != nil {
				return err
			}
			rows = append(rows, tied...)
		}
		// Charge authorization rules whose validity boundary passed in
		// the same window change tokens too: queue them for
		// RecheckTokenRules, under the same watermark.
		if _, err := q.InsertRuleBoundaryRechecks(ctx, gen.InsertRuleBoundaryRechecksParams{After: after, Upto: upto}); err != nil {
			return err
		}
		ids := make([]uuid.UUID, len(rows))
		for i, r := range rows {
			ids[i] = r.TokenID
		}
		if refs, err = EnqueueTokenPushes(ctx, tx, ids...); err != nil {
			return err
		}
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
		tokens = len(slices.Compact(ids))
		return q.SetTokenPushWatermark(ctx, upto)
	})
	return refs, tokens, done, err
}
