package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/webhook"
)

// Events without an administration are node-wide, except those of the
// scoped kinds (a charge session whose administration is unknown): a
// subscription whose owner sees only some administrations does not get
// them, as the Admin API does not show such sessions to that owner.
func TestWebhookEventsScopedKindsWithoutAdministration(t *testing.T) {
	ctx := context.Background()
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	q := db.Q(d.Pool)
	admin := uuid.Must(uuid.NewV7())
	seller := uuid.Must(uuid.NewV7())
	_, err = d.Pool.Exec(ctx, "INSERT INTO seller (id, name, country, created_at, updated_at) VALUES ($1, 'S', 'NL', now(), now())", seller)
	require.NoError(t, err)
	_, err = d.Pool.Exec(ctx, "INSERT INTO administration (id, seller_id, name, currency, created_at, updated_at) VALUES ($1, $2, 'A', 'EUR', now(), now())", admin, seller)
	require.NoError(t, err)
	emit := func(kind string, adm *uuid.UUID) {
		require.NoError(t, q.InsertEvent(ctx, gen.InsertEventParams{ID: uuid.Must(uuid.NewV7()), OccurredAt: time.Now().UTC(), Kind: kind,
			ModificationKind: "create", AdministrationID: adm, Data: []byte(`{}`)}))
	}
	emit("partner-evse", nil)       // node-wide
	emit("msp-charge-session", nil) // administration unknown: scoped
	emit("msp-charge-session", &admin)
	var horizon int64
	require.NoError(t, d.Pool.QueryRow(ctx, "SELECT max(seq) FROM outbox_event").Scan(&horizon))
	kindsFor := func(all bool, admins []uuid.UUID) []string {
		rows, err := q.WebhookEvents(ctx, gen.WebhookEventsParams{Horizon: horizon, Kinds: []string{}, AllAdmins: all, AdminIds: admins,
			ScopedKinds: webhook.ScopedKinds(), MaxRows: 10})
		require.NoError(t, err)
		var out []string
		for _, r := range rows {
			out = append(out, r.Kind)
		}
		return out
	}
	require.Equal(t, []string{"partner-evse", "msp-charge-session", "msp-charge-session"}, kindsFor(true, []uuid.UUID{}))
	require.Equal(t, []string{"partner-evse", "msp-charge-session"}, kindsFor(false, []uuid.UUID{admin}))
	require.Equal(t, []string{"partner-evse"}, kindsFor(false, []uuid.UUID{uuid.Must(uuid.NewV7())}))
	require.Contains(t, webhook.ScopedKinds(), "cpo-charge-session-progress")
	require.NotContains(t, webhook.ScopedKinds(), "partner-evse")
}
