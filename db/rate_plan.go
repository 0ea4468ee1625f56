package db

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/network"
	"github.com/roamnode/roamnode/domain/pricing"
	"github.com/roamnode/roamnode/domain/rateplan"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/domain/vat"
	"github.com/roamnode/roamnode/ocpi"
)

// RatePlan is a stored rate plan: its owner administration, the ones it is
// shared with, and its rates and rules (domain/rateplan).
type RatePlan struct {
	ID                      uuid.UUID
	AdministrationID        uuid.UUID
	ExternalReference       *string
	Name                    string
	Description             *string
	Currency                string
	SharedAdministrationIDs []uuid.UUID
	Plan                    rateplan.Plan
	ExternalUpdatedAt       *time.Time
	CreatedAt               time.Time
	UpdatedAt               time.Time
}

func ratePlanOf(r gen.RatePlan) (RatePlan, error) {
	out := RatePlan{ID: r.ID, AdministrationID: r.AdministrationID, ExternalReference: r.ExternalReference, Name: r.Name,
		Description: r.Description, Currency: r.Currency, SharedAdministrationIDs: r.SharedAdministrationIds,
		ExternalUpdatedAt: r.ExternalUpdatedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	p, err := planOf(r.ID, r.Currency, r.Rates, r.Rules)
	out.Plan = p
	if out.SharedAdministrationIDs == nil {
		out.SharedAdministrationIDs = []uuid.UUID{}
	}
	return out, err
}

func planOf(id uuid.UUID, currency string, rates, rules []byte) (rateplan.Plan, error) {
	p := rateplan.Plan{ID: id, Currency: currency}
	if err := json.Unmarshal(rates, &p.Rates); err != nil {
		return p, err
	}
	return p, json.Unmarshal(rules, &p.Rules)
}

// LoadRatePlan loads a rate plan by id or external reference (lock: FOR
// UPDATE).
func LoadRatePlan(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (RatePlan, error) {
	r, err := lookup(ctx, "rate plan", id, ref, lock, Q(q).GetRatePlan, Q(q).LockRatePlan, Q(q).GetRatePlanByRef, Q(q).LockRatePlanByRef)
	if err != nil {
		return RatePlan{}, err
	}
	return ratePlanOf(r)
}

// ListRatePlans returns a page of rate plans.
func ListRatePlans(ctx context.Context, q Querier, p gen.ListRatePlansParams) ([]RatePlan, error) {
	if p.AdminIds == nil {
		p.AdminIds = []uuid.UUID{}
	}
	return convert(ratePlanOf)(Q(q).ListRatePlans(ctx, p))
}

// SaveRatePlan inserts or updates a rate plan; its owner and currency are
// immutable.
func SaveRatePlan(ctx context.Context, q Querier, r RatePlan, isNew bool) error {
	rates, err := json.Marshal(r.Plan.Rates)
	if err != nil {
		return err
	}
	rules, err := json.Marshal(r.Plan.Rules)
	if err != nil {
		return err
	}
	shared := r.SharedAdministrationIDs
	if shared == nil {
		shared = []uuid.UUID{}
	}
	if isNew {
		return Translate(Q(q).InsertRatePlan(ctx, gen.InsertRatePlanParams{ID: r.ID, AdministrationID: r.AdministrationID,
			ExternalReference: r.ExternalReference, Name: r.Name, Description: r.Description, Currency: r.Currency,
			SharedAdministrationIds: shared, Rates: rates, Rules: rules, ExternalUpdatedAt: r.ExternalUpdatedAt, CreatedAt: r.CreatedAt,
			UpdatedAt: r.UpdatedAt}))
	}
	return Translate(Q(q).UpdateRatePlan(ctx, gen.UpdateRatePlanParams{ID: r.ID, ExternalReference: r.ExternalReference, Name: r.Name,
		Description: r.Description, SharedAdministrationIds: shared, Rates: rates, Rules: rules, ExternalUpdatedAt: r.ExternalUpdatedAt,
		UpdatedAt: r.UpdatedAt}))
}

// AdministrationCurrencies returns the currency of each of the given
// administrations that exists.
func AdministrationCurrencies(ctx context.Context, q Querier, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	rows, err := Q(q).AdministrationCurrencies(ctx, ids)
	out := make(map[uuid.UUID]string, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Currency
	}
	return out, err
}

// AdministrationsUsingRatePlan returns the administrations whose
// subscription plans use a rate plan.
func AdministrationsUsingRatePlan(ctx context.Context, q Querier, id uuid.UUID) ([]uuid.UUID, error) {
	return Q(q).SubscriptionPlansUsingRatePlan(ctx, &id)
}

// ---- pricing checks

// PricingChecksOf returns the stored checks of an administration or a
// roaming partner (zero Checks when none are stored) and when they were
// last changed.
func PricingChecksOf(ctx context.Context, q Querier, o ThresholdOwner) (rateplan.Checks, *time.Time, error) {
	var (
		r   gen.PricingCheck
		err error
	)
	if o.AdministrationID != nil {
		r, err = Q(q).GetAdministrationPricingChecks(ctx, o.AdministrationID)
	} else {
		r, err = Q(q).GetPartnerPricingChecks(ctx, o.PartnerID)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return rateplan.Checks{}, nil, nil
	}
	if err != nil {
		return rateplan.Checks{}, nil, err
	}
	var c rateplan.Checks
	at := r.UpdatedAt
	return c, &at, json.Unmarshal(r.Checks, &c)
}

// SavePricingChecks stores the checks of an administration or a roaming
// partner.
func SavePricingChecks(ctx context.Context, q Querier, o ThresholdOwner, c rateplan.Checks, now time.Time) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	id := uuid.Must(uuid.NewV7())
	if o.AdministrationID != nil {
		return Translate(Q(q).UpsertAdministrationPricingChecks(ctx, gen.UpsertAdministrationPricingChecksParams{ID: id,
			AdministrationID: o.AdministrationID, Checks: raw, Now: now}))
	}
	return Translate(Q(q).UpsertPartnerPricingChecks(ctx, gen.UpsertPartnerPricingChecksParams{ID: id, PartnerID: o.PartnerID, Checks: raw, Now: now}))
}

// ---- the MSP pricer's loader

// MSPPricingLoader gathers the inputs of MSP pricing from Postgres
// (rateplan.Loader): the token's subscription at the session start with
// its plan, rate plan and customer in one query, the CDR as received (its
// charging periods, costs and tariffs), the CPO's tariff for pass-through
// and the partner cost check, the seller's VAT configuration and the
// pricing checks. Parsed rate plans, VAT configurations and checks are
// cached for a short time (a change applies within the TTL).
type MSPPricingLoader struct {
	Pool   *pgxpool.Pool
	VAT    *VATCache
	Plans  *RatePlanCache
	Checks *ChecksCache
}

var _ rateplan.Loader = MSPPricingLoader{}

// NewMSPPricingLoader returns a loader on pool with caches of ttl.
func NewMSPPricingLoader(pool *pgxpool.Pool, ttl time.Duration) MSPPricingLoader {
	return MSPPricingLoader{Pool: pool, VAT: NewVATCache(ttl), Plans: NewRatePlanCache(ttl), Checks: &ChecksCache{TTL: ttl}}
}

// MSPPricingInputs implements rateplan.Loader.
func (l MSPPricingLoader) MSPPricingInputs(ctx context.Context, s session.ChargeSession) (rateplan.Inputs, error) {
	in := rateplan.Inputs{Session: s}
	if s.Match != nil {
		in.TimeZone = s.Match.TimeZone
	}
	start := s.Start.UTC()
	f, err := Q(l.Pool).MSPPricingFacts(ctx, gen.MSPPricingFactsParams{SessionID: s.ID, StartAt: &start, UidKey: strings.ToUpper(s.Token.UID),
		Type: s.Token.Type})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return in, nil // no subscription: Compute drops the session out
	case err != nil:
		return in, err
	}
	in.Subscription = &rateplan.Subscription{ID: f.SubscriptionID, LinkID: f.LinkID, TokenID: f.TokenID, CustomerID: f.CustomerID,
		AdministrationID: f.AdministrationID, PlanID: f.PlanID, RatePlanID: f.RatePlanID}
	in.Customer = vat.Customer{ID: f.CustomerID.String(), Country: f.CustomerCountry, VATNumber: deref(f.CustomerVatNumber),
		Business: f.CustomerEntityType != "person", ReimbursementVAT: vat.ReimbursementVAT(f.CustomerReimbursementVat)}
	if f.UseCustomerReimbursementVat {
		// Only a plan with "Use Customer Reimbursement VAT" needs our local
		// EVSE (two more queries); sessions of other plans cost nothing extra.
		in.UseCustomerReimbursementVAT = true
		if in.LocalEVSE, err = LocalEVSEForVAT(ctx, l.Pool, s.CountryCode, s.PartyID, s.Location.EvseUID); err != nil {
			return in, err
		}
	}
	if f.RatePlanID != nil {
		p, err := l.Plans.plan(*f.RatePlanID, deref(f.RatePlanCurrency), *f.RatePlanUpdatedAt, f.RatePlanRates, f.RatePlanRules)
		if err != nil {
			return in, err
		}
		in.Plan = &p
		in.PlanUsable = usable(f.AdministrationID, f.AdministrationCurrency, *f.RatePlanOwner, f.SharedAdministrationIds, p.Currency)
	}
	if in.VAT, err = l.VAT.ConfigOfAdministration(ctx, l.Pool, f.AdministrationID); err != nil {
		return in, err
	}
	if in.Checks, err = l.checks(ctx, f.AdministrationID, s.PartnerID); err != nil {
		return in, err
	}
	if err := l.cdrFacts(ctx, s, f.Payload, &in); err != nil {
		return in, err
	}
	return in, nil
}

// usable: the rate plan is owned by or shared with the administration,
// in the administration's currency (guide 003 → Rate plan).
func usable(admin uuid.UUID, adminCurrency string, owner uuid.UUID, shared []uuid.UUID, currency string) bool {
	if !strings.EqualFold(adminCurrency, currency) {
		return false
	}
	if owner == admin {
		return true
	}
	for _, a := range shared {
		if a == admin {
			return true
		}
	}
	return false
}

// checks layers the administration's pricing checks and the partner's
// (cached for the TTL).
func (l MSPPricingLoader) checks(ctx context.Context, admin uuid.UUID, partner *uuid.UUID) (rateplan.Checks, error) {
	k := checksKey{admin: admin}
	if partner != nil {
		k.partner = *partner
	}
	if c, ok := l.Checks.get(k); ok {
		return c, nil
	}
	c, err := l.loadChecks(ctx, admin, partner)
	if err == nil {
		l.Checks.put(k, c)
	}
	return c, err
}

func (l MSPPricingLoader) loadChecks(ctx context.Context, admin uuid.UUID, partner *uuid.UUID) (rateplan.Checks, error) {
	rows, err := Q(l.Pool).PricingChecksOf(ctx, gen.PricingChecksOfParams{AdministrationID: &admin, PartnerID: partner})
	if err != nil {
		return rateplan.Checks{}, err
	}
	var a, p rateplan.Checks
	for _, r := range rows {
		var c rateplan.Checks
		if err := json.Unmarshal(r.Checks, &c); err != nil {
			return rateplan.Checks{}, err
		}
		if r.AdministrationID != nil {
			a = c
		} else {
			p = c
		}
	}
	return a.Layer(p), nil
}

// cdrFacts reads the CDR as received: its charging periods, its reported
// costs, and the CPO's tariff (the CDR's own tariffs, else the partner
// tariffs its periods name, else the matched connector's tariff_ids).
func (l MSPPricingLoader) cdrFacts(ctx context.Context, s session.ChargeSession, payload string, in *rateplan.Inputs) error {
	var cdr ocpi.CDR
	if payload == "" || decodeStoredCDR(payload, &cdr) != nil || cdr.ID == "" {
		// Not an OCPI CDR (another channel): priced from the totals, with
		// the matched connector's tariff.
		return l.connectorTariff(ctx, s, nil, in)
	}
	if ps, err := cdr.ToSession(); err == nil && len(ps.Periods) > 0 {
		in.Periods = ps.Periods
	}
	t := cdr.Totals()
	if t.TotalCost != nil {
		c := rateplan.CPOCosts{Total: t.TotalCost.ExclVAT}
		if t.TotalEnergyCost != nil {
			c.Energy = t.TotalEnergyCost.ExclVAT
		}
		if t.TotalTimeCost != nil {
			c.Time = t.TotalTimeCost.ExclVAT
		}
		if t.TotalParkingCost != nil {
			c.Parking = t.TotalParkingCost.ExclVAT
		}
		if t.TotalFixedCost != nil {
			c.Fixed = t.TotalFixedCost.ExclVAT
		}
		if t.TotalReservationCost != nil {
			c.Reservation = t.TotalReservationCost.ExclVAT
		}
		in.CPOCosts = &c
	}
	named := []string{}
	for _, p := range cdr.ChargingPeriods {
		if p.TariffID != "" {
			named = append(named, p.TariffID)
		}
	}
	// The CDR's own tariffs (mod_cdrs CDR.tariffs: "relevant tariffs"),
	// the one its periods name first.
	var own []ocpi.Tariff
	for _, id := range named {
		for _, ct := range cdr.Tariffs {
			if strings.EqualFold(ct.ID, id) {
				own = append(own, ct)
			}
		}
	}
	own = append(own, cdr.Tariffs...)
	for _, ct := range own {
		if pt, err := ct.ToPricing(); err == nil {
			in.CPOTariff = &pt
			return nil
		}
	}
	return l.connectorTariff(ctx, s, named, in)
}

// decodeStoredCDR decodes a CDR as received with goccy/go-json, about
// half the CPU of encoding/json for a CDR (this decode was a tenth of the
// Go CPU of a priced session: docs/performance.md, "Pipeline with
// pricing", round 5). The intake accepted the payload through
// encoding/json, so a document goccy refuses is decoded by encoding/json
// again rather than priced without its CDR.
func decodeStoredCDR(payload string, cdr *ocpi.CDR) error {
	if gojson.Unmarshal([]byte(payload), cdr) == nil {
		return nil
	}
	*cdr = ocpi.CDR{}
	return json.Unmarshal([]byte(payload), cdr)
}

// connectorTariff finds the CPO's tariff among the partner's stored
// tariffs: the ones the charging periods name, else the matched
// connector's tariff_ids (mod_locations Connector.tariff_ids), the first
// valid at the session start.
func (l MSPPricingLoader) connectorTariff(ctx context.Context, s session.ChargeSession, named []string, in *rateplan.Inputs) error {
	ids := named
	if len(ids) == 0 && s.Match != nil {
		raw, err := Q(l.Pool).PartnerConnectorTariffIDs(ctx, gen.PartnerConnectorTariffIDsParams{LocationRef: s.Match.LocationID,
			UidKey: network.Key(s.Match.EvseUID), ConnectorID: s.Match.ConnectorID})
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		_ = json.Unmarshal(raw, &ids)
	}
	if len(ids) == 0 {
		return nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = network.Key(id)
	}
	rows, err := Q(l.Pool).PartnerTariffsByKeys(ctx, gen.PartnerTariffsByKeysParams{CountryCode: s.CountryCode, PartyID: s.PartyID, Keys: keys})
	if err != nil {
		return err
	}
	for _, k := range keys { // in the order named
		for _, r := range rows {
			if r.TariffKey != k {
				continue
			}
			var ot ocpi.Tariff
			if json.Unmarshal(r.Data, &ot) != nil {
				continue
			}
			if pt, err := ot.ToPricing(); err == nil && validAt(pt, s.Start) {
				in.CPOTariff = &pt
				return nil
			}
		}
	}
	return nil
}

func validAt(t pricing.Tariff, at time.Time) bool {
	return (t.StartDateTime == nil || !at.Before(*t.StartDateTime)) && (t.EndDateTime == nil || at.Before(*t.EndDateTime))
}

// RatePlanCache keeps parsed rate plans by id and version (updated_at):
// the rates and rules arrive with every pricing query, and parsing them
// once per change is enough.
type RatePlanCache struct {
	TTL time.Duration
	mu  sync.Mutex
	m   map[uuid.UUID]cachedPlan
}

type cachedPlan struct {
	version time.Time
	plan    rateplan.Plan
}

// NewRatePlanCache returns an empty cache (ttl bounds nothing today: an
// entry is valid as long as the plan's updated_at is the same).
func NewRatePlanCache(ttl time.Duration) *RatePlanCache {
	return &RatePlanCache{TTL: ttl, m: map[uuid.UUID]cachedPlan{}}
}

func (c *RatePlanCache) plan(id uuid.UUID, currency string, version time.Time, rates, rules []byte) (rateplan.Plan, error) {
	if c != nil {
		c.mu.Lock()
		e, ok := c.m[id]
		c.mu.Unlock()
		if ok && e.version.Equal(version) {
			return e.plan, nil
		}
	}
	p, err := planOf(id, currency, rates, rules)
	if err != nil || c == nil {
		return p, err
	}
	c.mu.Lock()
	if len(c.m) > 10_000 {
		c.m = map[uuid.UUID]cachedPlan{}
	}
	c.m[id] = cachedPlan{version: version, plan: p}
	c.mu.Unlock()
	return p, nil
}

// Quote is what a charge cost calculation prices: a subscription (or, for
// a prospect, only a plan), where (a partner location, optionally an EVSE
// by uid or EVSE id, a connector) and the expected session.
type Quote struct {
	SubscriptionID *uuid.UUID
	PlanID         *uuid.UUID
	LocationRef    *uuid.UUID
	EVSEUID        string
	EVSEID         string
	ConnectorID    string
	Start          time.Time
	Duration       time.Duration
	Parking        time.Duration
	Energy         decimal.Decimal
}

// QuoteScope is the administration a quote's subscription or plan
// belongs to (for scoping the request).
type QuoteScope struct {
	AdministrationID uuid.UUID
}

// QuoteInputs gathers the inputs of rateplan.Compute for a quote: the
// same facts as a session's (the plan's rate plan, the customer, the VAT
// configuration, the CPO's tariff of the connector for pass-through), the
// session built from the expected figures and priced as one charging
// period. Pricing checks do not apply to quotes.
func (l MSPPricingLoader) QuoteInputs(ctx context.Context, qt Quote) (rateplan.Inputs, QuoteScope, error) {
	var in rateplan.Inputs
	planID := qt.PlanID
	if qt.SubscriptionID != nil {
		s, err := MSPTokenSubscription(ctx, l.Pool, qt.SubscriptionID, "", false)
		if err != nil {
			return in, QuoteScope{}, err
		}
		planID = &s.PlanID
	}
	if planID == nil {
		return in, QuoteScope{}, fault.Invalid("subscription_id", "give a subscription_id or a plan_id")
	}
	f, err := Q(l.Pool).QuoteFacts(ctx, gen.QuoteFactsParams{SubscriptionID: qt.SubscriptionID, PlanID: *planID})
	if err != nil {
		return in, QuoteScope{}, notFound(err, "msp token subscription plan", *planID)
	}
	scope := QuoteScope{AdministrationID: f.AdministrationID}
	var evseKey, idKey *string
	if qt.EVSEUID != "" {
		k := network.Key(qt.EVSEUID)
		evseKey = &k
	}
	if qt.EVSEID != "" {
		k := session.NormalizeEVSEID(qt.EVSEID)
		idKey = &k
	}
	if qt.LocationRef == nil && idKey == nil {
		return in, scope, fault.Invalid("location_id", "give a location_id (partner-evse-location) or an evse_id")
	}
	loc, err := Q(l.Pool).QuoteLocation(ctx, gen.QuoteLocationParams{LocationRef: qt.LocationRef, EvseUidKey: evseKey, EvseIDKey: idKey})
	if err != nil {
		return in, scope, notFound(err, "partner EVSE", keyText(qt))
	}
	connector, powerType, tariffIDs := quoteConnector(loc.EvseData, qt.ConnectorID)
	s := session.ChargeSession{ID: uuid.Nil, Side: session.MSP, PartnerID: loc.PartnerID, CountryCode: loc.CountryCode, PartyID: loc.PartyID,
		Start: qt.Start.UTC(), End: qt.Start.UTC().Add(qt.Duration), Location: session.Place{LocationID: loc.LocationID, EvseUID: loc.EvseUid,
			EvseID: loc.EvseID, ConnectorID: connector, PowerType: powerType, Country: loc.Country},
		Currency: deref(f.RatePlanCurrency), TotalEnergy: qt.Energy, TotalTime: hours(qt.Duration), TotalParkingTime: hours(qt.Parking),
		State: session.ReadyForPricing, AdministrationID: &f.AdministrationID}
	in.Session, in.TimeZone = s, loc.TimeZone
	sub := &rateplan.Subscription{PlanID: f.PlanID, AdministrationID: f.AdministrationID, RatePlanID: f.RatePlanID}
	if qt.SubscriptionID != nil {
		sub.ID = *qt.SubscriptionID
	}
	if f.CustomerID != nil {
		sub.CustomerID = *f.CustomerID
		in.Customer = vat.Customer{ID: f.CustomerID.String(), Country: deref(f.CustomerCountry), VATNumber: deref(f.CustomerVatNumber),
			Business: deref(f.CustomerEntityType) != "person"}
	}
	in.Subscription = sub
	if f.UseCustomerReimbursementVat { // as for a session (MSPPricingInputs)
		in.UseCustomerReimbursementVAT = true
		if in.LocalEVSE, err = LocalEVSEForVAT(ctx, l.Pool, loc.CountryCode, loc.PartyID, loc.EvseUid); err != nil {
			return in, scope, err
		}
	}
	if f.RatePlanID != nil {
		p, err := l.Plans.plan(*f.RatePlanID, deref(f.RatePlanCurrency), *f.RatePlanUpdatedAt, f.RatePlanRates, f.RatePlanRules)
		if err != nil {
			return in, scope, err
		}
		in.Plan = &p
		in.PlanUsable = usable(f.AdministrationID, f.AdministrationCurrency, *f.RatePlanOwner, f.SharedAdministrationIds, p.Currency)
	}
	if in.VAT, err = l.VAT.ConfigOfAdministration(ctx, l.Pool, f.AdministrationID); err != nil {
		return in, scope, err
	}
	if len(tariffIDs) > 0 {
		keys := make([]string, len(tariffIDs))
		for i, id := range tariffIDs {
			keys[i] = network.Key(id)
		}
		rows, err := Q(l.Pool).PartnerTariffsByKeys(ctx, gen.PartnerTariffsByKeysParams{CountryCode: loc.CountryCode, PartyID: loc.PartyID, Keys: keys})
		if err != nil {
			return in, scope, err
		}
	found:
		for _, k := range keys {
			for _, r := range rows {
				var ot ocpi.Tariff
				if r.TariffKey != k || json.Unmarshal(r.Data, &ot) != nil {
					continue
				}
				if pt, err := ot.ToPricing(); err == nil && validAt(pt, s.Start) {
					in.CPOTariff = &pt
					break found
				}
			}
		}
	}
	return in, scope, nil
}

func keyText(qt Quote) string {
	parts := []string{}
	if qt.LocationRef != nil {
		parts = append(parts, "location "+qt.LocationRef.String())
	}
	if qt.EVSEUID != "" {
		parts = append(parts, "EVSE uid "+qt.EVSEUID)
	}
	if qt.EVSEID != "" {
		parts = append(parts, "EVSE id "+qt.EVSEID)
	}
	return strings.Join(parts, ", ")
}

func hours(d time.Duration) decimal.Decimal {
	return decimal.NewFromInt(int64(d / time.Second)).Div(decimal.NewFromInt(3600))
}

// quoteConnector picks the connector of an EVSE (the named one, else the
// first) and returns its id, power type and tariff_ids.
func quoteConnector(evse []byte, want string) (id, powerType string, tariffIDs []string) {
	var e struct {
		Connectors []struct {
			ID        string   `json:"id"`
			PowerType string   `json:"power_type"`
			TariffIDs []string `json:"tariff_ids"`
		} `json:"connectors"`
	}
	if json.Unmarshal(evse, &e) != nil {
		return want, "", nil
	}
	for _, c := range e.Connectors {
		if want == "" || strings.EqualFold(c.ID, want) {
			return c.ID, c.PowerType, c.TariffIDs
		}
	}
	return want, "", nil
}

// ChecksCache keeps layered pricing checks per (administration, partner)
// for TTL: every priced session needs them and they rarely change (a
// change applies within the TTL). A nil *ChecksCache loads every time.
type ChecksCache struct {
	TTL time.Duration
	mu  sync.Mutex
	m   map[checksKey]cachedChecks
}

type checksKey struct{ admin, partner uuid.UUID }

type cachedChecks struct {
	c  rateplan.Checks
	at time.Time
}

func (c *ChecksCache) get(k checksKey) (rateplan.Checks, bool) {
	if c == nil {
		return rateplan.Checks{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	return e.c, ok && time.Since(e.at) < c.TTL
}

func (c *ChecksCache) put(k checksKey, v rateplan.Checks) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10_000 {
		c.m = map[checksKey]cachedChecks{}
	}
	c.m[k] = cachedChecks{c: v, at: time.Now()}
}
