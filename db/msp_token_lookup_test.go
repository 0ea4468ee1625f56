package db_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/token"
)

// Concurrent group lookups answer each request exactly as IssuedTokenByUID
// does (same token, same links, not doubled when two requests ask for the
// same token in one batch; unknown tokens and other types are NotFound),
// and a change is visible to the very next lookup (nothing is cached).
func TestTokenLookupMatchesIssuedTokenByUID(t *testing.T) {
	t.Parallel()
	m := newMSPDB(t)
	ctx := context.Background()
	base := m.now.Add(-24 * time.Hour)
	sub := m.subscription(base, nil, false, base)
	other := m.subscription(base, nil, false, base)
	const n = 12
	for i := 0; i < n; i++ {
		tok := m.token(i, base)
		switch i % 3 {
		case 1:
			require.NoError(t, m.link(tok, sub, nil, nil, false, base))
		case 2: // hand-over: two links
			require.NoError(t, m.link(tok, sub, nil, tp(m.now.Add(time.Hour)), false, base))
			require.NoError(t, m.link(tok, other, tp(m.now.Add(time.Hour)), nil, false, base))
		}
	}
	l := db.NewTokenLookup(m.d.Pool)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for round := 0; round < 4; round++ {
		for i := 0; i < n+2; i++ { // n+1 and n+2 do not exist
			for _, uid := range []string{fmt.Sprintf("Tok%04d", i), strings.ToLower(fmt.Sprintf("TOK%04d", i))} {
				wg.Add(1)
				go func(uid string, i int) {
					defer wg.Done()
					got, err := l.Issued(token.UID(uid), token.TypeRFID)
					want, werr := db.IssuedTokenByUID(ctx, m.d.Pool, token.UID(uid), token.TypeRFID)
					switch {
					case i >= n:
						if !fault.Is(err, fault.KindNotFound) || !fault.Is(werr, fault.KindNotFound) {
							errs <- fmt.Errorf("%s: want NotFound, got %v / %v", uid, err, werr)
						}
					case err != nil || werr != nil:
						errs <- fmt.Errorf("%s: %v / %v", uid, err, werr)
					case fmt.Sprint(got) != fmt.Sprint(want) || len(got.Links) != i%3:
						errs <- fmt.Errorf("%s: group lookup %+v, single %+v", uid, got, want)
					}
				}(uid, i)
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	_, err := l.Issued(token.UID("Tok0001"), token.TypeAppUser)
	require.True(t, fault.Is(err, fault.KindNotFound), "another type is another token: %v", err)

	// Blocking takes effect at the next lookup.
	tok, err := l.Issued(token.UID("Tok0001"), token.TypeRFID)
	require.NoError(t, err)
	require.Equal(t, token.AllowedAllowed, token.OCPIAllowed(tok.State(time.Now()).Reason))
	_, err = m.d.Pool.Exec(ctx, "UPDATE msp_token_link SET defunct = true, updated_at = now() WHERE token_id = $1", tok.ID)
	require.NoError(t, err)
	tok, err = l.Issued(token.UID("Tok0001"), token.TypeRFID)
	require.NoError(t, err)
	require.NotEqual(t, token.AllowedAllowed, token.OCPIAllowed(tok.State(time.Now()).Reason))
}

// The batched statements of real-time authorization run on connections
// that plan them once, generically, whatever the batch size (planning each
// execution was 30 % of Postgres' CPU on that path), while the shared
// pool's sessions keep Postgres' default.
func TestGenericPlanPool(t *testing.T) {
	t.Parallel()
	m := newMSPDB(t)
	ctx := context.Background()
	tok := m.token(1, m.now)
	hot, err := db.GenericPlanPool(m.d.Pool, 1) // one connection: every statement below is prepared on it
	require.NoError(t, err)
	t.Cleanup(hot.Close)
	l, authz := db.NewTokenLookup(hot), db.NewAuthorizationLog(hot)
	for i := 0; i < 8; i++ {
		got, err := l.Issued(token.UID("tok0001"), token.TypeRFID)
		require.NoError(t, err)
		require.Equal(t, tok, got.ID)
		_, err = l.Issued(token.UID("tok9999"), token.TypeRFID)
		require.True(t, fault.Is(err, fault.KindNotFound), "%v", err)
		require.NoError(t, authz.Write(db.MSPTokenAuthorization{ID: uuid.Must(uuid.NewV7()), TokenID: tok, Allowed: "BLOCKED",
			Reason: "no_link", At: time.Now()}))
	}
	c, err := hot.Acquire(ctx)
	require.NoError(t, err)
	defer c.Release()
	rows, err := c.Query(ctx, `SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements
        WHERE (statement LIKE '%FROM unnest($1::text[], $2::text[])%' OR statement LIKE 'INSERT INTO msp_token_authorization%')
            AND statement NOT LIKE '%pg_prepared_statements%'`)
	require.NoError(t, err)
	type plans struct {
		stmt            string
		generic, custom int64
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (plans, error) {
		var p plans
		return p, r.Scan(&p.stmt, &p.generic, &p.custom)
	})
	require.NoError(t, err)
	require.Len(t, got, 2, "the lookup and the insert, each prepared once")
	for _, p := range got {
		require.Zero(t, p.custom, "custom plans of %.40s", p.stmt)
		require.GreaterOrEqual(t, p.generic, int64(8), "generic plans of %.40s", p.stmt)
	}
	var mode string
	require.NoError(t, m.d.Pool.QueryRow(ctx, "SHOW plan_cache_mode").Scan(&mode))
	require.Equal(t, "auto", mode, "the shared pool keeps the default")
}

// The group lookup decodes its rows from the binary values itself
// (decodeLookupRow); every column of every row shape (optional token
// fields set and unset, tokens without a link, open and closed periods,
// defunct links and subscriptions) decodes exactly as pgx's Scan does, the
// statement's result is one the decoder reads (else the lookup would
// silently fall back to Scan), and values it does not expect (an infinite
// timestamp, a NULL where the token needs a value, a wrong length) make it
// hand the row back to Scan.
func TestTokenLookupRawDecodeMatchesScan(t *testing.T) {
	t.Parallel()
	m := newMSPDB(t)
	ctx := context.Background()
	base := m.now.Add(-24 * time.Hour)
	sub := m.subscription(base, nil, false, base)
	ended := m.subscription(base, tp(m.now.Add(time.Hour)), true, base)
	var keys, types []string
	for i := 0; i < 6; i++ {
		tok := m.token(i, base)
		keys, types = append(keys, token.UID(fmt.Sprintf("Tok%04d", i)).Key()), append(types, "RFID")
		switch i % 3 {
		case 1:
			require.NoError(t, m.link(tok, sub, nil, nil, false, base))
		case 2:
			require.NoError(t, m.link(tok, sub, nil, tp(m.now.Add(time.Hour)), false, base))
			require.NoError(t, m.link(tok, ended, tp(m.now.Add(time.Hour)), nil, true, base))
		}
		if i%2 == 0 {
			_, err := m.d.Pool.Exec(ctx, `UPDATE msp_token SET visual_number = 'V "1" é', group_id = 'G1', language = 'nl',
                whitelist = 'ALLOWED' WHERE id = $1`, tok)
			require.NoError(t, err)
		}
		if i%3 != 0 {
			_, err := m.d.Pool.Exec(ctx, `UPDATE msp_token SET default_profile_type = 'GREEN', energy_contract_supplier_name = 'Grünstrom eG',
                energy_contract_contract_id = CASE WHEN $2 THEN 'C-1' END WHERE id = $1`, tok, i%2 == 0)
			require.NoError(t, err)
		}
	}
	hot, err := db.GenericPlanPool(m.d.Pool, 1)
	require.NoError(t, err)
	t.Cleanup(hot.Close)
	for _, pool := range []interface {
		Query(context.Context, string, ...any) (pgx.Rows, error)
	}{m.d.Pool, hot} {
		rows, err := pool.Query(ctx, db.LookupIssuedTokensSQL, keys, types)
		require.NoError(t, err)
		defer rows.Close()
		require.True(t, db.LookupRawColumns(rows.FieldDescriptions()), "the decoder reads the statement's result")
		n := 0
		for rows.Next() {
			var key, skey string
			var r, s db.IssuedRow
			var version, sversion int64
			require.True(t, db.DecodeLookupRow(rows.RawValues(), &key, &r, &version))
			require.NoError(t, rows.Scan(&skey, &s.Type, &s.ID, &s.CountryCode, &s.PartyID, &s.Uid, &s.EvcoID, &s.Issuer, &s.VisualNumber,
				&s.GroupID, &s.Language, &s.Whitelist, &s.UpdatedAt,
				&s.LinkID, &s.LinkValidFrom, &s.LinkValidUntil, &s.LinkDefunct, &s.LinkUpdatedAt,
				&s.SubID, &s.SubValidFrom, &s.SubValidUntil, &s.SubDefunct, &s.SubUpdatedAt,
				&s.AdministrationID, &s.SubPlanID, &s.DefaultProfileType, &s.EnergyContractSupplierName, &s.EnergyContractContractID,
				&sversion))
			require.Equal(t, skey, key)
			require.Equal(t, s, r)
			require.Same(t, s.UpdatedAt.Location(), r.UpdatedAt.Location(), "same zone")
			require.Equal(t, sversion, version)

			// Values it leaves to Scan.
			v := append([][]byte(nil), rows.RawValues()...)
			for _, bad := range []func([][]byte){
				func(v [][]byte) { v[12] = []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff} }, // updated_at = infinity
				func(v [][]byte) { v[5] = nil },       // uid NULL
				func(v [][]byte) { v[2] = v[2][:15] }, // short uuid
				func(v [][]byte) { v[28] = nil },      // no rules version
			} {
				w := append([][]byte(nil), v...)
				bad(w)
				var k string
				var x db.IssuedRow
				var ver int64
				require.False(t, db.DecodeLookupRow(w, &k, &x, &ver))
			}
			n++
		}
		require.NoError(t, rows.Err())
		require.Equal(t, 8, n, "one row per link, one for a token without")
	}
}
