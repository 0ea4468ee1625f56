package token

import (
	"testing"
	"time"
)

func TestIssuedStateLastUpdated(t *testing.T) {
	tokenUpdated := ts(t, "2024-01-01T10:00:00Z")
	l := link(t, 1, "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z")
	l.UpdatedAt = ts(t, "2024-01-15T00:00:00Z")
	l.Subscription.UpdatedAt = ts(t, "2024-01-10T00:00:00Z")
	l.Subscription.Period = period(t, "2024-01-20T00:00:00Z", "2024-02-20T00:00:00Z")
	tok := Issued{Type: TypeRFID, UpdatedAt: tokenUpdated, Links: []Link{l}}

	tests := []struct {
		at, want string
		reason   Reason
	}{
		{"2024-01-16T00:00:00Z", "2024-01-15T00:00:00Z", ReasonLinkNotYetValid},     // the link's write
		{"2024-01-25T00:00:00Z", "2024-01-20T00:00:00Z", ReasonLinkNotYetValid},     // the subscription started
		{"2024-02-01T00:00:00Z", "2024-02-01T00:00:00Z", ReasonValid},               // the link started: valid flips, last_updated moves
		{"2024-02-20T00:00:00Z", "2024-02-20T00:00:00Z", ReasonSubscriptionExpired}, // the subscription ended
		{"2024-03-05T00:00:00Z", "2024-03-01T00:00:00Z", ReasonLinkExpired},         // the link ended
	}
	for _, tc := range tests {
		st := tok.State(ts(t, tc.at))
		must.Equal(t, tc.want, st.LastUpdated.Format(time.RFC3339), tc.at)
		must.Equal(t, tc.reason, st.Reason, tc.at)
	}
	// Defunct records: their bounds do not count, their writes do.
	d := l
	d.Defunct = true
	d.UpdatedAt = ts(t, "2024-01-16T00:00:00Z")
	st := Issued{UpdatedAt: tokenUpdated, Links: []Link{d}}.State(ts(t, "2024-03-05T00:00:00Z"))
	must.Equal(t, "2024-01-16T00:00:00Z", st.LastUpdated.Format(time.RFC3339))
	must.Equal(t, ReasonLinkDefunct, st.Reason)
	ds := l
	ds.Subscription.Defunct = true
	st = Issued{UpdatedAt: tokenUpdated, Links: []Link{ds}}.State(ts(t, "2024-02-25T00:00:00Z"))
	must.Equal(t, "2024-02-01T00:00:00Z", st.LastUpdated.Format(time.RFC3339), "the link's bound counts, the defunct subscription's do not")
	// No links: the token's own write.
	must.Equal(t, tokenUpdated, Issued{UpdatedAt: tokenUpdated}.State(ts(t, "2030-01-01T00:00:00Z")).LastUpdated)
}

func TestIssuedConfig(t *testing.T) {
	must.Equal(t, WhitelistNever, Issued{Type: TypeAppUser}.Config().OCPIWhitelist())
	must.Equal(t, WhitelistAlways, Issued{Type: TypeAppUser, Whitelist: WhitelistAlways}.Config().OCPIWhitelist())
}
