package module

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/authrule"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/token"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// TokensRenderer renders pushes of our MSP tokens (object
// "CC/PID/UID?type=TYPE", db.TokenPushObject): a PUT of the whole token as
// it is when sent, with valid and whitelist evaluated at that instant with
// the charge authorization rules in force (publishToken; mod_tokens receiver: PUT and PATCH; a PUT always carries a consistent
// valid flag and last_updated). Tokens are never deleted; an object that
// no longer resolves (an unknown token) is skipped.
func TokensRenderer(pool *pgxpool.Pool) roaming.Renderer {
	rules := db.NewAuthorizationRules(pool)
	return func(ctx context.Context, item roaming.PushItem, _, _ string) (roaming.Request, error) {
		_, _, rawUID, rawType, err := db.ParseTokenPushObject(item.Object)
		if err != nil {
			return roaming.Request{}, err
		}
		uid, err := token.ParseUID(rawUID)
		if err != nil {
			return roaming.Request{}, err
		}
		typ, err := token.ParseType(rawType)
		if err != nil {
			return roaming.Request{}, err
		}
		t, err := db.IssuedTokenByUID(ctx, pool, uid, typ)
		if fault.Is(err, fault.KindNotFound) {
			return roaming.Request{Skip: true}, nil
		}
		if err != nil {
			return roaming.Request{}, err
		}
		set, err := rules.Current(ctx)
		if err != nil {
			return roaming.Request{}, err
		}
		return roaming.Request{Method: roaming.PushPut, Path: item.Object, Body: publishToken(t, set, time.Now())}, nil
	}
}

// publishToken renders an MSP token as the Tokens sender lists it and the
// push sends it, at instant at: valid and whitelist with the charge
// authorization rules in force (authrule.Publish: a condition-free deny
// makes it invalid, a conditional deny or require_credit whitelists it
// NEVER), last_updated including the rules' changes (RulesChangedAt).
func publishToken(t token.Issued, set *authrule.Set, at time.Time) ocpi.Token {
	t, st := authrule.Publish(t, set.For(t.AdministrationID), at)
	return ocpi.TokenWithState(t, st)
}
