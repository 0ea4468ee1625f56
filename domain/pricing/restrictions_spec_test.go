package pricing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Spec-value tests of single TariffRestrictions (OCPI 2.2.1 mod_tariffs
// "TariffRestrictions class"). Each expected total is computed by hand in
// the comments from the quoted sentences, never by the engine; elements
// are chosen "for every moment of the session and for every dimension
// separately" by "the first tariff element in the list ... whose
// restrictions all match" (mod_tariffs "Tariff Object").

// start_date: "Start date in local time, the time zone is defined in the
// time_zone field of the Location ... valid from this day (inclusive)".
// end_date: "End date in local time ... valid until this day (exclusive)".
func TestSpecStartDateEndDate(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	require.NoError(t, err)
	mar1, mar3 := Date{2024, time.March, 1}, Date{2024, time.March, 3}
	tf := Tariff{ID: "dates", Currency: "EUR", Elements: []Element{
		el(&Restrictions{StartDate: &mar1, EndDate: &mar3}, pc(Energy, "0.50", "10", 1)),
		el(nil, pc(Energy, "0.30", "10", 1)),
	}}
	// Amsterdam is UTC+1 in February and March (summer time starts on
	// 31 March 2024), so every period starts on a local day boundary or
	// one hour before one.
	r := price(t, tf, session("2024-02-29T22:00:00Z", "2024-03-03T00:00:00Z",
		// 29 Feb 23:00 local, before start_date: 1 kWh × 0.30 = 0.30
		period("2024-02-29T22:00:00Z", "ENERGY", "1"),
		// 1 Mar 00:00 local, start_date inclusive (until 2 Mar 23:00
		// local, all within the dates): 2 kWh × 0.50 = 1.00
		period("2024-02-29T23:00:00Z", "ENERGY", "2"),
		// 2 Mar 23:00 local, still before end_date: 4 kWh × 0.50 = 2.00
		period("2024-03-02T22:00:00Z", "ENERGY", "4"),
		// 3 Mar 00:00 local, end_date exclusive: 8 kWh × 0.30 = 2.40
		period("2024-03-02T23:00:00Z", "ENERGY", "8"),
	), ams)
	// 0.30 + 1.00 + 2.00 + 2.40 = 5.70 excl. VAT; 10 % VAT: 6.27.
	requireAmount(t, "total_cost", "5.70", "6.27", r.TotalCost)
	requireAmount(t, "total_energy_cost", "5.70", "6.27", r.TotalEnergyCost)
	require.True(t, r.TotalEnergy.Equal(d("15")), r.TotalEnergy.String())

	// A session entirely on end_date is not in the element's dates:
	// 3 Mar 10:00–11:00 local, 10 kWh × 0.30 = 3.00.
	r = price(t, tf, session("2024-03-03T09:00:00Z", "2024-03-03T10:00:00Z",
		period("2024-03-03T09:00:00Z", "ENERGY", "10")), ams)
	requireAmount(t, "total_cost on end_date", "3.00", "3.30", r.TotalCost)
}

// min_power: "Minimum power in kW, for example 5. When the EV is charging
// with more than, or equal to, the defined amount of power, this
// TariffElement is/becomes active. If the charging power is or becomes
// lower, this TariffElement is not or no longer valid and becomes
// inactive. This describes NOT the minimum power over the entire Charging
// Session." The power of a charging period is its MIN_POWER / MAX_POWER
// dimension (mod_cdrs "CdrDimensionType enum": MIN_POWER "Minimum power
// reached during this ChargingPeriod").
func TestSpecMinPower(t *testing.T) {
	tf := Tariff{ID: "power", Currency: "EUR", Elements: []Element{
		el(&Restrictions{MinPower: dp("22")}, pc(Energy, "0.60", "", 1)),
		el(nil, pc(Energy, "0.30", "", 1)),
	}}
	r := price(t, tf, session("2024-06-03T08:00:00Z", "2024-06-03T12:00:00Z",
		// 11 kW, lower than 22: 5 kWh × 0.30 = 1.50
		period("2024-06-03T08:00:00Z", "ENERGY", "5", "MIN_POWER", "11", "MAX_POWER", "11"),
		// exactly 22 kW, "more than, or equal to": 10 kWh × 0.60 = 6.00
		period("2024-06-03T09:00:00Z", "ENERGY", "10", "MIN_POWER", "22", "MAX_POWER", "22"),
		// 50 kW, per period and not over the session (the first period
		// was slower): 20 kWh × 0.60 = 12.00
		period("2024-06-03T10:00:00Z", "ENERGY", "20", "MIN_POWER", "50", "MAX_POWER", "50"),
		// between 7 and 40 kW: the power dropped below 22 during the
		// period ("is or becomes lower ... no longer valid"), and the
		// period does not say when: 3 kWh × 0.30 = 0.90
		period("2024-06-03T11:00:00Z", "ENERGY", "3", "MIN_POWER", "7", "MAX_POWER", "40"),
	), time.UTC)
	// 1.50 + 6.00 + 12.00 + 0.90 = 20.40; no VAT component: incl = excl.
	requireAmount(t, "total_cost", "20.40", "20.40", r.TotalCost)
	require.True(t, r.TotalEnergy.Equal(d("38")), r.TotalEnergy.String())
}

// min_duration: "Minimum duration in seconds the Charging Session MUST
// last (inclusive). When the duration of a Charging Session is longer than
// the defined value, this TariffElement is or becomes active. Before that
// moment, this TariffElement is not yet active."
func TestSpecMinDuration(t *testing.T) {
	tf := Tariff{ID: "duration", Currency: "EUR", Elements: []Element{
		el(&Restrictions{MinDuration: i64(7200)}, pc(Time, "3.00", "", 1)),
		el(nil, pc(Time, "1.20", "", 1)),
	}}
	// Charging 10:00–13:00 reported as one period: the element becomes
	// active at 2 h into the session, within the period ("is or becomes
	// active"): 2 h × 1.20 + 1 h × 3.00 = 2.40 + 3.00 = 5.40.
	r := price(t, tf, session("2024-06-03T10:00:00Z", "2024-06-03T13:00:00Z",
		period("2024-06-03T10:00:00Z", "TIME", "3")), time.UTC)
	requireAmount(t, "one period", "5.40", "5.40", r.TotalCost)
	requireAmount(t, "one period time cost", "5.40", "5.40", r.TotalTimeCost)

	// The same session with a period starting at exactly 7200 s:
	// inclusive, so that period is priced at 3.00: 5.40 again.
	r = price(t, tf, session("2024-06-03T10:00:00Z", "2024-06-03T13:00:00Z",
		period("2024-06-03T10:00:00Z", "TIME", "2"),
		period("2024-06-03T12:00:00Z", "TIME", "1")), time.UTC)
	requireAmount(t, "two periods", "5.40", "5.40", r.TotalCost)

	// A session of 1 h 30 min never reaches the minimum ("Before that
	// moment, this TariffElement is not yet active"): 1.5 h × 1.20 = 1.80.
	r = price(t, tf, session("2024-06-03T10:00:00Z", "2024-06-03T11:30:00Z",
		period("2024-06-03T10:00:00Z", "TIME", "1.5")), time.UTC)
	requireAmount(t, "short session", "1.80", "1.80", r.TotalCost)
	for _, p := range r.Parts {
		for _, l := range p.Lines {
			require.Equal(t, 1, l.Element, "only the unrestricted element prices a session shorter than min_duration")
		}
	}
}
