package adminapi_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/session"
)

// csFixture makes charge sessions through the store, the way the OCPI
// receiver and the worker do: the Admin API only reads and reprocesses
// them.
type csFixture struct {
	t     *testing.T
	party string // a CPO party id of this test's own
	ids   []uuid.UUID
}

func newCSFixture(t *testing.T) *csFixture {
	f := &csFixture{t: t, party: freeParty(t)}
	return f
}

// receive stores a session of side at EVSE evse with admin (may be nil).
func (f *csFixture) receive(side session.Side, admin *uuid.UUID, evse string) db.ChargeSessionRecord {
	f.t.Helper()
	end := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	cdr := uuid.NewString()
	s := session.ChargeSession{Side: side, AdministrationID: admin, CountryCode: "NL", PartyID: f.party, CdrID: cdr,
		Start: end.Add(-time.Hour), End: end, Token: session.Token{CountryCode: "NL", PartyID: "RNE", UID: "TOK-" + f.party, Type: "RFID", ContractID: "NL-RNE-C1"},
		Location: session.Place{LocationID: "LOC-" + f.party, EvseUID: evse, EvseID: "NL*" + f.party + "*E" + evse, ConnectorID: "1"},
		Currency: "EUR", TotalEnergy: decimal.NewFromInt(11), TotalTime: decimal.NewFromInt(1)}
	payload, _ := json.Marshal(map[string]any{"id": cdr, "country_code": "NL", "party_id": f.party, "total_energy": 11.000})
	rec, created, err := db.ReceiveChargeSession(context.Background(), testDB.Pool, db.Intake{Session: s, Channel: db.ChannelOCPIPush, Payload: payload})
	require.NoError(f.t, err)
	require.True(f.t, created)
	f.ids = append(f.ids, rec.ID)
	return rec
}

// drop commits a drop-out of rec as the pipeline does.
func (f *csFixture) drop(rec db.ChargeSessionRecord, reason string) db.ChargeSessionRecord {
	f.t.Helper()
	out, ok, err := db.CommitStep(context.Background(), testDB.Pool, rec.ChargeSession,
		session.Outcome{State: session.DroppedOut, Attempts: rec.Attempts, Reason: reason, Detail: "test"}, time.Now().UTC())
	require.NoError(f.t, err)
	require.True(f.t, ok)
	return out
}

// invalid stores an invalid charge session of side.
func (f *csFixture) invalid(side session.Side, partner *uuid.UUID) uuid.UUID {
	f.t.Helper()
	id, err := db.StoreInvalidChargeSession(context.Background(), testDB.Pool, db.InvalidIntake{Side: side, Channel: db.ChannelOCPIPull,
		PartnerID: partner, CountryCode: "NL", PartyID: f.party, CdrID: "BAD-" + f.party, Payload: []byte(`{"id": "BAD"}`),
		Problems: []session.Problem{{Field: "cdr_token.uid", Reason: "is required"}}})
	require.NoError(f.t, err)
	return id
}

// due reports whether the worker's lanes would claim the session now: a
// pending state with no later attempt scheduled (worker/session_drain.go).
func (f *csFixture) due(id uuid.UUID) bool {
	var due bool
	require.NoError(f.t, testDB.Pool.QueryRow(context.Background(), `SELECT state IN ('received', 'matching', 'validating') AND next_attempt_at IS NULL
		FROM charge_session WHERE id = $1`, id).Scan(&due))
	return due
}

// limitedAccount stores an API account with perms on admins.
func limitedAccount(t *testing.T, perms []string, admins ...uuid.UUID) (string, string) {
	t.Helper()
	secret := access.NewSecret()
	now := time.Now().UTC()
	a := access.Account{ID: uuid.Must(uuid.NewV7()), PublicID: "cs-" + uuid.NewString()[:12], Name: "limited", SecretHash: access.HashSecret(secret),
		Permissions: perms, AdministrationIDs: admins, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, db.SaveAPIAccount(context.Background(), testDB.Pool, a, true))
	return a.PublicID, secret
}

// newAdministration stores a seller and an administration.
func newAdministration(t *testing.T) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	seller, admin := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	_, err := testDB.Pool.Exec(ctx, `INSERT INTO seller (id, name, country, created_at, updated_at) VALUES ($1, 'S', 'NL', now(), now())`, seller)
	require.NoError(t, err)
	_, err = testDB.Pool.Exec(ctx, `INSERT INTO administration (id, seller_id, name, currency, created_at, updated_at) VALUES ($1, $2, 'A', 'EUR', now(), now())`, admin, seller)
	require.NoError(t, err)
	return admin
}

// newPartner stores a roaming partner.
func newPartner(t *testing.T) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	now := time.Now().UTC()
	require.NoError(t, db.Q(testDB.Pool).InsertPartner(context.Background(), gen.InsertPartnerParams{ID: id, Name: "P " + id.String()[:8], Country: "NL", CreatedAt: now, UpdatedAt: now}))
	return id
}

// oaChargeSessions exercises every charge-session operation of both sides
// for the contract test (TestOpenAPIContract).
func oaChargeSessions(t *testing.T, c *oaClient, admID string) {
	t.Helper()
	admin := uuid.MustParse(admID)
	f := newCSFixture(t)
	for _, side := range []session.Side{session.MSP, session.CPO} {
		base := "/main/v1/" + string(side)
		s1 := f.drop(f.receive(side, &admin, "1"), "EVSE not found")
		s2 := f.drop(f.receive(side, &admin, "1"), "EVSE not found")
		s3 := f.drop(f.receive(side, &admin, "1"), "EVSE not found")
		pending := f.receive(side, &admin, "2")
		caseID := s1.DropoutCaseID.String()
		require.Equal(t, s1.DropoutCaseID, s3.DropoutCaseID)

		// Sessions: list with every filter, get, original.
		q := url.Values{"state": {"dropped_out"}, "evse": {"nl-" + f.party + "-e1"}, "token_uid": {"tok-" + strings.ToLower(f.party)},
			"start_gte": {time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)}, "start_lt": {time.Now().UTC().Format(time.RFC3339)},
			"dropout_case_id": {caseID}}
		l := c.do(200, "GET", base+"-charge-session?"+q.Encode(), nil)
		require.Len(t, l.items(), 3)
		c.do(200, "GET", base+"-charge-session?page_size=1&partner_id="+uuid.NewString(), nil)
		c.do(200, "GET", l.str("link_next"), nil)
		c.do(200, "GET", base+"-charge-session?created_gt="+url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)), nil)
		c.do(400, "GET", base+"-charge-session?state=lost", nil, oaDocRejects())
		c.do(400, "GET", base+"-charge-session?evse=-", nil)
		g := c.do(200, "GET", base+"-charge-session/"+s1.ID.String(), nil)
		require.Equal(t, "dropped_out", g.str("state"))
		require.Equal(t, caseID, g.JSON["dropout"].(map[string]any)["case_id"])
		c.do(200, "GET", base+"-charge-session/"+pending.ID.String(), nil)
		c.do(400, "GET", base+"-charge-session/"+uuid.NewString(), nil)
		c.do(400, "GET", base+"-charge-session/ext_ref.x", nil, oaDocRejects())
		o := c.do(200, "GET", base+"-charge-session-original/"+s1.ID.String(), nil)
		require.Contains(t, o.str("payload"), `"total_energy":11`)

		// Reprocess one session; a second time is a conflict.
		r := c.do(200, "POST", base+"-charge-session/"+s1.ID.String()+"/reprocess", map[string]any{"instruction": "retry", "note": 1})
		require.Equal(t, "received", r.str("state"))
		require.Equal(t, "note", r.Header.Get("X-RN-Unknown-Fields"))
		require.True(t, f.due(s1.ID), "the session is due for the worker after the commit")
		cf := c.do(409, "POST", base+"-charge-session/"+s1.ID.String()+"/reprocess", map[string]any{"instruction": "retry"})
		require.Equal(t, "not_dropped_out", cf.errCode())
		c.do(409, "POST", base+"-charge-session/"+pending.ID.String()+"/reprocess", map[string]any{"instruction": "discard"})
		bad := c.do(400, "POST", base+"-charge-session/"+s2.ID.String()+"/reprocess", map[string]any{"instruction": "bypass"})
		require.Equal(t, []string{"check"}, bad.errPaths())
		bad = c.do(400, "POST", base+"-charge-session/"+s2.ID.String()+"/reprocess", map[string]any{"instruction": "again"}, oaDocRejects())
		require.Equal(t, []string{"instruction"}, bad.errPaths())
		c.do(400, "POST", base+"-charge-session/"+s2.ID.String()+"/reprocess", map[string]any{"instruction": "bypass", "check": "vibes"}, oaDocRejects())
		c.do(400, "POST", base+"-charge-session/"+s2.ID.String()+"/reprocess", "[]")

		// Cases: list, get, reprocess the rest, then a conflict.
		cl := c.do(200, "GET", base+"-dropout-case?"+url.Values{"reason": {"EVSE not found"}, "state": {"open"}, "party": {"NL-" + f.party},
			"evse": {"NL*" + f.party + "*E1"}}.Encode(), nil)
		require.Len(t, cl.items(), 1)
		require.Equal(t, float64(2), cl.items()[0]["open_sessions"])
		c.do(400, "GET", base+"-dropout-case?party=nope", nil)
		c.do(400, "GET", base+"-dropout-case?state=closed", nil, oaDocRejects())
		cg := c.do(200, "GET", base+"-dropout-case/"+caseID, nil)
		require.Len(t, cg.JSON["sessions"], 3)
		c.do(200, "GET", cg.str("sessions_link"), nil)
		cr := c.do(200, "POST", base+"-dropout-case/"+caseID+"/reprocess", map[string]any{"instruction": "bypass", "check": "token_known"})
		require.Equal(t, "resolved", cr.str("state"))
		require.True(t, f.due(s2.ID))
		c.do(409, "POST", base+"-dropout-case/"+caseID+"/reprocess", map[string]any{"instruction": "retry"})
		c.do(400, "POST", base+"-dropout-case/"+uuid.NewString()+"/reprocess", map[string]any{"instruction": "retry"})
		c.do(400, "GET", base+"-dropout-case/"+uuid.NewString(), nil)

		// Invalid charge sessions.
		inv := f.invalid(side, nil)
		c.do(200, "GET", base+"-invalid-charge-session?resolved=false", nil)
		c.do(200, "GET", base+"-invalid-charge-session?partner_id="+uuid.NewString(), nil)
		ig := c.do(200, "GET", base+"-invalid-charge-session/"+inv.String(), nil)
		require.Equal(t, "cdr_token.uid", ig.JSON["problems"].([]any)[0].(map[string]any)["field"])
		c.do(400, "GET", base+"-invalid-charge-session?resolved=maybe", nil, oaDocRejects())
	}
	// The other side's records are not found on this side.
	mspOnly := f.receive(session.MSP, &admin, "3")
	c.do(400, "GET", "/main/v1/cpo-charge-session/"+mspOnly.ID.String(), nil)

	// Scoping: an account of another administration.
	user, secret := limitedAccount(t, []string{"charge-session:write"}, newAdministration(t))
	as := oaAs(user, secret)
	c.do(403, "GET", "/main/v1/msp-charge-session/"+mspOnly.ID.String(), nil, as)
	c.do(403, "GET", "/main/v1/msp-invalid-charge-session", nil, as)
	c.do(403, "POST", "/main/v1/msp-charge-session/"+mspOnly.ID.String()+"/reprocess", map[string]any{"instruction": "discard"}, as)
	c.do(403, "POST", "/main/v1/administration/"+admID+"/session-thresholds", map[string]any{"max_age": "72h"}, as)

	// Thresholds of an administration and of a partner.
	partner := newPartner(t).String()
	for _, p := range []string{"/main/v1/administration/" + admID, "/main/v1/roaming-partner/" + partner} {
		g := c.do(200, "GET", p+"/session-thresholds", nil)
		require.Nil(t, g.JSON["max_age"])
		u := c.do(200, "POST", p+"/session-thresholds", map[string]any{"max_age": "72h", "energy_tolerance": "1.20", "id": 1})
		require.Equal(t, "72h0m0s", u.str("max_age"))
		require.Equal(t, "1.2", u.str("energy_tolerance"))
		require.Equal(t, "id", u.Header.Get("X-RN-Unknown-Fields"))
		bad := c.do(400, "POST", p+"/session-thresholds", map[string]any{"max_age": "1s", "future_tolerance": "soon", "default_max_power_kw": "0",
			"energy_tolerance": "0.5"})
		require.ElementsMatch(t, []string{"max_age", "future_tolerance", "default_max_power_kw", "energy_tolerance"}, bad.errPaths())
		c.do(400, "POST", p+"/session-thresholds", map[string]any{"energy_tolerance": 1.2}, oaDocRejects())
	}
	c.do(403, "POST", "/main/v1/roaming-partner/"+partner+"/session-thresholds", map[string]any{"max_age": "72h"}, as)
	c.do(400, "GET", "/main/v1/roaming-partner/"+uuid.NewString()+"/session-thresholds", nil)
}

// An account limited to an administration sees that administration's
// sessions and cases only; sessions not attributed yet only accounts that
// see all administrations see; a case reprocess that would touch another
// administration's session changes nothing.
func TestChargeSessionScoping(t *testing.T) {
	t.Parallel()
	h := setup(t)
	f := newCSFixture(t)
	mine, other := newAdministration(t), newAdministration(t)
	own := f.drop(f.receive(session.MSP, &mine, "7"), "Unknown token")
	foreign := f.drop(f.receive(session.MSP, &other, "7"), "Unknown token")
	loose := f.receive(session.MSP, nil, "8")
	require.Equal(t, own.DropoutCaseID, foreign.DropoutCaseID, "same reason, party and EVSE: one case")
	user, secret := limitedAccount(t, []string{"charge-session:write"}, mine)

	list := h.must(200, h.doAs(user, secret, "GET", "/main/v1/msp-charge-session?evse=NL"+f.party+"E7", nil))
	require.Len(t, list.items(), 1)
	require.Equal(t, own.ID.String(), list.items()[0]["id"])
	all := h.must(200, h.do("GET", "/main/v1/msp-charge-session?token_uid=TOK-"+f.party, nil))
	require.Len(t, all.items(), 3)
	h.must(403, h.doAs(user, secret, "GET", "/main/v1/msp-charge-session/"+loose.ID.String(), nil))
	h.must(403, h.doAs(user, secret, "GET", "/main/v1/msp-charge-session-original/"+foreign.ID.String(), nil))

	// The case is visible (one session is theirs) with only their session.
	cs := h.must(200, h.doAs(user, secret, "GET", "/main/v1/msp-dropout-case/"+own.DropoutCaseID.String(), nil))
	require.Len(t, cs.JSON["sessions"], 1)
	require.Equal(t, float64(2), cs.JSON["open_sessions"])
	h.must(403, h.doAs(user, secret, "POST", "/main/v1/msp-dropout-case/"+own.DropoutCaseID.String()+"/reprocess", map[string]any{"instruction": "discard"}))
	require.Equal(t, session.DroppedOut, h.session(own.ID).State, "nothing was half-applied")
	// Their own session alone they may discard; it leaves an event.
	d := h.must(200, h.doAs(user, secret, "POST", "/main/v1/msp-charge-session/"+own.ID.String()+"/reprocess", map[string]any{"instruction": "discard"}))
	require.Equal(t, "discarded", d.str("state"))
	var events int
	require.NoError(t, testDB.Pool.QueryRow(context.Background(),
		"SELECT count(*) FROM outbox_event WHERE kind = 'msp-charge-session' AND data->>'id' = $1 AND data->>'state' = 'discarded'", own.ID.String()).Scan(&events))
	require.Equal(t, 1, events)
	require.False(t, f.due(own.ID), "a discarded session owes no step")

	// A case with no session of theirs is forbidden; the list hides it.
	other2 := newAdministration(t)
	hidden := f.drop(f.receive(session.MSP, &other2, "9"), "Implausible energy")
	h.must(403, h.doAs(user, secret, "GET", "/main/v1/msp-dropout-case/"+hidden.DropoutCaseID.String(), nil))
	cases := h.must(200, h.doAs(user, secret, "GET", "/main/v1/msp-dropout-case?party=NL-"+f.party, nil))
	require.Len(t, cases.items(), 1)
	// Without the permission: 403.
	ro, rs := limitedAccount(t, []string{"customer:read"}, mine)
	h.must(403, h.doAs(ro, rs, "GET", "/main/v1/msp-charge-session", nil))
}

// Threshold overrides set through the API are what the pipeline's lookup
// resolves: node defaults, then the administration's, then the partner's.
func TestSessionThresholdsReachThePipeline(t *testing.T) {
	t.Parallel()
	h := setup(t)
	admin, partner := newAdministration(t), newPartner(t)
	h.must(200, h.do("POST", "/main/v1/administration/"+admin.String()+"/session-thresholds",
		map[string]any{"max_age": "720h", "energy_tolerance": "1.5", "future_tolerance": "10m"}))
	h.must(200, h.do("POST", "/main/v1/roaming-partner/"+partner.String()+"/session-thresholds", map[string]any{"energy_tolerance": "2"}))
	// null removes one override; a no-op writes nothing.
	h.must(200, h.do("POST", "/main/v1/administration/"+admin.String()+"/session-thresholds", map[string]any{"future_tolerance": nil}))
	before := h.outboxCount("session-thresholds", admin)
	h.must(200, h.do("POST", "/main/v1/administration/"+admin.String()+"/session-thresholds", map[string]any{"energy_tolerance": "1.50"}))
	require.Equal(t, before, h.outboxCount("session-thresholds", admin), "an unchanged value writes no event")

	th, err := db.SessionLookup{Pool: testDB.Pool}.Thresholds(context.Background(), session.ChargeSession{PartnerID: &partner}, &admin, session.DefaultThresholds)
	require.NoError(t, err)
	require.Equal(t, 720*time.Hour, th.MaxAge)
	require.Equal(t, session.DefaultThresholds.FutureTolerance, th.FutureTolerance)
	require.Equal(t, "2", th.EnergyTolerance.String(), "the partner's override wins")
	require.True(t, th.DefaultMaxPowerKW.Equal(session.DefaultThresholds.DefaultMaxPowerKW))
}

func (h *harness) session(id uuid.UUID) db.ChargeSessionRecord {
	h.t.Helper()
	r, err := db.ChargeSession(context.Background(), testDB.Pool, id)
	require.NoError(h.t, err)
	return r
}

func (h *harness) outboxCount(kind string, admin uuid.UUID) int {
	h.t.Helper()
	var n int
	require.NoError(h.t, testDB.Pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox_event WHERE kind = $1 AND administration_id = $2",
		kind, admin).Scan(&n))
	return n
}
