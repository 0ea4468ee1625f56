package db

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/partner"
)

// ---- own parties

// OwnParty loads an own party by id or external reference.
func OwnParty(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (partner.OwnParty, error) {
	r, err := lookup(ctx, "own party", id, ref, lock, Q(q).GetOwnParty, Q(q).LockOwnParty, Q(q).GetOwnPartyByRef, Q(q).LockOwnPartyByRef)
	if err != nil {
		return partner.OwnParty{}, err
	}
	return ownPartyOf(r), nil
}

func ownPartyOf(r gen.OwnParty) partner.OwnParty {
	return partner.OwnParty{ID: r.ID, ExternalReference: r.ExternalReference, CountryCode: r.CountryCode, PartyID: r.PartyID,
		Role: partner.Role(r.Role), Name: r.Name, Website: r.Website, LogoURL: r.LogoUrl, ExternalUpdatedAt: r.ExternalUpdatedAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// ListOwnParties returns a page of own parties.
func ListOwnParties(ctx context.Context, q Querier, p gen.ListOwnPartiesParams) ([]partner.OwnParty, error) {
	rows, err := Q(q).ListOwnParties(ctx, p)
	return mapAll(rows, ownPartyOf), err
}

// AllOwnParties returns every own party (the credentials roles).
func AllOwnParties(ctx context.Context, q Querier) ([]partner.OwnParty, error) {
	rows, err := Q(q).AllOwnParties(ctx)
	return mapAll(rows, ownPartyOf), err
}

// SaveOwnParty inserts or updates an own party.
func SaveOwnParty(ctx context.Context, q Querier, o partner.OwnParty, isNew bool) error {
	if isNew {
		return Translate(Q(q).InsertOwnParty(ctx, gen.InsertOwnPartyParams{ID: o.ID, ExternalReference: o.ExternalReference,
			CountryCode: o.CountryCode, PartyID: o.PartyID, Role: string(o.Role), Name: o.Name, Website: o.Website, LogoUrl: o.LogoURL,
			ExternalUpdatedAt: o.ExternalUpdatedAt, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}))
	}
	return Translate(Q(q).UpdateOwnParty(ctx, gen.UpdateOwnPartyParams{ID: o.ID, ExternalReference: o.ExternalReference,
		CountryCode: o.CountryCode, PartyID: o.PartyID, Role: string(o.Role), Name: o.Name, Website: o.Website, LogoUrl: o.LogoURL,
		ExternalUpdatedAt: o.ExternalUpdatedAt, UpdatedAt: o.UpdatedAt}))
}

// ---- connections

// Connection loads a roaming connection by id or external reference.
func Connection(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (partner.Connection, error) {
	r, err := lookup(ctx, "roaming connection", id, ref, lock, Q(q).GetConnection, Q(q).LockConnection, Q(q).GetConnectionByRef, Q(q).LockConnectionByRef)
	if err != nil {
		return partner.Connection{}, err
	}
	return connectionOf(r), nil
}

// ConnectionByToken finds the connection whose current or pending token
// hashes to hash.
func ConnectionByToken(ctx context.Context, q Querier, hash []byte) (partner.Connection, error) {
	r, err := Q(q).ConnectionByToken(ctx, hash)
	if err != nil {
		return partner.Connection{}, notFound(err, "roaming connection", "with this token")
	}
	return connectionOf(r), nil
}

func connectionOf(r gen.RoamingConnection) partner.Connection {
	c := partner.Connection{ID: r.ID, ExternalReference: r.ExternalReference, Name: r.Name, Kind: partner.ConnectionKind(r.Kind),
		Status: partner.ConnectionStatus(r.Status), InitiatedBy: r.InitiatedBy, OurTokenHash: r.OurTokenHash, OurTokenHint: r.OurTokenHint,
		OurTokenIsA: r.OurTokenIsA, PendingTokenHash: r.PendingTokenHash, TheirToken: r.TheirToken, TheirTokenHint: r.TheirTokenHint,
		TheirVersionsURL: r.TheirVersionsUrl, Version: r.Version, TokenBase64: r.TokenBase64, LastContactAt: r.LastContactAt,
		StatusMessage: r.StatusMessage, ExternalUpdatedAt: r.ExternalUpdatedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	_ = json.Unmarshal(r.TheirEndpoints, &c.TheirEndpoints)
	_ = json.Unmarshal(r.TheirRoles, &c.TheirRoles)
	return c
}

// ListConnections returns a page of connections.
func ListConnections(ctx context.Context, q Querier, p gen.ListConnectionsParams) ([]partner.Connection, error) {
	rows, err := Q(q).ListConnections(ctx, p)
	return mapAll(rows, connectionOf), err
}

// SaveConnection inserts or updates a connection.
func SaveConnection(ctx context.Context, q Querier, c partner.Connection, isNew bool) error {
	eps, roles := partner.MarshalEndpoints(c.TheirEndpoints), partner.MarshalRoles(c.TheirRoles)
	if isNew {
		return Translate(Q(q).InsertConnection(ctx, gen.InsertConnectionParams{ID: c.ID, ExternalReference: c.ExternalReference,
			Name: c.Name, Kind: string(c.Kind), Status: string(c.Status), InitiatedBy: c.InitiatedBy, OurTokenHash: c.OurTokenHash,
			OurTokenHint: c.OurTokenHint, OurTokenIsA: c.OurTokenIsA, PendingTokenHash: c.PendingTokenHash, TheirToken: c.TheirToken,
			TheirTokenHint: c.TheirTokenHint, TheirVersionsUrl: c.TheirVersionsURL, Version: c.Version, TheirEndpoints: eps,
			TheirRoles: roles, TokenBase64: c.TokenBase64, LastContactAt: c.LastContactAt, StatusMessage: c.StatusMessage,
			ExternalUpdatedAt: c.ExternalUpdatedAt, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}))
	}
	return Translate(Q(q).UpdateConnection(ctx, gen.UpdateConnectionParams{ID: c.ID, ExternalReference: c.ExternalReference,
		Name: c.Name, Kind: string(c.Kind), Status: string(c.Status), InitiatedBy: c.InitiatedBy, OurTokenHash: c.OurTokenHash,
		OurTokenHint: c.OurTokenHint, OurTokenIsA: c.OurTokenIsA, PendingTokenHash: c.PendingTokenHash, TheirToken: c.TheirToken,
		TheirTokenHint: c.TheirTokenHint, TheirVersionsUrl: c.TheirVersionsURL, Version: c.Version, TheirEndpoints: eps,
		TheirRoles: roles, TokenBase64: c.TokenBase64, LastContactAt: c.LastContactAt, StatusMessage: c.StatusMessage,
		ExternalUpdatedAt: c.ExternalUpdatedAt, UpdatedAt: c.UpdatedAt}))
}

// SetPendingToken stores (or clears, with nil) the hash of a token we are
// handing over in a handshake we started; it commits on its own, because the
// partner calls back with it before our request returns.
func SetPendingToken(ctx context.Context, q Querier, id uuid.UUID, hash []byte) error {
	return Q(q).SetPendingToken(ctx, gen.SetPendingTokenParams{ID: id, PendingTokenHash: hash})
}

// TouchConnection records contact with the partner.
func TouchConnection(ctx context.Context, q Querier, id uuid.UUID, at time.Time) error {
	return Q(q).TouchConnection(ctx, gen.TouchConnectionParams{ID: id, LastContactAt: &at})
}

// ---- partners

// Partner loads a roaming partner with its party ids.
func Partner(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (partner.Partner, error) {
	r, err := lookup(ctx, "roaming partner", id, ref, lock, Q(q).GetPartner, Q(q).LockPartner, Q(q).GetPartnerByRef, Q(q).LockPartnerByRef)
	if err != nil {
		return partner.Partner{}, err
	}
	ps, err := withPartyIDs(ctx, q, []gen.Party{r})
	if err != nil {
		return partner.Partner{}, err
	}
	return ps[0], nil
}

// withPartyIDs maps parties to partners, loading all their party ids in one query.
func withPartyIDs(ctx context.Context, q Querier, rows []gen.Party) ([]partner.Partner, error) {
	ids := make([]uuid.UUID, len(rows))
	out := make([]partner.Partner, len(rows))
	at := map[uuid.UUID]int{}
	for i, r := range rows {
		ids[i], at[r.ID] = r.ID, i
		out[i] = partner.Partner{ID: r.ID, ExternalReference: r.ExternalReference, Name: r.Name, Country: r.Country,
			PartyIDs: []partner.PartnerPartyID{}, ExternalUpdatedAt: r.ExternalUpdatedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	}
	if len(rows) == 0 {
		return out, nil
	}
	pids, err := Q(q).PartyIDsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, p := range pids {
		i := at[p.PartnerID]
		out[i].PartyIDs = append(out[i].PartyIDs, partner.PartnerPartyID{PartyRef: partner.PartyRef{CountryCode: p.CountryCode, PartyID: p.PartyID},
			Role: partner.Role(p.Role), ConnectionID: p.ConnectionID, HubStatus: p.HubStatus})
	}
	return out, nil
}

// ListPartners returns a page of partners.
func ListPartners(ctx context.Context, q Querier, p gen.ListPartnersParams) ([]partner.Partner, error) {
	rows, err := Q(q).ListPartners(ctx, p)
	if err != nil {
		return nil, err
	}
	return withPartyIDs(ctx, q, rows)
}

// SavePartner inserts or updates a partner and replaces its party ids; a
// party id used by another partner is a conflict on party_ids.
func SavePartner(ctx context.Context, q Querier, p partner.Partner, isNew bool) error {
	var err error
	if isNew {
		err = Q(q).InsertPartner(ctx, gen.InsertPartnerParams{ID: p.ID, ExternalReference: p.ExternalReference, Name: p.Name,
			Country: p.Country, ExternalUpdatedAt: p.ExternalUpdatedAt, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt})
	} else {
		err = Q(q).UpdatePartner(ctx, gen.UpdatePartnerParams{ID: p.ID, ExternalReference: p.ExternalReference, Name: p.Name,
			Country: p.Country, ExternalUpdatedAt: p.ExternalUpdatedAt, UpdatedAt: p.UpdatedAt})
	}
	if err != nil {
		return Translate(err)
	}
	if err := Q(q).DeletePartyIDsOf(ctx, p.ID); err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, id := range p.PartyIDs {
		err := Q(q).InsertPartyID(ctx, gen.InsertPartyIDParams{ID: uuid.Must(uuid.NewV7()), PartnerID: p.ID, ConnectionID: id.ConnectionID,
			CountryCode: id.CountryCode, PartyID: id.PartyID, Role: string(id.Role), HubStatus: id.HubStatus, CreatedAt: now})
		if code, _ := pgCode(err); code == codeUniqueViolation {
			return conflictOn("party_ids", "party "+id.String()+" ("+string(id.Role)+") belongs to another roaming partner")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ---- agreements

// Agreement loads a roaming agreement.
func Agreement(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (partner.Agreement, error) {
	r, err := lookup(ctx, "roaming agreement", id, ref, lock, Q(q).GetAgreement, Q(q).LockAgreement, Q(q).GetAgreementByRef, Q(q).LockAgreementByRef)
	if err != nil {
		return partner.Agreement{}, err
	}
	return agreementOf(r), nil
}

func agreementOf(r gen.RoamingAgreement) partner.Agreement {
	return partner.Agreement{ID: r.ID, ExternalReference: r.ExternalReference, PartnerID: r.PartnerID, Role: partner.AgreementRole(r.Role),
		ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil, ExternalUpdatedAt: r.ExternalUpdatedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// ListAgreements returns a page of agreements.
func ListAgreements(ctx context.Context, q Querier, p gen.ListAgreementsParams) ([]partner.Agreement, error) {
	rows, err := Q(q).ListAgreements(ctx, p)
	return mapAll(rows, agreementOf), err
}

// SaveAgreement inserts or updates an agreement.
func SaveAgreement(ctx context.Context, q Querier, a partner.Agreement, isNew bool) error {
	if isNew {
		return Translate(Q(q).InsertAgreement(ctx, gen.InsertAgreementParams{ID: a.ID, ExternalReference: a.ExternalReference,
			PartnerID: a.PartnerID, Role: string(a.Role), ValidFrom: a.ValidFrom, ValidUntil: a.ValidUntil,
			ExternalUpdatedAt: a.ExternalUpdatedAt, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}))
	}
	return Translate(Q(q).UpdateAgreement(ctx, gen.UpdateAgreementParams{ID: a.ID, ExternalReference: a.ExternalReference,
		Role: string(a.Role), ValidFrom: a.ValidFrom, ValidUntil: a.ValidUntil, ExternalUpdatedAt: a.ExternalUpdatedAt, UpdatedAt: a.UpdatedAt}))
}
