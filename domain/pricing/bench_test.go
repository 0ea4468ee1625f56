package pricing

import (
	"testing"
	"time"
)

// typicalCDR is one shape of the benchmark's "typical CDR" mix.
type typicalCDR struct {
	name    string
	tariff  Tariff
	session Session
	loc     *time.Location
}

func zone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// typicalCDRs is the benchmark's mix of typical CDRs: 1–4 charging periods
// priced with tariffs of 1–4 elements, drawn from the shapes of the
// conformance corpus (../shared/conformance/ocpi-tariffs) and of common
// public AC/DC tariffs, in the location's time zone (with daylight saving,
// which the engine must follow), volumes with the 3–4 decimals CPOs send.
// Every restriction kind that is common in practice appears: time of day,
// day of week, max_power, max_current/min_current, min/max_duration and
// max_kwh, plus min/max price and step sizes. Equally weighted.
func typicalCDRs() []typicalCDR {
	weekdays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	return []typicalCDR{{
		// AC day/night: start fee, energy and time cheaper after 20:00;
		// charging across the boundary, then parking (4 periods, 3 elements).
		name: "ac-day-night",
		tariff: Tariff{ID: "day-night", Currency: "EUR", Elements: []Element{
			el(nil, pc(Flat, "0.50", "21", 1)),
			el(&Restrictions{StartTime: clk("08:00"), EndTime: clk("20:00")}, pc(Energy, "0.35", "21", 1), pc(Time, "1.20", "21", 60)),
			el(nil, pc(Energy, "0.25", "21", 1), pc(Time, "0.60", "21", 60), pc(ParkingTime, "2.00", "21", 300)),
		}},
		session: session("2024-03-01T17:40:00Z", "2024-03-01T20:10:00Z",
			period("2024-03-01T17:40:00Z", "ENERGY", "6.5", "TIME", "0.5", "MAX_POWER", "13"),
			period("2024-03-01T18:10:00Z", "ENERGY", "11.2", "TIME", "1", "MAX_POWER", "11.5"),
			period("2024-03-01T19:10:00Z", "ENERGY", "2.3", "TIME", "0.25", "MAX_POWER", "9"),
			period("2024-03-01T19:25:00Z", "PARKING_TIME", "0.75")),
		loc: zone("Europe/Amsterdam"),
	}, {
		// restriction_example_max_power: the energy price depends on the
		// power reached (2 periods, 3 elements).
		name: "max-power",
		tariff: Tariff{ID: "max-power", Currency: "EUR", Elements: []Element{
			el(&Restrictions{MaxPower: dp("16.00")}, pc(Energy, "0.20", "19", 1)),
			el(&Restrictions{MaxPower: dp("32.00")}, pc(Energy, "0.35", "19", 1)),
			el(nil, pc(Energy, "0.50", "19", 1)),
		}},
		session: session("2024-05-14T07:12:31Z", "2024-05-14T09:02:05Z",
			period("2024-05-14T07:12:31Z", "ENERGY", "14.218", "TIME", "1.25", "MAX_POWER", "22.1"),
			period("2024-05-14T08:27:31Z", "ENERGY", "3.764", "TIME", "0.5761", "MAX_POWER", "11.2")),
		loc: zone("Europe/Berlin"),
	}, {
		// grace_period_parking_time: parking free for the first 30 minutes
		// of the session, then 3.00/h (2 periods, 3 elements).
		name: "grace-parking",
		tariff: Tariff{ID: "grace", Currency: "EUR", Elements: []Element{
			el(&Restrictions{MinDuration: i64(0), MaxDuration: i64(1800)}, pc(ParkingTime, "0.00", "21", 1)),
			el(&Restrictions{MinDuration: i64(1800)}, pc(ParkingTime, "3.00", "21", 1)),
			el(nil, pc(Energy, "0.25", "21", 1)),
		}},
		session: session("2024-06-03T15:00:00Z", "2024-06-03T17:55:00Z",
			period("2024-06-03T15:00:00Z", "ENERGY", "18.532", "TIME", "1.75"),
			period("2024-06-03T16:45:00Z", "PARKING_TIME", "1.1667")),
		loc: zone("Europe/Amsterdam"),
	}, {
		// step_size: time and parking priced by time of day with block
		// rounding (3 periods, 3 elements).
		name: "tod-steps",
		tariff: Tariff{ID: "steps", Currency: "EUR", Elements: []Element{
			el(&Restrictions{StartTime: clk("00:00"), EndTime: clk("17:00")}, pc(Time, "1.20", "", 1800), pc(ParkingTime, "1.00", "", 900)),
			el(&Restrictions{StartTime: clk("17:00"), EndTime: clk("20:00")}, pc(Time, "2.40", "", 900), pc(ParkingTime, "1.00", "", 900)),
			el(&Restrictions{StartTime: clk("20:00"), EndTime: clk("00:00")}, pc(Time, "2.40", "", 900)),
		}},
		session: session("2024-01-13T16:25:00Z", "2024-01-13T18:07:00Z",
			period("2024-01-13T16:25:00Z", "TIME", "0.5834"),
			period("2024-01-13T17:00:00Z", "TIME", "0.7"),
			period("2024-01-13T17:42:00Z", "PARKING_TIME", "0.4166")),
		loc: zone("Europe/London"),
	}, {
		// complex, reduced to 4 elements: start fee, time priced by current
		// and week day, parking during office hours (2 periods).
		name: "current-weekday",
		tariff: Tariff{ID: "current", Currency: "EUR", Elements: []Element{
			el(nil, pc(Flat, "2.50", "15", 1)),
			el(&Restrictions{MaxCurrent: dp("32.00")}, pc(Time, "1.00", "20", 900)),
			el(&Restrictions{MinCurrent: dp("32.00"), DaysOfWeek: weekdays}, pc(Time, "2.00", "20", 600)),
			el(&Restrictions{StartTime: clk("09:00"), EndTime: clk("18:00"), DaysOfWeek: weekdays}, pc(ParkingTime, "5.00", "10", 300)),
		}},
		session: session("2024-09-10T06:51:12Z", "2024-09-10T09:14:51Z",
			period("2024-09-10T06:51:12Z", "TIME", "1.6583", "MIN_CURRENT", "32", "MAX_CURRENT", "48"),
			period("2024-09-10T08:30:42Z", "PARKING_TIME", "0.7358")),
		loc: zone("Europe/Brussels"),
	}, {
		// 025kwh_start_max_price: start fee and energy, capped (1 period,
		// 1 element).
		name: "flat-energy-max",
		tariff: Tariff{ID: "capped", Currency: "EUR", MaxPrice: &PriceLimit{ExclVAT: d("10.00"), InclVAT: dp("11.00")}, Elements: []Element{
			el(nil, pc(Flat, "0.50", "10", 1), pc(Energy, "0.25", "10", 1)),
		}},
		session: session("2024-02-20T21:03:00Z", "2024-02-21T06:40:00Z",
			period("2024-02-20T21:03:00Z", "ENERGY", "45.321", "TIME", "9.6167")),
		loc: zone("Europe/Paris"),
	}, {
		// simple_3hour_5parking: time and parking with minute and
		// five-minute blocks (2 periods, 1 element).
		name: "time-parking",
		tariff: Tariff{ID: "time", Currency: "EUR", Elements: []Element{
			el(nil, pc(Time, "3.00", "21", 60), pc(ParkingTime, "5.00", "21", 300)),
		}},
		session: session("2024-11-13T16:00:00Z", "2024-11-13T19:12:00Z",
			period("2024-11-13T16:00:00Z", "ENERGY", "21.4", "TIME", "2.5"),
			period("2024-11-13T18:30:00Z", "PARKING_TIME", "0.7")),
		loc: zone("Europe/Amsterdam"),
	}, {
		// DC fast charging: session fee, the first 20 kWh cheaper, an idle
		// fee per minute after 45 minutes (2 periods, 4 elements).
		name: "dc-kwh-idle",
		tariff: Tariff{ID: "dc", Currency: "EUR", MinPrice: &PriceLimit{ExclVAT: d("2.00"), InclVAT: dp("2.42")}, Elements: []Element{
			el(nil, pc(Flat, "0.99", "21", 1)),
			el(&Restrictions{MaxKWh: dp("20")}, pc(Energy, "0.59", "21", 1)),
			el(nil, pc(Energy, "0.69", "21", 1)),
			el(&Restrictions{MinDuration: i64(2700)}, pc(Time, "6.00", "21", 60), pc(ParkingTime, "6.00", "21", 60)),
		}},
		session: session("2024-07-19T12:02:44Z", "2024-07-19T12:55:10Z",
			period("2024-07-19T12:02:44Z", "ENERGY", "38.917", "TIME", "0.7261", "MAX_POWER", "121.4"),
			period("2024-07-19T12:46:18Z", "PARKING_TIME", "0.1478")),
		loc: zone("Europe/Amsterdam"),
	}}
}

// BenchmarkPrice prices the typical mix one CDR per iteration with Price
// (the tariff prepared on every call); cdr/s is per core with -cpu 1.
func BenchmarkPrice(b *testing.B) {
	cs := typicalCDRs()
	b.ReportAllocs()
	i := 0
	cpu := processCPU()
	for b.Loop() {
		c := &cs[i%len(cs)]
		if _, err := Price(c.tariff, c.session, c.loc); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportThroughput(b, processCPU()-cpu)
}

// BenchmarkPriceShapes prices each shape of the mix separately.
func BenchmarkPriceShapes(b *testing.B) {
	for _, c := range typicalCDRs() {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				if _, err := Price(c.tariff, c.session, c.loc); err != nil {
					b.Fatal(err)
				}
			}
			reportThroughput(b, processCPU()-cpu)
		})
	}
}

// reportThroughput reports CDRs per wall second and per CPU second (the
// process's CPU time, garbage collection included).
func reportThroughput(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cdr/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "cdr/cpu-s")
	}
}

// BenchmarkPriceCompiled prices the typical mix with tariffs compiled once
// (Compile, then Compiled.Price), as a pricer that caches them does.
func BenchmarkPriceCompiled(b *testing.B) {
	cs := typicalCDRs()
	cts := make([]*Compiled, len(cs))
	for i := range cs {
		ct, err := Compile(cs[i].tariff)
		if err != nil {
			b.Fatal(err)
		}
		cts[i] = ct
	}
	b.ReportAllocs()
	i := 0
	cpu := processCPU()
	for b.Loop() {
		c := &cs[i%len(cs)]
		if _, err := cts[i%len(cs)].Price(c.session, c.loc); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportThroughput(b, processCPU()-cpu)
}
