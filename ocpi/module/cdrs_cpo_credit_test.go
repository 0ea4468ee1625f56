package module_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/domain/roamingcost"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/worker"
)

// A CPO session repriced after its CDR was published corrects the eMSP
// only when the roaming cost changed (mod_cdrs → Credit CDRs): an
// unchanged cost sends nothing; a changed one sends a credit CDR of the
// published CDR (new id, credit, credit_reference_id, every cost negated)
// and then a replacement CDR (new id, the new cost), in that order, to the
// token's eMSP; the CDRs sender lists all three; a second change credits
// the replacement.
func TestCPORepriceSendsCreditAndReplacementCDR(t *testing.T) {
	n := startCPONode(t, "BE", "BEC")
	n.ourLocation()
	ra := newReceiver(t)
	ta := partner.NewToken()
	n.partnerConn(ta, partner.PeerToPeer, ra, []string{"sessions", "cdrs"}, partner.CredentialsRole{Role: partner.RoleEMSP, CountryCode: "DE", PartyID: "TNM", Name: "A"})
	n.agreement("DE", "TNM")
	ctx := context.Background()

	n.admin(201, "POST", "/main/v1/cpo-charge-session", recentCDRSession(t, "SC-1", "DE", "TNM"))
	const cdrs = "/ocpi/emsp/2.2.1/cdrs"
	// posted are the CDRs POSTed to A, each once, in order of first
	// arrival (a resend after a lost answer repeats a CDR).
	posted := func() []received {
		var out []received
		seen := map[any]bool{}
		for _, r := range ra.to("POST", cdrs) {
			if !seen[r.Body["id"]] {
				seen[r.Body["id"]] = true
				out = append(out, r)
			}
		}
		return out
	}
	eventually(t, "the CDR POST", func() bool { return len(posted()) == 1 })
	first := posted()[0].Body
	require.Equal(t, map[string]any{"excl_vat": float64(4), "incl_vat": 4.4}, first["total_cost"])
	var csID uuid.UUID
	require.NoError(t, n.db.Pool.QueryRow(ctx, `SELECT charge_session_id FROM cpo_session WHERE session_id = 'SC-1'`).Scan(&csID))

	proc := worker.NewSessionProcessor(worker.Deps{Pool: n.db.Pool, Redis: n.rdb, Log: testLog()}, worker.SessionOptions{
		Pricers: map[session.Side][]session.Pricer{session.CPO: {roamingcost.Pricer{Loader: db.RoamingCostLoader{Pool: n.db.Pool}}}}})
	corrections := func() int {
		var c int
		require.NoError(t, n.db.Pool.QueryRow(ctx, `SELECT count(*) FROM cpo_cdr_correction WHERE charge_session_id = $1`, csID).Scan(&c))
		return c
	}
	roamingVersions := func() int {
		vs, err := db.ChargeSessionPrices(ctx, n.db.Pool, csID)
		require.NoError(t, err)
		return len(vs)
	}

	// Repriced with the same cost: nothing to correct, nothing pushed.
	require.NoError(t, proc.Reprice(ctx, csID, "no change"))
	require.Equal(t, 2, roamingVersions())
	require.Zero(t, corrections())
	refs, err := db.CDRPushRefs(ctx, n.db.Pool, session.ChargeSession{Side: session.CPO, CountryCode: "BE", PartyID: "BEC", CdrID: csID.String()})
	require.NoError(t, err)
	require.Empty(t, refs, "no push pending")

	// Our tariff was wrong (3.00/h instead of 2.00/h): a tariff fix and a
	// repricing send a credit and a replacement.
	ex := readCPOExample(t, "cdr_example.json")
	els := ex["tariffs"].([]any)[0].(map[string]any)["elements"].([]any)
	els[0].(map[string]any)["price_components"].([]any)[0].(map[string]any)["price"] = 3
	n.admin(200, "POST", "/main/v1/cpo-tariff/11", map[string]any{"country_code": "BE", "party_id": "BEC", "currency": "EUR", "elements": els})
	require.NoError(t, proc.Reprice(ctx, csID, "tariff fix"))
	eventually(t, "credit and replacement POSTed", func() bool { return len(posted()) == 3 })
	got := posted()
	credit, repl := got[1].Body, got[2].Body
	require.Equal(t, "DE-TNM", got[1].To)
	require.Equal(t, true, credit["credit"])
	require.Equal(t, first["id"], credit["credit_reference_id"])
	require.NotEqual(t, first["id"], credit["id"])
	require.Equal(t, map[string]any{"excl_vat": float64(-4), "incl_vat": -4.4}, credit["total_cost"], "the credited CDR's cost, negated")
	require.Equal(t, first["total_time_cost"], credit["total_time_cost"], "only total_cost is negated (mod_cdrs → Credit CDRs)")
	require.Equal(t, first["session_id"], credit["session_id"])
	require.Equal(t, first["total_energy"], credit["total_energy"], "all the data of the credited CDR")
	require.Nil(t, repl["credit"])
	require.Nil(t, repl["credit_reference_id"])
	require.NotEqual(t, first["id"], repl["id"])
	require.NotEqual(t, credit["id"], repl["id"])
	require.Equal(t, map[string]any{"excl_vat": float64(6), "incl_vat": 6.6}, repl["total_cost"], "2 h at 3.00/h, 10 % VAT")

	// The sender lists all three, the credit before its replacement.
	env, h := n.ocpiGet(ta, "", "/ocpi/2.2.1/cpo/cdrs")
	require.Equal(t, "3", h.Get("X-Total-Count"))
	list := env["data"].([]any)
	require.Len(t, list, 3)
	for i, want := range []any{first["id"], credit["id"], repl["id"]} {
		require.Equal(t, want, list[i].(map[string]any)["id"])
	}

	// Another change credits the replacement, not the first CDR.
	els[0].(map[string]any)["price_components"].([]any)[0].(map[string]any)["price"] = 2.5
	n.admin(200, "POST", "/main/v1/cpo-tariff/11", map[string]any{"country_code": "BE", "party_id": "BEC", "currency": "EUR", "elements": els})
	require.NoError(t, proc.Reprice(ctx, csID, "second fix"))
	eventually(t, "second correction POSTed", func() bool { return len(posted()) == 5 })
	got = posted()
	require.Equal(t, repl["id"], got[3].Body["credit_reference_id"])
	require.Equal(t, map[string]any{"excl_vat": float64(-6), "incl_vat": -6.6}, got[3].Body["total_cost"])
	require.Equal(t, map[string]any{"excl_vat": float64(5), "incl_vat": 5.5}, got[4].Body["total_cost"])
	require.Equal(t, 4, corrections())
}
