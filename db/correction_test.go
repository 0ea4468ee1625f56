package db_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/credit"
	"github.com/roamnode/roamnode/domain/rateplan"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/worker"
)

// correctionDB prices MSP sessions with the node's pricers (rate plans,
// charge credits) at a partner EVSE BE-BEC LOC1/3256: plan A (m.plan) at
// 0.30/kWh and plan B at 0.50/kWh, energy paid by credits.
type correctionDB struct {
	*mspDB
	planB uuid.UUID
	proc  *worker.SessionProcessor
}

func newCorrectionDB(t *testing.T) *correctionDB {
	t.Helper()
	m := newMSPDB(t)
	ctx := context.Background()
	setupVAT(t, m)
	rate := func(price string) rateplan.Plan {
		return rateplan.Plan{Rates: []rateplan.Rate{{Code: "std", Components: []rateplan.Component{{Type: rateplan.Energy, Unit: rateplan.PerKWh,
			Price: d(price), Credits: rateplan.Credits{Apply: true, Shortfall: rateplan.ChargeRemainder}}}}}, Rules: []rateplan.Rule{{Rate: "std"}}}
	}
	saveRatePlan(t, m, rate("0.30"))
	rpB := uuid.Must(uuid.NewV7())
	pb := rate("0.50")
	pb.Currency = "EUR"
	require.NoError(t, db.SaveRatePlan(ctx, m.d.Pool, db.RatePlan{ID: rpB, AdministrationID: m.admin, Name: "B", Currency: "EUR", Plan: pb,
		CreatedAt: m.now, UpdatedAt: m.now}, true))
	planB := uuid.Must(uuid.NewV7())
	require.NoError(t, db.SaveMSPTokenSubscriptionPlan(ctx, m.d.Pool, gen.MspTokenSubscriptionPlan{ID: planB, AdministrationID: m.admin,
		Name: "B", RatePlanID: &rpB, CreatedAt: m.now, UpdatedAt: m.now}, true))
	loc := uuid.Must(uuid.NewV7())
	_, err := m.d.Pool.Exec(ctx, `INSERT INTO partner_location (id, country_code, party_id, location_id, location_key,
		latitude, longitude, time_zone, publish, last_updated, data, created_at, updated_at)
		VALUES ($1, 'BE', 'BEC', 'LOC1', 'LOC1', 51.04, 3.72, 'Europe/Brussels', true, now(), '{}', now(), now())`, loc)
	require.NoError(t, err)
	_, err = m.d.Pool.Exec(ctx, `INSERT INTO partner_evse (location_ref, position, uid, uid_key, evse_id, evse_id_key, status, last_updated, data)
		VALUES ($1, 0, '3256', '3256', 'BE*BEC*E041503003', 'BEBECE041503003', 'AVAILABLE', now(),
		'{"uid":"3256","connectors":[{"id":"1","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":32,"max_electric_power":22000}]}')`, loc)
	require.NoError(t, err)
	opt, err := redis.ParseURL(dbtest.RedisURL())
	require.NoError(t, err)
	rdb := redis.NewClient(opt) // never used: the processor is called directly and sessions match at once
	t.Cleanup(func() { rdb.Close() })
	proc := worker.NewSessionProcessor(worker.Deps{Pool: m.d.Pool, Redis: rdb, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		worker.SessionOptions{Schedule: session.Schedule{time.Millisecond}, Pricing: true})
	return &correctionDB{mspDB: m, planB: planB, proc: proc}
}

// session receives and prices a CDR of 10 kWh of token uid started at start.
func (c *correctionDB) session(cdrID, uid string, start time.Time) uuid.UUID {
	c.t.Helper()
	ctx := context.Background()
	rec, _, err := db.ReceiveChargeSession(ctx, c.d.Pool, db.Intake{Channel: db.ChannelOCPIPush, Payload: []byte(`{}`),
		Session: session.ChargeSession{Side: session.MSP, CountryCode: "BE", PartyID: "BEC", CdrID: cdrID, Start: start, End: start.Add(time.Hour),
			Token:    session.Token{CountryCode: "NL", PartyID: "RNE", UID: uid, Type: "RFID", ContractID: "NL-RNE-C00000001"},
			Location: session.Place{LocationID: "LOC1", EvseUID: "3256", ConnectorID: "1", Country: "BEL", PowerType: "AC_3_PHASE"}, Currency: "EUR",
			TotalEnergy: decimal.NewFromInt(10), TotalTime: decimal.NewFromInt(1)}})
	require.NoError(c.t, err)
	require.NoError(c.t, c.proc.Process(ctx, rec.ID))
	require.Equal(c.t, session.Priced, c.state(rec.ID))
	return rec.ID
}

func (c *correctionDB) state(id uuid.UUID) session.State {
	c.t.Helper()
	r, err := db.ChargeSession(context.Background(), c.d.Pool, id)
	require.NoError(c.t, err)
	return r.State
}

func (c *correctionDB) versions(id uuid.UUID) []db.PriceView {
	c.t.Helper()
	vs, err := db.ChargeSessionPrices(context.Background(), c.d.Pool, id)
	require.NoError(c.t, err)
	return vs
}

func (c *correctionDB) correct(cr db.Correction) (db.CorrectionResult, error) {
	var out db.CorrectionResult
	err := db.InTx(context.Background(), c.d.Pool, func(tx pgx.Tx) error {
		var err error
		out, err = db.CorrectSubscription(context.Background(), tx, cr, time.Now())
		return err
	})
	return out, err
}

// A correction of the plan from a date reprices exactly the sessions of
// the subscription from that date (version 2, old versions kept, credits
// given back and consumed again from the subscription they now belong
// to), splits the subscription and its token's link at that date, and
// leaves other sessions alone.
func TestCorrectionChangesPlanFromADate(t *testing.T) {
	t.Parallel()
	c := newCorrectionDB(t)
	ctx := context.Background()
	day := func(n int) time.Time { return c.now.Add(time.Duration(n) * 24 * time.Hour) }
	tok1, tok2 := c.token(1, c.now), c.token(2, c.now)
	sub := c.subscription(day(-30), nil, false, c.now)
	other := c.subscription(day(-30), nil, false, c.now)
	require.NoError(t, c.link(tok1, sub, nil, nil, false, c.now))
	require.NoError(t, c.link(tok2, other, nil, nil, false, c.now))
	subRec, err := db.MSPTokenSubscription(ctx, c.d.Pool, &sub, "", false)
	require.NoError(t, err)
	cr, err := db.GrantChargeCredit(ctx, c.d.Pool, subRec, credit.Grant{Kind: credit.Monetary, Amount: d("2"), Currency: "EUR", ValidFrom: day(-30)}, nil, nil, time.Now())
	require.NoError(t, err)

	before := c.session("C-1", "Tok0001", day(-10))
	after1 := c.session("C-2", "Tok0001", day(-3))
	after2 := c.session("C-3", "Tok0001", day(-2))
	others := c.session("C-4", "Tok0002", day(-2))
	require.Equal(t, "1", c.versions(before)[0].ExclVAT.String(), "3.00 less the 2.00 credit")
	require.Equal(t, "3", c.versions(after1)[0].ExclVAT.String())

	// The same correction with a duplicate external reference fails as a
	// whole: nothing is half-written.
	dup := "DUP-" + uuid.NewString()
	require.NoError(t, db.SaveMSPTokenSubscription(ctx, c.d.Pool, gen.MspTokenSubscription{ID: uuid.Must(uuid.NewV7()), AdministrationID: c.admin,
		ExternalReference: &dup, CustomerID: c.customer, PlanID: c.plan, ValidFrom: day(-1), CreatedAt: c.now, UpdatedAt: c.now}, true))
	planB, err := db.MSPTokenSubscriptionPlan(ctx, c.d.Pool, &c.planB, "", false)
	require.NoError(t, err)
	_, err = c.correct(db.Correction{SubscriptionID: sub, From: day(-5), Plan: &planB, NewSubscriptionRef: &dup})
	require.Error(t, err)
	s, err := db.MSPTokenSubscription(ctx, c.d.Pool, &sub, "", false)
	require.NoError(t, err)
	require.Nil(t, s.ValidUntil, "the failed correction did not end the subscription")
	require.Equal(t, session.Priced, c.state(after1), "nor sent sessions to repricing")
	var links int
	require.NoError(t, c.d.Pool.QueryRow(ctx, "SELECT count(*) FROM msp_token_link WHERE token_id = $1", tok1).Scan(&links))
	require.Equal(t, 1, links, "nor split the link")

	res, err := c.correct(db.Correction{SubscriptionID: sub, From: day(-5).Add(30 * time.Second), Plan: &planB, Note: "wrong plan sold"})
	require.NoError(t, err)
	split := res
	require.Equal(t, db.CorrectionSplit, res.Mode)
	require.True(t, day(-5).Equal(*res.Subscription.ValidUntil), "the old subscription ends at the correction (whole minutes)")
	require.True(t, day(-5).Equal(res.NewSubscription.ValidFrom))
	require.Equal(t, c.planB, res.NewSubscription.PlanID)
	require.Len(t, res.Updated, 1)
	require.Len(t, res.Created, 1)
	require.True(t, day(-5).Equal(*res.Updated[0].ValidUntil))
	require.True(t, day(-5).Equal(*res.Created[0].ValidFrom))
	require.Equal(t, []uuid.UUID{tok1}, res.Tokens)
	got := []uuid.UUID{}
	for _, r := range res.Repriced {
		got = append(got, r.ID)
	}
	require.ElementsMatch(t, []uuid.UUID{after1, after2}, got, "exactly the sessions of the subscription from the correction")
	require.Contains(t, res.Reason, "correction of subscription "+sub.String())
	require.Contains(t, res.Reason, "wrong plan sold")

	for _, id := range []uuid.UUID{after1, after2} {
		require.NoError(t, c.proc.Process(ctx, id))
		vs := c.versions(id)
		require.Len(t, vs, 2, "version 2 appended, version 1 kept")
		require.Equal(t, "3", vs[0].ExclVAT.String())
		require.Equal(t, 2, vs[1].Version)
		require.Equal(t, res.Reason, vs[1].Reason)
		require.Equal(t, "5", vs[1].ExclVAT.String(), "plan B: 10 kWh × 0.50")
		var d map[string]any
		require.NoError(t, json.Unmarshal(vs[1].Detail, &d))
		require.Equal(t, res.NewSubscription.ID.String(), d["subscription_id"])
	}
	for _, id := range []uuid.UUID{before, others} {
		require.Len(t, c.versions(id), 1, "sessions before the correction and of other subscriptions are not repriced")
	}
	cred, err := db.ChargeCredit(ctx, c.d.Pool, &cr.ID, "")
	require.NoError(t, err)
	require.Equal(t, "0", cred.Balance.String(), "the credit stays with the old subscription, consumed by the session before")

	// The exclusion constraint held: one live link of the token at every instant.
	var overlaps int
	require.NoError(t, c.d.Pool.QueryRow(ctx, `SELECT count(*) FROM msp_token_link a JOIN msp_token_link b ON a.token_id = b.token_id AND a.id < b.id
		WHERE NOT a.defunct AND NOT b.defunct AND tstzrange(a.valid_from, a.valid_until) && tstzrange(b.valid_from, b.valid_until)`).Scan(&overlaps))
	require.Zero(t, overlaps)

	// An in-place correction of the customer reprices all its sessions; the
	// credit a repriced session consumed is given back (the ledger shows
	// the reversal) and consumed again.
	cust2 := uuid.Must(uuid.NewV7())
	_, err = c.d.Pool.Exec(ctx, `INSERT INTO party (id, role, administration_id, name, country, entity_type, created_at, updated_at)
		VALUES ($1, 'customer', $2, 'C2', 'NL', 'person', now(), now())`, cust2, c.admin)
	require.NoError(t, err)
	res, err = c.correct(db.Correction{SubscriptionID: sub, From: day(-60), CustomerID: &cust2})
	require.NoError(t, err)
	require.Equal(t, db.CorrectionInPlace, res.Mode)
	require.Equal(t, cust2, res.Subscription.CustomerID)
	require.Len(t, res.Repriced, 1)
	require.Equal(t, before, res.Repriced[0].ID)
	require.NoError(t, c.proc.Process(ctx, before))
	vs := c.versions(before)
	require.Len(t, vs, 2)
	require.Equal(t, "1", vs[1].ExclVAT.String(), "the credit pays again")
	ms, err := db.ListChargeCreditMovements(ctx, c.d.Pool, db.ChargeCreditMovementListParams{AllAdmins: true, ChargeSessionID: &before, PageLimit: 100})
	require.NoError(t, err)
	kinds := []string{}
	for _, m := range ms {
		kinds = append(kinds, m.Kind)
	}
	require.Equal(t, []string{db.MovementConsumption, db.MovementReversal, db.MovementConsumption}, kinds)

	// Nothing to correct, defunct targets, foreign tokens: 400 with paths.
	_, err = c.correct(db.Correction{SubscriptionID: sub, From: day(-60), CustomerID: &cust2})
	require.ErrorContains(t, err, "new_plan_id")
	_, err = c.correct(db.Correction{SubscriptionID: other, From: day(-1), TokenIDs: []uuid.UUID{tok1}, Plan: &planB})
	require.ErrorContains(t, err, "token_ids[0]")

	// A move: the other subscription's token belongs to the split's new
	// subscription from a date; only its session from then is repriced.
	late := c.session("C-5", "Tok0002", c.now.Add(-6*time.Hour))
	mv, err := c.correct(db.Correction{SubscriptionID: other, From: day(-1), Target: split.NewSubscription})
	require.NoError(t, err)
	require.Equal(t, db.CorrectionMove, mv.Mode)
	require.Nil(t, mv.Subscription.ValidUntil, "a move leaves the source subscription's period alone")
	require.Len(t, mv.Repriced, 1)
	require.Equal(t, late, mv.Repriced[0].ID)
	require.NoError(t, c.proc.Process(ctx, late))
	require.Equal(t, "5", c.versions(late)[1].ExclVAT.String(), "priced with the target's plan B")
	require.Len(t, c.versions(others), 1)
	_, err = c.correct(db.Correction{SubscriptionID: other, From: day(-1), Target: split.NewSubscription, Plan: &planB})
	require.ErrorContains(t, err, "target_subscription_id")
}
