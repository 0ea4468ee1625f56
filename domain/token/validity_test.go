package token

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/roamnode/roamnode/domain/fault"
)

// ts parses an RFC 3339 instant.
func ts(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	must.NoError(t, err)
	return v
}

// ptr returns a pointer to the parsed instant, or nil for "".
func ptr(t testing.TB, s string) *time.Time {
	t.Helper()
	if s == "" {
		return nil
	}
	v := ts(t, s)
	return &v
}

// period builds a valid period; "" is an unbounded side.
func period(t testing.TB, from, until string) Period {
	t.Helper()
	p, err := NewPeriod(ptr(t, from), ptr(t, until))
	must.NoError(t, err)
	return p
}

func TestNewPeriodTruncatesToMinutes(t *testing.T) {
	// The guide's example: 2023-11-01T23:45:67.912343+01:00 (67 s is out of
	// range for RFC 3339, so the same instant as 23:46:07.912343).
	p := period(t, "2023-11-01T23:46:07.912343+01:00", "")
	must.Equal(t, "2023-11-01T22:46:00Z", p.From().Format(time.RFC3339))
	must.True(t, p.Until() == nil)
	must.Equal(t, time.UTC, p.From().Location())

	// Mutating a returned bound does not change the period.
	f := p.From()
	*f = f.Add(time.Hour)
	must.Equal(t, "2023-11-01T22:46:00Z", p.From().Format(time.RFC3339))
}

func TestNewPeriodRequiresUntilAfterFrom(t *testing.T) {
	tests := []struct{ from, until string }{
		{"2023-11-01T10:00:00Z", "2023-11-01T10:00:00Z"},      // empty
		{"2023-11-01T10:00:10Z", "2023-11-01T10:00:50Z"},      // same minute after truncation
		{"2023-11-01T10:05:00Z", "2023-11-01T10:00:00Z"},      // reversed
		{"2023-11-01T11:00:00+01:00", "2023-11-01T10:00:00Z"}, // same instant, other zone
	}
	for _, tc := range tests {
		_, err := NewPeriod(ptr(t, tc.from), ptr(t, tc.until))
		must.Error(t, err, "%s..%s", tc.from, tc.until)
		must.True(t, fault.Is(err, fault.KindInvalid))
		fe, _ := fault.As(err)
		must.Equal(t, PathValidUntil, fe.Fields[0].Path)
	}
	_, err := NewPeriod(ptr(t, "2023-11-01T10:00:59Z"), ptr(t, "2023-11-01T10:01:00Z"))
	must.NoError(t, err, "one whole minute")
}

func TestPeriodContains(t *testing.T) {
	// Guide: valid throughout November but not in December.
	nov := period(t, "2023-11-01T00:00:00+01:00", "2023-12-01T00:00:00+01:00")
	tests := []struct {
		p    Period
		at   string
		want bool
	}{
		{nov, "2023-10-31T23:59:59.999+01:00", false},
		{nov, "2023-11-01T00:00:00+01:00", true}, // from is inclusive
		{nov, "2023-11-15T12:00:00Z", true},
		{nov, "2023-11-30T23:59:59.999999999+01:00", true},
		{nov, "2023-12-01T00:00:00+01:00", false}, // until is exclusive
		{period(t, "", "2023-12-01T00:00:00Z"), "1900-01-01T00:00:00Z", true},
		{period(t, "2023-11-01T00:00:00Z", ""), "2999-01-01T00:00:00Z", true},
		{Period{}, "2023-11-01T00:00:00Z", true},
	}
	for _, tc := range tests {
		must.Equal(t, tc.want, tc.p.Contains(ts(t, tc.at)), "%s contains %s", tc.p, tc.at)
	}
	must.Equal(t, "[-∞, +∞)", Period{}.String())
	must.Equal(t, "[2023-10-31T23:00:00Z, 2023-11-30T23:00:00Z)", nov.String())
}

func TestPeriodOverlaps(t *testing.T) {
	a := period(t, "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z")
	tests := []struct {
		name string
		b    Period
		want bool
	}{
		{"hand-over at until", period(t, "2024-02-01T00:00:00Z", ""), false},
		{"ends at from", period(t, "", "2024-01-01T00:00:00Z"), false},
		{"one minute shared", period(t, "2024-01-31T23:59:00Z", "2024-03-01T00:00:00Z"), true},
		{"inside", period(t, "2024-01-10T00:00:00Z", "2024-01-11T00:00:00Z"), true},
		{"around", Period{}, true},
		{"before", period(t, "2023-01-01T00:00:00Z", "2023-02-01T00:00:00Z"), false},
		{"after", period(t, "2024-03-01T00:00:00Z", ""), false},
		{"open start into it", period(t, "", "2024-01-01T00:01:00Z"), true},
	}
	for _, tc := range tests {
		must.Equal(t, tc.want, a.Overlaps(tc.b), tc.name)
		must.Equal(t, tc.want, tc.b.Overlaps(a), "%s (reversed)", tc.name)
	}
	must.True(t, Period{}.Overlaps(Period{}))
}

// Fixed identities for the validity tables.
var (
	tokenA = uuid.MustParse("01890000-0000-7000-8000-00000000000a")
	tokenB = uuid.MustParse("01890000-0000-7000-8000-00000000000b")
	sub1   = uuid.MustParse("01890000-0000-7000-8000-000000000051")
	sub2   = uuid.MustParse("01890000-0000-7000-8000-000000000052")
)

// link builds a live link of tokenA to subscription sub1 valid from..until,
// the subscription being always valid.
func link(t testing.TB, id int, from, until string) Link {
	t.Helper()
	return Link{
		ID:           uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(id)}),
		TokenID:      tokenA,
		Subscription: Subscription{ID: sub1},
		Period:       period(t, from, until),
	}
}

func TestEvaluate(t *testing.T) {
	const (
		jan  = "2024-01-01T00:00:00Z"
		feb  = "2024-02-01T00:00:00Z"
		mar  = "2024-03-01T00:00:00Z"
		midJ = "2024-01-15T12:34:56Z"
		midF = "2024-02-15T00:00:00Z"
	)
	live := link(t, 1, jan, feb)
	defunct := live
	defunct.Defunct = true
	subDefunct := live
	subDefunct.Subscription.Defunct = true
	subLater := live
	subLater.Subscription.Period = period(t, "2024-01-20T00:00:00Z", "")
	subEnded := live
	subEnded.Subscription.Period = period(t, "", "2024-01-10T00:00:00Z")
	// Hand-over: old link [jan, feb) on sub1, new link [feb, mar) on sub2.
	old := link(t, 2, jan, feb)
	next := link(t, 3, feb, mar)
	next.Subscription.ID = sub2
	// Overlapping live links break the one-subscription rule.
	clash := link(t, 4, "2024-01-10T00:00:00Z", "")

	rulesSay := func(d Decision) Rules { return func(time.Time, Link) Decision { return d } }

	tests := []struct {
		name   string
		links  []Link
		at     string
		rules  Rules
		want   Reason
		linkID uuid.UUID // expected link in effect, uuid.Nil for none
	}{
		{"valid", []Link{live}, midJ, nil, ReasonValid, live.ID},
		{"valid at from", []Link{live}, jan, nil, ReasonValid, live.ID},
		{"rules permit", []Link{live}, midJ, rulesSay(Permit), ReasonValid, live.ID},
		{"no link", nil, midJ, nil, ReasonNoLink, uuid.Nil},
		{"link not yet valid", []Link{live}, "2023-12-31T23:59:59Z", nil, ReasonLinkNotYetValid, uuid.Nil},
		{"link expired at until", []Link{live}, feb, nil, ReasonLinkExpired, uuid.Nil},
		{"link defunct", []Link{defunct}, midJ, nil, ReasonLinkDefunct, uuid.Nil},
		{"only a defunct link elsewhere", []Link{defunct}, midF, nil, ReasonLinkDefunct, uuid.Nil},
		{"defunct link here beats expired one", []Link{link(t, 5, "2023-01-01T00:00:00Z", jan), defunct}, midJ, nil, ReasonLinkDefunct, uuid.Nil},
		{"gap: next link starts later", []Link{link(t, 6, "", jan), link(t, 7, feb, "")}, midJ, nil, ReasonLinkNotYetValid, uuid.Nil},
		{"subscription defunct", []Link{subDefunct}, midJ, nil, ReasonSubscriptionDefunct, live.ID},
		{"subscription not yet valid", []Link{subLater}, midJ, nil, ReasonSubscriptionNotYetValid, live.ID},
		{"subscription expired", []Link{subEnded}, midJ, nil, ReasonSubscriptionExpired, live.ID},
		{"blocked by rules", []Link{live}, midJ, rulesSay(Block), ReasonBlocked, live.ID},
		{"not allowed here", []Link{live}, midJ, rulesSay(DenyHere), ReasonNotAllowedHere, live.ID},
		{"no credit", []Link{live}, midJ, rulesSay(DenyNoCredit), ReasonNoCredit, live.ID},
		{"unknown decision fails closed", []Link{live}, midJ, rulesSay(Decision(99)), ReasonBlocked, live.ID},
		{"hand-over: old link just before", []Link{old, next}, "2024-01-31T23:59:59.999Z", nil, ReasonValid, old.ID},
		{"hand-over instant: new link", []Link{old, next}, feb, nil, ReasonValid, next.ID},
		{"hand-over: new link after", []Link{old, next}, midF, nil, ReasonValid, next.ID},
		{"after both", []Link{old, next}, mar, nil, ReasonLinkExpired, uuid.Nil},
		{"defunct old link ignored", []Link{defunct, link(t, 8, jan, "")}, midJ, nil, ReasonValid, link(t, 8, jan, "").ID},
		{"overlapping live links fail closed", []Link{live, clash}, midJ, nil, ReasonLinksOverlap, uuid.Nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := ts(t, tc.at)
			res := Evaluate(tc.links, at, tc.rules)
			must.Equal(t, tc.want, res.Reason)
			must.Equal(t, tc.want == ReasonValid, res.Valid)
			if tc.linkID == uuid.Nil {
				must.True(t, res.Link == nil, "no link in effect, got %v", res.Link)
			} else {
				must.True(t, res.Link != nil, "a link in effect")
				must.Equal(t, tc.linkID, res.Link.ID)
			}
			ok, reason := Valid(tc.links, at, tc.rules)
			must.Equal(t, res.Valid, ok)
			must.Equal(t, res.Reason, reason)
		})
	}
}

func TestEvaluatePassesLinkAndInstantToRules(t *testing.T) {
	l := link(t, 1, "2024-01-01T00:00:00Z", "")
	at := ts(t, "2024-05-05T05:05:05Z")
	var gotAt time.Time
	var gotLink Link
	Evaluate([]Link{l}, at, func(a time.Time, k Link) Decision { gotAt, gotLink = a, k; return Permit })
	must.True(t, gotAt.Equal(at))
	must.Equal(t, l.ID, gotLink.ID)
	// Rules are not consulted when the link or subscription already fails.
	called := false
	l.Subscription.Defunct = true
	Evaluate([]Link{l}, at, func(time.Time, Link) Decision { called = true; return Permit })
	must.False(t, called)
}

func TestCheckExclusive(t *testing.T) {
	old := link(t, 1, "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z")
	handOver := link(t, 2, "2024-02-01T00:00:00Z", "")
	handOver.Subscription.ID = sub2
	overlapping := link(t, 3, "2024-01-31T23:59:00Z", "")
	otherToken := overlapping
	otherToken.TokenID = tokenB
	defunctOverlap := overlapping
	defunctOverlap.Defunct = true
	// "regardless of the subscription's validity": an expired subscription
	// still holds the token for its link period.
	expiredSub := link(t, 4, "2023-06-01T00:00:00Z", "2024-01-15T00:00:00Z")
	expiredSub.Subscription.Period = period(t, "", "2023-07-01T00:00:00Z")

	must.NoError(t, CheckExclusive(nil))
	must.NoError(t, CheckExclusive([]Link{old, handOver}), "hand-over at the same instant is not an overlap")
	must.NoError(t, CheckExclusive([]Link{old, otherToken}), "other tokens do not clash")
	must.NoError(t, CheckExclusive([]Link{old, defunctOverlap}), "defunct links do not count")

	err := CheckExclusive([]Link{old, handOver, overlapping})
	must.True(t, fault.Is(err, fault.KindConflict), "want conflict, got %v", err)
	fe, _ := fault.As(err)
	must.Equal(t, CodeLinkOverlap, fe.Code)
	must.Contains(t, fe.Message, old.ID.String()+" [2024-01-01T00:00:00Z, 2024-02-01T00:00:00Z) overlaps link "+overlapping.ID.String())
	must.Contains(t, fe.Message, handOver.ID.String()+" [2024-02-01T00:00:00Z, +∞) overlaps link "+overlapping.ID.String())

	err = CheckExclusive([]Link{old, expiredSub})
	must.True(t, fault.Is(err, fault.KindConflict), "expired subscription still holds the token: %v", err)
}

// genPeriod draws a valid period on a minute grid, possibly unbounded.
func genPeriod(t *rapid.T, label string) Period {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var from, until *time.Time
	start := rapid.IntRange(0, 100).Draw(t, label+".from")
	if rapid.Bool().Draw(t, label+".hasFrom") {
		f := base.Add(time.Duration(start) * time.Minute)
		from = &f
	}
	if rapid.Bool().Draw(t, label+".hasUntil") {
		u := base.Add(time.Duration(start+rapid.IntRange(1, 100).Draw(t, label+".len")) * time.Minute)
		until = &u
	}
	p, err := NewPeriod(from, until)
	if err != nil {
		t.Fatalf("NewPeriod: %v", err)
	}
	return p
}

func TestPeriodProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := genPeriod(t, "a"), genPeriod(t, "b")
		// Overlap is symmetric.
		if a.Overlaps(b) != b.Overlaps(a) {
			t.Fatalf("%s overlaps %s is not symmetric", a, b)
		}
		// Overlap means a shared instant: on a minute grid, some minute start.
		shared := false
		for m := -1; m <= 202; m++ {
			at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(m) * time.Minute)
			if a.Contains(at) && b.Contains(at) {
				shared = true
				break
			}
		}
		if shared != a.Overlaps(b) {
			t.Fatalf("%s, %s: overlaps %v but shared instant %v", a, b, a.Overlaps(b), shared)
		}
		// A period never overlaps a period starting at its Until.
		if u := a.Until(); u != nil {
			next, err := NewPeriod(u, nil)
			if err != nil {
				t.Fatalf("NewPeriod: %v", err)
			}
			if a.Overlaps(next) || next.Overlaps(a) {
				t.Fatalf("%s overlaps %s", a, next)
			}
			if a.Contains(*u) {
				t.Fatalf("%s contains its until", a)
			}
		}
		if f := a.From(); f != nil && !a.Contains(*f) {
			t.Fatalf("%s does not contain its from", a)
		}
	})
}

// Evaluate agrees with CheckExclusive: whenever the links pass the
// one-subscription rule, at most one link is in effect at any instant and
// the verdict never reports an overlap.
func TestEvaluateExclusiveProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 4).Draw(t, "n")
		links := make([]Link, n)
		for i := range links {
			links[i] = Link{
				ID:           uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(i)}),
				TokenID:      tokenA,
				Subscription: Subscription{ID: sub1},
				Period:       genPeriod(t, "link"),
				Defunct:      rapid.Bool().Draw(t, "defunct"),
			}
		}
		at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.IntRange(-5, 210).Draw(t, "at")) * time.Minute)
		res := Evaluate(links, at, nil)
		live := 0
		for _, l := range links {
			if !l.Defunct && l.Period.Contains(at) {
				live++
			}
		}
		if CheckExclusive(links) == nil && live > 1 {
			t.Fatalf("CheckExclusive passed but %d links are in effect at %s", live, at)
		}
		if res.Valid != (live == 1) {
			t.Fatalf("valid %v with %d links in effect (%s)", res.Valid, live, res.Reason)
		}
	})
}
