package rateplan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/pricing"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/domain/vat"
)

// Reasons of the drop-outs MSP pricing causes (the drop-out case key: the
// same for similar sessions; the detail carries the session's figures).
const (
	ReasonNoSubscription   = "No subscription for the token"
	ReasonNoRatePlan       = "No rate plan for the subscription plan"
	ReasonRatePlanNotValid = "Rate plan not usable by the administration"
	ReasonNoRule           = "No rate rule matches"
	ReasonNoCPOTariff      = "No CPO tariff to pass through"
	ReasonCurrency         = "Currency differs from the rate plan's"
	ReasonUnpriceable      = "Session cannot be priced"
	ReasonPartnerCost      = "Partner cost differs from its tariff"
	ReasonVAT              = "VAT cannot be determined"
	ReasonTooExpensive     = "Price above the maximum per session"

	// The drop-outs of the plan's "Use Customer Reimbursement VAT" (guide
	// 003 → "Subscription plan: use customer reimbursement VAT"), one
	// reason per way the rule cannot decide, so that each has its case.
	ReasonReimbursementVATUnknown         = "Customer reimbursement VAT unknown"
	ReasonReimbursementArrangementMissing = "Reimbursement arrangement missing at a mandatory EVSE"
	ReasonReimbursementArrangements       = "Several reimbursement arrangements at the EVSE"
)

// vatReasons maps the VAT package's drop-out codes of the reimbursement
// VAT rule to their reasons; other VAT failures are ReasonVAT.
var vatReasons = map[string]string{
	vat.CodeReimbursementVATUnknown:           ReasonReimbursementVATUnknown,
	vat.CodeReimbursementArrangementMissing:   ReasonReimbursementArrangementMissing,
	vat.CodeMultipleReimbursementArrangements: ReasonReimbursementArrangements,
}

// Subscription is the token's subscription at the session start and what
// pricing needs of it and its plan (guide 003 → Subscription: "Each
// subscription is tied to a specific Subscription Plan"; Subscription
// plan: "Each subscription plan specifies the rate plan").
type Subscription struct {
	ID               uuid.UUID
	LinkID           uuid.UUID
	TokenID          uuid.UUID
	CustomerID       uuid.UUID
	AdministrationID uuid.UUID
	PlanID           uuid.UUID
	RatePlanID       *uuid.UUID
}

// Checks are the pricing checks configured for the session's
// administration and roaming partner (the partner's win); nil fields are
// not checked.
type Checks struct {
	// PartnerCostAbsolute and PartnerCostPercentage bound the difference
	// between the CDR's total_cost (excluding VAT) and our recomputation of
	// the CPO's tariff: absolute in the session's currency, and in percent
	// of the CDR's total_cost. Either exceeded drops the session out.
	PartnerCostAbsolute   *decimal.Decimal `json:"partner_cost_absolute,omitempty"`
	PartnerCostPercentage *decimal.Decimal `json:"partner_cost_percentage,omitempty"`
	// MaxPrice is the highest plausible price of one session excluding VAT.
	MaxPrice *decimal.Decimal `json:"max_price,omitempty"`
}

// Layer returns c with the fields set in o overriding (administration
// checks, then the roaming partner's).
func (c Checks) Layer(o Checks) Checks {
	if o.PartnerCostAbsolute != nil {
		c.PartnerCostAbsolute = o.PartnerCostAbsolute
	}
	if o.PartnerCostPercentage != nil {
		c.PartnerCostPercentage = o.PartnerCostPercentage
	}
	if o.MaxPrice != nil {
		c.MaxPrice = o.MaxPrice
	}
	return c
}

// Validate reports negative bounds with their field paths.
func (c Checks) Validate() error {
	var fs fault.Fields
	for name, v := range map[string]*decimal.Decimal{"partner_cost_absolute": c.PartnerCostAbsolute,
		"partner_cost_percentage": c.PartnerCostPercentage, "max_price": c.MaxPrice} {
		if v != nil && v.IsNegative() {
			fs.Add(name, "must not be negative")
		}
	}
	return fs.Err()
}

// CPOCosts are the costs a CDR reports (mod_cdrs "CDR Object" totals,
// excluding VAT): what the CPO charges us.
type CPOCosts struct {
	Total, Energy, Time, Parking, Fixed, Reservation decimal.Decimal
}

// Inputs are the facts MSP pricing depends on, as the store found them
// for one session (or a quote).
type Inputs struct {
	// Session is the charge session: start, end, totals, place, partner.
	Session session.ChargeSession
	// Periods are the CDR's charging periods; empty: one period of the
	// session's totals (quotes, CDRs without periods).
	Periods []pricing.Period
	// TimeZone is the location's IANA zone (rules' time windows and tariff
	// restrictions are local time); without one, the zone of the session
	// location's country when it has a single one, else UTC
	// (pricing.ZoneFor; the detail's time_zone_note says which).
	TimeZone string
	// Subscription is nil when no token link was valid at the session start.
	Subscription *Subscription
	// Plan is the rate plan of the subscription plan; nil when it has none.
	Plan *Plan
	// PlanUsable is false when the rate plan is neither owned by nor shared
	// with the subscription's administration, or that administration's
	// currency differs (guide 003 → Rate plan: shared "as long as these
	// administrations use the same currency").
	PlanUsable bool
	// CPOTariff is the CPO's tariff for the session (the CDR's own, else
	// the partner tariff its periods or connector name); nil when unknown.
	CPOTariff *pricing.Tariff
	// CPOCosts are the CDR's reported costs; nil for quotes.
	CPOCosts *CPOCosts
	// VAT is the seller's VAT configuration, Customer the subscription's
	// customer (reverse charge).
	VAT      vat.Config
	Customer vat.Customer
	Checks   Checks
	// UseCustomerReimbursementVAT is the subscription plan's "Use Customer
	// Reimbursement VAT" property; LocalEVSE is our own EVSE where the
	// session took place with its reimbursement arrangements (nil when no
	// local EVSE matches; the loader looks it up only for plans with the
	// property). Together they let the customer's reimbursement VAT decide
	// (vat.Determine).
	UseCustomerReimbursementVAT bool
	LocalEVSE                   *vat.LocalEVSE
}

// Pricer is the MSP pricer of the session pipeline.
type Pricer struct{ Loader Loader }

// Loader gathers the Inputs of an MSP session (db.MSPPricingLoader).
type Loader interface {
	MSPPricingInputs(ctx context.Context, s session.ChargeSession) (Inputs, error)
}

var _ session.Pricer = Pricer{}

// Price implements session.Pricer: one result of kind msp for an MSP
// session, nothing for the other side.
func (p Pricer) Price(ctx context.Context, s session.ChargeSession, _ time.Time) ([]session.PriceResult, error) {
	if s.Side != session.MSP {
		return nil, nil
	}
	in, err := p.Loader.MSPPricingInputs(ctx, s)
	if err != nil {
		return nil, err
	}
	r, err := Compute(in)
	if err != nil {
		return nil, err
	}
	return []session.PriceResult{r}, nil
}

// Compute prices a session for our customer:
//
//  1. the token's subscription at the session start gives the plan and its
//     rate plan (guide 003 → Charge Sessions: "the system determines the
//     applicable subscription and roaming partner, and the associated rate
//     plan is used"); none → drop-out;
//  2. the first rule of the rate plan, most specific first, that matches
//     the session picks the rate (Select); none → drop-out;
//  3. a rate with components is priced by the OCPI tariff engine as a
//     one-element tariff of those components (step sizes as OCPI's) over
//     the session's totals as one period (total_energy, total_time less
//     total_parking_time, total_parking_time: what the CDR bills; a rate
//     has no restrictions within a session, so the charging periods would
//     only split the same volumes); a pass-through rate prices the CPO's
//     tariff over the charging periods (else, without a tariff, the CDR's
//     reported costs) and raises every component by the markup
//     percentage, the fixed markup being a component of its own;
//  4. component minimum and maximum prices bound each used component, the
//     rate's minimum and maximum the session (the difference is a
//     component "minimum_price" or "maximum_price");
//  5. the pricing checks: the partner's total_cost against our
//     recomputation of its tariff, and the maximum price per session;
//  6. VAT is determined per component (guide 003 → VAT kind: "These rules
//     apply to each item's subtotal"; category msp_charge_session, the
//     component's name as VAT indicator, the location's country as origin,
//     the session end as moment) and applied per component, rounded per
//     line (vat.Apply); a plan with "Use Customer Reimbursement VAT" lets
//     the reimbursement VAT of the customer of our local EVSE's
//     arrangement decide first (exempt, normal, or a drop-out with its own
//     reason: unknown, missing while mandatory, several arrangements).
//
// Amounts excluding VAT are exact (OCPI: "no parameters related to price
// rounding"); only VAT is rounded, per component. A credit CDR (mod_cdrs
// "Credit CDRs") is priced as the reversal of its figures: every amount
// negated.
func Compute(in Inputs) (session.PriceResult, error) {
	s := in.Session
	start := s.Start.UTC().Format(time.RFC3339)
	sub := in.Subscription
	if sub == nil {
		return fail(session.CheckPricingConfigured, ReasonNoSubscription, "token %s (%s) has no subscription link valid at %s",
			s.Token.UID, s.Token.Type, start)
	}
	if sub.RatePlanID == nil || in.Plan == nil {
		return fail(session.CheckPricingConfigured, ReasonNoRatePlan, "subscription plan %s of subscription %s has no rate plan", sub.PlanID, sub.ID)
	}
	plan := *in.Plan
	if !in.PlanUsable {
		return fail(session.CheckPricingConfigured, ReasonRatePlanNotValid, "rate plan %s (%s) is not shared with administration %s in its currency",
			plan.ID, plan.Currency, sub.AdministrationID)
	}
	z := pricing.ZoneFor(in.TimeZone, s.Location.Country)
	loc, zoneNote := z.Loc, z.Note
	f := FactsOf(s, loc)
	idx, rule, rate, ok := plan.Select(f)
	if !ok {
		return fail(session.CheckPricingConfigured, ReasonNoRule, "rate plan %s: no rule matches partner %v, CPO %s-%s, country %s, location %s, EVSE %s, power type %s at %s local",
			plan.ID, uuidText(s.PartnerID), s.CountryCode, s.PartyID, s.Location.Country, s.Location.LocationID, f.EVSEID, s.Location.PowerType,
			f.LocalStart.Format("Mon 15:04"))
	}
	ps := pricing.Session{Start: s.Start, End: s.End, Periods: withEnergy(in.Periods, s)}
	if len(ps.Periods) == 0 {
		ps.Periods = []pricing.Period{TotalsPeriod(s)}
	}
	totals := pricing.Session{Start: s.Start, End: s.End, Periods: []pricing.Period{TotalsPeriod(s)}}
	d := detail{SubscriptionID: sub.ID, CustomerID: sub.CustomerID, TokenLinkID: sub.LinkID, SubscriptionPlanID: sub.PlanID, RatePlanID: plan.ID, RuleIndex: idx,
		Rule: rule, Rate: rate.Code, TimeZone: loc.String(), ZoneNote: zoneNote, LocalStart: f.LocalStart.Format("2006-01-02T15:04:05"),
		SyntheticPeriod: rate.PassThrough == nil || len(in.Periods) == 0}

	var comps []line
	var cpoRes *pricing.Result
	// The CPO's tariff is priced when the rate passes it through or the
	// partner cost check needs it.
	if in.CPOTariff != nil && (rate.PassThrough != nil || in.Checks.PartnerCostAbsolute != nil || in.Checks.PartnerCostPercentage != nil) {
		if !strings.EqualFold(in.CPOTariff.Currency, s.Currency) && s.Currency != "" {
			d.Notes = append(d.Notes, fmt.Sprintf("the CPO tariff %s is in %s, the session in %s", in.CPOTariff.ID, in.CPOTariff.Currency, s.Currency))
		}
		if r, err := pricing.Price(*in.CPOTariff, ps, loc); err == nil {
			cpoRes = &r
			d.CPOTariffID = in.CPOTariff.ID
			d.CPORecomputed = &r.TotalCost.ExclVAT
		} else {
			d.Notes = append(d.Notes, "the CPO tariff "+in.CPOTariff.ID+" cannot price the session: "+err.Error())
		}
	}
	if pt := rate.PassThrough; pt != nil {
		d.Mode = "pass_through"
		switch {
		case cpoRes != nil:
			if !strings.EqualFold(in.CPOTariff.Currency, plan.Currency) {
				return fail(session.CheckPricingConfigured, ReasonCurrency, "CPO tariff %s is in %s, rate plan %s in %s", in.CPOTariff.ID,
					in.CPOTariff.Currency, plan.ID, plan.Currency)
			}
			comps = linesOf(*cpoRes, nil)
			d.PassThroughSource = "tariff " + in.CPOTariff.ID
		case in.CPOCosts != nil:
			if !strings.EqualFold(s.Currency, plan.Currency) {
				return fail(session.CheckPricingConfigured, ReasonCurrency, "the CDR is in %s, rate plan %s in %s", s.Currency, plan.ID, plan.Currency)
			}
			comps = costLines(s, *in.CPOCosts)
			d.PassThroughSource = "the CDR's reported costs"
		default:
			return fail(session.CheckPricingConfigured, ReasonNoCPOTariff, "rate %s of rate plan %s passes the CPO's tariff through; none is known for %s-%s location %s",
				rate.Code, plan.ID, s.CountryCode, s.PartyID, s.Location.LocationID)
		}
		factor := decimal.NewFromInt(1).Add(pt.MarkupPercentage.Shift(-2))
		for i := range comps {
			comps[i].excl = comps[i].excl.Mul(factor)
			comps[i].credits = pt.Credits
		}
		if !pt.MarkupFixed.IsZero() {
			comps = append(comps, line{name: "markup", unit: "session", volume: decimal.NewFromInt(1), excl: pt.MarkupFixed, credits: pt.Credits})
		}
	} else {
		d.Mode = "rate"
		t := rate.Tariff(plan)
		res, err := pricing.Price(t, totals, loc)
		if err != nil {
			return fail(session.CheckPricingConfigured, ReasonUnpriceable, "rate %s: %v", rate.Code, err)
		}
		comps = linesOf(res, rate.Components)
		for i := range comps {
			comps[i] = comps[i].bounded()
		}
		d.Engine = engineDetail(res)
	}
	comps = append(comps, rate.sessionBounds(comps)...)

	// Pricing checks (guide 003 → Charge Sessions: "Various pricing checks
	// are applied, which can be customized based on administration
	// settings and roaming partner configurations").
	if err := partnerCostCheck(in, cpoRes, &d); err != nil {
		return session.PriceResult{}, err
	}
	total := decimal.Zero
	for _, c := range comps {
		total = total.Add(c.excl)
	}
	if m := in.Checks.MaxPrice; m != nil && total.GreaterThan(*m) && !s.Bypasses(session.CheckPricePlausible) {
		return fail(session.CheckPricePlausible, ReasonTooExpensive, "%s %s excluding VAT, the maximum is %s", total, plan.Currency, m)
	}

	out := session.PriceResult{Kind: session.KindMSP, Currency: strings.ToUpper(plan.Currency)}
	origin, _ := vat.CountryAlpha2(s.Location.Country)
	moment := s.End
	if moment.IsZero() {
		moment = s.Start
	}
	for _, c := range comps {
		excl := c.excl
		if s.Credit {
			excl = excl.Neg()
		}
		res, err := vat.Determine(vat.Input{Category: vat.CategoryMSPChargeSession, OriginCountry: origin, Moment: moment,
			Indicators: []string{c.name}, Customer: in.Customer, UseCustomerReimbursementVAT: in.UseCustomerReimbursementVAT,
			SessionStart: s.Start, LocalEVSE: in.LocalEVSE}, in.VAT)
		if err != nil {
			return fail(session.CheckVATDetermined, vatReason(err), "component %s: %s", c.name, err.Error())
		}
		a, err := vat.Apply(excl, res, plan.Currency)
		if err != nil {
			return fail(session.CheckVATDetermined, ReasonVAT, "component %s: %s", c.name, err.Error())
		}
		rate := res.Percentage.Shift(-2)
		if res.Exempt || res.ReverseCharged {
			rate = decimal.Zero
		}
		out.Components = append(out.Components, session.PriceComponent{Component: c.name, Volume: c.volume, Unit: c.unit,
			ExclVAT: a.ExclVAT, VATRate: rate, VAT: a.VAT, InclVAT: a.InclVAT})
		d.VAT = append(d.VAT, vatDetail{Component: c.name, Country: res.Country, Kind: string(res.Kind), Percentage: res.Percentage,
			Exempt: res.Exempt, ReverseCharged: res.ReverseCharged, Explanation: res.Explanation()})
		d.Credits = append(d.Credits, creditDetail{Component: c.name, Credits: c.credits})
	}
	out = out.Totals()
	raw, err := json.Marshal(d)
	if err != nil {
		return session.PriceResult{}, err
	}
	out.Detail = raw
	return out, nil
}

// vatReason is the drop-out reason of a VAT determination error.
func vatReason(err error) string {
	if e, ok := fault.As(err); ok {
		if r, ok := vatReasons[e.Code]; ok {
			return r
		}
	}
	return ReasonVAT
}

func fail(c session.Check, reason, detail string, args ...any) (session.PriceResult, error) {
	return session.PriceResult{}, session.Failf(c, reason, detail, args...)
}

func uuidText(id *uuid.UUID) string {
	if id == nil {
		return "none"
	}
	return id.String()
}

// FactsOf returns what rules match on for session s at a location in loc.
func FactsOf(s session.ChargeSession, loc *time.Location) Facts {
	evse := s.Location.EvseID
	if evse == "" {
		evse = s.Location.EvseUID
	}
	return Facts{PartnerID: s.PartnerID, CPOCountry: s.CountryCode, CPOParty: s.PartyID, Country: s.Location.Country,
		LocationID: s.Location.LocationID, EVSEID: evse, PowerType: s.Location.PowerType, LocalStart: s.Start.In(loc)}
}

// withEnergy returns the charging periods, with the session's total energy
// in the first one when no period reports any energy (CDRs that report
// only TIME dimensions): the energy is then priced as charged at the start.
func withEnergy(ps []pricing.Period, s session.ChargeSession) []pricing.Period {
	if len(ps) == 0 || !s.TotalEnergy.IsPositive() {
		return ps
	}
	for _, p := range ps {
		if !p.Energy.IsZero() {
			return ps
		}
	}
	out := append([]pricing.Period(nil), ps...)
	out[0].Energy = s.TotalEnergy
	return out
}

// TotalsPeriod is the one charging period a session without periods is
// priced as: its energy, its charging time (total time less parking time)
// and its parking time, from the start.
func TotalsPeriod(s session.ChargeSession) pricing.Period {
	charging := s.TotalTime.Sub(s.TotalParkingTime)
	if charging.IsNegative() {
		charging = decimal.Zero
	}
	return pricing.Period{Start: s.Start, Energy: s.TotalEnergy, Time: charging, ParkingTime: s.TotalParkingTime}
}

// Tariff expresses the rate as an OCPI tariff for the engine: one element
// without restrictions holding every component, prices per kWh, per hour
// (a price per minute × 60) or per session, OCPI step sizes, no VAT (VAT
// is determined per component afterwards) and no min/max (applied per
// component and per session by Compute).
func (r Rate) Tariff(p Plan) pricing.Tariff {
	el := pricing.Element{}
	for _, c := range r.Components {
		price := c.Price
		if c.Unit == PerMinute {
			price = price.Mul(decimal.NewFromInt(60))
		}
		el.Components = append(el.Components, pricing.Component{Type: c.Type.ocpi(), Price: price, StepSize: c.StepSize})
	}
	return pricing.Tariff{ID: p.ID.String() + "/" + r.Code, Currency: p.Currency, Elements: []pricing.Element{el}}
}

func (d Dimension) ocpi() pricing.Dimension {
	switch d {
	case Energy:
		return pricing.Energy
	case Time:
		return pricing.Time
	case ParkingTime:
		return pricing.ParkingTime
	}
	return pricing.Flat
}

// line is a component of the price before VAT.
type line struct {
	name     string
	unit     string
	volume   decimal.Decimal
	excl     decimal.Decimal
	min, max *decimal.Decimal
	credits  Credits
}

// bounded applies the component's minimum (when it was used) and maximum.
func (l line) bounded() line {
	if l.min != nil && l.volume.IsPositive() && l.excl.LessThan(*l.min) {
		l.excl = *l.min
	}
	if l.max != nil && l.excl.GreaterThan(*l.max) {
		l.excl = *l.max
	}
	return l
}

// sessionBounds returns the component that brings the session total to the
// rate's minimum or maximum, if needed.
func (r Rate) sessionBounds(ls []line) []line {
	total := decimal.Zero
	for _, l := range ls {
		total = total.Add(l.excl)
	}
	one := decimal.NewFromInt(1)
	if r.MinPrice != nil && total.LessThan(*r.MinPrice) {
		return []line{{name: "minimum_price", unit: "session", volume: one, excl: r.MinPrice.Sub(total)}}
	}
	if r.MaxPrice != nil && total.GreaterThan(*r.MaxPrice) {
		return []line{{name: "maximum_price", unit: "session", volume: one, excl: r.MaxPrice.Sub(total)}}
	}
	return nil
}

var dimensionNames = map[pricing.Dimension]struct{ name, unit string }{
	pricing.Energy: {"energy", "kWh"}, pricing.Time: {"time", "h"}, pricing.ParkingTime: {"parking_time", "h"}, pricing.Flat: {"flat", "session"},
}

// linesOf sums the engine's lines per dimension (reservation apart), in
// the order energy, time, parking time, flat, reservation, then the
// tariff's own min/max adjustment; free volume (no element matched) is not
// a component. rc, when given, are the rate's components (bounds, credits).
func linesOf(res pricing.Result, rc []Component) []line {
	order := []pricing.Dimension{pricing.Energy, pricing.Time, pricing.ParkingTime, pricing.Flat}
	by := map[string]*line{}
	var names []string
	add := func(name, unit string, vol, excl decimal.Decimal) {
		l, ok := by[name]
		if !ok {
			l = &line{name: name, unit: unit}
			by[name] = l
			names = append(names, name)
		}
		l.volume = l.volume.Add(vol)
		l.excl = l.excl.Add(excl)
	}
	for _, dim := range order {
		for _, p := range res.Parts {
			for _, ln := range p.Lines {
				if ln.Dimension != dim || ln.Element < 0 || ln.Reservation {
					continue
				}
				n := dimensionNames[dim]
				add(n.name, n.unit, ln.Billed, ln.Amount.ExclVAT)
			}
		}
	}
	for _, p := range res.Parts {
		for _, ln := range p.Lines {
			if ln.Reservation && ln.Element >= 0 {
				unit := "h"
				if ln.Dimension == pricing.Flat {
					unit = "session"
				}
				add("reservation", unit, ln.Billed, ln.Amount.ExclVAT)
			}
		}
	}
	for _, a := range res.Adjustments {
		add("adjustment", "session", decimal.NewFromInt(1), a.Amount.ExclVAT)
	}
	out := make([]line, 0, len(names))
	for _, n := range names {
		l := *by[n]
		for _, c := range rc {
			if dimensionNames[c.Type.ocpi()].name == n {
				l.min, l.max, l.credits = c.MinPrice, c.MaxPrice, c.Credits
			}
		}
		out = append(out, l)
	}
	return out
}

// costLines are the CDR's reported costs as components (pass-through
// without a known tariff); what total_cost holds beyond the dimension
// costs (a min/max price) is an adjustment.
func costLines(s session.ChargeSession, c CPOCosts) []line {
	one := decimal.NewFromInt(1)
	charging := s.TotalTime.Sub(s.TotalParkingTime)
	var out []line
	add := func(name, unit string, vol, excl decimal.Decimal) {
		if !excl.IsZero() {
			out = append(out, line{name: name, unit: unit, volume: vol, excl: excl})
		}
	}
	add("energy", "kWh", s.TotalEnergy, c.Energy)
	add("time", "h", charging, c.Time)
	add("parking_time", "h", s.TotalParkingTime, c.Parking)
	add("flat", "session", one, c.Fixed)
	add("reservation", "session", one, c.Reservation)
	add("adjustment", "session", one, c.Total.Sub(c.Energy).Sub(c.Time).Sub(c.Parking).Sub(c.Fixed).Sub(c.Reservation))
	return out
}

// partnerCostCheck compares the CDR's total_cost with our recomputation of
// the CPO's tariff when a tolerance is configured for it.
func partnerCostCheck(in Inputs, cpoRes *pricing.Result, d *detail) error {
	abs, pct := in.Checks.PartnerCostAbsolute, in.Checks.PartnerCostPercentage
	if (abs == nil && pct == nil) || in.CPOCosts == nil || cpoRes == nil {
		return nil
	}
	reported, ours := in.CPOCosts.Total, cpoRes.TotalCost.ExclVAT
	diff := reported.Sub(ours).Abs()
	d.PartnerCostDifference = &diff
	over := ""
	if abs != nil && diff.GreaterThan(*abs) {
		over = fmt.Sprintf("more than %s", abs)
	}
	if pct != nil {
		limit := reported.Abs().Mul(*pct).Shift(-2)
		if diff.GreaterThan(limit) {
			over = fmt.Sprintf("more than %s %%", pct)
		}
	}
	if over == "" {
		return nil
	}
	if in.Session.Bypasses(session.CheckPartnerCostMatches) {
		d.Notes = append(d.Notes, "partner cost check bypassed: "+over)
		return nil
	}
	return session.Failf(session.CheckPartnerCostMatches, ReasonPartnerCost, "CDR total_cost %s, tariff %s gives %s: %s apart, %s",
		reported, in.CPOTariff.ID, ours, diff, over)
}

// detail is the explainable breakdown stored with the result.
type detail struct {
	Mode                  string           `json:"mode"`
	SubscriptionID        uuid.UUID        `json:"subscription_id"`
	CustomerID            uuid.UUID        `json:"customer_id"`
	TokenLinkID           uuid.UUID        `json:"token_link_id"`
	SubscriptionPlanID    uuid.UUID        `json:"subscription_plan_id"`
	RatePlanID            uuid.UUID        `json:"rate_plan_id"`
	RuleIndex             int              `json:"rule_index"`
	Rule                  Rule             `json:"rule"`
	Rate                  string           `json:"rate"`
	TimeZone              string           `json:"time_zone"`
	ZoneNote              string           `json:"time_zone_note,omitempty"`
	LocalStart            string           `json:"local_start"`
	SyntheticPeriod       bool             `json:"priced_from_totals"`
	PassThroughSource     string           `json:"pass_through_source,omitempty"`
	CPOTariffID           string           `json:"cpo_tariff_id,omitempty"`
	CPORecomputed         *decimal.Decimal `json:"cpo_tariff_total_excl_vat,omitempty"`
	PartnerCostDifference *decimal.Decimal `json:"partner_cost_difference,omitempty"`
	Engine                []engineLine     `json:"engine_lines,omitempty"`
	VAT                   []vatDetail      `json:"vat"`
	Credits               []creditDetail   `json:"credits"`
	Notes                 []string         `json:"notes,omitempty"`
}

type engineLine struct {
	Start     time.Time       `json:"start"`
	Dimension string          `json:"dimension"`
	Volume    decimal.Decimal `json:"volume"`
	Billed    decimal.Decimal `json:"billed"`
	UnitPrice decimal.Decimal `json:"unit_price"`
	ExclVAT   decimal.Decimal `json:"excl_vat"`
}

type vatDetail struct {
	Component      string          `json:"component"`
	Country        string          `json:"country"`
	Kind           string          `json:"kind"`
	Percentage     decimal.Decimal `json:"percentage"`
	Exempt         bool            `json:"exempt"`
	ReverseCharged bool            `json:"reverse_charged"`
	Explanation    string          `json:"explanation"`
}

type creditDetail struct {
	Component string  `json:"component"`
	Credits   Credits `json:"credits"`
}

func engineDetail(r pricing.Result) []engineLine {
	var out []engineLine
	for _, p := range r.Parts {
		for _, l := range p.Lines {
			if l.Element < 0 {
				continue
			}
			out = append(out, engineLine{Start: p.Volumes.Start.UTC(), Dimension: string(l.Dimension), Volume: l.Volume, Billed: l.Billed,
				UnitPrice: l.UnitPrice, ExclVAT: l.Amount.ExclVAT})
		}
	}
	return out
}

// IsFailure reports whether err is a pricing failure (a drop-out), not a
// failure of the store.
func IsFailure(err error) bool {
	var f *session.PricingFailure
	return errors.As(err, &f)
}
