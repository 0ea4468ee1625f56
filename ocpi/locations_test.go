package ocpi

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/fault"
)

// TestLocationExamples decodes, validates and checks every official
// Location example and the Hours examples.
func TestLocationExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "location_example*.json"))
	require.NoError(t, err)
	require.Len(t, files, 6)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var l Location
		require.NoError(t, Decode(b, &l), f)
		require.NoError(t, l.Check(), f)
	}
	hours, _ := filepath.Glob(filepath.Join(examplesDir, "location_hours_*.json"))
	require.Len(t, hours, 3)
	for _, f := range hours {
		b, _ := os.ReadFile(f)
		var h Hours
		require.NoError(t, Decode(b, &h), f)
		l := Location{OpeningTimes: &h}
		err := l.Check()
		f, _ := fault.As(err)
		for _, p := range f.Fields {
			require.NotContains(t, p.Path, "opening_times", f)
		}
	}
}

// TestLocationCheck: every cross-field rule reports its JSON path.
func TestLocationCheck(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(examplesDir, "location_example.json"))
	require.NoError(t, err)
	var l Location
	require.NoError(t, Decode(b, &l))
	l.Coordinates.Latitude = "51.04"
	l.TimeZone = "Europe/Gent"
	l.PublishAllowedTo = []PublishTokenType{{UID: "X"}}
	l.OpeningTimes = &Hours{TwentyFourSeven: false, RegularHours: []RegularHours{{Weekday: 8, PeriodBegin: "10:00", PeriodEnd: "09:00"}}}
	l.EVSEs[1].UID = "3256"
	l.EVSEs[0].Connectors[1].ID = "1"
	l.EVSEs[0].Coordinates = &GeoLocation{Latitude: "91.000000", Longitude: "3.7299440"}
	l.EnergyMix = &EnergyMix{EnergySources: []EnergySource{{Source: "WOOD"}}}
	err = l.Check()
	fe, ok := fault.As(err)
	require.True(t, ok)
	var paths []string
	for _, f := range fe.Fields {
		paths = append(paths, f.Path)
	}
	require.ElementsMatch(t, []string{
		"coordinates.latitude", "time_zone", "publish_allowed_to", "publish_allowed_to[0].type",
		"opening_times.regular_hours[0].weekday", "opening_times.regular_hours[0].period_end",
		"energy_mix.energy_sources[0].source", "evses[1].uid", "evses[0].connectors[1].id",
		"evses[0].coordinates.latitude",
	}, paths)
}

// TestLocationDecodeClosedEnums: closed enums are refused by Decode with
// their path; open enums pass.
func TestLocationDecodeClosedEnums(t *testing.T) {
	var e EVSE
	err := Decode([]byte(`{"uid":"1","status":"BROKEN","connectors":[{"id":"1","standard":"NEW_PLUG","format":"PLUG","power_type":"DC","max_voltage":400,"max_amperage":100,"last_updated":"2020-01-01T00:00:00Z"}],"last_updated":"2020-01-01T00:00:00Z"}`), &e)
	require.Error(t, err)
	require.Contains(t, err.Error(), "status: must be one of")
	require.Contains(t, err.Error(), "connectors[0].format: must be one of")
	require.NotContains(t, err.Error(), "standard")
}
