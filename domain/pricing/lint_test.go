package pricing

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func warningsText(ws []Warning) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = w.String()
	}
	return strings.Join(s, "\n")
}

func TestLintFindsProblems(t *testing.T) {
	all7 := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}
	d1, d2 := Date{2024, 5, 1}, Date{2024, 4, 1}
	tf := Tariff{
		MinPrice: &PriceLimit{ExclVAT: d("5")},
		MaxPrice: &PriceLimit{ExclVAT: d("4")},
		Elements: []Element{
			el(&Restrictions{MinKWh: dp("10"), MaxKWh: dp("5")}, pc(Energy, "0.1", "", 1)),
			el(&Restrictions{StartDate: &d1, EndDate: &d2}, pc(Energy, "0.2", "", 1)),
			el(&Restrictions{StartTime: clk("08:00"), EndTime: clk("20:00")}, pc(Energy, "0.3", "", 1), pc(Time, "1", "", 0)),
			el(&Restrictions{StartTime: clk("09:00"), EndTime: clk("17:00"), DaysOfWeek: []time.Weekday{time.Monday}}, pc(Energy, "0.4", "", 1)),
			el(&Restrictions{DaysOfWeek: all7, MaxDuration: i64(100), MinDuration: i64(100)}, pc(ParkingTime, "1", "", 60)),
			el(&Restrictions{StartTime: clk("00:00"), EndTime: clk("20:00")}, pc(Energy, "0.5", "", 1)),
		},
	}
	ws := warningsText(Lint(tf))
	for _, want := range []string{
		"min_price: min_price.excl_vat 5 is above max_price.excl_vat 4",
		"elements[0].restrictions.min_kwh: can never match",
		"elements[1].restrictions.start_date: can never match",
		"elements[2].price_components[1].step_size: step_size 0",
		"elements[3].price_components[0]: this ENERGY component is never used: elements[2] already price ENERGY",
		"elements[4].restrictions.day_of_week: lists all 7 days",
		"elements[4].restrictions.min_duration: can never match",
		"elements[5].restrictions: ENERGY is not priced in every situation (for example MONDAY 2024-03-25 20:00 local time",
		"elements[2].restrictions: TIME is not priced in every situation",
	} {
		require.Contains(t, ws, want)
	}
	require.NotContains(t, ws, "elements[5].price_components[0]: this ENERGY component is never used")
	require.NotContains(t, ws, "elements[0].restrictions: the restrictions can never all match")
}

func TestLintCleanTariffs(t *testing.T) {
	// The complex example's TIME elements cover every current on every
	// day: no TIME coverage warning, only the (intended) parking gap of
	// its last, restricted PARKING_TIME element — exactly one warning.
	lw := Lint(complexTarif)
	ws := warningsText(lw)
	require.Len(t, lw, 1, ws)
	require.Equal(t, "elements[5].restrictions", lw[0].Path, ws)
	require.True(t, strings.HasPrefix(lw[0].Message, "PARKING_TIME is not priced in every situation"), ws)
	require.NotContains(t, ws, ": TIME is not priced")
	require.Empty(t, Lint(maxDuration))
	require.Empty(t, Lint(Tariff{Elements: []Element{energy025}}))
}

func TestExplain(t *testing.T) {
	s := Explain(complexTarif)
	require.Contains(t, s, "a fixed fee per session of 2.50 EUR (15% VAT)")
	require.Contains(t, s, "Element 3 (on Monday, Tuesday, Wednesday, Thursday and Friday, while the current is at least 32 A)")
	require.Contains(t, s, "charging time at 1.00 EUR per hour (20% VAT), billed in blocks of 15 minutes")
	require.Contains(t, s, "between 09:00 and 18:00 local time")
	s = Explain(Tariff{ID: "x", Currency: "EUR", Elements: []Element{
		el(&Restrictions{StartTime: clk("22:00"), EndTime: clk("06:00")}, pc(Energy, "0.2", "", 1)), energy025},
		MaxPrice: &PriceLimit{ExclVAT: d("10"), InclVAT: dp("11")}})
	require.Contains(t, s, "between 22:00 and 06:00 local time (overnight)")
	require.Contains(t, s, "A session costs at most 10.00 EUR excl. VAT and 11.00 EUR incl. VAT.")
}
