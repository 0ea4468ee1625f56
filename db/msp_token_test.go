package db_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/token"
)

// mspDB is a database with one administration, customer and plan.
type mspDB struct {
	t                     *testing.T
	d                     *dbtest.Database
	admin, customer, plan uuid.UUID
	now                   time.Time
}

func newMSPDB(t *testing.T) *mspDB {
	t.Helper()
	ctx := context.Background()
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	m := &mspDB{t: t, d: d, admin: uuid.Must(uuid.NewV7()), customer: uuid.Must(uuid.NewV7()), plan: uuid.Must(uuid.NewV7()),
		now: time.Now().UTC().Truncate(time.Minute)}
	seller := uuid.Must(uuid.NewV7())
	for _, s := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO seller (id, name, country, created_at, updated_at) VALUES ($1, 'S', 'NL', now(), now())", []any{seller}},
		{"INSERT INTO administration (id, seller_id, name, currency, created_at, updated_at) VALUES ($1, $2, 'A', 'EUR', now(), now())", []any{m.admin, seller}},
		{"INSERT INTO party (id, role, administration_id, name, country, entity_type, created_at, updated_at) VALUES ($1, 'customer', $2, 'C', 'NL', 'person', now(), now())", []any{m.customer, m.admin}},
	} {
		_, err := d.Pool.Exec(ctx, s.sql, s.args...)
		require.NoError(t, err)
	}
	require.NoError(t, db.SaveMSPTokenSubscriptionPlan(ctx, d.Pool, gen.MspTokenSubscriptionPlan{ID: m.plan, AdministrationID: m.admin,
		Name: "P", CreatedAt: m.now, UpdatedAt: m.now}, true))
	return m
}

func (m *mspDB) token(n int, updated time.Time) uuid.UUID {
	id := uuid.Must(uuid.NewV7())
	uid := fmt.Sprintf("Tok%04d", n)
	inst := fmt.Sprintf("%08d", n)
	e, err := token.ParseEVCOID("NLRNEC" + inst)
	require.NoError(m.t, err)
	require.NoError(m.t, db.SaveMSPToken(context.Background(), m.d.Pool, gen.MspToken{ID: id, AdministrationID: m.admin,
		EvcoID: e.WithCheckDigit().Normalized(), CountryCode: "NL", PartyID: "RNE", Uid: uid, UidKey: token.UID(uid).Key(), Type: "RFID",
		Issuer: "I", CreatedAt: updated, UpdatedAt: updated}, true))
	return id
}

func (m *mspDB) subscription(from time.Time, until *time.Time, defunct bool, updated time.Time) uuid.UUID {
	id := uuid.Must(uuid.NewV7())
	require.NoError(m.t, db.SaveMSPTokenSubscription(context.Background(), m.d.Pool, gen.MspTokenSubscription{ID: id, AdministrationID: m.admin,
		CustomerID: m.customer, PlanID: m.plan, ValidFrom: from, ValidUntil: until, Defunct: defunct, CreatedAt: updated, UpdatedAt: updated}, true))
	return id
}

func (m *mspDB) link(tok, sub uuid.UUID, from, until *time.Time, defunct bool, updated time.Time) error {
	return db.SaveMSPTokenLink(context.Background(), m.d.Pool, gen.MspTokenLink{ID: uuid.Must(uuid.NewV7()), TokenID: tok, SubscriptionID: sub,
		ValidFrom: from, ValidUntil: until, Defunct: defunct, CreatedAt: updated, UpdatedAt: updated}, true)
}

func tp(t time.Time) *time.Time { return &t }

// The SQL of the Tokens sender (filter and order by last_updated) and
// token.Issued.State compute the same last_updated, at any instant, for
// every shape of links: checked exactly with a one-microsecond date window.
func TestIssuedTokenLastUpdatedSQLMatchesGo(t *testing.T) {
	t.Parallel()
	m := newMSPDB(t)
	ctx := context.Background()
	base := m.now.Add(-24 * time.Hour)
	h := func(n int) time.Time { return m.now.Add(time.Duration(n) * time.Hour) }
	live := m.subscription(base, nil, false, base)
	ending := m.subscription(base, tp(h(3)), false, base.Add(time.Minute))
	starting := m.subscription(h(-5), nil, false, base.Add(2*time.Minute))
	dead := m.subscription(base, tp(h(7)), true, base.Add(3*time.Minute))

	var ids []uuid.UUID
	mk := func(links ...func(uuid.UUID)) {
		id := m.token(len(ids)+1, base.Add(time.Duration(len(ids))*time.Second))
		for _, l := range links {
			l(id)
		}
		ids = append(ids, id)
	}
	lk := func(sub uuid.UUID, from, until *time.Time, defunct bool, updatedSec int) func(uuid.UUID) {
		return func(tok uuid.UUID) {
			require.NoError(t, m.link(tok, sub, from, until, defunct, base.Add(time.Duration(updatedSec)*time.Second+30*time.Minute)))
		}
	}
	mk()                                                                               // no links
	mk(lk(live, nil, nil, false, 1))                                                   // open link
	mk(lk(live, tp(h(-2)), tp(h(2)), false, 2))                                        // boundaries on both sides of now
	mk(lk(ending, nil, nil, false, 3))                                                 // subscription ends in 3 h
	mk(lk(starting, nil, tp(h(9)), false, 4))                                          // subscription started 5 h ago
	mk(lk(dead, tp(h(-1)), nil, false, 5))                                             // defunct subscription: its bounds do not count
	mk(lk(live, tp(h(-3)), tp(h(1)), true, 6))                                         // defunct link
	mk(lk(live, tp(h(-4)), tp(h(4)), false, 7), lk(starting, tp(h(4)), nil, false, 8)) // hand-over in 4 h

	issued, err := db.IssuedTokens(ctx, m.d.Pool, ids)
	require.NoError(t, err)
	require.Len(t, issued, len(ids))
	for _, at := range []time.Time{h(-10), h(-1), m.now, h(2), h(3), h(4).Add(time.Second), h(100)} {
		for _, tok := range issued {
			lu := tok.State(at).LastUpdated
			in := func(from, to *time.Time) bool {
				p, err := db.ListIssuedTokens(ctx, m.d.Pool, db.IssuedTokenFilter{At: at, DateFrom: from, DateTo: to, Limit: 1000})
				require.NoError(t, err)
				for _, x := range p.Tokens {
					if x.ID == tok.ID {
						return true
					}
				}
				return false
			}
			require.True(t, in(&lu, tp(lu.Add(time.Microsecond))), "token %s at %s: SQL last_updated is not %s", tok.UID, at, lu)
			require.False(t, in(tp(lu.Add(time.Microsecond)), nil), "token %s at %s", tok.UID, at)
			require.False(t, in(nil, &lu), "token %s at %s", tok.UID, at)
			require.False(t, lu.After(at), "last_updated is never later than at")
		}
	}
	// A passed boundary moves last_updated without any write.
	ending3 := issued[3]
	require.Equal(t, h(3), ending3.State(h(3)).LastUpdated)
	require.True(t, ending3.State(h(3).Add(-time.Second)).LastUpdated.Before(h(3)))
	// Pages are ordered by last_updated and count every match.
	p, err := db.ListIssuedTokens(ctx, m.d.Pool, db.IssuedTokenFilter{At: h(100), Limit: 3, Offset: 2})
	require.NoError(t, err)
	require.Equal(t, len(ids), p.Total)
	require.Len(t, p.Tokens, 3)
	for i := 1; i < len(p.Tokens); i++ {
		require.False(t, p.Tokens[i].State(h(100)).LastUpdated.Before(p.Tokens[i-1].State(h(100)).LastUpdated))
	}
	p, err = db.ListIssuedTokens(ctx, m.d.Pool, db.IssuedTokenFilter{At: h(100), Limit: 10, Offset: 50})
	require.NoError(t, err)
	require.Equal(t, len(ids), p.Total)
	require.Empty(t, p.Tokens)
	p, err = db.ListIssuedTokens(ctx, m.d.Pool, db.IssuedTokenFilter{At: h(100), CountryCode: "DE", PartyID: "XXX", Limit: 10})
	require.NoError(t, err)
	require.Zero(t, p.Total)
}

// The database refuses overlapping live links of one token, allows the
// hand-over and ignores defunct links.
func TestMSPTokenLinkExclusion(t *testing.T) {
	t.Parallel()
	m := newMSPDB(t)
	s1 := m.subscription(m.now, nil, false, m.now)
	s2 := m.subscription(m.now, nil, false, m.now)
	tok := m.token(1, m.now)
	require.NoError(t, m.link(tok, s1, nil, tp(m.now.Add(time.Hour)), false, m.now))
	err := m.link(tok, s2, tp(m.now.Add(59*time.Minute)), nil, false, m.now)
	require.Error(t, err)
	require.Contains(t, err.Error(), "only one subscription at a time")
	require.NoError(t, m.link(tok, s2, tp(m.now.Add(time.Hour)), nil, false, m.now), "hand-over")
	require.NoError(t, m.link(tok, s1, nil, nil, true, m.now), "a defunct link overlaps nothing")
	links, err := db.DefunctLinksOfSubscription(context.Background(), m.d.Pool, s1, m.now)
	require.NoError(t, err)
	require.Len(t, links, 1, "only the live link changes")
}

// Concurrent authorizations are all committed before Write returns.
func TestAuthorizationLogGroupCommit(t *testing.T) {
	t.Parallel()
	m := newMSPDB(t)
	tok := m.token(1, m.now)
	l := db.NewAuthorizationLog(m.d.Pool)
	var wg sync.WaitGroup
	ids := make([]uuid.UUID, 200)
	errs := make([]error, len(ids))
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = l.Write(db.MSPTokenAuthorization{ID: ids[i], TokenID: tok, LocationID: "L", EVSEUIDs: []string{"E1"},
				Allowed: "ALLOWED", Reason: "valid", At: time.Now()})
			if errs[i] == nil {
				// Committed: visible to any other connection at once.
				_, errs[i] = db.MSPTokenAuthorizationByID(context.Background(), m.d.Pool, ids[i])
			}
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	var n int
	require.NoError(t, m.d.Pool.QueryRow(context.Background(), "SELECT count(*) FROM msp_token_authorization").Scan(&n))
	require.Equal(t, len(ids), n)
	// Values survive the batch encoding: quotes, backslashes and commas in
	// EVSE UIDs; absent values are NULL.
	id := uuid.Must(uuid.NewV7())
	require.NoError(t, l.Write(db.MSPTokenAuthorization{ID: id, TokenID: tok, EVSEUIDs: []string{`a"b\c,d`, "{x}"}, Allowed: "BLOCKED", Reason: "no_link", At: time.Now()}))
	got, err := db.MSPTokenAuthorizationByID(context.Background(), m.d.Pool, id)
	require.NoError(t, err)
	require.Equal(t, []string{`a"b\c,d`, "{x}"}, got.EVSEUIDs)
	require.Nil(t, got.ConnectionID)
	require.Empty(t, got.LocationID)
	// A failing write is reported, not swallowed.
	require.Error(t, l.Write(db.MSPTokenAuthorization{ID: id, TokenID: tok, Allowed: "ALLOWED", Reason: "valid", At: time.Now()}), "duplicate id")
}
