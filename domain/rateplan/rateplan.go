// Package rateplan holds the rules of MSP pricing (issue 6 → MSP pricing;
// guide 003 → Rate plan, Subscription plan, Charge Sessions, Charge
// credits): a rate plan in one currency with its rates (energy per kWh,
// time per hour or minute, parking time, a flat fee per session, each with
// a step size and a minimum and maximum, or the CPO's tariff passed
// through with a markup) and its rate rules, sorted from most specific to
// most generic, the first matching one choosing the rate; and the pricing
// of a charge session with the chosen rate, the OCPI tariff engine
// (domain/pricing) doing the arithmetic, VAT (domain/vat) per component.
//
// The package decides; it does not load. Pricer implements session.Pricer
// for the MSP side on top of a Loader (db.MSPPricingLoader) that gathers
// the facts; Compute is the pure rule, also used for quotes.
package rateplan

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/iso"
	"github.com/roamnode/roamnode/domain/network"
	"github.com/roamnode/roamnode/domain/pricing"
	"github.com/roamnode/roamnode/domain/vat"
)

// Plan is a rate plan: "tied to a specific currency and can be shared
// across multiple administrations, as long as these administrations use
// the same currency" (guide 003 → Rate plan). Sharing is the store's
// concern (an owner administration and the ones it is shared with); the
// pricing rules need the rates and rules.
type Plan struct {
	ID       uuid.UUID `json:"-"`
	Currency string    `json:"-"`
	Rates    []Rate    `json:"rates"`
	Rules    []Rule    `json:"rules"`
}

// Dimension is what a rate component prices.
type Dimension string

// The rate component dimensions (guide 003 → Rate plan → Rates: "energy
// consumption (kWh), charging time (minutes), or flat fees per session";
// parking time as in OCPI mod_tariffs PARKING_TIME).
const (
	Energy      Dimension = "energy"
	Time        Dimension = "time"
	ParkingTime Dimension = "parking_time"
	Flat        Dimension = "flat"
)

// Unit is the unit a component's price is per.
type Unit string

// The price units: energy per kWh, time and parking time per hour or per
// minute, a flat fee per session.
const (
	PerKWh     Unit = "kwh"
	PerHour    Unit = "hour"
	PerMinute  Unit = "minute"
	PerSession Unit = "session"
)

// CreditShortfall says what happens when a subscription's charge credit
// does not cover a component (guide 003 → Charge credits: "Each
// component also specifies how credits are applied when the customer's
// credit balance is insufficient to cover the full session").
type CreditShortfall string

// The shortfall policies.
const (
	// ChargeRemainder: the credit covers what it can, the customer pays
	// the rest.
	ChargeRemainder CreditShortfall = "charge_remainder"
	// ChargeInFull: the credit is used only when it covers the whole
	// component; otherwise the component is charged and the credit kept.
	ChargeInFull CreditShortfall = "charge_in_full"
)

// Credits says whether charge credits pay for a component ("Some
// components, like parking fees, can be excluded from credit usage") and
// what happens when they fall short. Stored now; consumed by the charge
// credits capability per component of the pricing result.
type Credits struct {
	Apply     bool            `json:"apply"`
	Shortfall CreditShortfall `json:"shortfall,omitempty"`
}

// Component is one priced dimension of a rate. Price is excluding VAT per
// Unit. StepSize follows OCPI (mod_tariffs PriceComponent.step_size): Wh
// for energy, seconds for time and parking time, the session's total
// volume rounded up to a multiple of it. MinPrice and MaxPrice bound the
// component's subtotal (excluding VAT) when the component was used.
type Component struct {
	Type     Dimension        `json:"type"`
	Price    decimal.Decimal  `json:"price"`
	Unit     Unit             `json:"unit"`
	StepSize int64            `json:"step_size"`
	MinPrice *decimal.Decimal `json:"min_price"`
	MaxPrice *decimal.Decimal `json:"max_price"`
	Credits  Credits          `json:"credits"`
}

// PassThrough prices a session with the CPO's own tariff (issue 6: "A rate
// can also pass the CPO's tariff through with a markup"): every component
// of the CPO's price is raised by MarkupPercentage percent, and
// MarkupFixed (excluding VAT, per session) is added as its own component.
type PassThrough struct {
	MarkupPercentage decimal.Decimal `json:"markup_percentage"`
	MarkupFixed      decimal.Decimal `json:"markup_fixed"`
	Credits          Credits         `json:"credits"`
}

// Rate is a named price setup that rules choose: components, or a pass
// through, and optionally a minimum and maximum price per session
// (excluding VAT).
type Rate struct {
	Code        string           `json:"code"`
	Name        string           `json:"name,omitempty"`
	Components  []Component      `json:"components"`
	PassThrough *PassThrough     `json:"pass_through"`
	MinPrice    *decimal.Decimal `json:"min_price"`
	MaxPrice    *decimal.Decimal `json:"max_price"`
}

// TimeWindow restricts a rule to sessions starting within local days and
// hours: Days (MONDAY…SUNDAY, empty = every day) and Start (inclusive) to
// End (exclusive) as "HH:MM" in the location's time zone; End before
// Start wraps past midnight, End "00:00" is the end of the day (as OCPI
// tariff restrictions read them).
type TimeWindow struct {
	Days  []string `json:"days"`
	Start string   `json:"start"`
	End   string   `json:"end"`
}

// Rule chooses Rate for the sessions matching all its set criteria: the
// roaming partner the CDR came from, the CPO party (country code and party
// id, "NL-TNM"), the location's country, the OCPI location id (of that
// CPO party), the EVSE id, the connector's power types, and a local time
// window of the session start.
type Rule struct {
	Rate       string      `json:"rate"`
	PartnerID  *uuid.UUID  `json:"partner_id"`
	CPOParty   string      `json:"cpo_party"`
	Country    string      `json:"country"`
	LocationID string      `json:"location_id"`
	EVSEID     string      `json:"evse_id"`
	PowerTypes []string    `json:"power_types"`
	TimeWindow *TimeWindow `json:"time_window"`
}

// MarshalJSON renders criteria that are not set as null (and no power
// types as an empty list), the form the Admin API shows.
func (r Rule) MarshalJSON() ([]byte, error) {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	pts := r.PowerTypes
	if pts == nil {
		pts = []string{}
	}
	return json.Marshal(struct {
		Rate       string      `json:"rate"`
		PartnerID  *uuid.UUID  `json:"partner_id"`
		CPOParty   *string     `json:"cpo_party"`
		Country    *string     `json:"country"`
		LocationID *string     `json:"location_id"`
		EVSEID     *string     `json:"evse_id"`
		PowerTypes []string    `json:"power_types"`
		TimeWindow *TimeWindow `json:"time_window"`
	}{r.Rate, r.PartnerID, opt(r.CPOParty), opt(r.Country), opt(r.LocationID), opt(r.EVSEID), pts, r.TimeWindow})
}

// powerTypes are the OCPI PowerType values (mod_locations "PowerType enum").
var powerTypes = []string{"AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"}

// Specificity orders rules "from most specific to most generic" (guide 003
// → Rate plan → Rate Rules): first by the narrowest place criterion (EVSE,
// then location, then CPO party, then roaming partner, then country, then
// none), then by how many criteria are set; rules equal on both keep the
// order they were given in.
func (r Rule) Specificity() (place, criteria int) {
	switch {
	case r.EVSEID != "":
		place = 5
	case r.LocationID != "":
		place = 4
	case r.CPOParty != "":
		place = 3
	case r.PartnerID != nil:
		place = 2
	case r.Country != "":
		place = 1
	}
	for _, set := range []bool{r.EVSEID != "", r.LocationID != "", r.CPOParty != "", r.PartnerID != nil, r.Country != "",
		len(r.PowerTypes) > 0, r.TimeWindow != nil} {
		if set {
			criteria++
		}
	}
	return place, criteria
}

// Ordered returns the rules sorted most specific first (Specificity),
// stable: the order rules are evaluated and shown in.
func Ordered(rules []Rule) []Rule {
	out := append([]Rule(nil), rules...)
	sort.SliceStable(out, func(i, j int) bool {
		pi, ci := out[i].Specificity()
		pj, cj := out[j].Specificity()
		if pi != pj {
			return pi > pj
		}
		return ci > cj
	})
	return out
}

// Facts are what rules match on, taken from a charge session (or a quote).
type Facts struct {
	PartnerID *uuid.UUID
	// CPOCountry and CPOParty are the CDR's country_code and party_id.
	CPOCountry, CPOParty string
	// Country is the location's country, alpha-2 or alpha-3.
	Country    string
	LocationID string
	// EVSEID is the EVSE id (or, without one, the EVSE uid).
	EVSEID    string
	PowerType string
	// LocalStart is the session start in the location's time zone.
	LocalStart time.Time
}

// Matches reports whether every criterion set on r holds for f.
func (r Rule) Matches(f Facts) bool {
	if r.PartnerID != nil && (f.PartnerID == nil || *f.PartnerID != *r.PartnerID) {
		return false
	}
	if r.CPOParty != "" && partyKey(r.CPOParty) != partyKey(f.CPOCountry+f.CPOParty) {
		return false
	}
	if r.Country != "" {
		a, _ := vat.CountryAlpha2(r.Country)
		b, ok := vat.CountryAlpha2(f.Country)
		if !ok || a != b {
			return false
		}
	}
	if r.LocationID != "" && !strings.EqualFold(r.LocationID, f.LocationID) {
		return false
	}
	if r.EVSEID != "" && network.EVSEIDKey(r.EVSEID) != network.EVSEIDKey(f.EVSEID) {
		return false
	}
	if len(r.PowerTypes) > 0 && !containsFold(r.PowerTypes, f.PowerType) {
		return false
	}
	if w := r.TimeWindow; w != nil && !w.contains(f.LocalStart) {
		return false
	}
	return true
}

// Select returns the first rule of the ordered rules that matches f, its
// index in Ordered(rules), and the rate it names; ok is false when no rule
// matches.
func (p Plan) Select(f Facts) (idx int, rule Rule, rate Rate, ok bool) {
	for i, r := range Ordered(p.Rules) {
		if r.Matches(f) {
			for _, rt := range p.Rates {
				if rt.Code == r.Rate {
					return i, r, rt, true
				}
			}
		}
	}
	return -1, Rule{}, Rate{}, false
}

// contains reports whether local t falls in the window.
func (w TimeWindow) contains(t time.Time) bool {
	if len(w.Days) > 0 && !containsFold(w.Days, t.Weekday().String()) {
		return false
	}
	if w.Start == "" && w.End == "" {
		return true
	}
	start, _ := pricing.ParseClock(orDefault(w.Start, "00:00"))
	end, _ := pricing.ParseClock(orDefault(w.End, "00:00"))
	m := pricing.Clock(t.Hour()*60 + t.Minute())
	switch {
	case end == 0: // 00:00 is the end of the day
		return m >= start
	case end > start:
		return m >= start && m < end
	case end < start: // past midnight
		return m >= start || m < end
	}
	return true // start == end: the whole day
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func partyKey(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// Validate checks a rate plan and reports every problem with its field
// path (rates[0].components[1].price, rules[2].rate, …).
func (p Plan) Validate() error {
	var fs fault.Fields
	if !iso.Currency(p.Currency) {
		fs.Add("currency", "must be an ISO 4217 currency code")
	}
	codes := map[string]bool{}
	for i, r := range p.Rates {
		path := fmt.Sprintf("rates[%d].", i)
		switch {
		case strings.TrimSpace(r.Code) == "":
			fs.Add(path+"code", "is required")
		case codes[r.Code]:
			fs.Add(path+"code", "%q is the code of an earlier rate", r.Code)
		}
		codes[r.Code] = true
		if r.PassThrough == nil && len(r.Components) == 0 {
			fs.Add(path+"components", "a rate needs components or pass_through")
		}
		if r.PassThrough != nil && len(r.Components) > 0 {
			fs.Add(path+"pass_through", "a pass-through rate prices with the CPO's tariff and has no components")
		}
		seen := map[Dimension]bool{}
		for j, c := range r.Components {
			c.validate(&fs, fmt.Sprintf("%scomponents[%d].", path, j))
			if seen[c.Type] {
				fs.Add(fmt.Sprintf("%scomponents[%d].type", path, j), "the rate already prices %s", c.Type)
			}
			seen[c.Type] = true
		}
		if pt := r.PassThrough; pt != nil {
			if pt.MarkupPercentage.LessThan(decimal.NewFromInt(-100)) {
				fs.Add(path+"pass_through.markup_percentage", "must not be below -100")
			}
			validateCredits(&fs, path+"pass_through.credits.", pt.Credits)
		}
		bounds(&fs, path, r.MinPrice, r.MaxPrice)
	}
	if len(p.Rules) == 0 {
		fs.Add("rules", "a rate plan needs at least one rule")
	}
	for i, r := range p.Rules {
		path := fmt.Sprintf("rules[%d].", i)
		if r.Rate == "" {
			fs.Add(path+"rate", "is required")
		} else if !codes[r.Rate] {
			fs.Add(path+"rate", "no rate has code %q", r.Rate)
		}
		if r.CPOParty != "" && len(partyKey(r.CPOParty)) != 5 {
			fs.Add(path+"cpo_party", "must be a country code and party id such as NL-TNM")
		}
		if r.Country != "" {
			if _, ok := vat.CountryAlpha2(r.Country); !ok {
				fs.Add(path+"country", "must be an ISO 3166-1 alpha-2 or alpha-3 country code")
			}
		}
		if r.LocationID != "" && r.CPOParty == "" {
			fs.Add(path+"cpo_party", "is required with location_id (location ids are unique per CPO party)")
		}
		for j, pt := range r.PowerTypes {
			if !containsFold(powerTypes, pt) {
				fs.Add(fmt.Sprintf("%spower_types[%d]", path, j), "must be one of %s", strings.Join(powerTypes, ", "))
			}
		}
		if w := r.TimeWindow; w != nil {
			for j, d := range w.Days {
				if _, err := pricing.ParseWeekday(d); err != nil {
					fs.Add(fmt.Sprintf("%stime_window.days[%d]", path, j), "must be MONDAY … SUNDAY")
				}
			}
			for name, v := range map[string]string{"start": w.Start, "end": w.End} {
				if v != "" {
					if _, err := pricing.ParseClock(v); err != nil {
						fs.Add(path+"time_window."+name, "must be HH:MM")
					}
				}
			}
		}
	}
	return fs.Err()
}

func (c Component) validate(fs *fault.Fields, path string) {
	units := map[Dimension][]Unit{Energy: {PerKWh}, Time: {PerHour, PerMinute}, ParkingTime: {PerHour, PerMinute}, Flat: {PerSession}}
	us, ok := units[c.Type]
	if !ok {
		fs.Add(path+"type", "must be energy, time, parking_time or flat")
	} else {
		okUnit := false
		for _, u := range us {
			okUnit = okUnit || u == c.Unit
		}
		if !okUnit {
			names := make([]string, len(us))
			for i, u := range us {
				names[i] = string(u)
			}
			fs.Add(path+"unit", "a %s price is per %s", c.Type, strings.Join(names, " or "))
		}
	}
	if c.Price.IsNegative() {
		fs.Add(path+"price", "must not be negative")
	}
	if c.StepSize < 0 {
		fs.Add(path+"step_size", "must not be negative")
	}
	if c.Type == Flat && c.StepSize > 0 {
		fs.Add(path+"step_size", "a flat fee has no step size")
	}
	bounds(fs, path, c.MinPrice, c.MaxPrice)
	validateCredits(fs, path+"credits.", c.Credits)
}

func validateCredits(fs *fault.Fields, path string, c Credits) {
	switch c.Shortfall {
	case "", ChargeRemainder, ChargeInFull:
	default:
		fs.Add(path+"shortfall", "must be charge_remainder or charge_in_full")
	}
	if c.Apply && c.Shortfall == "" {
		fs.Add(path+"shortfall", "is required when credits apply")
	}
}

func bounds(fs *fault.Fields, path string, min, max *decimal.Decimal) {
	if min != nil && min.IsNegative() {
		fs.Add(path+"min_price", "must not be negative")
	}
	if max != nil && max.IsNegative() {
		fs.Add(path+"max_price", "must not be negative")
	}
	if min != nil && max != nil && min.GreaterThan(*max) {
		fs.Add(path+"min_price", "must not be above max_price")
	}
}
