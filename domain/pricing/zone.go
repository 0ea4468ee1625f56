package pricing

import (
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // IANA zones even on hosts without zoneinfo (DESIGN.md, Time)

	"github.com/roamnode/roamnode/domain/iso"
)

// Where the zone of a Zone came from.
const (
	ZoneFromLocation = "location" // the location's own time_zone
	ZoneFromCountry  = "country"  // the single zone of the location's country
	ZoneFromUTC      = "utc"      // neither: UTC
)

// Zone is the time zone in which tariff restrictions (start_time,
// end_time, start_date, end_date, day_of_week) are evaluated for a
// location, with where it came from.
type Zone struct {
	Loc *time.Location
	// Source is ZoneFromLocation, ZoneFromCountry or ZoneFromUTC.
	Source string
	// Note says why the location's own time_zone was not used ("" when it
	// was): the country's zone was, or UTC and why (no time_zone, an
	// unknown one, a country spanning several zones, an unknown country).
	Note string
}

// ZoneFor returns the zone of a location with IANA time_zone locationTZ
// and ISO 3166-1 country (alpha-3 as OCPI sends it, or alpha-2):
//
//  1. the location's time_zone (mod_tariffs "TariffRestrictions class":
//     "the time zone is defined in the time_zone field of the Location");
//  2. else the country's zone when the whole country keeps one local time
//     (iso.ZoneOf: NLD → Europe/Amsterdam);
//  3. else UTC. A country with several zones (USA, ESP with the Canary
//     Islands, …) gets no guessed zone: it is priced in UTC and Note says
//     so, so that an operator can set the location's time_zone.
//
// Loaded zones are cached: ZoneFor is meant to be called once per priced
// session, not in the engine (Price takes the *time.Location).
func ZoneFor(locationTZ, country string) Zone {
	var why string
	if locationTZ != "" {
		if loc, ok := loadZone(locationTZ); ok {
			return Zone{Loc: loc, Source: ZoneFromLocation}
		}
		why = "the location's time zone " + locationTZ + " is unknown"
	} else {
		why = "the location has no time zone"
	}
	c := strings.ToUpper(strings.TrimSpace(country))
	if z, ok := iso.ZoneOf(c); ok {
		if loc, ok := loadZone(z); ok {
			return Zone{Loc: loc, Source: ZoneFromCountry, Note: why + ": restrictions evaluated in " + z + ", the time zone of its country " + c}
		}
	}
	switch {
	case c == "":
		why += " and it has no country"
	case iso.MultiZone(c):
		why += " and its country " + c + " spans several time zones"
	default:
		why += " and its country " + c + " has no known time zone"
	}
	return Zone{Loc: time.UTC, Source: ZoneFromUTC, Note: why + ": restrictions evaluated in UTC"}
}

// zones caches loaded zones by name (only names that load, so at most the
// IANA zones).
var zones sync.Map

func loadZone(name string) (*time.Location, bool) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), true
	}
	// "Local" is the host's zone, never a location's.
	if name == "Local" {
		return nil, false
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	zones.Store(name, loc)
	return loc, true
}
