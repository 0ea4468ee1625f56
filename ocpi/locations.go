package ocpi

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-playground/validator/v10"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/location"
)

// Wire types of the Locations module (mod_locations, OCPI 2.2.1). Field
// tags carry the structural rules (required, lengths, closed enums);
// Check adds the rules that span fields or need parsing (coordinates, time
// zone, opening hours, publish tokens, unique EVSE and connector ids), so
// ocpi.Decode followed by Check is the full validation of a pushed object.
//
// Open enums (ConnectorType, Capability, Facility, ParkingType,
// ParkingRestriction) are plain CiStrings: the official OpenAPI marks them
// open, so a value added by a later version must not be refused.

// Location is the OCPI 2.2.1 Location object (mod_locations "Location Object").
type Location struct {
	CountryCode        string                  `json:"country_code" validate:"required,ocpi_country"`
	PartyID            string                  `json:"party_id" validate:"required,ocpi_party"`
	ID                 string                  `json:"id" validate:"required,max=36,cistring"`
	Publish            bool                    `json:"publish"`
	PublishAllowedTo   []PublishTokenType      `json:"publish_allowed_to,omitempty" validate:"dive"`
	Name               string                  `json:"name,omitempty" validate:"max=255,ocpi_string"`
	Address            string                  `json:"address" validate:"required,max=255,ocpi_string"`
	City               string                  `json:"city" validate:"required,max=45,ocpi_string"`
	PostalCode         string                  `json:"postal_code,omitempty" validate:"max=10,ocpi_string"`
	State              string                  `json:"state,omitempty" validate:"max=45,ocpi_string"`
	Country            string                  `json:"country" validate:"required,len=3,ocpi_string"`
	Coordinates        GeoLocation             `json:"coordinates"`
	RelatedLocations   []AdditionalGeoLocation `json:"related_locations,omitempty" validate:"dive"`
	ParkingType        string                  `json:"parking_type,omitempty" validate:"max=255,cistring"`
	EVSEs              []EVSE                  `json:"evses,omitempty" validate:"dive"`
	Directions         []DisplayText           `json:"directions,omitempty"`
	Operator           *BusinessDetails        `json:"operator,omitempty"`
	Suboperator        *BusinessDetails        `json:"suboperator,omitempty"`
	Owner              *BusinessDetails        `json:"owner,omitempty"`
	Facilities         []string                `json:"facilities,omitempty" validate:"dive,max=255,cistring"`
	TimeZone           string                  `json:"time_zone" validate:"required,max=255"`
	OpeningTimes       *Hours                  `json:"opening_times,omitempty"`
	ChargingWhenClosed *bool                   `json:"charging_when_closed,omitempty"`
	Images             []Image                 `json:"images,omitempty" validate:"dive"`
	EnergyMix          *EnergyMix              `json:"energy_mix,omitempty"`
	LastUpdated        DateTime                `json:"last_updated"`
}

// EVSE is the OCPI 2.2.1 EVSE object (mod_locations "EVSE Object").
type EVSE struct {
	UID                 string           `json:"uid" validate:"required,max=36,cistring"`
	EvseID              string           `json:"evse_id,omitempty" validate:"max=48,cistring"`
	Status              string           `json:"status" validate:"required,oneof=AVAILABLE BLOCKED CHARGING INOPERATIVE OUTOFORDER PLANNED REMOVED RESERVED UNKNOWN"`
	StatusSchedule      []StatusSchedule `json:"status_schedule,omitempty" validate:"dive"`
	Capabilities        []string         `json:"capabilities,omitempty" validate:"dive,max=255,cistring"`
	Connectors          []Connector      `json:"connectors" validate:"required,min=1,dive"`
	FloorLevel          string           `json:"floor_level,omitempty" validate:"max=4,ocpi_string"`
	Coordinates         *GeoLocation     `json:"coordinates,omitempty"`
	PhysicalReference   string           `json:"physical_reference,omitempty" validate:"max=16,ocpi_string"`
	Directions          []DisplayText    `json:"directions,omitempty"`
	ParkingRestrictions []string         `json:"parking_restrictions,omitempty" validate:"dive,max=255,cistring"`
	Images              []Image          `json:"images,omitempty" validate:"dive"`
	LastUpdated         DateTime         `json:"last_updated"`
}

// Connector is the OCPI 2.2.1 Connector object (mod_locations "Connector Object").
type Connector struct {
	ID                 string   `json:"id" validate:"required,max=36,cistring"`
	Standard           string   `json:"standard" validate:"required,max=255,cistring"`
	Format             string   `json:"format" validate:"required,oneof=SOCKET CABLE"`
	PowerType          string   `json:"power_type" validate:"required,oneof=AC_1_PHASE AC_2_PHASE AC_2_PHASE_SPLIT AC_3_PHASE DC"`
	MaxVoltage         int      `json:"max_voltage" validate:"min=0"`
	MaxAmperage        int      `json:"max_amperage" validate:"min=0"`
	MaxElectricPower   *int     `json:"max_electric_power,omitempty" validate:"omitempty,min=0"`
	TariffIDs          []string `json:"tariff_ids,omitempty" validate:"dive,max=36,cistring"`
	TermsAndConditions string   `json:"terms_and_conditions,omitempty" validate:"omitempty,max=255,ocpi_url"`
	LastUpdated        DateTime `json:"last_updated"`
}

// PublishTokenType names tokens a non-published Location may be shown to
// (mod_locations "PublishTokenType class").
type PublishTokenType struct {
	UID          string `json:"uid,omitempty" validate:"max=36,cistring"`
	Type         string `json:"type,omitempty" validate:"max=255,cistring"`
	VisualNumber string `json:"visual_number,omitempty" validate:"max=64,ocpi_string"`
	Issuer       string `json:"issuer,omitempty" validate:"max=64,ocpi_string"`
	GroupID      string `json:"group_id,omitempty" validate:"max=36,cistring"`
}

// AdditionalGeoLocation is a related point (mod_locations
// "AdditionalGeoLocation class").
type AdditionalGeoLocation struct {
	Latitude  string       `json:"latitude"`
	Longitude string       `json:"longitude"`
	Name      *DisplayText `json:"name,omitempty"`
}

// Hours are opening times (mod_locations "Hours class").
type Hours struct {
	TwentyFourSeven     bool                `json:"twentyfourseven"`
	RegularHours        []RegularHours      `json:"regular_hours,omitempty"`
	ExceptionalOpenings []ExceptionalPeriod `json:"exceptional_openings,omitempty"`
	ExceptionalClosings []ExceptionalPeriod `json:"exceptional_closings,omitempty"`
}

// RegularHours is one weekday period (mod_locations "RegularHours class").
type RegularHours struct {
	Weekday     int    `json:"weekday"`
	PeriodBegin string `json:"period_begin"`
	PeriodEnd   string `json:"period_end"`
}

// ExceptionalPeriod is an exceptional opening or closing (mod_locations
// "ExceptionalPeriod class").
type ExceptionalPeriod struct {
	PeriodBegin DateTime `json:"period_begin"`
	PeriodEnd   DateTime `json:"period_end"`
}

// StatusSchedule is a planned status (mod_locations "StatusSchedule class").
type StatusSchedule struct {
	PeriodBegin DateTime  `json:"period_begin"`
	PeriodEnd   *DateTime `json:"period_end,omitempty"`
	Status      string    `json:"status" validate:"required,oneof=AVAILABLE BLOCKED CHARGING INOPERATIVE OUTOFORDER PLANNED REMOVED RESERVED UNKNOWN"`
}

// Check applies the Location rules that field tags cannot express and
// returns a fault.KindInvalid error naming every problem by JSON path (nil
// when none). Call it after Decode (or Validate).
func (l *Location) Check() error {
	var fs fault.Fields
	l.check("", &fs)
	return fs.Err()
}

func (l *Location) check(prefix string, fs *fault.Fields) {
	checkGeo(prefix+"coordinates", l.Coordinates, fs)
	if l.LastUpdated.IsZero() {
		fs.Add(prefix+"last_updated", "is required")
	}
	if msg := location.CheckTimeZone(l.TimeZone); msg != "" {
		fs.Add(prefix+"time_zone", "%s", msg)
	}
	for i, r := range l.RelatedLocations {
		p := fmt.Sprintf("%srelated_locations[%d]", prefix, i)
		checkGeo(p, GeoLocation{Latitude: r.Latitude, Longitude: r.Longitude}, fs)
	}
	pts := make([]location.PublishToken, len(l.PublishAllowedTo))
	for i, t := range l.PublishAllowedTo {
		pts[i] = location.PublishToken{UID: t.UID, Type: t.Type, VisualNumber: t.VisualNumber, Issuer: t.Issuer, GroupID: t.GroupID}
	}
	addProblems(prefix, location.CheckPublishTokens(l.Publish, pts), fs)
	if l.OpeningTimes != nil {
		addProblems(prefix+"opening_times.", location.CheckHours(l.OpeningTimes.Domain()), fs)
	}
	if l.EnergyMix != nil {
		for i, s := range l.EnergyMix.EnergySources {
			if !location.OneOf(s.Source, location.EnergySourceCategories) {
				fs.Add(fmt.Sprintf("%senergy_mix.energy_sources[%d].source", prefix, i), "must be one of %s", strings.Join(location.EnergySourceCategories, ", "))
			}
		}
	}
	seen := map[string]int{}
	for i := range l.EVSEs {
		p := fmt.Sprintf("%sevses[%d]", prefix, i)
		if j, dup := seen[location.KeyOf(l.EVSEs[i].UID)]; dup {
			fs.Add(p+".uid", "duplicates evses[%d].uid", j)
		} else {
			seen[location.KeyOf(l.EVSEs[i].UID)] = i
		}
		l.EVSEs[i].check(p+".", fs)
	}
}

// Check applies the EVSE rules that field tags cannot express (see
// Location.Check).
func (e *EVSE) Check() error {
	var fs fault.Fields
	e.check("", &fs)
	return fs.Err()
}

func (e *EVSE) check(prefix string, fs *fault.Fields) {
	if e.Coordinates != nil {
		checkGeo(prefix+"coordinates", *e.Coordinates, fs)
	}
	if e.LastUpdated.IsZero() {
		fs.Add(prefix+"last_updated", "is required")
	}
	for i, s := range e.StatusSchedule {
		if s.PeriodBegin.IsZero() {
			fs.Add(fmt.Sprintf("%sstatus_schedule[%d].period_begin", prefix, i), "is required")
		}
	}
	seen := map[string]int{}
	for i := range e.Connectors {
		p := fmt.Sprintf("%sconnectors[%d]", prefix, i)
		if j, dup := seen[location.KeyOf(e.Connectors[i].ID)]; dup {
			fs.Add(p+".id", "duplicates connectors[%d].id", j)
		} else {
			seen[location.KeyOf(e.Connectors[i].ID)] = i
		}
		e.Connectors[i].check(p+".", fs)
	}
}

// Check applies the Connector rules that field tags cannot express.
func (c *Connector) Check() error {
	var fs fault.Fields
	c.check("", &fs)
	return fs.Err()
}

func (c *Connector) check(prefix string, fs *fault.Fields) {
	if c.LastUpdated.IsZero() {
		fs.Add(prefix+"last_updated", "is required")
	}
}

// Domain converts the wire opening hours to the domain form.
func (h Hours) Domain() location.Hours {
	out := location.Hours{TwentyFourSeven: h.TwentyFourSeven}
	for _, r := range h.RegularHours {
		out.Regular = append(out.Regular, location.RegularHours{Weekday: r.Weekday, PeriodBegin: r.PeriodBegin, PeriodEnd: r.PeriodEnd})
	}
	for _, p := range h.ExceptionalOpenings {
		out.ExceptionalOpenings = append(out.ExceptionalOpenings, location.Period{Begin: p.PeriodBegin.Time, End: p.PeriodEnd.Time})
	}
	for _, p := range h.ExceptionalClosings {
		out.ExceptionalClosings = append(out.ExceptionalClosings, location.Period{Begin: p.PeriodBegin.Time, End: p.PeriodEnd.Time})
	}
	return out
}

func checkGeo(path string, g GeoLocation, fs *fault.Fields) {
	if msg := location.CheckLatitude(g.Latitude); msg != "" {
		fs.Add(path+".latitude", "%s", msg)
	}
	if msg := location.CheckLongitude(g.Longitude); msg != "" {
		fs.Add(path+".longitude", "%s", msg)
	}
}

func addProblems(prefix string, ps []location.Problem, fs *fault.Fields) {
	for _, p := range ps {
		fs.Add(prefix+p.Path, "%s", p.Message)
	}
}

// Problems validates v (a struct or a pointer to one) against its validate
// tags like Validate, but returns a fault.KindInvalid error with one field
// per violation, prefixed with prefix, for surfaces that report field
// paths (the Admin API) rather than an OCPI status message.
func Problems(v any, prefix string) error {
	err := Validator().Struct(v)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return err
	}
	var fs fault.Fields
	for _, fe := range ves {
		p := fieldPath(fe)
		if p == "body" {
			p = ""
		}
		fs.Add(strings.TrimSuffix(prefix+p, "."), "%s", violation(fe))
	}
	return fs.Err()
}
