package adminapi_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/session"
)

// outboxEvent is one outbox row as a test reads it.
type outboxEvent struct {
	Kind  string
	Mod   string
	Admin *uuid.UUID
	Data  map[string]any
	Raw   []byte
}

// outboxEvents returns the events of kind whose data has id, in seq order.
func outboxEvents(t *testing.T, kind, id string) []outboxEvent {
	t.Helper()
	rows, err := testDB.Pool.Query(context.Background(),
		"SELECT kind, modification_kind, administration_id, data FROM outbox_event WHERE kind = $1 AND data->>'id' = $2 ORDER BY seq", kind, id)
	require.NoError(t, err)
	defer rows.Close()
	var out []outboxEvent
	for rows.Next() {
		var e outboxEvent
		require.NoError(t, rows.Scan(&e.Kind, &e.Mod, &e.Admin, &e.Raw))
		require.NoError(t, json.Unmarshal(e.Raw, &e.Data))
		out = append(out, e)
	}
	require.NoError(t, rows.Err())
	return out
}

// Drop-out cases record an event when they are created, when their
// session counts change and when they are resolved; each carries the case
// as the API lists it and the administration of the session that changed.
func TestDropoutCaseEvents(t *testing.T) {
	t.Parallel()
	h := setup(t)
	f := newCSFixture(t)
	mine, other := newAdministration(t), newAdministration(t)
	own := f.drop(f.receive(session.MSP, &mine, "5"), "Unknown token")
	caseID := own.DropoutCaseID.String()
	ev := outboxEvents(t, "msp-dropout-case", caseID)
	require.Len(t, ev, 1)
	require.Equal(t, "create", ev[0].Mod)
	require.Equal(t, &mine, ev[0].Admin)
	require.Equal(t, float64(1), ev[0].Data["open_sessions"])
	require.Equal(t, "open", ev[0].Data["state"])

	foreign := f.drop(f.receive(session.MSP, &other, "5"), "Unknown token")
	require.Equal(t, own.DropoutCaseID, foreign.DropoutCaseID)
	ev = outboxEvents(t, "msp-dropout-case", caseID)
	require.Len(t, ev, 2)
	require.Equal(t, "update", ev[1].Mod)
	require.Equal(t, &other, ev[1].Admin, "attributed to the session that joined")
	require.Equal(t, float64(2), ev[1].Data["open_sessions"])

	// One session reprocessed: the count goes down, the case stays open.
	h.must(200, h.do("POST", "/main/v1/msp-charge-session/"+own.ID.String()+"/reprocess", map[string]any{"instruction": "discard"}))
	ev = outboxEvents(t, "msp-dropout-case", caseID)
	require.Len(t, ev, 3)
	require.Equal(t, &mine, ev[2].Admin)
	require.Equal(t, float64(1), ev[2].Data["open_sessions"])
	require.Equal(t, "open", ev[2].Data["state"])

	// A second session of another administration in the case, then the
	// case reprocessed as a whole: resolved, one event per administration.
	third := newAdministration(t)
	f.drop(f.receive(session.MSP, &third, "5"), "Unknown token")
	h.must(200, h.do("POST", "/main/v1/msp-dropout-case/"+caseID+"/reprocess", map[string]any{"instruction": "discard"}))
	ev = outboxEvents(t, "msp-dropout-case", caseID)
	require.Len(t, ev, 6)
	last := ev[4:]
	require.ElementsMatch(t, []*uuid.UUID{&other, &third}, []*uuid.UUID{last[0].Admin, last[1].Admin})
	require.JSONEq(t, string(last[0].Raw), string(last[1].Raw), "the same change, the same data")
	require.Equal(t, "resolved", last[0].Data["state"])
	require.NotNil(t, last[0].Data["resolved_at"])
	require.Equal(t, float64(0), last[0].Data["open_sessions"])
	require.Equal(t, float64(3), last[0].Data["total_sessions"])

	// The data is the case as the API lists it.
	list := h.must(200, h.do("GET", "/main/v1/msp-dropout-case?party=NL-"+f.party+"&state=resolved", nil))
	require.Len(t, list.items(), 1)
	listed, _ := json.Marshal(list.items()[0])
	require.JSONEq(t, string(listed), string(last[0].Raw))

	// CPO cases have their own kind.
	c := f.drop(f.receive(session.CPO, &mine, "6"), "EVSE not found")
	cev := outboxEvents(t, "cpo-dropout-case", c.DropoutCaseID.String())
	require.Len(t, cev, 1)
	require.Equal(t, "cpo", cev[0].Data["side"])
	require.Empty(t, outboxEvents(t, "msp-dropout-case", c.DropoutCaseID.String()))
}
