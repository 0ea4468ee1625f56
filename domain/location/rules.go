// Package location holds the rules for charge point locations, EVSEs and
// connectors (OCPI 2.2.1 mod_locations; TandemDrive guide, "Charge Point
// Operators" → "Safe EVSE configuration"): coordinate and time-zone
// formats, opening hours, EVSE status, and the back-office flags a CPO keeps
// next to the OCPI object. It works on plain values, so the OCPI wire types,
// the Admin API and the stores all apply the same rules.
package location

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones even on hosts without zoneinfo (DESIGN: embed time/tzdata)
)

// Status is an EVSE status (mod_locations "Status enum").
type Status string

// The EVSE statuses.
const (
	StatusAvailable   Status = "AVAILABLE"
	StatusBlocked     Status = "BLOCKED"
	StatusCharging    Status = "CHARGING"
	StatusInoperative Status = "INOPERATIVE"
	StatusOutOfOrder  Status = "OUTOFORDER"
	StatusPlanned     Status = "PLANNED"
	StatusRemoved     Status = "REMOVED"
	StatusReserved    Status = "RESERVED"
	StatusUnknown     Status = "UNKNOWN"
)

// Statuses lists every EVSE status, in the spec's order.
var Statuses = []Status{StatusAvailable, StatusBlocked, StatusCharging, StatusInoperative, StatusOutOfOrder, StatusPlanned, StatusRemoved, StatusReserved, StatusUnknown}

// Valid reports whether s is one of the spec's statuses (a closed enum).
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// The closed enums of mod_locations (the official OpenAPI marks them
// "format: enum"); open enums (ConnectorType, Capability, Facility,
// ParkingType, ParkingRestriction, ImageCategory, EnvironmentalImpactCategory)
// accept any CiString so that values added by later versions pass.
var (
	ConnectorFormats       = []string{"SOCKET", "CABLE"}
	PowerTypes             = []string{"AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"}
	EnergySourceCategories = []string{"NUCLEAR", "GENERAL_FOSSIL", "COAL", "GAS", "GENERAL_GREEN", "SOLAR", "WIND", "WATER"}
)

// OneOf reports whether v is one of the allowed values.
func OneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// mod_locations "GeoLocation class": decimal degrees with "." and 5 to 7
// decimals. WGS 84 also bounds the values.
var (
	latitudeRE  = regexp.MustCompile(`^-?[0-9]{1,2}\.[0-9]{5,7}$`)
	longitudeRE = regexp.MustCompile(`^-?[0-9]{1,3}\.[0-9]{5,7}$`)
)

// CheckLatitude returns a message when s is not an OCPI latitude, else "".
func CheckLatitude(s string) string {
	if !latitudeRE.MatchString(s) {
		return "must be decimal degrees with 5 to 7 decimals, such as 51.047599"
	}
	if v, _ := strconv.ParseFloat(s, 64); v < -90 || v > 90 {
		return "must be between -90 and 90"
	}
	return ""
}

// CheckLongitude returns a message when s is not an OCPI longitude, else "".
func CheckLongitude(s string) string {
	if !longitudeRE.MatchString(s) {
		return "must be decimal degrees with 5 to 7 decimals, such as 3.729944"
	}
	if v, _ := strconv.ParseFloat(s, 64); v < -180 || v > 180 {
		return "must be between -180 and 180"
	}
	return ""
}

// CheckTimeZone returns a message when s is not an IANA tzdata zone name
// (mod_locations "Location Object": time_zone), else "". Local time rules
// (tariff restrictions, opening hours) are resolved with this zone, so a
// zone the node cannot load would silently price in UTC.
func CheckTimeZone(s string) string {
	if s == "" || s == "Local" || strings.HasPrefix(s, "/") || strings.Contains(s, "..") {
		return "must be an IANA time zone such as Europe/Amsterdam"
	}
	if _, err := time.LoadLocation(s); err != nil {
		return "must be an IANA time zone such as Europe/Amsterdam"
	}
	return ""
}

// clockRE is the RegularHours period format (mod_locations "RegularHours
// class"): 24 h, leading zeros.
var clockRE = regexp.MustCompile(`^([0-1][0-9]|2[0-3]):[0-5][0-9]$`)

// RegularHours is one weekday period of opening hours, in local time.
type RegularHours struct {
	Weekday     int
	PeriodBegin string
	PeriodEnd   string
}

// Period is an exceptional opening or closing, in UTC.
type Period struct {
	Begin, End time.Time
}

// Hours is the opening-hours structure (mod_locations "Hours class").
type Hours struct {
	TwentyFourSeven     bool
	Regular             []RegularHours
	ExceptionalOpenings []Period
	ExceptionalClosings []Period
}

// Problem is a rule violation at a path relative to the checked value.
type Problem struct {
	Path    string
	Message string
}

// CheckHours applies mod_locations "Hours class": regular hours only (and
// at least one) when not 24/7; weekdays 1–7; periods HH:MM with the end
// later than the begin; exceptional periods ending after they begin.
func CheckHours(h Hours) []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{path, fmt.Sprintf(format, args...)})
	}
	if h.TwentyFourSeven && len(h.Regular) > 0 {
		add("regular_hours", "must be empty when twentyfourseven is true")
	}
	if !h.TwentyFourSeven && len(h.Regular) == 0 {
		add("regular_hours", "needs at least one period when twentyfourseven is false")
	}
	for i, r := range h.Regular {
		p := fmt.Sprintf("regular_hours[%d]", i)
		if r.Weekday < 1 || r.Weekday > 7 {
			add(p+".weekday", "must be 1 (Monday) to 7 (Sunday)")
		}
		okB, okE := clockRE.MatchString(r.PeriodBegin), clockRE.MatchString(r.PeriodEnd)
		if !okB {
			add(p+".period_begin", "must be HH:MM (24 h, leading zeros)")
		}
		if !okE {
			add(p+".period_end", "must be HH:MM (24 h, leading zeros)")
		}
		// Zero-padded HH:MM compares correctly as a string.
		if okB && okE && r.PeriodEnd <= r.PeriodBegin {
			add(p+".period_end", "must be later than period_begin")
		}
	}
	for _, set := range []struct {
		name string
		ps   []Period
	}{{"exceptional_openings", h.ExceptionalOpenings}, {"exceptional_closings", h.ExceptionalClosings}} {
		for i, e := range set.ps {
			if !e.End.After(e.Begin) {
				add(fmt.Sprintf("%s[%d].period_end", set.name, i), "must be later than period_begin")
			}
		}
	}
	return ps
}

// PublishToken is one PublishTokenType (mod_locations "PublishTokenType
// class").
type PublishToken struct {
	UID, Type, VisualNumber, Issuer, GroupID string
}

// CheckPublishTokens applies mod_locations "PublishTokenType class" and
// "Location Object": publish_allowed_to only when publish is false; each
// entry sets uid, visual_number or group_id; uid needs type; visual_number
// needs issuer.
func CheckPublishTokens(publish bool, ts []PublishToken) []Problem {
	var ps []Problem
	if publish && len(ts) > 0 {
		ps = append(ps, Problem{"publish_allowed_to", "may only be set when publish is false"})
	}
	for i, t := range ts {
		p := fmt.Sprintf("publish_allowed_to[%d]", i)
		if t.UID == "" && t.VisualNumber == "" && t.GroupID == "" {
			ps = append(ps, Problem{p, "needs at least one of uid, visual_number, group_id"})
		}
		if t.UID != "" && t.Type == "" {
			ps = append(ps, Problem{p + ".type", "is required when uid is set"})
		}
		if t.VisualNumber != "" && t.Issuer == "" {
			ps = append(ps, Problem{p + ".issuer", "is required when visual_number is set"})
		}
	}
	return ps
}

// EqualID compares OCPI identifiers (location id, EVSE uid, connector id):
// CiStrings compare case-insensitively and keep their original casing.
func EqualID(a, b string) bool { return strings.EqualFold(a, b) }

// KeyOf is the stored lookup form of an OCPI identifier (upper case), so a
// unique index makes "LOC1" and "loc1" the same record.
func KeyOf(id string) string { return strings.ToUpper(id) }
