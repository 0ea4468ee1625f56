package webhook

import "sort"

// kinds is the one table of the event kinds the node emits, each with the
// permission family that guards the resource in the Admin API (002 →
// Notifications; 003 → Webhooks). A subscription receives an event only
// when its owner may read that family: webhooks never show more than the
// API would. Admin API resources emit their path name as kind and must be
// guarded by the same family here (TestEveryEmittedKindIsRegistered in
// kinds_test.go checks both: it finds every kind emitted in the code, and
// every resource's name and family, and fails on a kind missing here or a
// family that differs). A kind missing here at run time is guarded by the
// family of the same name, which fails closed (only "*" and that family's
// readers see it).
var kinds = map[string]string{
	// tenant and customers
	"seller":          "seller",
	"administration":  "administration",
	"api-account":     "api-account",
	"customer":        "customer",
	"billing-address": "customer",
	// VAT configuration (seller family: sellers set their VAT policies)
	"vat-rate":          "seller",
	"vat-rule":          "seller",
	"seller-vat-policy": "seller",
	// roaming partners and their network
	"own-party":             "roaming",
	"roaming-connection":    "roaming",
	"roaming-partner":       "roaming",
	"roaming-agreement":     "roaming",
	"partner-evse-location": "roaming",
	"partner-evse":          "roaming", // a partner's EVSE created, changed (status or content) or removed
	"partner-tariff":        "roaming",
	// webhooks
	"webhook-subscription": "webhook",
	// MSP tokens
	"msp-token":                   "token",
	"msp-token-subscription-plan": "token",
	"msp-token-subscription":      "token",
	"msp-token-link":              "token",
	"rate-plan":                   "token", // MSP rate plans, used by subscription plans
	// charge credits of subscriptions and their ledger
	"charge-credit":          "token",
	"charge-credit-movement": "token",
	// charge authorization rules of MSP tokens
	"msp-charge-authorization-rule": "token",
	// our charge points
	"cpo-evse-location": "cpo",
	"cpo-evse":          "cpo",
	"cpo-tariff":        "cpo",
	// CPO reimbursements
	"cpo-reimbursement-plan":              "cpo",
	"cpo-reimbursement-arrangement":       "cpo",
	"cpo-reimbursement-link":              "cpo",
	"cpo-reimbursement-calculation-input": "cpo",
	// charge sessions
	"msp-charge-session": "charge-session",
	"cpo-charge-session": "charge-session",
	"msp-dropout-case":   "charge-session",
	"cpo-dropout-case":   "charge-session",
	"session-thresholds": "charge-session",
	"pricing-checks":     "charge-session", // pricing checks per administration and roaming partner
	// ongoing sessions (OCPI Sessions) and pricing results of charge sessions
	"msp-charge-session-progress":      "charge-session",
	"cpo-charge-session-progress":      "charge-session",
	"msp-charge-session-priced":        "charge-session",
	"cpo-charge-session-roaming-cost":  "charge-session",
	"cpo-charge-session-reimbursement": "charge-session",
}

// Family returns the permission family guarding events of kind.
func Family(kind string) string {
	if f, ok := kinds[kind]; ok {
		return f
	}
	return kind
}

// scopedFamilies are the families whose records always belong to an
// administration in the Admin API: a record of theirs without one (a
// charge session whose token is unknown, say) is shown only to accounts
// that see every administration, and so are its events.
var scopedFamilies = map[string]bool{"charge-session": true}

// ScopedKinds returns the kinds whose events without an administration
// only owners of every administration receive (db WebhookEvents).
func ScopedKinds() []string {
	var out []string
	for _, k := range Kinds() {
		if scopedFamilies[kinds[k]] {
			out = append(out, k)
		}
	}
	return out
}

// Registered reports whether kind is in the table of emitted kinds.
func Registered(kind string) bool {
	_, ok := kinds[kind]
	return ok
}

// Kinds returns every registered event kind, sorted (for documentation
// and tests).
func Kinds() []string {
	out := make([]string, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
