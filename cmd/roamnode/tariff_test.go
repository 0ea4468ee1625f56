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
