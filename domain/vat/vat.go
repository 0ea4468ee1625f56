// Package vat determines the VAT that applies to a billable item (a charge
// session subtotal, a reimbursement, a roaming cost, a subscription fee) and
// computes VAT amounts. It is pure: no I/O, the caller loads the seller's
// policy, the VAT rules and the VAT rates and passes them in.
//
// The rules implemented here come from the product guide (shared/seeds/003_…),
// section "Billing and VAT" → "VAT" → "Determining VAT":
//
//  1. Determine the VAT country (see SellerPolicy, "VAT Country determination").
//  2. Determine the VAT kind (see Rule, "VAT kind").
//  3. Determine the VAT rate (see Rate, "VAT rate").
//
// "In certain cases, this process can be overridden, such as: EU reverse
// charge applies; the reimbursement for a charge session is VAT exempt"
// (guide, "Determining VAT"). The reimbursement override is specified in the
// guide's "Subscription plan: use customer reimbursement VAT" section and
// implemented in Determine exactly as written there. The guide names EU
// reverse charge but gives no conditions; see SellerPolicy.EUReverseCharge for
// what this package does about it.
package vat

import (
	"strings"

	"github.com/roamnode/roamnode/domain/iso"
)

// Kind is a VAT kind. The set is open (administrators configure rules and
// rates per kind); the guide lists the common ones: "Common VAT kinds
// include: “standard”, “reduced”, “zero”, and “exempt”" (guide, "VAT").
type Kind string

// The common VAT kinds named by the guide, plus the kind this package gives to
// reverse-charged items.
const (
	KindStandard Kind = "standard"
	KindReduced  Kind = "reduced"
	KindZero     Kind = "zero"
	KindExempt   Kind = "exempt"
	// KindReverseCharge marks an item on which the buyer accounts for the VAT
	// (EU reverse charge). It is a separate kind so that billing roll-ups,
	// which group by VAT kind (guide, "Billing boxes"), never mix
	// reverse-charged lines with zero-rated or exempt ones.
	KindReverseCharge Kind = "reverse_charge"
)

// ProductCategory classifies what is being taxed; VAT rules select a kind
// "based on the product category" (guide, "VAT kind"). The set is open; the
// constants are the categories the roamnode pipeline produces.
type ProductCategory string

// Product categories used by the roamnode pipeline.
const (
	// CategoryMSPChargeSession is a charge session priced for an MSP
	// customer (guide billing example: "Category: MSP Charge session").
	CategoryMSPChargeSession ProductCategory = "msp_charge_session"
	// CategoryMSPSubscriptionFee is a recurring cost of an MSP subscription plan.
	CategoryMSPSubscriptionFee ProductCategory = "msp_subscription_fee"
	// CategoryCPOReimbursement is a reimbursement paid by the CPO to a site
	// owner for a charge session at their EVSE.
	CategoryCPOReimbursement ProductCategory = "cpo_reimbursement"
	// CategoryCPORoaming is a roaming cost the CPO charges to an MSP.
	CategoryCPORoaming ProductCategory = "cpo_roaming"
	// CategoryCPOSubscriptionFee is a recurring cost of a CPO subscription
	// (charge point hosting, maintenance).
	CategoryCPOSubscriptionFee ProductCategory = "cpo_subscription_fee"
)

// ReimbursementVAT is a customer's "Reimbursement VAT" property: it
// "determine[s] VAT applicability for reimbursements" and "may also affect the
// VAT applicability on the MSP side" (guide, CPO "Reimbursement" and
// "Subscription plan: use customer reimbursement VAT").
type ReimbursementVAT string

// The values of ReimbursementVAT named by the guide. Any other value,
// including the empty string, is treated as ReimbursementVATUnknown.
const (
	// ReimbursementVATApplies: "The normal VAT determination applies."
	ReimbursementVATApplies ReimbursementVAT = "applies"
	// ReimbursementVATExempt: "The charge session is exempt from VAT."
	ReimbursementVATExempt ReimbursementVAT = "exempt"
	// ReimbursementVATUnknown: "The charge session will drop-out as VAT
	// cannot be determined."
	ReimbursementVATUnknown ReimbursementVAT = "unknown"
)

// Known reports whether v is Applies or Exempt.
func (v ReimbursementVAT) Known() bool {
	return v == ReimbursementVATApplies || v == ReimbursementVATExempt
}

// Stable error codes carried by the *fault.Error values this package returns,
// so that the pricing pipeline can turn them into drop-out reasons.
const (
	// CodeCountryUndetermined: no VAT policy for the origin country and the
	// seller's fallback is to flag an error (guide, "VAT Country determination").
	CodeCountryUndetermined = "vat_country_undetermined"
	// CodeRuleMissing: no VAT rule matches the item (guide, "VAT kind").
	CodeRuleMissing = "vat_rule_missing"
	// CodeRuleAmbiguous: several equally specific VAT rules match the item.
	CodeRuleAmbiguous = "vat_rule_ambiguous"
	// CodeRateMissing: no VAT rate for the country and kind at the moment
	// (guide, "VAT rate").
	CodeRateMissing = "vat_rate_missing"
	// CodeRateAmbiguous: overlapping VAT rates for the country and kind.
	CodeRateAmbiguous = "vat_rate_ambiguous"
	// CodeReimbursementVATUnknown: the customer's Reimbursement VAT is
	// Unknown (guide, "Subscription plan: use customer reimbursement VAT").
	CodeReimbursementVATUnknown = "reimbursement_vat_unknown"
	// CodeMultipleReimbursementArrangements: several arrangements valid at
	// the session start (same guide section).
	CodeMultipleReimbursementArrangements = "multiple_reimbursement_arrangements"
	// CodeReimbursementArrangementMissing: no arrangement while the EVSE has
	// "reimbursement mandatory" enabled (same guide section).
	CodeReimbursementArrangementMissing = "reimbursement_arrangement_missing"
)

// NormalizeCountry upper-cases and trims an ISO 3166-1 alpha-2 country code
// and reports whether the result is an assigned code (domain/iso). The guide writes
// countries as alpha-2 ("country": "NL"); OCPI locations carry alpha-3 codes,
// which the caller converts before calling this package.
func NormalizeCountry(c string) (string, bool) {
	c = strings.ToUpper(strings.TrimSpace(c))
	return c, iso.Country(c)
}
