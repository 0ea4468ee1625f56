package pricing

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// ZoneFor: the location's time_zone, else the country's single zone, else
// UTC with a note saying why.
func TestZoneFor(t *testing.T) {
	for _, c := range []struct{ tz, country, zone, source, note string }{
		{"Europe/Brussels", "NLD", "Europe/Brussels", ZoneFromLocation, ""},
		{"America/Chicago", "USA", "America/Chicago", ZoneFromLocation, ""},
		{"", "NLD", "Europe/Amsterdam", ZoneFromCountry,
			"the location has no time zone: restrictions evaluated in Europe/Amsterdam, the time zone of its country NLD"},
		{"", "de", "Europe/Berlin", ZoneFromCountry,
			"the location has no time zone: restrictions evaluated in Europe/Berlin, the time zone of its country DE"},
		{"Mars/Olympus", "BEL", "Europe/Brussels", ZoneFromCountry,
			"the location's time zone Mars/Olympus is unknown: restrictions evaluated in Europe/Brussels, the time zone of its country BEL"},
		{"Local", "", "UTC", ZoneFromUTC, "the location's time zone Local is unknown and it has no country: restrictions evaluated in UTC"},
		{"", "USA", "UTC", ZoneFromUTC, "the location has no time zone and its country USA spans several time zones: restrictions evaluated in UTC"},
		{"", "ESP", "UTC", ZoneFromUTC, "the location has no time zone and its country ESP spans several time zones: restrictions evaluated in UTC"},
		{"", "XYZ", "UTC", ZoneFromUTC, "the location has no time zone and its country XYZ has no known time zone: restrictions evaluated in UTC"},
		{"", "", "UTC", ZoneFromUTC, "the location has no time zone and it has no country: restrictions evaluated in UTC"},
	} {
		z := ZoneFor(c.tz, c.country)
		require.Equal(t, c.zone, z.Loc.String(), "%q %q", c.tz, c.country)
		require.Equal(t, c.source, z.Source, "%q %q", c.tz, c.country)
		require.Equal(t, c.note, z.Note, "%q %q", c.tz, c.country)
	}
	// Cached zones are the same *time.Location.
	require.Same(t, ZoneFor("", "NLD").Loc, ZoneFor("Europe/Amsterdam", "").Loc)
}
