package node

import (
	"strconv"
	"testing"
)

// The cached series against resolving the labels on every request.
func BenchmarkObserve(b *testing.B) {
	registry()
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			observer("POST", "/ocpi/2.2.1/emsp/tokens/:token_uid/authorize", 200).Observe(0.001)
		}
	})
	b.Run("labels", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			requests.WithLabelValues("POST", "/ocpi/2.2.1/emsp/tokens/:token_uid/authorize", strconv.Itoa(200)).Observe(0.001)
		}
	})
}
