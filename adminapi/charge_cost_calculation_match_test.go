package adminapi_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/session"
)

// sessionCDR is the fixture's CDR (our token at its EVSE) with the given
// facts: start, duration, parking time (minutes) and energy, as charging
// periods of energy and charging time, then parking.
func (f *pricingFixture) sessionCDR(id string, start time.Time, minutes, parking int, kwh string) []byte {
	f.t.Helper()
	var m map[string]any
	require.NoError(f.t, json.Unmarshal(f.cdr(id, kwh), &m))
	end := start.Add(time.Duration(minutes) * time.Minute)
	charging := time.Duration(minutes-parking) * time.Minute
	hours := func(d time.Duration) json.Number { // exact for the durations used here
		return json.Number(decimal.NewFromInt(int64(d / time.Second)).Div(decimal.NewFromInt(3600)).String())
	}
	m["start_date_time"], m["end_date_time"] = start.Format(time.RFC3339), end.Format(time.RFC3339)
	m["total_energy"] = json.Number(kwh)
	m["total_time"] = hours(time.Duration(minutes) * time.Minute)
	m["total_parking_time"] = hours(time.Duration(parking) * time.Minute)
	periods := []any{map[string]any{"start_date_time": start.Format(time.RFC3339), "dimensions": []any{
		map[string]any{"type": "ENERGY", "volume": json.Number(kwh)}, map[string]any{"type": "TIME", "volume": hours(charging)}}}}
	if parking > 0 {
		periods = append(periods, map[string]any{"start_date_time": start.Add(charging).Format(time.RFC3339), "dimensions": []any{
			map[string]any{"type": "PARKING_TIME", "volume": hours(time.Duration(parking) * time.Minute)}}})
	}
	m["charging_periods"] = periods
	out, err := json.Marshal(m)
	require.NoError(f.t, err)
	return out
}

// TestChargeCostCalculationMatchesPricing: a quote
// (GET /main/v1/msp-charge-cost-calculation) for a subscription at an EVSE
// with an energy, a duration and a parking duration is exactly what the
// pipeline charges for a real session with the same facts (a partner's
// CDR over OCPI, priced by the node's pricers): every component (volume,
// amount excluding VAT, VAT rate, VAT, amount including VAT) and the
// totals, with the same rule and rate chosen. The rate plan exercises step
// sizes, a price per minute, a component maximum, a flat fee, VAT rounded
// per line, and a rule on CPO party, power type and local time window;
// with a charge credit, the quote after credits equals the session's
// price after the credit it consumed.
func TestChargeCostCalculationMatchesPricing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := setup(t)
	f := newPricingFixture(t)
	start := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)
	local := start.In(mustZone(t, "Europe/Brussels"))
	from := local.Truncate(time.Hour)
	window := map[string]any{"start": from.Format("15:04"), "end": from.Add(2 * time.Hour).Format("15:04")}
	credits := map[string]any{"apply": true, "shortfall": "charge_remainder"}
	rp := h.must(201, h.do("POST", "/main/v1/rate-plan", map[string]any{"administration_id": f.admin.String(), "name": "Quote match",
		"rates": []any{
			map[string]any{"code": "base", "components": []any{map[string]any{"type": "energy", "unit": "kwh", "price": "0.99"}}},
			map[string]any{"code": "gent", "components": []any{
				map[string]any{"type": "energy", "unit": "kwh", "price": "0.31", "step_size": 100, "credits": credits},
				map[string]any{"type": "time", "unit": "minute", "price": "0.04", "step_size": 60, "credits": credits},
				map[string]any{"type": "parking_time", "unit": "minute", "price": "0.10", "step_size": 300, "max_price": "1.20"},
				map[string]any{"type": "flat", "unit": "session", "price": "0.55"},
			}},
		},
		"rules": []any{map[string]any{"rate": "base"},
			map[string]any{"rate": "gent", "cpo_party": "BE-" + f.party, "power_types": []string{"AC_3_PHASE"}, "time_window": window}}})).str("id")
	h.must(200, h.do("POST", "/main/v1/msp-token-subscription-plan/"+f.plan.String(), map[string]any{"rate_plan_id": rp}))

	quote := func(start time.Time) map[string]any {
		t.Helper()
		q := url.Values{"subscription_id": {f.sub.String()}, "location_id": {f.location.String()}, "evse_uid": {"3256"}, "connector_id": {"1"},
			"energy": {"12.345"}, "duration": {"90"}, "parking_duration": {"15"}, "start_date_time": {start.Format(time.RFC3339)}}
		return h.must(200, h.do("GET", "/main/v1/msp-charge-cost-calculation?"+q.Encode(), nil)).JSON
	}
	price := func(id string, start time.Time) map[string]any {
		t.Helper()
		sid := f.postCDR(h.app, f.sessionCDR(id, start, 90, 15, "12.345"))
		require.NoError(t, pricingProcessor(t).Process(ctx, sid))
		if rec := h.session(sid); rec.State != session.Priced {
			t.Fatalf("session %s is %s, not priced: %v %v", sid, rec.State, deref(rec.DropoutReason), deref(rec.DropoutDetail))
		}
		return h.must(200, h.do("GET", "/main/v1/msp-charge-session-priced/"+sid.String(), nil)).JSON["price"].(map[string]any)
	}
	same := func(q, p map[string]any) {
		t.Helper()
		require.Equal(t, "EUR", q["currency"])
		require.Equal(t, q["currency"], p["currency"])
		require.Equal(t, q["components"], p["components"], "every component as the pipeline prices it")
		for _, k := range []string{"excl_vat", "vat", "incl_vat"} {
			require.Equal(t, q[k], p[k], k)
		}
		qd, pd := q["detail"].(map[string]any), p["detail"].(map[string]any)
		for _, k := range []string{"rate", "rule_index", "rate_plan_id", "subscription_id", "time_zone", "local_start"} {
			require.Equal(t, qd[k], pd[k], "detail."+k)
		}
	}

	// Without credits. gent: energy 12.345 kWh, billed per 0.1 kWh →
	// 12.4 × 0.31 = 3.844 (VAT 18 %: 0.69192 → 0.69); charging time
	// 90 − 15 = 75 min × 0.04 = 3.00 (0.54); parking 15 min × 0.10 = 1.50,
	// at most 1.20 (0.216 → 0.22); flat 0.55 (0.099 → 0.10).
	q1 := quote(start)
	require.Equal(t, "gent", q1["detail"].(map[string]any)["rate"])
	require.Equal(t, "8.594", q1["excl_vat"])
	require.Equal(t, "1.55", q1["vat"])
	require.Equal(t, "10.144", q1["incl_vat"])
	require.Equal(t, q1["excl_vat"], q1["before_credits"].(map[string]any)["excl_vat"])
	require.Empty(t, q1["credits"])
	same(q1, price("QM1-"+f.party, start))

	// With a monetary credit of 2.00 (energy and charging time are paid by
	// credits, parking and the flat fee are not): the quote after credits
	// is what the session is charged once it consumed the credit.
	h.must(201, h.do("POST", "/main/v1/msp-token-subscription/"+f.sub.String()+"/monetary-credit",
		map[string]any{"amount": "2.00", "valid_from": start.Add(-time.Hour).Format(time.RFC3339)}))
	start2 := start.Add(time.Minute)
	q2 := quote(start2)
	require.Equal(t, "6.594", q2["excl_vat"], "8.594 less the credit's 2.00")
	require.Len(t, q2["credits"], 1)
	same(q2, price("QM2-"+f.party, start2))
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	require.NoError(t, err)
	return z
}
