package adminapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/adminapi"
	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/authz"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/domain/token"
	"github.com/roamnode/roamnode/node"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/ocpi/ocpitest"
	"github.com/roamnode/roamnode/roaming"
)

// fakeEMSP is a partner eMSP's Tokens Sender for real-time authorization:
// answer(uid) says what it does for a token uid; every request is checked
// against the official OCPI interface and kept.
type fakeEMSP struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []*http.Request
	bodies []string
	answer func(uid string) (status int, body any, delay time.Duration)
}

func newFakeEMSP(t *testing.T, answer func(uid string) (int, any, time.Duration)) *fakeEMSP {
	f := &fakeEMSP{t: t, answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs, f.bodies = append(f.reqs, r), append(f.bodies, string(raw))
		f.mu.Unlock()
		uid, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/tokens/"), "/authorize")
		if r.Method != http.MethodPost || !ok {
			http.NotFound(w, r)
			return
		}
		if err := ocpitest.CheckRequest(r.Method, "/ocpi/2.2.1/emsp/tokens/"+uid+"/authorize?"+r.URL.RawQuery, r.Header, raw); err != nil {
			t.Errorf("real-time authorization request does not conform: %v", err)
		}
		status, body, delay := f.answer(uid)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEMSP) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func (f *fakeEMSP) last() (*http.Request, map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var body map[string]any
	_ = json.Unmarshal([]byte(f.bodies[len(f.bodies)-1]), &body)
	return f.reqs[len(f.reqs)-1], body
}

func envelope(data any) map[string]any {
	return map[string]any{"data": data, "status_code": 1000, "timestamp": "2024-05-01T10:00:00Z"}
}

func unknownToken() map[string]any {
	return map[string]any{"status_code": 2004, "status_message": "Unknown Token", "timestamp": "2024-05-01T10:00:00Z"}
}

// wireToken is an OCPI Token of party cc-pid.
func wireToken(cc, pid, uid string, valid bool, wl token.Whitelist) ocpi.Token {
	return ocpi.Token{CountryCode: cc, PartyID: pid, UID: uid, Type: token.TypeRFID, ContractID: cc + "TNMC00001234" + "5",
		Issuer: "TNM", Valid: valid, Whitelist: wl, LastUpdated: ocpi.NewDateTime(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC))}
}

// ptNode is a node on a database of its own (the authorization asks every
// eMSP party in the database, so tests must not share one), with our CPO
// party NL-RNC and its location LOC1 (EVSEs E1 with connectors 1 and 2,
// and E2) and LOC2 (EVSE F1).
type ptNode struct {
	*harness
	pool *dbtest.Database
}

func newPTNode(t *testing.T, o adminapi.CPOTokenOptions) *ptNode {
	t.Helper()
	ctx := context.Background()
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	rdb := newRedis(t)
	xlog := db.NewExchangeLog(d.Pool, testLog(), 1000)
	t.Cleanup(xlog.Close)
	app := node.App(node.Deps{Pool: d.Pool, Redis: rdb, Log: testLog(), Version: "test", Recorder: xlog,
		Admin: adminapi.Options{Version: "test", RatePrefix: "rn:test:" + uuid.NewString() + ":", CPOTokens: o}})
	h := &harness{t: t, app: app, rdb: rdb, user: "boot-" + uuid.NewString()[:8], secret: access.NewSecret()}
	require.NoError(t, db.Q(d.Pool).UpsertBootstrapAccount(ctx, gen.UpsertBootstrapAccountParams{
		ID: uuid.Must(uuid.NewV7()), PublicID: h.user, SecretHash: access.HashSecret(h.secret), CreatedAt: time.Now()}))
	n := &ptNode{harness: h, pool: d}
	h.must(201, h.do("POST", "/main/v1/own-party", map[string]any{"country_code": "NL", "party_id": "RNC", "role": "CPO", "name": "RoamNode CPO"}))
	n.location("LOC1", map[string][]string{"E1": {"1", "2"}, "E2": {"1"}})
	n.location("LOC2", map[string][]string{"F1": {"1"}})
	return n
}

// location stores one of our locations with its EVSEs and connectors.
func (n *ptNode) location(id string, evses map[string][]string) {
	ctx := context.Background()
	now := time.Now().UTC()
	lu := ocpi.NewDateTime(now)
	l := db.CPOLocation{ID: uuid.Must(uuid.NewV7()), Location: ocpi.Location{CountryCode: "NL", PartyID: "RNC", ID: id, Publish: true,
		Address: "Main 1", City: "Utrecht", Country: "NLD", Coordinates: ocpi.GeoLocation{Latitude: "52.1", Longitude: "5.1"},
		TimeZone: "Europe/Amsterdam", LastUpdated: lu}, CreatedAt: now, UpdatedAt: now}
	require.NoError(n.t, db.SaveCPOLocation(ctx, n.pool.Pool, l, true))
	for uid, conns := range evses {
		e := ocpi.EVSE{UID: uid, Status: "AVAILABLE", LastUpdated: lu}
		for _, c := range conns {
			e.Connectors = append(e.Connectors, ocpi.Connector{ID: c, Standard: "IEC_62196_T2", Format: "SOCKET", PowerType: "AC_3_PHASE",
				MaxVoltage: 230, MaxAmperage: 32, LastUpdated: lu})
		}
		require.NoError(n.t, db.SaveCPOEVSE(ctx, n.pool.Pool, db.CPOEVSE{ID: uuid.Must(uuid.NewV7()), LocationUUID: l.ID, LocationID: id,
			EVSE: e, StatusUpdatedAt: now, CreatedAt: now, UpdatedAt: now}, true))
	}
}

// emsp registers a connection to an eMSP platform at url (its tokens
// sender at url/tokens) holding the eMSP parties; agreed gives their
// roaming partner a cpo agreement valid now.
func (n *ptNode) emsp(url string, kind partner.ConnectionKind, agreed bool, parties ...string) uuid.UUID {
	n.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	var roles []partner.CredentialsRole
	for _, p := range parties {
		ref, _ := partner.ParsePartyRef(p)
		role := partner.RoleEMSP
		if kind == partner.Hub && len(roles) == 0 {
			role = partner.RoleHub // the first party of a hub is the hub itself
		}
		roles = append(roles, partner.CredentialsRole{Role: role, CountryCode: ref.CountryCode, PartyID: ref.PartyID, Name: "Partner " + parties[0]})
	}
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "to " + parties[0], Kind: kind, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	eps := []partner.Endpoint{{Identifier: "tokens", Role: "SENDER", URL: url + "/tokens"}, {Identifier: "credentials", Role: "SENDER", URL: url + "/credentials"}}
	c.Registered(partner.NewToken(), "token-for-"+parties[0], url+"/versions", "2.2.1", eps, roles, "partner", now)
	require.NoError(n.t, db.SaveConnection(ctx, n.pool.Pool, c, true))
	require.NoError(n.t, db.RoamingStore{Pool: n.pool.Pool}.InTx(ctx, func(tx roaming.Tx) error { return tx.LinkParties(ctx, c.ID, roles) }))
	if agreed {
		ps := n.must(200, n.do("GET", "/main/v1/roaming-partner?connection_id="+c.ID.String(), nil)).items()
		require.NotEmpty(n.t, ps)
		for _, p := range ps {
			n.must(201, n.do("POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": p["id"], "role": "cpo", "valid_from": "2020-01-01T00:00:00Z"}))
		}
	}
	return c.ID
}

// cache stores a token as pushed through conn.
func (n *ptNode) cache(conn uuid.UUID, t ocpi.Token) {
	_, _, err := db.SavePartnerToken(context.Background(), n.pool.Pool, conn, t, db.ViaPush, time.Now().UTC())
	require.NoError(n.t, err)
}

// authorize asks the decision endpoint.
func (n *ptNode) authorize(body map[string]any) resp {
	n.t.Helper()
	return n.must(200, n.do("POST", "/main/v1/cpo-token-authorization", body))
}

func decision(t *testing.T, r resp, allowed bool, reason authz.Reason, source authz.Source) {
	t.Helper()
	require.Equal(t, allowed, r.JSON["allowed"], "%s", r.Raw)
	require.Equal(t, string(reason), r.JSON["reason"], "%s", r.Raw)
	require.Equal(t, string(source), r.JSON["source"], "%s", r.Raw)
	require.NotEmpty(t, r.JSON["message"])
	if !allowed {
		require.Empty(t, r.JSON["evse_uids"])
	}
}

func here(uid string, extra ...any) map[string]any {
	b := map[string]any{"token_uid": uid, "location_id": "LOC1", "evse_uids": []string{"E1", "E2"}}
	for i := 0; i < len(extra); i += 2 {
		b[extra[i].(string)] = extra[i+1]
	}
	return b
}

func TestCPOTokenAuthorizationFromCacheAndRealtime(t *testing.T) {
	t.Parallel()
	answers := map[string]func() (int, any, time.Duration){}
	var amu sync.Mutex
	f := newFakeEMSP(t, func(uid string) (int, any, time.Duration) {
		amu.Lock()
		defer amu.Unlock()
		if a, ok := answers[strings.ToUpper(uid)]; ok {
			return a()
		}
		return 404, unknownToken(), 0
	})
	answer := func(uid string, allowed token.Allowed, extra map[string]any) {
		amu.Lock()
		defer amu.Unlock()
		answers[uid] = func() (int, any, time.Duration) {
			info := map[string]any{"allowed": allowed, "token": wireToken("NL", "TNM", uid, true, token.WhitelistAllowed)}
			for k, v := range extra {
				info[k] = v
			}
			return 200, envelope(info), 0
		}
	}
	n := newPTNode(t, adminapi.CPOTokenOptions{AuthorizeTimeout: 10 * time.Second})
	conn := n.emsp(f.srv.URL, partner.PeerToPeer, true, "NL-TNM")
	other := n.emsp("http://127.0.0.1:1", partner.PeerToPeer, false, "BE-NOA")

	// ALWAYS: the cache decides, nobody is asked.
	n.cache(conn, wireToken("NL", "TNM", "ALWAYS1", true, token.WhitelistAlways))
	r := n.authorize(here("always1")) // uids compare case-insensitively
	decision(t, r, true, authz.ReasonWhitelisted, authz.SourceCache)
	require.Equal(t, []any{"E1", "E2"}, r.JSON["evse_uids"])
	require.Equal(t, float64(0), r.JSON["realtime_requests"])
	require.Equal(t, "NL-TNM", r.JSON["party"])
	require.Equal(t, "ALWAYS1", r.JSON["token"].(map[string]any)["uid"])
	require.Nil(t, r.JSON["authorization_reference"])
	n.cache(conn, wireToken("NL", "TNM", "ALWAYS0", false, token.WhitelistAlways))
	decision(t, n.authorize(here("ALWAYS0")), false, authz.ReasonInvalid, authz.SourceCache)
	require.Equal(t, 0, f.requests())

	// No roaming agreement with the token's eMSP: denied without asking.
	n.cache(other, wireToken("BE", "NOA", "NOAGR", true, token.WhitelistAlways))
	decision(t, n.authorize(here("NOAGR")), false, authz.ReasonNoAgreement, authz.SourceCache)

	// ALLOWED: asked in real time; the answer, its reference, its info and
	// its restriction to E2 come back; the request carries the place.
	n.cache(conn, wireToken("NL", "TNM", "ALLOWED1", true, token.WhitelistAllowed))
	answer("ALLOWED1", token.AllowedAllowed, map[string]any{"authorization_reference": "REF-1",
		"location": map[string]any{"location_id": "LOC1", "evse_uids": []string{"E2"}}, "info": map[string]any{"language": "en", "text": "Welcome"}})
	r = n.authorize(here("ALLOWED1", "token_type", "RFID", "connector_ids", nil))
	decision(t, r, true, authz.ReasonAuthorized, authz.SourceRealtime)
	require.Equal(t, []any{"E2"}, r.JSON["evse_uids"])
	require.Equal(t, "REF-1", r.JSON["authorization_reference"])
	require.Equal(t, "Welcome", r.JSON["info"].(map[string]any)["text"])
	require.Equal(t, conn.String(), r.JSON["connection_id"])
	req, body := f.last()
	require.Equal(t, "/tokens/ALLOWED1/authorize", req.URL.Path)
	require.Equal(t, "RFID", req.URL.Query().Get("type"))
	require.Equal(t, map[string]any{"location_id": "LOC1", "evse_uids": []any{"E1", "E2"}}, body)
	require.Equal(t, "Token "+base64.StdEncoding.EncodeToString([]byte("token-for-NL-TNM")), req.Header.Get("Authorization"), "their token, Base64")
	require.Equal(t, "NL", req.Header.Get("OCPI-from-country-code"))
	require.Equal(t, "RNC", req.Header.Get("OCPI-from-party-id"))
	require.Equal(t, "TNM", req.Header.Get("OCPI-to-party-id"))

	// A restriction to EVSEs not asked for, or to another location, denies.
	n.cache(conn, wireToken("NL", "TNM", "ELSEWHERE", true, token.WhitelistAllowed))
	answer("ELSEWHERE", token.AllowedAllowed, map[string]any{"location": map[string]any{"location_id": "LOC2"}})
	decision(t, n.authorize(here("ELSEWHERE")), false, authz.ReasonEVSENotAllowed, authz.SourceRealtime)

	// The eMSP's refusals, whatever the cache says.
	for uid, c := range map[string]struct {
		wl      token.Whitelist
		allowed token.Allowed
		reason  authz.Reason
	}{
		"BLOCKED1":  {token.WhitelistAllowed, token.AllowedBlocked, authz.ReasonBlocked},
		"EXPIRED1":  {token.WhitelistNever, token.AllowedExpired, authz.ReasonExpired},
		"NOCREDIT1": {token.WhitelistAllowedOffline, token.AllowedNoCredit, authz.ReasonNoCredit},
		"NOTHERE1":  {token.WhitelistNever, token.AllowedNotAllowed, authz.ReasonNotAllowed},
	} {
		n.cache(conn, wireToken("NL", "TNM", uid, true, c.wl))
		answer(uid, c.allowed, nil)
		decision(t, n.authorize(here(uid)), false, c.reason, authz.SourceRealtime)
	}
	// valid = false does not skip the real-time request: the eMSP's
	// current answer wins (mod_tokens → WhitelistType).
	n.cache(conn, wireToken("NL", "TNM", "REVIVED", false, token.WhitelistNever))
	answer("REVIVED", token.AllowedAllowed, nil)
	r = n.authorize(map[string]any{"token_uid": "REVIVED", "location_id": "LOC1"})
	decision(t, r, true, authz.ReasonAuthorized, authz.SourceRealtime)
	require.ElementsMatch(t, []any{"E1", "E2"}, r.JSON["evse_uids"], "the whole location")
	// A cached token the eMSP no longer knows.
	n.cache(conn, wireToken("NL", "TNM", "FORGOTTEN", true, token.WhitelistAllowed))
	decision(t, n.authorize(here("FORGOTTEN")), false, authz.ReasonUnknown, authz.SourceRealtime)

	// An unknown token is asked to the agreed eMSPs; the token it answers
	// with is cached.
	answer("NEWCARD", token.AllowedAllowed, map[string]any{"authorization_reference": "REF-2"})
	r = n.authorize(here("NEWCARD"))
	decision(t, r, true, authz.ReasonAuthorized, authz.SourceRealtime)
	require.Equal(t, "NL-TNM", r.JSON["party"])
	require.Equal(t, float64(1), r.JSON["realtime_requests"], "BE-NOA has no agreement: not asked")
	cached := n.must(200, n.do("GET", "/main/v1/partner-token?uid=newcard", nil)).items()
	require.Len(t, cached, 1)
	require.Equal(t, "realtime", cached[0]["received_via"])
	decision(t, n.authorize(here("NOBODY")), false, authz.ReasonUnknown, authz.SourceRealtime)
	// Naming a party nobody reaches: nobody to ask.
	r = n.authorize(here("NOBODY", "party", "DE*XYZ"))
	decision(t, r, false, authz.ReasonUnknown, authz.SourceCache)
	require.Equal(t, float64(0), r.JSON["realtime_requests"])

	// Every real-time request is in the exchange log (written in the
	// background).
	require.Eventually(t, func() bool {
		x := n.must(200, n.do("GET", "/main/v1/roaming-exchange?direction=outbound&method=POST&connection_id="+conn.String(), nil)).items()
		return len(x) == f.requests()
	}, 5*time.Second, 20*time.Millisecond)

	// The place must be ours.
	for field, b := range map[string]map[string]any{
		"location_id":      here("ALWAYS1", "location_id", "NOPE"),
		"evse_uids[0]":     here("ALWAYS1", "evse_uids", []string{"F1"}),
		"connector_ids[0]": here("ALWAYS1", "evse_uids", []string{"E2"}, "connector_ids", []string{"2"}),
		"connector_ids":    here("ALWAYS1", "connector_ids", []string{"1"}),
		"token_type":       here("ALWAYS1", "token_type", "BADGE"),
		"token_uid":        here(strings.Repeat("x", 37)),
		"party":            here("ALWAYS1", "party", "nowhere"),
	} {
		e := n.must(400, n.do("POST", "/main/v1/cpo-token-authorization", b))
		require.Contains(t, e.fields(), field, "%s", e.Raw)
	}
	r = n.authorize(here("ALWAYS1", "evse_uids", []string{"E1"}, "connector_ids", []string{"2"}))
	require.Equal(t, []any{"2"}, r.JSON["connector_ids"])
}

func TestCPOTokenAuthorizationFallback(t *testing.T) {
	t.Parallel()
	slow := newFakeEMSP(t, func(uid string) (int, any, time.Duration) {
		return 200, envelope(map[string]any{"allowed": "ALLOWED", "token": wireToken("NL", "SLO", uid, true, token.WhitelistAllowed)}), 5 * time.Second
	})
	broken := newFakeEMSP(t, func(uid string) (int, any, time.Duration) {
		return 500, map[string]any{"status_code": 3000, "timestamp": "2024-05-01T10:00:00Z"}, 0
	})
	type setup struct {
		node                  *ptNode
		slowConn, gone, error uuid.UUID
	}
	mk := func(p authz.Policy) setup {
		n := newPTNode(t, adminapi.CPOTokenOptions{AuthorizeTimeout: time.Second, AuthorizeFallback: p})
		s := setup{node: n, slowConn: n.emsp(slow.srv.URL, partner.PeerToPeer, true, "NL-SLO"),
			gone: n.emsp("http://127.0.0.1:1", partner.PeerToPeer, true, "NL-GON"), error: n.emsp(broken.srv.URL, partner.PeerToPeer, true, "NL-ERR")}
		for _, c := range []struct {
			conn uuid.UUID
			cc   string
		}{{s.slowConn, "SLO"}, {s.gone, "GON"}, {s.error, "ERR"}} {
			for _, wl := range []token.Whitelist{token.WhitelistAllowed, token.WhitelistAllowedOffline, token.WhitelistNever} {
				n.cache(c.conn, wireToken("NL", c.cc, c.cc+"-"+string(wl), true, wl))
				n.cache(c.conn, wireToken("NL", c.cc, c.cc+"-"+string(wl)+"-INVALID", false, wl))
			}
		}
		return s
	}
	type want struct {
		allowed bool
		reason  authz.Reason
	}
	for _, p := range []authz.Policy{authz.PolicyDeny, authz.PolicyAllowIfWhitelisted, authz.PolicyAllow} {
		s := mk(p)
		wants := map[token.Whitelist]want{
			token.WhitelistAllowedOffline: {true, authz.ReasonAllowedOffline},
			token.WhitelistAllowed:        {p != authz.PolicyDeny, map[bool]authz.Reason{true: authz.ReasonWhitelisted, false: authz.ReasonUnreachable}[p != authz.PolicyDeny]},
			token.WhitelistNever:          {p == authz.PolicyAllow, map[bool]authz.Reason{true: authz.ReasonFallbackAllow, false: authz.ReasonUnreachable}[p == authz.PolicyAllow]},
		}
		// Each whitelist and policy, against an eMSP that answers an error.
		for wl, w := range wants {
			r := s.node.authorize(here("ERR-" + string(wl)))
			decision(t, r, w.allowed, w.reason, authz.SourceFallback)
			require.Contains(t, r.JSON["partner_error"], "500", "%s", r.Raw)
			decision(t, s.node.authorize(here("ERR-"+string(wl)+"-INVALID")), false, authz.ReasonInvalid, authz.SourceFallback)
		}
		if p == authz.PolicyAllowIfWhitelisted {
			// A timeout and an unreachable eMSP fall back alike, within
			// the timeout (the slow eMSP would answer ALLOWED after 5 s).
			for _, cc := range []string{"SLO", "GON"} {
				for _, wl := range []token.Whitelist{token.WhitelistAllowedOffline, token.WhitelistNever} {
					w := wants[wl]
					// The decision itself proves the timeout: had the node
					// waited, the slow eMSP's ALLOWED would have decided.
					r := s.node.authorize(here(cc + "-" + string(wl)))
					decision(t, r, w.allowed, w.reason, authz.SourceFallback)
					require.NotNil(t, r.JSON["partner_error"], "%s", r.Raw)
				}
			}
			decision(t, s.node.authorize(here("SLO-NEVER-INVALID")), false, authz.ReasonInvalid, authz.SourceFallback)
		}
		// An unknown token that no eMSP answers for.
		r := s.node.authorize(here("UNKNOWN"))
		if p == authz.PolicyAllow {
			decision(t, r, true, authz.ReasonFallbackAllow, authz.SourceFallback)
		} else {
			decision(t, r, false, authz.ReasonUnreachable, authz.SourceFallback)
		}
		require.Equal(t, float64(3), r.JSON["realtime_requests"])
	}
}

func TestCPOTokenAuthorizationThroughHub(t *testing.T) {
	t.Parallel()
	hub := newFakeEMSP(t, func(uid string) (int, any, time.Duration) {
		return 200, envelope(map[string]any{"allowed": "ALLOWED", "token": wireToken("DE", "BEH", uid, true, token.WhitelistNever),
			"authorization_reference": "HUB-REF"}), 0
	})
	n := newPTNode(t, adminapi.CPOTokenOptions{AuthorizeTimeout: 10 * time.Second})
	conn := n.emsp(hub.srv.URL, partner.Hub, true, "NL-HUB", "DE-BEH", "FR-BEH")
	// An unknown token: one Open Routing Request to the hub (no OCPI-to
	// headers), not one per party behind it.
	r := n.authorize(here("VIAHUB"))
	decision(t, r, true, authz.ReasonAuthorized, authz.SourceRealtime)
	require.Equal(t, float64(1), r.JSON["realtime_requests"])
	require.Equal(t, "DE-BEH", r.JSON["party"], "the party that answered")
	require.Equal(t, "HUB-REF", r.JSON["authorization_reference"])
	req, _ := hub.last()
	require.Empty(t, req.Header.Get("OCPI-to-party-id"))
	require.Empty(t, req.Header.Get("OCPI-to-country-code"))
	// The answer's token is now cached under its party; asking again
	// routes the request to that party through the hub.
	r = n.authorize(here("VIAHUB"))
	decision(t, r, true, authz.ReasonAuthorized, authz.SourceRealtime)
	require.Equal(t, conn.String(), r.JSON["connection_id"])
	req, _ = hub.last()
	require.Equal(t, "BEH", req.Header.Get("OCPI-to-party-id"))
	require.Equal(t, "DE", req.Header.Get("OCPI-to-country-code"))
	require.Equal(t, 2, hub.requests())
}

// oaPartnerTokens exercises the partner-token operations for the OpenAPI
// contract test.
func oaPartnerTokens(t *testing.T, c *oaClient, tag string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	cc := "P" + strings.ToUpper(tag[:2])
	cn := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "tokens " + tag, Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	cn.Registered(partner.NewToken(), "their", "http://127.0.0.1:1/versions", "2.2.1",
		[]partner.Endpoint{{Identifier: "tokens", Role: "SENDER", URL: "http://127.0.0.1:1/tokens"}}, nil, "partner", now)
	require.NoError(t, db.SaveConnection(ctx, testDB.Pool, cn, true))
	tok := wireToken("NL", cc[:3], "OA-"+tag, true, token.WhitelistAlways)
	_, _, err := db.SavePartnerToken(ctx, testDB.Pool, cn.ID, tok, db.ViaPush, now)
	require.NoError(t, err)

	l := c.do(200, "GET", "/main/v1/partner-token?page_size=1&party=NL-"+cc[:3]+"&valid=true&connection_id="+cn.ID.String()+"&uid=oa-"+tag+"&type=RFID&contract_id="+tok.ContractID, nil)
	require.Len(t, l.items(), 1)
	id := l.items()[0]["id"].(string)
	c.do(200, "GET", l.str("link_next"), nil)
	c.do(200, "GET", "/main/v1/partner-token/"+id, nil)
	c.do(400, "GET", "/main/v1/partner-token/"+uuid.NewString(), nil)
	c.do(400, "GET", "/main/v1/partner-token/ext_ref.x", nil, oaDocRejects())
	c.do(400, "GET", "/main/v1/partner-token?valid=maybe", nil, oaDocRejects())
	c.do(400, "GET", "/main/v1/partner-token?party=x", nil)
	c.do(400, "GET", "/main/v1/partner-token?after="+uuid.NewString(), nil)

	c.do(200, "GET", "/main/v1/roaming-connection/"+cn.ID.String()+"/token-pull", nil)
	p := c.do(202, "POST", "/main/v1/roaming-connection/"+cn.ID.String()+"/token-pull", map[string]any{"full": true, "typo": 1})
	require.Equal(t, "typo", p.Header.Get("X-RN-Unknown-Fields"))
	require.Equal(t, true, p.JSON["full_requested"])
	c.do(202, "POST", "/main/v1/roaming-connection/"+cn.ID.String()+"/token-pull", nil)
	pending := c.do(201, "POST", "/main/v1/roaming-connection", map[string]any{"name": "pending " + tag})
	c.do(400, "POST", "/main/v1/roaming-connection/"+pending.str("id")+"/token-pull", nil)
	c.do(400, "POST", "/main/v1/roaming-connection/"+cn.ID.String()+"/token-pull", map[string]any{"full": "yes"}, oaDocRejects())

	// The decision: a location of ours, a token whose eMSP has no agreement.
	lu := ocpi.NewDateTime(now)
	loc := db.CPOLocation{ID: uuid.Must(uuid.NewV7()), Location: ocpi.Location{CountryCode: "NL", PartyID: "OAC", ID: "OA-" + tag, Address: "a",
		City: "c", Country: "NLD", TimeZone: "Europe/Amsterdam", LastUpdated: lu}, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, db.SaveCPOLocation(ctx, testDB.Pool, loc, true))
	require.NoError(t, db.SaveCPOEVSE(ctx, testDB.Pool, db.CPOEVSE{ID: uuid.Must(uuid.NewV7()), LocationUUID: loc.ID, LocationID: loc.Location.ID,
		EVSE: ocpi.EVSE{UID: "OA-E-" + tag, Status: "AVAILABLE", LastUpdated: lu, Connectors: []ocpi.Connector{{ID: "1", Standard: "IEC_62196_T2",
			Format: "SOCKET", PowerType: "AC_3_PHASE", LastUpdated: lu}}}, StatusUpdatedAt: now, CreatedAt: now, UpdatedAt: now}, true))
	r := c.do(200, "POST", "/main/v1/cpo-token-authorization", map[string]any{"token_uid": "oa-" + tag, "location_id": loc.Location.ID,
		"evse_uids": []string{"OA-E-" + tag}, "connector_ids": []string{"1"}, "extra": 1})
	require.Equal(t, false, r.JSON["allowed"])
	require.Equal(t, "no_roaming_agreement", r.JSON["reason"])
	require.Equal(t, "extra", r.Header.Get("X-RN-Unknown-Fields"))
	c.do(400, "POST", "/main/v1/cpo-token-authorization", map[string]any{"location_id": loc.Location.ID}, oaDocRejects())
	c.do(400, "POST", "/main/v1/cpo-token-authorization", map[string]any{"token_uid": "x", "location_id": "OA-NO-SUCH-" + tag})
}
