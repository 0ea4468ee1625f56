package pricing

// This file is the tariff engine as it was before the compiled engine
// (commit b925379), kept verbatim under ref* names: TestCompiledMatchesReference
// checks that the compiled engine gives bit-identical results.

import (
	"fmt"
	"math/big"
	"math/bits"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/fault"
)

var (
	refHour    = decimal.NewFromInt(3600)
	refHundred = decimal.NewFromInt(100)
	refOne     = decimal.NewFromInt(1)
)

// divPrecision is the number of fractional digits kept when a division is
// unavoidable (hours from seconds). Far below any currency unit; OCPI itself
// prescribes no rounding.
const refDivPrecision = 20

// sharePrecision is the number of fractional digits of the cumulative
// volumes at a cut inside a period (1e-12 kWh or hours, i.e. 3.6 ns): a
// proportional split is an interpolation, and the last part takes the
// remainder, so the parts still add up exactly to the period's volumes.
const refSharePrecision = 12

// candidate is an (element, component) pair that can price a dimension.
type refCandidate struct {
	elem, comp int
}

// lookup keys for candidate lists.
const (
	refKeyFlat = iota
	refKeyEnergy
	refKeyTime
	refKeyParking
	refKeyResTime
	refKeyResFlat
	refNumKeys
)

// plan is the per-call preparation of a tariff: candidate lists per
// dimension and the instants at which restrictions can change.
type refPlan struct {
	t          *Tariff
	cands      [refNumKeys][]refCandidate
	clocks     []Clock // local times of day at which to split (incl. 00:00 for day/date restrictions)
	durations  []int64 // seconds since session start at which to split
	kwhs       []decimal.Decimal
	loc        *time.Location
	sessionBeg time.Time
	// vatFactor[e][c] is 1 + vat/100 for component c of element e.
	vatFactor [][]decimal.Decimal
}

func refKeyOf(d Dimension, reservation bool) int {
	switch {
	case reservation && d == Flat:
		return refKeyResFlat
	case reservation:
		return refKeyResTime
	case d == Flat:
		return refKeyFlat
	case d == Energy:
		return refKeyEnergy
	case d == Time:
		return refKeyTime
	default:
		return refKeyParking
	}
}

func refNewPlan(t *Tariff, loc *time.Location, start time.Time, expired bool) *refPlan {
	p := &refPlan{t: t, loc: loc, sessionBeg: start}
	addClock := func(c Clock) {
		for _, x := range p.clocks {
			if x == c {
				return
			}
		}
		p.clocks = append(p.clocks, c)
	}
	addDur := func(s int64) {
		for _, x := range p.durations {
			if x == s {
				return
			}
		}
		p.durations = append(p.durations, s)
	}
	addKWh := func(k decimal.Decimal) {
		for _, x := range p.kwhs {
			if x.Equal(k) {
				return
			}
		}
		p.kwhs = append(p.kwhs, k)
	}
	p.vatFactor = make([][]decimal.Decimal, len(t.Elements))
	for i := range t.Elements {
		e := &t.Elements[i]
		res := e.reservation()
		for _, d := range [...]Dimension{Flat, Energy, Time, ParkingTime} {
			c := e.component(d)
			if c < 0 {
				continue
			}
			switch {
			case res == NoReservation:
				p.cands[refKeyOf(d, false)] = append(p.cands[refKeyOf(d, false)], refCandidate{i, c})
			case d == Flat || d == Time:
				// A reservation element may only hold FLAT and TIME
				// (mod_tariffs "TariffRestrictions class", reservation).
				p.cands[refKeyOf(d, true)] = append(p.cands[refKeyOf(d, true)], refCandidate{i, c})
			}
		}
		r := e.Restrictions
		if r == nil {
			continue
		}
		if r.StartTime != nil {
			addClock(*r.StartTime)
		}
		if r.EndTime != nil {
			addClock(*r.EndTime)
		}
		if r.StartDate != nil || r.EndDate != nil || len(r.DaysOfWeek) > 0 {
			addClock(0)
		}
		if r.MinDuration != nil {
			addDur(*r.MinDuration)
		}
		if r.MaxDuration != nil {
			addDur(*r.MaxDuration)
		}
		if r.MinKWh != nil {
			addKWh(*r.MinKWh)
		}
		if r.MaxKWh != nil {
			addKWh(*r.MaxKWh)
		}
	}
	// For an expired reservation the RESERVATION_EXPIRES elements take
	// precedence over RESERVATION elements (mod_tariffs, note below
	// "ReservationRestrictionType enum"); otherwise they never apply.
	for _, k := range [...]int{refKeyResTime, refKeyResFlat} {
		var first, rest []refCandidate
		for _, c := range p.cands[k] {
			switch t.Elements[c.elem].reservation() {
			case ReservationExpires:
				if expired {
					first = append(first, c)
				}
			default:
				rest = append(rest, c)
			}
		}
		p.cands[k] = append(first, rest...)
	}
	return p
}

// Price prices session s with tariff t; restrictions are evaluated in loc
// (nil means UTC). See the package documentation for the rules applied.
func refPrice(t Tariff, s Session, loc *time.Location) (Result, error) {
	if loc == nil {
		loc = time.UTC
	}
	if err := refCheck(&t, &s); err != nil {
		return Result{}, err
	}
	res := Result{TariffID: t.ID, Currency: t.Currency}

	// A reservation expired when the session has reservation time and no
	// charging at all (mod_tariffs "ReservationRestrictionType enum").
	var hasRes, hasCharge bool
	for i := range s.Periods {
		p := &s.Periods[i]
		if !p.ReservationTime.IsZero() {
			hasRes = true
		}
		if p.charging() {
			hasCharge = true
		}
	}
	expired := hasRes && !hasCharge
	pl := refNewPlan(&t, loc, s.Start, expired)

	if t.StartDateTime != nil && s.Start.Before(*t.StartDateTime) {
		res.Warnings = append(res.Warnings, fmt.Sprintf("session starts %s, before the tariff's start_date_time %s",
			s.Start.UTC().Format(time.RFC3339), t.StartDateTime.UTC().Format(time.RFC3339)))
	}
	if t.EndDateTime != nil && !s.Start.Before(*t.EndDateTime) {
		res.Warnings = append(res.Warnings, fmt.Sprintf("session starts %s, after the tariff's end_date_time %s",
			s.Start.UTC().Format(time.RFC3339), t.EndDateTime.UTC().Format(time.RFC3339)))
	}
	if len(s.Periods) > 0 && s.Periods[0].Start.Before(s.Start) {
		res.Warnings = append(res.Warnings, "the first charging period starts before the session")
	}

	// 1. Split the periods at every instant a restriction can change.
	parts := make([]Part, 0, len(s.Periods)+2)
	energy := decimal.Zero
	for i := range s.Periods {
		end := s.End
		if i+1 < len(s.Periods) {
			end = s.Periods[i+1].Start
		}
		parts = pl.split(parts, i, &s.Periods[i], end, energy)
		energy = refAdd(energy, s.Periods[i].Energy)
		res.TotalParkingTime = refAdd(res.TotalParkingTime, s.Periods[i].ParkingTime)
	}

	res.TotalEnergy = energy

	// 2. Select a price component per part and dimension. The lines of all
	// parts share one backing array.
	backing := make([]Line, 0, 4*len(parts))
	flatDone, resFlatDone := expired, !hasRes
	for i := range parts {
		p := &parts[i]
		p.elements = t.Elements
		first := len(backing)
		resOnly := !p.Volumes.ReservationTime.IsZero() && !p.Volumes.charging()
		if !flatDone && !resOnly {
			// FLAT once per session: the first part with an active FLAT.
			if l, ok := pl.line(p, Flat, false); ok {
				backing = append(backing, l)
				flatDone = true
			}
		}
		if !resFlatDone && !p.Volumes.ReservationTime.IsZero() {
			if l, ok := pl.line(p, Flat, true); ok {
				backing = append(backing, l)
				resFlatDone = true
			}
		}
		if !p.Volumes.ReservationTime.IsZero() {
			l, _ := pl.line(p, Time, true)
			backing = append(backing, l)
		}
		for _, d := range [...]Dimension{Energy, Time, ParkingTime} {
			if p.Volumes.volume(d, false).IsZero() {
				continue
			}
			l, _ := pl.line(p, d, false)
			backing = append(backing, l)
		}
		p.Lines = backing[first:len(backing):len(backing)]
	}

	// 3. step_size, once per group (mod_cdrs "step_size").
	res.Steps = refApplySteps(parts, res.Steps)

	// 4. Amounts and totals. TotalCost is the sum of the category totals,
	// which are the sums of their lines.
	for i := range parts {
		for j := range parts[i].Lines {
			l := &parts[i].Lines[j]
			if l.Element >= 0 {
				l.Amount.ExclVAT = refMul(l.Billed, l.UnitPrice)
				l.Amount.InclVAT = l.Amount.ExclVAT
				if l.VAT != nil {
					// "Applicable VAT percentage for this tariff dimension. If
					// omitted, no VAT is applicable." (PriceComponent class)
					l.Amount.InclVAT = refMul(l.Amount.ExclVAT, pl.vat(l.Element, l.Component))
				}
			}
			var tot *Amount
			switch {
			case l.Reservation:
				tot = &res.TotalReservationCost
			case l.Dimension == Flat:
				tot = &res.TotalFixedCost
			case l.Dimension == Energy:
				tot = &res.TotalEnergyCost
			case l.Dimension == Time:
				tot = &res.TotalTimeCost
			default:
				tot = &res.TotalParkingCost
			}
			*tot = refAddAmount(*tot, l.Amount)
		}
	}
	for _, a := range [...]Amount{res.TotalFixedCost, res.TotalEnergyCost, res.TotalTimeCost, res.TotalParkingCost, res.TotalReservationCost} {
		res.TotalCost = refAddAmount(res.TotalCost, a)
	}
	res.Parts = parts
	res.TotalTime = refHours(s.End.Sub(s.Start))
	refApplyLimits(&res, &t)
	return res, nil
}

// check validates the input; errors are fault.KindInvalid.
func refCheck(t *Tariff, s *Session) error {
	var fs fault.Fields
	if len(t.Elements) == 0 {
		fs.Add("tariff.elements", "a tariff needs at least one element")
	}
	for i := range t.Elements {
		for j, c := range t.Elements[i].Components {
			if !c.Type.Valid() {
				fs.Add(fmt.Sprintf("tariff.elements[%d].price_components[%d].type", i, j), "unknown dimension %q", c.Type)
			}
		}
	}
	if s.End.Before(s.Start) {
		fs.Add("session.end", "the session ends before it starts")
	}
	for i := range s.Periods {
		if i > 0 && s.Periods[i].Start.Before(s.Periods[i-1].Start) {
			fs.Add(fmt.Sprintf("session.periods[%d].start", i), "charging periods are not in chronological order")
		}
	}
	if n := len(s.Periods); n > 0 && s.Periods[n-1].Start.After(s.End) {
		fs.Add(fmt.Sprintf("session.periods[%d].start", n-1), "the last charging period starts after the session ends")
	}
	return fs.Err()
}

// pow10 holds 10^0 … 10^63 for add.
var refPow10 = func() (p [64]*big.Int) {
	v := big.NewInt(1)
	for i := range p {
		p[i] = new(big.Int).Set(v)
		v.Mul(v, big.NewInt(10))
	}
	return p
}()

// pow10i holds 10^0 … 10^18.
var refPow10i = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// add returns a + b exactly. It is decimal.Add with a fast path for
// coefficients that fit in an int64 and without decimal's per-call
// big.Int.Exp when exponents differ: these additions dominate pricing time.
func refAdd(a, b decimal.Decimal) decimal.Decimal {
	switch {
	case b.IsZero():
		return a
	case a.IsZero():
		return b
	}
	ea, eb := a.Exponent(), b.Exponent()
	ca, da, oka := refSmall(a)
	cb, db, okb := refSmall(b)
	if oka && okb {
		if ea >= eb && da+int(ea-eb) <= 17 {
			return decimal.New(ca*refPow10i[ea-eb]+cb, eb)
		}
		if eb > ea && db+int(eb-ea) <= 17 {
			return decimal.New(cb*refPow10i[eb-ea]+ca, ea)
		}
	}
	if ea == eb || ea-eb >= 64 || eb-ea >= 64 {
		return a.Add(b)
	}
	ba, bb := a.Coefficient(), b.Coefficient()
	if ea > eb {
		ba.Mul(ba, refPow10[ea-eb])
		ea = eb
	} else {
		bb.Mul(bb, refPow10[eb-ea])
	}
	return decimal.NewFromBigInt(ba.Add(ba, bb), ea)
}

// small returns the coefficient of d and its number of digits when it has
// at most 17 digits. decimal.NumDigits is avoided: above 2^53 it computes
// a power of ten with big.Int.Exp.
func refSmall(d decimal.Decimal) (int64, int, bool) {
	c := d.CoefficientInt64()
	if c > -(1<<53) && c < 1<<53 {
		// Int64 returns the low 64 bits: a small result is the value only
		// when the coefficient really is small, which NumDigits confirms
		// cheaply (its float fast path) for such values.
		if n := d.NumDigits(); n <= 16 {
			return c, n, true
		}
	}
	return 0, 0, false
}

// sub returns a - b exactly (see add).
func refSub(a, b decimal.Decimal) decimal.Decimal {
	if b.IsZero() {
		return a
	}
	return refAdd(a, b.Neg())
}

// mul returns a × b exactly, with an int64 fast path.
func refMul(a, b decimal.Decimal) decimal.Decimal {
	ca, da, oka := refSmall(a)
	cb, db, okb := refSmall(b)
	if oka && okb && da+db <= 18 {
		return decimal.New(ca*cb, a.Exponent()+b.Exponent())
	}
	return a.Mul(b)
}

func refAddAmount(a, b Amount) Amount {
	return Amount{ExclVAT: refAdd(a.ExclVAT, b.ExclVAT), InclVAT: refAdd(a.InclVAT, b.InclVAT)}
}

// hours converts a duration to decimal hours.
func refHours(d time.Duration) decimal.Decimal {
	if d%time.Second == 0 {
		return decimal.NewFromInt(int64(d/time.Second)).DivRound(refHour, refDivPrecision)
	}
	return decimal.New(int64(d), -9).DivRound(refHour, refDivPrecision)
}

// cut is an instant inside a period where the period is split. frac is the
// elapsed share of the period; when energyExact is set, energy is the exact
// session energy at the cut (a min_kwh/max_kwh boundary).
type refCut struct {
	at          time.Time
	frac        decimal.Decimal // only for energy cuts
	energy      decimal.Decimal
	energyExact bool
}

// split appends the parts of period p (which ends at end) to parts. before
// is the session energy at the start of the period.
func (pl *refPlan) split(parts []Part, idx int, p *Period, end time.Time, before decimal.Decimal) []Part {
	var cuts []refCut
	span := end.Sub(p.Start)
	if span > 0 {
		addAt := func(t time.Time) {
			if t.After(p.Start) && t.Before(end) {
				cuts = append(cuts, refCut{at: t})
			}
		}
		if len(pl.clocks) > 0 {
			ls, le := p.Start.In(pl.loc), end.In(pl.loc)
			// Daylight saving transitions inside the period: the local clock
			// jumps there, so a time-of-day restriction can change outcome
			// at the transition itself (a start_time inside a skipped hour
			// starts to hold at the jump; a repeated hour is seen twice).
			var shifts []time.Duration
			for t := ls; ; {
				_, zend := t.ZoneBounds()
				if zend.IsZero() || !zend.Before(end) {
					break
				}
				_, before := t.Zone()
				_, after := zend.In(pl.loc).Zone()
				addAt(zend)
				shifts = append(shifts, time.Duration(after-before)*time.Second)
				t = zend.In(pl.loc)
			}
			y, m, d := ls.Date()
			for k := 0; ; k++ {
				if time.Date(y, m, d+k, 0, 0, 0, 0, pl.loc).After(le) {
					break
				}
				for _, c := range pl.clocks {
					t := time.Date(y, m, d+k, int(c)/60, int(c)%60, 0, 0, pl.loc)
					if refClockOf(t) != c {
						continue // inside a skipped hour: the transition cut covers it
					}
					addAt(t)
					for _, sh := range shifts {
						for _, alt := range [...]time.Time{t.Add(sh), t.Add(-sh)} {
							if refClockOf(alt.In(pl.loc)) == c && alt.In(pl.loc).Day() == t.Day() {
								addAt(alt)
							}
						}
					}
				}
			}
		}
		for _, s := range pl.durations {
			addAt(pl.sessionBeg.Add(time.Duration(s) * time.Second))
		}
		if !p.Energy.IsZero() {
			for _, k := range pl.kwhs {
				f := k.Sub(before).DivRound(p.Energy, refDivPrecision)
				if f.Sign() > 0 && f.LessThan(refOne) {
					at := p.Start.Add(time.Duration(decimal.NewFromInt(int64(span)).Mul(f).Round(0).IntPart()))
					cuts = append(cuts, refCut{at: at, frac: f, energy: k, energyExact: true})
				}
			}
		}
	}
	base := Part{Period: idx, Volumes: *p, End: end, EnergyBefore: before}
	if len(cuts) == 0 {
		pl.context(&base)
		return append(parts, base)
	}
	sort.Slice(cuts, func(i, j int) bool {
		if !cuts[i].at.Equal(cuts[j].at) {
			return cuts[i].at.Before(cuts[j].at)
		}
		return cuts[i].energyExact && !cuts[j].energyExact
	})
	merged := cuts[:1]
	for _, c := range cuts[1:] {
		if !c.at.Equal(merged[len(merged)-1].at) {
			merged = append(merged, c)
		}
	}
	// Divide the additive volumes in proportion; the last part takes the
	// remainder so that the parts add up exactly to the period.
	var doneE, doneT, doneP, doneR decimal.Decimal
	start := p.Start
	for i := 0; i <= len(merged); i++ {
		q := base
		q.Split = true
		q.Volumes.Start = start
		q.EnergyBefore = refAdd(before, doneE)
		if i == len(merged) {
			q.End = end
			q.Volumes.Energy = refSub(p.Energy, doneE)
			q.Volumes.Time = refSub(p.Time, doneT)
			q.Volumes.ParkingTime = refSub(p.ParkingTime, doneP)
			q.Volumes.ReservationTime = refSub(p.ReservationTime, doneR)
		} else {
			c := merged[i]
			q.End = c.at
			num, den := int64(c.at.Sub(p.Start)), int64(span)
			shareOf := func(v decimal.Decimal) decimal.Decimal {
				if c.energyExact {
					return refShare(v, c.frac)
				}
				return refShareTime(v, num, den)
			}
			e := shareOf(p.Energy)
			if c.energyExact {
				e = refSub(c.energy, before)
			}
			tt, pp, rr := shareOf(p.Time), shareOf(p.ParkingTime), shareOf(p.ReservationTime)
			q.Volumes.Energy, q.Volumes.Time = refSub(e, doneE), refSub(tt, doneT)
			q.Volumes.ParkingTime, q.Volumes.ReservationTime = refSub(pp, doneP), refSub(rr, doneR)
			doneE, doneT, doneP, doneR = e, tt, pp, rr
			start = c.at
		}
		pl.context(&q)
		parts = append(parts, q)
	}
	return parts
}

// share returns v × frac to sharePrecision digits (zero stays zero).
func refShare(v, frac decimal.Decimal) decimal.Decimal {
	if v.IsZero() {
		return v
	}
	return v.Mul(frac).Round(refSharePrecision)
}

// shareTime returns v × num / den to sharePrecision digits, rounded half
// away from zero, using 128-bit integer arithmetic when it fits.
func refShareTime(v decimal.Decimal, num, den int64) decimal.Decimal {
	if v.IsZero() {
		return v
	}
	scale := int(v.Exponent()) + refSharePrecision
	if scale >= 0 && v.NumDigits()+scale <= 18 && num >= 0 && den > 0 {
		c := v.CoefficientInt64()
		neg := c < 0
		if neg {
			c = -c
		}
		hi, lo := bits.Mul64(uint64(c*refPow10i[scale]), uint64(num))
		if hi < uint64(den) {
			q, r := bits.Div64(hi, lo, uint64(den))
			if r >= uint64(den)-r {
				q++
			}
			if q < 1<<63 {
				out := int64(q)
				if neg {
					out = -out
				}
				return decimal.New(out, -refSharePrecision)
			}
		}
	}
	f := decimal.NewFromInt(num).DivRound(decimal.NewFromInt(den), refDivPrecision)
	return refShare(v, f)
}

// clockOf returns the local time of day of t in whole minutes, and -1 when
// t is not on a whole minute.
func refClockOf(t time.Time) Clock {
	if t.Second() != 0 || t.Nanosecond() != 0 {
		return -1
	}
	return Clock(t.Hour()*60 + t.Minute())
}

// context fills in the evaluation instant of a part.
func (pl *refPlan) context(q *Part) {
	q.Local = q.Volumes.Start.In(pl.loc)
	q.Elapsed = q.Volumes.Start.Sub(pl.sessionBeg)
}

// line selects the price component for dimension d of part p: the first
// candidate element whose restrictions match (mod_tariffs "Tariff Object").
// ok is false when no element matched; the returned line is then unpriced.
func (pl *refPlan) line(p *Part, d Dimension, reservation bool) (Line, bool) {
	l := Line{Dimension: d, Reservation: reservation, Element: -1, Component: -1}
	if d == Flat {
		l.Volume = refOne
	} else {
		l.Volume = p.Volumes.volume(d, reservation)
	}
	l.Billed = l.Volume
	for _, c := range pl.cands[refKeyOf(d, reservation)] {
		e := &pl.t.Elements[c.elem]
		if !refMatches(e.Restrictions, p) {
			continue
		}
		comp := &e.Components[c.comp]
		l.Element, l.Component = c.elem, c.comp
		l.UnitPrice, l.VAT, l.StepSize = comp.Price, comp.VAT, comp.StepSize
		return l, true
	}
	return l, false
}

// vat returns 1 + vat/100 for a component with VAT, computed once per call.
func (pl *refPlan) vat(e, c int) decimal.Decimal {
	f := pl.vatFactor[e]
	if f == nil {
		f = make([]decimal.Decimal, len(pl.t.Elements[e].Components))
		pl.vatFactor[e] = f
	}
	if f[c].IsZero() {
		f[c] = refAdd(pl.t.Elements[e].Components[c].VAT.Shift(-2), refOne)
	}
	return f[c]
}

// applySteps applies step_size once for ENERGY, once for TIME and
// PARKING_TIME combined and once for reservation time (mod_cdrs "step_size"):
// the last priced line of the group determines the dimension and the
// component whose step_size is used; the total volume of that dimension
// billed in the session is rounded up to a multiple of the step, and the
// difference is billed on that last line.
func refApplySteps(parts []Part, steps []Step) []Step {
	type group struct {
		dims        [2]Dimension
		reservation bool
	}
	for _, g := range [...]group{{[2]Dimension{Energy, Energy}, false}, {[2]Dimension{Time, ParkingTime}, false}, {[2]Dimension{Time, Time}, true}} {
		// Find the last priced line with volume; within one part, parking
		// wins ("step_size is only taken into account for the total
		// parking duration").
		lp, ll := -1, -1
		for i := len(parts) - 1; i >= 0 && lp < 0; i-- {
			for j := range parts[i].Lines {
				l := &parts[i].Lines[j]
				if l.Element < 0 || l.Reservation != g.reservation || l.Dimension == Flat || l.Volume.IsZero() ||
					(l.Dimension != g.dims[0] && l.Dimension != g.dims[1]) {
					continue
				}
				if lp < 0 || l.Dimension == ParkingTime {
					lp, ll = i, j
				}
			}
		}
		if lp < 0 {
			continue
		}
		last := &parts[lp].Lines[ll]
		total := decimal.Zero
		for i := range parts {
			for j := range parts[i].Lines {
				l := &parts[i].Lines[j]
				if l.Element >= 0 && l.Reservation == g.reservation && l.Dimension == last.Dimension {
					total = refAdd(total, l.Volume)
				}
			}
		}
		billed := refRoundUp(total, last.Dimension, last.StepSize)
		last.Billed = refAdd(last.Volume, refSub(billed, total))
		steps = append(steps, Step{Dimension: last.Dimension, Reservation: g.reservation, StepSize: last.StepSize,
			Total: total, Billed: billed, Part: lp, Line: ll})
	}
	return steps
}

// roundUp rounds a positive total volume (kWh or hours) up to the smallest
// multiple of step Wh or seconds that is not smaller (PriceComponent
// "step_size": "Consumed amounts are rounded up to the smallest multiple of
// step_size that is greater than the consumed amount"; an exact multiple is
// not rounded further). Step sizes below 1 and non-positive totals are left as they are.
func refRoundUp(total decimal.Decimal, d Dimension, step int64) decimal.Decimal {
	if step < 1 || total.Sign() <= 0 {
		return total
	}
	st := decimal.NewFromInt(step)
	if d == Energy {
		wh := total.Shift(3) // kWh → Wh, step_size multiplier 1 Wh
		if r := wh.Mod(st); !r.IsZero() {
			wh = wh.Sub(r).Add(st)
		}
		return wh.Shift(-3)
	}
	secs := total.Mul(refHour) // hours → seconds, step_size multiplier 1 second
	r := secs.Mod(st)
	if r.IsZero() {
		return total
	}
	return secs.Sub(r).Add(st).DivRound(refHour, refDivPrecision)
}

// applyLimits applies min_price and max_price to the total, excluding and
// including VAT independently (mod_tariffs, notes on min_price and
// max_price: "they both apply").
func refApplyLimits(r *Result, t *Tariff) {
	var minAdj, maxAdj Amount
	var minSet, maxSet bool
	if m := t.MinPrice; m != nil {
		if r.TotalCost.ExclVAT.LessThan(m.ExclVAT) {
			minAdj.ExclVAT, minSet = m.ExclVAT.Sub(r.TotalCost.ExclVAT), true
		}
		if m.InclVAT == nil {
			if minSet {
				r.Warnings = append(r.Warnings, "min_price has no incl_vat: the total including VAT is not raised")
			}
		} else if r.TotalCost.InclVAT.LessThan(*m.InclVAT) {
			minAdj.InclVAT, minSet = m.InclVAT.Sub(r.TotalCost.InclVAT), true
		}
	}
	if m := t.MaxPrice; m != nil {
		if r.TotalCost.ExclVAT.GreaterThan(m.ExclVAT) {
			maxAdj.ExclVAT, maxSet = m.ExclVAT.Sub(r.TotalCost.ExclVAT), true
		}
		if m.InclVAT == nil {
			if maxSet {
				r.Warnings = append(r.Warnings, "max_price has no incl_vat: the total including VAT is not capped")
			}
		} else if r.TotalCost.InclVAT.GreaterThan(*m.InclVAT) {
			maxAdj.InclVAT, maxSet = m.InclVAT.Sub(r.TotalCost.InclVAT), true
		}
	}
	if minSet {
		r.Adjustments = append(r.Adjustments, Adjustment{Reason: "min_price", Amount: minAdj})
		r.TotalCost = r.TotalCost.Add(minAdj)
	}
	if maxSet {
		r.Adjustments = append(r.Adjustments, Adjustment{Reason: "max_price", Amount: maxAdj})
		r.TotalCost = r.TotalCost.Add(maxAdj)
	}
}

func refMatches(r *Restrictions, p *Part) bool {
	if r == nil {
		return true
	}
	if r.StartTime != nil || r.EndTime != nil {
		if !refTimeOfDayOK(r, p.Local) {
			return false
		}
	}
	if r.StartDate != nil || r.EndDate != nil {
		d := refLocalDate(p.Local)
		if r.StartDate != nil && d.cmp(*r.StartDate) < 0 {
			return false
		}
		if r.EndDate != nil && d.cmp(*r.EndDate) >= 0 {
			return false
		}
	}
	if len(r.DaysOfWeek) > 0 && !refHasDay(r.DaysOfWeek, p.Local.Weekday()) {
		return false
	}
	if r.MinKWh != nil && p.EnergyBefore.LessThan(*r.MinKWh) {
		return false
	}
	if r.MaxKWh != nil && !p.EnergyBefore.LessThan(*r.MaxKWh) {
		return false
	}
	if r.MinDuration != nil && p.Elapsed < time.Duration(*r.MinDuration)*time.Second {
		return false
	}
	if r.MaxDuration != nil && p.Elapsed >= time.Duration(*r.MaxDuration)*time.Second {
		return false
	}
	if r.MinCurrent != nil || r.MaxCurrent != nil {
		if ok, _ := refMatchRange(r.MinCurrent, r.MaxCurrent, p.Volumes.MinCurrent, p.Volumes.MaxCurrent); !ok {
			return false
		}
	}
	if r.MinPower != nil || r.MaxPower != nil {
		if ok, _ := refMatchRange(r.MinPower, r.MaxPower, p.Volumes.MinPower, p.Volumes.MaxPower); !ok {
			return false
		}
	}
	return true
}

// timeOfDayOK evaluates start_time (inclusive) and end_time (exclusive) at
// local instant t. end_time 00:00 is the end of the day; end_time before
// start_time wraps past midnight (mod_tariffs "TariffRestrictions class",
// end_time). start_time equal to end_time covers the whole day.
func refTimeOfDayOK(r *Restrictions, t time.Time) bool {
	sod := t.Hour()*3600 + t.Minute()*60 + t.Second()
	start, end := 0, 86400
	if r.StartTime != nil {
		start = int(*r.StartTime) * 60
	}
	if r.EndTime != nil && *r.EndTime != 0 {
		end = int(*r.EndTime) * 60
	}
	if end > start {
		return sod >= start && sod < end
	}
	return sod >= start || sod < end
}

// matchRange evaluates a min (inclusive) / max (exclusive) restriction on
// current or power. min is compared with the period's MIN_* value and max
// with its MAX_* value, so the restriction holds for the whole period (the
// reading of the complex tariff example in mod_tariffs). When a period
// reports only one of the two, that value stands for both; when it reports
// neither, the restriction cannot be shown to hold and does not match.
// The string explains the outcome.
func refMatchRange(min, max, pmin, pmax *decimal.Decimal) (bool, string) {
	lo, hi := pmin, pmax
	if lo == nil {
		lo = hi
	}
	if hi == nil {
		hi = lo
	}
	if lo == nil {
		return false, "the period reports no value"
	}
	if min != nil && lo.LessThan(*min) {
		return false, fmt.Sprintf("minimum %s < %s", lo, min)
	}
	if max != nil && !hi.LessThan(*max) {
		return false, fmt.Sprintf("maximum %s >= %s", hi, max)
	}
	var parts []string
	if min != nil {
		parts = append(parts, fmt.Sprintf("minimum %s >= %s", lo, min))
	}
	if max != nil {
		parts = append(parts, fmt.Sprintf("maximum %s < %s", hi, max))
	}
	return true, strings.Join(parts, ", ")
}

func refLocalDate(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

func refHasDay(days []time.Weekday, d time.Weekday) bool {
	for _, x := range days {
		if x == d {
			return true
		}
	}
	return false
}

// BenchmarkPriceReference prices the typical mix with the reference
// engine, for a before/after comparison under the same load.
func BenchmarkPriceReference(b *testing.B) {
	cs := typicalCDRs()
	b.ReportAllocs()
	i := 0
	cpu := processCPU()
	for b.Loop() {
		c := &cs[i%len(cs)]
		if _, err := refPrice(c.tariff, c.session, c.loc); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportThroughput(b, processCPU()-cpu)
}
