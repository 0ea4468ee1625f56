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
	"github.com/roamnode/roamnode/domain/credit"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/worker"
)

// receiveCredit stores credit CDR id of the CDR ref (same facts as
// creditDB.receive, negative cost), hours ago.
func (c *creditDB) receiveCredit(id, ref, kwh string, hoursAgo int) (db.ChargeSessionRecord, bool, error) {
	end := time.Now().UTC().Add(-time.Duration(hoursAgo) * time.Hour).Truncate(time.Second)
	return db.ReceiveChargeSession(context.Background(), c.d.Pool, db.Intake{Channel: db.ChannelOCPIPush, Payload: []byte(`{"credit":true}`),
		Session: session.ChargeSession{Side: session.MSP, CountryCode: "BE", PartyID: "BEC", CdrID: id, Credit: true, CreditReferenceID: ref,
			Start: end.Add(-time.Hour), End: end,
			Token:    session.Token{CountryCode: "NL", PartyID: "RNE", UID: "Tok0001", Type: "RFID", ContractID: "NL-RNE-C00000001"},
			Location: session.Place{LocationID: "LOC1", EvseUID: "3256", ConnectorID: "1", Country: "BEL", PowerType: "AC_3_PHASE"}, Currency: "EUR",
			TotalEnergy: decimal.RequireFromString(kwh), TotalTime: decimal.NewFromInt(1)}})
}

func (c *creditDB) state(id uuid.UUID) db.ChargeSessionRecord {
	c.t.Helper()
	r, err := db.ChargeSession(context.Background(), c.d.Pool, id)
	require.NoError(c.t, err)
	return r
}

// A received credit CDR is priced as the exact reversal of the credited
// session's latest MSP result (not its own figures through the rate
// plan), linked to it, with an event; the charge credits the credited
// session consumed are given back; a second credit CDR of the same CDR is
// refused, the same one again is a duplicate; the credited session is
// not repriced any more; the replacement CDR is priced normally.
func TestCreditCDRReversalAndCreditsGivenBack(t *testing.T) {
	t.Parallel()
	c := newCreditDB(t, "charge_remainder")
	ctx := context.Background()
	cr := c.grant(credit.Monetary, "5", c.now.Add(-24*time.Hour), nil)
	a := c.receive("A", "10", 3) // energy 3.50 (paid by the credit), flat 0.50
	require.NoError(t, c.processUntilPriced(a))
	require.NoError(t, c.proc.Reprice(ctx, a, "correction: test"))
	va := c.latest(a)
	require.Equal(t, 2, va.Version)
	require.Equal(t, "1.5", c.credit(cr.ID).Balance.String())

	rec, created, err := c.receiveCredit("A-C", "A", "10", 3)
	require.NoError(t, err)
	require.True(t, created)
	require.NoError(t, c.processUntilPriced(rec.ID))
	vc := c.latest(rec.ID)
	require.Equal(t, &session.CreditRef{ChargeSessionID: a, CdrID: "A", PriceID: va.ID, Version: 2}, vc.CreditOf)
	require.Equal(t, va.Currency, vc.Currency)
	require.True(t, vc.ExclVAT.Equal(va.ExclVAT.Neg()), vc.ExclVAT.String())
	require.True(t, vc.VAT.Equal(va.VAT.Neg()))
	require.True(t, vc.InclVAT.Equal(va.InclVAT.Neg()))
	require.Len(t, vc.Components, len(va.Components))
	for i, comp := range vc.Components {
		require.True(t, comp.ExclVAT.Equal(va.Components[i].ExclVAT.Neg()), comp.Component)
		require.True(t, comp.VAT.Equal(va.Components[i].VAT.Neg()), comp.Component)
	}
	require.Equal(t, "5", c.credit(cr.ID).Balance.String(), "the credited session's consumption is given back")
	back := c.movements(db.ChargeCreditMovementListParams{ChargeSessionID: &a})
	var net decimal.Decimal
	for _, m := range back {
		net = net.Add(m.Amount)
	}
	require.True(t, net.IsZero(), "the credited session's consumption nets to zero")
	require.Equal(t, db.MovementReversal, back[len(back)-1].Kind)
	require.Equal(t, vc.ID, *back[len(back)-1].PriceID, "the give-back names the credit's result")

	// One event per result, carrying the link.
	var data []byte
	require.NoError(t, c.d.Pool.QueryRow(ctx, `SELECT data FROM outbox_event WHERE kind = 'msp-charge-session-priced' AND data->>'charge_session_id' = $1`,
		rec.ID.String()).Scan(&data))
	var ev db.PriceView
	require.NoError(t, json.Unmarshal(data, &ev))
	require.Equal(t, vc.CreditOf, ev.CreditOf)
	require.Equal(t, vc.ID, ev.ID)

	// The same credit CDR again: a duplicate. Another credit of A: refused.
	_, created, err = c.receiveCredit("a-c", "A", "10", 3)
	require.NoError(t, err)
	require.False(t, created)
	_, _, err = c.receiveCredit("A-C2", "A", "10", 3)
	f, ok := fault.As(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, fault.KindInvalid, f.Kind)
	require.Contains(t, f.Error(), "credited already")

	// The credited session is final: a correction does not reprice it.
	_, requested, err := db.Reprice(ctx, c.d.Pool, a, "another correction", time.Now())
	require.NoError(t, err)
	require.False(t, requested)
	require.Equal(t, session.Priced, c.state(a).State)

	// The replacement CDR is priced like any CDR (and takes the credit again).
	b := c.receive("A2", "8", 3)
	require.NoError(t, c.processUntilPriced(b))
	vb := c.latest(b)
	require.Nil(t, vb.CreditOf)
	require.Equal(t, "0", vb.Components[0].ExclVAT.String(), "2.80 of energy paid by the credit")
	require.Equal(t, "2.2", c.credit(cr.ID).Balance.String())
}

// A credit CDR that arrives before its credited CDR is priced waits in
// ready_for_pricing (next attempt on the schedule), is due at once when
// the credited session is priced, and is priced then; one whose credited session dropped out drops out
// with a clear reason, and a retry after the credited session is priced
// prices it.
func TestCreditCDRWaitsForTheCreditedSession(t *testing.T) {
	t.Parallel()
	c := newCreditDB(t, "charge_remainder")
	ctx := context.Background()
	a := c.receive("W", "10", 3)
	rec, _, err := c.receiveCredit("W-C", "W", "10", 3)
	require.NoError(t, err)
	opt, err := redis.ParseURL(dbtest.RedisURL())
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	hourly := worker.NewSessionProcessor(worker.Deps{Pool: c.d.Pool, Redis: rdb, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		worker.SessionOptions{Schedule: session.Schedule{time.Hour}, Pricers: c.proc.Pipeline().Pricers})
	require.NoError(t, hourly.Process(ctx, rec.ID))
	w := c.state(rec.ID)
	require.Equal(t, session.ReadyForPricing, w.State, "waits for W")
	require.NotNil(t, w.NextAttemptAt)
	require.Equal(t, 1, w.Attempts)
	require.Empty(t, c.prices(rec.ID))

	require.NoError(t, hourly.Process(ctx, rec.ID))
	require.Equal(t, session.ReadyForPricing, c.state(rec.ID).State, "not before its next attempt")
	require.NoError(t, c.processUntilPriced(a))
	// Pricing W made the credit due at once, not in an hour.
	w = c.state(rec.ID)
	require.NotNil(t, w.NextAttemptAt)
	require.False(t, w.NextAttemptAt.After(time.Now()), "woken by W's pricing")
	require.NoError(t, hourly.Process(ctx, rec.ID))
	require.Equal(t, session.Priced, c.state(rec.ID).State)
	require.Equal(t, a, c.latest(rec.ID).CreditOf.ChargeSessionID)
	require.Nil(t, c.state(rec.ID).NextAttemptAt)

	// Credited session dropped out: the credit drops out at once.
	d := c.receive("D", "10", 3)
	_, err = c.d.Pool.Exec(ctx, `UPDATE charge_session SET state = 'dropped_out', dropout_reason = 'test' WHERE id = $1`, d)
	require.NoError(t, err)
	dc, _, err := c.receiveCredit("D-C", "D", "10", 3)
	require.NoError(t, err)
	require.NoError(t, c.proc.Process(ctx, dc.ID))
	got := c.state(dc.ID)
	require.Equal(t, session.DroppedOut, got.State)
	require.Equal(t, session.ReasonCreditedNotPriced, *got.DropoutReason)
	require.Contains(t, *got.DropoutDetail, "D is dropped_out")
}

func (c *creditDB) prices(id uuid.UUID) []db.PriceView {
	c.t.Helper()
	vs, err := db.ChargeSessionPrices(context.Background(), c.d.Pool, id)
	require.NoError(c.t, err)
	return vs
}
