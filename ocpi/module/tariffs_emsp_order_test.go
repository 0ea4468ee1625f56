package module_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/network"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/roaming"
)

// tariffSender is a partner CPO's Tariffs sender serving one page with
// the tariffs set last.
type tariffSender struct {
	srv *httptest.Server
	mu  sync.Mutex
	out []map[string]any
}

func newTariffSender(t *testing.T) *tariffSender {
	s := &tariffSender{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		page := append([]map[string]any{}, s.out...)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Total-Count", "1")
		w.Header().Set("X-Limit", "10")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": page, "status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"})
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *tariffSender) serve(ts ...map[string]any) {
	s.mu.Lock()
	s.out = ts
	s.mu.Unlock()
}

// tariffPartner registers a CPO partner owning DE-ALL that pushes with
// token and offers its Tariffs sender for pull synchronisation.
func (in *instance) tariffPartner(token string, s *tariffSender) uuid.UUID {
	in.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "cpo", Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	c.Registered(token, "their-token", s.srv.URL+"/ocpi/versions", "2.2.1",
		[]partner.Endpoint{{Identifier: "tariffs", Role: "SENDER", URL: s.srv.URL + "/ocpi/2.2.1/tariffs"}}, nil, "partner", now)
	require.NoError(in.t, db.SaveConnection(ctx, in.db.Pool, c, true))
	require.NoError(in.t, db.RoamingStore{Pool: in.db.Pool}.InTx(ctx, func(tx roaming.Tx) error {
		return tx.LinkParties(ctx, c.ID, []partner.CredentialsRole{{Role: partner.RoleCPO, CountryCode: "DE", PartyID: "ALL", Name: "CPO DE-ALL"}})
	}))
	return c.ID
}

// TestEMSPTariffOrdering: a Tariff older than the stored one (by
// last_updated) is answered with success and not applied, whether it comes
// as a PUT to our Tariffs receiver or in a pulled page; the newer one stays
// visible through the receiver's GET and the Admin API (partner-tariff).
func TestEMSPTariffOrdering(t *testing.T) {
	a := start(t, "NL", "EMS", "EMSP")
	token := partner.NewToken()
	sender := newTariffSender(t)
	conn := a.tariffPartner(token, sender)
	const u = "/ocpi/2.2.1/emsp/tariffs/DE/ALL/12"
	version := func(text, lu string) map[string]any {
		tr := readExample(t, "tariff_2_alt_text.json")
		tr["tariff_alt_text"] = []any{map[string]any{"language": "en", "text": text}}
		tr["last_updated"] = lu
		return tr
	}
	// seen is the tariff as the receiver's GET and the Admin API give it:
	// both must agree.
	seen := func() (string, string) {
		t.Helper()
		st, env := a.ocpi(token, true, "GET", u, nil)
		require.Equal(t, 200, st)
		d := env["data"].(map[string]any)
		text := d["tariff_alt_text"].([]any)[0].(map[string]any)["text"].(string)
		items := a.admin(200, "GET", "/main/v1/partner-tariff?party=DE-ALL&tariff_id=12", nil)["items"].([]any)
		require.Len(t, items, 1)
		one := a.admin(200, "GET", "/main/v1/partner-tariff/"+items[0].(map[string]any)["id"].(string), nil)
		at := one["tariff"].(map[string]any)
		require.Equal(t, text, at["tariff_alt_text"].([]any)[0].(map[string]any)["text"], "the Admin API shows what the receiver stores")
		lu, err := time.Parse(time.RFC3339, one["last_updated"].(string))
		require.NoError(t, err)
		require.Equal(t, d["last_updated"], lu.UTC().Format(time.RFC3339))
		require.Equal(t, d["last_updated"], at["last_updated"])
		return text, d["last_updated"].(string)
	}
	put := func(tr map[string]any) (int, map[string]any) {
		t.Helper()
		st, env := a.ocpi(token, true, "PUT", u, tr)
		require.Equal(t, float64(1000), env["status_code"], "%v", env)
		return st, env
	}
	notApplied := func(env map[string]any) {
		t.Helper()
		msg, _ := env["status_message"].(string)
		require.Contains(t, msg, "not applied", "an older tariff must not replace the stored one")
	}

	// The newer one first, then an older one: 1000 with a message, the
	// stored tariff unchanged.
	st, _ := put(version("newer", "2024-01-02T00:00:00Z"))
	require.Equal(t, 201, st)
	st, env := put(version("older", "2024-01-01T00:00:00Z"))
	require.Equal(t, 200, st)
	notApplied(env)
	require.Contains(t, env["status_message"], "2024-01-02T00:00:00Z")
	text, lu := seen()
	require.Equal(t, "newer", text)
	require.Equal(t, "2024-01-02T00:00:00Z", lu)
	// One second older is older too.
	_, env = put(version("a second older", "2024-01-01T23:59:59Z"))
	notApplied(env)
	text, _ = seen()
	require.Equal(t, "newer", text)
	// The same instant is applied (a re-send is harmless), a later one too.
	_, env = put(version("same instant", "2024-01-02T00:00:00Z"))
	require.Empty(t, env["status_message"])
	text, _ = seen()
	require.Equal(t, "same instant", text)
	_, env = put(version("newest", "2024-01-03T00:00:00Z"))
	require.Empty(t, env["status_message"])
	text, lu = seen()
	require.Equal(t, "newest", text)
	require.Equal(t, "2024-01-03T00:00:00Z", lu)

	// Pull sync: a page with an older version of it (a snapshot taken
	// before the push) is received and not applied.
	syncer := &roaming.Syncer{Store: db.SyncStore{Pool: a.db.Pool},
		Client: roaming.NewClient(roaming.Options{MaxRetries: -1, Timeout: 5 * time.Second}, nil), Log: testLog()}
	sender.serve(version("pulled older", "2024-01-02T12:00:00Z"))
	res, err := syncer.Sync(context.Background(), conn, network.ModuleTariffs)
	require.NoError(t, err)
	require.Equal(t, 1, res.Objects)
	require.Zero(t, res.Applied)
	require.Zero(t, res.Rejected)
	text, lu = seen()
	require.Equal(t, "newest", text)
	require.Equal(t, "2024-01-03T00:00:00Z", lu)
	// A newer pulled version is applied, and then an older push is not.
	sender.serve(version("pulled newer", "2024-02-01T00:00:00Z"))
	res, err = syncer.Sync(context.Background(), conn, network.ModuleTariffs)
	require.NoError(t, err)
	require.Equal(t, 1, res.Applied)
	text, lu = seen()
	require.Equal(t, "pulled newer", text)
	require.Equal(t, "2024-02-01T00:00:00Z", lu)
	_, env = put(version("pushed older", "2024-01-31T00:00:00Z"))
	notApplied(env)
	text, _ = seen()
	require.Equal(t, "pulled newer", text)
}
