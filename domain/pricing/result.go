package pricing

import (
	"time"

	"github.com/shopspring/decimal"
)

// Amount is a cost excluding and including VAT.
type Amount struct {
	ExclVAT decimal.Decimal
	InclVAT decimal.Decimal
}

// Add returns a + b.
func (a Amount) Add(b Amount) Amount {
	return Amount{ExclVAT: a.ExclVAT.Add(b.ExclVAT), InclVAT: a.InclVAT.Add(b.InclVAT)}
}

// Equal reports whether both amounts are numerically equal.
func (a Amount) Equal(b Amount) bool {
	return a.ExclVAT.Equal(b.ExclVAT) && a.InclVAT.Equal(b.InclVAT)
}

// Result is a priced session: the OCPI CDR totals (mod_cdrs "CDR Object")
// and the breakdown they are the sums of.
type Result struct {
	TariffID string
	Currency string

	// TotalCost is the sum of every line plus the min/max price adjustments.
	TotalCost Amount
	// TotalFixedCost: FLAT fees, except reservation fees.
	TotalFixedCost Amount
	// TotalEnergy is the energy charged (kWh), TotalEnergyCost its cost.
	TotalEnergy     decimal.Decimal
	TotalEnergyCost Amount
	// TotalTime is the session duration (end - start) in hours, charging and
	// not charging; TotalTimeCost the cost of charging time (TIME).
	TotalTime     decimal.Decimal
	TotalTimeCost Amount
	// TotalParkingTime is the PARKING_TIME volume in hours, TotalParkingCost its cost.
	TotalParkingTime decimal.Decimal
	TotalParkingCost Amount
	// TotalReservationCost: reservation time and reservation fees.
	TotalReservationCost Amount

	// Parts are the charging periods after splitting, in time order.
	Parts []Part
	// Steps records each step_size rounding considered (at most one per group).
	Steps []Step
	// Adjustments are min_price/max_price corrections of TotalCost.
	Adjustments []Adjustment
	// Warnings are facts a reviewer should know (tariff not valid at the
	// session start, periods before the session start, ...).
	Warnings []string
}

// Part is a charging period, or the piece of one between two instants at
// which a restriction may change (see "Period splitting" in the package
// documentation). Volumes holds the part's volumes; Volumes.Start is the
// part's start.
type Part struct {
	// Period is the index of the source charging period.
	Period int
	// Split is true when the source period was divided into several parts.
	Split   bool
	Volumes Period
	End     time.Time
	// Local is the part's start in the location's time zone: the instant at
	// which restrictions are evaluated.
	Local time.Time
	// Elapsed is the session duration at the part's start.
	Elapsed time.Duration
	// EnergyBefore is the session energy (kWh) charged before the part.
	EnergyBefore decimal.Decimal
	// Lines price the part's volumes, one per dimension.
	Lines []Line

	elements []Element
}

// Line prices one dimension of one part.
type Line struct {
	Dimension Dimension
	// Reservation is true for reservation time and reservation fees.
	Reservation bool
	// Volume is what was consumed in the part (kWh, hours, 1 for FLAT).
	Volume decimal.Decimal
	// Billed is Volume plus the step_size rounding, when this line is the
	// last line of its group (see Step).
	Billed decimal.Decimal
	// Element and Component index the price component used (0-based, as in
	// the tariff's elements list); Element is -1 when no element matched and
	// the volume is free.
	Element   int
	Component int
	UnitPrice decimal.Decimal
	// VAT percentage of the component; nil when the component has none.
	VAT      *decimal.Decimal
	StepSize int64
	// Amount is Billed × UnitPrice, and including VAT when VAT is set.
	Amount Amount
}

// Step is one application of step_size (mod_cdrs "step_size"): the total
// volume of Dimension billed in the session, rounded up to StepSize units
// (Wh or seconds) of the component of the last line, which is Parts[Part].Lines[Line].
type Step struct {
	Dimension   Dimension
	Reservation bool
	StepSize    int64
	Total       decimal.Decimal
	Billed      decimal.Decimal
	Part        int
	Line        int
}

// Adjustment is a correction of the session total by min_price or max_price.
type Adjustment struct {
	// Reason is "min_price" or "max_price".
	Reason string
	Amount Amount
}

// LinesTotal returns the sum of all lines and adjustments, which equals TotalCost.
func (r *Result) LinesTotal() Amount {
	var sum Amount
	for i := range r.Parts {
		for j := range r.Parts[i].Lines {
			sum = sum.Add(r.Parts[i].Lines[j].Amount)
		}
	}
	for _, a := range r.Adjustments {
		sum = sum.Add(a.Amount)
	}
	return sum
}
