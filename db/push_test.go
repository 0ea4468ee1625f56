package db_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/roaming"
)

// EnqueuePushes queues exactly what EnqueuePush one change at a time
// queues: per receiver and group the same items (coalesced with work
// already pending, sequence numbers counted per change) and the same
// refs; a change addressed to one party goes to that party's connection
// only; connections without a receiver of the module get nothing.
func TestEnqueuePushesMatchesOneByOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var dbs [2]*dbtest.Database
	for i := range dbs {
		d, err := dbtest.New(ctx)
		require.NoError(t, err)
		t.Cleanup(d.Close)
		dbs[i] = d
	}
	conns := []uuid.UUID{uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())}
	endpoints := []string{
		`[{"identifier":"tokens","role":"RECEIVER","url":"http://a/tokens"}]`,
		`[{"identifier":"tokens","role":"RECEIVER","url":"http://b/tokens"}]`,
		`[{"identifier":"locations","role":"RECEIVER","url":"http://c/locations"}]`,
	}
	roles := []string{`[{"role":"CPO","country_code":"DE","party_id":"AAA"}]`, `[{"role":"CPO","country_code":"DE","party_id":"BBB"}]`, `[]`}
	pending := roaming.Change{Module: "tokens", Group: "NL/RNE/T1?type=RFID", Object: "NL/RNE/T1?type=RFID", Method: roaming.PushPut,
		FromCountry: "NL", FromParty: "RNE"}
	for _, d := range dbs {
		for i, c := range conns {
			_, err := d.Pool.Exec(ctx, `INSERT INTO roaming_connection (id, name, kind, status, their_endpoints, their_roles, created_at, updated_at)
				VALUES ($1, $2, 'peer_to_peer', 'registered', $3, $4, now(), now())`, c, "p"+c.String(), endpoints[i], roles[i])
			require.NoError(t, err)
		}
		// Work already pending for T1 (and a failing partner's backoff kept).
		_, err := db.EnqueuePush(ctx, d.Pool, pending)
		require.NoError(t, err)
	}
	change := func(uid string, fields ...string) roaming.Change {
		obj := "NL/RNE/" + uid + "?type=RFID"
		return roaming.Change{Module: "tokens", Group: obj, Object: obj, Method: roaming.PushPatch, Fields: fields, FromCountry: "NL", FromParty: "RNE"}
	}
	put := func(uid string) roaming.Change {
		ch := change(uid)
		ch.Method = roaming.PushPut
		return ch
	}
	addressed := put("T4")
	addressed.ToCountry, addressed.ToParty = "DE", "BBB"
	chs := []roaming.Change{change("T1", "whitelist"), change("T2", "valid", "whitelist"), put("T3"), change("T2", "last_updated"), addressed}

	var one []roaming.PushRef
	for _, ch := range chs {
		r, err := db.EnqueuePush(ctx, dbs[0].Pool, ch)
		require.NoError(t, err)
		one = append(one, r...)
	}
	bulk, err := db.EnqueuePushes(ctx, dbs[1].Pool, chs)
	require.NoError(t, err)
	require.ElementsMatch(t, lastRefs(one), lastRefs(bulk))

	groups := func(d *dbtest.Database) map[string]roaming.PushGroup {
		gs, err := db.PendingPushes(ctx, d.Pool, 100)
		require.NoError(t, err)
		out := map[string]roaming.PushGroup{}
		for _, g := range gs {
			out[g.ConnectionID.String()+" "+g.Group] = g
		}
		return out
	}
	a, b := groups(dbs[0]), groups(dbs[1])
	require.Len(t, a, 7, "T1, T2, T3 to both token receivers, T4 to DE-BBB only")
	require.Equal(t, a, b)

	_, err = db.EnqueuePushes(ctx, dbs[1].Pool, []roaming.Change{put("T6"), change("T5")}) // a PATCH without fields
	require.Error(t, err)
	require.Equal(t, b, groups(dbs[1]), "an invalid change: nothing queued")
}

// lastRefs keeps each group's last ref (one by one, a group changed twice
// returns a ref per change; the bulk path one with the final sequence).
func lastRefs(refs []roaming.PushRef) []roaming.PushRef {
	last := map[string]roaming.PushRef{}
	var order []string
	for _, r := range refs {
		k := r.ConnectionID.String() + " " + r.Group
		if _, ok := last[k]; !ok {
			order = append(order, k)
		}
		last[k] = r
	}
	out := make([]roaming.PushRef, 0, len(order))
	for _, k := range order {
		out = append(out, last[k])
	}
	return out
}
