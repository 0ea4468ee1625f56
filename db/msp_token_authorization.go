package db

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// MSPTokenAuthorization is one real-time authorization we answered
// (mod_tokens → POST …/authorize). Its ID, as text, is the
// authorization_reference the CPO puts in the Session and CDR of the charge,
// so that they can be matched to the token and the decision later.
type MSPTokenAuthorization struct {
	ID      uuid.UUID
	TokenID uuid.UUID
	// ConnectionID is the partner connection that asked.
	ConnectionID *uuid.UUID
	// CountryCode and PartyID are the requesting party (OCPI-from-*), when given.
	CountryCode, PartyID string
	// LocationID and EVSEUIDs are the LocationReferences of the request.
	LocationID string
	EVSEUIDs   []string
	// Allowed is the AllowedType answered; Reason the validity reason behind it.
	Allowed, Reason string
	At              time.Time
}

// insertAuthorizations writes one batch of the authorization log in one
// statement: one array per column, unnested into rows. Empty strings and
// the nil UUID stand for NULL; evse_uids travel as array literals. (sqlc
// cannot type a multi-argument unnest, hence a hand-written statement.)
const insertAuthorizations = `INSERT INTO msp_token_authorization (id, token_id, connection_id, country_code, party_id,
    location_id, evse_uids, allowed, reason, at)
SELECT u.id, u.token_id, NULLIF(u.connection_id, '00000000-0000-0000-0000-000000000000'::uuid), NULLIF(u.country_code, ''),
    NULLIF(u.party_id, ''), NULLIF(u.location_id, ''), NULLIF(u.evse_uids, '')::text[], u.allowed, u.reason, u.at
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
    $10::timestamptz[]) AS u(id, token_id, connection_id, country_code, party_id, location_id, evse_uids, allowed, reason, at)`

// AuthorizationLog stores real-time authorizations with group commit: an
// authorization is answered only once its row is committed (an
// authorization_reference a CPO holds always exists), yet concurrent
// requests share one round trip and one commit. Write appends to a pending
// list; when fewer than maxFlushers flushes run, the caller becomes a
// flusher and writes everything pending (its own row included) with one
// multi-row INSERT (one statement, one commit), then keeps flushing what
// arrived meanwhile. A failed batch fails every request in it (they answer
// 3000 and the CPO retries); nothing is answered that was not stored. Under load batches grow by
// themselves; alone, a request pays one insert. There is no background
// goroutine to start or stop.
type AuthorizationLog struct {
	pool        *pgxpool.Pool
	mu          sync.Mutex
	pending     []*authWrite
	flushing    int
	maxFlushers int
	maxBatch    int
}

type authWrite struct {
	a    MSPTokenAuthorization
	done chan error
}

// NewAuthorizationLog returns the log. Two concurrent flushers keep one
// batch in flight while the next one fills.
func NewAuthorizationLog(pool *pgxpool.Pool) *AuthorizationLog {
	return &AuthorizationLog{pool: pool, maxFlushers: 2, maxBatch: 256}
}

// Write stores a and returns once it is committed (or failed). It does not
// give up when ctx ends, because the row may already be in a batch on the
// wire; a request's context ends with the request anyway.
func (l *AuthorizationLog) Write(a MSPTokenAuthorization) error {
	w := &authWrite{a: a, done: make(chan error, 1)}
	l.mu.Lock()
	l.pending = append(l.pending, w)
	lead := l.flushing < l.maxFlushers
	if lead {
		l.flushing++
	}
	l.mu.Unlock()
	if lead {
		l.flush()
	}
	return <-w.done
}

// flush writes pending batches until nothing is pending.
func (l *AuthorizationLog) flush() {
	for {
		l.mu.Lock()
		n := min(len(l.pending), l.maxBatch)
		if n == 0 {
			l.flushing--
			l.mu.Unlock()
			return
		}
		batch := make([]*authWrite, n)
		copy(batch, l.pending)
		l.pending = append(l.pending[:0], l.pending[n:]...)
		l.mu.Unlock()
		err := l.insert(batch)
		for _, w := range batch {
			w.done <- err
		}
	}
}

// insert writes one batch: one statement, one round trip, one commit.
func (l *AuthorizationLog) insert(batch []*authWrite) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := len(batch)
	ids, tokens, conns := make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n)
	countries, parties, locations, evses := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	alloweds, reasons, ats := make([]string, n), make([]string, n), make([]time.Time, n)
	for i, w := range batch {
		a := w.a
		ids[i], tokens[i], countries[i], parties[i], locations[i] = a.ID, a.TokenID, a.CountryCode, a.PartyID, a.LocationID
		if a.ConnectionID != nil {
			conns[i] = *a.ConnectionID
		}
		evses[i], alloweds[i], reasons[i], ats[i] = textArray(a.EVSEUIDs), a.Allowed, a.Reason, a.At
	}
	_, err := l.pool.Exec(ctx, insertAuthorizations, ids, tokens, conns, countries, parties, locations, evses, alloweds, reasons, ats)
	return err
}

// textArray renders a Postgres text[] literal ({"a","b"}), "" for none.
func textArray(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for j := 0; j < len(s); j++ {
			if s[j] == '"' || s[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[j])
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// MSPTokenAuthorizationByID loads a stored authorization (for matching a
// Session or CDR by its authorization_reference).
func MSPTokenAuthorizationByID(ctx context.Context, q Querier, id uuid.UUID) (MSPTokenAuthorization, error) {
	r, err := Q(q).GetMSPTokenAuthorization(ctx, id)
	if err != nil {
		return MSPTokenAuthorization{}, notFound(err, "authorization", id)
	}
	return MSPTokenAuthorization{ID: r.ID, TokenID: r.TokenID, ConnectionID: r.ConnectionID, CountryCode: mspDeref(r.CountryCode),
		PartyID: mspDeref(r.PartyID), LocationID: mspDeref(r.LocationID), EVSEUIDs: r.EvseUids, Allowed: r.Allowed, Reason: r.Reason,
		At: r.At}, nil
}
