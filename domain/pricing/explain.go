package pricing

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Explain describes tariff t in plain English: what each element charges,
// under which conditions, how volumes are rounded, and the session limits.
func Explain(t Tariff) string {
	var b strings.Builder
	cur := t.Currency
	if cur == "" {
		cur = "(no currency)"
	}
	if t.ID != "" {
		fmt.Fprintf(&b, "Tariff %s, prices in %s excluding VAT.\n", t.ID, cur)
	} else {
		fmt.Fprintf(&b, "Tariff with prices in %s excluding VAT.\n", cur)
	}
	if t.StartDateTime != nil || t.EndDateTime != nil {
		b.WriteString("Valid")
		if t.StartDateTime != nil {
			fmt.Fprintf(&b, " from %s", t.StartDateTime.UTC().Format(time.RFC3339))
		}
		if t.EndDateTime != nil {
			fmt.Fprintf(&b, " until %s", t.EndDateTime.UTC().Format(time.RFC3339))
		}
		b.WriteString(".\n")
	}
	if len(t.Elements) > 1 {
		b.WriteString("For every moment of a session and for each kind of charge separately, the first element below that has that kind of charge and whose conditions hold is used.\n")
	}
	for i := range t.Elements {
		e := &t.Elements[i]
		fmt.Fprintf(&b, "Element %d (%s):\n", i+1, conditions(e.Restrictions))
		if len(e.Components) == 0 {
			b.WriteString("  - charges nothing (no price components)\n")
		}
		for _, c := range e.Components {
			fmt.Fprintf(&b, "  - %s\n", describeComponent(c, cur, e.reservation() != NoReservation))
		}
	}
	if t.MinPrice != nil {
		fmt.Fprintf(&b, "A session costs at least %s.\n", limitText(t.MinPrice, cur))
	}
	if t.MaxPrice != nil {
		fmt.Fprintf(&b, "A session costs at most %s.\n", limitText(t.MaxPrice, cur))
	}
	if hasSteps(&t) {
		b.WriteString("Rounding to blocks applies once per session to the total energy and once to the total charging plus parking time, using the block size of the last price used (OCPI 2.2.1 step_size).\n")
	}
	if ws := Lint(t); len(ws) > 0 {
		b.WriteString("Warnings:\n")
		for _, w := range ws {
			fmt.Fprintf(&b, "  - %s\n", w)
		}
	}
	return b.String()
}

func hasSteps(t *Tariff) bool {
	for i := range t.Elements {
		for _, c := range t.Elements[i].Components {
			if c.Type != Flat && c.StepSize > 1 {
				return true
			}
		}
	}
	return false
}

// money renders a price with at least two decimals ("2.50", "0.125").
func money(d decimal.Decimal) string {
	if d.Exponent() >= -2 {
		return d.StringFixed(2)
	}
	return d.String()
}

func limitText(p *PriceLimit, cur string) string {
	s := fmt.Sprintf("%s %s excl. VAT", money(p.ExclVAT), cur)
	if p.InclVAT != nil {
		s += fmt.Sprintf(" and %s %s incl. VAT", money(*p.InclVAT), cur)
	}
	return s
}

func vatText(v *decimal.Decimal) string {
	if v == nil {
		return "no VAT"
	}
	return v.String() + "% VAT"
}

func describeComponent(c Component, cur string, reservation bool) string {
	switch c.Type {
	case Flat:
		what := "a fixed fee per session"
		if reservation {
			what = "a fixed reservation fee"
		}
		return fmt.Sprintf("%s of %s %s (%s)", what, money(c.Price), cur, vatText(c.VAT))
	case Energy:
		return fmt.Sprintf("energy at %s %s per kWh (%s), %s", money(c.Price), cur, vatText(c.VAT), stepText(c))
	case Time:
		what := "charging time"
		if reservation {
			what = "reservation time"
		}
		return fmt.Sprintf("%s at %s %s per hour (%s), %s", what, money(c.Price), cur, vatText(c.VAT), stepText(c))
	case ParkingTime:
		return fmt.Sprintf("parking time (connected, not charging) at %s %s per hour (%s), %s", money(c.Price), cur, vatText(c.VAT), stepText(c))
	}
	return fmt.Sprintf("unknown charge %q of %s %s", c.Type, c.Price, cur)
}

func stepText(c Component) string {
	switch {
	case c.StepSize < 1:
		return "not rounded"
	case c.Type == Energy && c.StepSize == 1:
		return "billed per Wh"
	case c.Type == Energy:
		return fmt.Sprintf("billed in blocks of %d Wh", c.StepSize)
	case c.StepSize == 1:
		return "billed per second"
	default:
		return "billed in blocks of " + secondsText(c.StepSize)
	}
}

func secondsText(s int64) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case s%3600 == 0:
		return plural(s/3600, "hour")
	case s%60 == 0:
		return plural(s/60, "minute")
	}
	return plural(s, "second")
}

func dayNames(days []time.Weekday) string {
	names := make([]string, len(days))
	for i, d := range days {
		names[i] = d.String()
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// conditions renders restrictions as an English condition.
func conditions(r *Restrictions) string {
	if r == nil || (r.empty() && r.Reservation == NoReservation) {
		return "always"
	}
	var cs []string
	switch r.Reservation {
	case ReservationActive:
		cs = append(cs, "for the time an EVSE is reserved")
	case ReservationExpires:
		cs = append(cs, "for a reservation that expires without a charging session")
	}
	switch {
	case r.StartTime != nil && r.EndTime != nil:
		end := r.EndTime.String()
		if *r.EndTime == 0 {
			end = "midnight"
		}
		s := fmt.Sprintf("between %s and %s local time", r.StartTime, end)
		if *r.EndTime != 0 && *r.EndTime < *r.StartTime {
			s += " (overnight)"
		}
		cs = append(cs, s)
	case r.StartTime != nil:
		cs = append(cs, fmt.Sprintf("from %s local time until midnight", r.StartTime))
	case r.EndTime != nil && *r.EndTime != 0:
		cs = append(cs, fmt.Sprintf("from midnight until %s local time", r.EndTime))
	}
	if len(r.DaysOfWeek) > 0 {
		cs = append(cs, "on "+dayNames(r.DaysOfWeek))
	}
	if r.StartDate != nil {
		cs = append(cs, fmt.Sprintf("from %s", r.StartDate))
	}
	if r.EndDate != nil {
		cs = append(cs, fmt.Sprintf("before %s", r.EndDate))
	}
	if r.MinKWh != nil {
		cs = append(cs, fmt.Sprintf("once %s kWh have been charged", r.MinKWh))
	}
	if r.MaxKWh != nil {
		cs = append(cs, fmt.Sprintf("until %s kWh have been charged", r.MaxKWh))
	}
	if r.MinDuration != nil {
		cs = append(cs, fmt.Sprintf("from %s into the session", secondsText(*r.MinDuration)))
	}
	if r.MaxDuration != nil {
		cs = append(cs, fmt.Sprintf("during the first %s of the session", secondsText(*r.MaxDuration)))
	}
	if r.MinCurrent != nil {
		cs = append(cs, fmt.Sprintf("while the current is at least %s A", r.MinCurrent))
	}
	if r.MaxCurrent != nil {
		cs = append(cs, fmt.Sprintf("while the current stays below %s A", r.MaxCurrent))
	}
	if r.MinPower != nil {
		cs = append(cs, fmt.Sprintf("while the power is at least %s kW", r.MinPower))
	}
	if r.MaxPower != nil {
		cs = append(cs, fmt.Sprintf("while the power stays below %s kW", r.MaxPower))
	}
	if len(cs) == 0 {
		return "always"
	}
	return strings.Join(cs, ", ")
}
