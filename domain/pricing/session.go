package pricing

import (
	"time"

	"github.com/shopspring/decimal"
)

// Session is what Price prices: the start and end of a charging session (a
// CDR's start_date_time and end_date_time) and its charging periods.
type Session struct {
	Start time.Time
	End   time.Time
	// Periods in chronological order; a period ends when the next one starts,
	// the last one when the session ends (mod_cdrs "ChargingPeriod class").
	Periods []Period
}

// Period is an OCPI ChargingPeriod with its CdrDimensions (mod_cdrs
// "CdrDimensionType enum"). A dimension that the CDR does not list is zero
// (additive volumes) or nil (current and power).
type Period struct {
	Start time.Time
	// Energy in kWh, Time (charging) ParkingTime and ReservationTime in hours.
	Energy          decimal.Decimal
	Time            decimal.Decimal
	ParkingTime     decimal.Decimal
	ReservationTime decimal.Decimal
	// MinCurrent and MaxCurrent (A, summed over phases), MinPower and
	// MaxPower (kW) reached during the period; nil when not reported.
	MinCurrent *decimal.Decimal
	MaxCurrent *decimal.Decimal
	MinPower   *decimal.Decimal
	MaxPower   *decimal.Decimal
}

// volume returns the additive volume of dimension d (reservation time is
// asked for with reservation=true and d=Time).
func (p *Period) volume(d Dimension, reservation bool) decimal.Decimal {
	if reservation {
		return p.ReservationTime
	}
	switch d {
	case Energy:
		return p.Energy
	case Time:
		return p.Time
	case ParkingTime:
		return p.ParkingTime
	}
	return decimal.Zero
}

// charging reports whether the period has any non-reservation volume.
func (p *Period) charging() bool {
	return !p.Energy.IsZero() || !p.Time.IsZero() || !p.ParkingTime.IsZero()
}
