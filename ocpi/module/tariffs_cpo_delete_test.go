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

// Deleting one of our tariffs: refused (409) while a connector names it;
// then removed, no longer listed by the Tariffs sender, pushed as an OCPI
// DELETE to the partner's Tariffs receiver, and recorded as a cpo-tariff
// delete event carrying only the identifying properties.
func TestCPOTariffDelete(t *testing.T) {
	a := start(t, "NL", "TDL", "CPO")
	f := newFakeEMSP(t)
	token := partner.NewToken()
	a.emspReceiver(token, f)
	el := []any{map[string]any{"price_components": []any{map[string]any{"type": "ENERGY", "price": 0.25, "step_size": 1}}}}
	a.admin(201, "POST", "/main/v1/cpo-tariff/Tariff-Del", map[string]any{"country_code": "NL", "party_id": "TDL", "currency": "EUR",
		"elements": el, "external_reference": "TD-1"})
	a.admin(201, "POST", "/main/v1/cpo-evse-location/LOC-D", map[string]any{"country_code": "NL", "party_id": "TDL", "address": "Stationsplein 1",
		"city": "Utrecht", "country": "NLD", "coordinates": map[string]any{"latitude": "52.089444", "longitude": "5.110278"},
		"time_zone": "Europe/Amsterdam"})
	conn := func(tariffs ...string) map[string]any {
		return map[string]any{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230,
			"max_amperage": 32, "tariff_ids": tariffs}
	}
	a.admin(201, "POST", "/main/v1/cpo-evse/EVSE-D", map[string]any{"location_id": "LOC-D", "status": "AVAILABLE", "connectors": []any{conn("TARIFF-DEL")}})

	// In use (tariff ids compare case-insensitively): 409 naming the connector.
	r := a.admin(409, "DELETE", "/main/v1/cpo-tariff/Tariff-Del", nil)
	require.Equal(t, "tariff_in_use", r["error"].(map[string]any)["code"])
	require.Contains(t, r["error"].(map[string]any)["message"], "EVSE-D/1")
	a.admin(200, "GET", "/main/v1/cpo-tariff/Tariff-Del", nil)

	pusher := roaming.NewPusher(db.PushStore{Pool: a.db.Pool}, roaming.NewClient(roaming.Options{Timeout: 2 * time.Second, MaxRetries: -1}, a.log),
		module.PushRenderers(a.db.Pool), roaming.PushOptions{BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	drain := func() bool {
		ctx := context.Background()
		refs, err := db.DuePushGroups(ctx, a.db.Pool, 1000)
		require.NoError(t, err)
		for _, r := range refs {
			_, err := pusher.Run(ctx, r)
			require.NoError(t, err)
		}
		gs, err := db.PendingPushes(ctx, a.db.Pool, 1000)
		require.NoError(t, err)
		return len(gs) == 0
	}
	waitFor(t, drain)
	require.NotEmpty(t, pushedPath(f.requests(), "PUT", "/ocpi/emsp/2.2.1/tariffs/NL/TDL/Tariff-Del").Method)

	// No longer named: deleted (by external reference), 204.
	a.admin(200, "POST", "/main/v1/cpo-evse/EVSE-D", map[string]any{"connectors": []any{conn()}})
	a.admin(204, "DELETE", "/main/v1/cpo-tariff/ext_ref.TD-1", nil)
	a.admin(400, "GET", "/main/v1/cpo-tariff/Tariff-Del", nil)
	a.admin(400, "DELETE", "/main/v1/cpo-tariff/Tariff-Del", nil)

	// The sender no longer lists it.
	_, env, _ := a.ocpiAs(token, "NL", "TDL", "/ocpi/2.2.1/cpo/tariffs")
	require.Empty(t, env["data"])

	// The partner's receiver gets a DELETE.
	waitFor(t, drain)
	del := pushedPath(f.requests(), "DELETE", "/ocpi/emsp/2.2.1/tariffs/NL/TDL/Tariff-Del")
	require.Equal(t, "DELETE", del.Method)

	// The outbox records the deletion with the identifying properties only.
	var mod, data string
	require.NoError(t, a.db.Pool.QueryRow(context.Background(),
		"SELECT modification_kind, data::text FROM outbox_event WHERE kind = 'cpo-tariff' ORDER BY seq DESC LIMIT 1").Scan(&mod, &data))
	require.Equal(t, "delete", mod)
	require.JSONEq(t, `{"id": "`+gotID(t, a, "TD-1")+`", "external_reference": "TD-1", "tariff_id": "Tariff-Del"}`, data)
}

// gotID is the record id the create event of the tariff with external
// reference ref carried.
func gotID(t *testing.T, a *instance, ref string) string {
	var id string
	require.NoError(t, a.db.Pool.QueryRow(context.Background(),
		"SELECT data->>'id' FROM outbox_event WHERE kind = 'cpo-tariff' AND modification_kind = 'create' AND data->>'external_reference' = $1", ref).Scan(&id))
	return id
}
