package module_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi/module"
	"github.com/roamnode/roamnode/roaming"
)

// deactivationBench is our CPO node BE-BEC with location DEACT (EVSEs E1
// AVAILABLE and E2 CHARGING) made through the Admin API, a fake eMSP
// receiving our pushes, and a pusher run by hand.
type deactivationBench struct {
	*instance
	f      *fakeEMSP
	token  string
	pusher *roaming.Pusher
}

func newDeactivationBench(t *testing.T) *deactivationBench {
	a := start(t, "BE", "BEC", "CPO")
	b := &deactivationBench{instance: a, f: newFakeEMSP(t), token: partner.NewToken()}
	a.emspReceiver(b.token, b.f)
	b.pusher = roaming.NewPusher(db.PushStore{Pool: a.db.Pool}, roaming.NewClient(roaming.Options{Timeout: 2 * time.Second, MaxRetries: -1}, a.log),
		module.PushRenderers(a.db.Pool), roaming.PushOptions{BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	a.admin(201, "POST", "/main/v1/cpo-evse-location/DEACT", map[string]any{"address": "Stationsplein 1", "city": "Gent", "country": "BEL",
		"coordinates": map[string]any{"latitude": "51.035000", "longitude": "3.710000"}, "time_zone": "Europe/Brussels"})
	conn := map[string]any{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32}
	for uid, status := range map[string]string{"E1": "AVAILABLE", "E2": "CHARGING"} {
		a.admin(201, "POST", "/main/v1/cpo-evse/"+uid, map[string]any{"location_id": "DEACT", "status": status, "connectors": []any{conn}})
	}
	b.drain()
	return b
}

// drain sends every pending push.
func (b *deactivationBench) drain() {
	b.t.Helper()
	ctx := context.Background()
	waitFor(b.t, func() bool {
		refs, err := db.DuePushGroups(ctx, b.db.Pool, 1000)
		require.NoError(b.t, err)
		for _, r := range refs {
			_, err := b.pusher.Run(ctx, r)
			require.NoError(b.t, err)
		}
		gs, err := db.PendingPushes(ctx, b.db.Pool, 1000)
		require.NoError(b.t, err)
		return len(gs) == 0
	})
}

// published gives the EVSE statuses our Locations sender shows, by uid,
// reading the location, the list and each EVSE on its own (all must agree).
func (b *deactivationBench) published() map[string]string {
	b.t.Helper()
	_, env, _ := b.ocpiAs(b.token, "BE", "BEC", "/ocpi/2.2.1/cpo/locations/DEACT")
	require.Equal(b.t, float64(1000), env["status_code"], "%v", env)
	out := statuses(env["data"].(map[string]any))
	_, env, _ = b.ocpiAs(b.token, "BE", "BEC", "/ocpi/2.2.1/cpo/locations")
	list := env["data"].([]any)
	require.Len(b.t, list, 1)
	require.Equal(b.t, out, statuses(list[0].(map[string]any)), "the list shows what the location shows")
	for uid, st := range out {
		_, env, _ := b.ocpiAs(b.token, "BE", "BEC", "/ocpi/2.2.1/cpo/locations/DEACT/"+uid)
		require.Equal(b.t, st, env["data"].(map[string]any)["status"], "EVSE %s on its own", uid)
	}
	return out
}

func statuses(loc map[string]any) map[string]string {
	out := map[string]string{}
	for _, e := range loc["evses"].([]any) {
		e := e.(map[string]any)
		out[e["uid"].(string)] = e["status"].(string)
	}
	return out
}

// pushedSince returns the pushes the partner received after the first n.
func (b *deactivationBench) pushedSince(n int) []pushed { return b.f.requests()[n:] }

// TestCPOLocationDeactivatedPublishedRemoved: deactivated_at (on the
// location, Admin API cpo-evse-location) at or before now publishes every
// EVSE of the location as REMOVED through our Locations sender and pushes
// that to the partner's receiver; while deactivated, an EVSE status change
// publishes nothing else; clearing it publishes the real statuses again. A
// deactivated_at in the future is refused by the Admin API (field path),
// and one stored in the future does not deactivate yet.
func TestCPOLocationDeactivatedPublishedRemoved(t *testing.T) {
	b := newDeactivationBench(t)
	live := map[string]string{"E1": "AVAILABLE", "E2": "CHARGING"}
	require.Equal(t, live, b.published())
	first := pushedPath(b.f.requests(), "PUT", "/ocpi/emsp/2.2.1/locations/BE/BEC/DEACT")
	require.NotEmpty(t, first.Method, "the new location was pushed")
	require.Equal(t, live, statuses(first.Body))

	// Deactivated a minute ago: REMOVED everywhere, pushed as a PUT of the
	// whole location.
	n := len(b.f.requests())
	past := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	l := b.admin(200, "POST", "/main/v1/cpo-evse-location/DEACT", map[string]any{"deactivated_at": past.Format(time.RFC3339)})
	require.Equal(t, past.Format(time.RFC3339), l["deactivated_at"])
	removed := map[string]string{"E1": "REMOVED", "E2": "REMOVED"}
	require.Equal(t, removed, b.published())
	b.drain()
	got := b.pushedSince(n)
	require.Len(t, got, 1, "%+v", got)
	require.Equal(t, "PUT", got[0].Method)
	require.Equal(t, "/ocpi/emsp/2.2.1/locations/BE/BEC/DEACT", got[0].Path)
	require.Equal(t, removed, statuses(got[0].Body))

	// A status change of an EVSE of the deactivated location: still
	// REMOVED, and the partner is sent nothing that says otherwise.
	n = len(b.f.requests())
	b.admin(200, "POST", "/main/v1/cpo-evse/E1", map[string]any{"status": "OUTOFORDER"})
	require.Equal(t, removed, b.published())
	b.drain()
	for _, p := range b.pushedSince(n) {
		if s, ok := p.Body["status"]; ok {
			require.Equal(t, "REMOVED", s, "%+v", p)
		}
		if _, ok := p.Body["evses"]; ok {
			require.Equal(t, removed, statuses(p.Body), "%+v", p)
		}
	}

	// Reactivated: the real statuses (E1's change included), pushed.
	n = len(b.f.requests())
	l = b.admin(200, "POST", "/main/v1/cpo-evse-location/DEACT", map[string]any{"deactivated_at": nil})
	require.Nil(t, l["deactivated_at"])
	current := map[string]string{"E1": "OUTOFORDER", "E2": "CHARGING"}
	require.Equal(t, current, b.published())
	b.drain()
	got = b.pushedSince(n)
	require.Len(t, got, 1, "%+v", got)
	require.Equal(t, "PUT", got[0].Method)
	require.Equal(t, current, statuses(got[0].Body))

	// In the future: refused by the Admin API, naming the field; nothing
	// changes.
	n = len(b.f.requests())
	future := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	e := b.admin(400, "POST", "/main/v1/cpo-evse-location/DEACT", map[string]any{"deactivated_at": future})
	require.Contains(t, e["error"].(map[string]any)["fields"], map[string]any{"path": "deactivated_at", "message": "must not be in the future"})
	require.Nil(t, b.admin(200, "GET", "/main/v1/cpo-evse-location/DEACT", nil)["deactivated_at"])
	require.Equal(t, current, b.published())
	// A future deactivated_at that is stored anyway (written before the
	// rule, or by hand) does not deactivate the location before its time.
	_, err := b.db.Pool.Exec(context.Background(), "UPDATE cpo_location SET deactivated_at = now() + interval '1 day' WHERE location_id = 'DEACT'")
	require.NoError(t, err)
	require.NotNil(t, b.admin(200, "GET", "/main/v1/cpo-evse-location/DEACT", nil)["deactivated_at"])
	require.Equal(t, current, b.published())
	b.drain()
	require.Empty(t, b.pushedSince(n))
}

// TestCPOLocationDeactivationMovesLastUpdated: the deactivation changes
// the published EVSEs (status REMOVED), so a partner pulling our
// Locations sender with date_from after the previous change must get the
// location again, and the EVSEs' last_updated must move with their status
// (mod_locations: last_updated is when the object last changed).
func TestCPOLocationDeactivationMovesLastUpdated(t *testing.T) {
	b := newDeactivationBench(t)
	_, env, _ := b.ocpiAs(b.token, "BE", "BEC", "/ocpi/2.2.1/cpo/locations/DEACT")
	before := env["data"].(map[string]any)["last_updated"].(string)
	time.Sleep(1100 * time.Millisecond) // last_updated has second precision on the wire
	from := time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	b.admin(200, "POST", "/main/v1/cpo-evse-location/DEACT", map[string]any{"deactivated_at": time.Now().UTC().Format(time.RFC3339)})
	_, env, _ = b.ocpiAs(b.token, "BE", "BEC", "/ocpi/2.2.1/cpo/locations?date_from="+from)
	list := env["data"].([]any)
	require.Len(t, list, 1, "an incremental pull sees the deactivated location")
	loc := list[0].(map[string]any)
	require.NotEqual(t, before, loc["last_updated"])
	for _, e := range loc["evses"].([]any) {
		require.GreaterOrEqual(t, e.(map[string]any)["last_updated"].(string), from)
	}
}
