package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/domain/token"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/ocpi/ocpitest"
	"github.com/roamnode/roamnode/roaming"
	"github.com/roamnode/roamnode/worker"
)

// tokenSender is a partner eMSP's Tokens Sender list (mod_tokens → Sender
// GET): pages of at most 10 oldest first, date filters, Link headers, and
// the envelope timestamp as the partner's clock. failOffsets makes the page
// at an offset fail once with HTTP 500.
type tokenSender struct {
	t           *testing.T
	srv         *httptest.Server
	mu          sync.Mutex
	tokens      []map[string]any // in last_updated order
	clock       time.Time
	failOffsets map[int]bool
	seen        []url.Values
}

func newTokenSender(t *testing.T) *tokenSender {
	s := &tokenSender{t: t, clock: time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC), failOffsets: map[int]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *tokenSender) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ocpitest.CheckRequest(r.Method, "/ocpi/2.2.1/emsp/tokens?"+r.URL.RawQuery, r.Header, nil); err != nil {
		s.t.Errorf("token list request does not conform: %v", err)
	}
	q := r.URL.Query()
	s.seen = append(s.seen, q)
	offset, _ := strconv.Atoi(q.Get("offset"))
	limit := 10
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l < limit {
		limit = l
	}
	if s.failOffsets[offset] {
		delete(s.failOffsets, offset)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var match []map[string]any
	for _, tok := range s.tokens {
		lu, _ := time.Parse(time.RFC3339, tok["last_updated"].(string))
		if from := q.Get("date_from"); from != "" {
			f, err := time.Parse(time.RFC3339, from)
			require.NoError(s.t, err)
			if lu.Before(f) {
				continue
			}
		}
		match = append(match, tok)
	}
	end := min(offset+limit, len(match))
	page := []map[string]any{}
	if offset < end {
		page = match[offset:end]
	}
	if end < len(match) {
		next := url.Values{"offset": {strconv.Itoa(end)}, "limit": {strconv.Itoa(limit)}}
		if f := q.Get("date_from"); f != "" {
			next.Set("date_from", f)
		}
		w.Header().Set("Link", "<"+s.srv.URL+"/tokens?"+next.Encode()+`>; rel="next"`)
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(len(match)))
	w.Header().Set("X-Limit", strconv.Itoa(limit))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": page, "status_code": 1000, "timestamp": s.clock.Format(time.RFC3339)})
}

// put adds or replaces a token (kept in last_updated order).
func (s *tokenSender) put(cc, pid, uid string, valid bool, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = slices.DeleteFunc(s.tokens, func(t map[string]any) bool { return t["uid"] == uid && t["party_id"] == pid })
	s.tokens = append(s.tokens, map[string]any{"country_code": cc, "party_id": pid, "uid": uid, "type": "RFID", "contract_id": cc + pid + "C" + uid,
		"issuer": "Partner", "valid": valid, "whitelist": "ALLOWED", "last_updated": at.UTC().Format(time.RFC3339)})
	slices.SortStableFunc(s.tokens, func(a, b map[string]any) int {
		return cmpString(a["last_updated"].(string), b["last_updated"].(string))
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *tokenSender) requests() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

// emspConnection registers a connection to the sender holding eMSP party
// NL-<pid>.
func emspConnection(t *testing.T, senderURL, pid string) uuid.UUID {
	ctx := context.Background()
	now := time.Now().UTC()
	roles := []partner.CredentialsRole{{Role: partner.RoleEMSP, CountryCode: "NL", PartyID: pid, Name: "eMSP " + pid}}
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "emsp " + pid, Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	c.Registered(partner.NewToken(), "their-"+pid, senderURL+"/versions", "2.2.1",
		[]partner.Endpoint{{Identifier: "tokens", Role: "SENDER", URL: senderURL + "/tokens"}}, roles, "partner", now)
	require.NoError(t, db.SaveConnection(ctx, testDB.Pool, c, true))
	require.NoError(t, db.RoamingStore{Pool: testDB.Pool}.InTx(ctx, func(tx roaming.Tx) error { return tx.LinkParties(ctx, c.ID, roles) }))
	return c.ID
}

func cachedCount(t *testing.T, connID uuid.UUID) int {
	var n int
	require.NoError(t, testDB.Pool.QueryRow(context.Background(), "SELECT count(*) FROM partner_token WHERE connection_id = $1", connID).Scan(&n))
	return n
}

func TestTokenPullPagingResumeIncremental(t *testing.T) {
	ctx := context.Background()
	d := worker.Deps{Pool: testDB.Pool, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s := newTokenSender(t)
	pid := "T" + fmt.Sprintf("%02d", time.Now().UnixNano()%100)
	conn := emspConnection(t, s.srv.URL, pid)
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 25; i++ {
		s.put("NL", pid, fmt.Sprintf("U%02d", i), true, base.Add(time.Duration(i)*time.Minute))
	}
	s.put("XX", "FOR", "FOREIGN", true, base.Add(30*time.Minute)) // not a party of this connection
	s.tokens = append(s.tokens, map[string]any{"country_code": "NL", "party_id": pid, "uid": "BROKEN", "last_updated": base.Add(31 * time.Minute).Format(time.RFC3339)})
	puller := &roaming.TokenPuller{Client: roaming.NewClient(roaming.Options{MaxRetries: -1, Timeout: 5 * time.Second}, nil), Store: db.PartnerTokenStore{Pool: testDB.Pool}}

	// The third page fails: the first two pages are stored, with the
	// cursor at the third.
	s.failOffsets[20] = true
	require.NoError(t, worker.RunTokenPull(ctx, d, puller, conn))
	st, err := db.TokenPull(ctx, testDB.Pool, conn)
	require.NoError(t, err)
	require.NotNil(t, st.NextUrl)
	require.Contains(t, *st.NextUrl, "offset=20")
	require.NotNil(t, st.LastError)
	require.Nil(t, st.DateFrom, "no full pull completed yet")
	require.Nil(t, st.LeaseUntil, "a failed run releases its lease")
	require.Equal(t, int32(2), st.RunPages)
	require.Equal(t, 20, cachedCount(t, conn))
	due, err := db.TokenPullsDue(ctx, testDB.Pool, time.Hour)
	require.NoError(t, err)
	require.Contains(t, due, conn, "an interrupted pull is due")

	// The next run resumes at the third page, not at the start.
	n := len(s.requests())
	require.NoError(t, worker.RunTokenPull(ctx, d, puller, conn))
	req := s.requests()[n]
	require.Equal(t, "20", req.Get("offset"))
	require.Equal(t, 25, cachedCount(t, conn), "every token of the connection's party, once")
	st, err = db.TokenPull(ctx, testDB.Pool, conn)
	require.NoError(t, err)
	require.Nil(t, st.NextUrl)
	require.Nil(t, st.LastError)
	require.Equal(t, int32(2), st.RunSkipped, "the foreign party's token and the broken object")
	require.NotNil(t, st.DateFrom)
	require.Equal(t, s.clock, st.DateFrom.UTC(), "the next pull starts from the partner's clock at the start of this one")
	due, err = db.TokenPullsDue(ctx, testDB.Pool, time.Hour)
	require.NoError(t, err)
	require.NotContains(t, due, conn, "completed within the interval")
	due, err = db.TokenPullsDue(ctx, testDB.Pool, 0)
	require.NoError(t, err)
	require.Contains(t, due, conn, "due again after the interval")

	// Incremental: only what changed since; a token pushed to us with a
	// newer last_updated than the partner's list is not rolled back.
	s.mu.Lock()
	s.clock = s.clock.Add(time.Hour)
	s.mu.Unlock()
	s.put("NL", pid, "U03", false, s.clock.Add(-10*time.Minute))
	s.put("NL", pid, "NEW", true, s.clock.Add(-5*time.Minute))
	s.put("NL", pid, "U04", false, s.clock.Add(-5*time.Minute))
	pushed := rfid("NL", pid, "U04", true, s.clock) // newer than the list's U04
	_, _, err = db.SavePartnerToken(ctx, testDB.Pool, conn, pushed, db.ViaPush, time.Now())
	require.NoError(t, err)
	n = len(s.requests())
	require.NoError(t, worker.RunTokenPull(ctx, d, puller, conn))
	req = s.requests()[n]
	require.Equal(t, "2024-06-01T12:00:00Z", req.Get("date_from"))
	st, _ = db.TokenPull(ctx, testDB.Pool, conn)
	require.Equal(t, int32(3), st.RunTokens)
	require.Equal(t, int32(1), st.RunPages)
	require.Equal(t, 26, cachedCount(t, conn))
	u03, err := db.PartnerTokenByKey(ctx, testDB.Pool, partner.PartyRef{CountryCode: "NL", PartyID: pid}, "u03", "RFID", false)
	require.NoError(t, err)
	require.False(t, u03.Token.Valid)
	require.Equal(t, db.ViaPull, u03.ReceivedVia)
	u04, err := db.PartnerTokenByKey(ctx, testDB.Pool, partner.PartyRef{CountryCode: "NL", PartyID: pid}, "U04", "RFID", false)
	require.NoError(t, err)
	require.True(t, u04.Token.Valid, "the newer push wins over the older pulled version")

	// A requested full pull forgets date_from.
	_, err = db.RequestTokenPull(ctx, testDB.Pool, conn, true)
	require.NoError(t, err)
	due, _ = db.TokenPullsDue(ctx, testDB.Pool, time.Hour)
	require.Contains(t, due, conn, "a requested pull is due")
	n = len(s.requests())
	require.NoError(t, worker.RunTokenPull(ctx, d, puller, conn))
	require.Empty(t, s.requests()[n].Get("date_from"))
	st, _ = db.TokenPull(ctx, testDB.Pool, conn)
	require.False(t, st.FullRequested)
	require.Nil(t, st.RequestedAt)
	require.Equal(t, int32(3), st.RunPages)
}

func TestTokenPullLease(t *testing.T) {
	ctx := context.Background()
	store := db.PartnerTokenStore{Pool: testDB.Pool}
	s := newTokenSender(t)
	conn := emspConnection(t, s.srv.URL, "LSE")
	_, ok, err := store.Claim(ctx, conn, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = store.Claim(ctx, conn, time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "a held lease keeps a second worker out")
	d := worker.Deps{Pool: testDB.Pool, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	puller := &roaming.TokenPuller{Client: roaming.NewClient(roaming.Options{MaxRetries: -1}, nil), Store: store}
	require.NoError(t, worker.RunTokenPull(ctx, d, puller, conn))
	require.Empty(t, s.requests(), "the busy connection was not pulled")
	due, err := db.TokenPullsDue(ctx, testDB.Pool, time.Hour)
	require.NoError(t, err)
	require.NotContains(t, due, conn, "a running pull is not due")
	// A lease that expired (its worker died) can be taken over.
	require.NoError(t, store.Fail(ctx, conn, "test"))
	_, ok, err = store.Claim(ctx, conn, -time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = store.Claim(ctx, conn, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
}

func rfid(cc, pid, uid string, valid bool, at time.Time) ocpi.Token {
	return ocpi.Token{CountryCode: cc, PartyID: pid, UID: uid, Type: token.TypeRFID, ContractID: cc + pid + "C" + uid, Issuer: "Partner",
		Valid: valid, Whitelist: token.WhitelistAllowed, LastUpdated: ocpi.NewDateTime(at)}
}
