package db

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/authrule"
	"github.com/roamnode/roamnode/domain/network"
)

// Charge authorization rules of the MSP (domain/authrule; migration 00020):
// the Admin API's storage, and the node-local compiled rule set of
// real-time authorization with its cross-node invalidation.

// ruleStatements counts, per pool, the statements the rules machinery ran
// (loads, credit checks, time zone lookups): the test hook that shows an
// authorization without applicable rules costs no statement of its own.
var ruleStatements sync.Map // *pgxpool.Pool → *atomic.Int64

func countRuleStatement(q any) {
	if p, ok := q.(*pgxpool.Pool); ok {
		c, _ := ruleStatements.LoadOrStore(p, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
	}
}

// AuthorizationRuleStatements is how many statements the charge
// authorization rules ran on pool so far (tests).
func AuthorizationRuleStatements(pool *pgxpool.Pool) int64 {
	if c, ok := ruleStatements.Load(pool); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// ChargeAuthorizationRule loads a rule by id or external reference.
func ChargeAuthorizationRule(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (gen.MspChargeAuthorizationRule, error) {
	return lookup(ctx, "msp charge authorization rule", id, ref, lock, Q(q).GetChargeAuthorizationRule, Q(q).LockChargeAuthorizationRule,
		Q(q).GetChargeAuthorizationRuleByRef, Q(q).LockChargeAuthorizationRuleByRef)
}

// ListChargeAuthorizationRules returns a page of rules.
func ListChargeAuthorizationRules(ctx context.Context, q Querier, p gen.ListChargeAuthorizationRulesParams) ([]gen.MspChargeAuthorizationRule, error) {
	return Q(q).ListChargeAuthorizationRules(ctx, p)
}

// SaveChargeAuthorizationRule inserts or updates a rule; its administration
// and scope are immutable. The statement's trigger bumps the rules version
// in the same transaction.
func SaveChargeAuthorizationRule(ctx context.Context, q Querier, r gen.MspChargeAuthorizationRule, isNew bool) error {
	if isNew {
		return Translate(Q(q).InsertChargeAuthorizationRule(ctx, gen.InsertChargeAuthorizationRuleParams{ID: r.ID,
			AdministrationID: r.AdministrationID, ExternalReference: r.ExternalReference, Name: r.Name, Description: r.Description,
			PlanID: r.PlanID, SubscriptionID: r.SubscriptionID, Effect: r.Effect, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil,
			CpoCountryCodes: r.CpoCountryCodes, CpoParties: r.CpoParties, LocationIds: r.LocationIds, EvseUids: r.EvseUids,
			DaysOfWeek: r.DaysOfWeek, StartTime: r.StartTime, EndTime: r.EndTime, TimeZone: r.TimeZone,
			ExternalUpdatedAt: r.ExternalUpdatedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}))
	}
	return Translate(Q(q).UpdateChargeAuthorizationRule(ctx, gen.UpdateChargeAuthorizationRuleParams{ID: r.ID,
		ExternalReference: r.ExternalReference, Name: r.Name, Description: r.Description, Effect: r.Effect, ValidFrom: r.ValidFrom,
		ValidUntil: r.ValidUntil, CpoCountryCodes: r.CpoCountryCodes, CpoParties: r.CpoParties, LocationIds: r.LocationIds,
		EvseUids: r.EvseUids, DaysOfWeek: r.DaysOfWeek, StartTime: r.StartTime, EndTime: r.EndTime, TimeZone: r.TimeZone,
		ExternalUpdatedAt: r.ExternalUpdatedAt, UpdatedAt: r.UpdatedAt}))
}

// ChargeAuthorizationRuleSpec is a stored rule as domain/authrule reads it.
func ChargeAuthorizationRuleSpec(r gen.MspChargeAuthorizationRule) authrule.Spec {
	return authrule.Spec{ID: r.ID, AdministrationID: r.AdministrationID, PlanID: r.PlanID, SubscriptionID: r.SubscriptionID,
		Effect: r.Effect, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil, CountryCodes: r.CpoCountryCodes, Parties: r.CpoParties,
		LocationIDs: r.LocationIds, EVSEUIDs: r.EvseUids, DaysOfWeek: r.DaysOfWeek, StartTime: r.StartTime, EndTime: r.EndTime,
		TimeZone: r.TimeZone}
}

// AuthorizationRules is the node-local compiled rule set of real-time
// authorization. It is labelled with the rules version it was loaded at
// (table msp_charge_authorization_rule_version, bumped by a trigger in the
// transaction of every rule change); the token lookup returns the current
// version with every token (db.TokenLookup), and At reloads when that is
// newer. So a rule change takes effect on every node for the first lookup
// that starts after it committed, with no Redis and no statement per
// request: while no rule changes, answering costs nothing more than the
// lookup.
type AuthorizationRules struct {
	pool *pgxpool.Pool
	mu   sync.Mutex // one reload at a time
	cur  atomic.Pointer[ruleSnapshot]
}

type ruleSnapshot struct {
	version int64
	set     *authrule.Set
}

// NewAuthorizationRules returns an empty cache; the first At loads.
func NewAuthorizationRules(pool *pgxpool.Pool) *AuthorizationRules {
	return &AuthorizationRules{pool: pool}
}

// At returns the rule set at least as recent as version. The version is
// read before the rules (read committed), so the rules loaded are never
// older than the label they get: a later change makes the next lookup see
// a newer version and reload again.
func (a *AuthorizationRules) At(ctx context.Context, version int64) (*authrule.Set, error) {
	if s := a.cur.Load(); s != nil && s.version >= version {
		return s.set, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.cur.Load(); s != nil && s.version >= version {
		return s.set, nil
	}
	countRuleStatement(a.pool)
	countRuleStatement(a.pool)
	q := gen.New(a.pool)
	v, err := q.ChargeAuthorizationRuleVersion(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := q.AllChargeAuthorizationRules(ctx, time.Now())
	if err != nil {
		return nil, err
	}
	rules := make([]authrule.Rule, 0, len(rows))
	for _, row := range rows {
		rules = append(rules, compileOrDeny(ChargeAuthorizationRuleSpec(row)))
	}
	set := authrule.NewSet(rules)
	a.cur.Store(&ruleSnapshot{version: v, set: set})
	return set, nil
}

// compileOrDeny compiles a stored rule. Rules are validated when written;
// a row that does not compile (written by hand) fails closed: it denies
// everywhere within its scope and validity.
func compileOrDeny(sp authrule.Spec) authrule.Rule {
	r, err := authrule.Compile(sp)
	if err != nil {
		return authrule.Rule{ID: sp.ID, AdministrationID: sp.AdministrationID, PlanID: sp.PlanID,
			SubscriptionID: sp.SubscriptionID, Effect: authrule.Deny, ValidFrom: sp.ValidFrom, ValidUntil: sp.ValidUntil}
	}
	return r
}

// HasChargeCredit reports whether a subscription holds a charge credit
// (monetary or energy) with a positive balance valid at instant at: the
// require_credit rule.
func HasChargeCredit(ctx context.Context, q Querier, subscription uuid.UUID, at time.Time) (bool, error) {
	countRuleStatement(q)
	bs, err := SubscriptionCreditBalances(ctx, q, subscription, at)
	for _, b := range bs {
		if b.Balance.IsPositive() {
			return true, err
		}
	}
	return false, err
}

// PartnerLocationTimeZone returns the IANA time zone of a partner's
// location, "" when the location is unknown.
func PartnerLocationTimeZone(ctx context.Context, q Querier, countryCode, partyID, locationID string) (string, error) {
	countRuleStatement(q)
	tz, err := Q(q).PartnerLocationTimeZone(ctx, gen.PartnerLocationTimeZoneParams{CountryCode: countryCode, PartyID: partyID,
		LocationKey: network.Key(locationID)})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return tz, err
}
