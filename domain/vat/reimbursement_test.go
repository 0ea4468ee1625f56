package vat

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/fault"
)

var (
	sessionStart = ts("2025-03-14T09:00:00Z")
	arrFrom      = ts("2025-01-01T00:00:00Z")
)

func arrangement(id string, v ReimbursementVAT) Arrangement {
	return Arrangement{ID: id, CustomerID: "owner-" + id, CustomerReimbursementVAT: v, ValidFrom: ptr(arrFrom)}
}

// TestUseCustomerReimbursementVAT covers every branch of the guide's
// "Subscription plan: use customer reimbursement VAT" rules.
func TestUseCustomerReimbursementVAT(t *testing.T) {
	cases := []struct {
		name       string
		usePlan    bool
		category   ProductCategory
		evse       *LocalEVSE
		wantExempt bool
		wantCode   string
		wantStep   bool
	}{
		{
			name: "plan property disabled: exempt customer ignored", usePlan: false, category: CategoryMSPChargeSession,
			evse: &LocalEVSE{UID: "E1", Arrangements: []Arrangement{arrangement("A", ReimbursementVATExempt)}},
		},
		{
			name: "not an MSP charge session: rule does not apply", usePlan: true, category: CategoryMSPSubscriptionFee,
			evse: &LocalEVSE{UID: "E1", Arrangements: []Arrangement{arrangement("A", ReimbursementVATExempt)}},
		},
		{
			name: "1. no local EVSE found: normal determination", usePlan: true, category: CategoryMSPChargeSession,
			evse: nil, wantStep: true,
		},
		{
			name: "2. exactly one arrangement, Applies: normal determination", usePlan: true, category: CategoryMSPChargeSession,
			evse: &LocalEVSE{UID: "E1", Arrangements: []Arrangement{arrangement("A", ReimbursementVATApplies)}}, wantStep: true,
		},
		{
			name: "2. exactly one arrangement, Exempt: exempt", usePlan: true, category: CategoryMSPChargeSession,
			evse: &LocalEVSE{UID: "E1", Arrangements: []Arrangement{arrangement("A", ReimbursementVATExempt)}}, wantExempt: true, wantStep: true,
		},
		{
			name: "2. exactly one arrangement, Unknown: drop-out", usePlan: true, category: CategoryMSPChargeSession,
			evse:     &LocalEVSE{UID: "E1", Arrangements: []Arrangement{arrangement("A", ReimbursementVATUnknown)}},
			wantCode: CodeReimbursementVATUnknown,
		},
		{
			name: "2. exactly one arrangement, unset value counts as Unknown", usePlan: true, category: CategoryMSPChargeSession,
			evse:     &LocalEVSE{UID: "E1", Arrangements: []Arrangement{arrangement("A", "")}},
			wantCode: CodeReimbursementVATUnknown,
		},
		{
			name: "no arrangement, reimbursement mandatory: drop-out", usePlan: true, category: CategoryMSPChargeSession,
			evse:     &LocalEVSE{UID: "E1", ReimbursementMandatory: true},
			wantCode: CodeReimbursementArrangementMissing,
		},
		{
			name: "no arrangement, reimbursement not mandatory: normal determination", usePlan: true, category: CategoryMSPChargeSession,
			evse: &LocalEVSE{UID: "E1", ReimbursementMandatory: false}, wantStep: true,
		},
		{
			name: "multiple arrangements: drop-out even if all exempt", usePlan: true, category: CategoryMSPChargeSession,
			evse: &LocalEVSE{UID: "E1", Arrangements: []Arrangement{
				arrangement("A", ReimbursementVATExempt), arrangement("B", ReimbursementVATExempt),
			}},
			wantCode: CodeMultipleReimbursementArrangements,
		},
		{
			name: "arrangement ended exactly at session start is not valid: counts as none", usePlan: true, category: CategoryMSPChargeSession,
			evse: &LocalEVSE{UID: "E1", ReimbursementMandatory: true, Arrangements: []Arrangement{
				{ID: "old", CustomerReimbursementVAT: ReimbursementVATExempt, ValidFrom: ptr(arrFrom), ValidUntil: ptr(sessionStart)},
			}},
			wantCode: CodeReimbursementArrangementMissing,
		},
		{
			name: "arrangement starting exactly at session start is valid; ended one ignored", usePlan: true, category: CategoryMSPChargeSession,
			evse: &LocalEVSE{UID: "E1", Arrangements: []Arrangement{
				{ID: "old", CustomerReimbursementVAT: ReimbursementVATApplies, ValidFrom: ptr(arrFrom), ValidUntil: ptr(sessionStart)},
				{ID: "new", CustomerReimbursementVAT: ReimbursementVATExempt, ValidFrom: ptr(sessionStart)},
			}},
			wantExempt: true, wantStep: true,
		},
		{
			name: "arrangement starting after session start is ignored", usePlan: true, category: CategoryMSPChargeSession,
			evse: &LocalEVSE{UID: "E1", Arrangements: []Arrangement{
				{ID: "future", CustomerReimbursementVAT: ReimbursementVATExempt, ValidFrom: ptr(sessionStart.Add(1))},
			}},
			wantStep: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := guideConfig()
			cfg.Rules = append(cfg.Rules, Rule{Category: CategoryMSPSubscriptionFee, Kind: KindStandard})
			res, err := Determine(Input{
				Category:                    c.category,
				OriginCountry:               "BE",
				Moment:                      moment,
				UseCustomerReimbursementVAT: c.usePlan,
				SessionStart:                sessionStart,
				LocalEVSE:                   c.evse,
			}, cfg)
			if c.wantCode != "" {
				e := requireFault(t, err, fault.KindConflict, c.wantCode)
				require.Contains(t, e.Message, "E1")
				return
			}
			require.NoError(t, err)
			if c.wantExempt {
				require.True(t, res.Exempt)
				require.Equal(t, KindExempt, res.Kind)
				requirePct(t, "0", res.Percentage)
				require.Equal(t, "BE", res.Country, "an exempt item keeps its VAT country (billing boxes split by VAT country)")
				require.Equal(t, []StepName{StepCountry, StepReimbursementVAT}, stepNames(res))
			} else {
				require.False(t, res.Exempt)
				require.Equal(t, KindStandard, res.Kind)
				requirePct(t, "21", res.Percentage)
				require.Equal(t, c.wantStep, containsStep(res, StepReimbursementVAT))
			}
		})
	}
}

func containsStep(r Result, n StepName) bool {
	for _, s := range r.Steps {
		if s.Name == n {
			return true
		}
	}
	return false
}

func TestReimbursementVATUnknownMessageNamesCustomer(t *testing.T) {
	_, err := Determine(Input{
		Category: CategoryMSPChargeSession, OriginCountry: "NL", Moment: moment,
		UseCustomerReimbursementVAT: true, SessionStart: sessionStart,
		LocalEVSE: &LocalEVSE{UID: "E1", Arrangements: []Arrangement{arrangement("A", ReimbursementVATUnknown)}},
	}, guideConfig())
	e := requireFault(t, err, fault.KindConflict, CodeReimbursementVATUnknown)
	require.Contains(t, e.Message, "owner-A")
	require.Contains(t, e.Message, "applies or exempt")
}

func TestReimbursementRuleNeedsSessionStart(t *testing.T) {
	_, err := Determine(Input{
		Category: CategoryMSPChargeSession, OriginCountry: "NL", Moment: moment,
		UseCustomerReimbursementVAT: true,
		LocalEVSE:                   &LocalEVSE{UID: "E1"},
	}, guideConfig())
	e := requireFault(t, err, fault.KindInvalid, "invalid")
	require.Equal(t, []string{"session_start"}, fieldPaths(e))
}

// TestCountryErrorPrecedesExemption: the VAT country is determined first
// (step 1), so an exempt session still needs a determinable country.
func TestCountryErrorPrecedesExemption(t *testing.T) {
	cfg := guideConfig()
	cfg.Seller.Fallback = FallbackError
	_, err := Determine(Input{
		Category: CategoryMSPChargeSession, OriginCountry: "DE", Moment: moment,
		UseCustomerReimbursementVAT: true, SessionStart: sessionStart,
		LocalEVSE: &LocalEVSE{UID: "E1", Arrangements: []Arrangement{arrangement("A", ReimbursementVATExempt)}},
	}, cfg)
	requireFault(t, err, fault.KindConflict, CodeCountryUndetermined)
}

// TestExemptionOverridesReverseCharge: an exempt supply carries no VAT, so
// there is nothing to reverse charge.
func TestExemptionOverridesReverseCharge(t *testing.T) {
	cfg := guideConfig()
	cfg.Seller.EUReverseCharge = true
	res, err := Determine(Input{
		Category: CategoryMSPChargeSession, OriginCountry: "NL", Moment: moment,
		Customer:                    Customer{Country: "DE", VATNumber: "DE123456789", Business: true},
		UseCustomerReimbursementVAT: true, SessionStart: sessionStart,
		LocalEVSE: &LocalEVSE{UID: "E1", Arrangements: []Arrangement{arrangement("A", ReimbursementVATExempt)}},
	}, cfg)
	require.NoError(t, err)
	require.True(t, res.Exempt)
	require.False(t, res.ReverseCharged)
}

// TestCPOReimbursementUsesCustomerReimbursementVAT: the customer's
// "Reimbursement VAT" property determines VAT applicability for
// reimbursements (guide, CPO "Reimbursement").
func TestCPOReimbursementUsesCustomerReimbursementVAT(t *testing.T) {
	cfg := guideConfig()
	cfg.Rules = append(cfg.Rules, Rule{Category: CategoryCPOReimbursement, Kind: KindStandard})
	in := func(v ReimbursementVAT) Input {
		return Input{Category: CategoryCPOReimbursement, OriginCountry: "NL", Moment: moment,
			Customer: Customer{ID: "owner", Country: "NL", ReimbursementVAT: v}}
	}

	res, err := Determine(in(ReimbursementVATApplies), cfg)
	require.NoError(t, err)
	require.False(t, res.Exempt)
	requirePct(t, "21", res.Percentage)

	res, err = Determine(in(ReimbursementVATExempt), cfg)
	require.NoError(t, err)
	require.True(t, res.Exempt)
	require.Equal(t, KindExempt, res.Kind)
	requirePct(t, "0", res.Percentage)

	_, err = Determine(in(ReimbursementVATUnknown), cfg)
	requireFault(t, err, fault.KindConflict, CodeReimbursementVATUnknown)
}
