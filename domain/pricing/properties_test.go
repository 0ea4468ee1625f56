package pricing

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// genTariff draws a tariff. With simple set, restrictions are limited to
// time of day and day of week, steps are 0 and there is no max_price: the
// class of tariffs under which more volume can never cost less.
func genTariff(t *rapid.T, simple bool) Tariff {
	n := rapid.IntRange(1, 4).Draw(t, "elements")
	tf := Tariff{ID: "gen", Currency: "EUR"}
	for i := 0; i < n; i++ {
		var e Element
		for _, dim := range []Dimension{Flat, Energy, Time, ParkingTime} {
			if !rapid.Bool().Draw(t, "has-"+string(dim)) {
				continue
			}
			c := Component{Type: dim, Price: decimal.New(int64(rapid.IntRange(0, 500).Draw(t, "price")), -2)}
			if v := rapid.IntRange(-1, 25).Draw(t, "vat"); v >= 0 {
				vd := decimal.NewFromInt(int64(v))
				c.VAT = &vd
			}
			if !simple {
				c.StepSize = int64(rapid.SampledFrom([]int{0, 1, 60, 100, 300, 500, 900}).Draw(t, "step"))
			}
			e.Components = append(e.Components, c)
		}
		if len(e.Components) == 0 {
			e.Components = []Component{{Type: Energy, Price: decimal.New(25, -2), StepSize: 0}}
		}
		if rapid.Bool().Draw(t, "restricted") {
			r := &Restrictions{}
			if rapid.Bool().Draw(t, "time") {
				s, en := Clock(rapid.IntRange(0, 95).Draw(t, "start")*15), Clock(rapid.IntRange(0, 95).Draw(t, "end")*15)
				r.StartTime, r.EndTime = &s, &en
			}
			if rapid.Bool().Draw(t, "days") {
				for d := time.Sunday; d <= time.Saturday; d++ {
					if rapid.Bool().Draw(t, "day") {
						r.DaysOfWeek = append(r.DaysOfWeek, d)
					}
				}
			}
			if !simple {
				if rapid.Bool().Draw(t, "kwh") {
					k := decimal.NewFromInt(int64(rapid.IntRange(0, 30).Draw(t, "minkwh")))
					r.MinKWh = &k
				}
				if rapid.Bool().Draw(t, "dur") {
					v := int64(rapid.IntRange(1, 240).Draw(t, "maxdur") * 60)
					r.MaxDuration = &v
				}
				if rapid.Bool().Draw(t, "power") {
					v := decimal.NewFromInt(int64(rapid.IntRange(1, 50).Draw(t, "maxpow")))
					r.MaxPower = &v
				}
			}
			e.Restrictions = r
		}
		tf.Elements = append(tf.Elements, e)
	}
	if rapid.Bool().Draw(t, "min_price") {
		m := decimal.New(int64(rapid.IntRange(0, 1000).Draw(t, "min")), -2)
		tf.MinPrice = &PriceLimit{ExclVAT: m, InclVAT: &m}
	}
	if !simple && rapid.Bool().Draw(t, "max_price") {
		m := decimal.New(int64(rapid.IntRange(0, 5000).Draw(t, "max")), -2)
		tf.MaxPrice = &PriceLimit{ExclVAT: m}
	}
	return tf
}

func genSession(t *rapid.T) Session {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.IntRange(0, 365*24*60).Draw(t, "start")) * time.Minute)
	s := Session{Start: start}
	at := start
	for i, n := 0, rapid.IntRange(1, 5).Draw(t, "periods"); i < n; i++ {
		mins := rapid.IntRange(0, 240).Draw(t, "minutes")
		p := Period{Start: at}
		h := decimal.NewFromInt(int64(mins)).DivRound(decimal.NewFromInt(60), 8)
		switch rapid.IntRange(0, 2).Draw(t, "kind") {
		case 0:
			p.Time = h
			p.Energy = decimal.New(int64(rapid.IntRange(0, 50000).Draw(t, "wh")), -3)
		case 1:
			p.ParkingTime = h
		default:
			p.Time = h
		}
		if rapid.Bool().Draw(t, "has-power") {
			v := decimal.NewFromInt(int64(rapid.IntRange(0, 60).Draw(t, "power")))
			p.MaxPower = &v
		}
		s.Periods = append(s.Periods, p)
		at = at.Add(time.Duration(mins) * time.Minute)
	}
	s.End = at
	return s
}

func TestPropertyTotalsAreSumsOfLines(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r, err := Price(genTariff(t, false), genSession(t), time.UTC)
		require.NoError(t, err)
		requireConsistent(t, r)
		var parts Period
		for _, p := range r.Parts {
			parts.Energy = parts.Energy.Add(p.Volumes.Energy)
			parts.ParkingTime = parts.ParkingTime.Add(p.Volumes.ParkingTime)
		}
		require.True(t, parts.Energy.Equal(r.TotalEnergy), "split parts must add up to the energy")
		require.True(t, parts.ParkingTime.Equal(r.TotalParkingTime))
	})
}

func TestPropertyMonotonic(t *testing.T) {
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	rapid.Check(t, func(t *rapid.T) {
		tf := genTariff(t, true)
		s := genSession(t)
		before, err := Price(tf, s, ams)
		require.NoError(t, err)
		grown := s
		grown.Periods = append([]Period(nil), s.Periods...)
		i := rapid.IntRange(0, len(s.Periods)-1).Draw(t, "grow")
		more := decimal.New(int64(rapid.IntRange(1, 10000).Draw(t, "more")), -3)
		switch rapid.IntRange(0, 2).Draw(t, "what") {
		case 0:
			grown.Periods[i].Energy = grown.Periods[i].Energy.Add(more)
		case 1:
			grown.Periods[i].Time = grown.Periods[i].Time.Add(more)
		default:
			grown.Periods[i].ParkingTime = grown.Periods[i].ParkingTime.Add(more)
		}
		after, err := Price(tf, grown, ams)
		require.NoError(t, err)
		require.False(t, after.TotalCost.ExclVAT.LessThan(before.TotalCost.ExclVAT), "excl: %s < %s", after.TotalCost.ExclVAT, before.TotalCost.ExclVAT)
		require.False(t, after.TotalCost.InclVAT.LessThan(before.TotalCost.InclVAT), "incl: %s < %s", after.TotalCost.InclVAT, before.TotalCost.InclVAT)
	})
}

func TestPropertyDeterministic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tf, s := genTariff(t, false), genSession(t)
		a, err := Price(tf, s, time.UTC)
		require.NoError(t, err)
		b, err := Price(tf, s, time.UTC)
		require.NoError(t, err)
		require.Equal(t, a, b)
	})
}

func TestPropertyInclNotBelowExcl(t *testing.T) {
	// With non-negative prices and VAT, no line costs less including VAT
	// than excluding it (DESIGN.md, tests).
	rapid.Check(t, func(t *rapid.T) {
		r, err := Price(genTariff(t, false), genSession(t), time.UTC)
		require.NoError(t, err)
		for _, p := range r.Parts {
			for _, l := range p.Lines {
				require.False(t, l.Amount.InclVAT.LessThan(l.Amount.ExclVAT))
			}
		}
	})
}
