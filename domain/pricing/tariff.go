package pricing

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Dimension is an OCPI TariffDimensionType (mod_tariffs "TariffDimensionType
// enum"): what a price component prices.
type Dimension string

// The tariff dimensions of OCPI 2.2.1.
const (
	// Energy is priced per kWh; step_size multiplier 1 Wh.
	Energy Dimension = "ENERGY"
	// Flat is a fixed fee per session; it has no step_size unit.
	Flat Dimension = "FLAT"
	// ParkingTime is time not charging, priced per hour; step_size multiplier 1 second.
	ParkingTime Dimension = "PARKING_TIME"
	// Time is time charging (or, in a reservation element, reservation
	// time), priced per hour; step_size multiplier 1 second.
	Time Dimension = "TIME"
)

// Valid reports whether d is one of the four OCPI 2.2.1 dimensions.
func (d Dimension) Valid() bool {
	switch d {
	case Energy, Flat, ParkingTime, Time:
		return true
	}
	return false
}

// Reservation is an OCPI ReservationRestrictionType (mod_tariffs
// "ReservationRestrictionType enum"); the zero value means the element is not
// a reservation element.
type Reservation string

// The reservation restriction values.
const (
	// NoReservation marks an ordinary (charging) element.
	NoReservation Reservation = ""
	// ReservationActive prices a reservation.
	ReservationActive Reservation = "RESERVATION"
	// ReservationExpires prices a reservation that expired without a
	// charging session.
	ReservationExpires Reservation = "RESERVATION_EXPIRES"
)

// PriceLimit is an amount excluding VAT and, when known, including VAT (OCPI
// types "Price class"). InclVAT is nil when not given.
type PriceLimit struct {
	ExclVAT decimal.Decimal
	InclVAT *decimal.Decimal
}

// Tariff is an OCPI 2.2.1 tariff reduced to what pricing needs.
type Tariff struct {
	// ID and Currency identify the tariff in explanations and results.
	ID       string
	Currency string
	// Elements are evaluated in order; see the package documentation.
	Elements []Element
	// MinPrice and MaxPrice bound the session total (nil when not set).
	MinPrice *PriceLimit
	MaxPrice *PriceLimit
	// StartDateTime and EndDateTime bound the tariff's validity (UTC); a
	// session outside them is priced anyway and a warning is returned.
	StartDateTime *time.Time
	EndDateTime   *time.Time
}

// Element is an OCPI TariffElement: price components sharing restrictions.
type Element struct {
	Components []Component
	// Restrictions is nil when the element applies unconditionally.
	Restrictions *Restrictions
}

// Component is an OCPI PriceComponent (mod_tariffs "PriceComponent class").
type Component struct {
	Type Dimension
	// Price per unit excluding VAT: per kWh, per hour, or per session (FLAT).
	Price decimal.Decimal
	// VAT is the VAT percentage; nil means "no VAT applicable", which is
	// different from 0%.
	VAT *decimal.Decimal
	// StepSize in Wh (ENERGY) or seconds (TIME, PARKING_TIME); ignored for
	// FLAT. Values below 1 mean no rounding.
	StepSize int64
}

// Clock is a local time of day in minutes after midnight (0..1439), the
// OCPI "HH:MM" restriction format.
type Clock int

// ParseClock parses an OCPI start_time/end_time ("([0-1][0-9]|2[0-3]):[0-5][0-9]").
func ParseClock(s string) (Clock, error) {
	if len(s) != 5 || s[2] != ':' || !digits(s[:2]) || !digits(s[3:]) {
		return 0, fmt.Errorf("time of day %q is not HH:MM", s)
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("time of day %q is out of range", s)
	}
	return Clock(h*60 + m), nil
}

// String renders the clock as HH:MM.
func (c Clock) String() string {
	return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60)
}

// Date is a local calendar date (OCPI start_date/end_date, "YYYY-MM-DD").
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses an OCPI start_date/end_date.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil || len(s) != 10 {
		return Date{}, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

// String renders the date as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// cmp orders dates.
func (d Date) cmp(o Date) int {
	switch {
	case d.Year != o.Year:
		return sign(d.Year - o.Year)
	case d.Month != o.Month:
		return sign(int(d.Month) - int(o.Month))
	default:
		return sign(d.Day - o.Day)
	}
}

// ParseWeekday parses an OCPI DayOfWeek value (MONDAY … SUNDAY).
func ParseWeekday(s string) (time.Weekday, error) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(s, d.String()) {
			return d, nil
		}
	}
	return 0, fmt.Errorf("day of week %q is not MONDAY…SUNDAY", s)
}

// Restrictions is an OCPI TariffRestrictions object. Nil pointers and an
// empty DaysOfWeek mean "not restricted". All set restrictions must match
// (mod_tariffs "TariffRestrictions class": "treated as a logical AND").
type Restrictions struct {
	// StartTime (inclusive) and EndTime (exclusive) in local time; EndTime
	// before StartTime wraps past midnight; EndTime 00:00 is end of day.
	StartTime *Clock
	EndTime   *Clock
	// StartDate (inclusive) and EndDate (exclusive), local dates.
	StartDate *Date
	EndDate   *Date
	// MinKWh (inclusive) and MaxKWh (exclusive): energy used so far in the session.
	MinKWh *decimal.Decimal
	MaxKWh *decimal.Decimal
	// MinCurrent (inclusive) and MaxCurrent (exclusive), amperes summed over phases.
	MinCurrent *decimal.Decimal
	MaxCurrent *decimal.Decimal
	// MinPower (inclusive) and MaxPower (exclusive), kW.
	MinPower *decimal.Decimal
	MaxPower *decimal.Decimal
	// MinDuration (inclusive) and MaxDuration (exclusive), seconds since the
	// session started.
	MinDuration *int64
	MaxDuration *int64
	// DaysOfWeek lists the local week days the element is active on.
	DaysOfWeek []time.Weekday
	// Reservation marks a reservation element.
	Reservation Reservation
}

// empty reports whether no restriction other than reservation is set.
func (r *Restrictions) empty() bool {
	return r == nil || (r.StartTime == nil && r.EndTime == nil && r.StartDate == nil && r.EndDate == nil &&
		r.MinKWh == nil && r.MaxKWh == nil && r.MinCurrent == nil && r.MaxCurrent == nil &&
		r.MinPower == nil && r.MaxPower == nil && r.MinDuration == nil && r.MaxDuration == nil &&
		len(r.DaysOfWeek) == 0)
}

// reservation returns the element's reservation kind.
func (e *Element) reservation() Reservation {
	if e.Restrictions == nil {
		return NoReservation
	}
	return e.Restrictions.Reservation
}

// component returns the index of the element's first component of
// dimension d, or -1. (Only one component per dimension can be active, so a
// second one of the same dimension in the same element is never used; Lint
// reports it.)
func (e *Element) component(d Dimension) int {
	for i := range e.Components {
		if e.Components[i].Type == d {
			return i
		}
	}
	return -1
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func sign(i int) int {
	switch {
	case i < 0:
		return -1
	case i > 0:
		return 1
	}
	return 0
}
