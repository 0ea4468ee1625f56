package pricing

import (
	"fmt"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/fault"
)

// Compiled is a tariff prepared for pricing: everything Price derives from
// the tariff alone (the candidate components per dimension, the instants
// at which restrictions can change, restrictions and prices as exact
// machine numbers, VAT factors) is computed once by Compile.
//
// Price(t, s, loc) compiles t on every call; a caller that prices many
// sessions with the same tariff (the MSP, roaming-cost and reimbursement
// pricers, a CDR import) should Compile once per tariff version, cache the
// *Compiled (keyed by tariff id and last_updated, say) and call its Price
// method. A Compiled is immutable and safe for concurrent use; its results
// are identical to Price's. It keeps the Tariff it was compiled from
// (slices shared, not copied): do not modify that tariff afterwards.
type Compiled struct {
	t     Tariff
	elems []compiledElement
	// cands lists, per lookup key, the (element, component) pairs that can
	// price it, in tariff order; expired holds the reservation keys' lists
	// for an expired reservation (see newPlan in the reference reading:
	// RESERVATION_EXPIRES elements first, only then).
	cands   [numKeys][]candidate
	expired [numKeys][]candidate
	// clocks, durations and kwhs are the split instants (package doc,
	// "Period splitting"), in tariff order.
	clocks    []Clock
	durations []int64
	kwhs      []num
	// needLocal: some restriction reads the local time, date or week day.
	needLocal bool
	minPrice  *compiledLimit
	maxPrice  *compiledLimit

	// Backing storage of elems, reused by reset.
	comps  []compiledComponent
	restr  []compiledRestrictions
	limits [2]compiledLimit
}

// candidate is an (element, component) pair that can price a dimension.
type candidate struct {
	elem, comp int
}

// lookup keys for candidate lists.
const (
	keyFlat = iota
	keyEnergy
	keyTime
	keyParking
	keyResTime
	keyResFlat
	numKeys
)

func keyOf(d Dimension, reservation bool) int {
	switch {
	case reservation && d == Flat:
		return keyResFlat
	case reservation:
		return keyResTime
	case d == Flat:
		return keyFlat
	case d == Energy:
		return keyEnergy
	case d == Time:
		return keyTime
	default:
		return keyParking
	}
}

type compiledElement struct {
	comps []compiledComponent
	// r is nil when the element has no restrictions to check.
	r *compiledRestrictions
}

type compiledComponent struct {
	c     *Component
	price num
	// vatFactor is 1 + vat/100 (when c.VAT is set).
	vatFactor num
}

type compiledLimit struct {
	excl    num
	incl    num
	hasIncl bool
}

// compiledRestrictions is a Restrictions object with its values as nums
// and its time of day in seconds (see matches for the rules).
type compiledRestrictions struct {
	r *Restrictions

	tod              bool
	todStart, todEnd int

	days uint8 // bit d set: week day d allowed; 0: not restricted

	minKWh, maxKWh     num
	hasMinKWh          bool
	hasMaxKWh          bool
	minCur, maxCur     num
	hasMinCur          bool
	hasMaxCur          bool
	minPow, maxPow     num
	hasMinPow          bool
	hasMaxPow          bool
	minDur, maxDur     time.Duration
	hasMinDur          bool
	hasMaxDur          bool
	hasCurrent, hasPow bool
}

// Compile prepares t for pricing. It fails with a fault.KindInvalid error
// when t cannot be priced (no elements, an unknown dimension), with the
// field paths Price reports.
func Compile(t Tariff) (*Compiled, error) {
	var fs fault.Fields
	checkTariff(&t, &fs)
	if err := fs.Err(); err != nil {
		return nil, err
	}
	return compile(t), nil
}

// checkTariff reports what makes t unpriceable.
func checkTariff(t *Tariff, fs *fault.Fields) {
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
}

// compile builds the Compiled form of a checked tariff.
func compile(t Tariff) *Compiled {
	ct := new(Compiled)
	ct.reset(t)
	return ct
}

// compiledPool recycles the Compiled forms that Price builds for one call
// (a Result keeps no reference to them).
var compiledPool = sync.Pool{New: func() any { return new(Compiled) }}

// release drops the reference to the tariff before ct goes back to the
// pool (its slices are overwritten by the next reset, or dropped with the
// pool at a garbage collection).
func (ct *Compiled) release() {
	ct.t = Tariff{}
}

// reset makes ct the Compiled form of t, reusing ct's memory.
func (ct *Compiled) reset(t Tariff) {
	ct.t = t
	ct.needLocal = false
	ct.clocks, ct.durations, ct.kwhs = ct.clocks[:0], ct.durations[:0], ct.kwhs[:0]
	for k := range ct.cands {
		ct.cands[k] = ct.cands[k][:0]
	}
	ct.expired[keyResTime], ct.expired[keyResFlat] = ct.expired[keyResTime][:0], ct.expired[keyResFlat][:0]
	ncomp, nrestr := 0, 0
	for i := range t.Elements {
		ncomp += len(t.Elements[i].Components)
		if t.Elements[i].Restrictions != nil {
			nrestr++
		}
	}
	ct.elems = grow(ct.elems, len(t.Elements))
	ct.comps = grow(ct.comps, ncomp)
	ct.restr = grow(ct.restr, nrestr)
	ncomp, nrestr = 0, 0

	addClock := func(c Clock) {
		for _, x := range ct.clocks {
			if x == c {
				return
			}
		}
		ct.clocks = append(ct.clocks, c)
	}
	addDur := func(s int64) {
		for _, x := range ct.durations {
			if x == s {
				return
			}
		}
		ct.durations = append(ct.durations, s)
	}
	addKWh := func(k decimal.Decimal) {
		n := numOf(k)
		for _, x := range ct.kwhs {
			if nCmp(x, n) == 0 {
				return
			}
		}
		ct.kwhs = append(ct.kwhs, n)
	}
	for i := range t.Elements {
		e := &t.Elements[i]
		ce := &ct.elems[i]
		ce.comps = ct.comps[ncomp : ncomp+len(e.Components) : ncomp+len(e.Components)]
		ncomp += len(e.Components)
		for j := range e.Components {
			c := &e.Components[j]
			cc := compiledComponent{c: c, price: numOf(c.Price)}
			if c.VAT != nil {
				// 1 + vat/100, as decimal: VAT.Shift(-2) + 1.
				v := numOf(*c.VAT)
				if v.big {
					v = numOf(c.VAT.Shift(-2))
				} else {
					v.exp, v.c, v.zv = v.exp-2, nil, false
				}
				cc.vatFactor = nAdd(v, numOne)
			}
			ce.comps[j] = cc
		}
		res := e.reservation()
		for _, d := range [...]Dimension{Flat, Energy, Time, ParkingTime} {
			c := e.component(d)
			if c < 0 {
				continue
			}
			switch {
			case res == NoReservation:
				ct.cands[keyOf(d, false)] = append(ct.cands[keyOf(d, false)], candidate{i, c})
			case d == Flat || d == Time:
				// A reservation element may only hold FLAT and TIME
				// (mod_tariffs "TariffRestrictions class", reservation).
				// For an expired reservation the RESERVATION_EXPIRES
				// elements take precedence over RESERVATION elements
				// (mod_tariffs, note below "ReservationRestrictionType
				// enum"); otherwise they never apply.
				k := keyOf(d, true)
				if res != ReservationExpires {
					ct.cands[k] = append(ct.cands[k], candidate{i, c})
				}
			}
		}
		ce.r = nil
		r := e.Restrictions
		if r == nil {
			continue
		}
		ce.r = &ct.restr[nrestr]
		nrestr++
		ce.r.set(r)
		if r.StartTime != nil {
			addClock(*r.StartTime)
		}
		if r.EndTime != nil {
			addClock(*r.EndTime)
		}
		if r.StartDate != nil || r.EndDate != nil || len(r.DaysOfWeek) > 0 {
			addClock(0)
		}
		if r.StartTime != nil || r.EndTime != nil || r.StartDate != nil || r.EndDate != nil || len(r.DaysOfWeek) > 0 {
			ct.needLocal = true
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
	for k := range ct.expired {
		if k != keyResTime && k != keyResFlat {
			ct.expired[k] = ct.cands[k]
		}
	}
	for _, kd := range [...]struct {
		k int
		d Dimension
	}{{keyResTime, Time}, {keyResFlat, Flat}} {
		for i := range t.Elements {
			if t.Elements[i].reservation() != ReservationExpires {
				continue
			}
			if c := t.Elements[i].component(kd.d); c >= 0 {
				ct.expired[kd.k] = append(ct.expired[kd.k], candidate{i, c})
			}
		}
		ct.expired[kd.k] = append(ct.expired[kd.k], ct.cands[kd.k]...)
	}
	ct.minPrice, ct.maxPrice = ct.limit(0, t.MinPrice), ct.limit(1, t.MaxPrice)
}

// limit compiles min_price (i 0) or max_price (i 1).
func (ct *Compiled) limit(i int, p *PriceLimit) *compiledLimit {
	if p == nil {
		return nil
	}
	l := &ct.limits[i]
	*l = compiledLimit{excl: numOf(p.ExclVAT)}
	if p.InclVAT != nil {
		l.incl, l.hasIncl = numOf(*p.InclVAT), true
	}
	return l
}

// set compiles r.
func (c *compiledRestrictions) set(r *Restrictions) {
	*c = compiledRestrictions{r: r}
	if r.StartTime != nil || r.EndTime != nil {
		// As timeOfDayOK: end_time 00:00 is the end of the day.
		c.tod, c.todStart, c.todEnd = true, 0, 86400
		if r.StartTime != nil {
			c.todStart = int(*r.StartTime) * 60
		}
		if r.EndTime != nil && *r.EndTime != 0 {
			c.todEnd = int(*r.EndTime) * 60
		}
	}
	for _, d := range r.DaysOfWeek {
		if d >= time.Sunday && d <= time.Saturday {
			c.days |= 1 << d
		} else {
			c.days |= 1 << 7 // an impossible day keeps the list non-empty
		}
	}
	opt := func(d *decimal.Decimal, v *num, has *bool) {
		if d != nil {
			*v, *has = numOf(*d), true
		}
	}
	opt(r.MinKWh, &c.minKWh, &c.hasMinKWh)
	opt(r.MaxKWh, &c.maxKWh, &c.hasMaxKWh)
	opt(r.MinCurrent, &c.minCur, &c.hasMinCur)
	opt(r.MaxCurrent, &c.maxCur, &c.hasMaxCur)
	opt(r.MinPower, &c.minPow, &c.hasMinPow)
	opt(r.MaxPower, &c.maxPow, &c.hasMaxPow)
	c.hasCurrent, c.hasPow = c.hasMinCur || c.hasMaxCur, c.hasMinPow || c.hasMaxPow
	if r.MinDuration != nil {
		c.minDur, c.hasMinDur = time.Duration(*r.MinDuration)*time.Second, true
	}
	if r.MaxDuration != nil {
		c.maxDur, c.hasMaxDur = time.Duration(*r.MaxDuration)*time.Second, true
	}
}

// Tariff returns the tariff c was compiled from.
func (c *Compiled) Tariff() Tariff { return c.t }

// local is a part's local time, date and week day, computed once.
type local struct {
	sod  int // seconds since local midnight
	date Date
	wd   time.Weekday
}

// matchCompiled is matches for a compiled element at part p, whose local
// time is l and whose period's current and power are pv.
func (c *compiledRestrictions) match(p *Part, w *partWork, pv *periodWork) bool {
	if c.tod {
		sod := w.local.sod
		if c.todEnd > c.todStart {
			if sod < c.todStart || sod >= c.todEnd {
				return false
			}
		} else if sod < c.todStart && sod >= c.todEnd {
			return false
		}
	}
	r := c.r
	if r.StartDate != nil && w.local.date.cmp(*r.StartDate) < 0 {
		return false
	}
	if r.EndDate != nil && w.local.date.cmp(*r.EndDate) >= 0 {
		return false
	}
	if c.days != 0 && c.days&(1<<w.local.wd) == 0 {
		return false
	}
	if c.hasMinKWh && nCmp(w.before, c.minKWh) < 0 {
		return false
	}
	if c.hasMaxKWh && nCmp(w.before, c.maxKWh) >= 0 {
		return false
	}
	if c.hasMinDur && p.Elapsed < c.minDur {
		return false
	}
	if c.hasMaxDur && p.Elapsed >= c.maxDur {
		return false
	}
	if c.hasCurrent && !rangeOK(c.hasMinCur, c.minCur, c.hasMaxCur, c.maxCur, pv.minCur, pv.maxCur) {
		return false
	}
	if c.hasPow && !rangeOK(c.hasMinPow, c.minPow, c.hasMaxPow, c.maxPow, pv.minPow, pv.maxPow) {
		return false
	}
	return true
}

// rangeOK is matchRange's outcome; pmin and pmax are nil when the period
// does not report them.
func rangeOK(hasMin bool, min num, hasMax bool, max num, pmin, pmax *num) bool {
	lo, hi := pmin, pmax
	if lo == nil {
		lo = hi
	}
	if hi == nil {
		hi = lo
	}
	if lo == nil {
		return false
	}
	if hasMin && nCmp(*lo, min) < 0 {
		return false
	}
	if hasMax && nCmp(*hi, max) >= 0 {
		return false
	}
	return true
}
