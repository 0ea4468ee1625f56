package db

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/vat"
)

// This file stores the VAT configuration (migration 00014) and loads it as
// the vat.Config that domain/vat.Determine takes (guide 003 → "Determining
// VAT": the seller's policy per country, VAT rules, VAT rates).

// VATRate loads a VAT rate by id or external reference.
func VATRate(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (gen.VatRate, error) {
	g := Q(q)
	return lookup(ctx, "vat rate", id, ref, lock, g.GetVATRate, g.LockVATRate, g.GetVATRateByRef, g.LockVATRateByRef)
}

// ListVATRates returns a page of VAT rates.
func ListVATRates(ctx context.Context, q Querier, p gen.ListVATRatesParams) ([]gen.VatRate, error) {
	return Q(q).ListVATRates(ctx, p)
}

// SaveVATRate inserts or updates a VAT rate. Two rates of one country and
// kind whose periods overlap are refused (vat_rate_one_at_a_time), as an
// overlapping_validity conflict on valid_from.
func SaveVATRate(ctx context.Context, q Querier, r gen.VatRate, isNew bool) error {
	if isNew {
		return Translate(Q(q).InsertVATRate(ctx, gen.InsertVATRateParams{ID: r.ID, ExternalReference: r.ExternalReference,
			Country: r.Country, Kind: r.Kind, Percentage: r.Percentage, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil,
			ExternalUpdatedAt: r.ExternalUpdatedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}))
	}
	return Translate(Q(q).UpdateVATRate(ctx, gen.UpdateVATRateParams{ID: r.ID, ExternalReference: r.ExternalReference,
		Country: r.Country, Kind: r.Kind, Percentage: r.Percentage, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil,
		ExternalUpdatedAt: r.ExternalUpdatedAt, UpdatedAt: r.UpdatedAt}))
}

// VATRateOf maps a stored rate to the domain's.
func VATRateOf(r gen.VatRate) vat.Rate {
	return vat.Rate{ID: r.ID.String(), Country: r.Country, Kind: vat.Kind(r.Kind), Percentage: r.Percentage,
		ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil}
}

// VATRule loads a VAT rule by id or external reference.
func VATRule(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (gen.VatRule, error) {
	g := Q(q)
	return lookup(ctx, "vat rule", id, ref, lock, g.GetVATRule, g.LockVATRule, g.GetVATRuleByRef, g.LockVATRuleByRef)
}

// ListVATRules returns a page of VAT rules.
func ListVATRules(ctx context.Context, q Querier, p gen.ListVATRulesParams) ([]gen.VatRule, error) {
	return Q(q).ListVATRules(ctx, p)
}

// SaveVATRule inserts or updates a VAT rule; its criteria key is derived
// here (vat.Rule.CriteriaKey) so that two rules that would always tie are
// refused (vat_rule_one_at_a_time) as an overlapping_validity conflict.
func SaveVATRule(ctx context.Context, q Querier, r gen.VatRule, isNew bool) error {
	if r.Indicators == nil {
		r.Indicators = []string{}
	}
	key := VATRuleOf(r).CriteriaKey()
	if isNew {
		return Translate(Q(q).InsertVATRule(ctx, gen.InsertVATRuleParams{ID: r.ID, ExternalReference: r.ExternalReference,
			ProductCategory: r.ProductCategory, Country: r.Country, Indicators: r.Indicators, CriteriaKey: key, Kind: r.Kind,
			ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil, ExternalUpdatedAt: r.ExternalUpdatedAt,
			CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}))
	}
	return Translate(Q(q).UpdateVATRule(ctx, gen.UpdateVATRuleParams{ID: r.ID, ExternalReference: r.ExternalReference,
		ProductCategory: r.ProductCategory, Country: r.Country, Indicators: r.Indicators, CriteriaKey: key, Kind: r.Kind,
		ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil, ExternalUpdatedAt: r.ExternalUpdatedAt, UpdatedAt: r.UpdatedAt}))
}

// VATRuleOf maps a stored rule to the domain's.
func VATRuleOf(r gen.VatRule) vat.Rule {
	out := vat.Rule{ID: r.ID.String(), Category: vat.ProductCategory(r.ProductCategory), Indicators: r.Indicators,
		Kind: vat.Kind(r.Kind), ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil}
	if r.Country != nil {
		out.Country = *r.Country
	}
	return out
}

// SellerVATPolicy is a seller's VAT policy as stored: the domain policy
// (whose Country is the seller's own country) and the bookkeeping fields.
// Stored is false for a seller that never had one written; its policy is
// then the default (no country policies, vat.FallbackError).
type SellerVATPolicy struct {
	SellerID          uuid.UUID
	Policy            vat.SellerPolicy
	Stored            bool
	ExternalUpdatedAt *time.Time
	CreatedAt         *time.Time
	UpdatedAt         *time.Time
}

// LoadSellerVATPolicy loads the VAT policy of a seller (lock: FOR UPDATE of
// the seller row, which serialises writers of a policy that does not exist
// yet). The seller must exist.
func LoadSellerVATPolicy(ctx context.Context, q Querier, sellerID uuid.UUID, lock bool) (SellerVATPolicy, error) {
	s, err := Seller(ctx, q, &sellerID, "", lock)
	if err != nil {
		return SellerVATPolicy{}, err
	}
	out := SellerVATPolicy{SellerID: s.ID, Policy: vat.SellerPolicy{Country: s.Country, Fallback: vat.FallbackError,
		Policies: map[string]vat.CountryPolicy{}}}
	r, err := Q(q).GetSellerVATPolicy(ctx, sellerID)
	if errors.Is(err, pgx.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return SellerVATPolicy{}, err
	}
	if err := json.Unmarshal(r.CountryPolicies, &out.Policy.Policies); err != nil {
		return SellerVATPolicy{}, err
	}
	out.Policy.Fallback, out.Policy.EUReverseCharge = vat.Fallback(r.Fallback), r.EuReverseCharge
	out.Stored, out.ExternalUpdatedAt, out.CreatedAt, out.UpdatedAt = true, r.ExternalUpdatedAt, &r.CreatedAt, &r.UpdatedAt
	return out, nil
}

// SaveSellerVATPolicy writes a seller's VAT policy (insert or replace).
func SaveSellerVATPolicy(ctx context.Context, q Querier, p SellerVATPolicy) error {
	pols := p.Policy.Policies
	if pols == nil {
		pols = map[string]vat.CountryPolicy{}
	}
	raw, err := json.Marshal(pols)
	if err != nil {
		return err
	}
	return Translate(Q(q).UpsertSellerVATPolicy(ctx, gen.UpsertSellerVATPolicyParams{SellerID: p.SellerID,
		Fallback: string(p.Policy.Fallback), EuReverseCharge: p.Policy.EUReverseCharge, CountryPolicies: raw,
		ExternalUpdatedAt: p.ExternalUpdatedAt, CreatedAt: *p.CreatedAt, UpdatedAt: *p.UpdatedAt}))
}

// VATConfig loads everything vat.Determine needs for items sold by a
// seller: the seller's policy (its country from the seller record), and the
// instance's VAT rules and rates (all of them, whatever their validity:
// Determine picks the ones valid at the item's moment, and Redetermine
// needs later ones at billing box approval).
func VATConfig(ctx context.Context, q Querier, sellerID uuid.UUID) (vat.Config, error) {
	p, err := LoadSellerVATPolicy(ctx, q, sellerID, false)
	if err != nil {
		return vat.Config{}, err
	}
	g := Q(q)
	rules, err := g.AllVATRules(ctx)
	if err != nil {
		return vat.Config{}, err
	}
	rates, err := g.AllVATRates(ctx)
	if err != nil {
		return vat.Config{}, err
	}
	return vat.Config{Seller: p.Policy, Rules: mapAll(rules, VATRuleOf), Rates: mapAll(rates, VATRateOf)}, nil
}

// VATConfigOfAdministration is VATConfig for the seller of an
// administration (the seller of whatever the administration bills).
func VATConfigOfAdministration(ctx context.Context, q Querier, adminID uuid.UUID) (vat.Config, error) {
	seller, err := Q(q).SellerOfAdministration(ctx, adminID)
	if err != nil {
		return vat.Config{}, notFound(err, "administration", adminID)
	}
	return VATConfig(ctx, q, seller)
}

// VATCache keeps loaded VAT configurations for a short time: every priced
// session needs one and they rarely change, so the pricing step reads them
// at most once per TTL per seller (a change applies within the TTL). A nil
// *VATCache loads every time.
type VATCache struct {
	TTL time.Duration
	mu  sync.Mutex
	m   map[uuid.UUID]cachedVAT
	adm map[uuid.UUID]uuid.UUID // administration → seller (immutable)
}

type cachedVAT struct {
	cfg vat.Config
	at  time.Time
}

// NewVATCache returns a cache whose entries live for ttl.
func NewVATCache(ttl time.Duration) *VATCache {
	return &VATCache{TTL: ttl, m: map[uuid.UUID]cachedVAT{}, adm: map[uuid.UUID]uuid.UUID{}}
}

// Config returns the VAT configuration of a seller, from the cache when
// fresh. The returned Config shares its slices with the cache: callers
// must not modify it.
func (c *VATCache) Config(ctx context.Context, q Querier, sellerID uuid.UUID) (vat.Config, error) {
	if c == nil {
		return VATConfig(ctx, q, sellerID)
	}
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[sellerID]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.TTL {
		return e.cfg, nil
	}
	cfg, err := VATConfig(ctx, q, sellerID)
	if err != nil {
		return vat.Config{}, err
	}
	c.mu.Lock()
	if len(c.m) > 10_000 { // bounded: start over rather than grow
		c.m = map[uuid.UUID]cachedVAT{}
	}
	c.m[sellerID] = cachedVAT{cfg: cfg, at: now}
	c.mu.Unlock()
	return cfg, nil
}

// ConfigOfAdministration is Config for the seller of an administration (an
// administration's seller never changes, so that mapping is kept for good).
func (c *VATCache) ConfigOfAdministration(ctx context.Context, q Querier, adminID uuid.UUID) (vat.Config, error) {
	if c == nil {
		return VATConfigOfAdministration(ctx, q, adminID)
	}
	c.mu.Lock()
	seller, ok := c.adm[adminID]
	c.mu.Unlock()
	if !ok {
		var err error
		if seller, err = Q(q).SellerOfAdministration(ctx, adminID); err != nil {
			return vat.Config{}, notFound(err, "administration", adminID)
		}
		c.mu.Lock()
		if len(c.adm) > 10_000 {
			c.adm = map[uuid.UUID]uuid.UUID{}
		}
		c.adm[adminID] = seller
		c.mu.Unlock()
	}
	return c.Config(ctx, q, seller)
}
