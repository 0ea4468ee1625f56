// Package credit applies charge credits to MSP pricing results (issue 6 →
// MSP pricing; guide 003 → Charge credits): "A token subscription can be
// assigned charge credits, which can be used to pay for charge sessions.
// These credits can be allocated either as monetary value or energy (kWh).
// Once credits are assigned, they will automatically be used for all
// charge sessions until the credits are fully depleted. After that, the
// customer is charged as usual." "Some components, like parking fees, can
// be excluded from credit usage. Each component also specifies how credits
// are applied when the customer's credit balance is insufficient to cover
// the full session." "Monetary credit values are calculated excluding VAT."
//
// The package decides, it does not store: Apply takes the priced
// components, the rate's credit terms per component (domain/rateplan
// Credits) and the credits available to the session, and returns the
// discounted components and the movements to record. The store
// (db/credit.go) commits the movements with the pricing result; the
// balance never going negative is enforced there, by the database.
package credit

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/iso"
	"github.com/roamnode/roamnode/domain/rateplan"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/domain/vat"
)

// Kind is what a credit is counted in.
type Kind string

// The credit kinds (guide 003 → Charge credits: "either as monetary value
// or energy (kWh)").
const (
	// Monetary credits are money excluding VAT in one currency.
	Monetary Kind = "monetary"
	// Energy credits are kWh; they pay for energy components only (the
	// components whose volume is kWh).
	Energy Kind = "energy"
)

// Valid reports whether k is a credit kind.
func (k Kind) Valid() bool { return k == Monetary || k == Energy }

// Credit is a charge credit as pricing sees it.
type Credit struct {
	ID   uuid.UUID
	Kind Kind
	// Currency of a monetary credit; empty for energy.
	Currency string
	// Available is what the session may consume: the balance, plus what
	// this same session consumed of it before (a repricing gives that back
	// in the transaction that consumes again).
	Available decimal.Decimal
	// ValidFrom and ValidUntil bound the sessions (by start) that may
	// consume the credit, half-open; ValidUntil nil is open-ended.
	ValidFrom  time.Time
	ValidUntil *time.Time
}

// ValidAt reports whether a session starting at t may consume c.
func (c Credit) ValidAt(t time.Time) bool {
	return !t.Before(c.ValidFrom) && (c.ValidUntil == nil || t.Before(*c.ValidUntil))
}

// Grant is a request to grant a credit to a subscription.
type Grant struct {
	Kind Kind
	// Amount is money excluding VAT (monetary) or kWh (energy).
	Amount     decimal.Decimal
	Currency   string
	ValidFrom  time.Time
	ValidUntil *time.Time
}

// maxFraction is the precision the Admin API carries for decimals
// (DESIGN.md → Money and numbers: up to 12 fractional digits).
const maxFraction = 12

// Validate checks a grant and reports every problem with its field path.
// The amount field is named after the kind (amount for money, energy for
// kWh), as the two grant endpoints name it.
func (g Grant) Validate() error {
	var fs fault.Fields
	field := "amount"
	if g.Kind == Energy {
		field = "energy"
	}
	if !g.Kind.Valid() {
		fs.Add("kind", "must be monetary or energy")
	}
	if !g.Amount.IsPositive() {
		fs.Add(field, "must be greater than zero")
	} else if -g.Amount.Exponent() > maxFraction {
		fs.Add(field, "has more than %d fractional digits", maxFraction)
	}
	if g.Kind == Monetary && !iso.Currency(g.Currency) {
		fs.Add("currency", "must be an ISO 4217 currency code")
	}
	if g.ValidUntil != nil && !g.ValidUntil.After(g.ValidFrom) {
		fs.Add("valid_until", "must be later than valid_from")
	}
	return fs.Err()
}

// Terms are a result's credit terms per component name (the rate's
// rateplan.Credits of each component); a component without terms is not
// paid by credits.
type Terms map[string]rateplan.Credits

// Line explains what credits did to one component (stored in the result's
// detail, so an operator can answer "why did the credit not pay this").
type Line struct {
	Component      string          `json:"component"`
	Apply          bool            `json:"apply"`
	Shortfall      string          `json:"shortfall,omitempty"`
	PriceExclVAT   decimal.Decimal `json:"price_excl_vat"`
	CoveredExclVAT decimal.Decimal `json:"covered_excl_vat"`
	Note           string          `json:"note"`
	Credits        []LineCredit    `json:"credits,omitempty"`
}

// LineCredit is one credit's share of a line.
type LineCredit struct {
	CreditID       uuid.UUID       `json:"credit_id"`
	Kind           Kind            `json:"kind"`
	Amount         decimal.Decimal `json:"amount"`
	CoveredExclVAT decimal.Decimal `json:"covered_excl_vat"`
}

// Outcome is what Apply decided.
type Outcome struct {
	// Components are the result's components with what credits paid taken
	// off (excluding VAT), their VAT recomputed on the rest.
	Components []session.PriceComponent
	// Movements are the consumptions, in component order.
	Movements []session.CreditMovement
	Lines     []Line
}

// Notes of the lines.
const (
	NoteNotApplicable = "credits do not apply to this component"
	NoteNothingDue    = "nothing to pay"
	NoteNoCredit      = "no credit available"
	NoteCovered       = "covered by credits"
	NotePartly        = "partly covered; the rest is charged"
	NoteInFull        = "the credits fall short and the rate charges this component in full: credits kept"
)

// Apply applies credits to the components of an MSP result in currency for
// a session starting at start:
//
//  1. the credits valid at the session start with something available are
//     used soonest-expiring first (open-ended last), then oldest first, so
//     that nothing expires that could have been used;
//  2. each component in order whose terms apply and which has something
//     to pay (a credit CDR's negative amounts are never paid by credits)
//     is paid first by energy credits — only an energy component, whose
//     volume is kWh: each kWh of credit pays one billed kWh, at the
//     component's average price — then by monetary credits in the result's
//     currency, excluding VAT;
//  3. when the credits cannot pay the whole component, the shortfall
//     policy decides: charge_remainder uses what there is and charges the
//     rest; charge_in_full uses nothing and charges the component as
//     priced, keeping the credits;
//  4. the VAT of a component credits paid for is recomputed on what is
//     left to pay, rounded per line to the currency's minor unit (the rule
//     of vat.Apply; "Monetary credit values are calculated excluding VAT").
//
// The money an energy credit pays for part of a component is the
// component's price × the kWh paid ÷ its billed kWh, cut to 12 fractional
// digits (the guide has no rounding rule here; DESIGN.md keeps 12
// fractional digits), so the customer is never credited more than the kWh
// are worth; when the credit pays every billed kWh it pays the whole price.
func Apply(comps []session.PriceComponent, terms Terms, credits []Credit, currency string, start time.Time) (Outcome, error) {
	usable := make([]Credit, 0, len(credits))
	left := map[uuid.UUID]decimal.Decimal{}
	for _, c := range credits {
		if !c.ValidAt(start) || !c.Available.IsPositive() {
			continue
		}
		if c.Kind == Monetary && !strings.EqualFold(c.Currency, currency) {
			continue
		}
		if _, dup := left[c.ID]; dup {
			continue
		}
		usable = append(usable, c)
		left[c.ID] = c.Available
	}
	sort.SliceStable(usable, func(i, j int) bool { return before(usable[i], usable[j]) })
	// energy credits first, keeping the expiry order within each kind
	sort.SliceStable(usable, func(i, j int) bool { return usable[i].Kind == Energy && usable[j].Kind != Energy })

	out := Outcome{Components: make([]session.PriceComponent, len(comps))}
	copy(out.Components, comps)
	for i, c := range comps {
		t := terms[c.Component]
		line := Line{Component: c.Component, Apply: t.Apply, Shortfall: string(t.Shortfall), PriceExclVAT: c.ExclVAT, CoveredExclVAT: decimal.Zero}
		switch {
		case !t.Apply:
			line.Note = NoteNotApplicable
		case !c.ExclVAT.IsPositive():
			line.Note = NoteNothingDue
		default:
			steps, rest := cover(c, usable, left)
			switch {
			case len(steps) == 0:
				line.Note = NoteNoCredit
			case rest.IsPositive() && t.Shortfall == rateplan.ChargeInFull:
				line.Note = NoteInFull
			default:
				covered := decimal.Zero
				for _, s := range steps {
					left[s.credit.ID] = left[s.credit.ID].Sub(s.amount)
					covered = covered.Add(s.money)
					out.Movements = append(out.Movements, session.CreditMovement{CreditID: s.credit.ID, Component: c.Component, Amount: s.amount, Covered: s.money})
					line.Credits = append(line.Credits, LineCredit{CreditID: s.credit.ID, Kind: s.credit.Kind, Amount: s.amount, CoveredExclVAT: s.money})
				}
				line.CoveredExclVAT = covered
				line.Note = NoteCovered
				if rest.IsPositive() {
					line.Note = NotePartly
				}
				nc, err := discounted(c, covered, currency)
				if err != nil {
					return Outcome{}, err
				}
				out.Components[i] = nc
			}
		}
		out.Lines = append(out.Lines, line)
	}
	return out, nil
}

// before orders credits soonest-expiring first, open-ended last, then by
// start and id.
func before(a, b Credit) bool {
	switch {
	case a.ValidUntil != nil && b.ValidUntil == nil:
		return true
	case a.ValidUntil == nil && b.ValidUntil != nil:
		return false
	case a.ValidUntil != nil && !a.ValidUntil.Equal(*b.ValidUntil):
		return a.ValidUntil.Before(*b.ValidUntil)
	case !a.ValidFrom.Equal(b.ValidFrom):
		return a.ValidFrom.Before(b.ValidFrom)
	}
	return a.ID.String() < b.ID.String()
}

// step is one credit's share of a component.
type step struct {
	credit Credit
	amount decimal.Decimal // in the credit's unit
	money  decimal.Decimal // excluding VAT
}

// cover plans how the credits (with what is left of them) would pay
// component c, and returns the steps and the money still to pay.
func cover(c session.PriceComponent, credits []Credit, left map[uuid.UUID]decimal.Decimal) ([]step, decimal.Decimal) {
	rest := c.ExclVAT
	kwh := decimal.Zero
	if IsEnergyComponent(c) {
		kwh = c.Volume
	}
	var steps []step
	for _, cr := range credits {
		if !rest.IsPositive() {
			break
		}
		avail := left[cr.ID]
		if !avail.IsPositive() {
			continue
		}
		switch cr.Kind {
		case Energy:
			if !kwh.IsPositive() {
				continue
			}
			take := decimal.Min(avail, kwh)
			money := rest
			if take.LessThan(kwh) {
				money = decimal.Min(rest, trimmed(c.ExclVAT.Mul(take).DivRound(c.Volume, maxFraction+4).Truncate(maxFraction)))
			}
			kwh = kwh.Sub(take)
			rest = rest.Sub(money)
			steps = append(steps, step{credit: cr, amount: take, money: money})
		case Monetary:
			take := decimal.Min(avail, rest)
			rest = rest.Sub(take)
			steps = append(steps, step{credit: cr, amount: take, money: take})
		}
	}
	return steps, rest
}

// trimmed drops trailing fractional zeros (1.750000000000 → 1.75), so
// that amounts read the same however they were computed.
func trimmed(d decimal.Decimal) decimal.Decimal {
	return decimal.RequireFromString(d.String())
}

// IsEnergyComponent reports whether energy credits can pay c: its volume
// is billed kWh.
func IsEnergyComponent(c session.PriceComponent) bool {
	return strings.EqualFold(c.Unit, "kWh") && c.Volume.IsPositive()
}

// discounted returns c with covered taken off its price excluding VAT and
// its VAT recomputed on the rest at its rate (vat.ApplyPercentage: per
// line, rounded to the currency's minor unit).
func discounted(c session.PriceComponent, covered decimal.Decimal, currency string) (session.PriceComponent, error) {
	excl := c.ExclVAT.Sub(covered)
	a, err := vat.ApplyPercentage(excl, c.VATRate.Shift(2), currency)
	if err != nil {
		return c, fmt.Errorf("credit: VAT of component %s: %w", c.Component, err)
	}
	c.ExclVAT, c.VAT, c.InclVAT = a.ExclVAT, a.VAT, a.InclVAT
	return c, nil
}

// Use is what one credit pays of a result: Amount in the credit's unit
// (money excluding VAT, or kWh), the money it covers excluding VAT, and
// the components it pays for.
type Use struct {
	CreditID       uuid.UUID       `json:"credit_id"`
	Kind           Kind            `json:"kind"`
	Amount         decimal.Decimal `json:"amount"`
	CoveredExclVAT decimal.Decimal `json:"covered_excl_vat"`
	Components     []string        `json:"components"`
}

// Uses sums the lines' credit shares per credit, in the order the credits
// were first used (what a quote shows: "the credits that would apply").
func Uses(lines []Line) []Use {
	out := []Use{}
	at := map[uuid.UUID]int{}
	for _, l := range lines {
		for _, c := range l.Credits {
			i, ok := at[c.CreditID]
			if !ok {
				i = len(out)
				at[c.CreditID] = i
				out = append(out, Use{CreditID: c.CreditID, Kind: c.Kind, Amount: decimal.Zero, CoveredExclVAT: decimal.Zero})
			}
			u := &out[i]
			u.Amount = u.Amount.Add(c.Amount)
			u.CoveredExclVAT = u.CoveredExclVAT.Add(c.CoveredExclVAT)
			u.Components = append(u.Components, l.Component)
		}
	}
	return out
}
