package db

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The EVSE digest ignores the timestamps of the EVSE and its connectors
// and nothing else; a "last_updated" inside a string value is content.
func TestEVSEDigest(t *testing.T) {
	a := []byte(`{"uid":"E1","status":"AVAILABLE","connectors":[{"id":"1","last_updated":"2024-01-01T00:00:00Z"}],"last_updated":"2024-01-01T00:00:00Z"}`)
	b := []byte(`{"uid":"E1","status":"AVAILABLE","connectors":[{"id":"1","last_updated":"2025-02-02T10:00:00Z"}],"last_updated":"2025-02-02T10:00:00Z"}`)
	c := []byte(`{"uid":"E1","status":"AVAILABLE","connectors":[{"id":"2","last_updated":"2024-01-01T00:00:00Z"}],"last_updated":"2024-01-01T00:00:00Z"}`)
	require.Equal(t, evseDigest(a), evseDigest(b), "re-stamped only")
	require.NotEqual(t, evseDigest(a), evseDigest(c), "a connector changed")
	require.Len(t, evseDigest(a), 16)
	s1 := []byte(`{"uid":"E1","physical_reference":"x\"last_updated\":\"1\"","last_updated":"2024-01-01T00:00:00Z"}`)
	s2 := []byte(`{"uid":"E1","physical_reference":"x\"last_updated\":\"2\"","last_updated":"2024-01-01T00:00:00Z"}`)
	require.NotEqual(t, evseDigest(s1), evseDigest(s2), "text that looks like a member is content")
}
