package pricing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The worked examples of mod_tariffs ("Examples" under the Tariff object,
// the step_size examples under PriceComponent, the restriction examples)
// and mod_cdrs ("step_size"), with the numbers the specification gives.

var (
	energy025    = el(nil, pc(Energy, "0.25", "10.0", 1))
	start050     = pc(Flat, "0.50", "20.0", 1)
	weekdays     = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	complexTarif = Tariff{ID: "14", Currency: "EUR", Elements: []Element{
		el(nil, pc(Flat, "2.50", "15.0", 1)),
		el(&Restrictions{MaxCurrent: dp("32.00")}, pc(Time, "1.00", "20.0", 900)),
		el(&Restrictions{MinCurrent: dp("32.00"), DaysOfWeek: weekdays}, pc(Time, "2.00", "20.0", 600)),
		el(&Restrictions{MinCurrent: dp("32.00"), DaysOfWeek: []time.Weekday{time.Saturday, time.Sunday}}, pc(Time, "1.25", "20.0", 600)),
		el(&Restrictions{StartTime: clk("09:00"), EndTime: clk("18:00"), DaysOfWeek: weekdays}, pc(ParkingTime, "5.00", "10.0", 300)),
		el(&Restrictions{StartTime: clk("10:00"), EndTime: clk("17:00"), DaysOfWeek: []time.Weekday{time.Saturday}}, pc(ParkingTime, "6.00", "10.0", 300)),
	}}
	// tariff_14_step_size.json
	stepTariff = Tariff{ID: "22", Currency: "EUR", Elements: []Element{
		el(&Restrictions{StartTime: clk("00:00"), EndTime: clk("17:00")}, pc(Time, "1.20", "", 1800), pc(ParkingTime, "1.00", "", 900)),
		el(&Restrictions{StartTime: clk("17:00"), EndTime: clk("20:00")}, pc(Time, "2.40", "", 900), pc(ParkingTime, "1.00", "", 900)),
		el(&Restrictions{StartTime: clk("20:00"), EndTime: clk("00:00")}, pc(Time, "2.40", "", 900)),
	}}
)

func TestSimpleEnergy(t *testing.T) {
	// "€ 5.00 (excl. VAT) or € 5.50 (incl. VAT) when 20 kWh are charged."
	r := price(t, Tariff{Elements: []Element{energy025}}, session("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z",
		period("2024-03-01T10:00:00Z", "ENERGY", "20")), nil)
	requireAmount(t, "total", "5.00", "5.50", r.TotalCost)
	// "115.2 Wh ... billed for 116 Wh, resulting in total cost of € 0.029"
	r = price(t, Tariff{Elements: []Element{energy025}}, session("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z",
		period("2024-03-01T10:00:00Z", "ENERGY", "0.1152")), nil)
	requireAmount(t, "total", "0.029", "0.0319", r.TotalCost)
	for step, want := range map[int64]string{25: "0.03125", 500: "0.125"} {
		tf := Tariff{Elements: []Element{el(nil, pc(Energy, "0.25", "", step))}}
		r = price(t, tf, session("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z", period("2024-03-01T10:00:00Z", "ENERGY", "0.1152")), nil)
		requireAmount(t, "step", want, want, r.TotalCost)
	}
}

func TestStartFee(t *testing.T) {
	tf := Tariff{Elements: []Element{el(nil, start050, pc(Energy, "0.25", "10.0", 1))}}
	r := price(t, tf, session("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z",
		period("2024-03-01T10:00:00Z", "ENERGY", "10"), period("2024-03-01T10:30:00Z", "ENERGY", "10")), nil)
	requireAmount(t, "total", "5.50", "6.10", r.TotalCost)
	requireAmount(t, "fixed", "0.50", "0.60", r.TotalFixedCost)
}

func TestMinPrice(t *testing.T) {
	tf := Tariff{Elements: []Element{energy025}, MinPrice: &PriceLimit{ExclVAT: d("0.50"), InclVAT: dp("0.55")}}
	r := price(t, tf, session("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z", period("2024-03-01T10:00:00Z", "ENERGY", "20")), nil)
	requireAmount(t, "20 kWh", "5.00", "5.50", r.TotalCost)
	require.Empty(t, r.Adjustments)
	r = price(t, tf, session("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z", period("2024-03-01T10:00:00Z", "ENERGY", "1.2")), nil)
	requireAmount(t, "1.2 kWh", "0.50", "0.55", r.TotalCost)
	requireAmount(t, "energy", "0.30", "0.33", r.TotalEnergyCost)
	require.Len(t, r.Adjustments, 1)
	requireAmount(t, "adjustment", "0.20", "0.22", r.Adjustments[0].Amount)
}

func TestParkingAndStartFee(t *testing.T) {
	tf := Tariff{Elements: []Element{el(nil, start050, pc(Energy, "0.25", "10.0", 1)), el(nil, pc(ParkingTime, "2.00", "20.0", 900))}}
	r := price(t, tf, session("2024-03-01T10:00:00Z", "2024-03-01T11:40:00Z",
		period("2024-03-01T10:00:00Z", "ENERGY", "20", "TIME", "1"), period("2024-03-01T11:00:00Z", "PARKING_TIME", "0.6666666666666667")), nil)
	// "€ 7.00 (excl. VAT) or € 7.90 (incl. VAT) ... pay for 45 minutes of parking"
	requireAmount(t, "total", "7.00", "7.90", r.TotalCost)
	requireAmount(t, "parking", "1.50", "1.80", r.TotalParkingCost)
}

func TestMaxPrice(t *testing.T) {
	tf := Tariff{Elements: []Element{el(nil, start050, pc(Energy, "0.25", "10.0", 1))},
		MaxPrice: &PriceLimit{ExclVAT: d("10.00"), InclVAT: dp("11.00")}}
	s := func(kwh string) Session {
		return session("2019-06-01T10:00:00Z", "2019-06-01T14:00:00Z", period("2019-06-01T10:00:00Z", "ENERGY", kwh))
	}
	r := price(t, tf, s("50"), nil)
	requireAmount(t, "50 kWh", "10.00", "11.00", r.TotalCost)
	requireAmount(t, "energy stays unadjusted", "12.50", "13.75", r.TotalEnergyCost)
	r = price(t, tf, s("30"), nil)
	requireAmount(t, "30 kWh", "8.00", "8.85", r.TotalCost)
}

func TestTimeTariffs(t *testing.T) {
	// € 2 per hour, 2.5 hours → € 5.00 / 5.50.
	tf := Tariff{Elements: []Element{el(nil, pc(Time, "2.00", "10.0", 60))}}
	r := price(t, tf, session("2024-03-01T10:00:00Z", "2024-03-01T12:30:00Z", period("2024-03-01T10:00:00Z", "TIME", "2.5")), nil)
	requireAmount(t, "2h", "5.00", "5.50", r.TotalCost)

	// € 3 per hour charging, € 5 per hour parking billed per 5 minutes:
	// 150 + 42 minutes → € 11.25 / 12.75.
	tf = Tariff{Elements: []Element{el(nil, pc(Time, "3.00", "10.0", 60)), el(nil, pc(ParkingTime, "5.00", "20.0", 300))}}
	r = price(t, tf, session("2024-03-01T10:00:00Z", "2024-03-01T13:12:00Z",
		period("2024-03-01T10:00:00Z", "TIME", "2.5"), period("2024-03-01T12:30:00Z", "PARKING_TIME", "0.7")), nil)
	requireAmount(t, "3h5p", "11.25", "12.75", r.TotalCost)

	// Ad-hoc € 1.90/h, 5.2% VAT, per 5 minutes, 2.5 hours: € 4.75 excl.;
	// the spec's "€ 5.00 incl." is 4.997 rounded to cents.
	tf = Tariff{Elements: []Element{el(nil, pc(Time, "1.90", "5.2", 300))}}
	r = price(t, tf, session("2024-03-01T10:00:00Z", "2024-03-01T12:30:00Z", period("2024-03-01T10:00:00Z", "TIME", "2.5")), nil)
	requireAmount(t, "alt text", "4.75", "4.997", r.TotalCost)

	// mod_cdrs example CDR: 1.973 h at € 2.00/h per 5 minutes → 2 h → € 4.00 / 4.40.
	tf = Tariff{Elements: []Element{el(nil, pc(Time, "2.00", "10.0", 300))}}
	r = price(t, tf, session("2015-06-29T21:39:09Z", "2015-06-29T23:37:32Z", period("2015-06-29T21:39:09Z", "TIME", "1.973")), nil)
	requireAmount(t, "cdr example", "4.00", "4.40", r.TotalCost)
}

func TestAltURLExample(t *testing.T) {
	// 20.45 kWh billed per 100 Wh → 20.5 kWh: flat 0.50/0.60, energy
	// 5.125/5.6375 (the spec's table shows these rounded: 5.13 and 5.64).
	tf := Tariff{Elements: []Element{el(nil, start050, pc(Energy, "0.25", "10.0", 100))}}
	r := price(t, tf, session("2024-03-01T10:00:00Z", "2024-03-01T12:00:00Z", period("2024-03-01T10:00:00Z", "ENERGY", "20.45")), nil)
	requireAmount(t, "energy", "5.125", "5.6375", r.TotalEnergyCost)
	requireAmount(t, "total", "5.625", "6.2375", r.TotalCost)
	require.Equal(t, "20.5", r.Parts[0].Lines[1].Billed.String())
}

func TestComplexExample(t *testing.T) {
	// Monday 09:30, 165 minutes charging at max 16 A, 42 minutes parking:
	// € 9.00 excl. / € 10.30 incl.
	r := price(t, complexTarif, session("2024-01-15T09:30:00Z", "2024-01-15T12:57:00Z",
		period("2024-01-15T09:30:00Z", "TIME", "2.75", "MIN_CURRENT", "10", "MAX_CURRENT", "16"),
		period("2024-01-15T12:15:00Z", "PARKING_TIME", "0.7")), time.UTC)
	requireAmount(t, "monday", "9.00", "10.30", r.TotalCost)
	requireAmount(t, "monday time", "2.75", "3.30", r.TotalTimeCost)
	requireAmount(t, "monday parking", "3.75", "4.125", r.TotalParkingCost)

	// Saturday 13:30, 114 minutes at 43 A, 71 minutes parking. The spec's
	// table bills the charging time "114 minutes | 1.25 per hour | 2.28",
	// but 1.9 h × 1.25 = 2.375 (2.28 is 1.9 × 1.20), so its € 12.28 total
	// is an arithmetic slip; the parking line (75 minutes, 7.50) and the
	// element choice are as the spec says.
	r = price(t, complexTarif, session("2024-01-13T13:30:00Z", "2024-01-13T16:35:00Z",
		period("2024-01-13T13:30:00Z", "TIME", "1.9", "MIN_CURRENT", "43", "MAX_CURRENT", "43"),
		period("2024-01-13T15:24:00Z", "PARKING_TIME", "1.1833333333333333")), time.UTC)
	requireAmount(t, "saturday time", "2.375", "2.85", r.TotalTimeCost)
	requireAmount(t, "saturday parking", "7.50", "8.25", r.TotalParkingCost)
	requireAmount(t, "saturday", "12.375", "13.975", r.TotalCost)
	require.Equal(t, 3, r.Parts[0].Lines[1].Element)
}

func TestFreeOfCharge(t *testing.T) {
	tf := Tariff{Elements: []Element{el(nil, pc(Flat, "0.00", "", 0))}}
	r := price(t, tf, session("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z", period("2024-03-01T10:00:00Z", "ENERGY", "20", "TIME", "1")), nil)
	requireAmount(t, "free", "0", "0", r.TotalCost)
}

func TestReservationExamples(t *testing.T) {
	res := func(kind Reservation) *Restrictions { return &Restrictions{Reservation: kind} }
	charge := el(nil, start050, pc(Energy, "0.25", "10.0", 1))
	used := func(resMinutes string) Session {
		return session("2024-03-01T10:00:00Z", "2024-03-01T12:00:00Z",
			period("2024-03-01T10:00:00Z", "RESERVATION_TIME", resMinutes),
			period("2024-03-01T11:00:00Z", "ENERGY", "20", "TIME", "1"))
	}
	fix := func(s Session, start string) Session { s.Periods[1].Start = at(start); return s }

	// Example 15: 15 minutes reservation at € 5/h → € 6.75 / 7.60.
	tf := Tariff{Elements: []Element{el(res(ReservationActive), pc(Time, "5.00", "20.0", 60)), charge}}
	r := price(t, tf, fix(used("0.25"), "2024-03-01T10:15:00Z"), nil)
	requireAmount(t, "ex15", "6.75", "7.60", r.TotalCost)
	requireAmount(t, "ex15 reservation", "1.25", "1.50", r.TotalReservationCost)

	// Example 16: € 2 fee + € 5/h per 5 minutes, 13 minutes → 15 → € 8.75 / 10.00.
	tf = Tariff{Elements: []Element{el(res(ReservationActive), pc(Flat, "2.00", "20.0", 1), pc(Time, "5.00", "20.0", 300)), charge}}
	r = price(t, tf, fix(used("0.2166666666666667"), "2024-03-01T10:13:00Z"), nil)
	requireAmount(t, "ex16", "8.75", "10.00", r.TotalCost)
	requireAmount(t, "ex16 fixed", "0.50", "0.60", r.TotalFixedCost)
	requireAmount(t, "ex16 reservation", "3.25", "3.90", r.TotalReservationCost)

	// Example 17: expire fee € 4, € 2/h per 10 minutes.
	tf = Tariff{Elements: []Element{
		el(res(ReservationExpires), pc(Flat, "4.00", "20.0", 1)),
		el(res(ReservationActive), pc(Time, "2.00", "20.0", 600)), charge}}
	r = price(t, tf, fix(used("0.3666666666666667"), "2024-03-01T10:22:00Z"), nil)
	requireAmount(t, "ex17 used", "6.50", "7.30", r.TotalCost)
	expired := session("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z", period("2024-03-01T10:00:00Z", "RESERVATION_TIME", "1"))
	r = price(t, tf, expired, nil)
	requireAmount(t, "ex17 expired", "6.00", "7.20", r.TotalCost)
	requireAmount(t, "ex17 expired fixed", "0", "0", r.TotalFixedCost)

	// Example 18: € 3/h reserved, € 6/h when expired, per 10 minutes.
	tf = Tariff{Elements: []Element{
		el(res(ReservationExpires), pc(Time, "6.00", "20.0", 600)),
		el(res(ReservationActive), pc(Time, "3.00", "20.0", 600)), charge}}
	r = price(t, tf, fix(used("0.3666666666666667"), "2024-03-01T10:22:00Z"), nil)
	requireAmount(t, "ex18 used", "7.00", "7.90", r.TotalCost)
	expired = session("2024-03-01T10:00:00Z", "2024-03-01T11:30:00Z", period("2024-03-01T10:00:00Z", "RESERVATION_TIME", "1.5"))
	r = price(t, tf, expired, nil)
	requireAmount(t, "ex18 expired", "9.00", "10.80", r.TotalCost)

	// The note below ReservationRestrictionType: with RESERVATION listed
	// first, an expired reservation still uses RESERVATION_EXPIRES's TIME.
	tf.Elements[0], tf.Elements[1] = tf.Elements[1], tf.Elements[0]
	r = price(t, tf, expired, nil)
	requireAmount(t, "ex18 expired, reordered", "9.00", "10.80", r.TotalCost)
}

func TestMaxPowerExample(t *testing.T) {
	tf := Tariff{Elements: []Element{
		el(&Restrictions{MaxPower: dp("16.00")}, pc(Energy, "0.20", "", 1)),
		el(&Restrictions{MaxPower: dp("32.00")}, pc(Energy, "0.35", "", 1)),
		el(nil, pc(Energy, "0.50", "", 1)),
	}}
	r := price(t, tf, session("2024-03-01T10:00:00Z", "2024-03-01T11:30:00Z",
		period("2024-03-01T10:00:00Z", "ENERGY", "1", "MAX_POWER", "6"),
		period("2024-03-01T10:10:00Z", "ENERGY", "40", "MAX_POWER", "48"),
		period("2024-03-01T11:00:00Z", "ENERGY", "0.5", "MAX_POWER", "4")), nil)
	requireAmount(t, "max power", "20.30", "20.30", r.TotalCost)
}

var maxDuration = Tariff{Elements: []Element{
	el(&Restrictions{MaxDuration: i64(1800)}, pc(Energy, "0.00", "20.0", 1)),
	el(&Restrictions{MaxDuration: i64(3600)}, pc(Energy, "0.25", "20.0", 1)),
	el(nil, pc(Energy, "0.40", "20.0", 1)),
}}

func TestMaxDurationExample(t *testing.T) {
	// 5 kWh in the first 30 minutes, 1.2 kWh in the next 10 → € 0.30.
	r := price(t, maxDuration, session("2024-03-01T10:00:00Z", "2024-03-01T10:40:00Z",
		period("2024-03-01T10:00:00Z", "ENERGY", "5"), period("2024-03-01T10:30:00Z", "ENERGY", "1.2")), nil)
	requireAmount(t, "max duration", "0.30", "0.36", r.TotalCost)

	// The same session reported as one period is split at 30 minutes, with
	// the energy divided in proportion to time: 4.65 kWh free, 1.55 at 0.25.
	r = price(t, maxDuration, session("2024-03-01T10:00:00Z", "2024-03-01T10:40:00Z",
		period("2024-03-01T10:00:00Z", "ENERGY", "6.2")), nil)
	require.Len(t, r.Parts, 2)
	require.Equal(t, "4.65", r.Parts[0].Volumes.Energy.String())
	require.Equal(t, "1.55", r.Parts[1].Volumes.Energy.String())
	requireAmount(t, "split", "0.3875", "0.465", r.TotalCost)
}

func TestStepSizeTariffExamples(t *testing.T) {
	// #1: plug in 16:55, charge 10 minutes, park 2 → € 0.55 (one TIME
	// period spanning 17:00 is split there).
	r := price(t, stepTariff, session("2024-03-01T16:55:00Z", "2024-03-01T17:07:00Z",
		period("2024-03-01T16:55:00Z", "TIME", "0.1666666666666667"),
		period("2024-03-01T17:05:00Z", "PARKING_TIME", "0.0333333333333333")), time.UTC)
	requireAmount(t, "#1", "0.55", "0.55", r.TotalCost)
	requireAmount(t, "#1 parking", "0.25", "0.25", r.TotalParkingCost)

	// #2: 16:35, 35 minutes charging → 45 minutes: 25 at 1.20, 20 at 2.40 → € 1.30.
	r = price(t, stepTariff, session("2024-03-01T16:35:00Z", "2024-03-01T17:10:00Z",
		period("2024-03-01T16:35:00Z", "TIME", "0.5833333333333333")), time.UTC)
	require.Len(t, r.Parts, 2)
	requireAmount(t, "#2", "1.30", "1.30", r.TotalCost)

	// #3: 19:40, 12 minutes charging, 20 minutes parking; parking is free
	// after 20:00 and the 8 billable minutes are rounded to 15 → € 0.73.
	r = price(t, stepTariff, session("2024-03-01T19:40:00Z", "2024-03-01T20:12:00Z",
		period("2024-03-01T19:40:00Z", "TIME", "0.2"),
		period("2024-03-01T19:52:00Z", "PARKING_TIME", "0.3333333333333333")), time.UTC)
	requireAmount(t, "#3", "0.73", "0.73", r.TotalCost)
	last := r.Parts[len(r.Parts)-1]
	require.Equal(t, -1, last.Lines[0].Element, "parking after 20:00 has no component")
}

func TestCDRStepSizeExamples(t *testing.T) {
	// mod_cdrs "step_size": 4.3 kWh at 0.20 before 17:00 and 1.1 kWh at
	// 0.27 after, both per 500 Wh: 5.4 → 5.5 kWh, 1.2 kWh billed after 17:00.
	tf := Tariff{Elements: []Element{
		el(&Restrictions{EndTime: clk("17:00")}, pc(Energy, "0.20", "", 500)),
		el(nil, pc(Energy, "0.27", "", 500)),
	}}
	r := price(t, tf, session("2024-03-01T16:00:00Z", "2024-03-01T18:00:00Z",
		period("2024-03-01T16:00:00Z", "ENERGY", "4.3"), period("2024-03-01T17:00:00Z", "ENERGY", "1.1")), time.UTC)
	require.Equal(t, "1.2", r.Parts[1].Lines[0].Billed.String())
	requireAmount(t, "energy", "1.184", "1.184", r.TotalCost)

	// € 5/h before 17:00, € 7/h after, per 10 minutes: 6 + 22 → 30 minutes,
	// 24 billed after 17:00 (not 36 in total).
	tf = Tariff{Elements: []Element{
		el(&Restrictions{EndTime: clk("17:00")}, pc(Time, "5", "", 600)),
		el(nil, pc(Time, "7", "", 600)),
	}}
	r = price(t, tf, session("2024-03-01T16:54:00Z", "2024-03-01T17:22:00Z",
		period("2024-03-01T16:54:00Z", "TIME", "0.1"), period("2024-03-01T17:00:00Z", "TIME", "0.3666666666666667")), time.UTC)
	requireAmount(t, "time", "3.30", "3.30", r.TotalCost)

	// TIME € 1/h and PARKING_TIME € 2/h per 10 minutes: 21 minutes charging
	// (not rounded) and 16 parking → 20.
	tf = Tariff{Elements: []Element{el(nil, pc(Time, "1", "", 600), pc(ParkingTime, "2", "", 600))}}
	r = price(t, tf, session("2024-03-01T10:00:00Z", "2024-03-01T10:37:00Z",
		period("2024-03-01T10:00:00Z", "TIME", "0.35"), period("2024-03-01T10:21:00Z", "PARKING_TIME", "0.2666666666666667")), time.UTC)
	requireAmount(t, "time", "0.35", "0.35", r.TotalTimeCost)
	requireAmount(t, "parking", "0.6666666666666667", "0.6666666666666667", r.TotalParkingCost)
}

func TestWrapPastMidnightAndTimeZone(t *testing.T) {
	// Night energy 22:00–06:00 local at 0.20, otherwise 0.30.
	tf := Tariff{Elements: []Element{
		el(&Restrictions{StartTime: clk("22:00"), EndTime: clk("06:00")}, pc(Energy, "0.20", "", 1)),
		el(nil, pc(Energy, "0.30", "", 1)),
	}}
	s := session("2024-03-01T21:00:00Z", "2024-03-01T23:00:00Z", period("2024-03-01T21:00:00Z", "ENERGY", "10"))
	r := price(t, tf, s, time.UTC)
	requireAmount(t, "utc", "2.50", "2.50", r.TotalCost)
	// In Amsterdam (UTC+1 in March) the whole session is after 22:00 local.
	ams, err := time.LoadLocation("Europe/Amsterdam")
	require.NoError(t, err)
	r = price(t, tf, s, ams)
	requireAmount(t, "amsterdam", "2.00", "2.00", r.TotalCost)
	// 05:00–07:00 local crosses the end of the window.
	s = session("2024-03-02T04:00:00Z", "2024-03-02T06:00:00Z", period("2024-03-02T04:00:00Z", "ENERGY", "10"))
	r = price(t, tf, s, ams)
	requireAmount(t, "morning", "2.50", "2.50", r.TotalCost)
}

func TestDSTAndDayOfWeek(t *testing.T) {
	// Sunday energy is free; Europe/Amsterdam switches to summer time on
	// Sunday 2024-03-31. A session from Saturday 23:00 to Sunday 01:00 local
	// (22:00Z–23:00Z) is split at local midnight.
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	tf := Tariff{Elements: []Element{
		el(&Restrictions{DaysOfWeek: []time.Weekday{time.Sunday}}, pc(Energy, "0", "", 1)),
		el(nil, pc(Energy, "1", "", 1)),
	}}
	r := price(t, tf, session("2024-03-30T22:00:00Z", "2024-03-31T00:00:00Z", period("2024-03-30T22:00:00Z", "ENERGY", "4")), ams)
	requireAmount(t, "sunday", "2", "2", r.TotalCost)
	// Across the DST gap (01:00Z = 03:00 local): a 02:30 boundary does not
	// exist and normalises to 03:30 local.
	tf = Tariff{Elements: []Element{
		el(&Restrictions{StartTime: clk("02:30")}, pc(Energy, "1", "", 1)),
		el(nil, pc(Energy, "0", "", 1)),
	}}
	r = price(t, tf, session("2024-03-31T00:00:00Z", "2024-03-31T02:00:00Z", period("2024-03-31T00:00:00Z", "ENERGY", "4")), ams)
	requireAmount(t, "dst", "2", "2", r.TotalCost)
}

func TestKWhSplit(t *testing.T) {
	// first_hour_kwh_free style: the first kWh is free, then 0.20.
	tf := Tariff{Elements: []Element{
		el(&Restrictions{MaxKWh: dp("1.0")}, pc(Energy, "0.0", "", 1)),
		el(&Restrictions{MinKWh: dp("1.0")}, pc(Energy, "0.2", "", 1)),
	}}
	r := price(t, tf, session("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z", period("2024-03-01T10:00:00Z", "ENERGY", "3", "TIME", "1")), nil)
	require.Len(t, r.Parts, 2)
	require.Equal(t, "1", r.Parts[0].Volumes.Energy.String())
	require.Equal(t, "2", r.Parts[1].Volumes.Energy.String())
	require.Equal(t, at("2024-03-01T10:20:00Z"), r.Parts[1].Volumes.Start)
	requireAmount(t, "kwh", "0.4", "0.4", r.TotalCost)
	// A third of 3 kWh is exactly 1: the time split share is 1/3.
	require.True(t, r.Parts[0].Volumes.Time.Add(r.Parts[1].Volumes.Time).Equal(d("1")))
}

func TestWhy(t *testing.T) {
	r := price(t, stepTariff, session("2024-03-01T16:55:00Z", "2024-03-01T17:07:00Z",
		period("2024-03-01T16:55:00Z", "TIME", "0.1666666666666667"),
		period("2024-03-01T17:05:00Z", "PARKING_TIME", "0.0333333333333333")), time.UTC)
	p := &r.Parts[1]
	why := p.Why(&p.Lines[0])
	require.Contains(t, why, "elements[0] skipped")
	require.Contains(t, why, "elements[1] applies")
	require.Contains(t, why, "start_time 17:00, end_time 20:00 contains local time 2024-03-01 17:00:00")
}

func TestInvalidInput(t *testing.T) {
	_, err := Price(Tariff{}, session("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z"), nil)
	require.Error(t, err)
	_, err = Price(Tariff{Elements: []Element{energy025}}, session("2024-03-01T10:00:00Z", "2024-03-01T09:00:00Z"), nil)
	require.Error(t, err)
	_, err = Price(Tariff{Elements: []Element{energy025}}, session("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z",
		period("2024-03-01T10:30:00Z", "ENERGY", "1"), period("2024-03-01T10:00:00Z", "ENERGY", "1")), nil)
	require.Error(t, err)
}

func TestDSTRepeatedHour(t *testing.T) {
	// Europe/Amsterdam leaves summer time on 2024-10-27 at 01:00Z (03:00
	// CEST → 02:00 CET): local 02:00–03:00 happens twice. Energy before
	// 02:30 local costs 1, after 0; 4 kWh evenly over 00:00Z–02:00Z is
	// before 02:30 local during 00:00–00:30Z and 01:00–01:30Z: 2 kWh.
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	tf := Tariff{Elements: []Element{
		el(&Restrictions{EndTime: clk("02:30")}, pc(Energy, "1", "", 1)),
		el(nil, pc(Energy, "0", "", 1)),
	}}
	r := price(t, tf, session("2024-10-27T00:00:00Z", "2024-10-27T02:00:00Z", period("2024-10-27T00:00:00Z", "ENERGY", "4")), ams)
	requireAmount(t, "repeated hour", "2", "2", r.TotalCost)
}
