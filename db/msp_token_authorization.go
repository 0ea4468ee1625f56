package db

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
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

// insertAuthorization is the one statement of the authorization log.
const insertAuthorization = `INSERT INTO msp_token_authorization (id, token_id, connection_id, country_code, party_id,
    location_id, evse_uids, allowed, reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// AuthorizationLog stores real-time authorizations with group commit: an
// authorization is answered only once its row is committed (an
// authorization_reference a CPO holds always exists), yet concurrent
// requests share one round trip and one commit. Write appends to a pending
// list; when fewer than maxFlushers flushes run, the caller becomes a
// flusher and writes everything pending (its own row included) as one
// pipelined batch of prepared INSERTs in a single implicit transaction,
// then keeps flushing what arrived meanwhile. Under load batches grow by
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

// insert writes one batch: one round trip, one commit.
func (l *AuthorizationLog) insert(batch []*authWrite) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b pgx.Batch
	for _, w := range batch {
		a := w.a
		b.Queue(insertAuthorization, a.ID, a.TokenID, a.ConnectionID, nullable(a.CountryCode), nullable(a.PartyID),
			nullable(a.LocationID), a.EVSEUIDs, a.Allowed, a.Reason, a.At)
	}
	// A batch outside a transaction runs as one implicit transaction: all
	// rows commit together or none does.
	return l.pool.SendBatch(ctx, &b).Close()
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
