package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/iso"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/roaming"
)

// RoamingStore is the Postgres implementation of roaming.Store.
type RoamingStore struct {
	Pool *pgxpool.Pool
	// View renders a connection as the Admin API does, for its outbox events.
	View func(partner.Connection) any
}

var _ roaming.Store = RoamingStore{}

// InTx implements roaming.Store.
func (s RoamingStore) InTx(ctx context.Context, fn func(roaming.Tx) error) error {
	return InTx(ctx, s.Pool, func(tx pgx.Tx) error { return fn(roamingTx{tx: tx, view: s.View}) })
}

// SetPendingToken implements roaming.Store.
func (s RoamingStore) SetPendingToken(ctx context.Context, id uuid.UUID, hash []byte) error {
	return SetPendingToken(ctx, s.Pool, id, hash)
}

// OwnParties implements roaming.Store.
func (s RoamingStore) OwnParties(ctx context.Context) ([]partner.OwnParty, error) {
	return AllOwnParties(ctx, s.Pool)
}

type roamingTx struct {
	tx   pgx.Tx
	view func(partner.Connection) any
}

// Connection takes the connection's handshake lock (an advisory lock held
// until the transaction ends) and loads it.
func (t roamingTx) Connection(ctx context.Context, id uuid.UUID) (partner.Connection, error) {
	if _, err := t.tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7272))", id.String()); err != nil {
		return partner.Connection{}, err
	}
	return Connection(ctx, t.tx, &id, "", false)
}

// SaveConnection stores the connection and its outbox event.
func (t roamingTx) SaveConnection(ctx context.Context, c partner.Connection) error {
	if err := SaveConnection(ctx, t.tx, c, false); err != nil {
		return err
	}
	var data any = map[string]any{"id": c.ID, "status": c.Status}
	if t.view != nil {
		data = t.view(c)
	}
	return AppendEvent(ctx, t.tx, event.New("roaming-connection", event.Update, nil, data))
}

// LinkParties attaches the partner's credentials roles to the connection:
// a party id a roaming partner already has is linked; an unknown one gets
// a new roaming partner (one per business name), which operators can
// rename or merge later.
func (t roamingTx) LinkParties(ctx context.Context, connID uuid.UUID, roles []partner.CredentialsRole) error {
	q := Q(t.tx)
	created := map[string]uuid.UUID{}
	now := time.Now().UTC()
	for _, r := range roles {
		existing, err := q.PartyIDByRef(ctx, gen.PartyIDByRefParams{CountryCode: r.CountryCode, PartyID: r.PartyID, Role: string(r.Role)})
		if err == nil {
			if err := q.SetPartyIDConnection(ctx, gen.SetPartyIDConnectionParams{ID: existing.ID, ConnectionID: &connID}); err != nil {
				return err
			}
			continue
		}
		if !fault.Is(notFound(err, "", ""), fault.KindNotFound) {
			return err
		}
		name := r.Name
		if name == "" {
			name = r.CountryCode + "-" + r.PartyID
		}
		pid, ok := created[name]
		if !ok {
			pid = uuid.Must(uuid.NewV7())
			country := r.CountryCode
			if !iso.Country(country) {
				country = "ZZ"
			}
			if err := q.InsertPartner(ctx, gen.InsertPartnerParams{ID: pid, Name: name, Country: country, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			created[name] = pid
		}
		if err := q.InsertPartyID(ctx, gen.InsertPartyIDParams{ID: uuid.Must(uuid.NewV7()), PartnerID: pid, ConnectionID: &connID,
			CountryCode: r.CountryCode, PartyID: r.PartyID, Role: string(r.Role), CreatedAt: now}); err != nil {
			return Translate(err)
		}
	}
	return nil
}

// HubClient is a party behind a hub, as the hub's client info reports it.
type HubClient struct {
	Ref         partner.PartyRef
	Role        partner.Role
	Status      string
	LastUpdated time.Time
}

// UpsertHubClient records a hub's client info (mod_hub_client_info →
// receiver PUT): the party becomes (or stays) a roaming partner party id
// reached through the hub connection. An update older than the stored one
// is ignored, so out-of-order pushes cannot roll the status back.
func UpsertHubClient(ctx context.Context, pool *pgxpool.Pool, connID uuid.UUID, h HubClient) error {
	return InTx(ctx, pool, func(tx pgx.Tx) error {
		q := Q(tx)
		// Serialise concurrent pushes for the same party.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 7273))", h.Ref.String()+"/"+string(h.Role)); err != nil {
			return err
		}
		existing, err := q.PartyIDByRef(ctx, gen.PartyIDByRefParams{CountryCode: h.Ref.CountryCode, PartyID: h.Ref.PartyID, Role: string(h.Role)})
		if err == nil {
			return q.UpdateHubStatus(ctx, gen.UpdateHubStatusParams{ID: existing.ID, HubStatus: &h.Status, HubLastUpdated: &h.LastUpdated, ConnectionID: &connID})
		}
		if !fault.Is(notFound(err, "", ""), fault.KindNotFound) {
			return err
		}
		now := time.Now().UTC()
		pid := uuid.Must(uuid.NewV7())
		country := h.Ref.CountryCode
		if !iso.Country(country) {
			country = "ZZ"
		}
		if err := q.InsertPartner(ctx, gen.InsertPartnerParams{ID: pid, Name: h.Ref.String(), Country: country, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		return q.InsertPartyID(ctx, gen.InsertPartyIDParams{ID: uuid.Must(uuid.NewV7()), PartnerID: pid, ConnectionID: &connID,
			CountryCode: h.Ref.CountryCode, PartyID: h.Ref.PartyID, Role: string(h.Role), HubStatus: &h.Status, HubLastUpdated: &h.LastUpdated, CreatedAt: now})
	})
}

// HubClients returns what hubs reported about a party (one per role).
func HubClients(ctx context.Context, q Querier, ref partner.PartyRef) ([]HubClient, error) {
	rows, err := Q(q).PartyIDsByParty(ctx, gen.PartyIDsByPartyParams{CountryCode: ref.CountryCode, PartyID: ref.PartyID})
	if err != nil {
		return nil, err
	}
	var out []HubClient
	for _, r := range rows {
		if r.HubStatus == nil || r.HubLastUpdated == nil {
			continue
		}
		out = append(out, HubClient{Ref: ref, Role: partner.Role(r.Role), Status: *r.HubStatus, LastUpdated: *r.HubLastUpdated})
	}
	return out, nil
}
