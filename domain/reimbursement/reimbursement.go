// Package reimbursement computes what a CPO owes site owners for a charge
// session at their EVSEs (guide 003 → Charge Point Operators → Charge
// sessions → "Reimbursements"):
//
//   - "All reimbursement arrangements valid at the start of the charge
//     session will be applied. Reimbursement amounts are calculated, and the
//     appropriate VAT is determined. If this process fails, the charge
//     session is added to a drop-out case."
//   - "Reimbursements can be calculated in two ways, using a setting on the
//     reimbursement plan: Using the CPMS provided reimbursement. Using
//     TandemDrive to calculate the reimbursement" from cost components
//     ("the specific cost components available for calculations, as defined
//     by the reimbursement plan") and calculation inputs ("the actual prices
//     associated with each cost component … set in either the reimbursement
//     plan or the individual reimbursement arrangements. The inputs for the
//     arrangement take precedence over the inputs for the plan for the same
//     cost component").
//   - "Each customer in TandemDrive has a ‘Reimbursement VAT’ property to
//     determine VAT applicability for reimbursements."
//
// The package is pure: the caller (db.ReimbursementPricer) loads the
// arrangements, inputs and VAT configuration and passes them in; the
// result is one session.PriceResult of KindReimbursement per arrangement,
// and a business failure is a *session.PricingFailure (a drop-out).
package reimbursement

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/domain/vat"
)

// Calculation is how a plan finds the reimbursement: the plan setting of
// the guide ("using a setting on the reimbursement plan").
type Calculation string

// The two calculations of the guide.
const (
	// CMSProvided uses the reimbursement the charge management system
	// reported with the session (session.ChargeSession.CMSReimbursement).
	CMSProvided Calculation = "cms_provided"
	// Calculated sums the plan's cost components priced by the
	// calculation inputs.
	Calculated Calculation = "calculated"
)

// Component is a cost component type. Each prices one measured quantity
// of the session at the calculation input's value per unit. Scripts and
// custom components, which the guide leaves to its support team, are not
// offered.
type Component string

// The cost component types.
const (
	// Energy: value per kWh of the session's total energy.
	Energy Component = "energy"
	// Time: value per hour of charging time: the CDR's total_time less its
	// total_parking_time (mod_cdrs: total_time "including parking time"),
	// so that a plan with time and parking_time pays each hour once, as
	// MSP rate plans price it.
	Time Component = "time"
	// ParkingTime: value per hour of parking time (total_parking_time).
	ParkingTime Component = "parking_time"
	// Flat: value per session.
	Flat Component = "flat"
)

// Components lists the cost component types in the order results show them.
var Components = []Component{Energy, Time, ParkingTime, Flat}

// Valid reports whether c is a known cost component type.
func (c Component) Valid() bool { return slices.Contains(Components, c) }

// Unit is the unit of the component's volume.
func (c Component) Unit() string {
	switch c {
	case Energy:
		return "kWh"
	case Time, ParkingTime:
		return "h"
	}
	return "session"
}

// CMSComponent is the component name of a CMS-provided reimbursement.
const CMSComponent = "reimbursement"

// Input is a calculation input: the value per unit of one cost component
// from ValidFrom on (until a later input of the same component and owner).
type Input struct {
	Component Component
	ValidFrom time.Time
	Value     decimal.Decimal
}

// ValidateInput checks one input as it is written (Admin API): a known
// component among the plan's, a valid_from, and a value that is not
// negative (a reimbursement is what we owe, never what the owner owes).
func ValidateInput(in Input, planComponents []Component) error {
	var fs fault.Fields
	if !in.Component.Valid() {
		fs.Add("component_type", "must be one of %s", joinComponents(Components))
	} else if !slices.Contains(planComponents, in.Component) {
		fs.Add("component_type", "is not a cost component of the plan (%s)", joinComponents(planComponents))
	}
	if in.ValidFrom.IsZero() {
		fs.Add("valid_from", "is required")
	}
	if in.Value.IsNegative() {
		fs.Add("value", "must not be negative")
	}
	return fs.Err()
}

// Plan is a reimbursement plan as pricing needs it.
type Plan struct {
	ID          uuid.UUID
	Calculation Calculation
	// Components are the cost components the plan calculates with
	// (Calculated only).
	Components []Component
	// Inputs are the plan's calculation inputs.
	Inputs []Input
}

// ValidatePlan checks a plan's settings: a known calculation; for
// Calculated, at least one cost component, each known and named once; for
// CMSProvided, none (nothing is calculated).
func ValidatePlan(calc Calculation, comps []Component) error {
	var fs fault.Fields
	switch calc {
	case Calculated:
		if len(comps) == 0 {
			fs.Add("cost_components", "a calculated plan needs at least one cost component")
		}
	case CMSProvided:
		if len(comps) > 0 {
			fs.Add("cost_components", "a plan that uses the CMS provided reimbursement calculates nothing; leave it empty")
		}
	default:
		fs.Add("calculation", "must be %q or %q", CMSProvided, Calculated)
	}
	for i, c := range comps {
		if !c.Valid() {
			fs.Add(fmt.Sprintf("cost_components[%d]", i), "must be one of %s", joinComponents(Components))
		} else if slices.Index(comps, c) != i {
			fs.Add(fmt.Sprintf("cost_components[%d]", i), "names %s twice", c)
		}
	}
	return fs.Err()
}

// Arrangement is a reimbursement arrangement valid at the session start,
// with everything pricing it needs.
type Arrangement struct {
	ID uuid.UUID
	// AdministrationID owns the arrangement: its results' events go to it.
	AdministrationID uuid.UUID
	Plan             Plan
	// Inputs are the arrangement's own calculation inputs; they take
	// precedence over the plan's (EffectiveInputs).
	Inputs []Input
	// Currency is the arrangement's administration's currency.
	Currency string
	// Customer is the site owner paid, with its Reimbursement VAT.
	Customer vat.Customer
	// VAT is the VAT configuration of the administration's seller.
	VAT vat.Config
}

// Session is what pricing needs of a charge session at our EVSE.
type Session struct {
	Start time.Time
	// Energy in kWh, Time (the CDR's total_time, parking included) and
	// ParkingTime in hours.
	Energy, Time, ParkingTime decimal.Decimal
	// CMSReimbursement is the amount (excluding VAT) the charge management
	// system reported, nil when it reported none.
	CMSReimbursement *decimal.Decimal
	// Currency of the session (and of CMSReimbursement).
	Currency string
	// OriginCountry is the location's country, alpha-2 ("" when unknown).
	OriginCountry string
	// EVSEUID and ReimbursementMandatory describe the EVSE.
	EVSEUID                string
	ReimbursementMandatory bool
}

// Effective is the calculation input that applies to a component, and
// where it came from.
type Effective struct {
	Input
	// Source is "arrangement" or "plan".
	Source string
}

// EffectiveInputs returns the input of each component that applies at at:
// the plan's and the arrangement's inputs are merged by (component,
// valid_from), the arrangement's winning ("The inputs for the arrangement
// take precedence over the inputs for the plan for the same cost
// component", guide; issue 6: "inputs on the arrangement override the
// plan's for the same component and valid_from"), and of the merged
// inputs of a component the one with the latest valid_from not after at
// applies. So a plan's price change after an arrangement's own input
// applies from its valid_from on, unless the arrangement has an input
// from that moment too.
func EffectiveInputs(plan, arrangement []Input, at time.Time) map[Component]Effective {
	type key struct {
		c    Component
		from int64
	}
	merged := map[key]Effective{}
	for _, in := range plan {
		merged[key{in.Component, in.ValidFrom.UnixNano()}] = Effective{in, "plan"}
	}
	for _, in := range arrangement {
		merged[key{in.Component, in.ValidFrom.UnixNano()}] = Effective{in, "arrangement"}
	}
	out := map[Component]Effective{}
	for _, e := range merged {
		if e.ValidFrom.After(at) {
			continue
		}
		if cur, ok := out[e.Component]; !ok || e.ValidFrom.After(cur.ValidFrom) {
			out[e.Component] = e
		}
	}
	return out
}

// Detail is the explainable breakdown stored with a result
// (session.PriceResult.Detail).
type Detail struct {
	ArrangementID uuid.UUID   `json:"arrangement_id"`
	CustomerID    string      `json:"customer_id"`
	PlanID        uuid.UUID   `json:"plan_id"`
	Calculation   Calculation `json:"calculation"`
	// Inputs are the calculation inputs used (Calculated).
	Inputs []DetailInput `json:"inputs,omitempty"`
	VAT    DetailVAT     `json:"vat"`
}

// DetailInput is one calculation input used.
type DetailInput struct {
	Component Component       `json:"component"`
	Value     decimal.Decimal `json:"value"`
	ValidFrom time.Time       `json:"valid_from"`
	Source    string          `json:"source"`
}

// DetailVAT is the VAT determined, with the steps that determined it.
type DetailVAT struct {
	Country        string          `json:"vat_country"`
	Kind           vat.Kind        `json:"vat_kind"`
	Percentage     decimal.Decimal `json:"vat_percentage"`
	Exempt         bool            `json:"exempt"`
	ReverseCharged bool            `json:"reverse_charged"`
	Steps          []string        `json:"steps"`
}

// Reasons of the drop-outs this package reports (session.PricingFailure
// Reason: short and the same for similar sessions, so that they group
// into one drop-out case).
const (
	ReasonArrangementMissing = "Reimbursement arrangement missing"
	ReasonVATConflict        = "Reimbursement arrangements disagree on VAT"
	ReasonCMSMissing         = "CMS reimbursement missing"
	ReasonCurrency           = "Reimbursement currency differs from the session's"
	ReasonInputMissing       = "Reimbursement calculation input missing"
	ReasonVAT                = "Reimbursement VAT not determined"
)

// Price returns one reimbursement result per arrangement (SubjectID = the
// arrangement), in the given order, or a *session.PricingFailure:
//
//   - no arrangement: none is owed, unless the EVSE has "reimbursement
//     mandatory" enabled (guide, "Subscription plan: use customer
//     reimbursement VAT": "If the “reimbursement mandatory” is enabled then
//     the charge session will drop-out"), decided by
//     vat.SessionReimbursementVAT so both sides of a session agree;
//   - several arrangements: each applies (guide, "All reimbursement
//     arrangements valid at the start of the charge session will be
//     applied"), as long as their customers' Reimbursement VAT agree;
//     when they disagree (one exempt, one not) the VAT of the session
//     cannot be decided, and the guide's MSP-side rule drops the session
//     out for that very reason ("With multiple arrangements it’s
//     potentially confusing if VAT should be applied or not") — so does
//     this one (check vat_determined);
//   - each arrangement: the amount (CMS provided or calculated), then VAT
//     by vat.Determine with category cpo_reimbursement, where the
//     customer's Reimbursement VAT decides (Applies: normal determination,
//     Exempt: exempt, Unknown: drop-out).
//
// Amounts excluding VAT are exact (volume × input value, or the CMS
// amount); VAT is rounded per line by vat.Apply (DESIGN.md: "Round only
// where the rules say (… VAT per line)").
func Price(s Session, arrs []Arrangement) ([]session.PriceResult, error) {
	if len(arrs) == 0 {
		if _, _, err := vat.SessionReimbursementVAT(vat.LocalEVSE{UID: s.EVSEUID, ReimbursementMandatory: s.ReimbursementMandatory}, s.Start); err != nil {
			return nil, session.Failf(session.CheckPricingConfigured, ReasonArrangementMissing, "%s", message(err))
		}
		return nil, nil
	}
	if len(arrs) > 1 {
		if err := agree(arrs); err != nil {
			return nil, err
		}
	}
	out := make([]session.PriceResult, 0, len(arrs))
	for _, a := range arrs {
		r, err := priceOne(s, a)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// agree checks that the customers of several arrangements have the same
// Reimbursement VAT.
func agree(arrs []Arrangement) error {
	first := norm(arrs[0].Customer.ReimbursementVAT)
	for _, a := range arrs[1:] {
		if norm(a.Customer.ReimbursementVAT) != first {
			parts := make([]string, len(arrs))
			for i, x := range arrs {
				parts[i] = fmt.Sprintf("arrangement %s (customer %s): %s", x.ID, x.Customer.ID, norm(x.Customer.ReimbursementVAT))
			}
			return session.Failf(session.CheckVATDetermined, ReasonVATConflict,
				"%d reimbursement arrangements apply and their customers' reimbursement VAT differ: %s", len(arrs), strings.Join(parts, "; "))
		}
	}
	return nil
}

func norm(v vat.ReimbursementVAT) vat.ReimbursementVAT {
	if v.Known() {
		return v
	}
	return vat.ReimbursementVATUnknown
}

// priceOne prices one arrangement.
func priceOne(s Session, a Arrangement) (session.PriceResult, error) {
	type line struct {
		name   string
		volume decimal.Decimal
		unit   string
		excl   decimal.Decimal
	}
	var lines []line
	d := Detail{ArrangementID: a.ID, CustomerID: a.Customer.ID, PlanID: a.Plan.ID, Calculation: a.Plan.Calculation}
	currency := a.Currency
	start := s.Start.UTC().Format(time.RFC3339)
	switch a.Plan.Calculation {
	case CMSProvided:
		if s.CMSReimbursement == nil {
			return session.PriceResult{}, session.Failf(session.CheckPricingConfigured, ReasonCMSMissing,
				"arrangement %s uses the CMS provided reimbursement, but the session has none", a.ID)
		}
		if !strings.EqualFold(s.Currency, a.Currency) {
			return session.PriceResult{}, session.Failf(session.CheckPricingConfigured, ReasonCurrency,
				"the CMS provided reimbursement is in %s, arrangement %s pays in %s", s.Currency, a.ID, a.Currency)
		}
		lines = append(lines, line{CMSComponent, decimal.NewFromInt(1), "session", *s.CMSReimbursement})
	case Calculated:
		eff := EffectiveInputs(a.Plan.Inputs, a.Inputs, s.Start)
		for _, c := range a.Plan.Components {
			in, ok := eff[c]
			if !ok {
				return session.PriceResult{}, session.Failf(session.CheckPricingConfigured, ReasonInputMissing,
					"no %s calculation input valid at %s on arrangement %s or its plan %s", c, start, a.ID, a.Plan.ID)
			}
			vol := volume(s, c)
			lines = append(lines, line{string(c), vol, c.Unit(), vol.Mul(in.Value)})
			d.Inputs = append(d.Inputs, DetailInput{Component: c, Value: in.Value, ValidFrom: in.ValidFrom.UTC(), Source: in.Source})
		}
	default:
		return session.PriceResult{}, session.Failf(session.CheckPricingConfigured, "Reimbursement plan invalid",
			"plan %s has calculation %q", a.Plan.ID, a.Plan.Calculation)
	}

	res, err := vat.Determine(vat.Input{Category: vat.CategoryCPOReimbursement, OriginCountry: s.OriginCountry, Moment: s.Start,
		Customer: a.Customer}, a.VAT)
	if err != nil {
		return session.PriceResult{}, session.Failf(session.CheckVATDetermined, ReasonVAT, "arrangement %s: %s", a.ID, message(err))
	}
	d.VAT = DetailVAT{Country: res.Country, Kind: res.Kind, Percentage: res.Percentage, Exempt: res.Exempt, ReverseCharged: res.ReverseCharged}
	for _, st := range res.Steps {
		d.VAT.Steps = append(d.VAT.Steps, string(st.Name)+": "+st.Detail)
	}
	rate := res.Percentage.Shift(-2) // PriceComponent.VATRate is a fraction
	if res.Exempt || res.ReverseCharged {
		rate = decimal.Zero
	}
	r := session.PriceResult{Kind: session.KindReimbursement, SubjectID: &a.ID, Currency: currency, AdministrationID: &a.AdministrationID}
	for _, l := range lines {
		am, err := vat.Apply(l.excl, res, currency)
		if err != nil {
			return session.PriceResult{}, session.Failf(session.CheckPricingConfigured, ReasonCurrency,
				"arrangement %s: %s", a.ID, message(err))
		}
		r.Components = append(r.Components, session.PriceComponent{Component: l.name, Volume: l.volume, Unit: l.unit,
			ExclVAT: am.ExclVAT, VATRate: rate, VAT: am.VAT, InclVAT: am.InclVAT})
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return session.PriceResult{}, err
	}
	r.Detail = raw
	return r.Totals(), nil
}

func volume(s Session, c Component) decimal.Decimal {
	switch c {
	case Energy:
		return s.Energy
	case Time:
		return decimal.Max(s.Time.Sub(s.ParkingTime), decimal.Zero)
	case ParkingTime:
		return s.ParkingTime
	}
	return decimal.NewFromInt(1)
}

func message(err error) string {
	if e, ok := fault.As(err); ok {
		if len(e.Fields) > 0 {
			return e.Error()
		}
		return e.Message
	}
	return err.Error()
}

func joinComponents(cs []Component) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}
