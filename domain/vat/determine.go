package vat

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/period"
)

// Config is everything Determine needs besides the item: the seller's VAT
// policy, the VAT rules and the VAT rates (loaded by the caller).
type Config struct {
	Seller SellerPolicy
	Rules  []Rule
	Rates  []Rate
}

// Validate checks the whole configuration and reports every problem at once.
func (c Config) Validate() error {
	var fs fault.Fields
	if err := c.Seller.Validate(); err != nil {
		if e, ok := fault.As(err); ok {
			fs = append(fs, e.Fields...)
		}
	}
	fs = append(fs, validateRules(c.Rules)...)
	fs = append(fs, validateRates(c.Rates)...)
	return fs.Err()
}

// Customer is the party the item is billed to (for a reimbursement: the site
// owner who is paid).
type Customer struct {
	// ID identifies the customer in explanations; optional.
	ID string
	// Country is the customer's country (alpha-2); used for EU reverse charge.
	Country string
	// VATNumber is the customer's VAT identification number, if any.
	VATNumber string
	// Business is true when the customer acts as a taxable business rather
	// than a consumer.
	Business bool
	// ReimbursementVAT is the customer's "Reimbursement VAT" property. It is
	// consulted for CategoryCPOReimbursement items, whose VAT applicability
	// it determines (guide, CPO "Reimbursement": "Each customer in
	// TandemDrive has a ‘Reimbursement VAT’ property to determine VAT
	// applicability for reimbursements").
	ReimbursementVAT ReimbursementVAT
}

// Arrangement is a reimbursement arrangement at the session's EVSE together
// with the Reimbursement VAT property of the arrangement's customer.
type Arrangement struct {
	// ID identifies the arrangement in explanations and errors.
	ID string
	// CustomerID identifies the arrangement's customer in explanations.
	CustomerID string
	// CustomerReimbursementVAT is that customer's "Reimbursement VAT".
	CustomerReimbursementVAT ReimbursementVAT
	// ValidFrom and ValidUntil bound the half-open validity period
	// [valid_from, valid_until) (domain/period); nil is open-ended.
	ValidFrom  *time.Time
	ValidUntil *time.Time
}

// LocalEVSE is the local (CPO-side) EVSE matched to an MSP charge session.
type LocalEVSE struct {
	// UID identifies the EVSE in explanations.
	UID string
	// ReimbursementMandatory is the EVSE's "reimbursement mandatory" flag.
	ReimbursementMandatory bool
	// Arrangements are the reimbursement arrangements of the EVSE; those
	// not valid at Input.SessionStart are ignored.
	Arrangements []Arrangement
}

// Input describes one item (one subtotal line) to determine VAT for.
type Input struct {
	// Category is the item's product category; required.
	Category ProductCategory
	// OriginCountry is where the supply happens, e.g. the charge location's
	// country (alpha-2). Empty when the item has no origin.
	OriginCountry string
	// Moment is the instant at which VAT rules and rates must be valid.
	// Required. The guide re-determines the percentage at billing box
	// approval; see Redetermine.
	Moment time.Time
	// Indicators are the item's VAT indicators, matched by Rule.Indicators.
	Indicators []string
	// Customer is the party billed.
	Customer Customer
	// UseCustomerReimbursementVAT is the "Use Customer Reimbursement VAT"
	// property of the customer's MSP subscription plan.
	UseCustomerReimbursementVAT bool
	// SessionStart is the charge session's start; arrangements are selected
	// at this instant. Required when the reimbursement VAT rule runs.
	SessionStart time.Time
	// LocalEVSE is the matching local EVSE, nil when none was found.
	LocalEVSE *LocalEVSE
}

// StepName names one step of the determination in Result.Steps.
type StepName string

// The steps of "Determining VAT" and its overrides, in the order Determine
// runs them.
const (
	StepCountry          StepName = "country"
	StepReimbursementVAT StepName = "reimbursement_vat"
	StepReverseCharge    StepName = "reverse_charge"
	StepKind             StepName = "kind"
	StepRate             StepName = "rate"
)

// Step is the human-readable explanation of one determination step.
type Step struct {
	Name   StepName
	Detail string
}

// Result is the VAT determined for an item.
type Result struct {
	// Country is the VAT country.
	Country string
	// Kind is the VAT kind (KindExempt for a reimbursement-exempt item,
	// KindReverseCharge for a reverse-charged one).
	Kind Kind
	// Percentage is the VAT rate in percent (0 when exempt or reverse
	// charged by override).
	Percentage decimal.Decimal
	// Exempt is true when the item is exempt from VAT, either by the
	// reimbursement VAT override or because a VAT rule selected KindExempt.
	Exempt bool
	// ReverseCharged is true when EU reverse charge applies.
	ReverseCharged bool
	// RuleID and RateID identify the rule and rate used, when they have IDs.
	RuleID string
	RateID string
	// Steps explain each step that ran.
	Steps []Step
}

// Explanation renders Steps as one line per step.
func (r Result) Explanation() string {
	lines := make([]string, len(r.Steps))
	for i, s := range r.Steps {
		lines[i] = string(s.Name) + ": " + s.Detail
	}
	return strings.Join(lines, "\n")
}

// Validate checks the input and reports every problem at once.
func (in Input) Validate() error {
	var fs fault.Fields
	if in.Category == "" {
		fs.Add("category", "is required")
	}
	if in.Moment.IsZero() {
		fs.Add("moment", "is required")
	}
	if in.OriginCountry != "" {
		if _, ok := NormalizeCountry(in.OriginCountry); !ok {
			fs.Add("origin_country", "must be an ISO 3166-1 alpha-2 country code, got %q", in.OriginCountry)
		}
	}
	if in.Customer.Country != "" {
		if _, ok := NormalizeCountry(in.Customer.Country); !ok {
			fs.Add("customer.country", "must be an ISO 3166-1 alpha-2 country code, got %q", in.Customer.Country)
		}
	}
	if in.reimbursementRuleApplies() && in.LocalEVSE != nil {
		if in.SessionStart.IsZero() {
			fs.Add("session_start", "is required to select reimbursement arrangements")
		}
		for i, a := range in.LocalEVSE.Arrangements {
			period.Check(&fs, fmt.Sprintf("local_evse.arrangements[%d].", i), a.ValidFrom, a.ValidUntil)
		}
	}
	return fs.Err()
}

// reimbursementRuleApplies: the rule is for "every charge session which is
// being priced (on the MSP side)" when the plan enables it (guide,
// "Subscription plan: use customer reimbursement VAT").
func (in Input) reimbursementRuleApplies() bool {
	return in.UseCustomerReimbursementVAT && in.Category == CategoryMSPChargeSession
}

// Determine determines the VAT of one item: the VAT country (step 1), the
// overrides the guide names (reimbursement VAT exemption, EU reverse
// charge), the VAT kind (step 2) and the VAT rate (step 3) (guide,
// "Determining VAT"). Errors are *fault.Error values: KindInvalid for a
// malformed input or configuration, KindConflict with one of the Code…
// constants when VAT cannot be determined and the item must drop out.
func Determine(in Input, cfg Config) (Result, error) {
	if err := in.Validate(); err != nil {
		return Result{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	var res Result

	// Step 1: VAT country.
	origin, _ := NormalizeCountry(in.OriginCountry)
	country, why, err := cfg.Seller.VATCountry(origin)
	if err != nil {
		return Result{}, err
	}
	res.Country = country
	res.Steps = append(res.Steps, Step{Name: StepCountry, Detail: why})

	// Override: the reimbursement for the session is VAT exempt.
	exempt, why, err := reimbursementExempt(in)
	if err != nil {
		return Result{}, err
	}
	if why != "" {
		res.Steps = append(res.Steps, Step{Name: StepReimbursementVAT, Detail: why})
	}
	if exempt {
		res.Kind = KindExempt
		res.Percentage = decimal.Zero
		res.Exempt = true
		return res, nil
	}

	// Override: EU reverse charge.
	if rc, why := reverseCharge(cfg.Seller, in.Customer, country); why != "" {
		res.Steps = append(res.Steps, Step{Name: StepReverseCharge, Detail: why})
		if rc {
			res.Kind = KindReverseCharge
			res.Percentage = decimal.Zero
			res.ReverseCharged = true
			return res, nil
		}
	}

	// Step 2: VAT kind.
	rule, err := SelectKind(cfg.Rules, in.Category, country, in.Indicators, in.Moment)
	if err != nil {
		return Result{}, err
	}
	res.Kind = rule.Kind
	res.RuleID = rule.ID
	res.Exempt = rule.Kind == KindExempt
	res.Steps = append(res.Steps, Step{Name: StepKind,
		Detail: fmt.Sprintf("%s selects VAT kind %s for %s in %s", rule.label(), rule.Kind, in.Category, country)})

	// Step 3: VAT rate.
	rate, err := RateAt(cfg.Rates, country, rule.Kind, in.Moment)
	if err != nil {
		return Result{}, err
	}
	res.Percentage = rate.Percentage
	res.RateID = rate.ID
	res.Steps = append(res.Steps, Step{Name: StepRate,
		Detail: fmt.Sprintf("%s %s VAT rate valid at %s is %s%%", country, rule.Kind, in.Moment.UTC().Format(time.RFC3339), rate.Percentage)})
	return res, nil
}

// reimbursementExempt applies the customer's Reimbursement VAT. It returns
// whether the item is exempt, an explanation (empty when no reimbursement
// VAT rule is involved) and a drop-out error.
func reimbursementExempt(in Input) (bool, string, error) {
	switch {
	case in.Category == CategoryCPOReimbursement:
		// Guide, CPO "Reimbursement": the customer's "Reimbursement VAT"
		// property determines VAT applicability for reimbursements. The
		// values mean what the guide's MSP-side rule says they mean.
		return applyReimbursementVAT(in.Customer.ReimbursementVAT,
			fmt.Sprintf("customer %s", orUnnamed(in.Customer.ID)))
	case in.reimbursementRuleApplies():
		return mspReimbursementVAT(in)
	}
	return false, "", nil
}

// mspReimbursementVAT implements "Subscription plan: use customer
// reimbursement VAT" (guide) rule by rule.
func mspReimbursementVAT(in Input) (bool, string, error) {
	// Rule 1: "When no EVSE was found then the normal VAT determination
	// will be used."
	if in.LocalEVSE == nil {
		return false, "plan uses customer reimbursement VAT, but no matching local EVSE was found: normal VAT determination", nil
	}
	evse := in.LocalEVSE
	// Rule 2: "Valid reimbursement arrangements for the identified EVSE are
	// determined based on the charge session’s start date and time."
	var valid []Arrangement
	for _, a := range evse.Arrangements {
		if period.Contains(a.ValidFrom, a.ValidUntil, in.SessionStart) {
			valid = append(valid, a)
		}
	}
	start := in.SessionStart.UTC().Format(time.RFC3339)
	switch len(valid) {
	case 0:
		// "If the “reimbursement mandatory” is enabled then the charge
		// session will drop-out. If this property is disabled then the
		// charge session will have the normal VAT determination applied."
		if evse.ReimbursementMandatory {
			return false, "", fault.Conflict(CodeReimbursementArrangementMissing,
				"no reimbursement arrangement valid at %s for EVSE %s, which has reimbursement mandatory enabled", start, orUnnamed(evse.UID))
		}
		return false, fmt.Sprintf("no reimbursement arrangement valid at %s for EVSE %s and reimbursement is not mandatory: normal VAT determination", start, orUnnamed(evse.UID)), nil
	case 1:
		// "When exactly one arrangement was found, then the “reimbursement
		// VAT” property of the customer of that arrangement will be used."
		a := valid[0]
		return applyReimbursementVAT(a.CustomerReimbursementVAT,
			fmt.Sprintf("customer %s of reimbursement arrangement %s at EVSE %s", orUnnamed(a.CustomerID), orUnnamed(a.ID), orUnnamed(evse.UID)))
	}
	// "When multiple arrangements were found, then the charge session will
	// drop-out because this situation is currently not supported."
	ids := make([]string, len(valid))
	for i, a := range valid {
		ids[i] = orUnnamed(a.ID)
	}
	return false, "", fault.Conflict(CodeMultipleReimbursementArrangements,
		"%d reimbursement arrangements valid at %s for EVSE %s (%s); VAT exemption cannot be decided", len(valid), start, orUnnamed(evse.UID), strings.Join(ids, ", "))
}

// applyReimbursementVAT maps a Reimbursement VAT value: Applies → normal
// determination, Exempt → exempt, Unknown → drop-out "as VAT cannot be
// determined" (guide, "Subscription plan: use customer reimbursement VAT").
func applyReimbursementVAT(v ReimbursementVAT, whose string) (bool, string, error) {
	switch v {
	case ReimbursementVATApplies:
		return false, fmt.Sprintf("reimbursement VAT of %s is applies: normal VAT determination", whose), nil
	case ReimbursementVATExempt:
		return true, fmt.Sprintf("reimbursement VAT of %s is exempt: exempt from VAT", whose), nil
	}
	return false, "", fault.Conflict(CodeReimbursementVATUnknown,
		"reimbursement VAT of %s is unknown, so VAT cannot be determined; set it to applies or exempt", whose)
}

// reverseCharge decides the EU reverse-charge override (see
// SellerPolicy.EUReverseCharge). It returns whether it applies and an
// explanation, empty when the seller has not enabled the override.
func reverseCharge(p SellerPolicy, c Customer, country string) (bool, string) {
	if !p.EUReverseCharge {
		return false, ""
	}
	cc, _ := NormalizeCountry(c.Country)
	switch {
	case !IsEUMember(country):
		return false, fmt.Sprintf("VAT country %s is not an EU member state: no EU reverse charge", country)
	case !c.Business || strings.TrimSpace(c.VATNumber) == "":
		return false, "customer is not a business with a VAT number: no EU reverse charge"
	case c.Country == "" || !IsEUMember(cc):
		return false, fmt.Sprintf("customer country %q is not an EU member state: no EU reverse charge", c.Country)
	case cc == country:
		return false, fmt.Sprintf("customer is established in the VAT country %s: no EU reverse charge", country)
	}
	return true, fmt.Sprintf("business customer with VAT number %s in %s, VAT country %s: EU reverse charge, VAT accounted for by the customer", strings.TrimSpace(c.VATNumber), cc, country)
}

func orUnnamed(id string) string {
	if id == "" {
		return "(unnamed)"
	}
	return id
}
