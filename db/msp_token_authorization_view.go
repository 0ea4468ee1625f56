package db

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/session"
)

// TokenAuthorizationView is a real-time authorization we answered, as the
// Admin API returns it (GET /main/v1/msp-token-authorization/{reference}),
// matched to what carries its reference since: the CDRs (MSP charge
// sessions) and the partner's session reports (msp-charge-session-progress)
// of the same token.
// This is the matching the reference exists for (mod_tokens →
// AuthorizationInfo.authorization_reference: "Reference to the
// authorization given by the eMSP, when given, this reference will be
// provided in the relevant Session and/or CDR").
type TokenAuthorizationView struct {
	ID                     uuid.UUID                `json:"id"`
	AuthorizationReference string                   `json:"authorization_reference"`
	AdministrationID       uuid.UUID                `json:"administration_id"`
	Token                  AuthorizedTokenView      `json:"token"`
	ConnectionID           *uuid.UUID               `json:"connection_id"`
	CountryCode            *string                  `json:"country_code"`
	PartyID                *string                  `json:"party_id"`
	Location               *AuthorizedLocationView  `json:"location"`
	Allowed                string                   `json:"allowed"`
	Reason                 string                   `json:"reason"`
	At                     time.Time                `json:"at"`
	ChargeSessions         []AuthorizedSessionView  `json:"charge_sessions"`
	SessionProgress        []AuthorizedProgressView `json:"charge_session_progress"`
}

// AuthorizedTokenView is the token an authorization was answered for.
type AuthorizedTokenView struct {
	ID     uuid.UUID `json:"id"`
	UID    string    `json:"uid"`
	Type   string    `json:"type"`
	EvcoID string    `json:"evco_id"`
}

// AuthorizedLocationView is the request's LocationReferences.
type AuthorizedLocationView struct {
	LocationID string   `json:"location_id"`
	EVSEUIDs   []string `json:"evse_uids"`
}

// AuthorizedSessionView is an MSP charge session whose CDR carries the
// reference.
type AuthorizedSessionView struct {
	ID    uuid.UUID     `json:"id"`
	CdrID string        `json:"cdr_id"`
	State session.State `json:"state"`
}

// AuthorizedProgressView is a partner session report carrying the reference.
type AuthorizedProgressView struct {
	ID        uuid.UUID `json:"id"`
	SessionID string    `json:"session_id"`
	Status    string    `json:"status"`
}

// TokenAuthorization loads the authorization whose reference is id with
// its token and everything matched to it.
func TokenAuthorization(ctx context.Context, q Querier, id uuid.UUID) (TokenAuthorizationView, error) {
	a, err := MSPTokenAuthorizationByID(ctx, q, id)
	if err != nil {
		return TokenAuthorizationView{}, err
	}
	t, err := Q(q).AuthorizedTokenOf(ctx, a.TokenID)
	if err != nil {
		return TokenAuthorizationView{}, notFound(err, "token", a.TokenID)
	}
	ref := id.String()
	v := TokenAuthorizationView{ID: a.ID, AuthorizationReference: ref, AdministrationID: t.AdministrationID,
		Token: AuthorizedTokenView{ID: t.ID, UID: t.Uid, Type: t.Type, EvcoID: t.EvcoID}, ConnectionID: a.ConnectionID,
		CountryCode: nonEmpty(a.CountryCode), PartyID: nonEmpty(a.PartyID), Allowed: a.Allowed, Reason: a.Reason, At: a.At.UTC(),
		ChargeSessions: []AuthorizedSessionView{}, SessionProgress: []AuthorizedProgressView{}}
	if a.LocationID != "" {
		v.Location = &AuthorizedLocationView{LocationID: a.LocationID, EVSEUIDs: a.EVSEUIDs}
		if v.Location.EVSEUIDs == nil {
			v.Location.EVSEUIDs = []string{}
		}
	}
	key := strings.ToUpper(t.Uid)
	sessions, err := Q(q).ChargeSessionIDsByAuthorizationReference(ctx, gen.ChargeSessionIDsByAuthorizationReferenceParams{
		Reference: ref, Sides: []string{string(session.MSP)}, TokenUidKey: key, TokenType: t.Type})
	if err != nil {
		return v, err
	}
	for _, s := range sessions {
		v.ChargeSessions = append(v.ChargeSessions, AuthorizedSessionView{ID: s.ID, CdrID: s.CdrID, State: session.State(s.State)})
	}
	progress, err := Q(q).PartnerSessionIDsByAuthorizationReference(ctx, gen.PartnerSessionIDsByAuthorizationReferenceParams{
		Reference: ref, TokenUidKey: key, TokenType: t.Type})
	if err != nil {
		return v, err
	}
	for _, p := range progress {
		v.SessionProgress = append(v.SessionProgress, AuthorizedProgressView{ID: p.ID, SessionID: p.SessionID, Status: p.Status})
	}
	return v, nil
}
