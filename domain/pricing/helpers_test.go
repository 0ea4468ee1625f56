package pricing

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

func d(s string) decimal.Decimal   { return decimal.RequireFromString(s) }
func dp(s string) *decimal.Decimal { v := d(s); return &v }
func clk(s string) *Clock {
	c, err := ParseClock(s)
	if err != nil {
		panic(err)
	}
	return &c
}
func i64(v int64) *int64 { return &v }

// pc builds a price component; vat "" means no VAT.
func pc(t Dimension, price, vat string, step int64) Component {
	c := Component{Type: t, Price: d(price), StepSize: step}
	if vat != "" {
		c.VAT = dp(vat)
	}
	return c
}

func el(r *Restrictions, cs ...Component) Element { return Element{Components: cs, Restrictions: r} }

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// period builds a charging period starting at start with the given
// dimension volumes ("ENERGY", "TIME", "PARKING_TIME", "RESERVATION_TIME",
// "MIN_CURRENT", "MAX_CURRENT", "MIN_POWER", "MAX_POWER").
func period(start string, kv ...string) Period {
	p := Period{Start: at(start)}
	for i := 0; i+1 < len(kv); i += 2 {
		v := d(kv[i+1])
		switch kv[i] {
		case "ENERGY":
			p.Energy = v
		case "TIME":
			p.Time = v
		case "PARKING_TIME":
			p.ParkingTime = v
		case "RESERVATION_TIME":
			p.ReservationTime = v
		case "MIN_CURRENT":
			p.MinCurrent = &v
		case "MAX_CURRENT":
			p.MaxCurrent = &v
		case "MIN_POWER":
			p.MinPower = &v
		case "MAX_POWER":
			p.MaxPower = &v
		default:
			panic(kv[i])
		}
	}
	return p
}

func session(start, end string, ps ...Period) Session {
	return Session{Start: at(start), End: at(end), Periods: ps}
}

// requireAmount compares at 4 decimals, as the conformance README does.
func requireAmount(t *testing.T, what string, excl, incl string, got Amount) {
	t.Helper()
	require.Truef(t, d(excl).Round(4).Equal(got.ExclVAT.Round(4)), "%s excl: want %s got %s", what, excl, got.ExclVAT)
	require.Truef(t, d(incl).Round(4).Equal(got.InclVAT.Round(4)), "%s incl: want %s got %s", what, incl, got.InclVAT)
}

// requireConsistent checks that every total is the sum of its lines.
func requireConsistent(t tb, r Result) {
	t.Helper()
	var fixed, energy, tm, parking, resv, all Amount
	for _, p := range r.Parts {
		for _, l := range p.Lines {
			all = all.Add(l.Amount)
			switch {
			case l.Reservation:
				resv = resv.Add(l.Amount)
			case l.Dimension == Flat:
				fixed = fixed.Add(l.Amount)
			case l.Dimension == Energy:
				energy = energy.Add(l.Amount)
			case l.Dimension == Time:
				tm = tm.Add(l.Amount)
			case l.Dimension == ParkingTime:
				parking = parking.Add(l.Amount)
			}
		}
	}
	for _, a := range r.Adjustments {
		all = all.Add(a.Amount)
	}
	require.True(t, all.Equal(r.TotalCost), "total_cost %v != lines %v", r.TotalCost, all)
	require.True(t, fixed.Equal(r.TotalFixedCost))
	require.True(t, energy.Equal(r.TotalEnergyCost))
	require.True(t, tm.Equal(r.TotalTimeCost))
	require.True(t, parking.Equal(r.TotalParkingCost))
	require.True(t, resv.Equal(r.TotalReservationCost))
}

func price(t *testing.T, tf Tariff, s Session, loc *time.Location) Result {
	t.Helper()
	r, err := Price(tf, s, loc)
	require.NoError(t, err)
	requireConsistent(t, r)
	return r
}

// tb is what both *testing.T and *rapid.T offer.
type tb interface {
	require.TestingT
	Helper()
}
