package roaming

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCoalesce: pending changes to one object collapse; a PUT covers what
// lies below it; order between objects is kept.
func TestCoalesce(t *testing.T) {
	loc, evse := "NL/TNM/L1", "NL/TNM/L1/E1"
	put := func(o string, v int64) PushItem { return PushItem{Object: o, Method: PushPut, V: v} }
	patch := func(o string, v int64, f ...string) PushItem {
		return PushItem{Object: o, Method: PushPatch, Fields: f, V: v}
	}

	// PATCH + PATCH of one object: one PATCH of both field sets.
	got := Coalesce(Coalesce(nil, patch(evse, 1, "status")), patch(evse, 2, "connectors"))
	require.Equal(t, []PushItem{{Object: evse, Method: PushPatch, Fields: []string{"connectors", "status"}, V: 2}}, got)

	// A pending location PUT covers later EVSE changes (it renders the
	// latest state when sent); the PUT is marked changed.
	got = Coalesce([]PushItem{put(loc, 1)}, patch(evse, 2, "status"))
	require.Equal(t, []PushItem{put(loc, 2)}, got)

	// A PUT drops the pending items it covers and goes last.
	got = Coalesce([]PushItem{patch(evse, 1, "status"), patch("NL/TNM/L1/E2", 2, "status"), patch("NL/TNM/L2", 3, "name")}, put(loc, 4))
	require.Equal(t, []PushItem{patch("NL/TNM/L2", 3, "name"), put(loc, 4)}, got)

	// A PATCH onto a pending PUT of the same object keeps the PUT; a
	// DELETE replaces it.
	require.Equal(t, []PushItem{put(evse, 2)}, Coalesce([]PushItem{put(evse, 1)}, patch(evse, 2, "status")))
	require.Equal(t, []PushItem{{Object: "T/1", Method: PushDelete, V: 2}}, Coalesce([]PushItem{put("T/1", 1)}, PushItem{Object: "T/1", Method: PushDelete, V: 2}))

	// Different objects keep their order.
	got = Coalesce(Coalesce(nil, patch(evse, 1, "status")), patch("NL/TNM/L1/E2", 2, "status"))
	require.Equal(t, []string{evse, "NL/TNM/L1/E2"}, []string{got[0].Object, got[1].Object})
}

// TestCompleted: a sent item is removed only when nothing changed it
// while it was in flight.
func TestCompleted(t *testing.T) {
	sent := PushItem{Object: "A", Method: PushPatch, Fields: []string{"status"}, V: 3}
	require.Empty(t, Completed([]PushItem{sent}, sent))
	changed := PushItem{Object: "A", Method: PushPatch, Fields: []string{"status"}, V: 4}
	require.Equal(t, []PushItem{changed}, Completed([]PushItem{changed}, sent))
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	p := NewPusher(nil, nil, nil, PushOptions{BackoffMin: 100e6, BackoffMax: 800e6})
	require.InDelta(t, 100e6, float64(p.Backoff(1)), 20e6+1)
	require.InDelta(t, 400e6, float64(p.Backoff(3)), 80e6+1)
	require.InDelta(t, 800e6, float64(p.Backoff(30)), 160e6+1)
}

func TestReceiverParty(t *testing.T) {
	require.Equal(t, "EMSP", string(ReceiverRole("locations")))
	require.Equal(t, "CPO", string(ReceiverRole("tokens")))
}
