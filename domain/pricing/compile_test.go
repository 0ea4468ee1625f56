package pricing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/fault"
)

// TestCompileErrors: Compile rejects what Price rejects, with the same
// field paths, and Compiled.Price checks the session as Price does.
func TestCompileErrors(t *testing.T) {
	_, err := Compile(Tariff{})
	require.ErrorContains(t, err, "tariff.elements")
	require.True(t, fault.Is(err, fault.KindInvalid), err)
	_, err = Compile(Tariff{Elements: []Element{el(nil, Component{Type: "VOLUME"})}})
	require.ErrorContains(t, err, "tariff.elements[0].price_components[0].type")

	tf := Tariff{ID: "t", Elements: []Element{energy025}}
	ct, err := Compile(tf)
	require.NoError(t, err)
	require.Equal(t, "t", ct.Tariff().ID)
	bad := session("2024-03-01T11:00:00Z", "2024-03-01T10:00:00Z")
	_, err = ct.Price(bad, time.UTC)
	require.ErrorContains(t, err, "session.end")
	_, perr := Price(tf, bad, time.UTC)
	require.Equal(t, perr.Error(), err.Error())
	// nil location means UTC.
	ok := session("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z", period("2024-03-01T10:00:00Z", "ENERGY", "20"))
	r, err := ct.Price(ok, nil)
	require.NoError(t, err)
	requireAmount(t, "total", "5.00", "5.50", r.TotalCost)
	require.Equal(t, time.UTC, r.Parts[0].Local.Location())
}
