package module

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/ocpi"
)

// The fast decoding of an authorization's LocationReferences accepts and
// refuses exactly what ocpi.Decode does, with the same result and error.
func TestDecodeLocationReferencesMatchesDecode(t *testing.T) {
	long := `"0123456789012345678901234567890123456"` // 37 characters
	for _, body := range []string{
		`{"location_id":"LOC1"}`,
		`{"location_id":"LOC1","evse_uids":["E1","E2"]}`,
		`{"location_id":"LOC1","evse_uids":[]}`,
		`{"location_id":"LOC1","evse_uids":null}`,
		`{"LOCATION_ID":"LOC1","extra":1}`,
		`{}`,
		`{"location_id":""}`,
		`{"location_id":` + long + `}`,
		`{"location_id":"LOC1","evse_uids":[""]}`,
		`{"location_id":"LOC1","evse_uids":[` + long + `]}`,
		`{"location_id":"LÖC"}`,
		`{"location_id":"L\u0001"}`,
		`{"location_id":12}`,
		`{"location_id":"LOC1","evse_uids":"E1"}`,
		`[]`,
		`{"location_id":`,
		// Edges where JSON decoders are known to differ (the fast path uses
		// goccy/go-json, ocpi.Decode encoding/json).
		` {"location_id":"LOC1"} `,
		`{"location_id":"LOC1"} x`,
		`{"location_id":"LOC1"}{}`,
		`{"location_id":"A","location_id":"B"}`,
		`{"Location_Id":"LOC1","evse_uids":["E1",]}`,
		`{"location_id":"LOC1",}`,
		"{\"location_id\":\"LOC\xff\"}",
		`{"location_id":"LOC\u0041"}`,
		`{"location_id":"LOC1","evse_uids":["E1"],"evse_uids":null}`,
		`null`,
		`"LOC1"`,
	} {
		var fast, slow ocpi.LocationReferences
		ferr := decodeLocationReferences([]byte(body), &fast)
		serr := ocpi.Decode([]byte(body), &slow)
		require.Equal(t, serr, ferr, body)
		if serr == nil {
			require.Equal(t, slow, fast, body)
		}
	}
}

// The fast path against the generic decoder, on the body a CPO sends.
func BenchmarkDecodeLocationReferences(b *testing.B) {
	body := []byte(`{"location_id":"LOC-BENCH-1","evse_uids":["EVSE-1","EVSE-2"]}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var l ocpi.LocationReferences
			if err := decodeLocationReferences(body, &l); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("generic", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var l ocpi.LocationReferences
			if err := ocpi.Decode(body, &l); err != nil {
				b.Fatal(err)
			}
		}
	})
}
