package db

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/token"
)

// lookupIssuedTokens is IssuedTokenByUID for many (uid_key, type) pairs in
// one statement: the keys travel as two arrays, each pair is one probe of
// the (uid_key, type) index. It returns uid_key and type first so that rows
// can be handed back to the request that asked. (sqlc cannot type a
// multi-argument unnest, hence a hand-written statement; the columns after
// the first two are those of IssuedTokenByUID.)
const lookupIssuedTokens = `SELECT t.uid_key, t.type, t.id, t.country_code, t.party_id, t.uid, t.evco_id, t.issuer, t.visual_number,
    t.group_id, t.language, t.whitelist, t.updated_at,
    l.id, l.valid_from, l.valid_until, l.defunct, l.updated_at,
    s.id, s.valid_from, s.valid_until, s.defunct, s.updated_at
FROM unnest($1::text[], $2::text[]) AS k(uid_key, type)
JOIN msp_token t ON t.uid_key = k.uid_key AND t.type = k.type
LEFT JOIN msp_token_link l ON l.token_id = t.id
LEFT JOIN msp_token_subscription s ON s.id = l.subscription_id
ORDER BY t.id`

// TokenLookup answers IssuedTokenByUID for concurrent requests with shared
// statements (group lookup), the read-side twin of AuthorizationLog: a
// lookup joins the pending list; when fewer than maxFlushers batches run,
// the caller runs one for everything pending (its own key included) and
// keeps going while more arrive. Under load one statement answers many
// requests, which divides Postgres' per-statement cost (parse/bind,
// executor start-up, one message exchange each way) and the node's round
// trips by the batch size; alone, a request pays one statement, as with
// IssuedTokenByUID. The answer is read from Postgres at the moment of the
// request, never cached, so a token blocked (link or subscription ended or
// defunct) is refused by the next lookup.
type TokenLookup struct {
	pool        *pgxpool.Pool
	mu          sync.Mutex
	pending     []*tokenLookup
	flushing    int
	maxFlushers int
	maxBatch    int
}

type tokenLookup struct {
	key, typ string
	tok      token.Issued
	found    bool
	err      error
	done     chan struct{}
}

// NewTokenLookup returns the lookup. Two concurrent batches keep one
// statement in flight while the next batch fills.
func NewTokenLookup(pool *pgxpool.Pool) *TokenLookup {
	return &TokenLookup{pool: pool, maxFlushers: 2, maxBatch: 128}
}

// Issued is IssuedTokenByUID through a shared statement: the token with
// this UID (ignoring case) and type with all its links; an unknown token is
// a fault.NotFound. It does not give up when ctx ends, because the key may
// already be in a batch on the wire; the batch has its own timeout.
func (l *TokenLookup) Issued(uid token.UID, typ token.Type) (token.Issued, error) {
	r := &tokenLookup{key: uid.Key(), typ: string(typ), done: make(chan struct{})}
	l.mu.Lock()
	l.pending = append(l.pending, r)
	lead := l.flushing < l.maxFlushers
	if lead {
		l.flushing++
	}
	l.mu.Unlock()
	if lead {
		l.run()
	}
	<-r.done
	if r.err != nil {
		return token.Issued{}, r.err
	}
	if !r.found {
		return token.Issued{}, fault.NotFound("not_found", "token %s of type %s does not exist", uid, typ)
	}
	return r.tok, nil
}

// run answers pending batches until nothing is pending.
func (l *TokenLookup) run() {
	for {
		l.mu.Lock()
		n := min(len(l.pending), l.maxBatch)
		if n == 0 {
			l.flushing--
			l.mu.Unlock()
			return
		}
		batch := make([]*tokenLookup, n)
		copy(batch, l.pending)
		l.pending = append(l.pending[:0], l.pending[n:]...)
		l.mu.Unlock()
		l.lookup(batch)
		for _, r := range batch {
			close(r.done)
		}
	}
}

// lookup runs one batch; a failure fails every request in it.
func (l *TokenLookup) lookup(batch []*tokenLookup) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Each key once: a key asked twice would join its token twice and
	// double its links.
	keys, types := make([]string, 0, len(batch)), make([]string, 0, len(batch))
	seen := make(map[[2]string]struct{}, len(batch))
	for _, r := range batch {
		if _, dup := seen[[2]string{r.key, r.typ}]; !dup {
			seen[[2]string{r.key, r.typ}] = struct{}{}
			keys, types = append(keys, r.key), append(types, r.typ)
		}
	}
	fail := func(err error) {
		for _, r := range batch {
			r.err = err
		}
	}
	rows, err := l.pool.Query(ctx, lookupIssuedTokens, keys, types)
	if err != nil {
		fail(err)
		return
	}
	defer rows.Close()
	// Rows come grouped by token; each group goes to every request that
	// asked for its (uid_key, type) (the same token may be asked twice).
	type group struct {
		key, typ string
		rows     []issuedRow
	}
	var groups []group
	for rows.Next() {
		var key string
		var r issuedRow
		if err := rows.Scan(&key, &r.Type, &r.ID, &r.CountryCode, &r.PartyID, &r.Uid, &r.EvcoID, &r.Issuer, &r.VisualNumber,
			&r.GroupID, &r.Language, &r.Whitelist, &r.UpdatedAt,
			&r.LinkID, &r.LinkValidFrom, &r.LinkValidUntil, &r.LinkDefunct, &r.LinkUpdatedAt,
			&r.SubID, &r.SubValidFrom, &r.SubValidUntil, &r.SubDefunct, &r.SubUpdatedAt); err != nil {
			fail(err)
			return
		}
		if len(groups) == 0 || groups[len(groups)-1].rows[0].ID != r.ID {
			groups = append(groups, group{key: key, typ: r.Type})
		}
		g := &groups[len(groups)-1]
		g.rows = append(g.rows, r)
	}
	if err := rows.Err(); err != nil {
		fail(err)
		return
	}
	for _, g := range groups {
		t := assembleIssued(g.rows)[0]
		for _, r := range batch {
			if r.key == g.key && r.typ == g.typ {
				r.tok, r.found = t, true
			}
		}
	}
}
