package module_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi/module"
	"github.com/roamnode/roamnode/roaming"
)

// fakeCPO is a partner with a Tokens receiver that records every push.
type fakeCPO struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []tokenPush
}

type tokenPush struct {
	Method, Path, Query string
	Body                map[string]any
}

func newFakeCPO(t *testing.T) *fakeCPO {
	f := &fakeCPO{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		f.mu.Lock()
		f.got = append(f.got, tokenPush{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, body})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status_code":1000,"timestamp":"2024-01-01T00:00:00Z"}`))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCPO) pushes() []tokenPush {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]tokenPush(nil), f.got...)
}

// last is the latest push to path (zero when none).
func (f *fakeCPO) last(path string) tokenPush {
	var out tokenPush
	for _, p := range f.pushes() {
		if p.Path == path {
			out = p
		}
	}
	return out
}

// cpoTokenReceiver registers at in a connection to the fake CPO with its
// Tokens receiver.
func (in *instance) cpoTokenReceiver(f *fakeCPO) {
	in.t.Helper()
	now := time.Now().UTC()
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "cpo", Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	eps := []partner.Endpoint{{Identifier: "tokens", Role: "RECEIVER", URL: f.srv.URL + "/ocpi/cpo/2.2.1/tokens"}}
	roles := []partner.CredentialsRole{{Role: partner.RoleCPO, CountryCode: "DE", PartyID: "CPX", Name: "CPO"}}
	c.Registered(partner.NewToken(), "their-token", f.srv.URL+"/versions", "2.2.1", eps, roles, "partner", now)
	require.NoError(in.t, db.SaveConnection(context.Background(), in.db.Pool, c, true))
}

// drainPushes sends every due push group until none is pending.
func drainPushes(t *testing.T, in *instance) {
	t.Helper()
	pusher := roaming.NewPusher(db.PushStore{Pool: in.db.Pool}, roaming.NewClient(roaming.Options{Timeout: 2 * time.Second, MaxRetries: -1}, in.log),
		module.PushRenderers(in.db.Pool), roaming.PushOptions{BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	waitFor(t, func() bool {
		ctx := context.Background()
		refs, err := db.DuePushGroups(ctx, in.db.Pool, 1000)
		require.NoError(t, err)
		for _, r := range refs {
			_, err := pusher.Run(ctx, r)
			require.NoError(t, err)
		}
		gs, err := db.PendingPushes(ctx, in.db.Pool, 1000)
		require.NoError(t, err)
		return len(gs) == 0
	})
}

func TestTokenPushOnWrites(t *testing.T) {
	a := start(t, "NL", "RNE", "EMSP")
	cpo := newFakeCPO(t)
	a.cpoTokenReceiver(cpo)
	f := newMSPFixture(a)
	sub := f.subscription(at(-time.Hour), "")
	tok := f.token("04A1B2C3D4", map[string]any{"type": "RFID"})
	const path = "/ocpi/cpo/2.2.1/tokens/NL/RNE/04A1B2C3D4"
	link := f.link(tok, sub, "", "", nil)
	drainPushes(t, a)
	p := cpo.last(path)
	require.Equal(t, "PUT", p.Method, "%+v", cpo.pushes())
	require.Equal(t, "type=RFID", p.Query)
	require.Equal(t, true, p.Body["valid"])
	require.Equal(t, "04A1B2C3D4", p.Body["uid"])
	require.Equal(t, "RFID", p.Body["type"])
	require.Equal(t, "NL", p.Body["country_code"])
	require.Equal(t, "RNE", p.Body["party_id"])

	// A write outside the OCPI representation pushes nothing.
	n := len(cpo.pushes())
	a.admin(200, "POST", "/main/v1/msp-token/"+tok, map[string]any{"brand": "Demo"})
	drainPushes(t, a)
	require.Len(t, cpo.pushes(), n)
	// A visual number is part of it.
	a.admin(200, "POST", "/main/v1/msp-token/"+tok, map[string]any{"visual_number": "DEMO-1"})
	drainPushes(t, a)
	require.Equal(t, "DEMO-1", cpo.last(path).Body["visual_number"])

	// Blocking the token (its link defunct) reaches the CPO as valid=false.
	a.admin(200, "POST", "/main/v1/msp-token-link/"+link, map[string]any{"defunct": true})
	drainPushes(t, a)
	require.Equal(t, false, cpo.last(path).Body["valid"])

	// A defunct subscription pushes every token linked to it.
	sub2 := f.subscription(at(-time.Hour), "")
	t2 := f.token("APP-USER-1", map[string]any{"type": "APP_USER"})
	t3 := f.token("APP-USER-2", map[string]any{"type": "APP_USER"})
	f.link(t2, sub2, "", "", nil)
	f.link(t3, sub2, "", "", nil)
	drainPushes(t, a)
	for _, uid := range []string{"APP-USER-1", "APP-USER-2"} {
		require.Equal(t, true, cpo.last("/ocpi/cpo/2.2.1/tokens/NL/RNE/" + uid).Body["valid"], uid)
	}
	a.admin(200, "POST", "/main/v1/msp-token-subscription/"+sub2, map[string]any{"defunct": true})
	drainPushes(t, a)
	for _, uid := range []string{"APP-USER-1", "APP-USER-2"} {
		p := cpo.last("/ocpi/cpo/2.2.1/tokens/NL/RNE/" + uid)
		require.Equal(t, false, p.Body["valid"], uid)
		require.Equal(t, "type=APP_USER", p.Query)
	}
}

func TestTokenPushObjectEscapesUID(t *testing.T) {
	obj := db.TokenPushObject("NL", "RNE", "A/B?C%D", "RFID")
	require.Equal(t, "NL/RNE/A%2FB%3FC%25D?type=RFID", obj)
	cc, pid, uid, typ, err := db.ParseTokenPushObject(obj)
	require.NoError(t, err)
	require.Equal(t, []string{"NL", "RNE", "A/B?C%D", "RFID"}, []string{cc, pid, uid, typ})
	for _, bad := range []string{"NL/RNE/X", "NL/RNE?type=RFID", "NL/RNE/X/Y?type=RFID", "NL/RNE/%zz?type=RFID"} {
		_, _, _, _, err := db.ParseTokenPushObject(bad)
		require.Error(t, err, bad)
	}
}

func TestTokenPushWhenBoundaryPasses(t *testing.T) {
	a := start(t, "NL", "RNE", "EMSP")
	cpo := newFakeCPO(t)
	a.cpoTokenReceiver(cpo)
	f := newMSPFixture(a)
	ctx := context.Background()
	boundaries := func(batch int32) (int, bool) {
		_, n, done, err := db.PushPassedTokenBoundaries(ctx, a.db.Pool, time.Now(), batch)
		require.NoError(t, err)
		return n, done
	}
	// The first run only sets the watermark.
	n, done := boundaries(10)
	require.Zero(t, n)
	require.True(t, done)

	// Two tokens whose links ended at the current minute (just passed), and
	// one whose link ends in an hour. Their creation pushes them.
	sub := f.subscription(at(-2*time.Hour), "")
	ended := at(0)
	for _, uid := range []string{"ENDS-A", "ENDS-B"} {
		f.link(f.token(uid, map[string]any{"type": "RFID"}), sub, at(-time.Hour), ended, nil)
	}
	f.link(f.token("LATER", map[string]any{"type": "RFID"}), sub, "", at(time.Hour), nil)
	drainPushes(t, a)
	pushed := len(cpo.pushes())

	// The last run was before the boundary: the next run pushes both
	// tokens (with batch 1 both still: they share the boundary instant),
	// and nothing more after that.
	_, err := a.db.Pool.Exec(ctx, "UPDATE msp_token_push_watermark SET passed_until = $1", time.Now().Truncate(time.Minute).Add(-5*time.Minute))
	require.NoError(t, err)
	n, done = boundaries(1)
	require.Equal(t, 2, n)
	require.False(t, done)
	n, done = boundaries(1)
	require.Zero(t, n)
	require.True(t, done)
	drainPushes(t, a)
	got := cpo.pushes()[pushed:]
	require.Len(t, got, 2)
	for _, p := range got {
		require.Equal(t, false, p.Body["valid"], p.Path)
		require.Contains(t, []string{"/ocpi/cpo/2.2.1/tokens/NL/RNE/ENDS-A", "/ocpi/cpo/2.2.1/tokens/NL/RNE/ENDS-B"}, p.Path)
	}
}
