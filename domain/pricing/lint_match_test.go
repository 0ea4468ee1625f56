package pricing

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// TestLintMatcherAgreesWithEngine: lint judges restrictions with its own
// matcher (matches, match.go) at sample moments, while the engine decides
// with the compiled restrictions (compile.go). For every part and
// dimension of a priced session, the element the engine used must be the
// first element with a component of that dimension whose restrictions
// matches accepts at the part (-1: none), so that lint's "never used" and
// "shadowed" warnings speak of the elements the engine really uses.
// Reservation elements are left out: which dimensions they may price is
// the engine's plan, not a restriction.
func TestLintMatcherAgreesWithEngine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tf, s := genWideTariff(t), genWideSession(t)
		for i := range tf.Elements {
			if r := tf.Elements[i].Restrictions; r != nil {
				r.Reservation = NoReservation
			}
		}
		loc := rapid.SampledFrom(wideZones).Draw(t, "zone")
		res, err := Price(tf, s, loc)
		if err != nil {
			return
		}
		for pi := range res.Parts {
			p := &res.Parts[pi]
			for _, l := range p.Lines {
				if l.Reservation || l.Dimension == Flat {
					continue
				}
				want := -1
				for i, e := range tf.Elements {
					if hasDimension(e, l.Dimension) && matches(e.Restrictions, p) {
						want = i
						break
					}
				}
				require.Equal(t, want, l.Element, "part %d (%s, elapsed %s, %s kWh before), dimension %s", pi, p.Local, p.Elapsed,
					p.EnergyBefore, l.Dimension)
			}
		}
	})
}

func hasDimension(e Element, d Dimension) bool {
	for _, c := range e.Components {
		if c.Type == d {
			return true
		}
	}
	return false
}
