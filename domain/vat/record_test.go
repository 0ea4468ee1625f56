package vat

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/fault"
)

func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	e, ok := fault.As(err)
	require.True(t, ok, "want *fault.Error, got %v", err)
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Path)
	}
	return out
}

func TestRecordValidationPaths(t *testing.T) {
	require.NoError(t, Rate{Country: "NL", Kind: KindStandard, Percentage: dec("21")}.Validate())
	err := Rate{Country: "XX", Percentage: dec("100.01"), ValidFrom: ptr(moment), ValidUntil: ptr(moment)}.Validate()
	require.Equal(t, []string{"country", "kind", "percentage", "valid_until"}, fieldsOf(t, err))

	require.NoError(t, Rule{Category: CategoryCPOReimbursement, Kind: KindExempt}.Validate())
	err = Rule{Country: "ZZ"}.Validate()
	require.Equal(t, []string{"category", "kind", "country"}, fieldsOf(t, err))

	require.NoError(t, guideConfig().Seller.ValidatePolicy())
	err = SellerPolicy{Country: "NL", Fallback: "maybe", Policies: map[string]CountryPolicy{"BE": "theirs"}}.ValidatePolicy()
	require.Equal(t, []string{"fallback", "policies.BE"}, fieldsOf(t, err))
}

// TestCriteriaKey: rules that SelectKind can never tell apart have equal
// keys; rules that differ in what they match do not.
func TestCriteriaKey(t *testing.T) {
	a := Rule{Country: "be", Indicators: []string{"Low", "public", "low"}}
	b := Rule{Country: "BE", Indicators: []string{" PUBLIC", "LOW"}}
	require.Equal(t, a.CriteriaKey(), b.CriteriaKey())
	require.NotEqual(t, a.CriteriaKey(), Rule{Country: "BE", Indicators: []string{"low"}}.CriteriaKey())
	require.NotEqual(t, Rule{}.CriteriaKey(), Rule{Country: "BE"}.CriteriaKey())
}

func TestCountryAlpha2(t *testing.T) {
	for in, want := range map[string]string{"NLD": "NL", "deu": "DE", "BEL": "BE", "NOR": "NO", "GRC": "GR", "nl": "NL"} {
		got, ok := CountryAlpha2(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"XXX", "", "N", "NEDERLAND"} {
		_, ok := CountryAlpha2(in)
		require.False(t, ok, in)
	}
}

// TestSessionReimbursementVAT: the exported decision is the MSP-side rule
// of "Subscription plan: use customer reimbursement VAT".
func TestSessionReimbursementVAT(t *testing.T) {
	_, _, err := SessionReimbursementVAT(LocalEVSE{UID: "E1", ReimbursementMandatory: true}, sessionStart)
	requireFault(t, err, fault.KindConflict, CodeReimbursementArrangementMissing)
	exempt, why, err := SessionReimbursementVAT(LocalEVSE{UID: "E1"}, sessionStart)
	require.NoError(t, err)
	require.False(t, exempt)
	require.Contains(t, why, "not mandatory")
	exempt, _, err = SessionReimbursementVAT(LocalEVSE{UID: "E1", Arrangements: []Arrangement{arrangement("A", ReimbursementVATExempt)}}, sessionStart)
	require.NoError(t, err)
	require.True(t, exempt)
	_, _, err = SessionReimbursementVAT(LocalEVSE{UID: "E1", Arrangements: []Arrangement{
		arrangement("A", ReimbursementVATExempt), arrangement("B", ReimbursementVATExempt)}}, sessionStart)
	requireFault(t, err, fault.KindConflict, CodeMultipleReimbursementArrangements)
	require.Len(t, LocalEVSE{Arrangements: []Arrangement{arrangement("A", ReimbursementVATExempt),
		{ID: "later", ValidFrom: ptr(sessionStart.Add(1))}}}.ArrangementsAt(sessionStart), 1)
}
