package authrule

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/token"
)

// TestStandingOf covers the location-independent reading of the rules that
// the OCPI Token object carries: blocked (valid false) and restricted
// (whitelist NEVER), with Decide's precedence and allow exceptions.
func TestStandingOf(t *testing.T) {
	subID, planID := &sub.ID, &plan
	other := uuid.New()
	blocked, restricted, free := Standing{Blocked: true}, Standing{Restricted: true}, Standing{}
	for _, tc := range []struct {
		name  string
		rules []Spec
		want  Standing
	}{
		{"no rules", nil, free},
		{"condition-free deny", []Spec{{Effect: "deny"}}, blocked},
		{"conditional deny", []Spec{{Effect: "deny", CountryCodes: []string{"FR"}}}, restricted},
		{"deny at some EVSEs", []Spec{{Effect: "deny", EVSEUIDs: []string{"E1"}}}, restricted},
		{"deny at night", []Spec{{Effect: "deny", StartTime: ptr("22:00"), EndTime: ptr("06:00")}}, restricted},
		{"require_credit", []Spec{{Effect: "require_credit"}}, restricted},
		{"deny not in force yet", []Spec{{Effect: "deny", ValidFrom: ptr(monday.Add(time.Hour))}}, free},
		{"deny over", []Spec{{Effect: "deny", ValidUntil: ptr(monday)}}, free},
		{"deny of another subscription", []Spec{{Effect: "deny", SubscriptionID: &other}}, free},
		{"deny of another plan", []Spec{{Effect: "deny", PlanID: &other}}, free},
		{"plan deny", []Spec{{Effect: "deny", PlanID: planID}}, blocked},
		{"subscription allow over administration deny", []Spec{{Effect: "deny"}, {Effect: "allow", SubscriptionID: subID}}, free},
		{"plan allow over administration require_credit", []Spec{{Effect: "require_credit"}, {Effect: "allow", PlanID: planID}}, free},
		{"conditional allow over administration deny", []Spec{{Effect: "deny"}, {Effect: "allow", SubscriptionID: subID, CountryCodes: []string{"NL"}}}, restricted},
		{"allow does not lift a deny of its own level", []Spec{{Effect: "deny", SubscriptionID: subID}, {Effect: "allow", SubscriptionID: subID}}, blocked},
		{"allow of a less specific level does not lift a deny", []Spec{{Effect: "deny", SubscriptionID: subID}, {Effect: "allow"}}, blocked},
		{"conditional deny and condition-free deny", []Spec{{Effect: "deny", CountryCodes: []string{"FR"}}, {Effect: "deny", PlanID: planID}}, blocked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, StandingOf(compile(t, tc.rules...), sub, monday))
		})
	}
}

// TestPublish: a blocked token is invalid with its configured whitelist,
// a restricted one valid and NEVER; a token without a link in effect is
// neither, and its last_updated includes RulesChangedAt.
func TestPublish(t *testing.T) {
	p, _ := token.NewPeriod(nil, nil)
	linked := token.Issued{ID: uuid.New(), AdministrationID: admin, Type: token.TypeRFID,
		Links: []token.Link{{ID: uuid.New(), Subscription: token.Subscription{ID: sub.ID, PlanID: plan, Period: p}, Period: p}}}
	tok, st := Publish(linked, compile(t, Spec{Effect: "deny"}), monday)
	require.False(t, token.OCPIValid(st.Reason))
	require.Equal(t, token.WhitelistAllowed, tok.Config().OCPIWhitelist())
	tok, st = Publish(linked, compile(t, Spec{Effect: "require_credit"}), monday)
	require.True(t, token.OCPIValid(st.Reason))
	require.Equal(t, token.WhitelistNever, tok.Config().OCPIWhitelist())
	unlinked := linked
	unlinked.Links = nil
	tok, st = Publish(unlinked, compile(t, Spec{Effect: "require_credit"}), monday)
	require.False(t, token.OCPIValid(st.Reason))
	require.False(t, tok.Restricted)
	linked.RulesChangedAt = monday.Add(-time.Minute)
	_, st = Publish(linked, nil, monday)
	require.Equal(t, monday.Add(-time.Minute), st.LastUpdated)
}

// TestReplaced: the rules before a change are the current ones with that
// rule as it was, in evaluation order.
func TestReplaced(t *testing.T) {
	rs := compile(t, Spec{Effect: "deny", CountryCodes: []string{"FR"}})
	set := NewSet(rs)
	before := Spec{ID: rs[0].ID, AdministrationID: admin, Effect: "deny"}
	r, err := Compile(before)
	require.NoError(t, err)
	require.Equal(t, blockedStanding(set.Replaced(admin, rs[0].ID, &r)), true)
	require.Empty(t, set.Replaced(admin, rs[0].ID, nil))
	require.Len(t, set.Replaced(admin, uuid.New(), &r), 2)
}

func blockedStanding(rules []Rule) bool { return StandingOf(rules, sub, monday).Blocked }
