package pricing

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Warning is a problem Lint found in a tariff.
type Warning struct {
	// Path is the JSON path of the offending part ("elements[2].restrictions").
	Path string
	// Message says what is wrong in plain English.
	Message string
}

// String renders the warning as "path: message".
func (w Warning) String() string {
	if w.Path == "" {
		return w.Message
	}
	return w.Path + ": " + w.Message
}

// maxLintPoints bounds the situations enumerated for the coverage and
// shadowing analysis; beyond it those two checks are skipped.
const maxLintPoints = 200000

// Lint reports what makes a tariff price differently from what its author
// probably meant: restrictions that can never match, components that are
// never used because an earlier element always wins (mod_tariffs "Tariff
// Object": the first matching element per dimension is used), dimensions
// left unpriced at some moments because no unrestricted fallback exists,
// min_price above max_price, redundant day_of_week lists and suspicious
// component values.
//
// Shadowing and coverage are decided exactly, by evaluating every element in
// one representative situation per combination of restriction boundaries
// (each restriction is a half-open interval on its axis, so the left end of
// every interval between two boundaries stands for the whole interval).
// Current and power are assumed to be reported in every period.
func Lint(t Tariff) []Warning {
	var ws []Warning
	add := func(path, format string, args ...any) {
		ws = append(ws, Warning{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if len(t.Elements) == 0 {
		add("elements", "the tariff has no elements, so nothing is priced")
	}
	if t.MinPrice != nil && t.MaxPrice != nil {
		if t.MinPrice.ExclVAT.GreaterThan(t.MaxPrice.ExclVAT) {
			add("min_price", "min_price.excl_vat %s is above max_price.excl_vat %s", t.MinPrice.ExclVAT, t.MaxPrice.ExclVAT)
		}
		if t.MinPrice.InclVAT != nil && t.MaxPrice.InclVAT != nil && t.MinPrice.InclVAT.GreaterThan(*t.MaxPrice.InclVAT) {
			add("min_price", "min_price.incl_vat %s is above max_price.incl_vat %s", t.MinPrice.InclVAT, t.MaxPrice.InclVAT)
		}
	}
	for _, p := range []struct {
		name string
		p    *PriceLimit
	}{{"min_price", t.MinPrice}, {"max_price", t.MaxPrice}} {
		if p.p != nil && p.p.InclVAT != nil && p.p.InclVAT.LessThan(p.p.ExclVAT) {
			add(p.name, "incl_vat %s is below excl_vat %s", p.p.InclVAT, p.p.ExclVAT)
		}
	}
	if t.StartDateTime != nil && t.EndDateTime != nil && !t.EndDateTime.After(*t.StartDateTime) {
		add("end_date_time", "the tariff ends (%s) before or when it starts (%s)", t.EndDateTime.UTC().Format(time.RFC3339), t.StartDateTime.UTC().Format(time.RFC3339))
	}
	for i := range t.Elements {
		lintElement(&t.Elements[i], fmt.Sprintf("elements[%d]", i), add)
	}
	// The coverage analysis also finds elements that never match; keep
	// only the more specific message when one was already given.
	for _, w := range lintCoverage(&t) {
		if strings.HasPrefix(w.Message, "the restrictions can never all match") && hasPrefixWarning(ws, w.Path+".") {
			continue
		}
		ws = append(ws, w)
	}
	return ws
}

func hasPrefixWarning(ws []Warning, path string) bool {
	for _, w := range ws {
		if strings.HasPrefix(w.Path, path) && strings.HasPrefix(w.Message, "can never match") {
			return true
		}
	}
	return false
}

func lintElement(e *Element, path string, add func(path, format string, args ...any)) {
	if len(e.Components) == 0 {
		add(path+".price_components", "the element has no price components")
	}
	seen := map[Dimension]int{}
	for j, c := range e.Components {
		cp := fmt.Sprintf("%s.price_components[%d]", path, j)
		if k, dup := seen[c.Type]; dup {
			add(cp, "a second %s component in the same element is never used (price_components[%d] is)", c.Type, k)
		} else {
			seen[c.Type] = j
		}
		if c.Price.Sign() < 0 {
			add(cp+".price", "negative price %s", c.Price)
		}
		if c.VAT != nil && (c.VAT.Sign() < 0 || c.VAT.GreaterThan(hundred)) {
			add(cp+".vat", "VAT percentage %s is outside 0..100", c.VAT)
		}
		if c.Type != Flat && c.StepSize < 1 {
			add(cp+".step_size", "step_size %d: volumes are not rounded at all (use 1 for per-second or per-Wh billing)", c.StepSize)
		}
		if e.reservation() != NoReservation && c.Type != Flat && c.Type != Time {
			add(cp+".type", "a reservation element can only have FLAT and TIME components; this %s component is never used", c.Type)
		}
	}
	r := e.Restrictions
	if r == nil {
		return
	}
	rp := path + ".restrictions"
	never := func(field, format string, args ...any) {
		add(rp+"."+field, "can never match: "+format, args...)
	}
	if r.MinKWh != nil && r.MaxKWh != nil && !r.MinKWh.LessThan(*r.MaxKWh) {
		never("min_kwh", "min_kwh %s is not below max_kwh %s", r.MinKWh, r.MaxKWh)
	}
	if r.MinCurrent != nil && r.MaxCurrent != nil && !r.MinCurrent.LessThan(*r.MaxCurrent) {
		never("min_current", "min_current %s is not below max_current %s", r.MinCurrent, r.MaxCurrent)
	}
	if r.MinPower != nil && r.MaxPower != nil && !r.MinPower.LessThan(*r.MaxPower) {
		never("min_power", "min_power %s is not below max_power %s", r.MinPower, r.MaxPower)
	}
	if r.MinDuration != nil && r.MaxDuration != nil && *r.MinDuration >= *r.MaxDuration {
		never("min_duration", "min_duration %d is not below max_duration %d", *r.MinDuration, *r.MaxDuration)
	}
	if r.StartDate != nil && r.EndDate != nil && r.StartDate.cmp(*r.EndDate) >= 0 {
		never("start_date", "start_date %s is not before end_date %s (end_date is exclusive)", r.StartDate, r.EndDate)
	}
	if r.StartTime != nil && r.EndTime != nil && *r.StartTime == *r.EndTime {
		add(rp+".start_time", "start_time equals end_time (%s): read as the whole day; omit both to say so", r.StartTime)
	}
	days := map[time.Weekday]bool{}
	for _, d := range r.DaysOfWeek {
		if days[d] {
			add(rp+".day_of_week", "%s is listed twice", strings.ToUpper(d.String()))
		}
		days[d] = true
	}
	if len(days) == 7 {
		add(rp+".day_of_week", "lists all 7 days, which restricts nothing; omit it")
	}
}

// lintPoints returns one representative situation per combination of the
// restriction boundaries of t, or nil when there are too many.
func lintPoints(t *Tariff) []Part {
	clocks := map[int]bool{0: true}
	var dates []Date
	kwh := []decimal.Decimal{decimal.Zero}
	cur := []decimal.Decimal{decimal.Zero}
	pow := []decimal.Decimal{decimal.Zero}
	dur := []int64{0}
	for i := range t.Elements {
		r := t.Elements[i].Restrictions
		if r == nil {
			continue
		}
		for _, c := range []*Clock{r.StartTime, r.EndTime} {
			if c != nil {
				clocks[int(*c)] = true
			}
		}
		for _, d := range []*Date{r.StartDate, r.EndDate} {
			if d != nil {
				dates = append(dates, *d)
			}
		}
		for _, v := range []*decimal.Decimal{r.MinKWh, r.MaxKWh} {
			if v != nil {
				kwh = append(kwh, *v)
			}
		}
		for _, v := range []*decimal.Decimal{r.MinCurrent, r.MaxCurrent} {
			if v != nil {
				cur = append(cur, *v)
			}
		}
		for _, v := range []*decimal.Decimal{r.MinPower, r.MaxPower} {
			if v != nil {
				pow = append(pow, *v)
			}
		}
		for _, v := range []*int64{r.MinDuration, r.MaxDuration} {
			if v != nil {
				dur = append(dur, *v)
			}
		}
	}
	// Days: one week from each date boundary and one week before the
	// first, so that every weekday of every date interval is represented.
	var days []time.Time
	starts := []time.Time{time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	if len(dates) > 0 {
		sort.Slice(dates, func(i, j int) bool { return dates[i].cmp(dates[j]) < 0 })
		first := time.Date(dates[0].Year, dates[0].Month, dates[0].Day, 0, 0, 0, 0, time.UTC)
		starts = []time.Time{first.AddDate(0, 0, -7)}
		for _, d := range dates {
			starts = append(starts, time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC))
		}
	}
	for _, s := range starts {
		for k := 0; k < 7; k++ {
			days = append(days, s.AddDate(0, 0, k))
		}
	}
	var cl []int
	for c := range clocks {
		cl = append(cl, c)
	}
	sort.Ints(cl)
	kwh, cur, pow = uniqDec(kwh), uniqDec(cur), uniqDec(pow)
	dur = uniqInt(dur)
	n := len(days) * len(cl) * len(kwh) * len(cur) * len(pow) * len(dur)
	if n > maxLintPoints {
		return nil
	}
	points := make([]Part, 0, n)
	for _, day := range days {
		for _, c := range cl {
			local := day.Add(time.Duration(c) * time.Minute)
			for _, e := range kwh {
				for i := range cur {
					for j := range pow {
						for _, s := range dur {
							p := Part{Local: local, Elapsed: time.Duration(s) * time.Second, EnergyBefore: e}
							p.Volumes.MinCurrent, p.Volumes.MaxCurrent = &cur[i], &cur[i]
							p.Volumes.MinPower, p.Volumes.MaxPower = &pow[j], &pow[j]
							points = append(points, p)
						}
					}
				}
			}
		}
	}
	return points
}

func uniqDec(v []decimal.Decimal) []decimal.Decimal {
	sort.Slice(v, func(i, j int) bool { return v[i].LessThan(v[j]) })
	out := v[:0]
	for _, x := range v {
		if len(out) == 0 || !out[len(out)-1].Equal(x) {
			out = append(out, x)
		}
	}
	return out
}

func uniqInt(v []int64) []int64 {
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	out := v[:0]
	for _, x := range v {
		if len(out) == 0 || out[len(out)-1] != x {
			out = append(out, x)
		}
	}
	return out
}

// describePoint renders a representative situation for a warning.
func describePoint(p *Part, t *Tariff) string {
	s := strings.ToUpper(p.Local.Weekday().String()) + " " + p.Local.Format("2006-01-02 15:04") + " local time"
	var extra []string
	var hasKWh, hasCur, hasPow, hasDur bool
	for i := range t.Elements {
		if r := t.Elements[i].Restrictions; r != nil {
			hasKWh = hasKWh || r.MinKWh != nil || r.MaxKWh != nil
			hasCur = hasCur || r.MinCurrent != nil || r.MaxCurrent != nil
			hasPow = hasPow || r.MinPower != nil || r.MaxPower != nil
			hasDur = hasDur || r.MinDuration != nil || r.MaxDuration != nil
		}
	}
	if hasKWh {
		extra = append(extra, fmt.Sprintf("%s kWh charged", p.EnergyBefore))
	}
	if hasCur {
		extra = append(extra, fmt.Sprintf("current %s A", p.Volumes.MinCurrent))
	}
	if hasPow {
		extra = append(extra, fmt.Sprintf("power %s kW", p.Volumes.MinPower))
	}
	if hasDur {
		extra = append(extra, fmt.Sprintf("%s into the session", p.Elapsed))
	}
	if len(extra) > 0 {
		s += " with " + strings.Join(extra, ", ")
	}
	return s
}

// lintCoverage finds restrictions that never match, components shadowed by
// earlier elements and dimensions that some situations leave unpriced.
func lintCoverage(t *Tariff) []Warning {
	points := lintPoints(t)
	if points == nil {
		return nil
	}
	var ws []Warning
	n := len(t.Elements)
	match := make([][]bool, n)
	for i := range t.Elements {
		match[i] = make([]bool, len(points))
		any := false
		for k := range points {
			match[i][k] = matches(t.Elements[i].Restrictions, &points[k])
			any = any || match[i][k]
		}
		if !any {
			ws = append(ws, Warning{Path: fmt.Sprintf("elements[%d].restrictions", i), Message: "the restrictions can never all match at the same time, so this element is never used"})
		}
	}
	// Shadowing: a component is dead when, wherever its element matches,
	// an earlier element of the same kind with the same dimension matches.
	for j := range t.Elements {
		ej := &t.Elements[j]
		for c, comp := range ej.Components {
			if ej.component(comp.Type) != c {
				continue // duplicate, reported already
			}
			var by []int
			dead, live := true, false
			for k := range points {
				if !match[j][k] {
					continue
				}
				live = true
				covered := false
				for i := 0; i < j; i++ {
					ei := &t.Elements[i]
					if ei.reservation() == ej.reservation() && ei.component(comp.Type) >= 0 && match[i][k] {
						covered = true
						if !containsInt(by, i) {
							by = append(by, i)
						}
						break
					}
				}
				if !covered {
					dead = false
					break
				}
			}
			if live && dead {
				ws = append(ws, Warning{Path: fmt.Sprintf("elements[%d].price_components[%d]", j, c),
					Message: fmt.Sprintf("this %s component is never used: %s already price %s whenever this element's restrictions match", comp.Type, elementList(by), comp.Type)})
			}
		}
	}
	// Coverage per dimension of ordinary (non-reservation) elements.
	for _, dim := range [...]Dimension{Flat, Energy, Time, ParkingTime} {
		var with []int
		for i := range t.Elements {
			if t.Elements[i].reservation() == NoReservation && t.Elements[i].component(dim) >= 0 {
				with = append(with, i)
			}
		}
		if len(with) == 0 {
			continue
		}
		for k := range points {
			covered := false
			for _, i := range with {
				if match[i][k] {
					covered = true
					break
				}
			}
			if !covered {
				last := with[len(with)-1]
				ws = append(ws, Warning{Path: fmt.Sprintf("elements[%d].restrictions", last),
					Message: fmt.Sprintf("%s is not priced in every situation (for example %s): the last element with a %s component is restricted; add an element without restrictions after it if that is not intended",
						dim, describePoint(&points[k], t), dim)})
				break
			}
		}
	}
	return ws
}

func containsInt(v []int, x int) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}

func elementList(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("elements[%d]", x)
	}
	return strings.Join(s, " and ")
}
