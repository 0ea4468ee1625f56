package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db/dbtest"
)

func TestSeedDemoIsIdempotent(t *testing.T) {
	ctx := context.Background()
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	defer d.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	count := func(q string) int {
		var n int
		require.NoError(t, d.Pool.QueryRow(ctx, q).Scan(&n))
		return n
	}
	require.NoError(t, seedDemo(ctx, d.Pool, log))
	events := count("SELECT count(*) FROM outbox_event")
	require.Equal(t, len(demoTenant)+len(demoChargePoints), events, "one create event per seeded record")
	require.NoError(t, seedDemo(ctx, d.Pool, log))
	require.Equal(t, events, count("SELECT count(*) FROM outbox_event"), "a second run changes nothing")
	require.Equal(t, 3, count("SELECT count(*) FROM party WHERE role = 'customer'"))
	require.Equal(t, 1, count("SELECT count(*) FROM administration WHERE currency = 'EUR'"))
	require.Equal(t, 3, count("SELECT count(*) FROM billing_address"))
	require.Equal(t, 3, count("SELECT count(*) FROM msp_token"))
	require.Equal(t, 2, count("SELECT count(*) FROM cpo_location"))
	require.Equal(t, 3, count("SELECT count(*) FROM cpo_evse"))
	require.Equal(t, 2, count("SELECT count(*) FROM cpo_tariff"))
}
