package authz

import (
	"testing"

	"github.com/roamnode/roamnode/domain/token"
)

func cached(valid bool, wl token.Whitelist) *Cached {
	return &Cached{Valid: valid, Whitelist: wl, Agreement: true}
}

var here = Where{LocationID: "LOC1", EVSEUIDs: []string{"E1", "e2"}}

func TestDecide(t *testing.T) {
	allowed := Answer{Outcome: OutcomeAnswered, Allowed: token.AllowedAllowed}
	none := Answer{Outcome: OutcomeNoAnswer}
	all := []Policy{PolicyDeny, PolicyAllowIfWhitelisted, PolicyAllow}
	type want struct {
		allowed bool
		reason  Reason
		source  Source
	}
	cases := []struct {
		name     string
		c        *Cached
		a        Answer
		policies []Policy
		want     want
	}{
		// The cache decides alone.
		{"no agreement", &Cached{Valid: true, Whitelist: token.WhitelistAlways}, allowed, all, want{false, ReasonNoAgreement, SourceCache}},
		{"ALWAYS valid", cached(true, token.WhitelistAlways), none, all, want{true, ReasonWhitelisted, SourceCache}},
		{"ALWAYS valid, never asked even if an answer exists", cached(true, token.WhitelistAlways),
			Answer{Outcome: OutcomeAnswered, Allowed: token.AllowedBlocked}, all, want{true, ReasonWhitelisted, SourceCache}},
		{"ALWAYS invalid", cached(false, token.WhitelistAlways), none, all, want{false, ReasonInvalid, SourceCache}},
		// The eMSP answers: its answer wins over the cache, valid or not.
		{"ALLOWED answered ALLOWED", cached(true, token.WhitelistAllowed), allowed, all, want{true, ReasonAuthorized, SourceRealtime}},
		{"ALLOWED invalid but answered ALLOWED", cached(false, token.WhitelistAllowed), allowed, all, want{true, ReasonAuthorized, SourceRealtime}},
		{"NEVER invalid, answered ALLOWED (state changed)", cached(false, token.WhitelistNever), allowed, all, want{true, ReasonAuthorized, SourceRealtime}},
		{"ALLOWED_OFFLINE answered BLOCKED", cached(true, token.WhitelistAllowedOffline),
			Answer{Outcome: OutcomeAnswered, Allowed: token.AllowedBlocked}, all, want{false, ReasonBlocked, SourceRealtime}},
		{"answered EXPIRED", cached(true, token.WhitelistNever), Answer{Outcome: OutcomeAnswered, Allowed: token.AllowedExpired}, all, want{false, ReasonExpired, SourceRealtime}},
		{"answered NO_CREDIT", cached(true, token.WhitelistNever), Answer{Outcome: OutcomeAnswered, Allowed: token.AllowedNoCredit}, all, want{false, ReasonNoCredit, SourceRealtime}},
		{"answered NOT_ALLOWED", nil, Answer{Outcome: OutcomeAnswered, Allowed: token.AllowedNotAllowed}, all, want{false, ReasonNotAllowed, SourceRealtime}},
		{"answered an unknown AllowedType: fail closed", nil, Answer{Outcome: OutcomeAnswered, Allowed: "MAYBE"}, all, want{false, ReasonBlocked, SourceRealtime}},
		{"answered unknown token", cached(true, token.WhitelistAllowed), Answer{Outcome: OutcomeUnknown}, all, want{false, ReasonUnknown, SourceRealtime}},
		{"uncached, answered ALLOWED", nil, allowed, all, want{true, ReasonAuthorized, SourceRealtime}},
		{"uncached, nobody to ask", nil, Answer{}, all, want{false, ReasonUnknown, SourceCache}},
		// No answer: whitelist and policy.
		{"ALLOWED no answer, deny", cached(true, token.WhitelistAllowed), none, []Policy{PolicyDeny}, want{false, ReasonUnreachable, SourceFallback}},
		{"ALLOWED no answer, whitelisted", cached(true, token.WhitelistAllowed), none, []Policy{PolicyAllowIfWhitelisted, PolicyAllow}, want{true, ReasonWhitelisted, SourceFallback}},
		{"ALLOWED invalid no answer", cached(false, token.WhitelistAllowed), none, all, want{false, ReasonInvalid, SourceFallback}},
		{"ALLOWED_OFFLINE no answer: always allowed", cached(true, token.WhitelistAllowedOffline), none, all, want{true, ReasonAllowedOffline, SourceFallback}},
		{"ALLOWED_OFFLINE invalid no answer", cached(false, token.WhitelistAllowedOffline), none, all, want{false, ReasonInvalid, SourceFallback}},
		{"NEVER no answer", cached(true, token.WhitelistNever), none, []Policy{PolicyDeny, PolicyAllowIfWhitelisted}, want{false, ReasonUnreachable, SourceFallback}},
		{"NEVER no answer, allow", cached(true, token.WhitelistNever), none, []Policy{PolicyAllow}, want{true, ReasonFallbackAllow, SourceFallback}},
		{"NEVER invalid no answer, allow", cached(false, token.WhitelistNever), none, []Policy{PolicyAllow}, want{false, ReasonInvalid, SourceFallback}},
		{"unknown whitelist value is NEVER", cached(true, "SOMETIMES"), none, []Policy{PolicyAllowIfWhitelisted}, want{false, ReasonUnreachable, SourceFallback}},
		{"cached but no route to its eMSP", cached(true, token.WhitelistAllowedOffline), Answer{}, all, want{true, ReasonAllowedOffline, SourceFallback}},
		{"uncached no answer", nil, none, []Policy{PolicyDeny, PolicyAllowIfWhitelisted}, want{false, ReasonUnreachable, SourceFallback}},
		{"uncached no answer, allow", nil, none, []Policy{PolicyAllow}, want{true, ReasonFallbackAllow, SourceFallback}},
	}
	for _, tc := range cases {
		for _, p := range tc.policies {
			d := Decide(tc.c, here, tc.a, p)
			got := want{d.Allowed, d.Reason, d.Source}
			if got != tc.want {
				t.Errorf("%s (policy %s): got %+v, want %+v", tc.name, p, got, tc.want)
			}
			if d.Allowed != (len(d.EVSEUIDs) > 0) {
				t.Errorf("%s (policy %s): allowed %v with EVSEs %v", tc.name, p, d.Allowed, d.EVSEUIDs)
			}
		}
	}
}

func TestFromCacheNeedsAsking(t *testing.T) {
	for _, c := range []*Cached{nil, cached(true, token.WhitelistAllowed), cached(false, token.WhitelistAllowed),
		cached(true, token.WhitelistAllowedOffline), cached(false, token.WhitelistNever)} {
		if _, ok := FromCache(c, here); ok {
			t.Errorf("%+v: the cache must not decide alone", c)
		}
	}
}

func TestRestrict(t *testing.T) {
	cases := []struct {
		name  string
		w     Where
		loc   *Where
		evses []string
		ok    bool
	}{
		{"no restriction", here, nil, []string{"E1", "e2"}, true},
		{"other location", here, &Where{LocationID: "LOC2"}, nil, false},
		{"location case-insensitive, no EVSEs listed", here, &Where{LocationID: "loc1"}, []string{"E1", "e2"}, true},
		{"narrowed, asked casing kept", here, &Where{LocationID: "LOC1", EVSEUIDs: []string{"E2", "E9"}}, []string{"e2"}, true},
		{"none of the asked EVSEs", here, &Where{LocationID: "LOC1", EVSEUIDs: []string{"E9"}}, nil, false},
		{"whole location asked", Where{LocationID: "LOC1"}, &Where{LocationID: "LOC1", EVSEUIDs: []string{"E7"}}, []string{"E7"}, true},
	}
	for _, tc := range cases {
		evses, ok := Restrict(tc.w, tc.loc)
		if ok != tc.ok || len(evses) != len(tc.evses) {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, evses, ok, tc.evses, tc.ok)
			continue
		}
		for i := range evses {
			if evses[i] != tc.evses[i] {
				t.Errorf("%s: got %v, want %v", tc.name, evses, tc.evses)
			}
		}
	}
	// A restriction to other EVSEs turns an ALLOWED answer into a denial.
	d := Decide(nil, here, Answer{Outcome: OutcomeAnswered, Allowed: token.AllowedAllowed, Location: &Where{LocationID: "LOC1", EVSEUIDs: []string{"X"}}}, PolicyAllow)
	if d.Allowed || d.Reason != ReasonEVSENotAllowed || d.Source != SourceRealtime {
		t.Errorf("restricted answer: %+v", d)
	}
}

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]Policy{"deny": PolicyDeny, "allow-if-whitelisted": PolicyAllowIfWhitelisted, " ALLOW ": PolicyAllow} {
		if p, err := ParsePolicy(in); err != nil || p != want {
			t.Errorf("%q: %v %v", in, p, err)
		}
	}
	if _, err := ParsePolicy("sometimes"); err == nil {
		t.Error("unknown policy accepted")
	}
}
