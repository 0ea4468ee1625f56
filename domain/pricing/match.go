package pricing

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// matches reports whether all restrictions r hold at the start of part p
// (mod_tariffs "TariffRestrictions class"). The reservation field is not
// checked here: it decides which dimensions an element may price (see
// newPlan).
func matches(r *Restrictions, p *Part) bool {
	if r == nil {
		return true
	}
	if r.StartTime != nil || r.EndTime != nil {
		if !timeOfDayOK(r, p.Local) {
			return false
		}
	}
	if r.StartDate != nil || r.EndDate != nil {
		d := localDate(p.Local)
		if r.StartDate != nil && d.cmp(*r.StartDate) < 0 {
			return false
		}
		if r.EndDate != nil && d.cmp(*r.EndDate) >= 0 {
			return false
		}
	}
	if len(r.DaysOfWeek) > 0 && !hasDay(r.DaysOfWeek, p.Local.Weekday()) {
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
		if ok, _ := matchRange(r.MinCurrent, r.MaxCurrent, p.Volumes.MinCurrent, p.Volumes.MaxCurrent); !ok {
			return false
		}
	}
	if r.MinPower != nil || r.MaxPower != nil {
		if ok, _ := matchRange(r.MinPower, r.MaxPower, p.Volumes.MinPower, p.Volumes.MaxPower); !ok {
			return false
		}
	}
	return true
}

// timeOfDayOK evaluates start_time (inclusive) and end_time (exclusive) at
// local instant t. end_time 00:00 is the end of the day; end_time before
// start_time wraps past midnight (mod_tariffs "TariffRestrictions class",
// end_time). start_time equal to end_time covers the whole day.
func timeOfDayOK(r *Restrictions, t time.Time) bool {
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
func matchRange(min, max, pmin, pmax *decimal.Decimal) (bool, string) {
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

func localDate(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

func hasDay(days []time.Weekday, d time.Weekday) bool {
	for _, x := range days {
		if x == d {
			return true
		}
	}
	return false
}

// restrictionCheck is the outcome of one restriction for one part, for explanations.
type restrictionCheck struct {
	ok   bool
	text string
}

// checks evaluates every restriction of r at part p separately.
func checks(r *Restrictions, p *Part) []restrictionCheck {
	if r == nil {
		return nil
	}
	var out []restrictionCheck
	local := p.Local.Format("2006-01-02 15:04:05 Mon")
	if r.StartTime != nil || r.EndTime != nil {
		win := "start_time " + clockText(r.StartTime, "00:00") + ", end_time " + clockText(r.EndTime, "24:00")
		ok := timeOfDayOK(r, p.Local)
		out = append(out, restrictionCheck{ok, fmt.Sprintf("%s %s local time %s", win, inOut(ok), local)})
	}
	if r.StartDate != nil {
		ok := localDate(p.Local).cmp(*r.StartDate) >= 0
		out = append(out, restrictionCheck{ok, fmt.Sprintf("start_date %s %s (local date %s)", r.StartDate, reached(ok), localDate(p.Local))})
	}
	if r.EndDate != nil {
		ok := localDate(p.Local).cmp(*r.EndDate) < 0
		out = append(out, restrictionCheck{ok, fmt.Sprintf("end_date %s %s (local date %s)", r.EndDate, notReached(ok), localDate(p.Local))})
	}
	if len(r.DaysOfWeek) > 0 {
		ok := hasDay(r.DaysOfWeek, p.Local.Weekday())
		names := make([]string, len(r.DaysOfWeek))
		for i, d := range r.DaysOfWeek {
			names[i] = strings.ToUpper(d.String())
		}
		out = append(out, restrictionCheck{ok, fmt.Sprintf("day_of_week [%s] %s %s", strings.Join(names, ","), includes(ok), strings.ToUpper(p.Local.Weekday().String()))})
	}
	if r.MinKWh != nil {
		ok := !p.EnergyBefore.LessThan(*r.MinKWh)
		out = append(out, restrictionCheck{ok, fmt.Sprintf("min_kwh %s %s (%s kWh charged before)", r.MinKWh, reached(ok), p.EnergyBefore)})
	}
	if r.MaxKWh != nil {
		ok := p.EnergyBefore.LessThan(*r.MaxKWh)
		out = append(out, restrictionCheck{ok, fmt.Sprintf("max_kwh %s %s (%s kWh charged before)", r.MaxKWh, notReached(ok), p.EnergyBefore)})
	}
	if r.MinDuration != nil {
		ok := p.Elapsed >= time.Duration(*r.MinDuration)*time.Second
		out = append(out, restrictionCheck{ok, fmt.Sprintf("min_duration %ds %s (session running %s)", *r.MinDuration, reached(ok), p.Elapsed)})
	}
	if r.MaxDuration != nil {
		ok := p.Elapsed < time.Duration(*r.MaxDuration)*time.Second
		out = append(out, restrictionCheck{ok, fmt.Sprintf("max_duration %ds %s (session running %s)", *r.MaxDuration, notReached(ok), p.Elapsed)})
	}
	if r.MinCurrent != nil || r.MaxCurrent != nil {
		ok, why := matchRange(r.MinCurrent, r.MaxCurrent, p.Volumes.MinCurrent, p.Volumes.MaxCurrent)
		out = append(out, restrictionCheck{ok, fmt.Sprintf("current restriction [%s, %s) A: %s", opt(r.MinCurrent), opt(r.MaxCurrent), why)})
	}
	if r.MinPower != nil || r.MaxPower != nil {
		ok, why := matchRange(r.MinPower, r.MaxPower, p.Volumes.MinPower, p.Volumes.MaxPower)
		out = append(out, restrictionCheck{ok, fmt.Sprintf("power restriction [%s, %s) kW: %s", opt(r.MinPower), opt(r.MaxPower), why)})
	}
	if r.Reservation != NoReservation {
		out = append(out, restrictionCheck{true, "reservation " + string(r.Reservation)})
	}
	return out
}

func clockText(c *Clock, def string) string {
	if c == nil {
		return def
	}
	return c.String()
}

func opt(d *decimal.Decimal) string {
	if d == nil {
		return "-"
	}
	return d.String()
}

func inOut(ok bool) string {
	if ok {
		return "contains"
	}
	return "does not contain"
}

func reached(ok bool) string {
	if ok {
		return "reached"
	}
	return "not reached"
}

func notReached(ok bool) string {
	if ok {
		return "not yet reached"
	}
	return "reached"
}

func includes(ok bool) string {
	if ok {
		return "includes"
	}
	return "excludes"
}

// Why explains in English which tariff element priced line l of part p and
// why: the restrictions that matched, and for every earlier element with a
// component of the same dimension the restriction that did not match.
func (p *Part) Why(l *Line) string {
	var b strings.Builder
	dim := string(l.Dimension)
	if l.Reservation {
		dim = "reservation " + dim
	}
	for i := range p.elements {
		if l.Element >= 0 && i >= l.Element {
			break
		}
		e := &p.elements[i]
		if e.component(l.Dimension) < 0 || (e.reservation() != NoReservation) != l.Reservation {
			continue
		}
		var failed []string
		for _, c := range checks(e.Restrictions, p) {
			if !c.ok {
				failed = append(failed, c.text)
			}
		}
		if len(failed) > 0 {
			fmt.Fprintf(&b, "elements[%d] skipped: %s. ", i, strings.Join(failed, "; "))
		}
	}
	if l.Element < 0 {
		fmt.Fprintf(&b, "No tariff element with a %s component matched, so this volume is free (mod_tariffs: \"there will be no costs for that Tariff Dimension\").", dim)
		return b.String()
	}
	e := &p.elements[l.Element]
	cs := checks(e.Restrictions, p)
	if len(cs) == 0 {
		fmt.Fprintf(&b, "elements[%d] applies: it has no restrictions.", l.Element)
	} else {
		texts := make([]string, len(cs))
		for i, c := range cs {
			texts[i] = c.text
		}
		fmt.Fprintf(&b, "elements[%d] applies: %s.", l.Element, strings.Join(texts, "; "))
	}
	return b.String()
}
