package webhook_test

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/webhook"
)

func TestSignAndVerify(t *testing.T) {
	body := []byte(`{"id":"x"}`)
	now := time.Unix(1_700_000_000, 0)
	sig := webhook.SignatureHeader([]string{"s3cret"}, now.Unix(), body)
	ts := strconv.FormatInt(now.Unix(), 10)
	require.True(t, webhook.Verify("s3cret", ts, sig, body, now, 5*time.Minute))
	require.False(t, webhook.Verify("other", ts, sig, body, now, 5*time.Minute), "another secret: forged")
	require.False(t, webhook.Verify("s3cret", ts, sig, []byte(`{"id":"y"}`), now, 5*time.Minute), "changed body")
	require.False(t, webhook.Verify("s3cret", strconv.FormatInt(now.Unix()+1, 10), sig, body, now, 5*time.Minute), "changed timestamp")
	require.False(t, webhook.Verify("s3cret", ts, sig, body, now.Add(10*time.Minute), 5*time.Minute), "replayed later")
	require.False(t, webhook.Verify("s3cret", "nope", sig, body, now, 5*time.Minute))
	// Rotation overlap: both secrets sign; a receiver with either accepts.
	two := webhook.SignatureHeader([]string{"new", "old"}, now.Unix(), body)
	require.True(t, webhook.Verify("old", ts, two, body, now, time.Minute))
	require.True(t, webhook.Verify("new", ts, two, body, now, time.Minute))
}

func TestSecretsDuringOverlap(t *testing.T) {
	old := "old"
	until := time.Now().Add(time.Hour)
	s := webhook.Subscription{Secret: "new", PreviousSecret: &old, PreviousSecretExpiresAt: &until}
	require.Equal(t, []string{"new", "old"}, s.Secrets(time.Now()))
	require.Equal(t, []string{"new"}, s.Secrets(until.Add(time.Second)))
}

func TestPublicAddr(t *testing.T) {
	for _, a := range []string{"127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "fe80::1",
		"fc00::1", "0.0.0.0", "::", "100.64.0.1", "224.0.0.1", "::ffff:127.0.0.1", "::ffff:10.0.0.1"} {
		require.False(t, webhook.PublicAddr(netip.MustParseAddr(a)), a)
	}
	for _, a := range []string{"93.184.216.34", "2606:2800:220:1::1", "8.8.8.8"} {
		require.True(t, webhook.PublicAddr(netip.MustParseAddr(a)), a)
	}
}

func TestValidate(t *testing.T) {
	ok := webhook.Subscription{URL: "https://example.com/hook", Kinds: []string{"customer", "billing-address.delete"},
		Headers: map[string]string{"X-Api-Key": "k", "Authorization": "Bearer x"}, BatchSize: 1, State: webhook.Active}
	require.NoError(t, ok.Validate())
	bad := webhook.Subscription{URL: "ftp://u:p@example.com", Kinds: []string{"Customer", "customer.remove"},
		Headers:   map[string]string{"X-RN-Webhook-Signature": "forged", "Content-Type": "text/plain", "Bad Name": "x", "X-Multi": "a\r\nb"},
		BatchSize: 0, BatchLingerMs: -1, State: "gone"}
	f, isFault := fault.As(bad.Validate())
	require.True(t, isFault)
	var paths []string
	for _, x := range f.Fields {
		paths = append(paths, x.Path)
	}
	require.ElementsMatch(t, []string{"url", "kinds[0]", "kinds[1]", "headers.X-RN-Webhook-Signature", "headers.Content-Type",
		"headers.Bad Name", "headers.X-Multi", "batch_size", "batch_linger_ms", "state"}, paths)
	require.Contains(t, webhook.CheckURL("https://u@example.com/"), "user information")
	require.Contains(t, webhook.CheckURL("https://example.com/#x"), "fragment")
}

func TestMatchesAndScope(t *testing.T) {
	s := webhook.Subscription{Kinds: []string{"customer", "billing-address.delete"}}
	require.True(t, s.Matches("customer", "update"))
	require.True(t, s.Matches("billing-address", "delete"))
	require.False(t, s.Matches("billing-address", "create"))
	require.True(t, webhook.Subscription{}.Matches("anything", "create"), "no kinds = everything")

	adm, other := uuid.New(), uuid.New()
	acct := access.Account{Permissions: []string{"customer:read"}, AdministrationIDs: []uuid.UUID{adm}}
	require.True(t, webhook.MaySee(acct, "customer", &adm))
	require.True(t, webhook.MaySee(acct, "billing-address", &adm), "billing addresses are in the customer family")
	require.False(t, webhook.MaySee(acct, "customer", &other), "another administration")
	require.False(t, webhook.MaySee(acct, "roaming-partner", nil), "no roaming permission")
	require.False(t, webhook.MaySee(acct, "future-kind", nil), "unknown kinds fail closed")
	require.True(t, webhook.MaySee(access.Account{Permissions: []string{"*"}, AllAdministrations: true}, "future-kind", &other))
	acct.Disabled = true
	require.False(t, webhook.MaySee(acct, "customer", &adm))
}

func TestBackoff(t *testing.T) {
	for n := 1; n <= 30; n++ {
		d := webhook.Backoff(n, time.Second, time.Minute)
		full := time.Second << min(n-1, 20)
		if full > time.Minute {
			full = time.Minute
		}
		require.GreaterOrEqual(t, d, full/2, "attempt %d", n)
		require.LessOrEqual(t, d, full, "attempt %d", n)
	}
}

func TestBody(t *testing.T) {
	id := uuid.Must(uuid.NewV7())
	at := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	m := webhook.Message{ID: id, OccurredAt: at, ModificationKind: "delete", Kind: "customer", Data: []byte(`{"id":"c1","external_reference":null}`)}
	one, err := webhook.Body([]webhook.Message{m}, false)
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"`+id.String()+`","occurred_at":"2024-01-02T02:04:05.123Z","modification_kind":"delete","kind":"customer",
		"data":{"id":"c1","external_reference":null}}`, string(one))
	arr, err := webhook.Body([]webhook.Message{m}, true)
	require.NoError(t, err)
	require.Equal(t, byte('['), arr[0], "a batched subscription always gets an array")
}

// Every event kind maps to a permission family that exists, so a typo can
// not silently hide a kind from everyone but "*" owners.
func TestKindFamiliesExist(t *testing.T) {
	for _, kind := range []string{"billing-address", "msp-token", "cpo-evse", "msp-charge-session", "partner-evse-location", "webhook-subscription"} {
		require.Contains(t, access.Families, webhook.Family(kind), "kind %s", kind)
	}
	owner := access.Account{Permissions: []string{"token:read"}, AllAdministrations: true}
	require.True(t, webhook.MaySee(owner, "msp-token-link", nil), "token readers receive token events")
	require.False(t, webhook.MaySee(owner, "cpo-evse", nil))
}

func TestOwnerVisible(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	all := access.Account{AllAdministrations: true}
	onlyA := access.Account{AdministrationIDs: []uuid.UUID{a}}
	both := access.Account{AdministrationIDs: []uuid.UUID{a, b}}
	none := access.Account{}
	require.True(t, webhook.OwnerVisible(all, all))
	require.True(t, webhook.OwnerVisible(all, onlyA))
	require.False(t, webhook.OwnerVisible(both, all), "an owner of every administration is seen only by accounts of every administration")
	require.True(t, webhook.OwnerVisible(both, onlyA))
	require.False(t, webhook.OwnerVisible(onlyA, both), "the owner sees an administration the viewer does not")
	require.True(t, webhook.OwnerVisible(onlyA, onlyA))
	require.True(t, webhook.OwnerVisible(onlyA, none), "an owner of no administration sees only global events")
}
