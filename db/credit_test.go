package db_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/credit"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/worker"
)

// subPricer is an MSP pricer of the credit tests: energy at a price per
// kWh (21 % VAT) and a flat fee excluded from credits, for the
// subscription of the token's link valid at the session start, with a
// detail in domain/rateplan's form (subscription_id and the credit terms
// of each component).
type subPricer struct {
	pool         *db.Querier
	price, flat  decimal.Decimal
	energyCredit string // shortfall policy of energy
}

func (p subPricer) Price(ctx context.Context, s session.ChargeSession, _ time.Time) ([]session.PriceResult, error) {
	var sub uuid.UUID
	err := (*p.pool).QueryRow(ctx, `SELECT l.subscription_id FROM msp_token_link l JOIN msp_token t ON t.id = l.token_id
		WHERE t.uid_key = upper($1) AND NOT l.defunct AND (l.valid_from IS NULL OR l.valid_from <= $2) AND (l.valid_until IS NULL OR l.valid_until > $2)`,
		s.Token.UID, s.Start).Scan(&sub)
	if err != nil {
		return nil, session.Failf(session.CheckPricingConfigured, "No subscription for the token", "%v", err)
	}
	rate := decimal.RequireFromString("0.21")
	excl := p.price.Mul(s.TotalEnergy)
	vat := excl.Mul(rate).Round(2)
	fv := p.flat.Mul(rate).Round(2)
	detail, _ := json.Marshal(map[string]any{"subscription_id": sub, "credits": []any{
		map[string]any{"component": "energy", "credits": map[string]any{"apply": true, "shortfall": p.energyCredit}},
		map[string]any{"component": "flat", "credits": map[string]any{"apply": false}},
	}})
	return []session.PriceResult{{Kind: session.KindMSP, Currency: "EUR", Detail: detail, Components: []session.PriceComponent{
		{Component: "energy", Volume: s.TotalEnergy, Unit: "kWh", ExclVAT: excl, VATRate: rate, VAT: vat, InclVAT: excl.Add(vat)},
		{Component: "flat", Volume: decimal.NewFromInt(1), Unit: "session", ExclVAT: p.flat, VATRate: rate, VAT: fv, InclVAT: p.flat.Add(fv)},
	}}}, nil
}

// creditDB is an MSP database with a partner EVSE, a token Tok0001 linked
// to a subscription, and a processor pricing with subPricer wrapped by the
// charge-credit pricer. Its Redis client is never used by these tests
// (the processor is called directly; sessions match at once).
type creditDB struct {
	*mspDB
	sub  uuid.UUID
	proc *worker.SessionProcessor
	// newProc returns another processor like proc (a second worker).
	newProc func() *worker.SessionProcessor
}

func newCreditDB(t *testing.T, shortfall string) *creditDB {
	t.Helper()
	m := newMSPDB(t)
	ctx := context.Background()
	tok := m.token(1, m.now)
	sub := m.subscription(m.now.Add(-30*24*time.Hour), nil, false, m.now)
	require.NoError(t, m.link(tok, sub, nil, nil, false, m.now))
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
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	var q db.Querier = m.d.Pool
	pr := credit.Pricer{MSP: subPricer{pool: &q, price: decimal.RequireFromString("0.35"), flat: decimal.RequireFromString("0.5"), energyCredit: shortfall},
		Store: db.CreditStore{Pool: m.d.Pool}}
	newProc := func() *worker.SessionProcessor {
		return worker.NewSessionProcessor(worker.Deps{Pool: m.d.Pool, Redis: rdb, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
			worker.SessionOptions{Schedule: session.Schedule{time.Millisecond}, Pricers: map[session.Side][]session.Pricer{session.MSP: {pr}},
				Lanes: 3, Batch: 4, IdlePoll: 20 * time.Millisecond})
	}
	return &creditDB{mspDB: m, sub: sub, proc: newProc(), newProc: newProc}
}

// receive stores an MSP CDR of kwh for Tok0001, started hours ago.
func (c *creditDB) receive(cdrID string, kwh string, hoursAgo int) uuid.UUID {
	c.t.Helper()
	end := time.Now().UTC().Add(-time.Duration(hoursAgo) * time.Hour).Truncate(time.Second)
	rec, created, err := db.ReceiveChargeSession(context.Background(), c.d.Pool, db.Intake{Channel: db.ChannelOCPIPush, Payload: []byte(`{}`),
		Session: session.ChargeSession{Side: session.MSP, CountryCode: "BE", PartyID: "BEC", CdrID: cdrID, Start: end.Add(-time.Hour), End: end,
			Token:    session.Token{CountryCode: "NL", PartyID: "RNE", UID: "Tok0001", Type: "RFID", ContractID: "NL-RNE-C00000001"},
			Location: session.Place{LocationID: "LOC1", EvseUID: "3256", ConnectorID: "1", Country: "BEL", PowerType: "AC_3_PHASE"}, Currency: "EUR",
			TotalEnergy: decimal.RequireFromString(kwh), TotalTime: decimal.NewFromInt(1)}})
	require.NoError(c.t, err)
	require.True(c.t, created)
	return rec.ID
}

func (c *creditDB) grant(kind credit.Kind, amount string, from time.Time, until *time.Time) db.ChargeCreditView {
	c.t.Helper()
	ctx := context.Background()
	sub, err := db.MSPTokenSubscription(ctx, c.d.Pool, &c.sub, "", false)
	require.NoError(c.t, err)
	g := credit.Grant{Kind: kind, Amount: decimal.RequireFromString(amount), ValidFrom: from, ValidUntil: until}
	if kind == credit.Monetary {
		g.Currency = "EUR"
	}
	v, err := db.GrantChargeCredit(ctx, c.d.Pool, sub, g, nil, nil, time.Now())
	require.NoError(c.t, err)
	return v
}

func (c *creditDB) credit(id uuid.UUID) gen.ChargeCredit {
	c.t.Helper()
	cr, err := db.ChargeCredit(context.Background(), c.d.Pool, &id, "")
	require.NoError(c.t, err)
	return cr
}

func (c *creditDB) movements(p db.ChargeCreditMovementListParams) []gen.ChargeCreditMovement {
	c.t.Helper()
	p.AllAdmins, p.PageLimit = true, 10000
	ms, err := db.ListChargeCreditMovements(context.Background(), c.d.Pool, p)
	require.NoError(c.t, err)
	return ms
}

func (c *creditDB) latest(id uuid.UUID) db.PriceView {
	c.t.Helper()
	vs, err := db.ChargeSessionPrices(context.Background(), c.d.Pool, id)
	require.NoError(c.t, err)
	require.NotEmpty(c.t, vs)
	return vs[len(vs)-1]
}

// processUntilPriced runs the pipeline on a session until it is priced
// (a lost race for a credit leaves it owed; the sweeper would hand it over
// again), with a deadline.
func (c *creditDB) processUntilPriced(id uuid.UUID) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if err := c.proc.Process(context.Background(), id); err != nil {
			return err
		}
		r, err := db.ChargeSession(context.Background(), c.d.Pool, id)
		if err != nil {
			return err
		}
		if r.State == session.Priced {
			return nil
		}
		if r.State != session.ReadyForPricing && !r.State.Pending() {
			return fmt.Errorf("session %s ended in %s", id, r.State)
		}
	}
	return fmt.Errorf("session %s not priced before the deadline", id)
}

// Many sessions priced at the same time against one small credit consume
// exactly the credit, never more: the balance CHECK refuses the losers'
// decrements, which are priced again against the fresh balance.
func TestChargeCreditConcurrentSessions(t *testing.T) {
	t.Parallel()
	c := newCreditDB(t, "charge_remainder")
	cr := c.grant(credit.Monetary, "10", c.now.Add(-24*time.Hour), nil)
	const n = 24
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = c.receive(fmt.Sprintf("CC-%d", i), "10", 1) // 3.50 of energy each
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- c.processUntilPriced(id)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	c.requireCreditConsumedOnce(cr, ids)
}

// The same through the worker's lanes: two workers claim the sessions in
// batches, several sessions of one batch priced against the same balance;
// each is priced once and the credit is consumed exactly, never below
// zero (the commits that consume a credit run after their batch, and a
// lost race for the balance is priced again on a later claim).
func TestChargeCreditConcurrentSessionsInBatches(t *testing.T) {
	t.Parallel()
	c := newCreditDB(t, "charge_remainder")
	cr := c.grant(credit.Monetary, "10", c.now.Add(-24*time.Hour), nil)
	ids := make([]uuid.UUID, 24)
	for i := range ids {
		ids[i] = c.receive(fmt.Sprintf("CB-%d", i), "10", 1)
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, p := range []*worker.SessionProcessor{c.proc, c.newProc()} {
		wg.Add(1)
		go func() { defer wg.Done(); p.Drain(ctx) }()
	}
	defer func() { stop(); wg.Wait() }()
	deadline := time.Now().Add(time.Minute)
	for {
		var pending int
		require.NoError(t, c.d.Pool.QueryRow(ctx, "SELECT count(*) FROM charge_session WHERE id = ANY($1) AND state <> 'priced'", ids).Scan(&pending))
		if pending == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "%d sessions not priced", pending)
		time.Sleep(20 * time.Millisecond)
	}
	c.requireCreditConsumedOnce(cr, ids)
}

// requireCreditConsumedOnce checks that the monetary credit cr of 10 was
// consumed exactly by the sessions ids (3.50 of energy each), each priced
// once, with a ledger that never went negative and one event per
// movement.
func (c *creditDB) requireCreditConsumedOnce(cr db.ChargeCreditView, ids []uuid.UUID) {
	t := c.t
	t.Helper()
	ctx := context.Background()

	require.True(t, c.credit(cr.ID).Balance.IsZero(), "the credit is depleted")
	covered, consumed := decimal.Zero, decimal.Zero
	for _, id := range ids {
		v := c.latest(id)
		require.Equal(t, 1, v.Version, "each session priced once")
		for _, comp := range v.Components {
			if comp.Component == "energy" {
				covered = covered.Add(decimal.RequireFromString("3.5").Sub(comp.ExclVAT))
			}
		}
	}
	ms := c.movements(db.ChargeCreditMovementListParams{CreditID: &cr.ID})
	sum := decimal.Zero
	for _, m := range ms {
		sum = sum.Add(m.Amount)
		require.False(t, m.BalanceAfter.IsNegative())
		if m.Kind == db.MovementConsumption {
			consumed = consumed.Add(m.Amount.Neg())
			require.NotNil(t, m.PriceID)
		}
	}
	require.Equal(t, "10", consumed.String(), "total consumed equals the grant, never more")
	require.Equal(t, "10", covered.String(), "what the results show as paid by credit equals what was consumed")
	require.True(t, sum.IsZero(), "the ledger sums to the balance")
	var events int
	require.NoError(t, c.d.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox_event WHERE kind = 'charge-credit-movement'`).Scan(&events))
	require.Equal(t, len(ms), events, "one event per movement")
}

// Repricing a session gives back what it consumed and consumes again: the
// ledger shows the reversal and the new consumption, the balance nets out.
// A balance is never left negative by a direct decrement either.
func TestChargeCreditRepriceAndLedger(t *testing.T) {
	t.Parallel()
	c := newCreditDB(t, "charge_remainder")
	ctx := context.Background()
	cr := c.grant(credit.Monetary, "5", c.now.Add(-24*time.Hour), nil)
	en := c.grant(credit.Energy, "4", c.now.Add(-24*time.Hour), nil)
	a := c.receive("R-1", "10", 3)
	require.NoError(t, c.processUntilPriced(a))
	v1 := c.latest(a)
	// energy: 4 kWh of energy credit (1.40), then 2.10 of money; flat excluded
	require.Equal(t, "0", v1.Components[0].ExclVAT.String())
	require.Equal(t, "0.5", v1.Components[1].ExclVAT.String())
	require.Equal(t, "0", c.credit(en.ID).Balance.String())
	require.Equal(t, "2.9", c.credit(cr.ID).Balance.String())

	// A later session gets what is left.
	b := c.receive("R-2", "10", 2)
	require.NoError(t, c.processUntilPriced(b))
	require.Equal(t, "0.6", c.latest(b).Components[0].ExclVAT.String(), "3.50 less the 2.90 left")
	require.Equal(t, "0", c.credit(cr.ID).Balance.String())

	// Repricing a: its 2.10 and 4 kWh come back and are consumed again.
	require.NoError(t, c.proc.Reprice(ctx, a, "correction: test"))
	v2 := c.latest(a)
	require.Equal(t, 2, v2.Version)
	require.Equal(t, "0", v2.Components[0].ExclVAT.String(), "the same credits pay the same")
	require.Equal(t, "0", c.credit(cr.ID).Balance.String())
	ms := c.movements(db.ChargeCreditMovementListParams{ChargeSessionID: &a})
	kinds := map[string]int{}
	for _, m := range ms {
		kinds[m.Kind]++
		if m.Kind == db.MovementReversal {
			require.Equal(t, v2.ID, *m.PriceID, "a reversal names the version that gave back")
		}
	}
	require.Equal(t, map[string]int{db.MovementConsumption: 4, db.MovementReversal: 2}, kinds)
	net := decimal.Zero
	for _, m := range ms {
		if m.CreditID == cr.ID {
			net = net.Add(m.Amount)
		}
	}
	require.Equal(t, "-2.1", net.String(), "net effect: a still holds 2.10 of money")

	// The balance never goes below zero, whatever writes it.
	_, err := c.d.Pool.Exec(ctx, "UPDATE charge_credit SET balance = balance - 1 WHERE id = $1", cr.ID)
	require.Error(t, err)
	require.True(t, db.IsCreditRace(err))

	// Balances per kind, as the API shows them.
	bs, err := db.SubscriptionCreditBalances(ctx, c.d.Pool, c.sub, time.Now())
	require.NoError(t, err)
	require.Len(t, bs, 2)
	require.Equal(t, credit.Energy, bs[0].Kind)
	require.Equal(t, "kWh", bs[0].Unit)
	require.Equal(t, credit.Monetary, bs[1].Kind)
	require.Equal(t, "EUR", *bs[1].Currency)
}

// charge_in_full: a credit that cannot pay the whole energy component is
// kept for a session it can pay.
func TestChargeCreditInFull(t *testing.T) {
	t.Parallel()
	c := newCreditDB(t, "charge_in_full")
	cr := c.grant(credit.Monetary, "3", c.now.Add(-24*time.Hour), nil)
	big := c.receive("F-1", "10", 3) // 3.50: more than the credit
	require.NoError(t, c.processUntilPriced(big))
	require.Equal(t, "3.5", c.latest(big).Components[0].ExclVAT.String())
	require.Equal(t, "3", c.credit(cr.ID).Balance.String(), "kept")
	small := c.receive("F-2", "8", 2) // 2.80: covered in full
	require.NoError(t, c.processUntilPriced(small))
	require.Equal(t, "0", c.latest(small).Components[0].ExclVAT.String())
	require.Equal(t, "0.2", c.credit(cr.ID).Balance.String())
}

// Validity: a credit granted after a session started does not pay it; a
// credit past its validity expires with a movement, once.
func TestChargeCreditValidityAndExpiry(t *testing.T) {
	t.Parallel()
	c := newCreditDB(t, "charge_remainder")
	ctx := context.Background()
	later := c.grant(credit.Monetary, "100", time.Now().UTC().Truncate(time.Minute), nil)
	s := c.receive("V-1", "10", 3)
	require.NoError(t, c.processUntilPriced(s))
	require.Equal(t, "3.5", c.latest(s).Components[0].ExclVAT.String(), "granted after the session started")
	require.Equal(t, "100", c.credit(later.ID).Balance.String())

	past := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	old := c.grant(credit.Energy, "7", past.Add(-48*time.Hour), &past)
	n, err := db.ExpireChargeCredits(ctx, c.d.Pool, time.Now(), 100)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 1)
	require.True(t, c.credit(old.ID).Balance.IsZero())
	ms := c.movements(db.ChargeCreditMovementListParams{CreditID: &old.ID})
	require.Len(t, ms, 2)
	require.Equal(t, db.MovementExpiry, ms[1].Kind)
	require.Equal(t, "-7", ms[1].Amount.String())
	n, err = db.ExpireChargeCredits(ctx, c.d.Pool, time.Now(), 100)
	require.NoError(t, err)
	require.Zero(t, n, "an expired credit expires once")
	require.Equal(t, "100", c.credit(later.ID).Balance.String(), "open-ended credits do not expire")
}
