package db_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/worker"
)

// kwhPricer prices energy at a price per kWh with 21 % VAT and fails the
// partner-cost check above maxKWh unless the session bypasses it: a pricer
// of the framework's tests (the MSP pricer has its own).
type kwhPricer struct {
	price, maxKWh decimal.Decimal
}

func (p kwhPricer) Price(_ context.Context, s session.ChargeSession, _ time.Time) ([]session.PriceResult, error) {
	if s.TotalEnergy.GreaterThan(p.maxKWh) && !s.Bypasses(session.CheckPartnerCostMatches) {
		return nil, session.Failf(session.CheckPartnerCostMatches, "Partner cost differs", "%s kWh above %s", s.TotalEnergy, p.maxKWh)
	}
	rate := decimal.RequireFromString("0.21")
	excl := p.price.Mul(s.TotalEnergy).Round(2)
	vat := excl.Mul(rate).Round(2)
	return []session.PriceResult{{Kind: session.KindMSP, Currency: s.Currency, Detail: json.RawMessage(`{"rule":"test"}`),
		Components: []session.PriceComponent{{Component: "energy", Volume: s.TotalEnergy, Unit: "kWh", ExclVAT: excl, VATRate: rate, VAT: vat, InclVAT: excl.Add(vat)}}}}, nil
}

// pricingDB is an MSP database with a partner EVSE BE-BEC LOC1/3256 and a
// token, and a session processor pricing MSP sessions with kwhPricer.
type pricingDB struct {
	*mspDB
	proc *worker.SessionProcessor
}

func newPricingDB(t *testing.T, pricers map[session.Side][]session.Pricer) *pricingDB {
	t.Helper()
	m := newMSPDB(t)
	ctx := context.Background()
	m.token(1, m.now)
	loc := uuid.Must(uuid.NewV7())
	_, err := m.d.Pool.Exec(ctx, `INSERT INTO partner_location (id, country_code, party_id, location_id, location_key,
		latitude, longitude, time_zone, publish, last_updated, data, created_at, updated_at)
		VALUES ($1, 'BE', 'BEC', 'LOC1', 'LOC1', 51.04, 3.72, 'Europe/Brussels', true, now(), '{}', now(), now())`, loc)
	require.NoError(t, err)
	_, err = m.d.Pool.Exec(ctx, `INSERT INTO partner_evse (location_ref, position, uid, uid_key, evse_id, evse_id_key, status, last_updated, data)
		VALUES ($1, 0, '3256', '3256', 'BE*BEC*E041503003', 'BEBECE041503003', 'AVAILABLE', now(),
		'{"uid":"3256","connectors":[{"id":"1","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":32,"max_electric_power":22000,"tariff_ids":["T1"]}]}')`, loc)
	require.NoError(t, err)
	rdb := redis.NewClient(dbtest.RedisDB(dbtest.RedisDBPricing))
	t.Cleanup(func() { rdb.Close() })
	proc := worker.NewSessionProcessor(worker.Deps{Pool: m.d.Pool, Redis: rdb, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		worker.SessionOptions{Schedule: session.Schedule{time.Millisecond}, Pricers: pricers})
	return &pricingDB{mspDB: m, proc: proc}
}

// receive stores an MSP CDR of kwh at LOC1/3256/1 for token Tok0001.
func (p *pricingDB) receive(cdrID string, kwh int64) uuid.UUID {
	p.t.Helper()
	end := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	rec, created, err := db.ReceiveChargeSession(context.Background(), p.d.Pool, db.Intake{Channel: db.ChannelOCPIPush, Payload: []byte(`{}`),
		Session: session.ChargeSession{Side: session.MSP, CountryCode: "BE", PartyID: "BEC", CdrID: cdrID, Start: end.Add(-2 * time.Hour), End: end,
			Token:    session.Token{CountryCode: "NL", PartyID: "RNE", UID: "Tok0001", Type: "RFID", ContractID: "NL-RNE-C00000001"},
			Location: session.Place{LocationID: "LOC1", EvseUID: "3256", ConnectorID: "1", Country: "BEL", PowerType: "AC_3_PHASE"}, Currency: "EUR",
			TotalEnergy: decimal.NewFromInt(kwh), TotalTime: decimal.NewFromInt(2)}})
	require.NoError(p.t, err)
	require.True(p.t, created)
	return rec.ID
}

func (p *pricingDB) session(id uuid.UUID) db.ChargeSessionRecord {
	p.t.Helper()
	r, err := db.ChargeSession(context.Background(), p.d.Pool, id)
	require.NoError(p.t, err)
	return r
}

func (p *pricingDB) prices(id uuid.UUID) []db.PriceView {
	p.t.Helper()
	vs, err := db.ChargeSessionPrices(context.Background(), p.d.Pool, id)
	require.NoError(p.t, err)
	return vs
}

// priceEvents returns the data of the msp-charge-session-priced events of
// session id.
func (p *pricingDB) priceEvents(id uuid.UUID) []db.PriceView {
	p.t.Helper()
	rows, err := p.d.Pool.Query(context.Background(), `SELECT data FROM outbox_event WHERE kind = 'msp-charge-session-priced'
		AND data->>'charge_session_id' = $1 ORDER BY seq`, id.String())
	require.NoError(p.t, err)
	defer rows.Close()
	var out []db.PriceView
	for rows.Next() {
		var raw []byte
		require.NoError(p.t, rows.Scan(&raw))
		var v db.PriceView
		require.NoError(p.t, json.Unmarshal(raw, &v))
		out = append(out, v)
	}
	require.NoError(p.t, rows.Err())
	return out
}

func TestPricingFramework(t *testing.T) {
	ctx := context.Background()
	p := newPricingDB(t, map[session.Side][]session.Pricer{session.MSP: {kwhPricer{price: decimal.RequireFromString("0.35"), maxKWh: decimal.NewFromInt(20)}}})

	// A session runs through matching and validation to priced, with its
	// result as version 1 ("initial") and one event per result that equals
	// the stored result.
	id := p.receive("P-1", 10)
	require.NoError(t, p.proc.Process(ctx, id))
	rec := p.session(id)
	require.Equal(t, session.Priced, rec.State)
	vs := p.prices(id)
	require.Len(t, vs, 1)
	v := vs[0]
	require.Equal(t, 1, v.Version)
	require.Equal(t, "initial", v.Reason)
	require.Equal(t, session.KindMSP, v.Kind)
	require.Equal(t, "3.5", v.ExclVAT.String())
	require.Equal(t, "0.74", v.VAT.String())
	require.Equal(t, "4.24", v.InclVAT.String())
	require.Equal(t, &p.admin, v.AdministrationID)
	require.JSONEq(t, `{"rule":"test"}`, string(v.Detail))
	require.Len(t, v.Components, 1)
	require.Equal(t, "0.21", v.Components[0].VATRate.String())
	evs := p.priceEvents(id)
	require.Len(t, evs, 1)
	require.Equal(t, v, evs[0], "the event carries the result as stored")

	// Run twice = one result: the task again, and the same commit again.
	require.NoError(t, p.proc.Process(ctx, id))
	require.Len(t, p.prices(id), 1)
	stale := rec
	stale.State = session.ReadyForPricing
	_, committed, err := db.CommitPriced(ctx, p.d.Pool, stale, session.Outcome{State: session.Priced,
		Prices: []session.PriceResult{{Kind: session.KindMSP, Currency: "EUR"}}}, time.Now())
	require.NoError(t, err)
	require.False(t, committed, "a stale pricing step commits nothing")
	require.Len(t, p.prices(id), 1)
	require.Len(t, p.priceEvents(id), 1)

	// Repricing appends version 2 with its reason and keeps version 1.
	require.NoError(t, p.proc.Reprice(ctx, id, "correction: plan changed"))
	require.Equal(t, session.Priced, p.session(id).State)
	vs = p.prices(id)
	require.Len(t, vs, 2)
	require.Equal(t, v, vs[0], "version 1 is kept unchanged")
	require.Equal(t, 2, vs[1].Version)
	require.Equal(t, "correction: plan changed", vs[1].Reason)
	require.True(t, vs[1].InclVAT.Equal(v.InclVAT), "the same inputs price the same")
	require.Len(t, p.priceEvents(id), 2)
	var reason *string
	require.NoError(t, p.d.Pool.QueryRow(ctx, "SELECT pricing_reason FROM charge_session WHERE id = $1", id).Scan(&reason))
	require.Nil(t, reason, "the reprice reason is cleared once its versions are stored")

	// A session not priced yet is not repriced (it will be priced anyway).
	_, requested, err := db.Reprice(ctx, p.d.Pool, p.receive("P-0", 1), "early", time.Now())
	require.NoError(t, err)
	require.False(t, requested)

	// A pricing failure drops the session out into a case with its check;
	// reprocessing with a bypass of that check prices it.
	big := p.receive("P-2", 30)
	require.NoError(t, p.proc.Process(ctx, big))
	rec = p.session(big)
	require.Equal(t, session.DroppedOut, rec.State)
	require.Equal(t, "Partner cost differs", *rec.DropoutReason)
	require.Equal(t, string(session.CheckPartnerCostMatches), *rec.DropoutCheck)
	require.NotNil(t, rec.DropoutCaseID)
	require.Empty(t, p.prices(big))
	// A second one joins the same case.
	big2 := p.receive("P-3", 35)
	require.NoError(t, p.proc.Process(ctx, big2))
	require.Equal(t, rec.DropoutCaseID, p.session(big2).DropoutCaseID)
	_, err = db.ReprocessCase(ctx, p.d.Pool, *rec.DropoutCaseID, session.Bypass, session.CheckPartnerCostMatches)
	require.NoError(t, err)
	for _, s := range []uuid.UUID{big, big2} {
		require.NoError(t, p.proc.Process(ctx, s))
		require.Equal(t, session.Priced, p.session(s).State)
		vs := p.prices(s)
		require.Len(t, vs, 1)
		require.Equal(t, "initial", vs[0].Reason)
	}
	c, err := db.DropoutCase(ctx, p.d.Pool, *rec.DropoutCaseID)
	require.NoError(t, err)
	require.Equal(t, "resolved", c.State)

	// The worker's claim owes ready_for_pricing sessions a step only on a
	// side with pricers.
	_, err = p.d.Pool.Exec(ctx, "UPDATE charge_session SET state = 'ready_for_pricing' WHERE id = $1", id)
	require.NoError(t, err)
	claimed := func(sides ...session.Side) []uuid.UUID {
		tx, err := p.d.Pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		recs, err := db.ClaimDueSessions(ctx, tx, time.Now(), 100, sides, nil, uuid.Nil)
		require.NoError(t, err)
		var ids []uuid.UUID
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	require.Contains(t, claimed(session.MSP), id)
	require.NotContains(t, claimed(session.CPO), id)
	require.NotContains(t, claimed(), id)
}

// Without pricers for its side a session stays ready_for_pricing, as
// before pricing existed.
func TestNoPricersEndAtReadyForPricing(t *testing.T) {
	ctx := context.Background()
	p := newPricingDB(t, nil)
	id := p.receive("N-1", 10)
	require.NoError(t, p.proc.Process(ctx, id))
	require.Equal(t, session.ReadyForPricing, p.session(id).State)
	require.NoError(t, p.proc.Process(ctx, id))
	require.Equal(t, session.ReadyForPricing, p.session(id).State)
	require.Empty(t, p.prices(id))
}
