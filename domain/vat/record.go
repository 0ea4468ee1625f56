package vat

import (
	"sort"
	"strings"
	"time"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/period"
)

// This file validates VAT configuration records one at a time, the way the
// Admin API stores them (one vat-rate, one vat-rule, one seller's VAT
// policy per request), with the same rules Config.Validate applies to a
// whole configuration, so that a stored configuration always validates.

// Validate checks one VAT rate on its own; field paths are the rate's own
// fields (country, kind, percentage, valid_until).
func (r Rate) Validate() error {
	return unprefixed(validateRates([]Rate{r}), "rates[0].")
}

// Validate checks one VAT rule on its own; field paths are the rule's own
// fields (category, kind, country, valid_until).
func (r Rule) Validate() error {
	return unprefixed(validateRules([]Rule{r}), "rules[0].")
}

// ValidatePolicy checks a seller's VAT policy on its own; field paths drop
// Config.Validate's "seller." prefix (country, fallback, policies.<CC>).
func (p SellerPolicy) ValidatePolicy() error {
	err := p.Validate()
	e, ok := fault.As(err)
	if !ok {
		return err
	}
	return unprefixed(e.Fields, "seller.")
}

// CriteriaKey is the normalised selection criteria of a rule besides its
// category: the country and the indicators, upper case, sorted and
// de-duplicated. Two rules of one category with the same key and
// overlapping validity always match the same items equally specifically
// (SelectKind reports CodeRuleAmbiguous), so a store can refuse them.
func (r Rule) CriteriaKey() string {
	c, _ := NormalizeCountry(r.Country)
	seen := map[string]bool{}
	var ind []string
	for _, i := range r.Indicators {
		u := strings.ToUpper(strings.TrimSpace(i))
		if u != "" && !seen[u] {
			seen[u] = true
			ind = append(ind, u)
		}
	}
	sort.Strings(ind)
	return c + "|" + strings.Join(ind, "+")
}

// ArrangementsAt returns the arrangements of evse valid at start, in the
// given order: "Valid reimbursement arrangements for the identified EVSE
// are determined based on the charge session’s start date and time"
// (guide, "Subscription plan: use customer reimbursement VAT"; CPO
// "Reimbursements": "All reimbursement arrangements valid at the start of
// the charge session will be applied").
func (evse LocalEVSE) ArrangementsAt(start time.Time) []Arrangement {
	var out []Arrangement
	for _, a := range evse.Arrangements {
		if period.Contains(a.ValidFrom, a.ValidUntil, start) {
			out = append(out, a)
		}
	}
	return out
}

// SessionReimbursementVAT is the guide's "use customer reimbursement VAT"
// decision for a charge session at evse starting at start, exactly as
// Determine applies it to an MSP charge session whose plan enables it
// (guide, "Subscription plan: use customer reimbursement VAT"): no valid
// arrangement → a CodeReimbursementArrangementMissing conflict when the
// EVSE has "reimbursement mandatory", else normal determination; exactly
// one → that arrangement's customer's Reimbursement VAT (Applies: normal,
// Exempt: exempt, Unknown: CodeReimbursementVATUnknown); several →
// CodeMultipleReimbursementArrangements. It returns whether the session is
// exempt and the explanation. The CPO reimbursement pricer uses it for the
// "none" case, so both sides of a session decide alike.
func SessionReimbursementVAT(evse LocalEVSE, start time.Time) (bool, string, error) {
	return mspReimbursementVAT(Input{Category: CategoryMSPChargeSession, UseCustomerReimbursementVAT: true,
		SessionStart: start, LocalEVSE: &evse})
}

func unprefixed(fs []fault.Field, prefix string) error {
	if len(fs) == 0 {
		return nil
	}
	out := make(fault.Fields, len(fs))
	for i, f := range fs {
		out[i] = fault.Field{Path: strings.TrimPrefix(f.Path, prefix), Message: f.Message}
	}
	return out.Err()
}
