package ocpi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/pricing"
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// priceInput prices a CDR read by ReadCDR with a tariff read by ReadTariff
// (or its first embedded tariff) in UTC.
func priceInput(t *testing.T, c CDRInput, tariff *TariffInput) pricing.Result {
	t.Helper()
	wt := c.CDR.Tariffs
	if tariff != nil {
		wt = []Tariff{tariff.Tariff}
	}
	require.NotEmpty(t, wt)
	tf, err := wt[0].ToPricing()
	require.NoError(t, err)
	s, err := c.CDR.ToSession()
	require.NoError(t, err)
	r, err := pricing.Price(tf, s, time.UTC)
	require.NoError(t, err)
	return r
}

// TestV211PricesLikeV221 prices a hand-written OCPI 2.1.1 tariff and CDR
// (stop_date_time, auth_id, location, total_cost a number, string prices,
// a FLAT and a MAX_CURRENT dimension) and their 2.2.1 equivalent from the
// conformance corpus: the results are identical, and equal the CDR's own
// totals.
func TestV211PricesLikeV221(t *testing.T) {
	raw211 := readFile(t, "testdata/v211/cdr_step_size.json")
	v, err := DetectCDRVersion(raw211)
	require.NoError(t, err)
	require.Equal(t, Version211, v)
	c211, err := ReadCDR(raw211, "")
	require.NoError(t, err)
	require.Equal(t, Version211, c211.Version)
	require.Equal(t, "UTC", c211.TimeZone)
	traw := readFile(t, "testdata/v211/tariff_step_size.json")
	tv, err := DetectTariffVersion(traw)
	require.NoError(t, err)
	require.Equal(t, Version211, tv)
	t211, err := ReadTariff(traw, "")
	require.NoError(t, err)
	require.Equal(t, Version211, t211.Version)

	raw221 := readFile(t, filepath.Join(conformanceDir, "step_size", "cdr1.json"))
	c221, err := ReadCDR(raw221, "")
	require.NoError(t, err)
	require.Equal(t, Version221, c221.Version)
	t221, err := ReadTariff(readFile(t, filepath.Join(conformanceDir, "step_size", "tariff.json")), "")
	require.NoError(t, err)
	require.Equal(t, Version221, t221.Version)

	got, want := priceInput(t, c211, &t211), priceInput(t, c221, &t221)
	require.Len(t, got.Parts, len(want.Parts))
	for i := range want.Parts {
		// The 2.1.1 CDR also reports MAX_CURRENT, which this tariff ignores.
		require.Equal(t, want.Parts[i].Lines, got.Parts[i].Lines)
		require.Equal(t, want.Parts[i].End, got.Parts[i].End)
	}
	require.Equal(t, want.Steps, got.Steps)
	for _, p := range []struct {
		name string
		a, b pricing.Amount
	}{{"total_cost", want.TotalCost, got.TotalCost}, {"total_time_cost", want.TotalTimeCost, got.TotalTimeCost},
		{"total_parking_cost", want.TotalParkingCost, got.TotalParkingCost}} {
		require.True(t, p.a.Equal(p.b), "%s: %v != %v", p.name, p.a, p.b)
	}
	require.True(t, want.TotalTime.Equal(got.TotalTime))
	require.True(t, want.TotalParkingTime.Equal(got.TotalParkingTime))

	// The 2.1.1 CDR's own totals agree with the result.
	tot := c211.CDR.Totals()
	eq4(t, "total_cost", tot.TotalCost.ExclVAT, got.TotalCost.ExclVAT)
	eq4(t, "total_time", *tot.TotalTime, got.TotalTime)
	eq4(t, "total_parking_time", *tot.TotalParkingTime, got.TotalParkingTime)
	require.Nil(t, tot.TotalTimeCost, "2.1.1 has no per-dimension costs")
}

// TestV211EmbeddedTariff prices a 2.1.1 CDR with its embedded 2.1.1 tariff
// (the grace-period tariff of the conformance corpus, without VAT, which
// 2.1.1 cannot express): the costs excluding VAT are the corpus's.
func TestV211EmbeddedTariff(t *testing.T) {
	c, err := ReadCDR(readFile(t, "testdata/v211/cdr_grace_parking.json"), "")
	require.NoError(t, err)
	require.Equal(t, Version211, c.Version)
	got := priceInput(t, c, nil)
	var want CDR
	readJSON(t, filepath.Join(conformanceDir, "grace_period_parking_time", "cdr.json"), &want)
	eq4(t, "total_cost", want.TotalCost.ExclVAT.Decimal, got.TotalCost.ExclVAT)
	eq4(t, "total_parking_cost", want.TotalParkingCost.ExclVAT.Decimal, got.TotalParkingCost.ExclVAT)
	eq4(t, "total_energy_cost", want.TotalEnergyCost.ExclVAT.Decimal, got.TotalEnergyCost.ExclVAT)
	// No VAT information: including VAT equals excluding VAT.
	require.True(t, got.TotalCost.InclVAT.Equal(got.TotalCost.ExclVAT))
	eq4(t, "own total_cost", c.CDR.TotalCost.ExclVAT.Decimal, got.TotalCost.ExclVAT)
}

// TestV211SpecExample prices the CDR example of OCPI 2.1.1 mod_cdrs as
// published (its tariff price is the string "2.00"): 1.973 h of TIME at
// 2.00/h in 5-minute blocks is 2 h, 4.00, the example's total_cost.
func TestV211SpecExample(t *testing.T) {
	c, err := ReadCDR(readFile(t, "testdata/v211/cdr_spec_example.json"), "")
	require.NoError(t, err)
	require.Equal(t, Version211, c.Version)
	require.Equal(t, "BE", c.CDR.CdrLocation.Country)
	require.Empty(t, c.TimeZone)
	got := priceInput(t, c, nil)
	eq4(t, "total_cost", decimal.RequireFromString("4.00"), got.TotalCost.ExclVAT)
	eq4(t, "own total_cost", c.CDR.TotalCost.ExclVAT.Decimal, got.TotalCost.ExclVAT)
}

// TestV211Conversion checks each mapped field.
func TestV211Conversion(t *testing.T) {
	var c CDRV211
	readJSON(t, "testdata/v211/cdr_step_size.json", &c)
	out, tz := c.ToV221("NL", "TNM")
	require.Equal(t, "UTC", tz)
	require.Equal(t, "CDR-STEP-1", out.ID)
	require.Equal(t, "NL", out.CountryCode)
	require.Equal(t, "TNM", out.PartyID)
	require.Equal(t, c.StopDateTime, out.EndDateTime)
	require.Equal(t, CdrToken{CountryCode: "NL", PartyID: "TNM", UID: "NL-TNM-C12345678-X", Type: "OTHER", ContractID: "NL-TNM-C12345678-X"}, out.CdrToken)
	require.Equal(t, AuthMethodWhitelist, out.AuthMethod)
	require.Equal(t, CdrLocation{ID: "LOC1", Name: "Stationsplein", Address: "Stationsplein 1", City: "Utrecht", PostalCode: "3511 ED",
		Country: "NLD", Coordinates: GeoLocation{"52.089444", "5.110278"}, EvseUID: "3256", EvseID: "NL*TNM*E3256", ConnectorID: "1",
		ConnectorStandard: "IEC_62196_T2", ConnectorFormat: "SOCKET", ConnectorPowerType: "AC_3_PHASE"}, out.CdrLocation)
	require.True(t, out.TotalCost.ExclVAT.Equal(decimal.RequireFromString("0.5502")))
	require.Nil(t, out.TotalCost.InclVAT)
	require.Nil(t, out.TotalEnergyCost)
	require.True(t, out.TotalParkingTime.Equal(decimal.RequireFromString("0.0334")))
	// FLAT is not a 2.2.1 CdrDimensionType; MAX_CURRENT is kept.
	require.Equal(t, []CdrDimension{{Type: CdrDimensionTime, Volume: Number{decimal.RequireFromString("0.0834")}}}, out.ChargingPeriods[0].Dimensions)
	require.Equal(t, CdrDimensionMaxCurrent, out.ChargingPeriods[1].Dimensions[1].Type)

	var tf TariffV211
	readJSON(t, "testdata/v211/tariff_step_size.json", &tf)
	tt := tf.ToV221("NL", "TNM")
	require.Equal(t, "22", tt.ID)
	require.Equal(t, "NL", tt.CountryCode)
	require.Empty(t, tt.Type)
	require.Nil(t, tt.MinPrice)
	require.Len(t, tt.Elements, 3)
	pc := tt.Elements[0].PriceComponents[1]
	require.Equal(t, TariffDimensionParkingTime, pc.Type)
	require.True(t, pc.Price.Equal(decimal.RequireFromString("1.00")), "a string price is read")
	require.Nil(t, pc.VAT, "2.1.1 has no VAT")
	require.Equal(t, "17:00", tt.Elements[1].Restrictions.StartTime)
	require.Equal(t, "CARBON_DIOXIDE", tt.EnergyMix.EnvironImpact[0].Category)
	require.Equal(t, "Time and parking by time of day", tt.TariffAltText[0].Text)
	// The converted tariff is a valid 2.2.1 tariff for the engine.
	_, err := tt.ToPricing()
	require.NoError(t, err)
}

func TestV211Detection(t *testing.T) {
	for raw, want := range map[string]VersionNumber{
		`{"id":"1","end_date_time":"2022-01-01T00:00:00Z"}`:  Version221,
		`{"id":"1","cdr_location":{"country":"NLD"}}`:        Version221,
		`{"id":"1","stop_date_time":"2022-01-01T00:00:00Z"}`: Version211,
		`{"id":"1","auth_id":"X"}`:                           Version211,
		`{"id":"1","total_cost":1.5}`:                        Version211,
		`{"id":"1","total_cost":{"excl_vat":1.5}}`:           Version221,
		`{"id":"1"}`: Version221,
	} {
		v, err := DetectCDRVersion([]byte(raw))
		require.NoError(t, err)
		require.Equal(t, want, v, raw)
	}
	for raw, want := range map[string]VersionNumber{
		`{"id":"1","elements":[{"price_components":[{"type":"TIME","price":1,"step_size":1}]}]}`:                                              Version211,
		`{"id":"1","party_id":"ABC","elements":[]}`:                                                                                           Version221,
		`{"id":"1","elements":[{"price_components":[{"type":"TIME","price":1,"vat":21,"step_size":1}]}]}`:                                     Version221,
		`{"id":"1","elements":[{"price_components":[{"type":"TIME","price":1,"step_size":1}],"restrictions":{"max_current":16}}]}`:            Version221,
		`{"id":"1","elements":[{"price_components":[{"type":"FLAT","price":1,"step_size":1}],"restrictions":{"reservation":"RESERVATION"}}]}`: Version221,
		`{"id":"1","max_price":{"excl_vat":10}}`:                                                                                              Version221,
	} {
		v, err := DetectTariffVersion([]byte(raw))
		require.NoError(t, err)
		require.Equal(t, want, v, raw)
	}
	// Every conformance file is 2.2.1 (or reads the same either way).
	files, _ := filepath.Glob(filepath.Join(conformanceDir, "*", "cdr*.json"))
	for _, f := range files {
		v, err := DetectCDRVersion(readFile(t, f))
		require.NoError(t, err)
		require.Equal(t, Version221, v, f)
	}

	_, err := DetectCDRVersion([]byte(`[1]`))
	require.Error(t, err)
	_, err = ReadCDR([]byte(`{}`), "2.0")
	require.ErrorContains(t, err, `unsupported OCPI version "2.0"`)
	_, err = ReadTariff([]byte(`{}`), "3.0")
	require.Error(t, err)
}

// TestV211VersionOverride reads a 2.2.1-looking tariff as 2.1.1 when told
// to: the 2.2.1-only fields are ignored.
func TestV211VersionOverride(t *testing.T) {
	raw := readFile(t, filepath.Join(conformanceDir, "simple_025kwh", "tariff.json"))
	in, err := ReadTariff(raw, Version211)
	require.NoError(t, err)
	require.Equal(t, Version211, in.Version)
	require.Empty(t, in.Tariff.CountryCode)
	for _, e := range in.Tariff.Elements {
		for _, c := range e.PriceComponents {
			require.Nil(t, c.VAT)
		}
	}
}

func TestNumberV211(t *testing.T) {
	for raw, want := range map[string]string{`1.25`: "1.25", `"2.00"`: "2", `"-0.5"`: "-0.5", `0`: "0"} {
		var n NumberV211
		require.NoError(t, json.Unmarshal([]byte(raw), &n), raw)
		require.True(t, n.Equal(decimal.RequireFromString(want)), raw)
	}
	for _, raw := range []string{`"abc"`, `"1e"`, `true`, `""`} {
		var n NumberV211
		require.Error(t, json.Unmarshal([]byte(raw), &n), raw)
	}
	b, err := json.Marshal(NumberV211{decimal.RequireFromString("2.50")})
	require.NoError(t, err)
	require.Equal(t, "2.5", string(b))
}
