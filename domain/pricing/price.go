package pricing

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/fault"
)

var (
	hour    = decimal.NewFromInt(3600)
	hundred = decimal.NewFromInt(100)
	one     = decimal.NewFromInt(1)
	// numOne is one as a num (FLAT volume; 1 + vat/100).
	numOne = numOf(one)
	// numZero1 is decimal.Zero (exponent 1), the start of the session's
	// energy and of step totals.
	numZero1 = numOf(decimal.Zero)
	// numZero is the zero Decimal{}, the start of every cost total.
	numZero = num{zv: true}
)

// divPrecision is the number of fractional digits kept when a division is
// unavoidable (hours from seconds). Far below any currency unit; OCPI itself
// prescribes no rounding.
const divPrecision = 20

// sharePrecision is the number of fractional digits of the cumulative
// volumes at a cut inside a period (1e-12 kWh or hours, i.e. 3.6 ns): a
// proportional split is an interpolation, and the last part takes the
// remainder, so the parts still add up exactly to the period's volumes.
const sharePrecision = 12

// pow10i holds 10^0 … 10^18.
var pow10i = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// Price prices session s with tariff t; restrictions are evaluated in loc
// (nil means UTC). See the package documentation for the rules applied.
// It compiles t on every call; to price many sessions with one tariff,
// Compile it once and use Compiled.Price (same results).
func Price(t Tariff, s Session, loc *time.Location) (Result, error) {
	if err := check(&t, &s); err != nil {
		return Result{}, err
	}
	ct := compiledPool.Get().(*Compiled)
	ct.reset(t)
	res := ct.price(&s, loc)
	ct.release()
	compiledPool.Put(ct)
	return res, nil
}

// Price prices session s with the compiled tariff; restrictions are
// evaluated in loc (nil means UTC). The result is identical to
// pricing.Price with the tariff c was compiled from.
func (c *Compiled) Price(s Session, loc *time.Location) (Result, error) {
	var fs fault.Fields
	checkSession(&s, &fs)
	if err := fs.Err(); err != nil {
		return Result{}, err
	}
	return c.price(&s, loc), nil
}

// check validates the input; errors are fault.KindInvalid.
func check(t *Tariff, s *Session) error {
	var fs fault.Fields
	checkTariff(t, &fs)
	checkSession(s, &fs)
	return fs.Err()
}

func checkSession(s *Session, fs *fault.Fields) {
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
}

// periodWork is a charging period's volumes as nums.
type periodWork struct {
	energy, time, parking, resv    num
	minCur, maxCur, minPow, maxPow *num
	vals                           [4]num
	// before is the session energy at the period's start, end the
	// period's end; w.allCuts[cutsFrom:cutsTo] are its cuts.
	before           num
	end              time.Time
	cutsFrom, cutsTo int
}

// partWork is a part's volumes as nums and its evaluation context.
type partWork struct {
	energy, time, parking, resv num
	before                      num
	local                       local
	// first and n locate the part's lines in work.lines.
	first, n int
}

// lineWork is a line's volumes and amounts as nums.
type lineWork struct {
	volume, billed num
	excl, incl     num
	// comp is the component used (nil: unpriced), at elem and compIdx
	// (-1 when unpriced).
	comp          *compiledComponent
	elem, compIdx int
	dim           Dimension
	reservation   bool
}

// amountNum is an Amount as nums.
type amountNum struct{ excl, incl num }

// add adds b to a (nAdd semantics).
func (a *amountNum) add(b *amountNum) {
	addTo(&a.excl, &b.excl)
	addTo(&a.incl, &b.incl)
}

// addTo is *a = nAdd(*a, *b), without copying when an operand is zero.
func addTo(a, b *num) {
	switch {
	case b.isZero():
	case a.isZero():
		*a = *b
	default:
		*a = nAddExact(*a, *b)
	}
}

func (a *amountNum) materialize(s *decimalSlab) Amount {
	return Amount{ExclVAT: a.excl.materialize(s), InclVAT: a.incl.materialize(s)}
}

// cut is an instant inside a period where the period is split. frac is the
// elapsed share of the period; when energyExact is set, energy is the exact
// session energy at the cut (a min_kwh/max_kwh boundary).
type cut struct {
	at          time.Time
	frac        num // only for energy cuts
	energy      num
	energyExact bool
}

// dateMemo remembers one time.Date result of a pricing call, and whether
// its local clock shows the minute asked for (not so in a skipped hour).
type dateMemo struct {
	day    int64
	minute Clock
	t      time.Time
	ok     bool
}

// work holds a pricing call's scratch space; pooled.
type work struct {
	periods []periodWork
	parts   []partWork
	lines   []lineWork
	steps   []Step
	cuts    []cut
	allCuts []cut
	shifts  []time.Duration
	dates   []dateMemo
	loc     *time.Location
	// slab makes the Result's decimals; a new one for every call.
	slab decimalSlab
}

var workPool = sync.Pool{New: func() any { return new(work) }}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// price prices a checked session.
func (ct *Compiled) price(s *Session, loc *time.Location) Result {
	if loc == nil {
		loc = time.UTC
	}
	t := &ct.t
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
	cands := &ct.cands
	if expired {
		cands = &ct.expired
	}

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

	w := workPool.Get().(*work)
	defer w.release()
	w.loc = loc
	w.periods = grow(w.periods, len(s.Periods))
	for i := range s.Periods {
		w.periods[i].set(&s.Periods[i])
	}

	// 1. Split the periods at every instant a restriction can change: find
	// the cuts, then fill the parts (counted first, so that Parts is
	// allocated once at its size).
	energy, parking := numZero1, numZero
	w.cuts, w.allCuts = w.cuts[:0], w.allCuts[:0]
	nparts := 0
	for i := range s.Periods {
		pv := &w.periods[i]
		pv.before, pv.end = energy, s.End
		if i+1 < len(s.Periods) {
			pv.end = s.Periods[i+1].Start
		}
		ct.cutPeriod(w, i, &s.Periods[i], s.Start)
		nparts += pv.cutsTo - pv.cutsFrom + 1
		addTo(&energy, &pv.energy)
		addTo(&parking, &pv.parking)
	}
	parts := make([]Part, 0, nparts)
	// A result needs about 4 + 7 decimals per part (volumes of split parts,
	// line amounts, totals); more come in a second block.
	w.slab.chunk = 4 + 7*nparts
	for i := range s.Periods {
		parts = ct.split(w, parts, i, &s.Periods[i], s.Start)
	}
	res.TotalEnergy = energy.materialize(&w.slab)
	res.TotalParkingTime = parking.materialize(&w.slab)

	// 2. Select a price component per part and dimension (into w.lines;
	// the Lines are made in step 4).
	w.lines = w.lines[:0]
	flatDone, resFlatDone := expired, !hasRes
	for i := range parts {
		p, pw := &parts[i], &w.parts[i]
		pv := &w.periods[p.Period]
		p.elements = t.Elements
		first := len(w.lines)
		resOnly := !pw.resv.isZero() && !p.Volumes.charging()
		if !flatDone && !resOnly {
			// FLAT once per session: the first part with an active FLAT.
			flatDone = ct.line(w, cands[keyFlat], p, pw, pv, Flat, false)
		}
		if !resFlatDone && !pw.resv.isZero() {
			resFlatDone = ct.line(w, cands[keyResFlat], p, pw, pv, Flat, true)
		}
		if !pw.resv.isZero() {
			ct.line(w, cands[keyResTime], p, pw, pv, Time, true)
		}
		if !pw.energy.isZero() {
			ct.line(w, cands[keyEnergy], p, pw, pv, Energy, false)
		}
		if !pw.time.isZero() {
			ct.line(w, cands[keyTime], p, pw, pv, Time, false)
		}
		if !pw.parking.isZero() {
			ct.line(w, cands[keyParking], p, pw, pv, ParkingTime, false)
		}
		pw.first, pw.n = first, len(w.lines)-first
	}

	// 3. step_size, once per group (mod_cdrs "step_size").
	res.Steps = applySteps(len(parts), w)

	// 4. Amounts and totals. TotalCost is the sum of the category totals,
	// which are the sums of their lines.
	var fixed, en, tm, pk, rs amountNum
	for _, a := range [...]*amountNum{&fixed, &en, &tm, &pk, &rs} {
		*a = amountNum{numZero, numZero}
	}
	// The lines of all parts share one backing array.
	backing := make([]Line, len(w.lines))
	for i := range parts {
		pw := &w.parts[i]
		parts[i].Lines = backing[pw.first : pw.first+pw.n : pw.first+pw.n]
	}
	for i := range backing {
		l, lw := &backing[i], &w.lines[i]
		l.Dimension, l.Reservation, l.Element, l.Component = lw.dim, lw.reservation, lw.elem, lw.compIdx
		if lw.comp != nil {
			l.UnitPrice, l.VAT, l.StepSize = lw.comp.c.Price, lw.comp.c.VAT, lw.comp.c.StepSize
		}
		l.Volume = lw.volume.materialize(&w.slab)
		l.Billed = lw.billed.materialize(&w.slab)
		a := amountNum{numZero, numZero}
		if l.Element >= 0 {
			lw.excl = nMul(lw.billed, lw.comp.price)
			l.Amount.ExclVAT = lw.excl.materialize(&w.slab)
			lw.incl = lw.excl
			if l.VAT != nil {
				// "Applicable VAT percentage for this tariff dimension. If
				// omitted, no VAT is applicable." (PriceComponent class)
				lw.incl = nMul(lw.excl, lw.comp.vatFactor)
				l.Amount.InclVAT = lw.incl.materialize(&w.slab)
			} else {
				l.Amount.InclVAT = l.Amount.ExclVAT
			}
			a = amountNum{lw.excl, lw.incl}
		}
		var tot *amountNum
		switch {
		case l.Reservation:
			tot = &rs
		case l.Dimension == Flat:
			tot = &fixed
		case l.Dimension == Energy:
			tot = &en
		case l.Dimension == Time:
			tot = &tm
		default:
			tot = &pk
		}
		tot.add(&a)
	}
	res.TotalFixedCost, res.TotalEnergyCost, res.TotalTimeCost = fixed.materialize(&w.slab), en.materialize(&w.slab), tm.materialize(&w.slab)
	res.TotalParkingCost, res.TotalReservationCost = pk.materialize(&w.slab), rs.materialize(&w.slab)
	total := amountNum{numZero, numZero}
	for _, a := range [...]amountNum{fixed, en, tm, pk, rs} {
		total.add(&a)
	}
	res.Parts = parts
	res.TotalTime = w.hours(s.End.Sub(s.Start))
	ct.applyLimits(w, &res, total)
	return res
}

// release returns the scratch space to the pool. Its slices still refer
// to the last call's decimals until the next call overwrites them, or the
// pool drops the scratch space at a garbage collection; clearing them
// costs more than the memory is worth.
func (w *work) release() {
	w.parts, w.cuts, w.shifts, w.dates, w.loc = w.parts[:0], w.cuts[:0], w.shifts[:0], w.dates[:0], nil
	w.slab = decimalSlab{}
	workPool.Put(w)
}

// set converts the period's volumes.
func (pv *periodWork) set(p *Period) {
	pv.energy, pv.time, pv.parking, pv.resv = numOf(p.Energy), numOf(p.Time), numOf(p.ParkingTime), numOf(p.ReservationTime)
	opt := func(d *decimal.Decimal, i int) *num {
		if d == nil {
			return nil
		}
		pv.vals[i] = numOf(*d)
		return &pv.vals[i]
	}
	pv.minCur, pv.maxCur, pv.minPow, pv.maxPow = opt(p.MinCurrent, 0), opt(p.MaxCurrent, 1), opt(p.MinPower, 2), opt(p.MaxPower, 3)
}

// hours converts a duration to decimal hours (divPrecision digits, half up).
func (w *work) hours(d time.Duration) decimal.Decimal {
	if d >= 0 {
		mul := uint64(1e9)
		x := uint64(d)
		if d%time.Second == 0 {
			mul, x = 1e18, uint64(d/time.Second)
		}
		if n, ok := hoursOf(x, mul); ok {
			return n.materialize(&w.slab)
		}
	}
	if d%time.Second == 0 {
		return decimal.NewFromInt(int64(d/time.Second)).DivRound(hour, divPrecision)
	}
	return decimal.New(int64(d), -9).DivRound(hour, divPrecision)
}

// dateAt is time.Date(y, m, d, c/60, c%60, 0, 0, w.loc), remembered for the
// pricing call (periods of one session ask for the same local instants).
func (w *work) dateAt(y int, m time.Month, d int, c Clock) (time.Time, bool) {
	day := daysFromCivil(y, m, d)
	for i := range w.dates {
		if w.dates[i].day == day && w.dates[i].minute == c {
			return w.dates[i].t, w.dates[i].ok
		}
	}
	t := time.Date(y, m, d, int(c)/60, int(c)%60, 0, 0, w.loc)
	ok := clockOf(t) == c
	w.dates = append(w.dates, dateMemo{day: day, minute: c, t: t, ok: ok})
	return t, ok
}

// daysFromCivil numbers the date y-m-d (m in 1..12, d may exceed the
// month, as time.Date allows) by days, for dateAt's memo.
func daysFromCivil(y int, m time.Month, d int) int64 {
	yy, mm := int64(y), int64(m)
	if mm <= 2 {
		yy--
	}
	era := yy / 400
	if yy < 0 && yy%400 != 0 {
		era--
	}
	yoe := yy - era*400
	doy := (153*((mm+9)%12)+2)/5 + int64(d) - 1
	return era*146097 + yoe*365 + yoe/4 - yoe/100 + doy
}

// civilFromDays is the proleptic Gregorian date of days since 1970-01-01
// (inverse of daysFromCivil up to the 1970 offset).
func civilFromDays(z int64) (int, time.Month, int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), time.Month(m), int(d)
}

// cutPeriod finds the instants inside period idx at which it must be
// split (see "Period splitting" in the package documentation) and appends
// them, sorted and without duplicates, to w.allCuts.
func (ct *Compiled) cutPeriod(w *work, idx int, p *Period, sessionBeg time.Time) {
	pv := &w.periods[idx]
	end, before := pv.end, &pv.before
	cuts := w.cuts[:0]
	span := end.Sub(p.Start)
	if span > 0 {
		addAt := func(t time.Time) {
			if t.After(p.Start) && t.Before(end) {
				cuts = append(cuts, cut{at: t})
			}
		}
		if len(ct.clocks) > 0 {
			loc := w.loc
			ls, le := p.Start.In(loc), end.In(loc)
			// Daylight saving transitions inside the period: the local clock
			// jumps there, so a time-of-day restriction can change outcome
			// at the transition itself (a start_time inside a skipped hour
			// starts to hold at the jump; a repeated hour is seen twice).
			shifts := w.shifts[:0]
			for t := ls; ; {
				_, zend := t.ZoneBounds()
				if zend.IsZero() || !zend.Before(end) {
					break
				}
				_, before := t.Zone()
				_, after := zend.In(loc).Zone()
				addAt(zend)
				shifts = append(shifts, time.Duration(after-before)*time.Second)
				t = zend.In(loc)
			}
			w.shifts = shifts
			y, m, d := ls.Date()
			for k := 0; ; k++ {
				if midnight, _ := w.dateAt(y, m, d+k, 0); midnight.After(le) {
					break
				}
				for _, c := range ct.clocks {
					t, ok := w.dateAt(y, m, d+k, c)
					if !ok {
						continue // inside a skipped hour: the transition cut covers it
					}
					addAt(t)
					for _, sh := range shifts {
						for _, alt := range [...]time.Time{t.Add(sh), t.Add(-sh)} {
							if clockOf(alt.In(loc)) == c && alt.In(loc).Day() == t.Day() {
								addAt(alt)
							}
						}
					}
				}
			}
		}
		for _, s := range ct.durations {
			addAt(sessionBeg.Add(time.Duration(s) * time.Second))
		}
		if !pv.energy.isZero() {
			for _, k := range ct.kwhs {
				f := nDivRound(nSubExact(k, *before), pv.energy, divPrecision)
				if f.sign() > 0 && nCmp(f, numOne) < 0 {
					at := p.Start.Add(time.Duration(intPart(nRound(nMul(numInt(int64(span), 0), f), 0))))
					cuts = append(cuts, cut{at: at, frac: f, energy: k, energyExact: true})
				}
			}
		}
	}
	w.cuts = cuts
	pv.cutsFrom = len(w.allCuts)
	if len(cuts) > 0 {
		sortCuts(cuts)
		w.allCuts = append(w.allCuts, cuts[0])
		for _, c := range cuts[1:] {
			if !c.at.Equal(w.allCuts[len(w.allCuts)-1].at) {
				w.allCuts = append(w.allCuts, c)
			}
		}
	}
	pv.cutsTo = len(w.allCuts)
}

// split appends the parts of period idx to parts, and their work to
// w.parts: the period itself when it has no cuts, else one part per
// interval between its cuts.
func (ct *Compiled) split(w *work, parts []Part, idx int, p *Period, sessionBeg time.Time) []Part {
	pv := &w.periods[idx]
	end, before := pv.end, &pv.before
	merged := w.allCuts[pv.cutsFrom:pv.cutsTo]
	base := Part{Period: idx, Volumes: *p, End: end, EnergyBefore: before.materialize(&w.slab)}
	if len(merged) == 0 {
		parts = append(parts, base)
		q := &parts[len(parts)-1]
		pw := partWork{energy: pv.energy, time: pv.time, parking: pv.parking, resv: pv.resv, before: *before}
		ct.context(q, &pw, w.loc, sessionBeg)
		w.parts = append(w.parts, pw)
		return parts
	}
	span := end.Sub(p.Start)
	// Divide the additive volumes in proportion; the last part takes the
	// remainder so that the parts add up exactly to the period.
	doneE, doneT, doneP, doneR := numZero, numZero, numZero, numZero
	start := p.Start
	for i := 0; i <= len(merged); i++ {
		parts = append(parts, base)
		q := &parts[len(parts)-1]
		q.Split = true
		q.Volumes.Start = start
		pw := partWork{before: nAdd(*before, doneE)}
		if i == len(merged) {
			q.End = end
			pw.energy = nSub(pv.energy, doneE)
			pw.time = nSub(pv.time, doneT)
			pw.parking = nSub(pv.parking, doneP)
			pw.resv = nSub(pv.resv, doneR)
		} else {
			c := &merged[i]
			q.End = c.at
			nu, de := int64(c.at.Sub(p.Start)), int64(span)
			shareOf := func(v num) num {
				if c.energyExact {
					return share(v, c.frac)
				}
				return shareTime(v, nu, de)
			}
			e := shareOf(pv.energy)
			if c.energyExact {
				e = nSub(c.energy, *before)
			}
			tt, pp, rr := shareOf(pv.time), shareOf(pv.parking), shareOf(pv.resv)
			pw.energy, pw.time = nSub(e, doneE), nSub(tt, doneT)
			pw.parking, pw.resv = nSub(pp, doneP), nSub(rr, doneR)
			doneE, doneT, doneP, doneR = e, tt, pp, rr
			start = c.at
		}
		q.Volumes.Energy, q.Volumes.Time = pw.energy.materialize(&w.slab), pw.time.materialize(&w.slab)
		q.Volumes.ParkingTime, q.Volumes.ReservationTime = pw.parking.materialize(&w.slab), pw.resv.materialize(&w.slab)
		q.EnergyBefore = pw.before.materialize(&w.slab)
		ct.context(q, &pw, w.loc, sessionBeg)
		w.parts = append(w.parts, pw)
	}
	return parts
}

// sortCuts orders cuts by instant, energy cuts first at equal instants:
// sort.Slice with that order, which for up to 12 elements is a stable
// insertion sort (done here without sort.Slice's allocations).
func sortCuts(cuts []cut) {
	less := func(i, j int) bool {
		if !cuts[i].at.Equal(cuts[j].at) {
			return cuts[i].at.Before(cuts[j].at)
		}
		return cuts[i].energyExact && !cuts[j].energyExact
	}
	if len(cuts) > 12 {
		sort.Slice(cuts, less)
		return
	}
	for i := 1; i < len(cuts); i++ {
		for j := i; j > 0 && less(j, j-1); j-- {
			cuts[j], cuts[j-1] = cuts[j-1], cuts[j]
		}
	}
}

// intPart is decimal.IntPart.
func intPart(n num) int64 {
	if n.exp != 0 || n.big || n.m.hi != 0 || n.m.lo > math.MaxInt64 {
		return n.decimal().IntPart()
	}
	if n.neg {
		return -int64(n.m.lo)
	}
	return int64(n.m.lo)
}

// nDivRound is decimal.DivRound(a, b, prec): the quotient rounded half
// away from zero to prec digits.
func nDivRound(a, b num, prec int32) num {
	if a.big || b.big || b.m.isZero() {
		return numOf(a.decimal().DivRound(b.decimal(), prec))
	}
	// As decimal.QuoRem: scale the dividend or the divisor so that the
	// integer quotient has exponent -prec.
	e := int64(a.exp) - int64(b.exp) + int64(prec)
	aa, bb, ok := a.m, b.m, true
	if e < 0 {
		bb, ok = scaleU(bb, -e)
	} else {
		aa, ok = scaleU(aa, e)
	}
	if !ok || bb.hi != 0 {
		return numOf(a.decimal().DivRound(b.decimal(), prec))
	}
	q, r := divU64(aa, bb.lo)
	if r >= bb.lo-r {
		q, ok = addU(q, u128{0, 1})
		if !ok {
			return numOf(a.decimal().DivRound(b.decimal(), prec))
		}
	}
	return num{m: q, exp: -prec, neg: a.neg != b.neg && !q.isZero()}
}

// share returns v × frac to sharePrecision digits (zero stays zero).
func share(v, frac num) num {
	if v.isZero() {
		return v
	}
	return nRound(nMul(v, frac), sharePrecision)
}

// shareTime returns v × num / den to sharePrecision digits, rounded half
// away from zero, using 128-bit integer arithmetic when it fits (else v ×
// (num / den rounded to divPrecision digits), rounded).
func shareTime(v num, nu, de int64) num {
	if v.isZero() {
		return v
	}
	scale := int(v.exp) + sharePrecision
	if !v.big && scale >= 0 && nu >= 0 && de > 0 && numDigits(&v)+scale <= 18 {
		c := v.m.lo // at most 18 digits
		hi, lo := bits.Mul64(c*uint64(pow10i[scale]), uint64(nu))
		if hi < uint64(de) {
			q, r := bits.Div64(hi, lo, uint64(de))
			if r >= uint64(de)-r {
				q++
			}
			if q < 1<<63 {
				return numInt2(q, v.neg, -sharePrecision)
			}
		}
	}
	f := nDivRound(numInt(nu, 0), numInt(de, 0), divPrecision)
	return share(v, f)
}

func numInt2(mag uint64, neg bool, exp int32) num {
	return num{m: u128{0, mag}, exp: exp, neg: neg && mag != 0}
}

// numDigits is decimal.NumDigits of n's coefficient (which, for small
// values, is computed with a float logarithm).
func numDigits(n *num) int {
	if n.m.hi == 0 && n.m.lo <= 1<<53 {
		if n.m.lo == 0 {
			return 1
		}
		return int(math.Log10(float64(n.m.lo))) + 1
	}
	return n.decimal().NumDigits()
}

// clockOf returns the local time of day of t in whole minutes, and -1 when
// t is not on a whole minute.
func clockOf(t time.Time) Clock {
	h, m, s := t.Clock()
	if s != 0 || t.Nanosecond() != 0 {
		return -1
	}
	return Clock(h*60 + m)
}

// context fills in the evaluation instant of a part.
func (ct *Compiled) context(q *Part, pw *partWork, loc *time.Location, sessionBeg time.Time) {
	q.Local = q.Volumes.Start.In(loc)
	q.Elapsed = q.Volumes.Start.Sub(sessionBeg)
	if ct.needLocal {
		// As q.Local.Clock(), Date() and Weekday(), with one zone lookup.
		_, off := q.Local.Zone()
		sec := q.Local.Unix() + int64(off)
		days := sec / 86400
		if sec%86400 < 0 {
			days--
		}
		y, mo, d := civilFromDays(days)
		pw.local = local{sod: int(sec - days*86400), date: Date{y, mo, d}, wd: time.Weekday((days%7 + 11) % 7)}
	}
}

// line selects the price component for dimension d of part p: the first
// candidate element whose restrictions match (mod_tariffs "Tariff Object"),
// and appends the line to w.lines, unless d is FLAT and no element
// matched (an unmatched volume is a free line; an unmatched FLAT is no
// fee). It reports whether an element matched.
func (ct *Compiled) line(w *work, cands []candidate, p *Part, pw *partWork, pv *periodWork, d Dimension, reservation bool) bool {
	lw := lineWork{dim: d, reservation: reservation, elem: -1, compIdx: -1}
	switch {
	case d == Flat:
		lw.volume = numOne
	case reservation:
		lw.volume = pw.resv
	case d == Energy:
		lw.volume = pw.energy
	case d == Time:
		lw.volume = pw.time
	default:
		lw.volume = pw.parking
	}
	lw.billed = lw.volume
	for _, c := range cands {
		e := &ct.elems[c.elem]
		if e.r != nil && !e.r.match(p, pw, pv) {
			continue
		}
		lw.comp, lw.elem, lw.compIdx = &e.comps[c.comp], c.elem, c.comp
		break
	}
	if lw.comp != nil || d != Flat {
		w.lines = append(w.lines, lw)
	}
	return lw.comp != nil
}

// applySteps applies step_size once for ENERGY, once for TIME and
// PARKING_TIME combined and once for reservation time (mod_cdrs "step_size"):
// the last priced line of the group determines the dimension and the
// component whose step_size is used; the total volume of that dimension
// billed in the session is rounded up to a multiple of the step, and the
// difference is billed on that last line.
func applySteps(nparts int, w *work) []Step {
	type group struct {
		dims        [2]Dimension
		reservation bool
	}
	steps := w.steps[:0]
	for _, g := range [...]group{{[2]Dimension{Energy, Energy}, false}, {[2]Dimension{Time, ParkingTime}, false}, {[2]Dimension{Time, Time}, true}} {
		// Find the last priced line with volume; within one part, parking
		// wins ("step_size is only taken into account for the total
		// parking duration").
		lp, ll := -1, -1
		for i := nparts - 1; i >= 0 && lp < 0; i-- {
			pw := &w.parts[i]
			for j := 0; j < pw.n; j++ {
				l := &w.lines[pw.first+j]
				if l.elem < 0 || l.reservation != g.reservation || l.dim == Flat || l.volume.isZero() ||
					(l.dim != g.dims[0] && l.dim != g.dims[1]) {
					continue
				}
				if lp < 0 || l.dim == ParkingTime {
					lp, ll = i, j
				}
			}
		}
		if lp < 0 {
			continue
		}
		last := &w.lines[w.parts[lp].first+ll]
		step := last.comp.c.StepSize
		total := numZero1
		for i := range w.lines {
			l := &w.lines[i]
			if l.elem >= 0 && l.reservation == g.reservation && l.dim == last.dim {
				addTo(&total, &l.volume)
			}
		}
		billed := roundUp(total, last.dim, step)
		last.billed = nAdd(last.volume, nSub(billed, total))
		steps = append(steps, Step{Dimension: last.dim, Reservation: g.reservation, StepSize: step,
			Total: total.materialize(&w.slab), Billed: billed.materialize(&w.slab), Part: lp, Line: ll})
	}
	w.steps = steps
	if len(steps) == 0 {
		return nil
	}
	return append([]Step(nil), steps...) // exact size
}

// roundUp rounds a positive total volume (kWh or hours) up to the smallest
// multiple of step Wh or seconds that is not smaller (PriceComponent
// "step_size": "Consumed amounts are rounded up to the smallest multiple of
// step_size that is greater than the consumed amount"; an exact multiple is
// not rounded further). Step sizes below 1 and non-positive totals are left
// as they are. The result has the coefficient and exponent that rounding
// with decimal arithmetic (roundUpDecimal) gives.
func roundUp(total num, d Dimension, step int64) num {
	if step < 1 || total.sign() <= 0 {
		return total
	}
	if total.big {
		return numOf(roundUpDecimal(total.decimal(), d, step))
	}
	// x is the total in Wh or seconds: m × mul × 10^exp.
	mul := uint64(3600) // hours → seconds, step_size multiplier 1 second
	exp := int64(total.exp)
	if d == Energy {
		mul, exp = 1, exp+3 // kWh → Wh, step_size multiplier 1 Wh
	}
	x, ok := mulU64(total.m, mul)
	// The multiple of the step at or below x, and whether x is one: with
	// exp >= 0, x is the integer x × 10^exp; else x / 10^-exp.
	var unit u128 // step in the units of x's coefficient
	if ok && exp >= 0 {
		x, ok = scaleU(x, exp)
		unit = u128{0, uint64(step)}
	} else if ok {
		unit, ok = scaleU(u128{0, uint64(step)}, -exp)
	}
	if !ok || unit.hi != 0 {
		return numOf(roundUpDecimal(total.decimal(), d, step))
	}
	q, r := divU64(x, unit.lo)
	if r == 0 {
		return total
	}
	// n whole steps above x: (q + 1) × step Wh or seconds.
	n, ok := addU(q, u128{0, 1})
	if ok {
		n, ok = mulU64(n, uint64(step))
	}
	if !ok {
		return numOf(roundUpDecimal(total.decimal(), d, step))
	}
	if d == Energy {
		// decimal: (wh - wh mod step + step) at exponent min(exp, 0), shifted by -3.
		if exp >= 0 {
			return num{m: n, exp: -3}
		}
		if n, ok = scaleU(n, -exp); !ok {
			return numOf(roundUpDecimal(total.decimal(), d, step))
		}
		return num{m: n, exp: int32(exp - 3)}
	}
	// decimal: DivRound(3600, divPrecision) of the whole seconds n.
	if n.hi == 0 {
		if h, ok := hoursOf(n.lo, 1e18); ok {
			return h
		}
	}
	return numOf(roundUpDecimal(total.decimal(), d, step))
}

// roundUpDecimal is roundUp in decimal arithmetic, for values beyond 128 bits.
func roundUpDecimal(total decimal.Decimal, d Dimension, step int64) decimal.Decimal {
	st := decimal.NewFromInt(step)
	if d == Energy {
		wh := total.Shift(3)
		if r := wh.Mod(st); !r.IsZero() {
			wh = wh.Sub(r).Add(st)
		}
		return wh.Shift(-3)
	}
	secs := total.Mul(hour)
	r := secs.Mod(st)
	if r.IsZero() {
		return total
	}
	return secs.Sub(r).Add(st).DivRound(hour, divPrecision)
}

// applyLimits applies min_price and max_price to the total, excluding and
// including VAT independently (mod_tariffs, notes on min_price and
// max_price: "they both apply").
func (ct *Compiled) applyLimits(w *work, r *Result, total amountNum) {
	minAdj := amountNum{numZero, numZero}
	maxAdj := minAdj
	var minSet, maxSet bool
	if m := ct.minPrice; m != nil {
		if nCmp(total.excl, m.excl) < 0 {
			minAdj.excl, minSet = nSubExact(m.excl, total.excl), true
		}
		if !m.hasIncl {
			if minSet {
				r.Warnings = append(r.Warnings, "min_price has no incl_vat: the total including VAT is not raised")
			}
		} else if nCmp(total.incl, m.incl) < 0 {
			minAdj.incl, minSet = nSubExact(m.incl, total.incl), true
		}
	}
	if m := ct.maxPrice; m != nil {
		if nCmp(total.excl, m.excl) > 0 {
			maxAdj.excl, maxSet = nSubExact(m.excl, total.excl), true
		}
		if !m.hasIncl {
			if maxSet {
				r.Warnings = append(r.Warnings, "max_price has no incl_vat: the total including VAT is not capped")
			}
		} else if nCmp(total.incl, m.incl) > 0 {
			maxAdj.incl, maxSet = nSubExact(m.incl, total.incl), true
		}
	}
	if minSet {
		r.Adjustments = append(r.Adjustments, Adjustment{Reason: "min_price", Amount: minAdj.materialize(&w.slab)})
		total = amountNum{nAddExact(total.excl, minAdj.excl), nAddExact(total.incl, minAdj.incl)}
	}
	if maxSet {
		r.Adjustments = append(r.Adjustments, Adjustment{Reason: "max_price", Amount: maxAdj.materialize(&w.slab)})
		total = amountNum{nAddExact(total.excl, maxAdj.excl), nAddExact(total.incl, maxAdj.incl)}
	}
	r.TotalCost = total.materialize(&w.slab)
}
