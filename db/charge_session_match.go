package db

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/session"
)

// SessionMatcher implements session.Matcher against what the node knows:
// partners' locations (partner_location, partner_evse) for MSP sessions,
// our own (cpo_location, cpo_evse) for CPO sessions. Ids compare
// case-insensitively; EVSE ids compare without separators (an EVSE is found
// by uid or by EVSE id, and a partner EVSE by EVSE id alone when the CDR's
// location id is unknown to us).
type SessionMatcher struct{ Pool *pgxpool.Pool }

var _ session.Matcher = SessionMatcher{}

// Match implements session.Matcher.
func (m SessionMatcher) Match(ctx context.Context, s session.ChargeSession) (*session.Match, session.Miss, error) {
	if s.Side == session.CPO {
		return m.matchCPO(ctx, s)
	}
	return m.matchPartner(ctx, s)
}

func (m SessionMatcher) matchPartner(ctx context.Context, s session.ChargeSession) (*session.Match, session.Miss, error) {
	q := Q(m.Pool)
	idKey := session.NormalizeEVSEID(s.Location.EvseID)
	rows, err := q.MatchPartnerLocationEVSEs(ctx, gen.MatchPartnerLocationEVSEsParams{UidKey: strings.ToUpper(s.Location.EvseUID),
		EvseIDKey: idKey, CountryCode: strings.ToUpper(s.CountryCode), PartyID: strings.ToUpper(s.PartyID),
		LocationKey: strings.ToUpper(s.Location.LocationID)})
	if err != nil {
		return nil, "", err
	}
	if len(rows) == 0 {
		if idKey == "" {
			return nil, session.LocationNotFound, nil
		}
		e, err := q.MatchPartnerEVSEByID(ctx, gen.MatchPartnerEVSEByIDParams{EvseIDKey: &idKey, CountryCode: strings.ToUpper(s.CountryCode),
			PartyID: strings.ToUpper(s.PartyID)})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, session.LocationNotFound, nil
		}
		if err != nil {
			return nil, "", err
		}
		return connectorMatch(s, &session.Match{LocationID: e.LocationRef, EvseUID: e.Uid, TimeZone: e.TimeZone}, e.Data)
	}
	e := rows[0]
	if e.Uid == nil {
		return nil, session.EVSENotFound, nil
	}
	return connectorMatch(s, &session.Match{LocationID: e.LocationRef, EvseUID: *e.Uid, TimeZone: e.TimeZone}, e.Data)
}

func (m SessionMatcher) matchCPO(ctx context.Context, s session.ChargeSession) (*session.Match, session.Miss, error) {
	q := Q(m.Pool)
	loc, err := q.MatchCPOLocation(ctx, strings.ToUpper(s.Location.LocationID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, session.LocationNotFound, nil
	}
	if err != nil {
		return nil, "", err
	}
	evses, err := q.MatchCPOEVSEs(ctx, gen.MatchCPOEVSEsParams{LocationUuid: loc.ID, EvseKey: strings.ToUpper(s.Location.EvseUID),
		EvseIDKey: session.NormalizeEVSEID(s.Location.EvseID)})
	if err != nil {
		return nil, "", err
	}
	if len(evses) == 0 {
		return nil, session.EVSENotFound, nil
	}
	var l struct {
		TimeZone string `json:"time_zone"`
	}
	_ = json.Unmarshal(loc.Doc, &l)
	e := evses[0]
	return connectorMatch(s, &session.Match{LocationID: loc.ID, EvseID: e.ID, EvseUID: e.EvseUid, TimeZone: l.TimeZone,
		DropoutAll: e.DropoutAllChargesessions}, e.Doc)
}

// connectorMatch completes a match with the CDR's connector, looked up in
// the stored OCPI EVSE object (case-insensitive id), and its power.
func connectorMatch(s session.ChargeSession, m *session.Match, evse []byte) (*session.Match, session.Miss, error) {
	var doc struct {
		Connectors []ocpiConnector `json:"connectors"`
	}
	if err := json.Unmarshal(evse, &doc); err != nil {
		return nil, "", err
	}
	for _, c := range doc.Connectors {
		if strings.EqualFold(c.ID, s.Location.ConnectorID) {
			m.ConnectorID = c.ID
			m.MaxPowerKW = c.powerKW()
			return m, session.Found, nil
		}
	}
	return nil, session.ConnectorNotFound, nil
}

// ocpiConnector is what matching needs of an OCPI Connector (mod_locations
// → Connector Object).
type ocpiConnector struct {
	ID               string           `json:"id"`
	PowerType        string           `json:"power_type"`
	MaxVoltage       decimal.Decimal  `json:"max_voltage"`
	MaxAmperage      decimal.Decimal  `json:"max_amperage"`
	MaxElectricPower *decimal.Decimal `json:"max_electric_power"`
}

// powerKW is the connector's maximum power: max_electric_power (W) when
// given, else voltage × amperage, × 3 for three-phase AC (mod_locations:
// max_voltage of AC_3_PHASE is line to neutral). Zero when unknown.
func (c ocpiConnector) powerKW() decimal.Decimal {
	kilo := decimal.NewFromInt(1000)
	if c.MaxElectricPower != nil && c.MaxElectricPower.IsPositive() {
		return c.MaxElectricPower.Div(kilo)
	}
	w := c.MaxVoltage.Mul(c.MaxAmperage)
	if c.PowerType == "AC_3_PHASE" {
		w = w.Mul(decimal.NewFromInt(3))
	}
	return w.Div(kilo)
}

// SessionLookup implements session.Lookup: whether the MSP token is ours
// (and its administration), and the thresholds overridden for the
// administration and the partner. With a Cache, overrides are read at
// most once per Cache.TTL per administration and partner: every session
// needs them and they rarely change, so a change applies within the TTL.
type SessionLookup struct {
	Pool  *pgxpool.Pool
	Cache *ThresholdCache
}

// ThresholdCache remembers resolved overrides for a short time.
type ThresholdCache struct {
	TTL time.Duration
	mu  sync.Mutex
	m   map[thresholdKey]cachedThresholds
}

type thresholdKey struct{ admin, partner uuid.UUID }

type cachedThresholds struct {
	admin, partner session.Overrides
	at             time.Time
}

// NewThresholdCache returns a cache whose entries live for ttl.
func NewThresholdCache(ttl time.Duration) *ThresholdCache {
	return &ThresholdCache{TTL: ttl, m: map[thresholdKey]cachedThresholds{}}
}

func (c *ThresholdCache) get(k thresholdKey, now time.Time) (cachedThresholds, bool) {
	if c == nil {
		return cachedThresholds{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	return e, ok && now.Sub(e.at) < c.TTL
}

func (c *ThresholdCache) put(k thresholdKey, e cachedThresholds) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 10_000 { // bounded: start over rather than grow
		c.m = map[thresholdKey]cachedThresholds{}
	}
	c.m[k] = e
}

var _ session.Lookup = SessionLookup{}

// Facts implements session.Lookup.
func (l SessionLookup) Facts(ctx context.Context, s session.ChargeSession) (session.Facts, error) {
	if s.Side != session.MSP {
		return session.Facts{TokenKnown: true}, nil
	}
	admin, err := Q(l.Pool).MSPTokenOwner(ctx, gen.MSPTokenOwnerParams{UidKey: strings.ToUpper(s.Token.UID), Type: s.Token.Type})
	if errors.Is(err, pgx.ErrNoRows) {
		return session.Facts{}, nil
	}
	if err != nil {
		return session.Facts{}, err
	}
	return session.Facts{TokenKnown: true, AdministrationID: &admin}, nil
}

// Thresholds implements session.Lookup: defaults, then the
// administration's overrides, then the partner's.
func (l SessionLookup) Thresholds(ctx context.Context, s session.ChargeSession, admin *uuid.UUID, defaults session.Thresholds) (session.Thresholds, error) {
	if admin == nil && s.PartnerID == nil {
		return defaults, nil
	}
	k := thresholdKey{}
	if admin != nil {
		k.admin = *admin
	}
	if s.PartnerID != nil {
		k.partner = *s.PartnerID
	}
	now := time.Now()
	if e, ok := l.Cache.get(k, now); ok {
		return session.Resolve(defaults, e.admin, e.partner), nil
	}
	rows, err := Q(l.Pool).ThresholdOverrides(ctx, gen.ThresholdOverridesParams{AdministrationID: admin, PartnerID: s.PartnerID})
	if err != nil {
		return defaults, err
	}
	e := cachedThresholds{at: now}
	for _, r := range rows {
		target := &e.partner
		if r.AdministrationID != nil {
			target = &e.admin
		}
		if err := json.Unmarshal(r.Overrides, target); err != nil {
			return defaults, err
		}
	}
	l.Cache.put(k, e)
	return session.Resolve(defaults, e.admin, e.partner), nil
}

// SetThresholdOverrides stores the overrides of an administration or (when
// partner is set) a roaming partner.
func SetThresholdOverrides(ctx context.Context, q Querier, admin, partner *uuid.UUID, o session.Overrides) error {
	raw, err := json.Marshal(o)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	if partner != nil {
		return Translate(Q(q).UpsertPartnerThresholds(ctx, gen.UpsertPartnerThresholdsParams{ID: uuid.Must(uuid.NewV7()), PartnerID: partner, Overrides: raw, Now: now}))
	}
	return Translate(Q(q).UpsertAdministrationThresholds(ctx, gen.UpsertAdministrationThresholdsParams{ID: uuid.Must(uuid.NewV7()), AdministrationID: admin, Overrides: raw, Now: now}))
}
