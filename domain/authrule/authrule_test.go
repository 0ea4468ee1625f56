package authrule

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/token"
)

var (
	admin = uuid.New()
	plan  = uuid.New()
	sub   = token.Subscription{ID: uuid.New(), PlanID: plan}
	// 2025-03-03 is a Monday; 12:00 UTC is 13:00 in Amsterdam.
	monday = time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)
)

func ptr[T any](v T) *T { return &v }

func compile(t *testing.T, specs ...Spec) []Rule {
	t.Helper()
	var rs []Rule
	for _, s := range specs {
		if s.ID == uuid.Nil {
			s.ID = uuid.New()
		}
		s.AdministrationID = admin
		r, err := Compile(Normalize(s))
		require.NoError(t, err)
		rs = append(rs, r)
	}
	return NewSet(rs).For(admin)
}

func req(country, party, loc string, evses ...string) Request {
	return Request{At: monday, CountryCode: country, PartyID: party, LocationID: loc, EVSEUIDs: evses}
}

func TestDecideBranches(t *testing.T) {
	noCredit := func(uuid.UUID) (bool, error) { return false, nil }
	credit := func(uuid.UUID) (bool, error) { return true, nil }
	amsterdam := func() (string, error) { return "Europe/Amsterdam", nil }
	other := uuid.New()
	for _, tc := range []struct {
		name  string
		rules []Spec
		req   Request
		want  token.Decision
		evses []string
	}{
		{"no rules", nil, req("NL", "TNM", "L1"), token.Permit, nil},
		{"deny by party", []Spec{{Effect: "deny", Parties: []string{"nl-tnm"}}}, req("NL", "TNM", "L1"), token.DenyHere, nil},
		{"deny by party, other party", []Spec{{Effect: "deny", Parties: []string{"NL-TNM"}}}, req("NL", "ABC", "L1"), token.Permit, nil},
		{"deny by country", []Spec{{Effect: "deny", CountryCodes: []string{"de"}}}, req("DE", "ABC", ""), token.DenyHere, nil},
		{"deny by location, ignoring case", []Spec{{Effect: "deny", LocationIDs: []string{"loc-1"}}}, req("NL", "TNM", "LOC-1"), token.DenyHere, nil},
		{"deny by location, other location", []Spec{{Effect: "deny", LocationIDs: []string{"LOC-1"}}}, req("NL", "TNM", "LOC-2"), token.Permit, nil},
		{"deny one EVSE of two", []Spec{{Effect: "deny", EVSEUIDs: []string{"e1"}}}, req("NL", "TNM", "L1", "E1", "E2"), token.Permit, []string{"E2"}},
		{"deny every EVSE asked", []Spec{{Effect: "deny", EVSEUIDs: []string{"E1", "E2"}}}, req("NL", "TNM", "L1", "E1", "E2"), token.DenyHere, nil},
		{"deny EVSE, none asked", []Spec{{Effect: "deny", EVSEUIDs: []string{"E1"}}}, req("NL", "TNM", "L1"), token.Permit, nil},
		{"unconditional deny blocks", []Spec{{Effect: "deny"}}, req("NL", "TNM", "L1"), token.Block, nil},
		{"deny outside validity ignored", []Spec{{Effect: "deny", ValidUntil: ptr(monday)}}, req("NL", "TNM", "L1"), token.Permit, nil},
		{"deny from its valid_from", []Spec{{Effect: "deny", ValidFrom: ptr(monday), LocationIDs: []string{"L1"}}}, req("NL", "TNM", "L1"), token.DenyHere, nil},
		{"deny not yet valid", []Spec{{Effect: "deny", ValidFrom: ptr(monday.Add(time.Minute))}}, req("NL", "TNM", "L1"), token.Permit, nil},
		{"plan-scoped applies", []Spec{{Effect: "deny", PlanID: &plan, Parties: []string{"NL-TNM"}}}, req("NL", "TNM", "L1"), token.DenyHere, nil},
		{"other plan ignored", []Spec{{Effect: "deny", PlanID: &other, Parties: []string{"NL-TNM"}}}, req("NL", "TNM", "L1"), token.Permit, nil},
		{"subscription-scoped applies", []Spec{{Effect: "deny", SubscriptionID: &sub.ID, Parties: []string{"NL-TNM"}}}, req("NL", "TNM", "L1"), token.DenyHere, nil},
		{"other subscription ignored", []Spec{{Effect: "deny", SubscriptionID: &other, Parties: []string{"NL-TNM"}}}, req("NL", "TNM", "L1"), token.Permit, nil},
		{"subscription allow overrides plan deny",
			[]Spec{{Effect: "deny", PlanID: &plan, CountryCodes: []string{"NL"}}, {Effect: "allow", SubscriptionID: &sub.ID}},
			req("NL", "TNM", "L1"), token.Permit, nil},
		{"plan allow does not override subscription deny",
			[]Spec{{Effect: "allow", PlanID: &plan}, {Effect: "deny", SubscriptionID: &sub.ID, CountryCodes: []string{"NL"}}},
			req("NL", "TNM", "L1"), token.DenyHere, nil},
		{"deny before allow within a level",
			[]Spec{{Effect: "allow"}, {Effect: "deny", CountryCodes: []string{"NL"}}},
			req("NL", "TNM", "L1"), token.DenyHere, nil},
		{"most specific refusal answers",
			[]Spec{{Effect: "deny", CountryCodes: []string{"NL"}}, {Effect: "require_credit", SubscriptionID: &sub.ID}},
			Request{At: monday, CountryCode: "NL", PartyID: "TNM", HasCredit: noCredit}, token.DenyNoCredit, nil},
		{"require_credit without credit", []Spec{{Effect: "require_credit"}},
			Request{At: monday, HasCredit: noCredit}, token.DenyNoCredit, nil},
		{"require_credit with credit", []Spec{{Effect: "require_credit"}},
			Request{At: monday, HasCredit: credit}, token.Permit, nil},
		{"require_credit abroad only", []Spec{{Effect: "require_credit", CountryCodes: []string{"DE"}}},
			Request{At: monday, CountryCode: "NL", HasCredit: noCredit}, token.Permit, nil},
		{"window in the location's local time", []Spec{{Effect: "deny", StartTime: ptr("13:00"), EndTime: ptr("14:00")}},
			Request{At: monday, TimeZone: amsterdam}, token.DenyHere, nil},
		{"window in UTC misses", []Spec{{Effect: "deny", StartTime: ptr("13:00"), EndTime: ptr("14:00")}},
			Request{At: monday}, token.Permit, nil},
		{"window in the rule's zone when the location is unknown", []Spec{{Effect: "deny", StartTime: ptr("13:00"), EndTime: ptr("14:00"), TimeZone: ptr("Europe/Amsterdam")}},
			Request{At: monday, TimeZone: func() (string, error) { return "", nil }}, token.DenyHere, nil},
		{"window wrapping midnight", []Spec{{Effect: "deny", StartTime: ptr("22:00"), EndTime: ptr("06:00")}},
			Request{At: monday.Add(11 * time.Hour), TimeZone: amsterdam}, token.DenyHere, nil},
		{"window end exclusive", []Spec{{Effect: "deny", StartTime: ptr("12:00"), EndTime: ptr("13:00")}},
			Request{At: monday, TimeZone: amsterdam}, token.Permit, nil},
		{"day of week matches", []Spec{{Effect: "deny", DaysOfWeek: []string{"monday"}}},
			Request{At: monday, TimeZone: amsterdam}, token.DenyHere, nil},
		{"day of week in local time", []Spec{{Effect: "deny", DaysOfWeek: []string{"TUESDAY"}}},
			Request{At: monday.Add(11*time.Hour + 30*time.Minute), TimeZone: amsterdam}, token.DenyHere, nil},
		{"day of week other day", []Spec{{Effect: "deny", DaysOfWeek: []string{"SUNDAY"}}},
			Request{At: monday, TimeZone: amsterdam}, token.Permit, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Decide(compile(t, tc.rules...), sub, tc.req)
			require.NoError(t, err)
			require.Equal(t, tc.want, out.Decision)
			require.Equal(t, tc.evses, out.EVSEUIDs)
			require.Equal(t, tc.want != token.Permit, out.RuleID != nil)
		})
	}
}

// mod_tokens → Real-time authorization: a request without
// LocationReferences that a rule cannot decide without the place gets
// NeedsLocation (OCPI 2002); a refusal regardless of the place, or rules
// whose other conditions do not hold, answer as usual.
func TestDecideWithoutLocation(t *testing.T) {
	noCredit := func(uuid.UUID) (bool, error) { return false, nil }
	other := uuid.New()
	nowhere := Request{At: monday, CountryCode: "NL", PartyID: "TNM", HasCredit: noCredit}
	for _, tc := range []struct {
		name  string
		rules []Spec
		want  token.Decision
		needs bool
	}{
		{"deny by location", []Spec{{Effect: "deny", LocationIDs: []string{"LOC-1"}}}, token.Block, true},
		{"deny by EVSE", []Spec{{Effect: "deny", EVSEUIDs: []string{"E1"}}}, token.Block, true},
		{"require_credit by location", []Spec{{Effect: "require_credit", LocationIDs: []string{"LOC-1"}}}, token.Block, true},
		{"deny by location of another party", []Spec{{Effect: "deny", Parties: []string{"DE-ABC"}, LocationIDs: []string{"LOC-1"}}}, token.Permit, false},
		{"deny by location on another day", []Spec{{Effect: "deny", DaysOfWeek: []string{"SUNDAY"}, LocationIDs: []string{"LOC-1"}}}, token.Permit, false},
		{"deny by location of another subscription", []Spec{{Effect: "deny", SubscriptionID: &other, LocationIDs: []string{"LOC-1"}}}, token.Permit, false},
		{"deny by location, then a refusal anywhere",
			[]Spec{{Effect: "deny", LocationIDs: []string{"LOC-1"}}, {Effect: "require_credit"}}, token.DenyNoCredit, false},
		{"allow by location, then a deny by country at a less specific level",
			[]Spec{{Effect: "allow", SubscriptionID: &sub.ID, LocationIDs: []string{"LOC-1"}}, {Effect: "deny", CountryCodes: []string{"NL"}}}, token.Block, true},
		{"allow by location does not excuse its own level",
			[]Spec{{Effect: "allow", LocationIDs: []string{"LOC-1"}}, {Effect: "deny", CountryCodes: []string{"NL"}}}, token.DenyHere, false},
		{"allow by location alone", []Spec{{Effect: "allow", LocationIDs: []string{"LOC-1"}}}, token.Permit, false},
		{"a more specific allow anywhere ends it",
			[]Spec{{Effect: "allow", SubscriptionID: &sub.ID}, {Effect: "deny", LocationIDs: []string{"LOC-1"}}}, token.Permit, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Decide(compile(t, tc.rules...), sub, nowhere)
			require.NoError(t, err)
			require.Equal(t, tc.want, out.Decision)
			require.Equal(t, tc.needs, out.NeedsLocation)
			require.Equal(t, tc.want != token.Permit && !tc.needs, out.RuleID != nil)
		})
	}
	// With credit, a require_credit rule refuses nowhere: no place needed.
	credited := nowhere
	credited.HasCredit = func(uuid.UUID) (bool, error) { return true, nil }
	out, err := Decide(compile(t, Spec{Effect: "require_credit", LocationIDs: []string{"LOC-1"}}), sub, credited)
	require.NoError(t, err)
	require.Equal(t, Outcome{Decision: token.Permit}, out)
}

// The credit check and the time zone lookup run only when a rule needs
// them, and at most once.
func TestDecideLazyLookups(t *testing.T) {
	calls := 0
	r := Request{At: monday, CountryCode: "NL", PartyID: "TNM",
		HasCredit: func(uuid.UUID) (bool, error) { calls++; return true, nil },
		TimeZone:  func() (string, error) { calls++; return "Europe/Amsterdam", nil }}
	_, err := Decide(compile(t, Spec{Effect: "deny", CountryCodes: []string{"DE"}}), sub, r)
	require.NoError(t, err)
	require.Zero(t, calls)
	_, err = Decide(compile(t, Spec{Effect: "require_credit"}, Spec{Effect: "require_credit", PlanID: &plan},
		Spec{Effect: "deny", DaysOfWeek: []string{"SUNDAY"}}, Spec{Effect: "deny", StartTime: ptr("00:00"), EndTime: ptr("00:01")}), sub, r)
	require.NoError(t, err)
	require.Equal(t, 2, calls)
	boom := errors.New("down")
	_, err = Decide(compile(t, Spec{Effect: "require_credit"}), sub, Request{At: monday, HasCredit: func(uuid.UUID) (bool, error) { return false, boom }})
	require.ErrorIs(t, err, boom)
}

func TestCompileRejects(t *testing.T) {
	_, err := Compile(Spec{Effect: "maybe", PlanID: &plan, SubscriptionID: &sub.ID, ValidFrom: ptr(monday), ValidUntil: ptr(monday.Add(30 * time.Second)),
		CountryCodes: []string{"XX"}, Parties: []string{"NLTNM"}, LocationIDs: []string{""}, EVSEUIDs: []string{"é"},
		DaysOfWeek: []string{"FUNDAY"}, StartTime: ptr("25:00"), TimeZone: ptr("Mars/Olympus")})
	f, ok := fault.As(err)
	require.True(t, ok)
	var paths []string
	for _, fl := range f.Fields {
		paths = append(paths, fl.Path)
	}
	require.ElementsMatch(t, []string{"effect", "subscription_id", "valid_until", "cpo_country_codes[0]", "cpo_parties[0]",
		"location_ids[0]", "evse_uids[0]", "days_of_week[0]", "end_time", "time_zone"}, paths)
}

// BenchmarkDecide is the in-process cost of the rules on the hot path: an
// administration with ten rules at the three levels, none of which needs
// the credit check or the time zone.
func BenchmarkDecide(b *testing.B) {
	var specs []Spec
	for i := range 10 {
		s := Spec{ID: uuid.New(), AdministrationID: admin, Effect: "deny", Parties: []string{"DE-B" + string(rune('A'+i)) + "D"},
			LocationIDs: []string{"LOC-" + string(rune('A'+i))}}
		switch i % 3 {
		case 0:
			s.PlanID = &plan
		case 1:
			s.SubscriptionID = &sub.ID
		}
		specs = append(specs, s)
	}
	var rs []Rule
	for _, s := range specs {
		r, err := Compile(Normalize(s))
		require.NoError(b, err)
		rs = append(rs, r)
	}
	rules := NewSet(rs).For(admin)
	req := Request{At: monday, CountryCode: "NL", PartyID: "TNM", LocationID: "LOC-1", EVSEUIDs: []string{"E1", "E2"}}
	b.ReportAllocs()
	for b.Loop() {
		if out, _ := Decide(rules, sub, req); out.Decision != token.Permit {
			b.Fatal(out)
		}
	}
}
