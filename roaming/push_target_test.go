package roaming

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// A change addressed to a party names both its country code and party id.
func TestChangeTargetValidation(t *testing.T) {
	ok := Change{Module: "sessions", Group: "g", Object: "BE/BEC/1", Method: PushPut}
	require.NoError(t, ok.Validate(), "a broadcast")
	ok.ToCountry, ok.ToParty = "DE", "TNM"
	require.NoError(t, ok.Validate(), "addressed to DE-TNM")
	half := ok
	half.ToParty = ""
	require.Error(t, half.Validate())
	half = ok
	half.ToCountry = ""
	require.Error(t, half.Validate())
}

// oneGroupStore serves one group of items to the pusher.
type oneGroupStore struct {
	mu       sync.Mutex
	g        PushGroup
	target   Target
	endpoint string
}

func (s *oneGroupStore) Claim(_ context.Context, _ PushRef, _ time.Time) (PushGroup, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.g, len(s.g.Items) > 0, nil
}

func (s *oneGroupStore) Complete(_ context.Context, _ PushRef, sent PushItem, _ time.Time) (PushGroup, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.g.Items = Completed(s.g.Items, sent)
	return s.g, nil
}

func (s *oneGroupStore) Release(context.Context, PushRef, int64, time.Time) (PushGroup, bool, error) {
	return PushGroup{}, true, nil
}
func (s *oneGroupStore) Fail(context.Context, PushRef, time.Time, string) error { return nil }
func (s *oneGroupStore) Receiver(context.Context, uuid.UUID, string) (Target, string, bool, error) {
	return s.target, s.endpoint, true, nil
}
func (s *oneGroupStore) Drop(context.Context, PushRef) error { return nil }

type nopRecorder struct{}

func (nopRecorder) Record(context.Context, Exchange) {}

// An item addressed to a party is sent with OCPI-to headers naming that
// party, whatever the connection's own receiver party (a hub's, say); a
// broadcast item keeps the connection's.
func TestPushAddressedItemRoutingHeaders(t *testing.T) {
	var mu sync.Mutex
	var to []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		to = append(to, r.URL.Path+" "+r.Header.Get("OCPI-to-country-code")+"-"+r.Header.Get("OCPI-to-party-id"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status_code":1000,"timestamp":"2024-01-01T00:00:00Z"}`))
	}))
	defer srv.Close()
	st := &oneGroupStore{target: Target{Token: "t", ToCountry: "NL", ToParty: "HUB"}, endpoint: srv.URL, g: PushGroup{
		PushRef: PushRef{Module: "sessions", Group: "g"}, FromCountry: "BE", FromParty: "BEC",
		Items: []PushItem{{Object: "BE/BEC/S1", Method: PushPut, V: 1, ToCountry: "FR", ToParty: "HBC"}, {Object: "BE/BEC/S2", Method: PushPut, V: 2}}}}
	render := func(_ context.Context, it PushItem, _, _ string) (Request, error) {
		return Request{Method: it.Method, Path: it.Object, Body: map[string]any{}}, nil
	}
	p := NewPusher(st, NewClient(Options{MaxRetries: -1}, nopRecorder{}), map[string]Renderer{"sessions": render}, PushOptions{})
	_, err := p.Run(context.Background(), st.g.PushRef)
	require.NoError(t, err)
	require.Equal(t, []string{"/BE/BEC/S1 FR-HBC", "/BE/BEC/S2 NL-HUB"}, to)
}
