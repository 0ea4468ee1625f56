package db_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/domain/network"
)

// evseEvent is a partner-evse outbox event as a test reads it.
type evseEvent struct {
	Mod  string
	Data map[string]any
}

func evseEvents(t *testing.T, d *dbtest.Database, after int64) ([]evseEvent, int64) {
	t.Helper()
	rows, err := d.Pool.Query(context.Background(), "SELECT seq, modification_kind, data FROM outbox_event WHERE kind = 'partner-evse' AND seq > $1 ORDER BY seq", after)
	require.NoError(t, err)
	defer rows.Close()
	var out []evseEvent
	last := after
	for rows.Next() {
		var e evseEvent
		var raw []byte
		require.NoError(t, rows.Scan(&last, &e.Mod, &raw))
		require.NoError(t, json.Unmarshal(raw, &e.Data))
		out = append(out, e)
	}
	require.NoError(t, rows.Err())
	return out, last
}

// testLocation is a location of n EVSEs with the given statuses, stamped at.
func testLocation(id string, at time.Time, statuses ...string) network.Location {
	l := network.Location{CountryCode: "NL", PartyID: "TNM", ID: id, Latitude: 52, Longitude: 4, TimeZone: "Europe/Amsterdam",
		Publish: true, LastUpdated: at, Data: json.RawMessage(`{"id":"` + id + `","name":"L"}`)}
	for i, s := range statuses {
		uid := fmt.Sprintf("%s-e%d", id, i)
		l.EVSEs = append(l.EVSEs, testEVSE(uid, s, at, "CHADEMO"))
	}
	return l
}

func testEVSE(uid, status string, at time.Time, standard string) network.EVSE {
	ts := at.UTC().Format(time.RFC3339)
	return network.EVSE{UID: uid, EVSEID: "NL*TNM*E" + uid, Status: status, LastUpdated: at,
		Data: json.RawMessage(`{"uid":"` + uid + `","status":"` + status + `","last_updated":"` + ts + `","connectors":[{"id":"1","standard":"` +
			standard + `","last_updated":"` + ts + `"}]}`)}
}

func saveLocations(t *testing.T, d *dbtest.Database, locs ...network.Location) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, db.InTx(ctx, d.Pool, func(tx pgx.Tx) error {
		_, err := db.SavePartnerLocations(ctx, tx, nil, locs, time.Now().UTC())
		return err
	}))
}

// Partner EVSE writes record an event only for a real change: new EVSEs
// (create), a status or content change (update, with the previous
// status), an EVSE left out of a rewritten location (delete, identifying
// properties only). Sending the same network again, or re-stamped, records
// nothing.
func TestPartnerEVSEEventsOnlyOnChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)

	saveLocations(t, d, testLocation("L1", t0, "AVAILABLE", "CHARGING"), testLocation("L2", t0, "AVAILABLE"))
	ev, seq := evseEvents(t, d, 0)
	require.Len(t, ev, 3)
	for _, e := range ev {
		require.Equal(t, "create", e.Mod)
		require.Nil(t, e.Data["previous_status"])
	}
	require.Equal(t, "L1-e0", ev[0].Data["evse_uid"])
	require.Equal(t, "NL-TNM", ev[0].Data["party"])
	require.Equal(t, "NL*TNM*EL1-e0", ev[0].Data["evse_id"])
	require.Equal(t, "AVAILABLE", ev[0].Data["status"])
	require.Equal(t, "CHADEMO", ev[0].Data["evse"].(map[string]any)["connectors"].([]any)[0].(map[string]any)["standard"])
	loc, err := db.PartnerLocationByKey(ctx, d.Pool, "NL", "TNM", "L1", false)
	require.NoError(t, err)
	require.Equal(t, loc.Ref.String(), ev[0].Data["partner_location_id"])

	// The same network again, then re-stamped (full sync of an unchanged
	// network): nothing.
	saveLocations(t, d, testLocation("L1", t0, "AVAILABLE", "CHARGING"), testLocation("L2", t0, "AVAILABLE"))
	t1 := t0.Add(time.Minute)
	saveLocations(t, d, testLocation("L1", t1, "AVAILABLE", "CHARGING"), testLocation("L2", t1, "AVAILABLE"))
	ev, seq = evseEvents(t, d, seq)
	require.Empty(t, ev, "no change, no event")

	// A status flip, a content change, a removal.
	t2 := t1.Add(time.Minute)
	l1 := testLocation("L1", t2, "CHARGING")
	l2 := testLocation("L2", t2, "AVAILABLE")
	l2.EVSEs[0] = testEVSE("L2-e0", "AVAILABLE", t2, "IEC_62196_T2")
	saveLocations(t, d, l1, l2)
	ev, seq = evseEvents(t, d, seq)
	require.Len(t, ev, 3)
	require.Equal(t, "update", ev[0].Mod)
	require.Equal(t, "L1-e0", ev[0].Data["evse_uid"])
	require.Equal(t, "CHARGING", ev[0].Data["status"])
	require.Equal(t, "AVAILABLE", ev[0].Data["previous_status"])
	require.Equal(t, "update", ev[1].Mod)
	require.Equal(t, "L2-e0", ev[1].Data["evse_uid"])
	require.Equal(t, "AVAILABLE", ev[1].Data["previous_status"], "content changed, status did not")
	require.Equal(t, "delete", ev[2].Mod)
	require.Equal(t, map[string]any{"partner_location_id": loc.Ref.String(), "party": "NL-TNM", "country_code": "NL", "party_id": "TNM",
		"location_id": "L1", "evse_uid": "L1-e1"}, ev[2].Data, "a deletion carries the identifying properties only")

	// An older version is not applied and records nothing.
	saveLocations(t, d, testLocation("L1", t0, "OUTOFORDER", "OUTOFORDER"))
	ev, seq = evseEvents(t, d, seq)
	require.Empty(t, ev)

	// One EVSE written by the receiver: a status change, a re-stamp, a new one.
	saveEVSE := func(e network.EVSE) {
		require.NoError(t, db.InTx(ctx, d.Pool, func(tx pgx.Tx) error {
			l, err := db.PartnerLocationByKey(ctx, tx, "NL", "TNM", "L1", true)
			if err != nil {
				return err
			}
			return db.SavePartnerEVSE(ctx, tx, l, e, nil, time.Now().UTC())
		}))
	}
	t3 := t2.Add(time.Minute)
	saveEVSE(testEVSE("L1-e0", "AVAILABLE", t3, "CHADEMO"))
	saveEVSE(testEVSE("L1-e0", "AVAILABLE", t3.Add(time.Minute), "CHADEMO"))
	saveEVSE(testEVSE("L1-e9", "BLOCKED", t3, "CHADEMO"))
	ev, _ = evseEvents(t, d, seq)
	require.Len(t, ev, 2)
	require.Equal(t, "update", ev[0].Mod)
	require.Equal(t, "CHARGING", ev[0].Data["previous_status"])
	require.Equal(t, "AVAILABLE", ev[0].Data["status"])
	require.Equal(t, "create", ev[1].Mod)
	require.Equal(t, "L1-e9", ev[1].Data["evse_uid"])
}
