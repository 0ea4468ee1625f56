package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/network"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// Partners' sessions as they run (mod_sessions, our eMSP role): the
// latest accepted report of each session of a partner's CPO party, from
// the Sessions receiver (PUT, PATCH) or the pull of the partner's Sessions
// sender. Reports follow last_updated ordering (session.AcceptsReport);
// every accepted change writes an outbox event of kind
// msp-charge-session-progress whose data is the Admin API record, with
// last_change saying what changed (session.ChangeOf).

// PartnerSessionEventKind is the outbox kind of partner sessions (the
// Admin API resource msp-charge-session-progress).
const PartnerSessionEventKind = "msp-charge-session-progress"

// PartnerSessionRecord is a stored partner session: the Session object as
// last accepted and what the store keeps beside it.
type PartnerSessionRecord struct {
	ID               uuid.UUID
	Session          ocpi.Session
	ConnectionID     *uuid.UUID
	PartnerID        *uuid.UUID
	AdministrationID *uuid.UUID
	LastChange       session.Change
	Channel          string
	// Body is the last accepted report exactly as received.
	Body      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// partnerSessionOf rebuilds the record, Session object included, from its row.
func partnerSessionOf(r gen.PartnerSession) (PartnerSessionRecord, error) {
	s := ocpi.Session{CountryCode: r.CountryCode, PartyID: r.PartyID, ID: r.SessionID, StartDateTime: ocpi.NewDateTime(r.StartAt),
		Kwh: ocpi.NewNumber(r.Kwh), CdrToken: ocpi.CdrToken{CountryCode: r.TokenCountryCode, PartyID: r.TokenPartyID, UID: r.TokenUid,
			Type: r.TokenType, ContractID: r.TokenContractID},
		AuthMethod: ocpi.AuthMethod(r.AuthMethod), AuthorizationReference: deref(r.AuthorizationReference), LocationID: r.LocationID,
		EvseUID: r.EvseUid, ConnectorID: r.ConnectorID, MeterID: deref(r.MeterID), Currency: r.Currency,
		Status: ocpi.SessionStatus(r.Status), LastUpdated: ocpi.NewDateTime(r.LastUpdated)}
	if r.EndAt != nil {
		e := ocpi.NewDateTime(*r.EndAt)
		s.EndDateTime = &e
	}
	if r.TotalCostExclVat != nil {
		s.TotalCost = &ocpi.Price{ExclVAT: ocpi.NewNumber(*r.TotalCostExclVat), InclVAT: ocpi.NumberPtr(r.TotalCostInclVat)}
	}
	if len(r.ChargingPeriods) > 0 {
		if err := json.Unmarshal(r.ChargingPeriods, &s.ChargingPeriods); err != nil {
			return PartnerSessionRecord{}, fmt.Errorf("db: charging periods of partner session %s: %w", r.ID, err)
		}
		if len(s.ChargingPeriods) == 0 {
			s.ChargingPeriods = nil
		}
	}
	return PartnerSessionRecord{ID: r.ID, Session: s, ConnectionID: r.ConnectionID, PartnerID: r.PartnerID,
		AdministrationID: r.AdministrationID, LastChange: session.Change(r.LastChange), Channel: r.Channel, Body: r.Body,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
}

// PartnerSessionReport is one report of a session to apply.
type PartnerSessionReport struct {
	// CountryCode, PartyID and SessionID name the session (the URL of a
	// push, the object of a pull).
	CountryCode string
	PartyID     string
	SessionID   string
	// ConnectionID is the connection it came through, PartnerID the
	// roaming partner of its party.
	ConnectionID *uuid.UUID
	PartnerID    *uuid.UUID
	// Channel is ChannelOCPIPush or ChannelOCPIPull; Body the report as
	// received.
	Channel string
	Body    []byte
	// Build returns the reported Session from the stored one (nil when
	// the session is new): a PUT or a pull returns its object, a PATCH
	// merges into cur. An error stores nothing and is returned.
	Build func(cur *ocpi.Session) (ocpi.Session, error)
}

// PartnerSessionOutcome says what a report did.
type PartnerSessionOutcome struct {
	// Record is the session as stored after the report.
	Record PartnerSessionRecord
	// Created: the session was new. Applied: the report was stored (with
	// its event). Stale: it was not, because the stored report is newer.
	// A report that is neither applied nor stale changed nothing.
	Created bool
	Applied bool
	Stale   bool
}

// ApplyPartnerSession applies a report in its own transaction: under the
// session's row lock it builds the new object, keeps the stored one when
// it is newer (session.AcceptsReport) or equal, resolves the administration
// from the token, and stores the session with its outbox event.
func ApplyPartnerSession(ctx context.Context, pool *pgxpool.Pool, rep PartnerSessionReport) (PartnerSessionOutcome, error) {
	var out PartnerSessionOutcome
	err := InTx(ctx, pool, func(tx pgx.Tx) error {
		var err error
		out, err = applyPartnerSessionRetry(ctx, tx, rep, time.Now())
		return err
	})
	return out, err
}

// applyPartnerSessionRetry applies a report in tx, again when a
// concurrent report created the session first (its insert waited for
// that one's commit and inserted nothing; the row lock now finds it).
func applyPartnerSessionRetry(ctx context.Context, tx pgx.Tx, rep PartnerSessionReport, now time.Time) (PartnerSessionOutcome, error) {
	for attempt := 0; ; attempt++ {
		out, err := applyPartnerSession(ctx, tx, rep, now)
		if errors.Is(err, errSessionRace) && attempt < 3 {
			continue
		}
		return out, err
	}
}

// errSessionRace: a concurrent report created the session first.
var errSessionRace = errors.New("db: partner session created concurrently")

// applyPartnerSession is ApplyPartnerSession inside tx.
func applyPartnerSession(ctx context.Context, tx pgx.Tx, rep PartnerSessionReport, now time.Time) (PartnerSessionOutcome, error) {
	now = now.UTC().Truncate(time.Microsecond)
	q := Q(tx)
	key := gen.LockPartnerSessionParams{CountryCode: strings.ToUpper(rep.CountryCode), PartyID: strings.ToUpper(rep.PartyID),
		SessionKey: strings.ToUpper(rep.SessionID)}
	var cur *PartnerSessionRecord
	row, err := q.LockPartnerSession(ctx, key)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return PartnerSessionOutcome{}, err
	default:
		r, err := partnerSessionOf(row)
		if err != nil {
			return PartnerSessionOutcome{}, err
		}
		cur = &r
	}
	var curSession *ocpi.Session
	if cur != nil {
		c := cur.Session
		curSession = &c
	}
	next, err := rep.Build(curSession)
	if err != nil {
		return PartnerSessionOutcome{}, err
	}
	if cur != nil {
		if !session.AcceptsReport(cur.Session.LastUpdated.Time, next.LastUpdated.Time) {
			return PartnerSessionOutcome{Record: *cur, Stale: true}, nil
		}
		if ocpi.SameSession(cur.Session, next) {
			return PartnerSessionOutcome{Record: *cur}, nil
		}
	}
	admin, err := tokenAdministration(ctx, tx, next.CdrToken)
	if err != nil {
		return PartnerSessionOutcome{}, err
	}
	var prev *session.Progress
	if cur != nil {
		p := cur.Session.Progress()
		prev = &p
	}
	change := session.ChangeOf(prev, next.Progress())
	periods, err := json.Marshal(next.ChargingPeriods)
	if err != nil {
		return PartnerSessionOutcome{}, err
	}
	if next.ChargingPeriods == nil {
		periods = []byte("[]")
	}
	p := gen.InsertPartnerSessionParams{ConnectionID: rep.ConnectionID, PartnerID: rep.PartnerID, AdministrationID: admin,
		CountryCode: key.CountryCode, PartyID: key.PartyID, SessionID: next.ID, SessionKey: key.SessionKey, Status: string(next.Status),
		Kwh: next.Kwh.Decimal, StartAt: next.StartDateTime.UTC(), TokenCountryCode: next.CdrToken.CountryCode,
		TokenPartyID: next.CdrToken.PartyID, TokenUid: next.CdrToken.UID, TokenUidKey: strings.ToUpper(next.CdrToken.UID),
		TokenType: next.CdrToken.Type, TokenContractID: next.CdrToken.ContractID, AuthMethod: string(next.AuthMethod),
		AuthorizationReference: nonEmpty(next.AuthorizationReference), LocationID: next.LocationID, EvseUid: next.EvseUID,
		EvseKey: strings.ToUpper(next.EvseUID), ConnectorID: next.ConnectorID, MeterID: nonEmpty(next.MeterID), Currency: next.Currency,
		ChargingPeriods: periods, LastUpdated: next.LastUpdated.UTC(), LastChange: string(change), Channel: rep.Channel,
		Body: strings.ToValidUTF8(string(rep.Body), "\uFFFD"), Now: now}
	if next.EndDateTime != nil {
		e := next.EndDateTime.UTC()
		p.EndAt = &e
	}
	if tc := next.TotalCost; tc != nil {
		p.TotalCostExclVat = &tc.ExclVAT.Decimal
		p.TotalCostInclVat = tc.InclVAT.Dec()
	}
	var stored gen.PartnerSession
	mod := event.Update
	if cur == nil {
		p.ID = uuid.Must(uuid.NewV7())
		stored, err = q.InsertPartnerSession(ctx, p)
		if errors.Is(err, pgx.ErrNoRows) {
			return PartnerSessionOutcome{}, errSessionRace
		}
		mod = event.Create
	} else {
		stored, err = q.UpdatePartnerSession(ctx, gen.UpdatePartnerSessionParams{ID: cur.ID, ConnectionID: p.ConnectionID,
			PartnerID: p.PartnerID, AdministrationID: p.AdministrationID, SessionID: p.SessionID, Status: p.Status, Kwh: p.Kwh,
			StartAt: p.StartAt, EndAt: p.EndAt, TokenCountryCode: p.TokenCountryCode, TokenPartyID: p.TokenPartyID, TokenUid: p.TokenUid,
			TokenUidKey: p.TokenUidKey, TokenType: p.TokenType, TokenContractID: p.TokenContractID, AuthMethod: p.AuthMethod,
			AuthorizationReference: p.AuthorizationReference, LocationID: p.LocationID, EvseUid: p.EvseUid, EvseKey: p.EvseKey,
			ConnectorID: p.ConnectorID, MeterID: p.MeterID, Currency: p.Currency, TotalCostExclVat: p.TotalCostExclVat,
			TotalCostInclVat: p.TotalCostInclVat, ChargingPeriods: p.ChargingPeriods, LastUpdated: p.LastUpdated,
			LastChange: p.LastChange, Channel: p.Channel, Body: p.Body, Now: now})
	}
	if err != nil {
		return PartnerSessionOutcome{}, Translate(err)
	}
	rec, err := partnerSessionOf(stored)
	if err != nil {
		return PartnerSessionOutcome{}, err
	}
	if err := AppendEvent(ctx, tx, event.New(PartnerSessionEventKind, mod, rec.AdministrationID, PartnerSessionViewOf(rec))); err != nil {
		return PartnerSessionOutcome{}, err
	}
	return PartnerSessionOutcome{Record: rec, Created: cur == nil, Applied: true}, nil
}

// tokenAdministration is the administration of our token the session
// runs on (as charge sessions find it: MSPTokenOwner), nil when the token
// is not ours (yet).
func tokenAdministration(ctx context.Context, q Querier, t ocpi.CdrToken) (*uuid.UUID, error) {
	admin, err := Q(q).MSPTokenOwner(ctx, gen.MSPTokenOwnerParams{UidKey: strings.ToUpper(t.UID), Type: t.Type})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &admin, nil
}

// PartnerSessionByKey loads the session of a party by its id (ignoring case).
func PartnerSessionByKey(ctx context.Context, q Querier, countryCode, partyID, sessionID string) (PartnerSessionRecord, error) {
	r, err := Q(q).GetPartnerSessionByKey(ctx, gen.GetPartnerSessionByKeyParams{CountryCode: strings.ToUpper(countryCode),
		PartyID: strings.ToUpper(partyID), SessionKey: strings.ToUpper(sessionID)})
	if err != nil {
		return PartnerSessionRecord{}, notFound(err, "session", countryCode+"-"+partyID+"/"+sessionID)
	}
	return partnerSessionOf(r)
}

// PartnerSession loads a partner session by its record id.
func PartnerSession(ctx context.Context, q Querier, id uuid.UUID) (PartnerSessionRecord, error) {
	r, err := Q(q).GetPartnerSession(ctx, id)
	if err != nil {
		return PartnerSessionRecord{}, notFound(err, "partner session", id)
	}
	return partnerSessionOf(r)
}

// ListPartnerSessions returns a page of partner sessions.
func ListPartnerSessions(ctx context.Context, q Querier, p gen.ListPartnerSessionsParams) ([]PartnerSessionRecord, error) {
	if p.AdminIds == nil {
		p.AdminIds = []uuid.UUID{}
	}
	return convert(partnerSessionOf)(Q(q).ListPartnerSessions(ctx, p))
}

// PartnerSessionView is a partner session as the Admin API returns it
// (msp-charge-session-progress) and as its outbox events carry it.
// Decimals are strings, timestamps RFC 3339 UTC.
type PartnerSessionView struct {
	ID                     uuid.UUID              `json:"id"`
	AdministrationID       *uuid.UUID             `json:"administration_id"`
	PartnerID              *uuid.UUID             `json:"partner_id"`
	ConnectionID           *uuid.UUID             `json:"connection_id"`
	CountryCode            string                 `json:"country_code"`
	PartyID                string                 `json:"party_id"`
	SessionID              string                 `json:"session_id"`
	Status                 session.ProgressStatus `json:"status"`
	Kwh                    decimal.Decimal        `json:"kwh"`
	StartDateTime          time.Time              `json:"start_date_time"`
	EndDateTime            *time.Time             `json:"end_date_time"`
	Token                  SessionTokenView       `json:"token"`
	AuthMethod             string                 `json:"auth_method"`
	AuthorizationReference *string                `json:"authorization_reference"`
	Location               ProgressPlaceView      `json:"location"`
	MeterID                *string                `json:"meter_id"`
	Currency               string                 `json:"currency"`
	TotalCost              *ProgressCostView      `json:"total_cost"`
	ChargingPeriods        []ProgressPeriodView   `json:"charging_periods"`
	LastUpdated            time.Time              `json:"last_updated"`
	LastChange             session.Change         `json:"last_change"`
	Channel                string                 `json:"channel"`
	CreatedAt              time.Time              `json:"created_at"`
	UpdatedAt              time.Time              `json:"updated_at"`
}

// ProgressPlaceView is where the session runs.
type ProgressPlaceView struct {
	LocationID  string `json:"location_id"`
	EvseUID     string `json:"evse_uid"`
	ConnectorID string `json:"connector_id"`
}

// ProgressCostView is the session's cost so far as the CPO states it.
type ProgressCostView struct {
	ExclVAT decimal.Decimal  `json:"excl_vat"`
	InclVAT *decimal.Decimal `json:"incl_vat"`
}

// ProgressPeriodView is one charging period (mod_cdrs → ChargingPeriod).
type ProgressPeriodView struct {
	StartDateTime time.Time               `json:"start_date_time"`
	TariffID      *string                 `json:"tariff_id"`
	Dimensions    []ProgressDimensionView `json:"dimensions"`
}

// ProgressDimensionView is one value of a charging period.
type ProgressDimensionView struct {
	Type   string          `json:"type"`
	Volume decimal.Decimal `json:"volume"`
}

// PartnerSessionViewOf renders a record.
func PartnerSessionViewOf(r PartnerSessionRecord) PartnerSessionView {
	s := r.Session
	v := PartnerSessionView{ID: r.ID, AdministrationID: r.AdministrationID, PartnerID: r.PartnerID, ConnectionID: r.ConnectionID,
		CountryCode: s.CountryCode, PartyID: s.PartyID, SessionID: s.ID, Status: session.ProgressStatus(s.Status), Kwh: s.Kwh.Decimal,
		StartDateTime: s.StartDateTime.UTC(),
		Token: SessionTokenView{CountryCode: s.CdrToken.CountryCode, PartyID: s.CdrToken.PartyID, UID: s.CdrToken.UID,
			Type: s.CdrToken.Type, ContractID: s.CdrToken.ContractID},
		AuthMethod: string(s.AuthMethod), AuthorizationReference: nonEmpty(s.AuthorizationReference),
		Location: ProgressPlaceView{LocationID: s.LocationID, EvseUID: s.EvseUID, ConnectorID: s.ConnectorID},
		MeterID:  nonEmpty(s.MeterID), Currency: s.Currency, ChargingPeriods: make([]ProgressPeriodView, len(s.ChargingPeriods)),
		LastUpdated: s.LastUpdated.UTC(), LastChange: r.LastChange, Channel: r.Channel, CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: r.UpdatedAt.UTC()}
	if s.EndDateTime != nil {
		e := s.EndDateTime.UTC()
		v.EndDateTime = &e
	}
	if tc := s.TotalCost; tc != nil {
		v.TotalCost = &ProgressCostView{ExclVAT: tc.ExclVAT.Decimal, InclVAT: tc.InclVAT.Dec()}
	}
	for i, p := range s.ChargingPeriods {
		pv := ProgressPeriodView{StartDateTime: p.StartDateTime.UTC(), TariffID: nonEmpty(p.TariffID),
			Dimensions: make([]ProgressDimensionView, len(p.Dimensions))}
		for j, d := range p.Dimensions {
			pv.Dimensions[j] = ProgressDimensionView{Type: string(d.Type), Volume: d.Volume.Decimal}
		}
		v.ChargingPeriods[i] = pv
	}
	return v
}

// ---- pull of partners' sessions and CDRs

// SessionPullStore is the Postgres implementation of
// roaming.SessionPullStore: the roaming_sync state of the modules sessions
// and cdrs (the same rows, queries and claims as locations and tariffs,
// through SyncStore) and the storage of pulled pages.
type SessionPullStore struct {
	SyncStore
}

var _ roaming.SessionPullStore = SessionPullStore{}

// SavePulled implements roaming.SessionPullStore. Sessions are applied
// with the cursor in one transaction, under the receiver's last_updated
// ordering. CDRs go through the intake of pushed ones
// (ReceiveChargeSession, channel ocpi_pull: idempotent on party and CDR
// id), one transaction each, and those that fail the basic checks are kept
// once as invalid charge sessions; the cursor follows. A crash between
// the two re-fetches the page, which then stores nothing twice.
func (s SessionPullStore) SavePulled(ctx context.Context, run roaming.SyncRun, page roaming.PulledPage, next *string, now time.Time) (roaming.PulledResult, error) {
	var res roaming.PulledResult
	partners := map[[2]string]*uuid.UUID{}
	partnerOf := func(q Querier, cc, pid string) (*uuid.UUID, error) {
		k := [2]string{strings.ToUpper(cc), strings.ToUpper(pid)}
		if p, ok := partners[k]; ok {
			return p, nil
		}
		r, err := Q(q).PartyIDByRef(ctx, gen.PartyIDByRefParams{CountryCode: k[0], PartyID: k[1], Role: "CPO"})
		var p *uuid.UUID
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, err
		case r.ConnectionID != nil && *r.ConnectionID == run.ConnectionID:
			p = &r.PartnerID
		}
		partners[k] = p
		return p, nil
	}
	save := func(q Querier, objects, ignored, rejected int, last string) error {
		var rej *string
		if last != "" {
			rej = &last
		}
		n, err := Q(q).SaveSyncPage(ctx, gen.SaveSyncPageParams{NextUrl: next, Objects: int32(objects), Ignored: int32(ignored),
			Rejected: int32(rejected), LastRejection: rej, Now: &now, ConnectionID: run.ConnectionID, Module: string(run.Module), RunID: &run.RunID})
		if err == nil && n == 0 {
			err = roaming.ErrSyncLost
		}
		return err
	}
	connID := run.ConnectionID
	switch run.Module {
	case roaming.ModuleSessions:
		err := InTx(ctx, s.Pool, func(tx pgx.Tx) error {
			res = roaming.PulledResult{}
			for _, ps := range page.Sessions {
				partnerID, err := partnerOf(tx, ps.Session.CountryCode, ps.Session.PartyID)
				if err != nil {
					return err
				}
				obj := ps.Session
				o, err := applyPartnerSessionRetry(ctx, tx, PartnerSessionReport{CountryCode: obj.CountryCode, PartyID: obj.PartyID,
					SessionID: obj.ID, ConnectionID: &connID, PartnerID: partnerID, Channel: ChannelOCPIPull, Body: ps.Body,
					Build: func(*ocpi.Session) (ocpi.Session, error) { return obj, nil }}, now)
				if err != nil {
					return err
				}
				if o.Applied {
					res.Applied++
				} else {
					res.Ignored++
				}
			}
			return save(tx, res.Applied, page.Ignored+res.Ignored, page.Rejected, page.LastRejection)
		})
		return res, err
	case roaming.ModuleCDRs:
		last := page.LastRejection
		for _, c := range page.CDRs {
			var partnerID *uuid.UUID
			if ocpi.IsCountryCode(c.CountryCode) && ocpi.IsPartyID(c.PartyID) {
				var err error
				if partnerID, err = partnerOf(s.Pool, c.CountryCode, c.PartyID); err != nil {
					return res, err
				}
			}
			problems := c.Problems
			if len(problems) == 0 {
				cs := c.Session
				cs.PartnerID = partnerID
				rec, created, err := ReceiveChargeSession(ctx, s.Pool, Intake{Session: cs, Channel: ChannelOCPIPull, Payload: c.Body, ConnectionID: &connID})
				if f, ok := fault.As(err); ok && f.Kind == fault.KindInvalid {
					for _, fl := range f.Fields {
						problems = append(problems, session.Problem{Field: fl.Path, Reason: fl.Message})
					}
				} else if err != nil {
					return res, err
				} else {
					if created {
						res.Applied++
						res.New = append(res.New, rec.ID)
					} else {
						res.Ignored++
					}
					continue
				}
			}
			stored, err := storePulledInvalid(ctx, s.Pool, connID, partnerID, c, problems, now)
			if err != nil {
				return res, err
			}
			if stored {
				res.Invalid++
				ps := make([]string, len(problems))
				for i, p := range problems {
					ps[i] = p.String()
				}
				last = "CDR " + c.CdrID + ": " + strings.Join(ps, "; ")
			} else {
				res.Ignored++
			}
		}
		return res, save(s.Pool, res.Applied, page.Ignored+res.Ignored, page.Rejected+res.Invalid, last)
	}
	return res, fmt.Errorf("db: module %q is not pulled by the session pull", run.Module)
}

// storePulledInvalid keeps a pulled CDR that cannot enter the pipeline as
// an invalid charge session with its technical reasons (channel
// ocpi_pull), unless the same payload is kept already or the CDR was
// received as a valid one; stored says whether it was kept now. Its party
// and id are kept upper case as far as they could be read, so that a later
// valid submission of the CDR resolves it (ReceiveChargeSession).
func storePulledInvalid(ctx context.Context, q Querier, connID uuid.UUID, partnerID *uuid.UUID, c roaming.PulledCDR, problems []session.Problem, now time.Time) (bool, error) {
	type problem struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	}
	ps := make([]problem, len(problems))
	for i, p := range problems {
		ps[i] = problem{p.Field, p.Reason}
	}
	raw, err := json.Marshal(ps)
	if err != nil {
		return false, err
	}
	upper := func(s string) *string { return nonEmpty(strings.ToUpper(s)) }
	n, err := Q(q).InsertPulledInvalidChargeSession(ctx, gen.InsertPulledInvalidChargeSessionParams{ID: uuid.Must(uuid.NewV7()),
		ConnectionID: &connID, PartnerID: partnerID, CountryCode: upper(c.CountryCode), PartyID: upper(c.PartyID),
		CdrID: nonEmpty(c.CdrID), CdrKey: upper(c.CdrID), Payload: strings.ToValidUTF8(string(c.Body), "\uFFFD"), Problems: raw,
		ReceivedAt: now.UTC()})
	return n == 1, err
}

// DueSessionPulls lists the session and CDR pulls to start now, like
// DueSyncs.
func DueSessionPulls(ctx context.Context, q Querier, staleBefore, dueBefore, retryBefore time.Time) ([]DueSync, error) {
	rows, err := Q(q).DueSessionPulls(ctx, gen.DueSessionPullsParams{StaleBefore: &staleBefore, DueBefore: &dueBefore, RetryBefore: &retryBefore})
	out := make([]DueSync, len(rows))
	for i, r := range rows {
		out[i] = DueSync{ConnectionID: r.ConnectionID, Module: network.Module(r.Module)}
	}
	return out, err
}
