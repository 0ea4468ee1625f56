package ocpi

import (
	"fmt"
	"strings"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/pricing"
)

// TariffType is an OCPI TariffType (mod_tariffs "TariffType enum").
type TariffType string

// The tariff types.
const (
	TariffTypeAdHocPayment TariffType = "AD_HOC_PAYMENT"
	TariffTypeProfileCheap TariffType = "PROFILE_CHEAP"
	TariffTypeProfileFast  TariffType = "PROFILE_FAST"
	TariffTypeProfileGreen TariffType = "PROFILE_GREEN"
	TariffTypeRegular      TariffType = "REGULAR"
)

// TariffDimensionType is what a price component prices (mod_tariffs
// "TariffDimensionType enum").
type TariffDimensionType string

// The tariff dimension types.
const (
	TariffDimensionEnergy      TariffDimensionType = "ENERGY"
	TariffDimensionFlat        TariffDimensionType = "FLAT"
	TariffDimensionParkingTime TariffDimensionType = "PARKING_TIME"
	TariffDimensionTime        TariffDimensionType = "TIME"
)

// DayOfWeek is an OCPI DayOfWeek (mod_tariffs "DayOfWeek enum").
type DayOfWeek string

// ReservationRestrictionType marks reservation elements (mod_tariffs
// "ReservationRestrictionType enum").
type ReservationRestrictionType string

// The reservation restriction types.
const (
	ReservationRestrictionReservation        ReservationRestrictionType = "RESERVATION"
	ReservationRestrictionReservationExpires ReservationRestrictionType = "RESERVATION_EXPIRES"
)

// Tariff is the OCPI 2.2.1 Tariff object (mod_tariffs "Tariff Object").
type Tariff struct {
	CountryCode   string          `json:"country_code"`
	PartyID       string          `json:"party_id"`
	ID            string          `json:"id"`
	Currency      string          `json:"currency"`
	Type          TariffType      `json:"type,omitempty"`
	TariffAltText []DisplayText   `json:"tariff_alt_text,omitempty"`
	TariffAltURL  string          `json:"tariff_alt_url,omitempty"`
	MinPrice      *Price          `json:"min_price,omitempty"`
	MaxPrice      *Price          `json:"max_price,omitempty"`
	Elements      []TariffElement `json:"elements"`
	StartDateTime *DateTime       `json:"start_date_time,omitempty"`
	EndDateTime   *DateTime       `json:"end_date_time,omitempty"`
	EnergyMix     *EnergyMix      `json:"energy_mix,omitempty"`
	LastUpdated   DateTime        `json:"last_updated"`
}

// TariffElement is a group of price components sharing restrictions
// (mod_tariffs "TariffElement class").
type TariffElement struct {
	PriceComponents []PriceComponent    `json:"price_components"`
	Restrictions    *TariffRestrictions `json:"restrictions,omitempty"`
}

// PriceComponent prices one dimension (mod_tariffs "PriceComponent class").
type PriceComponent struct {
	Type     TariffDimensionType `json:"type"`
	Price    Number              `json:"price"`
	VAT      *Number             `json:"vat,omitempty"`
	StepSize int64               `json:"step_size"`
}

// TariffRestrictions says when an element applies (mod_tariffs
// "TariffRestrictions class").
type TariffRestrictions struct {
	StartTime   string                     `json:"start_time,omitempty"`
	EndTime     string                     `json:"end_time,omitempty"`
	StartDate   string                     `json:"start_date,omitempty"`
	EndDate     string                     `json:"end_date,omitempty"`
	MinKWh      *Number                    `json:"min_kwh,omitempty"`
	MaxKWh      *Number                    `json:"max_kwh,omitempty"`
	MinCurrent  *Number                    `json:"min_current,omitempty"`
	MaxCurrent  *Number                    `json:"max_current,omitempty"`
	MinPower    *Number                    `json:"min_power,omitempty"`
	MaxPower    *Number                    `json:"max_power,omitempty"`
	MinDuration *int64                     `json:"min_duration,omitempty"`
	MaxDuration *int64                     `json:"max_duration,omitempty"`
	DayOfWeek   []DayOfWeek                `json:"day_of_week,omitempty"`
	Reservation ReservationRestrictionType `json:"reservation,omitempty"`
}

// ToPricing maps the tariff to the pricing engine's domain type. It checks
// what pricing depends on (elements, dimensions, restriction formats) and
// returns a fault.KindInvalid error listing every problem with its JSON path.
func (t Tariff) ToPricing() (pricing.Tariff, error) {
	var fs fault.Fields
	out := pricing.Tariff{ID: t.ID, Currency: t.Currency}
	out.MinPrice = priceLimit(t.MinPrice)
	out.MaxPrice = priceLimit(t.MaxPrice)
	if t.StartDateTime != nil {
		v := t.StartDateTime.Time
		out.StartDateTime = &v
	}
	if t.EndDateTime != nil {
		v := t.EndDateTime.Time
		out.EndDateTime = &v
	}
	if len(t.Elements) == 0 {
		fs.Add("elements", "at least one tariff element is required")
	}
	out.Elements = make([]pricing.Element, len(t.Elements))
	for i, e := range t.Elements {
		path := fmt.Sprintf("elements[%d]", i)
		if len(e.PriceComponents) == 0 {
			fs.Add(path+".price_components", "at least one price component is required")
		}
		el := pricing.Element{Components: make([]pricing.Component, len(e.PriceComponents))}
		for j, c := range e.PriceComponents {
			d := pricing.Dimension(c.Type)
			if !d.Valid() {
				fs.Add(fmt.Sprintf("%s.price_components[%d].type", path, j), "unknown tariff dimension %q", c.Type)
			}
			el.Components[j] = pricing.Component{Type: d, Price: c.Price.Decimal, VAT: c.VAT.Dec(), StepSize: c.StepSize}
		}
		if e.Restrictions != nil {
			el.Restrictions = e.Restrictions.toPricing(path+".restrictions", &fs)
		}
		out.Elements[i] = el
	}
	if err := fs.Err(); err != nil {
		return pricing.Tariff{}, err
	}
	return out, nil
}

func priceLimit(p *Price) *pricing.PriceLimit {
	if p == nil {
		return nil
	}
	return &pricing.PriceLimit{ExclVAT: p.ExclVAT.Decimal, InclVAT: p.InclVAT.Dec()}
}

func (r *TariffRestrictions) toPricing(path string, fs *fault.Fields) *pricing.Restrictions {
	out := &pricing.Restrictions{
		MinKWh: r.MinKWh.Dec(), MaxKWh: r.MaxKWh.Dec(),
		MinCurrent: r.MinCurrent.Dec(), MaxCurrent: r.MaxCurrent.Dec(),
		MinPower: r.MinPower.Dec(), MaxPower: r.MaxPower.Dec(),
		MinDuration: r.MinDuration, MaxDuration: r.MaxDuration,
	}
	clock := func(field, s string) *pricing.Clock {
		if s == "" {
			return nil
		}
		c, err := pricing.ParseClock(s)
		if err != nil {
			fs.Add(path+"."+field, "%v", err)
			return nil
		}
		return &c
	}
	date := func(field, s string) *pricing.Date {
		if s == "" {
			return nil
		}
		d, err := pricing.ParseDate(s)
		if err != nil {
			fs.Add(path+"."+field, "%v", err)
			return nil
		}
		return &d
	}
	out.StartTime = clock("start_time", r.StartTime)
	out.EndTime = clock("end_time", r.EndTime)
	out.StartDate = date("start_date", r.StartDate)
	out.EndDate = date("end_date", r.EndDate)
	for i, d := range r.DayOfWeek {
		wd, err := pricing.ParseWeekday(string(d))
		if err != nil || strings.ToUpper(string(d)) != string(d) {
			fs.Add(fmt.Sprintf("%s.day_of_week[%d]", path, i), "unknown day of week %q", d)
			continue
		}
		out.DaysOfWeek = append(out.DaysOfWeek, wd)
	}
	switch r.Reservation {
	case "":
	case ReservationRestrictionReservation:
		out.Reservation = pricing.ReservationActive
	case ReservationRestrictionReservationExpires:
		out.Reservation = pricing.ReservationExpires
	default:
		fs.Add(path+".reservation", "unknown reservation restriction %q", r.Reservation)
	}
	for _, v := range []struct {
		name string
		n    *Number
	}{{"min_kwh", r.MinKWh}, {"max_kwh", r.MaxKWh}, {"min_current", r.MinCurrent}, {"max_current", r.MaxCurrent}, {"min_power", r.MinPower}, {"max_power", r.MaxPower}} {
		if v.n != nil && v.n.Decimal.Sign() < 0 {
			fs.Add(path+"."+v.name, "must not be negative")
		}
	}
	for _, v := range []struct {
		name string
		n    *int64
	}{{"min_duration", r.MinDuration}, {"max_duration", r.MaxDuration}} {
		if v.n != nil && *v.n < 0 {
			fs.Add(path+"."+v.name, "must not be negative")
		}
	}
	return out
}
