package iso

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
)

func TestZoneOf(t *testing.T) {
	for _, c := range []struct{ code, zone string }{
		{"NLD", "Europe/Amsterdam"}, {"nl", "Europe/Amsterdam"}, {"DEU", "Europe/Berlin"}, {"BEL", "Europe/Brussels"},
		{"FRA", "Europe/Paris"}, {"GBR", "Europe/London"}, {"UZB", "Asia/Tashkent"}, {" NOR ", "Europe/Oslo"},
	} {
		z, ok := ZoneOf(c.code)
		if !ok || z != c.zone {
			t.Errorf("ZoneOf(%q) = %q, %v; want %q", c.code, z, ok, c.zone)
		}
		if MultiZone(c.code) {
			t.Errorf("MultiZone(%q) = true", c.code)
		}
	}
	// Countries whose regions keep different local times give no zone.
	for _, c := range []string{"USA", "US", "CAN", "AUS", "ESP", "es", "PRT", "RUS", "MEX", "BRA", "UKR"} {
		if z, ok := ZoneOf(c); ok {
			t.Errorf("ZoneOf(%q) = %q for a multi-zone country", c, z)
		}
		if !MultiZone(c) {
			t.Errorf("MultiZone(%q) = false", c)
		}
	}
	for _, c := range []string{"", "XX", "XXX", "NLDX"} {
		if z, ok := ZoneOf(c); ok || MultiZone(c) {
			t.Errorf("unknown %q: %q, %v, multi %v", c, z, ok, MultiZone(c))
		}
	}
}

// Every table row is an assigned country with a zone that loads, and no
// country is in both tables.
func TestZoneTables(t *testing.T) {
	f := strings.Fields(singleZones)
	if len(f)%3 != 0 {
		t.Fatalf("singleZones has %d fields, not triples", len(f))
	}
	seen := map[string]bool{}
	for i := 0; i < len(f); i += 3 {
		a3, a2, zone := f[i], f[i+1], f[i+2]
		if len(a3) != 3 || !Country(a2) || seen[a2] || seen[a3] {
			t.Errorf("row %s %s %s: bad or repeated code", a3, a2, zone)
		}
		seen[a2], seen[a3] = true, true
		if _, err := time.LoadLocation(zone); err != nil {
			t.Errorf("%s: %v", a2, err)
		}
	}
	m := strings.Fields(multiZones)
	if len(m)%2 != 0 {
		t.Fatalf("multiZones has %d fields, not pairs", len(m))
	}
	for i := 0; i < len(m); i += 2 {
		if len(m[i]) != 3 || !Country(m[i+1]) || seen[m[i]] || seen[m[i+1]] {
			t.Errorf("multi-zone %s %s: bad code or also single-zone", m[i], m[i+1])
		}
	}
}
