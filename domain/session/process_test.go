package session

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/fault"
)

// table is a Matcher and Lookup over fixed answers.
type table struct {
	match *Match
	miss  Miss
	facts Facts
	th    Thresholds
}

func (t table) Match(context.Context, ChargeSession) (*Match, Miss, error) {
	return t.match, t.miss, nil
}
func (t table) Facts(context.Context, ChargeSession) (Facts, error) { return t.facts, nil }
func (t table) Thresholds(_ context.Context, _ ChargeSession, _ *uuid.UUID, d Thresholds) (Thresholds, error) {
	if t.th != (Thresholds{}) {
		return t.th, nil
	}
	return d, nil
}

func TestPipelineStep(t *testing.T) {
	ctx := context.Background()
	admin := uuid.New()
	found := table{match: &Match{ConnectorID: "1"}, facts: Facts{TokenKnown: true, AdministrationID: &admin}}
	p := Pipeline{Matcher: found, Lookup: found, Schedule: Schedule{time.Minute}, Defaults: DefaultThresholds}
	o, err := p.Step(ctx, good(), now)
	require.NoError(t, err)
	require.Equal(t, Validating, o.State)

	s := good()
	s.State, s.Match = Validating, o.Match
	o, err = p.Step(ctx, s, now)
	require.NoError(t, err)
	require.Equal(t, ReadyForPricing, o.State)
	require.Equal(t, &admin, o.AdministrationID, "the token's administration")

	// Thresholds from the lookup apply: a max age of an hour drops a
	// session that ended an hour ago... and a minute.
	strict := found
	strict.th = DefaultThresholds
	strict.th.MaxAge = time.Hour
	s.End = now.Add(-61 * time.Minute)
	o, err = Pipeline{Matcher: strict, Lookup: strict, Defaults: DefaultThresholds}.Step(ctx, s, now)
	require.NoError(t, err)
	require.Equal(t, DroppedOut, o.State)
	require.Equal(t, CheckNotTooOld, o.Check)

	missing := table{miss: EVSENotFound}
	s = good()
	o, err = Pipeline{Matcher: missing, Lookup: missing, Schedule: Schedule{time.Minute}}.Step(ctx, s, now)
	require.NoError(t, err)
	require.Equal(t, Matching, o.State)
	require.Equal(t, now.Add(time.Minute), o.RetryAt)

	s.State = ReadyForPricing
	_, err = p.Step(ctx, s, now)
	require.True(t, fault.Is(err, fault.KindConflict), "no step is owed on a finished session")
}

func TestParseSchedule(t *testing.T) {
	s, err := ParseSchedule("1m, 5m,1h")
	require.NoError(t, err)
	require.Equal(t, Schedule{time.Minute, 5 * time.Minute, time.Hour}, s)
	for _, bad := range []string{"1m,soon", "0s", "-1m"} {
		_, err := ParseSchedule(bad)
		require.Error(t, err, bad)
	}
	s, err = ParseSchedule("")
	require.NoError(t, err)
	require.Empty(t, s)
}
