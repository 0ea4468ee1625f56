package pricing

import (
	"testing"
	"time"
)

// BenchmarkPrice prices a typical CDR: four periods (charging across the
// 20:00 boundary of a day rate, then parking), a start fee, energy and time
// with a time-of-day restriction.
func BenchmarkPrice(b *testing.B) {
	tf := Tariff{ID: "bench", Currency: "EUR", Elements: []Element{
		el(nil, pc(Flat, "0.50", "21", 1)),
		el(&Restrictions{StartTime: clk("08:00"), EndTime: clk("20:00")}, pc(Energy, "0.35", "21", 1), pc(Time, "1.20", "21", 60)),
		el(nil, pc(Energy, "0.25", "21", 1), pc(Time, "0.60", "21", 60), pc(ParkingTime, "2.00", "21", 300)),
	}}
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	s := session("2024-03-01T17:40:00Z", "2024-03-01T20:10:00Z",
		period("2024-03-01T17:40:00Z", "ENERGY", "6.5", "TIME", "0.5", "MAX_POWER", "13"),
		period("2024-03-01T18:10:00Z", "ENERGY", "11.2", "TIME", "1", "MAX_POWER", "11.5"),
		period("2024-03-01T19:10:00Z", "ENERGY", "2.3", "TIME", "0.25", "MAX_POWER", "9"),
		period("2024-03-01T19:25:00Z", "PARKING_TIME", "0.75"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Price(tf, s, ams); err != nil {
			b.Fatal(err)
		}
	}
}
