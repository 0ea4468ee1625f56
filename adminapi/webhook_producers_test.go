package adminapi_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/adminapi"
	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
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

// Deleting a subscription stops its deliveries: it is no longer due, a
// drain that finishes a request afterwards logs nothing (and does not
// fail), its delivery log is gone, and a delete event with the identifying
// properties records the removal.
func TestWebhookSubscriptionDelete(t *testing.T) {
	t.Parallel()
	h := setup(t, func(o *adminapi.Options) { o.WebhookAllowPrivate = true })
	ctx := context.Background()
	s := h.must(201, h.do("POST", "/main/v1/webhook-subscription/ext_ref.DEL-"+uuid.NewString()[:8], map[string]any{"url": "http://127.0.0.1:9/hook"}))
	id := uuid.MustParse(s.str("id"))
	q := db.Q(testDB.Pool)
	log := func() error {
		return q.InsertWebhookDelivery(ctx, gen.InsertWebhookDeliveryParams{ID: uuid.Must(uuid.NewV7()), SubscriptionID: id, At: time.Now().UTC(),
			Outcome: "failed", FirstEventID: uuid.New(), LastEventID: uuid.New(), EventCount: 1, Attempt: 1})
	}
	require.NoError(t, log())
	require.Len(t, h.must(200, h.do("GET", "/main/v1/webhook-subscription/"+id.String()+"/delivery", nil)).items(), 1)
	// Owed an event: due.
	_, adm := h.tenant()
	h.customer(adm, nil)
	_, err := testDB.Pool.Exec(ctx, "UPDATE webhook_horizon SET seq = (SELECT max(seq) FROM outbox_event)")
	require.NoError(t, err)
	due := func() bool {
		hz, err := q.WebhookHorizon(ctx)
		require.NoError(t, err)
		ids, err := q.DueWebhookSubscriptions(ctx, hz)
		require.NoError(t, err)
		for _, x := range ids {
			if x == id {
				return true
			}
		}
		return false
	}
	require.True(t, due())

	h.must(204, h.do("DELETE", "/main/v1/webhook-subscription/"+id.String(), nil))
	require.False(t, due(), "a deleted subscription is owed nothing")
	require.NoError(t, log(), "a drain finishing after the delete logs nothing and does not fail")
	var n int
	require.NoError(t, testDB.Pool.QueryRow(ctx, "SELECT count(*) FROM webhook_delivery WHERE subscription_id = $1", id).Scan(&n))
	require.Zero(t, n, "the delivery log went with the subscription")
	ev := outboxEvents(t, "webhook-subscription", id.String())
	last := ev[len(ev)-1]
	require.Equal(t, "delete", last.Mod)
	require.Equal(t, map[string]any{"id": id.String(), "external_reference": s.str("external_reference")}, last.Data)
	h.must(400, h.do("GET", "/main/v1/webhook-subscription/"+id.String(), nil))
}
