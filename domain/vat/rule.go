package vat

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/period"
)

// Rule selects a VAT kind. "VAT rules select the appropriate VAT kind for
// each item, based on the product category, and optionally the VAT country or
// VAT indicators. These rules apply to each item’s subtotal. VAT rules have
// specific validity periods" (guide, "VAT kind").
type Rule struct {
	// ID identifies the rule in explanations; optional.
	ID string
	// Category is the product category the rule applies to; required.
	Category ProductCategory
	// Country, when set, limits the rule to items whose determined VAT
	// country is this one (alpha-2). Empty: any country.
	Country string
	// Indicators, when set, limits the rule to items that carry every one of
	// these VAT indicators (compared case-insensitively).
	Indicators []string
	// Kind is the VAT kind the rule selects; required.
	Kind Kind
	// ValidFrom and ValidUntil bound the half-open validity period
	// [valid_from, valid_until) (domain/period); nil is open-ended.
	ValidFrom  *time.Time
	ValidUntil *time.Time
}

// specificity orders matching rules: a rule that names a country or
// indicators is more specific than one that does not, and the most specific
// matching rule wins, as rate rules are "sorted from most specific to most
// generic" (guide, "Rate plan"). The guide does not say how VAT rules break
// ties; equally specific matches are reported as CodeRuleAmbiguous rather
// than picked arbitrarily.
func (r Rule) specificity() int {
	n := len(r.Indicators)
	if r.Country != "" {
		n++
	}
	return n
}

// matches reports whether the rule applies to an item of category in
// country carrying indicators, at moment at.
func (r Rule) matches(category ProductCategory, country string, indicators []string, at time.Time) bool {
	if r.Category != category || !period.Contains(r.ValidFrom, r.ValidUntil, at) {
		return false
	}
	if r.Country != "" {
		if c, _ := NormalizeCountry(r.Country); c != country {
			return false
		}
	}
	for _, want := range r.Indicators {
		if !slices.ContainsFunc(indicators, func(have string) bool { return strings.EqualFold(strings.TrimSpace(have), strings.TrimSpace(want)) }) {
			return false
		}
	}
	return true
}

func (r Rule) label() string {
	if r.ID != "" {
		return "VAT rule " + r.ID
	}
	var crit []string
	crit = append(crit, "category "+string(r.Category))
	if r.Country != "" {
		crit = append(crit, "country "+r.Country)
	}
	if len(r.Indicators) > 0 {
		crit = append(crit, "indicators "+strings.Join(r.Indicators, "+"))
	}
	return "VAT rule (" + strings.Join(crit, ", ") + ")"
}

// validateRules checks every rule and reports every problem at once.
func validateRules(rules []Rule) []fault.Field {
	var fs fault.Fields
	for i, r := range rules {
		p := fmt.Sprintf("rules[%d]", i)
		if r.Category == "" {
			fs.Add(p+".category", "is required")
		}
		if r.Kind == "" {
			fs.Add(p+".kind", "is required")
		}
		if r.Country != "" {
			if _, ok := NormalizeCountry(r.Country); !ok {
				fs.Add(p+".country", "must be an ISO 3166-1 alpha-2 country code, got %q", r.Country)
			}
		}
		period.Check(&fs, p+".", r.ValidFrom, r.ValidUntil)
	}
	return fs
}

// SelectKind implements step 2 of "Determining VAT": among the rules that
// match the item's category, VAT country and indicators and are valid at at,
// the most specific one selects the kind. No match is a CodeRuleMissing
// conflict, several equally specific matches a CodeRuleAmbiguous conflict.
func SelectKind(rules []Rule, category ProductCategory, country string, indicators []string, at time.Time) (Rule, error) {
	best := -1
	var found []Rule
	for _, r := range rules {
		if !r.matches(category, country, indicators, at) {
			continue
		}
		switch s := r.specificity(); {
		case s > best:
			best, found = s, []Rule{r}
		case s == best:
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return Rule{}, fault.Conflict(CodeRuleMissing,
			"no VAT rule for product category %s in VAT country %s at %s", category, country, at.UTC().Format(time.RFC3339))
	case 1:
		return found[0], nil
	}
	labels := make([]string, len(found))
	for i, r := range found {
		labels[i] = r.label()
	}
	return Rule{}, fault.Conflict(CodeRuleAmbiguous,
		"%d equally specific VAT rules match product category %s in VAT country %s at %s: %s",
		len(found), category, country, at.UTC().Format(time.RFC3339), strings.Join(labels, "; "))
}
