package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const corpus = "../../../shared/conformance/ocpi-tariffs"

func runT(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runTariff(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestTariffValidateCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpus, "*", "cdr*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		tariff := filepath.Join(filepath.Dir(f), "tariff.json")
		code, out, errs := runT("validate", "--cdr", f, "--tariff", tariff, "--tz", "UTC")
		if strings.HasSuffix(f, "025kwh_min_price/cdr2_less_than_2kWh.json") {
			// The stale expected total ignores min_price (conformance README).
			require.Equal(t, 1, code, out)
			require.Contains(t, out, "total_cost.excl_vat:")
			require.Contains(t, out, "CDR 0.3, computed 0.5 (computed - CDR = 0.2)")
			require.Contains(t, out, "total_cost.incl_vat:")
			continue
		}
		require.Equal(t, 0, code, "%s: %s %s", f, out, errs)
		require.True(t, strings.HasPrefix(out, "OK: "), out)
	}
}

func TestTariffPriceReport(t *testing.T) {
	dir := filepath.Join(corpus, "step_size")
	code, out, errs := runT("price", "--cdr", filepath.Join(dir, "cdr1.json"), "--tariff", filepath.Join(dir, "tariff.json"), "--tz", "UTC")
	require.Equal(t, 0, code, errs)
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	for _, k := range []string{"total_cost", "total_fixed_cost", "total_energy", "total_energy_cost", "total_time", "total_time_cost",
		"total_parking_time", "total_parking_cost", "total_reservation_cost", "breakdown"} {
		require.Contains(t, r, k)
	}
	require.Contains(t, out, `"excl_vat": 0.55024`)
	require.Contains(t, out, `"total_time": 0.2`)
	require.Contains(t, out, `elements[1] applies: start_time 17:00, end_time 20:00 contains local time 2022-01-13 17:00:00`)
	require.Contains(t, out, `"time_zone": "UTC"`)
}

func TestTariffZoneFallbacks(t *testing.T) {
	// Without --tz the CDR's country (NLD) decides: Europe/Amsterdam is
	// UTC+1 in January, so the 17:00 boundary moves and validation fails.
	dir := filepath.Join(corpus, "step_size")
	code, out, _ := runT("validate", "--cdr", filepath.Join(dir, "cdr1.json"), "--tariff", filepath.Join(dir, "tariff.json"))
	require.Equal(t, 1, code)
	require.Contains(t, out, "time zone Europe/Amsterdam")

	// A time_zone in cdr_location wins over the country.
	b, err := os.ReadFile(filepath.Join(dir, "cdr1.json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	m["cdr_location"] = map[string]any{"country": "NLD", "time_zone": "UTC"}
	m["tariffs"] = []any{}
	tmp := filepath.Join(t.TempDir(), "cdr.json")
	b, _ = json.Marshal(m)
	require.NoError(t, os.WriteFile(tmp, b, 0o600))
	code, out, _ = runT("validate", "--cdr", tmp, "--tariff", filepath.Join(dir, "tariff.json"))
	require.Equal(t, 0, code, out)

	// Without --tariff and without embedded tariffs: an input error.
	code, _, errs := runT("price", "--cdr", tmp)
	require.Equal(t, 1, code)
	require.Contains(t, errs, "has no tariffs")

	// With an embedded tariff, --tariff is not needed.
	var tariff any
	tb, _ := os.ReadFile(filepath.Join(dir, "tariff.json"))
	require.NoError(t, json.Unmarshal(tb, &tariff))
	m["tariffs"] = []any{tariff}
	b, _ = json.Marshal(m)
	require.NoError(t, os.WriteFile(tmp, b, 0o600))
	code, out, _ = runT("validate", "--cdr", tmp)
	require.Equal(t, 0, code, out)
}

func TestTariffLintAndExplain(t *testing.T) {
	code, out, _ := runT("lint", filepath.Join(corpus, "simple_025kwh", "tariff.json"))
	require.Equal(t, 0, code, out)
	code, out, _ = runT("lint", filepath.Join(corpus, "step_size", "tariff.json"))
	require.Equal(t, 1, code)
	require.Contains(t, out, "PARKING_TIME is not priced in every situation")
	code, out, _ = runT("explain", filepath.Join(corpus, "complex", "tariff.json"))
	require.Equal(t, 0, code)
	require.Contains(t, out, "a fixed fee per session of 2.50 EUR (15% VAT)")
	// Every corpus tariff parses, lints and explains.
	tariffs, _ := filepath.Glob(filepath.Join(corpus, "*", "tariff.json"))
	for _, f := range tariffs {
		code, _, errs := runT("lint", f)
		require.Contains(t, []int{0, 1}, code, errs)
		code, _, errs = runT("explain", f)
		require.Equal(t, 0, code, errs)
	}
}

func TestTariffUsage(t *testing.T) {
	for _, args := range [][]string{
		{}, {"bogus"}, {"price"}, {"price", "--nope"}, {"validate", "--cdr"}, {"lint"}, {"explain", "a", "b"},
		{"price", "--cdr", filepath.Join(corpus, "step_size", "cdr1.json"), "--tz", "Mars/Olympus"},
	} {
		code, _, errs := runT(args...)
		require.Equal(t, 2, code, "%v: %s", args, errs)
		require.Contains(t, errs, "usage: roamnode tariff")
	}
	code, _, errs := runT("lint", "/nonexistent.json")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "no such file")
}

const v211Dir = "../../ocpi/testdata/v211"

// TestTariffV211 feeds OCPI 2.1.1 files to the CLI without saying so: the
// version is detected, the files are converted and price like their 2.2.1
// equivalents; the location's time_zone (a 2.1.1 Location field) decides
// the zone before the country.
func TestTariffV211(t *testing.T) {
	cdr, tariff := filepath.Join(v211Dir, "cdr_step_size.json"), filepath.Join(v211Dir, "tariff_step_size.json")
	code, out, errs := runT("validate", "--cdr", cdr, "--tariff", tariff)
	require.Equal(t, 0, code, "%s %s", out, errs)
	require.Contains(t, out, "OK: 4 totals")
	require.Contains(t, out, "time zone UTC")

	code, out, errs = runT("price", "--cdr", cdr, "--tariff", tariff)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, `"ocpi_version": "2.1.1"`)
	require.Contains(t, out, `"excl_vat": 0.55024`)
	// The same CDR in 2.2.1 (conformance corpus) gives the same report.
	code, out221, errs := runT("price", "--cdr", filepath.Join(corpus, "step_size", "cdr1.json"), "--tariff", filepath.Join(corpus, "step_size", "tariff.json"), "--tz", "UTC")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out221, `"ocpi_version": "2.2.1"`)
	require.Equal(t, strings.Replace(out221, `"ocpi_version": "2.2.1"`, `"ocpi_version": "2.1.1"`, 1), out)

	// An embedded 2.1.1 tariff.
	code, out, errs = runT("validate", "--cdr", filepath.Join(v211Dir, "cdr_grace_parking.json"))
	require.Equal(t, 0, code, "%s %s", out, errs)
	// The 2.1.1 specification's example: its total_cost (4.00) is right, but
	// it states 15.342 kWh without an ENERGY dimension, and a total_time of
	// 1.973 h for a session of 1 h 58 min 23 s (1.9731 h).
	code, out, errs = runT("validate", "--cdr", filepath.Join(v211Dir, "cdr_spec_example.json"))
	require.Equal(t, 1, code, errs)
	require.Contains(t, out, "MISMATCH: 2 of 3 totals")
	require.Contains(t, out, "total_energy:                  CDR 15.342, computed 0")
	require.Contains(t, out, "total_time:                    CDR 1.973, computed 1.9731")
	require.NotContains(t, out, "total_cost")

	// Without the location's time_zone the country (NLD) decides: Amsterdam
	// is UTC+1 in January, so the 17:00 boundary moves.
	b, err := os.ReadFile(cdr)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	delete(m["location"].(map[string]any), "time_zone")
	m["total_cost"] = 0.6
	tmp := filepath.Join(t.TempDir(), "cdr211.json")
	b, _ = json.Marshal(m)
	require.NoError(t, os.WriteFile(tmp, b, 0o600))
	code, out, _ = runT("validate", "--cdr", tmp, "--tariff", tariff)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "time zone Europe/Amsterdam")
	// 2.1.1 total_cost excludes VAT and has no incl_vat to compare.
	require.Contains(t, out, "total_cost:")
	require.NotContains(t, out, "incl_vat")
	// --tz still wins.
	code, out, _ = runT("validate", "--cdr", tmp, "--tariff", tariff, "--tz", "UTC")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "CDR 0.6, computed 0.5502 (computed - CDR = -0.0498)")
}

// TestTariffVersionFlag: --ocpi-version overrides detection (a 2.2.1 CDR
// read as 2.1.1 has no stop_date_time) and rejects unknown versions.
func TestTariffVersionFlag(t *testing.T) {
	cdr, tariff := filepath.Join(corpus, "step_size", "cdr1.json"), filepath.Join(corpus, "step_size", "tariff.json")
	code, out, _ := runT("validate", "--cdr", cdr, "--tariff", tariff, "--tz", "UTC", "--ocpi-version", "2.2.1")
	require.Equal(t, 0, code, out)
	code, _, errs := runT("validate", "--cdr", cdr, "--tariff", tariff, "--tz", "UTC", "--ocpi-version", "2.1.1")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "is not a JSON number") // total_cost read as a 2.1.1 number
	code, _, errs = runT("price", "--cdr", cdr, "--ocpi-version", "2.0")
	require.Equal(t, 2, code)
	require.Contains(t, errs, `OCPI version "2.0" is not 2.1.1 or 2.2.1`)
	code, out, _ = runT("explain", "--ocpi-version", "2.1.1", filepath.Join(v211Dir, "tariff_step_size.json"))
	require.Equal(t, 0, code, out)
	code, out, _ = runT("explain", filepath.Join(v211Dir, "tariff_step_size.json"), "--ocpi-version", "2.1.1")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "charging time at 1.20 EUR per hour")
}

func writeJSON(t *testing.T, v string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "tariff.json")
	require.NoError(t, os.WriteFile(f, []byte(v), 0o600))
	return f
}

// TestTariffLintWarnings runs lint on tariffs that are valid JSON but do not
// mean what they say (the list), in both OCPI versions.
func TestTariffLintWarnings(t *testing.T) {
	// OCPI 2.1.1: a day_of_week list of all days, restrictions that can
	// never match (min_kwh above max_kwh), an element shadowed by an
	// earlier one that always matches where it does.
	v211 := writeJSON(t, `{"id":"lint211","currency":"EUR","elements":[
		{"price_components":[{"type":"ENERGY","price":"0.30","step_size":1}],
		 "restrictions":{"day_of_week":["MONDAY","TUESDAY","WEDNESDAY","THURSDAY","FRIDAY","SATURDAY","SUNDAY"]}},
		{"price_components":[{"type":"ENERGY","price":"0.20","step_size":1}],"restrictions":{"start_time":"22:00","end_time":"06:00"}},
		{"price_components":[{"type":"TIME","price":"1.00","step_size":60}],"restrictions":{"min_kwh":10,"max_kwh":5}},
		{"price_components":[{"type":"TIME","price":"2.00","step_size":60}]}],
		"last_updated":"2024-01-01T00:00:00Z"}`)
	code, out, errs := runT("lint", v211)
	require.Equal(t, 1, code, errs)
	for _, want := range []string{
		"warning: elements[0].restrictions.day_of_week: lists all 7 days",
		"warning: elements[1].price_components[0]: this ENERGY component is never used",
		"warning: elements[2].restrictions.min_kwh: can never match",
	} {
		require.Contains(t, out, want)
	}
	code, out, _ = runT("explain", v211)
	require.Equal(t, 0, code)
	require.Contains(t, out, "between 22:00 and 06:00 local time (overnight)")
	require.Contains(t, out, "Warnings:")

	// OCPI 2.2.1: min_price above max_price; an element whose restrictions
	// can never all hold at once.
	v221 := writeJSON(t, `{"country_code":"NL","party_id":"TNM","id":"lint221","currency":"EUR",
		"min_price":{"excl_vat":5,"incl_vat":6},"max_price":{"excl_vat":4,"incl_vat":5},
		"elements":[
		{"price_components":[{"type":"ENERGY","price":0.3,"vat":21,"step_size":1}],"restrictions":{"start_date":"2024-05-01","end_date":"2024-05-02","day_of_week":["MONDAY"]}},
		{"price_components":[{"type":"ENERGY","price":0.25,"vat":21,"step_size":1}]}],
		"last_updated":"2024-01-01T00:00:00Z"}`)
	code, out, errs = runT("lint", v221)
	require.Equal(t, 1, code, errs)
	require.Contains(t, out, "warning: min_price: min_price.excl_vat 5 is above max_price.excl_vat 4")
	require.Contains(t, out, "warning: min_price: min_price.incl_vat 6 is above max_price.incl_vat 5")
	// 2024-05-01 is a Wednesday.
	require.Contains(t, out, "warning: elements[0].restrictions: the restrictions can never all match at the same time")

	code, out, _ = runT("lint", writeJSON(t, `{"id":"ok","currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":0.25,"step_size":1}]}],"last_updated":"2024-01-01T00:00:00Z"}`))
	require.Equal(t, 0, code, out)
	require.Equal(t, "OK: no warnings\n", out)
}

// A country with several time zones (USA) gives no zone: without a
// location time_zone or --tz the CDR is priced in UTC, and the report and
// validate say why instead of guessing one of the country's zones.
func TestTariffZoneMultiZoneCountry(t *testing.T) {
	dir := filepath.Join(corpus, "step_size")
	b, err := os.ReadFile(filepath.Join(dir, "cdr1.json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	m["cdr_location"] = map[string]any{"country": "USA"}
	tmp := filepath.Join(t.TempDir(), "cdr.json")
	b, _ = json.Marshal(m)
	require.NoError(t, os.WriteFile(tmp, b, 0o600))

	code, out, errs := runT("price", "--cdr", tmp, "--tariff", filepath.Join(dir, "tariff.json"))
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, `"time_zone": "UTC"`)
	require.Contains(t, out, `"time_zone_note": "the location has no time zone and its country USA spans several time zones: restrictions evaluated in UTC"`)
	// In UTC the corpus CDR's stated totals match.
	code, out, errs = runT("validate", "--cdr", tmp, "--tariff", filepath.Join(dir, "tariff.json"))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "(time zone UTC)")
	require.Contains(t, errs, "note: the location has no time zone and its country USA spans several time zones")

	// The country's single zone is named in the report when it is used.
	m["cdr_location"] = map[string]any{"country": "NLD"}
	b, _ = json.Marshal(m)
	require.NoError(t, os.WriteFile(tmp, b, 0o600))
	code, out, errs = runT("price", "--cdr", tmp, "--tariff", filepath.Join(dir, "tariff.json"))
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, `"time_zone": "Europe/Amsterdam"`)
	require.Contains(t, out, `"time_zone_note": "the location has no time zone: restrictions evaluated in Europe/Amsterdam, the time zone of its country NLD"`)
}
