package module_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/ocpi/module"
	"github.com/roamnode/roamnode/roaming"
	"github.com/roamnode/roamnode/worker"
)

// TestPulledCDRsMeetPushedOnes: a pulled CDR that is malformed is kept as
// an invalid charge session (a pull cannot refuse it); the partner then
// pushes the corrected CDR to our CDRs receiver, which resolves the
// invalid one. A valid pulled CDR pushed afterwards is the same charge
// session (intake is idempotent on party and CDR id across channels), and
// so is a pulled Session pushed again.
func TestPulledCDRsMeetPushedOnes(t *testing.T) {
	ctx := context.Background()
	a := start(t, "NL", "EMS", "EMSP")
	token := partner.NewToken()
	fixed := cdr("PP-1", nil)
	broken := cdr("PP-1", func(m map[string]any) { m["total_energy"] = "a lot" })
	valid := cdr("PP-2", nil)
	sess := readExample(t, "session_example_2_short_finished.json")
	sess["id"] = "PS-1"
	partnerCPO := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data := []json.RawMessage{broken, valid}
		if r.URL.Path == "/sessions" {
			b, _ := json.Marshal(sess)
			data = []json.RawMessage{b}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": data, "status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"})
	}))
	t.Cleanup(partnerCPO.Close)
	now := time.Now().UTC()
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "cpo", Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	c.Registered(token, "their-token", partnerCPO.URL+"/versions", "2.2.1", []partner.Endpoint{
		{Identifier: "cdrs", Role: "SENDER", URL: partnerCPO.URL + "/cdrs"},
		{Identifier: "sessions", Role: "SENDER", URL: partnerCPO.URL + "/sessions"}}, nil, "partner", now)
	require.NoError(t, db.SaveConnection(ctx, a.db.Pool, c, true))
	require.NoError(t, db.RoamingStore{Pool: a.db.Pool}.InTx(ctx, func(tx roaming.Tx) error {
		return tx.LinkParties(ctx, c.ID, []partner.CredentialsRole{{Role: partner.RoleCPO, CountryCode: "BE", PartyID: "BEC", Name: "BEC"}})
	}))

	opt, err := redis.ParseURL(dbtest.RedisURL())
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	p := worker.NewSessionPuller(worker.Deps{Pool: a.db.Pool, Redis: rdb, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		worker.SessionPullOptions{}, module.CheckPulledCDR)
	p.Queue = nil // the test's sessions stay out of the shared Redis
	res, err := p.Pull(ctx, c.ID, roaming.ModuleCDRs)
	require.NoError(t, err)
	require.Equal(t, 1, res.Applied)
	require.Equal(t, 1, res.Rejected)
	res, err = p.Pull(ctx, c.ID, roaming.ModuleSessions)
	require.NoError(t, err)
	require.Equal(t, 1, res.Applied)

	var invID uuid.UUID
	var channel, problems string
	require.NoError(t, a.db.Pool.QueryRow(ctx, `SELECT id, channel, problems::text FROM invalid_charge_session
		WHERE cdr_key = 'PP-1' AND resolved_at IS NULL`).Scan(&invID, &channel, &problems))
	require.Equal(t, db.ChannelOCPIPull, channel)
	require.Contains(t, problems, "total_energy")

	// The corrected CDR pushed to our receiver resolves the invalid one.
	st, loc, env := a.postCDR(token, fixed)
	require.Equal(t, 201, st, "%v", env)
	var resolvedBy *uuid.UUID
	require.NoError(t, a.db.Pool.QueryRow(ctx, "SELECT resolved_by_session_id FROM invalid_charge_session WHERE id = $1", invID).Scan(&resolvedBy))
	require.NotNil(t, resolvedBy, "a later valid submission resolves the invalid pulled one")
	require.Equal(t, sessionIDOf(t, loc), *resolvedBy)

	// The pulled valid CDR pushed again: the same session, nothing new.
	st, loc2, env := a.postCDR(token, valid)
	require.Equal(t, 201, st, "%v", env)
	var pulledID uuid.UUID
	require.NoError(t, a.db.Pool.QueryRow(ctx, "SELECT id FROM charge_session WHERE cdr_key = 'PP-2'").Scan(&pulledID))
	require.Equal(t, pulledID, sessionIDOf(t, loc2))
	var n int
	require.NoError(t, a.db.Pool.QueryRow(ctx, "SELECT count(*) FROM charge_session").Scan(&n))
	require.Equal(t, 2, n)

	// The pulled Session is the one the receiver holds: a push of the same
	// report is no change (200), and a GET returns it.
	st, env = a.ocpi(token, true, "PUT", sessionURL("BE", "BEC", "PS-1"), sess)
	require.Equal(t, 200, st, "%v", env)
	_, env = a.ocpi(token, true, "GET", sessionURL("BE", "BEC", "PS-1"), nil)
	sameJSON(t, sess, env["data"])
	require.NoError(t, a.db.Pool.QueryRow(ctx, "SELECT count(*) FROM outbox_event WHERE kind = 'msp-charge-session-progress'").Scan(&n))
	require.Equal(t, 1, n)
	var ch string
	require.NoError(t, a.db.Pool.QueryRow(ctx, "SELECT channel FROM partner_session WHERE session_key = 'PS-1'").Scan(&ch))
	require.Equal(t, db.ChannelOCPIPull, ch)
}

// postCDR posts a raw CDR to our CDRs receiver.
func (in *instance) postCDR(token string, body []byte) (int, string, map[string]any) {
	in.t.Helper()
	req, _ := http.NewRequest("POST", in.base+"/ocpi/2.2.1/emsp/cdrs", bytes.NewReader(body))
	req.Header.Set("Authorization", ocpi.EncodeToken(token, true))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(in.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(in.t, err)
	var env map[string]any
	require.NoError(in.t, json.Unmarshal(raw, &env))
	return res.StatusCode, res.Header.Get("Location"), env
}
