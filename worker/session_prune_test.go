package worker_test

import (
	"context"
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

// Resolved drop-out cases are kept for the retention, then pruned; open
// cases never are, and the sessions of a pruned case keep their last
// drop-out reason.
func TestDropoutCasesPrunedAfterRetention(t *testing.T) {
	ctx := context.Background()
	opt, err := redis.ParseURL(dbtest.RedisURL())
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	p := worker.NewSessionProcessor(worker.Deps{Pool: testDB.Pool, Redis: rdb, Log: webhookLog()}, worker.SessionOptions{DropoutRetention: 24 * time.Hour})

	party := uuid.NewString()[:3]
	drop := func(evse string) db.ChargeSessionRecord {
		end := time.Now().UTC().Add(-time.Hour)
		rec, _, err := db.ReceiveChargeSession(ctx, testDB.Pool, db.Intake{Channel: db.ChannelOCPIPush, Payload: []byte(`{}`), Session: session.ChargeSession{
			Side: session.MSP, CountryCode: "NL", PartyID: party, CdrID: uuid.NewString(), Start: end.Add(-time.Hour), End: end,
			Token: session.Token{UID: "T"}, Location: session.Place{LocationID: "L", EvseUID: evse, ConnectorID: "1"}, Currency: "EUR",
			TotalEnergy: decimal.NewFromInt(1), TotalTime: decimal.NewFromInt(1)}})
		require.NoError(t, err)
		out, ok, err := db.CommitStep(ctx, testDB.Pool, rec.ChargeSession, session.Outcome{State: session.DroppedOut, Reason: "EVSE not found"}, time.Now())
		require.NoError(t, err)
		require.True(t, ok)
		return out
	}
	resolved, open := drop("A"), drop("B")
	_, err = db.ReprocessChargeSession(ctx, testDB.Pool, resolved.ID, session.Discard, "")
	require.NoError(t, err)
	c, err := db.DropoutCase(ctx, testDB.Pool, *resolved.DropoutCaseID)
	require.NoError(t, err)
	require.Equal(t, "resolved", c.State)

	// Within the retention nothing goes.
	_, err = p.PruneDropouts(ctx, time.Now().Add(23*time.Hour))
	require.NoError(t, err)
	_, err = db.DropoutCase(ctx, testDB.Pool, *resolved.DropoutCaseID)
	require.NoError(t, err)
	// After it the resolved case goes, the open one stays.
	n, err := p.PruneDropouts(ctx, time.Now().Add(25*time.Hour))
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 1)
	_, err = db.DropoutCase(ctx, testDB.Pool, *resolved.DropoutCaseID)
	require.Error(t, err)
	_, err = db.DropoutCase(ctx, testDB.Pool, *open.DropoutCaseID)
	require.NoError(t, err)
	s, err := db.ChargeSession(ctx, testDB.Pool, resolved.ID)
	require.NoError(t, err)
	require.Nil(t, s.DropoutCaseID)
	require.Equal(t, "EVSE not found", *s.DropoutReason)
}
