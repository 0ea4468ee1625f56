package adminapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
)

// cpoParty creates an own CPO party of the test's own and returns its
// country code and party id.
func (h *harness) cpoParty() (string, string) {
	pid := strings.ToUpper(uuid.NewString()[:3])
	h.must(201, h.do("POST", "/main/v1/own-party", map[string]any{"country_code": "NL", "party_id": pid, "role": "CPO", "name": "CPO " + pid}))
	return "NL", pid
}

func cpoLocationBody(cc, pid string) map[string]any {
	return map[string]any{"country_code": cc, "party_id": pid, "address": "Stationsplein 1", "city": "Utrecht", "country": "NLD",
		"coordinates": map[string]any{"latitude": "52.089444", "longitude": "5.110278"}, "time_zone": "Europe/Amsterdam",
		"opening_times": map[string]any{"twentyfourseven": true}}
}

func TestCPOLocationUpsertMergeStale(t *testing.T) {
	t.Parallel()
	h := setup(t)
	cc, pid := h.cpoParty()
	id := "Loc-" + uuid.NewString()[:8]

	// Create by key (201), with implicit fields reported.
	b := cpoLocationBody(cc, pid)
	delete(b, "time_zone")
	bad := h.must(400, h.do("POST", "/main/v1/cpo-evse-location/"+id, b))
	require.Contains(t, bad.fields(), "time_zone")
	c := h.must(201, h.do("POST", "/main/v1/cpo-evse-location/"+id, cpoLocationBody(cc, pid)))
	require.Equal(t, id, c.str("location_id"))
	require.Equal(t, true, c.JSON["publish"])
	require.Equal(t, pid, c.str("party_id"))

	// The key is case-insensitive and keeps its casing; merge keeps what
	// is left out; immutable fields stay.
	m := h.must(200, h.do("POST", "/main/v1/cpo-evse-location/"+strings.ToLower(id), map[string]any{"name": "Centraal", "party_id": "ZZZ", "location_id": "other"}))
	require.Equal(t, id, m.str("location_id"))
	require.Equal(t, pid, m.str("party_id"))
	require.Equal(t, "Centraal", m.str("name"))
	require.Equal(t, "Utrecht", m.str("city"))
	require.Equal(t, false, m.JSON["stale_update"])
	lu := m.str("last_updated")

	// A no-op changes nothing, not even last_updated.
	n := h.must(200, h.do("POST", "/main/v1/cpo-evse-location/"+id, map[string]any{"name": "Centraal"}))
	require.Equal(t, lu, n.str("last_updated"))

	// Stale update prevention.
	now := time.Now().UTC()
	h.must(200, h.do("POST", "/main/v1/cpo-evse-location/"+id, map[string]any{"name": "A", "external_updated_at": now.Format(time.RFC3339Nano)}))
	st := h.must(204, h.do("POST", "/main/v1/cpo-evse-location/"+id, map[string]any{"name": "B", "external_updated_at": now.Add(-time.Minute).Format(time.RFC3339Nano)}))
	require.Equal(t, "true", st.Header.Get("X-RN-Stale-Update"))
	require.Equal(t, "A", h.must(200, h.do("GET", "/main/v1/cpo-evse-location/"+id, nil)).str("name"))
	h.must(400, h.do("POST", "/main/v1/cpo-evse-location/"+id, map[string]any{"external_updated_at": now.Add(time.Hour).Format(time.RFC3339Nano)}))

	// Validation names every field by its path.
	v := h.must(400, h.do("POST", "/main/v1/cpo-evse-location/"+id, map[string]any{
		"time_zone": "Europe/Utrecht", "coordinates": map[string]any{"latitude": "52.08", "longitude": "5.110278"},
		"opening_times": map[string]any{"twentyfourseven": false, "regular_hours": []any{map[string]any{"weekday": 8, "period_begin": "10:00", "period_end": "09:00"}}},
		"country":       "NL", "deactivated_at": now.Add(time.Hour).Format(time.RFC3339), "publish_allowed_to": []any{map[string]any{"uid": "X"}}}))
	require.ElementsMatch(t, []string{"time_zone", "coordinates.latitude", "opening_times.regular_hours[0].weekday",
		"opening_times.regular_hours[0].period_end", "country", "deactivated_at", "publish_allowed_to", "publish_allowed_to[0].type"}, v.fields())

	// A party that is not ours is refused.
	o := cpoLocationBody("DE", "XXX")
	h.must(400, h.do("POST", "/main/v1/cpo-evse-location/other-"+id, o))

	// Deactivation (now) and the deactivated filter.
	h.must(200, h.do("POST", "/main/v1/cpo-evse-location/"+id, map[string]any{"deactivated_at": now.Format(time.RFC3339)}))
	l := h.must(200, h.do("GET", "/main/v1/cpo-evse-location?deactivated=true&party_id="+pid, nil))
	require.Len(t, l.items(), 1)
	h.must(400, h.do("GET", "/main/v1/cpo-evse-location?deactivated=maybe", nil))
}

func TestCPOEVSEConnectorsStatusDropout(t *testing.T) {
	t.Parallel()
	h := setup(t)
	cc, pid := h.cpoParty()
	loc := "L-" + uuid.NewString()[:8]
	uid := "E-" + uuid.NewString()[:8]
	h.must(201, h.do("POST", "/main/v1/cpo-evse-location/"+loc, cpoLocationBody(cc, pid)))
	conn := map[string]any{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32, "max_electric_power": 22000, "tariff_ids": []string{"T1"}}

	// Unknown location, missing connectors, bad enums: field paths.
	r := h.must(400, h.do("POST", "/main/v1/cpo-evse/"+uid, map[string]any{"location_id": "nope", "status": "AVAILABLE", "connectors": []any{conn}}))
	require.Equal(t, []string{"location_id"}, r.fields())
	r = h.must(400, h.do("POST", "/main/v1/cpo-evse/"+uid, map[string]any{"location_id": loc, "status": "BROKEN",
		"connectors": []any{map[string]any{"id": "1", "standard": "X", "format": "PLUG", "power_type": "DC", "max_voltage": 400, "max_amperage": 100}}}))
	require.ElementsMatch(t, []string{"status", "connectors[0].format"}, r.fields())
	r = h.must(400, h.do("POST", "/main/v1/cpo-evse/"+uid, map[string]any{"location_id": loc, "status": "AVAILABLE", "connectors": []any{}}))
	require.Equal(t, []string{"connectors"}, r.fields())

	e := h.must(201, h.do("POST", "/main/v1/cpo-evse/"+uid, map[string]any{"location_id": loc, "status": "AVAILABLE", "evse_id": "NL*" + pid + "*E1", "connectors": []any{conn}}))
	require.Equal(t, false, e.JSON["dropout_all_chargesessions"])
	cs := e.JSON["connectors"].([]any)
	require.Len(t, cs, 1)
	c0 := cs[0].(map[string]any)
	require.Equal(t, float64(22000), c0["max_electric_power"])
	require.NotEmpty(t, c0["last_updated"])

	// A status flip changes status_updated_at and last_updated, and the
	// location's last_updated follows (mod_locations).
	time.Sleep(1100 * time.Millisecond) // last_updated has second precision on the wire
	f := h.must(200, h.do("POST", "/main/v1/cpo-evse/"+uid, map[string]any{"status": "CHARGING"}))
	require.Equal(t, "CHARGING", f.str("status"))
	require.NotEqual(t, e.str("status_updated_at"), f.str("status_updated_at"))
	require.Equal(t, c0["last_updated"], f.JSON["connectors"].([]any)[0].(map[string]any)["last_updated"], "an unchanged connector keeps its last_updated")
	lv := h.must(200, h.do("GET", "/main/v1/cpo-evse-location/"+loc, nil))
	require.Equal(t, f.str("last_updated"), lv.str("last_updated"))
	// The outbox shows the status change.
	var data string
	require.NoError(t, testDB.Pool.QueryRow(context.Background(),
		"SELECT data::text FROM outbox_event WHERE kind = 'cpo-evse' AND data->>'evse_uid' = $1 ORDER BY seq DESC LIMIT 1", uid).Scan(&data))
	require.Contains(t, data, `"status": "CHARGING"`)

	// location_id never changes.
	h.must(200, h.do("POST", "/main/v1/cpo-evse/"+uid, map[string]any{"location_id": "elsewhere"}))
	require.Equal(t, loc, h.must(200, h.do("GET", "/main/v1/cpo-evse/"+uid, nil)).str("location_id"))

	// Safe EVSE configuration: on, then off with reprocess_dropouts.
	h.must(400, h.do("PUT", "/main/v1/cpo-evse/"+uid+"/dropout-all-chargesessions", map[string]any{"reprocess_dropouts": true}))
	h.must(400, h.do("PUT", "/main/v1/cpo-evse/unknown-"+uid+"/dropout-all-chargesessions", map[string]any{"dropout_all_chargesessions": true}))
	on := h.must(200, h.do("PUT", "/main/v1/cpo-evse/"+uid+"/dropout-all-chargesessions", map[string]any{"dropout_all_chargesessions": true}))
	require.Equal(t, true, on.JSON["dropout_all_chargesessions"])
	h.must(200, h.do("PUT", "/main/v1/cpo-evse/"+uid+"/dropout-all-chargesessions", map[string]any{"dropout_all_chargesessions": false, "reprocess_dropouts": true}))
	reqs, err := db.OpenDropoutReprocessRequests(context.Background(), testDB.Pool, 1000)
	require.NoError(t, err)
	found := 0
	for _, r := range reqs {
		if r.EvseUid == uid {
			found++
		}
	}
	require.Equal(t, 1, found, "turning the flag off with reprocess_dropouts records one request")

	// Filters.
	l := h.must(200, h.do("GET", "/main/v1/cpo-evse?status=CHARGING&location_id="+strings.ToUpper(loc), nil))
	require.Len(t, l.items(), 1)
	h.must(400, h.do("GET", "/main/v1/cpo-evse?status=BROKEN", nil))
}

func TestCPOTariffValidationAndLint(t *testing.T) {
	t.Parallel()
	h := setup(t)
	cc, pid := h.cpoParty()
	id := "T-" + uuid.NewString()[:8]
	el := []any{map[string]any{"price_components": []any{map[string]any{"type": "ENERGY", "price": 0.25, "vat": 21, "step_size": 1}}}}
	bad := h.must(400, h.do("POST", "/main/v1/cpo-tariff/"+id, map[string]any{"country_code": cc, "party_id": pid, "currency": "EURO",
		"elements": []any{map[string]any{"price_components": []any{map[string]any{"type": "KWH", "price": -1, "step_size": -1}},
			"restrictions": map[string]any{"start_time": "25:00", "day_of_week": []string{"FUNDAY"}}}},
		"min_price": map[string]any{"excl_vat": 5}, "max_price": map[string]any{"excl_vat": 1},
		"start_date_time": "2024-02-01T00:00:00Z", "end_date_time": "2024-01-01T00:00:00Z"}))
	require.ElementsMatch(t, []string{"currency", "elements[0].price_components[0].type", "elements[0].price_components[0].price",
		"elements[0].price_components[0].step_size", "elements[0].restrictions.start_time", "elements[0].restrictions.day_of_week[0]",
		"max_price.excl_vat", "end_date_time"}, bad.fields())
	c := h.must(201, h.do("POST", "/main/v1/cpo-tariff/"+id, map[string]any{"country_code": cc, "party_id": pid, "currency": "EUR", "type": "REGULAR", "elements": el}))
	require.Equal(t, "EUR", c.str("currency"))
	require.NotNil(t, c.JSON["lint_warnings"])
	// Lint warnings surface: a max price below the min price is invalid, a
	// min price alone on a free tariff is suspicious.
	m := h.must(200, h.do("POST", "/main/v1/cpo-tariff/"+id, map[string]any{"tariff_alt_text": []any{map[string]any{"language": "en", "text": "0.25/kWh"}}}))
	require.Equal(t, "0.25/kWh", m.JSON["tariff_alt_text"].([]any)[0].(map[string]any)["text"])
	require.Equal(t, "EUR", m.str("currency"))
}

// oaCPO exercises every cpo-* operation for the OpenAPI contract test
// (openapi_test.go), validating each answer against the document.
func oaCPO(t *testing.T, c *oaClient, tag string) {
	t.Helper()
	pid := strings.ToUpper(tag[:3])
	c.do(201, "POST", "/main/v1/own-party", map[string]any{"country_code": "BE", "party_id": pid, "role": "CPO", "name": "CPO " + tag})
	newer, old := time.Now().Add(-time.Hour), time.Now().Add(-2*time.Hour)
	loc, uid, tid := "oa-loc-"+tag, "oa-evse-"+tag, "oa-t-"+tag
	c.do(201, "POST", "/main/v1/cpo-evse-location/"+loc, cpoLocationBody("BE", pid))
	c.do(200, "POST", "/main/v1/cpo-evse-location/"+loc, map[string]any{"name": "OA", "external_updated_at": newer})
	c.do(204, "POST", "/main/v1/cpo-evse-location/"+loc, map[string]any{"name": "old", "external_updated_at": old})
	c.do(200, "GET", "/main/v1/cpo-evse-location/"+loc, nil)
	c.do(200, "GET", "/main/v1/cpo-evse-location?party_id="+pid, nil)
	conn := map[string]any{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 16}
	c.do(201, "POST", "/main/v1/cpo-evse/"+uid, map[string]any{"location_id": loc, "status": "AVAILABLE", "connectors": []any{conn}})
	c.do(200, "POST", "/main/v1/cpo-evse/"+uid, map[string]any{"status": "CHARGING", "external_updated_at": newer})
	c.do(204, "POST", "/main/v1/cpo-evse/"+uid, map[string]any{"status": "AVAILABLE", "external_updated_at": old})
	c.do(200, "GET", "/main/v1/cpo-evse/"+uid, nil)
	c.do(200, "GET", "/main/v1/cpo-evse?location_id="+loc, nil)
	c.do(200, "PUT", "/main/v1/cpo-evse/"+uid+"/dropout-all-chargesessions", map[string]any{"dropout_all_chargesessions": true})
	c.do(204, "PUT", "/main/v1/cpo-evse/"+uid+"/dropout-all-chargesessions", map[string]any{"dropout_all_chargesessions": false, "external_updated_at": old})
	el := []any{map[string]any{"price_components": []any{map[string]any{"type": "ENERGY", "price": 0.25, "step_size": 1}}}}
	c.do(201, "POST", "/main/v1/cpo-tariff/"+tid, map[string]any{"country_code": "BE", "party_id": pid, "currency": "EUR", "elements": el})
	c.do(200, "POST", "/main/v1/cpo-tariff/"+tid, map[string]any{"type": "REGULAR", "external_updated_at": newer})
	c.do(204, "POST", "/main/v1/cpo-tariff/"+tid, map[string]any{"type": "AD_HOC_PAYMENT", "external_updated_at": old})
	c.do(200, "GET", "/main/v1/cpo-tariff/"+tid, nil)
	c.do(200, "GET", "/main/v1/cpo-tariff?currency=EUR", nil)
	// Delete: refused while a connector names the tariff, then 204.
	c.do(200, "POST", "/main/v1/cpo-evse/"+uid, map[string]any{"connectors": []any{map[string]any{"id": "1", "standard": "IEC_62196_T2",
		"format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 16, "tariff_ids": []string{tid}}}})
	c.do(409, "DELETE", "/main/v1/cpo-tariff/"+tid, nil)
	c.do(200, "POST", "/main/v1/cpo-evse/"+uid, map[string]any{"connectors": []any{conn}})
	c.do(204, "DELETE", "/main/v1/cpo-tariff/"+tid, nil)
	c.do(400, "DELETE", "/main/v1/cpo-tariff/"+tid, nil)
}
