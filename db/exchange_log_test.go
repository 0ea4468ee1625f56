package db_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/roaming"
)

// The exchange log's COPY stores every field as given, and an absent one
// (no connection, no OCPI status, an empty string) as NULL; Close writes
// what is still queued.
func TestExchangeLogStoresValuesAndNulls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	l := db.NewExchangeLog(d.Pool, slog.New(slog.NewTextHandler(io.Discard, nil)), 10)
	conn, status := uuid.Must(uuid.NewV7()), 2004
	at := time.Now().UTC().Truncate(time.Microsecond)
	full := roaming.Exchange{ID: roaming.NewExchangeID(), At: at, Direction: roaming.DirectionInbound, ConnectionID: &conn,
		CountryCode: "DE", PartyID: "CPO", Method: "POST", URL: "https://x/ocpi/2.2.1/emsp/tokens/a/authorize", HTTPStatus: 404,
		OCPIStatus: &status, DurationMs: 1.25, RequestID: "r", CorrelationID: "c", RequestBody: `{"a":1}`, ResponseBody: `{"b":2}`,
		Error: "unknown token"}
	bare := roaming.Exchange{ID: roaming.NewExchangeID(), At: at, Direction: roaming.DirectionOutbound, Method: "GET", URL: "https://y"}
	l.Record(ctx, full)
	l.Record(ctx, bare)
	l.Close()
	require.EqualValues(t, 2, l.Flushed())

	got, err := db.Q(d.Pool).GetExchange(ctx, full.ID)
	require.NoError(t, err)
	require.Equal(t, conn, *got.ConnectionID)
	require.EqualValues(t, 2004, *got.OcpiStatus)
	require.True(t, at.Equal(got.At))
	require.Equal(t, []string{"inbound", "DE", "CPO", "POST", full.URL, "r", "c", `{"a":1}`, `{"b":2}`, "unknown token"},
		[]string{got.Direction, *got.CountryCode, *got.PartyID, got.Method, got.Url, *got.RequestID, *got.CorrelationID,
			*got.RequestBody, *got.ResponseBody, *got.Error})
	require.EqualValues(t, 404, got.HttpStatus)
	require.Equal(t, 1.25, got.DurationMs)

	got, err = db.Q(d.Pool).GetExchange(ctx, bare.ID)
	require.NoError(t, err)
	require.Equal(t, "outbound", got.Direction)
	require.Nil(t, got.ConnectionID)
	require.Nil(t, got.OcpiStatus)
	for _, s := range []*string{got.CountryCode, got.PartyID, got.RequestID, got.CorrelationID, got.RequestBody, got.ResponseBody, got.Error} {
		require.Nil(t, s)
	}
}
