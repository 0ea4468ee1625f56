package db

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/ocpi"
)

// richCDR is a CDR with every part pricing reads (several periods and
// dimensions, tariffs with restrictions and several elements, every cost
// total) and some it does not (signed data, remark, escaped text, nulls).
const richCDR = `{"country_code":"BE","party_id":"BEC","id":"CDR-\u00e9\u20ac1","start_date_time":"2026-03-01T21:39:09Z",
"end_date_time":"2026-03-01T23:37:32.5Z","session_id":null,"authorization_reference":"A1",
"cdr_token":{"country_code":"DE","party_id":"TNM","uid":"012345678","type":"RFID","contract_id":"DE8ACC12E46L89"},
"auth_method":"WHITELIST","cdr_location":{"id":"LOC1","name":"Gent \"Zuid\"","address":"F.Rooseveltlaan 3A","city":"Gent",
"postal_code":"9000","country":"BEL","coordinates":{"latitude":"3.729944","longitude":"51.047599"},"evse_uid":"3256",
"evse_id":"BE*BEC*E041503003","connector_id":"1","connector_standard":"IEC_62196_T2","connector_format":"SOCKET",
"connector_power_type":"AC_3_PHASE"},"meter_id":"M1","currency":"EUR",
"tariffs":[{"country_code":"BE","party_id":"BEC","id":"12","currency":"EUR","type":"REGULAR",
"elements":[{"price_components":[{"type":"ENERGY","price":0.25,"vat":21.0,"step_size":1},{"type":"FLAT","price":0.5,"step_size":1}],
"restrictions":{"start_time":"08:00","end_time":"20:00","day_of_week":["MONDAY","TUESDAY"],"min_kwh":1.5,"max_power":22}},
{"price_components":[{"type":"TIME","price":2.00,"vat":10.0,"step_size":300},{"type":"PARKING_TIME","price":1,"step_size":60}]}],
"min_price":{"excl_vat":1,"incl_vat":1.21},"last_updated":"2026-02-02T14:15:01Z"}],
"charging_periods":[{"start_date_time":"2026-03-01T21:39:09Z","dimensions":[{"type":"ENERGY","volume":10.5},{"type":"TIME","volume":1.25}],"tariff_id":"12"},
{"start_date_time":"2026-03-01T22:54:09Z","dimensions":[{"type":"PARKING_TIME","volume":0.723}]}],
"signed_data":null,"total_cost":{"excl_vat":4.0,"incl_vat":4.4},"total_fixed_cost":{"excl_vat":0.5},
"total_energy":15.342,"total_energy_cost":{"excl_vat":2.5,"incl_vat":3.03},"total_time":1.973,"total_time_cost":{"excl_vat":4.0,"incl_vat":4.4},
"total_parking_time":0.723,"total_parking_cost":{"excl_vat":0.73},"total_reservation_cost":null,"remark":"line\nbreak","invoice_reference_id":"",
"credit":false,"home_charging_compensation":false,"last_updated":"2026-03-01T22:01:13Z"}`

// The pricer decodes a stored CDR with goccy/go-json for speed; it must
// read exactly what encoding/json (the intake's decoder) reads.
func TestDecodeStoredCDRMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for name, payload := range map[string]string{"rich": richCDR, "minimal": `{"id":"X","currency":"EUR","total_cost":{"excl_vat":1}}`} {
		var want, got ocpi.CDR
		require.NoError(t, json.Unmarshal([]byte(payload), &want), name)
		require.NoError(t, decodeStoredCDR(payload, &got), name)
		require.Equal(t, want, got, name)
	}
	// What encoding/json refuses is refused (the pricer then prices from
	// the totals and the connector's tariff, as before).
	for _, payload := range []string{`{"id":"X","cdr_location":"nope"}`, `{"id":"X","credit":"true"}`,
		`{"id":"X","tariffs":[{"elements":[{"price_components":[{"step_size":1.5}]}]}]}`} {
		var cdr ocpi.CDR
		require.Error(t, decodeStoredCDR(payload, &cdr), payload)
	}
}
