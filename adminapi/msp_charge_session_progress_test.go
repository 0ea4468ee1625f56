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
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
)

// progressFixture stores partner sessions through the store, the way the
// OCPI Sessions receiver does: the Admin API only reads them.
type progressFixture struct {
	t     *testing.T
	party string // a CPO party id of this test's own
}

func newProgressFixture(t *testing.T) *progressFixture {
	return &progressFixture{t: t, party: freeParty(t)}
}

// ourToken registers token uid (RFID) as ours, of administration admin.
func (f *progressFixture) ourToken(uid string, admin uuid.UUID) {
	f.t.Helper()
	_, err := testDB.Pool.Exec(context.Background(), `INSERT INTO msp_token (id, administration_id, evco_id, country_code, party_id, uid,
		uid_key, type, issuer, created_at, updated_at) VALUES ($1, $2, $3, 'NL', 'RNE', $4, upper($4), 'RFID', 'roamnode', now(), now())`,
		uuid.Must(uuid.NewV7()), admin, "NL-RNE-C"+uuid.NewString()[:8], uid)
	require.NoError(f.t, err)
}

// report applies a Session report of id on token uid at EVSE evse.
func (f *progressFixture) report(id, uid, evse string, partner *uuid.UUID, mut func(s *ocpi.Session)) db.PartnerSessionRecord {
	f.t.Helper()
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	s := ocpi.Session{CountryCode: "NL", PartyID: f.party, ID: id, StartDateTime: ocpi.NewDateTime(start), Kwh: ocpi.NewNumber(decimal.RequireFromString("3.25")),
		CdrToken:   ocpi.CdrToken{CountryCode: "NL", PartyID: "RNE", UID: uid, Type: "RFID", ContractID: "NL-RNE-C1"},
		AuthMethod: "WHITELIST", LocationID: "LOC-" + f.party, EvseUID: evse, ConnectorID: "1", Currency: "EUR", Status: "ACTIVE",
		ChargingPeriods: []ocpi.ChargingPeriod{{StartDateTime: ocpi.NewDateTime(start),
			Dimensions: []ocpi.CdrDimension{{Type: ocpi.CdrDimensionEnergy, Volume: ocpi.NewNumber(decimal.RequireFromString("3.25"))}}}},
		TotalCost:   &ocpi.Price{ExclVAT: ocpi.NewNumber(decimal.RequireFromString("1.10"))},
		LastUpdated: ocpi.NewDateTime(start.Add(10 * time.Minute))}
	if mut != nil {
		mut(&s)
	}
	body, _ := json.Marshal(s)
	out, err := db.ApplyPartnerSession(context.Background(), testDB.Pool, db.PartnerSessionReport{CountryCode: s.CountryCode,
		PartyID: s.PartyID, SessionID: s.ID, PartnerID: partner, Channel: db.ChannelOCPIPush, Body: body,
		Build: func(*ocpi.Session) (ocpi.Session, error) { return s, nil }})
	require.NoError(f.t, err)
	require.True(f.t, out.Applied)
	return out.Record
}

// lastEvent is the data of the newest outbox event of a partner session.
func lastProgressEvent(t *testing.T, id uuid.UUID) (string, map[string]any) {
	t.Helper()
	var mod string
	var data []byte
	require.NoError(t, testDB.Pool.QueryRow(context.Background(), `SELECT modification_kind, data FROM outbox_event
		WHERE kind = 'msp-charge-session-progress' AND data->>'id' = $1 ORDER BY occurred_at DESC, id DESC LIMIT 1`, id.String()).Scan(&mod, &data))
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	return mod, m
}

// oaChargeSessionProgress exercises the msp-charge-session-progress
// operations for the contract test (TestOpenAPIContract).
func oaChargeSessionProgress(t *testing.T, c *oaClient, admID string) {
	t.Helper()
	admin := uuid.MustParse(admID)
	f := newProgressFixture(t)
	partner := newPartner(t)
	f.ourToken("PT-"+f.party, admin)
	ours := f.report("S1-"+f.party, "pt-"+strings.ToLower(f.party), "E1", &partner, nil)
	require.Equal(t, &admin, ours.AdministrationID, "the administration is the token owner's (uid case-insensitive)")
	done := f.report("S2-"+f.party, "NOT-OURS-"+f.party, "E2", &partner, func(s *ocpi.Session) {
		end := s.StartDateTime.Add(30 * time.Minute)
		e := ocpi.NewDateTime(end)
		s.EndDateTime, s.Status = &e, "COMPLETED"
		in := ocpi.NewNumber(decimal.RequireFromString("1.33"))
		s.TotalCost.InclVAT = &in
	})
	require.Nil(t, done.AdministrationID)

	base := "/main/v1/msp-charge-session-progress"
	q := url.Values{"partner_id": {partner.String()}, "evse": {"e1"}, "token_uid": {"PT-" + strings.ToLower(f.party)}, "status": {"ACTIVE"},
		"ongoing": {"true"}, "start_gte": {time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)},
		"start_lt": {time.Now().UTC().Format(time.RFC3339)}}
	l := c.do(200, "GET", base+"?"+q.Encode(), nil)
	require.Len(t, l.items(), 1)
	require.Equal(t, ours.ID.String(), l.items()[0]["id"])
	require.Equal(t, "3.25", l.items()[0]["kwh"])
	require.Equal(t, "started", l.items()[0]["last_change"])
	fin := c.do(200, "GET", base+"?ongoing=false&partner_id="+partner.String(), nil)
	require.Len(t, fin.items(), 1)
	require.Equal(t, done.ID.String(), fin.items()[0]["id"])
	require.Equal(t, "stopped", fin.items()[0]["last_change"])
	c.do(200, "GET", base+"?page_size=1", nil)
	c.do(200, "GET", l.str("link_next"), nil)
	c.do(200, "GET", base+"?created_gt="+url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)), nil)
	c.do(400, "GET", base+"?status=CHARGING", nil, oaDocRejects())
	c.do(400, "GET", base+"?ongoing=yes", nil, oaDocRejects())
	c.do(400, "GET", base+"?state=ACTIVE", nil)

	g := c.do(200, "GET", base+"/"+ours.ID.String(), nil)
	require.Equal(t, "ACTIVE", g.str("status"))
	require.Equal(t, "1.1", g.JSON["total_cost"].(map[string]any)["excl_vat"])
	require.Nil(t, g.JSON["total_cost"].(map[string]any)["incl_vat"])
	require.Equal(t, "ENERGY", g.JSON["charging_periods"].([]any)[0].(map[string]any)["dimensions"].([]any)[0].(map[string]any)["type"])
	// The outbox event carries the record exactly as GET renders it.
	mod, ev := lastProgressEvent(t, ours.ID)
	require.Equal(t, "create", mod)
	require.Equal(t, g.JSON, ev)
	c.do(200, "GET", base+"/"+done.ID.String(), nil)
	c.do(400, "GET", base+"/"+uuid.NewString(), nil)
	c.do(400, "GET", base+"/ext_ref.x", nil, oaDocRejects())

	// Scoping: an account of another administration sees neither.
	user, secret := limitedAccount(t, []string{"charge-session:read"}, newAdministration(t))
	as := oaAs(user, secret)
	c.do(403, "GET", base+"/"+ours.ID.String(), nil, as)
	c.do(403, "GET", base+"/"+done.ID.String(), nil, as)
	require.Empty(t, c.do(200, "GET", base+"?partner_id="+partner.String(), nil, as).items())
	mineUser, mineSecret := limitedAccount(t, []string{"charge-session:read"}, admin)
	mine := c.do(200, "GET", base+"?partner_id="+partner.String(), nil, oaAs(mineUser, mineSecret))
	require.Len(t, mine.items(), 1, "the token owner's account sees its session, not the one of a foreign token")
	noPerm, noPermSecret := limitedAccount(t, []string{"customer:read"}, admin)
	c.do(403, "GET", base, nil, oaAs(noPerm, noPermSecret))
}

// TestChargeSessionProgressEvents: every accepted report writes one
// event, create then update, whose last_change says what changed; a
// report that changes nothing or is older writes none.
func TestChargeSessionProgressEvents(t *testing.T) {
	t.Parallel()
	h := setup(t)
	f := newProgressFixture(t)
	count := func(id uuid.UUID) int {
		var n int
		require.NoError(t, testDB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox_event WHERE kind = 'msp-charge-session-progress'
			AND data->>'id' = $1`, id.String()).Scan(&n))
		return n
	}
	var last time.Time
	rec := f.report("EV-"+f.party, "X", "E1", nil, func(s *ocpi.Session) { s.Status = "PENDING"; last = s.LastUpdated.Time })
	steps := []struct {
		change string
		mut    func(s *ocpi.Session)
	}{
		{"updated", func(s *ocpi.Session) { s.Status = "ACTIVE" }},
		{"meter", func(s *ocpi.Session) { s.Status = "ACTIVE"; s.Kwh = ocpi.NewNumber(decimal.NewFromInt(7)) }},
		{"stopped", func(s *ocpi.Session) { s.Status = "COMPLETED"; s.Kwh = ocpi.NewNumber(decimal.NewFromInt(7)) }},
	}
	for i, st := range steps {
		last = last.Add(time.Minute)
		at := last
		rec = f.report("EV-"+f.party, "X", "E1", nil, func(s *ocpi.Session) { st.mut(s); s.LastUpdated = ocpi.NewDateTime(at) })
		require.Equal(t, i+2, count(rec.ID))
		mod, ev := lastProgressEvent(t, rec.ID)
		require.Equal(t, "update", mod)
		require.Equal(t, st.change, ev["last_change"])
		g := h.must(200, h.do("GET", "/main/v1/msp-charge-session-progress/"+rec.ID.String(), nil))
		var view map[string]any
		require.NoError(t, json.Unmarshal(g.Raw, &view))
		require.Equal(t, view, ev, "the event's data is the record as GET renders it")
	}
	// The same report again, and an older one: nothing stored, no event.
	s := rec.Session
	for _, lu := range []time.Time{last, last.Add(-time.Hour)} {
		s.LastUpdated = ocpi.NewDateTime(lu)
		s.Kwh = ocpi.NewNumber(decimal.NewFromInt(1))
		if lu.Equal(last) {
			s.Kwh = rec.Session.Kwh
		}
		cur := s
		out, err := db.ApplyPartnerSession(context.Background(), testDB.Pool, db.PartnerSessionReport{CountryCode: s.CountryCode,
			PartyID: s.PartyID, SessionID: s.ID, Channel: db.ChannelOCPIPush, Body: []byte("{}"),
			Build: func(*ocpi.Session) (ocpi.Session, error) { return cur, nil }})
		require.NoError(t, err)
		require.False(t, out.Applied)
		require.Equal(t, lu.Before(last), out.Stale)
	}
	require.Equal(t, 4, count(rec.ID))
	g := h.must(200, h.do("GET", "/main/v1/msp-charge-session-progress/"+rec.ID.String(), nil))
	require.Equal(t, "7", g.str("kwh"), "the older report did not overwrite the newer one")
}

// TestRequestSessionPull: the on-demand sync of a roaming connection also
// requests the pulls of sessions and CDRs (recorded in roaming_sync, where
// the worker's session-pull sweep finds them).
func TestRequestSessionPull(t *testing.T) {
	t.Parallel()
	h := setup(t)
	now := time.Now().UTC()
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "pull", Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	c.Registered(partner.NewToken(), "their", "https://cpo.example.com/versions", "2.2.1", []partner.Endpoint{
		{Identifier: "sessions", Role: "SENDER", URL: "https://cpo.example.com/sessions"},
		{Identifier: "cdrs", Role: "SENDER", URL: "https://cpo.example.com/cdrs"}}, nil, "us", now)
	require.NoError(t, db.SaveConnection(context.Background(), testDB.Pool, c, true))
	base := "/main/v1/roaming-connection/" + c.ID.String() + "/sync"

	r := h.must(202, h.do("POST", base+"?module=sessions", nil))
	items := r.items()
	require.Len(t, items, 1)
	require.Equal(t, "sessions", items[0]["module"])
	require.NotNil(t, items[0]["requested_at"])
	r = h.must(202, h.do("POST", base+"?module=cdrs&full=true", nil))
	require.Equal(t, true, r.items()[0]["requested_full"])
	r = h.must(202, h.do("POST", base, nil))
	var mods []string
	for _, it := range r.items() {
		mods = append(mods, it["module"].(string))
	}
	require.Equal(t, []string{"sessions", "cdrs"}, mods, "without module: every module the partner has a sender for")
	require.Len(t, h.must(200, h.do("GET", base, nil)).items(), 2)
	bad := h.must(400, h.do("POST", base+"?module=commands", nil))
	require.Equal(t, []string{"module"}, bad.fields())
	bad = h.must(400, h.do("POST", base+"?module=locations", nil))
	require.Equal(t, "no_sender", bad.code())
	due, err := db.DueSessionPulls(context.Background(), testDB.Pool, now, now, now)
	require.NoError(t, err)
	var mine []string
	for _, d := range due {
		if d.ConnectionID == c.ID {
			mine = append(mine, string(d.Module))
		}
	}
	require.ElementsMatch(t, []string{"sessions", "cdrs"}, mine, "the worker's sweep finds the requested pulls")
}
