package pricing

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// The compiled engine must give exactly the results of the reference
// engine (reference_test.go): same values with the same coefficients and
// exponents, same parts, lines, steps, adjustments, warnings and
// explanations, for every tariff and session, including the rare paths
// (kWh and duration cuts, daylight saving transitions, reservations,
// coefficients beyond int64, min/max price).

var decimalType = reflect.TypeOf(decimal.Decimal{})
var timeType = reflect.TypeOf(time.Time{})

// sameValue compares a and b field by field; decimals must have the same
// coefficient and exponent, times the same instant and location.
func sameValue(path string, a, b reflect.Value) error {
	switch {
	case a.Type() == decimalType:
		x, y := a.Interface().(decimal.Decimal), b.Interface().(decimal.Decimal)
		if x.Exponent() != y.Exponent() || x.Coefficient().Cmp(y.Coefficient()) != 0 {
			return fmt.Errorf("%s: %s (exp %d) != %s (exp %d)", path, x, x.Exponent(), y, y.Exponent())
		}
		return nil
	case a.Type() == timeType:
		x, y := a.Interface().(time.Time), b.Interface().(time.Time)
		if !x.Equal(y) || x.Location().String() != y.Location().String() {
			return fmt.Errorf("%s: %s != %s", path, x, y)
		}
		return nil
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() != b.IsNil() {
			return fmt.Errorf("%s: nil %v != nil %v", path, a.IsNil(), b.IsNil())
		}
		if a.IsNil() {
			return nil
		}
		return sameValue(path, a.Elem(), b.Elem())
	case reflect.Slice:
		if a.Len() != b.Len() {
			return fmt.Errorf("%s: len %d != %d", path, a.Len(), b.Len())
		}
		for i := 0; i < a.Len(); i++ {
			if err := sameValue(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			f := a.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if err := sameValue(path+"."+f.Name, a.Field(i), b.Field(i)); err != nil {
				return err
			}
		}
		return nil
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			return fmt.Errorf("%s: %v != %v", path, a.Interface(), b.Interface())
		}
		return nil
	}
}

// requireSameResult fails unless got is bit-identical to want, including
// every line's explanation.
func requireSameResult(t tb, want, got Result) {
	t.Helper()
	require.NoError(t, sameValue("Result", reflect.ValueOf(want), reflect.ValueOf(got)))
	for i := range want.Parts {
		for j := range want.Parts[i].Lines {
			require.Equal(t, want.Parts[i].Why(&want.Parts[i].Lines[j]), got.Parts[i].Why(&got.Parts[i].Lines[j]), "Parts[%d].Lines[%d].Why", i, j)
		}
	}
}

// genDecimal draws a non-negative decimal: usually a few digits, sometimes
// many (coefficients beyond int64 take the engine's slow path).
func genDecimal(t *rapid.T, name string, maxInt int64) decimal.Decimal {
	switch rapid.IntRange(0, 9).Draw(t, name+"-kind") {
	case 0:
		return decimal.Zero
	case 1:
		// 25 significant digits.
		c := decimal.New(rapid.Int64Range(0, maxInt).Draw(t, name+"-hi"), 0).Mul(decimal.New(1, 18)).
			Add(decimal.NewFromInt(rapid.Int64Range(0, 999999999999999999).Draw(t, name+"-lo")))
		return c.Shift(-18)
	case 2:
		return decimal.New(rapid.Int64Range(0, maxInt*1e12).Draw(t, name+"-c"), -12)
	default:
		exp := int32(-rapid.IntRange(0, 4).Draw(t, name+"-exp"))
		max := maxInt
		for i := int32(0); i < -exp; i++ {
			max *= 10
		}
		return decimal.New(rapid.Int64Range(0, max).Draw(t, name+"-c"), exp)
	}
}

func genOptDecimal(t *rapid.T, name string, maxInt int64) *decimal.Decimal {
	if !rapid.Bool().Draw(t, name) {
		return nil
	}
	v := genDecimal(t, name, maxInt)
	return &v
}

// genWideTariff draws any tariff the engine accepts, with every kind of
// restriction.
func genWideTariff(t *rapid.T) Tariff {
	tf := Tariff{ID: "wide", Currency: "EUR"}
	for i, n := 0, rapid.IntRange(1, 5).Draw(t, "elements"); i < n; i++ {
		var e Element
		for _, dim := range []Dimension{Flat, Energy, Time, ParkingTime, Energy} {
			if !rapid.Bool().Draw(t, "has-"+string(dim)) {
				continue
			}
			c := Component{Type: dim, Price: genDecimal(t, "price", 20)}
			if rapid.IntRange(0, 4).Draw(t, "vat-kind") > 0 {
				v := genDecimal(t, "vat", 30)
				c.VAT = &v
			}
			c.StepSize = int64(rapid.SampledFrom([]int{0, 1, 1, 7, 60, 100, 300, 500, 900, 1800}).Draw(t, "step"))
			e.Components = append(e.Components, c)
		}
		if len(e.Components) == 0 {
			e.Components = []Component{{Type: Time, Price: decimal.New(120, -2)}}
		}
		if rapid.IntRange(0, 3).Draw(t, "restricted") > 0 {
			r := &Restrictions{}
			if rapid.Bool().Draw(t, "time") {
				s, en := Clock(rapid.IntRange(0, 1439).Draw(t, "start")), Clock(rapid.IntRange(0, 1439).Draw(t, "end"))
				if rapid.Bool().Draw(t, "start-set") {
					r.StartTime = &s
				}
				if rapid.Bool().Draw(t, "end-set") {
					r.EndTime = &en
				}
			}
			if rapid.IntRange(0, 3).Draw(t, "dates") == 0 {
				base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
				a := base.AddDate(0, 0, rapid.IntRange(0, 400).Draw(t, "sd"))
				b := base.AddDate(0, 0, rapid.IntRange(0, 400).Draw(t, "ed"))
				if rapid.Bool().Draw(t, "sd-set") {
					r.StartDate = &Date{a.Year(), a.Month(), a.Day()}
				}
				if rapid.Bool().Draw(t, "ed-set") {
					r.EndDate = &Date{b.Year(), b.Month(), b.Day()}
				}
			}
			if rapid.Bool().Draw(t, "days") {
				for d := time.Sunday; d <= time.Saturday; d++ {
					if rapid.Bool().Draw(t, "day") {
						r.DaysOfWeek = append(r.DaysOfWeek, d)
					}
				}
			}
			r.MinKWh, r.MaxKWh = genOptDecimal(t, "minkwh", 40), genOptDecimal(t, "maxkwh", 60)
			r.MinCurrent, r.MaxCurrent = genOptDecimal(t, "mincur", 64), genOptDecimal(t, "maxcur", 64)
			r.MinPower, r.MaxPower = genOptDecimal(t, "minpow", 50), genOptDecimal(t, "maxpow", 150)
			if rapid.Bool().Draw(t, "mindur") {
				v := int64(rapid.IntRange(0, 5*3600).Draw(t, "mindur-v"))
				r.MinDuration = &v
			}
			if rapid.Bool().Draw(t, "maxdur") {
				v := int64(rapid.IntRange(0, 5*3600).Draw(t, "maxdur-v"))
				r.MaxDuration = &v
			}
			r.Reservation = rapid.SampledFrom([]Reservation{NoReservation, NoReservation, NoReservation, ReservationActive, ReservationExpires}).Draw(t, "reservation")
			e.Restrictions = r
		}
		tf.Elements = append(tf.Elements, e)
	}
	limit := func(name string) *PriceLimit {
		if rapid.IntRange(0, 3).Draw(t, name) > 0 {
			return nil
		}
		l := &PriceLimit{ExclVAT: genDecimal(t, name+"-excl", 30)}
		l.InclVAT = genOptDecimal(t, name+"-incl", 36)
		return l
	}
	tf.MinPrice, tf.MaxPrice = limit("min"), limit("max")
	if rapid.IntRange(0, 4).Draw(t, "validity") == 0 {
		a := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.IntRange(0, 400*24).Draw(t, "valid-from")) * time.Hour)
		tf.StartDateTime = &a
		b := a.Add(time.Duration(rapid.IntRange(0, 100*24).Draw(t, "valid-for")) * time.Hour)
		tf.EndDateTime = &b
	}
	return tf
}

var wideZones = func() []*time.Location {
	out := []*time.Location{time.UTC}
	for _, z := range []string{"Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"} {
		l, err := time.LoadLocation(z)
		if err != nil {
			panic(err)
		}
		out = append(out, l)
	}
	return out
}()

// genWideSession draws a session: periods of any kind and length, starts
// on and off whole minutes, often around a daylight saving transition.
func genWideSession(t *rapid.T) Session {
	var start time.Time
	switch rapid.IntRange(0, 3).Draw(t, "start-kind") {
	case 0:
		// Around the 2024 spring and autumn transitions of Europe and the US.
		anchors := []time.Time{
			time.Date(2024, 3, 31, 1, 0, 0, 0, time.UTC), time.Date(2024, 10, 27, 1, 0, 0, 0, time.UTC),
			time.Date(2024, 3, 10, 7, 0, 0, 0, time.UTC), time.Date(2024, 11, 3, 6, 0, 0, 0, time.UTC),
			time.Date(2024, 4, 6, 15, 0, 0, 0, time.UTC), time.Date(2024, 10, 5, 15, 30, 0, 0, time.UTC),
		}
		start = rapid.SampledFrom(anchors).Draw(t, "anchor").Add(time.Duration(rapid.IntRange(-300, 60).Draw(t, "offset")) * time.Minute)
	case 1:
		start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.Int64Range(0, 366*24*3600).Draw(t, "start-s")) * time.Second)
	default:
		start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.IntRange(0, 366*24*60).Draw(t, "start-m")) * time.Minute)
	}
	s := Session{Start: start}
	at := start
	for i, n := 0, rapid.IntRange(0, 6).Draw(t, "periods"); i < n; i++ {
		p := Period{Start: at}
		if rapid.Bool().Draw(t, "energy") {
			p.Energy = genDecimal(t, "energy", 80)
		}
		if rapid.Bool().Draw(t, "time") {
			p.Time = genDecimal(t, "hours", 5)
		}
		if rapid.Bool().Draw(t, "parking") {
			p.ParkingTime = genDecimal(t, "parking", 5)
		}
		if rapid.IntRange(0, 4).Draw(t, "reservation") == 0 {
			p.ReservationTime = genDecimal(t, "reservation-time", 2)
		}
		p.MinCurrent, p.MaxCurrent = genOptDecimal(t, "pmincur", 64), genOptDecimal(t, "pmaxcur", 64)
		p.MinPower, p.MaxPower = genOptDecimal(t, "pminpow", 50), genOptDecimal(t, "pmaxpow", 150)
		s.Periods = append(s.Periods, p)
		switch rapid.IntRange(0, 3).Draw(t, "step-kind") {
		case 0:
			at = at.Add(time.Duration(rapid.Int64Range(0, 4*3600*1e9).Draw(t, "step-ns")))
		default:
			at = at.Add(time.Duration(rapid.IntRange(0, 300).Draw(t, "step-m")) * time.Minute)
		}
	}
	s.End = at.Add(time.Duration(rapid.IntRange(0, 120).Draw(t, "tail")) * time.Minute)
	return s
}

func TestCompiledMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tf, s := genWideTariff(t), genWideSession(t)
		loc := rapid.SampledFrom(wideZones).Draw(t, "zone")
		want, werr := refPrice(tf, s, loc)
		got, gerr := Price(tf, s, loc)
		if werr != nil || gerr != nil {
			require.Error(t, werr)
			require.Error(t, gerr)
			require.Equal(t, werr.Error(), gerr.Error())
			return
		}
		requireSameResult(t, want, got)
		// A compiled tariff gives the same results, call after call.
		ct, err := Compile(tf)
		require.NoError(t, err)
		for range 2 {
			got, err = ct.Price(s, loc)
			require.NoError(t, err)
			requireSameResult(t, want, got)
		}
	})
}

// TestCompiledMatchesReferenceFixed runs the benchmark set and the spec
// examples through both engines.
func TestCompiledMatchesReferenceFixed(t *testing.T) {
	for _, c := range typicalCDRs() {
		want, err := refPrice(c.tariff, c.session, c.loc)
		require.NoError(t, err, c.name)
		got, err := Price(c.tariff, c.session, c.loc)
		require.NoError(t, err, c.name)
		requireSameResult(t, want, got)
	}
}

// TestCompiledMatchesReferenceWithoutRaw runs the engine as it runs when
// decimal.Decimal's layout is not the one decimalraw.go knows (public API
// only): still bit-identical.
func TestCompiledMatchesReferenceWithoutRaw(t *testing.T) {
	require.True(t, rawOK, "the layout check must accept shopspring/decimal as pinned in go.mod")
	rawOK = false
	defer func() { rawOK = true }()
	TestCompiledMatchesReference(t)
	TestCompiledMatchesReferenceFixed(t)
}

// TestCompiledConcurrent shares one Compiled between goroutines (run with
// -race): the results are those of Price.
func TestCompiledConcurrent(t *testing.T) {
	cs := typicalCDRs()
	cts := make([]*Compiled, len(cs))
	want := make([]Result, len(cs))
	for i, c := range cs {
		var err error
		cts[i], err = Compile(c.tariff)
		require.NoError(t, err)
		want[i], err = Price(c.tariff, c.session, c.loc)
		require.NoError(t, err)
	}
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for n := 0; n < 50; n++ {
				i := (n + g) % len(cs)
				got, err := cts[i].Price(cs[i].session, cs[i].loc)
				if err == nil {
					err = sameValue("Result", reflect.ValueOf(want[i]), reflect.ValueOf(got))
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		require.NoError(t, <-errs)
	}
}
