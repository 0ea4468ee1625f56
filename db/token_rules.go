package db

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/authrule"
	"github.com/roamnode/roamnode/domain/token"
	"github.com/roamnode/roamnode/roaming"
)

// The charge authorization rules in the published tokens (migration 00023):
// the Tokens sender and the token push render valid/whitelist with the
// rules in force (authrule.Publish), so a rule change — written through the
// Admin API, or a rule's validity boundary passing — changes tokens
// without writing them. Each such change is queued in the rule's
// transaction (a trigger; boundaries by PushPassedTokenBoundaries) and
// worked off by RecheckTokenRules, batch by batch.

// Current returns the rule set in force now: it reads the rules version
// (one scalar) and reloads only when that is newer than the compiled set
// (At), so a page of the Tokens sender or a push costs one small statement
// for the rules, whatever the number of tokens.
func (a *AuthorizationRules) Current(ctx context.Context) (*authrule.Set, error) {
	v, err := gen.New(a.pool).ChargeAuthorizationRuleVersion(ctx)
	if err != nil {
		return nil, err
	}
	return a.At(ctx, v)
}

// fillRulesChangedAt sets RulesChangedAt of the tokens the rules ever
// changed (one statement).
func fillRulesChangedAt(ctx context.Context, q Querier, ts []token.Issued) error {
	if len(ts) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	rows, err := Q(q).TokenRulesChangedAt(ctx, ids)
	if err != nil {
		return err
	}
	at := make(map[uuid.UUID]time.Time, len(rows))
	for _, r := range rows {
		at[r.TokenID] = r.ChangedAt
	}
	for i := range ts {
		ts[i].RulesChangedAt = at[ts[i].ID]
	}
	return nil
}

// storedRule is a rule row as to_jsonb writes it (msp_token_rule_recheck.before).
type storedRule struct {
	ID               uuid.UUID  `json:"id"`
	AdministrationID uuid.UUID  `json:"administration_id"`
	PlanID           *uuid.UUID `json:"plan_id"`
	SubscriptionID   *uuid.UUID `json:"subscription_id"`
	Effect           string     `json:"effect"`
	ValidFrom        *time.Time `json:"valid_from"`
	ValidUntil       *time.Time `json:"valid_until"`
	CountryCodes     []string   `json:"cpo_country_codes"`
	Parties          []string   `json:"cpo_parties"`
	LocationIDs      []string   `json:"location_ids"`
	EVSEUIDs         []string   `json:"evse_uids"`
	DaysOfWeek       []string   `json:"days_of_week"`
	StartTime        *string    `json:"start_time"`
	EndTime          *string    `json:"end_time"`
	TimeZone         *string    `json:"time_zone"`
}

// ruleBefore compiles the rule as it was before a change; nil when it was
// not in force. A row that does not compile fails closed as the rules
// cache does (compileOrDeny).
func ruleBefore(raw []byte) (*authrule.Rule, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s storedRule
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	r := compileOrDeny(authrule.Spec{ID: s.ID, AdministrationID: s.AdministrationID, PlanID: s.PlanID,
		SubscriptionID: s.SubscriptionID, Effect: s.Effect, ValidFrom: s.ValidFrom, ValidUntil: s.ValidUntil,
		CountryCodes: s.CountryCodes, Parties: s.Parties, LocationIDs: s.LocationIDs, EVSEUIDs: s.EVSEUIDs,
		DaysOfWeek: s.DaysOfWeek, StartTime: s.StartTime, EndTime: s.EndTime, TimeZone: s.TimeZone})
	return &r, nil
}

// published is what a CPO sees of a token's rules-dependent fields.
type published struct {
	valid     bool
	whitelist token.Whitelist
}

func publishedOf(t token.Issued, rules []authrule.Rule, at time.Time) published {
	t, st := authrule.Publish(t, rules, at)
	return published{valid: token.OCPIValid(st.Reason), whitelist: t.Config().OCPIWhitelist()}
}

// RecheckTokenRules works off one batch of the oldest queued rule change
// (msp_token_rule_recheck): for the next batch of tokens in the rule's
// scope it compares valid/whitelist at now under the rules with the rule
// as it was (before) and as it is (the current set), and for each token
// that differs moves its last_updated (msp_token_rule_state) and enqueues
// its push to every partner with a Tokens receiver — in one transaction
// with the cursor, so a crash repeats at most a batch and a token is
// pushed for a change once. Comparing with the rules as they are now, not
// as the change left them, makes a later change of the same rule compare
// against what the first comparison already published. done is true when
// the queue is empty; tokens is the number of tokens pushed.
func RecheckTokenRules(ctx context.Context, pool *pgxpool.Pool, rules *AuthorizationRules, now time.Time, batch int32) (refs []roaming.PushRef, tokens int, done bool, err error) {
	if batch <= 0 {
		return nil, 0, false, errors.New("db: recheck batch must be positive")
	}
	err = InTx(ctx, pool, func(tx pgx.Tx) error {
		refs, tokens, done = nil, 0, false
		q := Q(tx)
		rc, err := q.NextRuleRecheck(ctx)
		if errors.Is(err, pgx.ErrNoRows) {
			done = true
			return nil
		}
		if err != nil {
			return err
		}
		// The rules after the change: read after the queued change was
		// seen, so they include it.
		set, err := rules.Current(ctx)
		if err != nil {
			return err
		}
		ids, err := q.RuleScopeTokenIDs(ctx, gen.RuleScopeTokenIDsParams{AdministrationID: rc.AdministrationID,
			AfterToken: rc.AfterToken, PlanID: rc.PlanID, SubscriptionID: rc.SubscriptionID, PageLimit: batch})
		if err != nil {
			return err
		}
		if len(ids) < int(batch) {
			if err := q.DeleteRuleRecheck(ctx, rc.ID); err != nil {
				return err
			}
		} else if err := q.SetRuleRecheckCursor(ctx, gen.SetRuleRecheckCursorParams{ID: rc.ID, AfterToken: ids[len(ids)-1]}); err != nil {
			return err
		}
		before, err := ruleBefore(rc.Before)
		if err != nil {
			return err
		}
		old, cur := set.Replaced(rc.AdministrationID, rc.RuleID, before), set.For(rc.AdministrationID)
		ts, err := IssuedTokens(ctx, tx, ids)
		if err != nil {
			return err
		}
		var changed []uuid.UUID
		for _, t := range ts {
			if publishedOf(t, old, now) != publishedOf(t, cur, now) {
				changed = append(changed, t.ID)
			}
		}
		if len(changed) == 0 {
			return nil
		}
		if err := q.MarkTokenRulesChanged(ctx, gen.MarkTokenRulesChangedParams{Ids: changed, ChangedAt: now}); err != nil {
			return err
		}
		tokens = len(changed)
		refs, err = EnqueueTokenPushes(ctx, tx, changed...)
		return err
	})
	return refs, tokens, done, err
}
