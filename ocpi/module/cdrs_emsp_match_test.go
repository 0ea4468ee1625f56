package module_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/domain/session"
)

// The deepest level the match could not find is the drop-out reason: a
// known location without the EVSE, a known EVSE without the connector.
func TestCDRMatchMissLevels(t *testing.T) {
	b := startCDRs(t, dbtest.RedisURL(), session.Schedule{time.Millisecond}) // one quick retry, then a drop-out
	b.addEVSE()
	for _, c := range []struct {
		id, evseUID, evseID, connector string
		want                           session.Miss
	}{
		{"M-1", "NOPE", "", "1", session.EVSENotFound},
		{"M-2", "3256", "BE*BEC*E041503003", "9", session.ConnectorNotFound},
		{"M-3", "nope", "be*bec*e041503003", "1", session.Found}, // found by EVSE id
	} {
		st, loc, env := b.post(cdr(c.id, func(m map[string]any) {
			l := m["cdr_location"].(map[string]any)
			l["evse_uid"], l["evse_id"], l["connector_id"] = c.evseUID, c.evseID, c.connector
		}))
		require.Equal(t, 201, st, "%v", env)
		id := sessionIDOf(t, loc)
		for i := 0; i < 2; i++ {
			require.NoError(t, b.proc.Process(context.Background(), id))
			time.Sleep(2 * time.Millisecond) // let the 1 ms retry delay pass
		}
		r := b.state(id)
		if c.want == session.Found {
			require.NotNil(t, r.Match, c.id)
			require.Equal(t, "3256", r.Match.EvseUID)
			continue
		}
		require.Equal(t, session.DroppedOut, r.State, c.id)
		require.Equal(t, string(c.want), *r.DropoutReason, c.id)
	}
}
