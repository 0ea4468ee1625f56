package db

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/domain/token"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// Partners' tokens as CPO: the cache of tokens eMSPs push to our Tokens
// receiver or we pull from their senders (table partner_token), and the
// per-connection cursor of the pull (partner_token_pull).

// How a cached token version arrived.
const (
	ViaPush     = "push"
	ViaPull     = "pull"
	ViaRealtime = "realtime"
)

// PartnerToken is a cached token of a partner eMSP.
type PartnerToken struct {
	ID           uuid.UUID
	ConnectionID uuid.UUID
	Token        ocpi.Token
	ReceivedVia  string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func partnerTokenOf(r gen.PartnerToken) (PartnerToken, error) {
	t := PartnerToken{ID: r.ID, ConnectionID: r.ConnectionID, ReceivedVia: r.ReceivedVia, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if err := json.Unmarshal(r.Object, &t.Token); err != nil {
		return t, err
	}
	return t, nil
}

func partnerTokensOf(rows []gen.PartnerToken) ([]PartnerToken, error) {
	return convert(partnerTokenOf)(rows, nil)
}

// SavePartnerToken stores t as received through connID, unless the stored
// version is newer (mod_tokens: last_updated ordering; an equal one
// replaces it). Country code and party id are stored upper case, the uid
// in the casing received. created reports a new token, applied whether t
// was stored.
func SavePartnerToken(ctx context.Context, q Querier, connID uuid.UUID, t ocpi.Token, via string, now time.Time) (created, applied bool, err error) {
	t.CountryCode, t.PartyID = strings.ToUpper(t.CountryCode), strings.ToUpper(t.PartyID)
	obj, err := json.Marshal(t)
	if err != nil {
		return false, false, err
	}
	created, err = Q(q).UpsertPartnerToken(ctx, gen.UpsertPartnerTokenParams{ID: uuid.Must(uuid.NewV7()), ConnectionID: connID,
		CountryCode: t.CountryCode, PartyID: t.PartyID, Uid: t.UID, Type: string(t.Type), ContractID: t.ContractID,
		Valid: t.Valid, Whitelist: string(t.Whitelist), LastUpdated: t.LastUpdated.UTC(), ReceivedVia: via, Object: obj, CreatedAt: now})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, Translate(err)
	}
	return created, true, nil
}

// PartnerTokenByKey loads a cached token by its OCPI key; uid compares
// case-insensitively. lock takes a row lock (for a PATCH).
func PartnerTokenByKey(ctx context.Context, q Querier, ref partner.PartyRef, uid string, typ token.Type, lock bool) (PartnerToken, error) {
	var r gen.PartnerToken
	var err error
	if lock {
		r, err = Q(q).LockPartnerTokenByKey(ctx, gen.LockPartnerTokenByKeyParams{CountryCode: ref.CountryCode, PartyID: ref.PartyID, Uid: uid, Type: string(typ)})
	} else {
		r, err = Q(q).GetPartnerTokenByKey(ctx, gen.GetPartnerTokenByKeyParams{CountryCode: ref.CountryCode, PartyID: ref.PartyID, Uid: uid, Type: string(typ)})
	}
	if err != nil {
		return PartnerToken{}, notFound(err, "token", ref.String()+"/"+uid+" ("+string(typ)+")")
	}
	return partnerTokenOf(r)
}

// PartnerTokenByID loads a cached token by id.
func PartnerTokenByID(ctx context.Context, q Querier, id uuid.UUID) (PartnerToken, error) {
	r, err := Q(q).GetPartnerToken(ctx, id)
	if err != nil {
		return PartnerToken{}, notFound(err, "partner token", id)
	}
	return partnerTokenOf(r)
}

// ListPartnerTokens returns a page of cached tokens.
func ListPartnerTokens(ctx context.Context, q Querier, p gen.ListPartnerTokensParams) ([]PartnerToken, error) {
	rows, err := Q(q).ListPartnerTokens(ctx, p)
	if err != nil {
		return nil, err
	}
	return partnerTokensOf(rows)
}

// ConnectionReachesEMSP reports whether the eMSP party ref is reached
// through the connection (its credentials roles, or a hub's client info),
// i.e. whether the partner may push tokens owned by ref.
func ConnectionReachesEMSP(ctx context.Context, q Querier, connID uuid.UUID, ref partner.PartyRef) (bool, error) {
	return Q(q).ConnectionHasEMSPParty(ctx, gen.ConnectionHasEMSPPartyParams{ConnectionID: &connID, CountryCode: ref.CountryCode, PartyID: ref.PartyID})
}

// PartnerTokenStore is the Postgres implementation of roaming.AuthzStore
// and roaming.PullStore.
type PartnerTokenStore struct {
	Pool *pgxpool.Pool
}

var (
	_ roaming.AuthzStore = PartnerTokenStore{}
	_ roaming.PullStore  = PartnerTokenStore{}
)

// CachedTokens implements roaming.AuthzStore.
func (s PartnerTokenStore) CachedTokens(ctx context.Context, uid string, typ token.Type, party *partner.PartyRef) ([]roaming.CachedToken, error) {
	rows, err := Q(s.Pool).PartnerTokensByUID(ctx, gen.PartnerTokensByUIDParams{Uid: uid, Type: string(typ)})
	if err != nil {
		return nil, err
	}
	var out []roaming.CachedToken
	for _, r := range rows {
		if party != nil && (r.CountryCode != party.CountryCode || r.PartyID != party.PartyID) {
			continue
		}
		pt, err := partnerTokenOf(r)
		if err != nil {
			return nil, err
		}
		out = append(out, roaming.CachedToken{Token: pt.Token, ConnectionID: pt.ConnectionID})
	}
	return out, nil
}

// Routes implements roaming.AuthzStore.
func (s PartnerTokenStore) Routes(ctx context.Context, party *partner.PartyRef, at time.Time) ([]roaming.Route, error) {
	p := gen.EMSPPartyRoutesParams{At: at}
	if party != nil {
		p.CountryCode, p.PartyID = &party.CountryCode, &party.PartyID
	}
	rows, err := Q(s.Pool).EMSPPartyRoutes(ctx, p)
	if err != nil {
		return nil, err
	}
	conns := map[uuid.UUID]*partner.Connection{}
	out := make([]roaming.Route, 0, len(rows))
	for _, r := range rows {
		rt := roaming.Route{Party: partner.PartyRef{CountryCode: r.CountryCode, PartyID: r.PartyID}, Agreement: r.Agreement}
		if id := r.ConnectionID; id != nil {
			c, ok := conns[*id]
			if !ok {
				conn, err := Connection(ctx, s.Pool, id, "", false)
				if err != nil {
					return nil, err
				}
				c = &conn
				conns[*id] = c
			}
			rt.Connection = c
		}
		out = append(out, rt)
	}
	return out, nil
}

// OwnParties implements roaming.AuthzStore.
func (s PartnerTokenStore) OwnParties(ctx context.Context) ([]partner.OwnParty, error) {
	return AllOwnParties(ctx, s.Pool)
}

// SaveAnswerToken implements roaming.AuthzStore.
func (s PartnerTokenStore) SaveAnswerToken(ctx context.Context, connID uuid.UUID, t ocpi.Token) error {
	ref := partner.PartyRef{CountryCode: strings.ToUpper(t.CountryCode), PartyID: strings.ToUpper(t.PartyID)}
	ok, err := ConnectionReachesEMSP(ctx, s.Pool, connID, ref)
	if err != nil || !ok {
		return err
	}
	_, _, err = SavePartnerToken(ctx, s.Pool, connID, t, ViaRealtime, time.Now().UTC())
	return err
}

// Claim implements roaming.PullStore.
func (s PartnerTokenStore) Claim(ctx context.Context, connID uuid.UUID, lease time.Duration) (roaming.PullState, bool, error) {
	now := time.Now().UTC()
	until := now.Add(lease)
	r, err := Q(s.Pool).ClaimTokenPull(ctx, gen.ClaimTokenPullParams{ConnectionID: connID, LeaseUntil: &until, Now: now})
	if errors.Is(err, pgx.ErrNoRows) {
		return roaming.PullState{}, false, nil
	}
	if err != nil {
		return roaming.PullState{}, false, err
	}
	st := roaming.PullState{DateFrom: r.DateFrom, Full: r.FullRequested}
	if r.NextUrl != nil {
		st.NextURL = *r.NextUrl
	}
	return st, true, nil
}

// Start implements roaming.PullStore.
func (s PartnerTokenStore) Start(ctx context.Context, connID uuid.UUID, firstURL string, full bool) error {
	now := time.Now().UTC()
	return Q(s.Pool).StartTokenPull(ctx, gen.StartTokenPullParams{ConnectionID: connID, NextUrl: &firstURL, Now: &now, FullRun: full})
}

// SavePage implements roaming.PullStore: the page's tokens and the cursor
// commit together, so a crash never loses or repeats more than one page
// (and repeating one is harmless: last_updated ordering).
func (s PartnerTokenStore) SavePage(ctx context.Context, connID uuid.UUID, tokens []ocpi.Token, skipped int, next string, partnerTime *time.Time, lease time.Duration) error {
	return InTx(ctx, s.Pool, func(tx pgx.Tx) error {
		now := time.Now().UTC()
		reach := map[partner.PartyRef]bool{}
		stored := 0
		for _, t := range tokens {
			ref := partner.PartyRef{CountryCode: strings.ToUpper(t.CountryCode), PartyID: strings.ToUpper(t.PartyID)}
			ok, seen := reach[ref]
			if !seen {
				var err error
				if ok, err = ConnectionReachesEMSP(ctx, tx, connID, ref); err != nil {
					return err
				}
				reach[ref] = ok
			}
			if !ok {
				skipped++
				continue
			}
			if _, _, err := SavePartnerToken(ctx, tx, connID, t, ViaPull, now); err != nil {
				return err
			}
			stored++
		}
		var nextURL *string
		if next != "" {
			nextURL = &next
		}
		until := now.Add(lease)
		return Q(tx).AdvanceTokenPull(ctx, gen.AdvanceTokenPullParams{ConnectionID: connID, NextUrl: nextURL, Tokens: int32(stored),
			Skipped: int32(skipped), RunDateTo: partnerTime, LeaseUntil: &until, Now: now})
	})
}

// Finish implements roaming.PullStore.
func (s PartnerTokenStore) Finish(ctx context.Context, connID uuid.UUID) error {
	now := time.Now().UTC()
	return Q(s.Pool).FinishTokenPull(ctx, gen.FinishTokenPullParams{ConnectionID: connID, Now: &now})
}

// Fail implements roaming.PullStore.
func (s PartnerTokenStore) Fail(ctx context.Context, connID uuid.UUID, msg string) error {
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	now := time.Now().UTC()
	return Q(s.Pool).FailTokenPull(ctx, gen.FailTokenPullParams{ConnectionID: connID, LastError: &msg, Now: &now})
}

// TokenPull returns the pull state of a connection (zero when it never ran).
func TokenPull(ctx context.Context, q Querier, connID uuid.UUID) (gen.PartnerTokenPull, error) {
	r, err := Q(q).GetTokenPull(ctx, connID)
	if errors.Is(err, pgx.ErrNoRows) {
		return gen.PartnerTokenPull{ConnectionID: connID}, nil
	}
	return r, err
}

// RequestTokenPull records an operator's request for a pull (full: start
// over), so that the sweeper runs it even when the queue lost the task.
func RequestTokenPull(ctx context.Context, q Querier, connID uuid.UUID, full bool) (gen.PartnerTokenPull, error) {
	now := time.Now().UTC()
	return Q(q).RequestTokenPull(ctx, gen.RequestTokenPullParams{ConnectionID: connID, RequestedAt: &now, FullRequested: full})
}

// TokenPullsDue lists the connections whose token pull should run now:
// requested, interrupted, or not completed since interval ago.
func TokenPullsDue(ctx context.Context, q Querier, interval time.Duration) ([]uuid.UUID, error) {
	now := time.Now().UTC()
	return Q(q).TokenPullsDue(ctx, gen.TokenPullsDueParams{Now: now, IntervalStart: now.Add(-interval)})
}
