package db

import (
	"context"
	"encoding/binary"
	"math"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/token"
)

// lookupIssuedTokens is IssuedTokenByUID for many (uid_key, type) pairs in
// one statement: the keys travel as two arrays, each pair is one probe of
// the (uid_key, type) index. It returns uid_key and type first so that rows
// can be handed back to the request that asked. (sqlc cannot type a
// multi-argument unnest, hence a hand-written statement; the columns after
// the first two are those of IssuedTokenByUID.) There is no ORDER BY: the
// rows are grouped by token in Go, and starting a Sort node was 9 % of
// Postgres' CPU on this path (docs/performance.md, round 4). The last
// column is the charge authorization rules version (one scalar per
// statement; db.AuthorizationRules reloads when it moved).
const lookupIssuedTokens = `SELECT t.uid_key, t.type, t.id, t.country_code, t.party_id, t.uid, t.evco_id, t.issuer, t.visual_number,
    t.group_id, t.language, t.whitelist, t.updated_at,
    l.id, l.valid_from, l.valid_until, l.defunct, l.updated_at,
    s.id, s.valid_from, s.valid_until, s.defunct, s.updated_at,
    t.administration_id, s.plan_id, t.default_profile_type, t.energy_contract_supplier_name, t.energy_contract_contract_id,
    (SELECT version FROM msp_charge_authorization_rule_version)
FROM unnest($1::text[], $2::text[]) AS k(uid_key, type)
JOIN msp_token t ON t.uid_key = k.uid_key AND t.type = k.type
LEFT JOIN msp_token_link l ON l.token_id = t.id
LEFT JOIN msp_token_subscription s ON s.id = l.subscription_id`

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
	rules    int64 // the charge authorization rules version the statement saw
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
	t, _, err := l.IssuedWithRules(uid, typ)
	return t, err
}

// IssuedWithRules is Issued that also returns the charge authorization
// rules version read by the same statement (db.AuthorizationRules.At), and
// fills the token's AdministrationID and its subscriptions' PlanID.
func (l *TokenLookup) IssuedWithRules(uid token.UID, typ token.Type) (token.Issued, int64, error) {
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
		return token.Issued{}, 0, r.err
	}
	if !r.found {
		return token.Issued{}, 0, fault.NotFound("not_found", "token %s of type %s does not exist", uid, typ)
	}
	return r.tok, r.rules, nil
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
	// Rows are grouped by token (in arrival order, which the statement does
	// not fix); each group goes to every request that asked for its
	// (uid_key, type) (the same token may be asked twice).
	type group struct {
		key, typ string
		rows     []issuedRow
	}
	var groups []group
	byID := make(map[uuid.UUID]int, len(keys))
	var version int64
	raw := lookupRawColumns(rows.FieldDescriptions())
	for rows.Next() {
		var key string
		var r issuedRow
		if !raw || !decodeLookupRow(rows.RawValues(), &key, &r, &version) {
			if err := rows.Scan(&key, &r.Type, &r.ID, &r.CountryCode, &r.PartyID, &r.Uid, &r.EvcoID, &r.Issuer, &r.VisualNumber,
				&r.GroupID, &r.Language, &r.Whitelist, &r.UpdatedAt,
				&r.LinkID, &r.LinkValidFrom, &r.LinkValidUntil, &r.LinkDefunct, &r.LinkUpdatedAt,
				&r.SubID, &r.SubValidFrom, &r.SubValidUntil, &r.SubDefunct, &r.SubUpdatedAt,
				&r.AdministrationID, &r.SubPlanID, &r.DefaultProfileType, &r.EnergyContractSupplierName, &r.EnergyContractContractID,
				&version); err != nil {
				fail(err)
				return
			}
		}
		i, ok := byID[r.ID]
		if !ok {
			i = len(groups)
			byID[r.ID] = i
			groups = append(groups, group{key: key, typ: r.Type})
		}
		groups[i].rows = append(groups[i].rows, r)
	}
	if err := rows.Err(); err != nil {
		fail(err)
		return
	}
	for _, g := range groups {
		t := assembleIssued(g.rows)[0]
		for _, r := range batch {
			if r.key == g.key && r.typ == g.typ {
				r.tok, r.found, r.rules = t, true, version
			}
		}
	}
}

// lookupColumns are the types of lookupIssuedTokens' columns, in order.
var lookupColumns = [...]uint32{
	pgtype.TextOID, pgtype.TextOID, pgtype.UUIDOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID,
	pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TimestamptzOID,
	pgtype.UUIDOID, pgtype.TimestamptzOID, pgtype.TimestamptzOID, pgtype.BoolOID, pgtype.TimestamptzOID,
	pgtype.UUIDOID, pgtype.TimestamptzOID, pgtype.TimestamptzOID, pgtype.BoolOID, pgtype.TimestamptzOID,
	pgtype.UUIDOID, pgtype.UUIDOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.Int8OID,
}

// lookupRawColumns tells whether a result of lookupIssuedTokens has the
// expected types, in the formats pgx asks for, so that decodeLookupRow can read
// it; otherwise the rows go through pgx's Scan.
func lookupRawColumns(fds []pgconn.FieldDescription) bool {
	if len(fds) != len(lookupColumns) {
		return false
	}
	for i, fd := range fds {
		// pgx asks for text in text format (the same bytes); every other
		// type in binary.
		if fd.DataTypeOID != lookupColumns[i] || (fd.Format != pgtype.BinaryFormatCode && fd.DataTypeOID != pgtype.TextOID) {
			return false
		}
	}
	return true
}

// lookupNullables holds the targets of one row's nullable columns, so that
// a row costs one allocation for them instead of one per column.
type lookupNullables struct {
	visual, group, language, whitelist string
	profile, supplier, contract        string
	linkID, subID, planID              uuid.UUID
	linkFrom, linkUntil, linkUpdated   time.Time
	subFrom, subUntil, subUpdated      time.Time
	linkDefunct, subDefunct            bool
}

// decodeLookupRow is rows.Scan of one row of lookupIssuedTokens, reading
// the binary values directly (text: the bytes; uuid: 16 bytes; timestamptz:
// microseconds since 2000-01-01 UTC, as pgx decodes it, in the local zone;
// bool: 1 byte; int8: 8 bytes big-endian). pgx's Scan resolves a scan plan
// and an interface conversion per column and allocates every pointer
// target and string separately: scanning the (then) 26 columns was 5.6 % of the
// node's CPU per authorization (docs/performance.md, "Round 5"). The text
// columns of a row share one string. It gives false on any value it does
// not expect (an infinite timestamp, a NULL in a NOT NULL column, a wrong
// length), and the caller scans that row with pgx, which decides as
// before; a test compares the lookup with IssuedTokenByUID.
func decodeLookupRow(v [][]byte, key *string, r *issuedRow, version *int64) bool {
	if len(v) != len(lookupColumns) {
		return false
	}
	n := 0
	for i, oid := range lookupColumns {
		if oid == pgtype.TextOID {
			n += len(v[i])
		}
	}
	buf := make([]byte, 0, n)
	for i, oid := range lookupColumns {
		if oid == pgtype.TextOID {
			buf = append(buf, v[i]...)
		}
	}
	all, at := string(buf), 0
	text := func(i int) (string, bool) {
		if v[i] == nil {
			return "", false
		}
		s := all[at : at+len(v[i])]
		at += len(v[i])
		return s, true
	}
	ok := true
	must := func(i int) string {
		s, present := text(i)
		ok = ok && present
		return s
	}
	nb := new(lookupNullables)
	opt := func(i int, dst *string) *string {
		s, present := text(i)
		if !present {
			return nil
		}
		*dst = s
		return dst
	}
	*key, r.Type = must(0), must(1)
	ok = ok && rawUUID(v[2], &r.ID)
	r.CountryCode, r.PartyID, r.Uid, r.EvcoID, r.Issuer = must(3), must(4), must(5), must(6), must(7)
	r.VisualNumber, r.GroupID, r.Language, r.Whitelist = opt(8, &nb.visual), opt(9, &nb.group), opt(10, &nb.language), opt(11, &nb.whitelist)
	ok = ok && rawTime(v[12], &r.UpdatedAt)
	if v[13] != nil {
		r.LinkID = &nb.linkID
		ok = ok && rawUUID(v[13], &nb.linkID)
	}
	r.LinkValidFrom, ok = optTime(v[14], &nb.linkFrom, ok)
	r.LinkValidUntil, ok = optTime(v[15], &nb.linkUntil, ok)
	r.LinkDefunct, ok = optBool(v[16], &nb.linkDefunct, ok)
	r.LinkUpdatedAt, ok = optTime(v[17], &nb.linkUpdated, ok)
	if v[18] != nil {
		r.SubID = &nb.subID
		ok = ok && rawUUID(v[18], &nb.subID)
	}
	r.SubValidFrom, ok = optTime(v[19], &nb.subFrom, ok)
	r.SubValidUntil, ok = optTime(v[20], &nb.subUntil, ok)
	r.SubDefunct, ok = optBool(v[21], &nb.subDefunct, ok)
	r.SubUpdatedAt, ok = optTime(v[22], &nb.subUpdated, ok)
	ok = ok && rawUUID(v[23], &r.AdministrationID)
	if v[24] != nil {
		r.SubPlanID = &nb.planID
		ok = ok && rawUUID(v[24], &nb.planID)
	}
	r.DefaultProfileType, r.EnergyContractSupplierName = opt(25, &nb.profile), opt(26, &nb.supplier)
	r.EnergyContractContractID = opt(27, &nb.contract)
	if len(v[28]) != 8 {
		return false
	}
	*version = int64(binary.BigEndian.Uint64(v[28]))
	return ok
}

func rawUUID(b []byte, dst *uuid.UUID) bool {
	if len(b) != 16 {
		return false
	}
	copy(dst[:], b)
	return true
}

// microsecFromUnixEpochToY2K is Postgres' timestamp epoch (2000-01-01 UTC)
// in microseconds since the Unix epoch.
const microsecFromUnixEpochToY2K = 946684800 * 1000000

// rawTime decodes a binary timestamptz as pgx does (local zone); the
// infinities are left to pgx.
func rawTime(b []byte, dst *time.Time) bool {
	if len(b) != 8 {
		return false
	}
	us := int64(binary.BigEndian.Uint64(b))
	if us == math.MaxInt64 || us == math.MinInt64 {
		return false
	}
	*dst = time.Unix(microsecFromUnixEpochToY2K/1000000+us/1000000, (microsecFromUnixEpochToY2K%1000000*1000)+(us%1000000*1000))
	return true
}

func optTime(b []byte, dst *time.Time, ok bool) (*time.Time, bool) {
	if b == nil {
		return nil, ok
	}
	return dst, ok && rawTime(b, dst)
}

func optBool(b []byte, dst *bool, ok bool) (*bool, bool) {
	if b == nil {
		return nil, ok
	}
	if len(b) != 1 {
		return dst, false
	}
	*dst = b[0] != 0
	return dst, ok
}

// GenericPlanPool returns a pool of at most maxConns connections to base's
// database (same settings and type registrations) whose sessions plan
// prepared statements once, generically (plan_cache_mode =
// force_generic_plan), for the batched statements of real-time
// authorization (TokenLookup, AuthorizationLog). Their parameters are
// arrays whose length the planner sees in a custom plan, so for small
// batches it judges a custom plan cheaper than the generic one and plans
// every execution again: planning was 30 % of Postgres' CPU on that path
// (docs/performance.md, round 4). Their generic plan is the right one for
// every batch size (one probe of a unique index per key, one insert per
// row). The setting stays on these connections, so the node's other
// queries keep Postgres' default choice. The pool connects lazily;
// close it after the last batch.
func GenericPlanPool(base *pgxpool.Pool, maxConns int32) (*pgxpool.Pool, error) {
	cfg := base.Config()
	cfg.MaxConns, cfg.MinConns = maxConns, 0
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	return pgxpool.NewWithConfig(context.Background(), cfg)
}
