package network

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEVSEIDKey(t *testing.T) {
	for in, want := range map[string]string{
		"NL*TNM*E0001": "NLTNME0001", "nl-tnm-e0001": "NLTNME0001", "NLTNME0001": "NLTNME0001", " NL TNM E 0001 ": "NLTNME0001",
		"BE*BEC*E041503001": "BEBECE041503001", "": "", "***": "", "é1": "1",
	} {
		require.Equal(t, want, EVSEIDKey(in), in)
	}
}

func TestAcceptsAndLater(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	require.True(t, Accepts(t0, t0.Add(time.Second)), "newer applies")
	require.True(t, Accepts(t0, t0), "the same version again applies (idempotent re-send)")
	require.False(t, Accepts(t0, t0.Add(-time.Second)), "older never overwrites newer")
	require.Equal(t, t0.Add(time.Hour), Later(t0, t0.Add(time.Hour)))
	require.Equal(t, t0, Later(t0, t0.Add(-time.Hour)), "a parent's last_updated never moves back")
}

func TestPlanRun(t *testing.T) {
	start := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	from := start.Add(-time.Hour)
	next := "https://cpo.example.com/locations?offset=100"
	cases := []struct {
		name string
		in   SyncState
		want Plan
	}{
		{"never synced: full", SyncState{}, Plan{Mode: ModeFull}},
		{"after a success: incremental from its start minus the margin", SyncState{LastSuccessStartedAt: &start},
			Plan{Mode: ModeIncremental, DateFrom: ptr(start.Add(-5 * time.Minute))}},
		{"unfinished run: resumed as it was", SyncState{NextURL: &next, Mode: ModeIncremental, DateFrom: &from, LastSuccessStartedAt: &start},
			Plan{Resume: true, Mode: ModeIncremental, DateFrom: &from}},
		{"full requested: not resumed", SyncState{NextURL: &next, Mode: ModeIncremental, DateFrom: &from, RequestedFull: true, LastSuccessStartedAt: &start},
			Plan{Mode: ModeFull}},
		{"cursor without a mode (never started): new run", SyncState{NextURL: &next}, Plan{Mode: ModeFull}},
	}
	for _, c := range cases {
		require.Equal(t, c.want, PlanRun(c.in, 5*time.Minute), c.name)
	}
}

func ptr[T any](v T) *T { return &v }

// TestBoundingBoxContainsCircle: every point within the radius is inside
// the box (the prefilter never loses a match), near the poles and across
// the antimeridian included.
func TestBoundingBoxContainsCircle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		lat, lng := r.Float64()*180-90, r.Float64()*360-180
		radius := math.Pow(10, 1+r.Float64()*5.5) // 10 m … 3000 km
		b := BoundingBox(lat, lng, radius)
		// A random point at a random bearing and distance ≤ radius.
		d := radius * math.Sqrt(r.Float64()) / EarthRadiusM
		brg := r.Float64() * 2 * math.Pi
		φ1, λ1 := lat*math.Pi/180, lng*math.Pi/180
		φ2 := math.Asin(math.Sin(φ1)*math.Cos(d) + math.Cos(φ1)*math.Sin(d)*math.Cos(brg))
		λ2 := λ1 + math.Atan2(math.Sin(brg)*math.Sin(d)*math.Cos(φ1), math.Cos(d)-math.Sin(φ1)*math.Sin(φ2))
		plat, plng := φ2*180/math.Pi, math.Mod(λ2*180/math.Pi+540, 360)-180
		if Distance(lat, lng, plat, plng) > radius {
			continue // rounding at the edge
		}
		require.True(t, b.Contains(plat, plng), "centre (%f,%f) r=%f point (%f,%f) box %+v", lat, lng, radius, plat, plng, b)
	}
}

func TestDistance(t *testing.T) {
	// One degree of latitude on the mean sphere.
	require.InDelta(t, 111195, Distance(0, 0, 1, 0), 1)
	require.InDelta(t, 0, Distance(52, 5, 52, 5), 1e-9)
	// Across the antimeridian the short way round.
	require.InDelta(t, Distance(0, 179.5, 0, -179.5), Distance(0, 0, 0, 1), 1e-6)
}
