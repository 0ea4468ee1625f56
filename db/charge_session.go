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
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/session"
)

// Channels a charge session arrives by (charge_session_original.channel).
const (
	ChannelOCPIPush = "ocpi_push"
	ChannelOCPIPull = "ocpi_pull"
	ChannelAdminAPI = "admin_api"
)

// ChargeSessionRecord is a stored charge session: the domain value plus
// what the store keeps beside it.
type ChargeSessionRecord struct {
	session.ChargeSession
	ConnectionID      *uuid.UUID
	EvseKey           string
	CreditedSessionID *uuid.UUID
	NextAttemptAt     *time.Time
	DropoutReason     *string
	DropoutDetail     *string
	DropoutCheck      *string
	DropoutCaseID     *uuid.UUID
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// EventKind is the outbox kind of a side's charge sessions.
func EventKind(side session.Side) string { return string(side) + "-charge-session" }

// Intake is a charge session as it arrives: its facts, the channel, the
// payload exactly as received, and the connection it came through.
type Intake struct {
	Session      session.ChargeSession
	Channel      string
	Payload      []byte
	ConnectionID *uuid.UUID
}

// ReceiveChargeSession stores a new charge session in one transaction: the
// original payload, the session in state received, the resolution of
// invalid submissions of the same CDR, and the outbox event. A CDR already
// stored (same side, party and id, case-insensitively) is not stored again:
// the stored one is returned with created false. A credit CDR must
// reference a CDR of the same party that was received before (mod_cdrs →
// Credit CDRs); it is stored linked to it, and a CDR is credited once
// (creditOnce: a second credit CDR of it is invalid).
func ReceiveChargeSession(ctx context.Context, pool *pgxpool.Pool, in Intake) (rec ChargeSessionRecord, created bool, err error) {
	s := in.Session
	s.CountryCode, s.PartyID = strings.ToUpper(s.CountryCode), strings.ToUpper(s.PartyID)
	if s.ID == uuid.Nil {
		s.ID = uuid.Must(uuid.NewV7())
	}
	if s.ReceivedAt.IsZero() {
		s.ReceivedAt = time.Now().UTC()
	}
	s.ReceivedAt = s.ReceivedAt.UTC().Truncate(time.Microsecond) // as Postgres keeps it, so the event equals GET
	s.State = session.Received
	if !s.Credit {
		return receiveOne(ctx, pool, s, in)
	}
	key := gen.GetChargeSessionByKeyParams{Side: string(s.Side), CountryCode: s.CountryCode, PartyID: s.PartyID, CdrKey: strings.ToUpper(s.CdrID)}
	err = InTx(ctx, pool, func(tx pgx.Tx) error {
		q := Q(tx)
		var credited *uuid.UUID
		if s.Credit {
			ref, err := q.GetChargeSessionByKey(ctx, gen.GetChargeSessionByKeyParams{Side: key.Side, CountryCode: key.CountryCode,
				PartyID: key.PartyID, CdrKey: strings.ToUpper(s.CreditReferenceID)})
			if errors.Is(err, pgx.ErrNoRows) {
				return fault.Invalid("credit_reference_id", "no CDR %q of %s-%s was received; a credit CDR credits an earlier CDR",
					s.CreditReferenceID, s.CountryCode, s.PartyID)
			}
			if err != nil {
				return err
			}
			credited = &ref.ID
			if err := creditOnce(ctx, tx, ref.ID, s.CreditReferenceID, key.CdrKey); err != nil {
				return err
			}
		}
		n, err := q.InsertChargeSession(ctx, insertParams(s, in.ConnectionID, credited))
		if err != nil {
			return Translate(creditedTwice(err, s.CreditReferenceID))
		}
		if n == 0 {
			r, err := q.GetChargeSessionByKey(ctx, key)
			if err != nil {
				return err
			}
			rec = recordOf(r)
			return nil
		}
		created = true
		if err := q.InsertChargeSessionOriginal(ctx, gen.InsertChargeSessionOriginalParams{SessionID: s.ID, Channel: in.Channel,
			Payload: string(in.Payload), ReceivedAt: s.ReceivedAt}); err != nil {
			return err
		}
		if _, err := q.ResolveInvalidChargeSessions(ctx, gen.ResolveInvalidChargeSessionsParams{Now: &s.ReceivedAt, SessionID: &s.ID,
			Side: key.Side, CountryCode: &key.CountryCode, PartyID: &key.PartyID, CdrKey: &key.CdrKey}); err != nil {
			return err
		}
		r, err := q.GetChargeSession(ctx, s.ID)
		if err != nil {
			return err
		}
		rec = recordOf(r)
		return AppendEvent(ctx, tx, event.New(EventKind(s.Side), event.Create, rec.AdministrationID, ChargeSessionViewOf(rec)))
	})
	return rec, created, err
}

// receiveOne is the intake of a CDR that credits nothing: one statement
// (session, original, invalid ones resolved, event), with the record and
// its event built here rather than read back.
func receiveOne(ctx context.Context, pool *pgxpool.Pool, s session.ChargeSession, in Intake) (ChargeSessionRecord, bool, error) {
	rec := ChargeSessionRecord{ChargeSession: s, ConnectionID: in.ConnectionID, EvseKey: evseKey(s), CreatedAt: s.ReceivedAt, UpdatedAt: s.ReceivedAt}
	ev := event.New(EventKind(s.Side), event.Create, s.AdministrationID, ChargeSessionViewOf(rec))
	data, err := json.Marshal(ev.Data)
	if err != nil {
		return rec, false, err
	}
	p := insertParams(s, in.ConnectionID, nil)
	n, err := Q(pool).ReceiveChargeSessionWithEvent(ctx, gen.ReceiveChargeSessionWithEventParams{EventID: ev.ID, ReceivedAt: s.ReceivedAt,
		EventKind: ev.Kind, AdministrationID: s.AdministrationID, EventData: data, ID: s.ID, Side: p.Side, PartnerID: p.PartnerID,
		ConnectionID: p.ConnectionID, CountryCode: p.CountryCode, PartyID: p.PartyID, CdrID: p.CdrID, CdrKey: p.CdrKey, SessionID: p.SessionID,
		StartAt: p.StartAt, EndAt: p.EndAt, TokenCountryCode: p.TokenCountryCode, TokenPartyID: p.TokenPartyID, TokenUid: p.TokenUid,
		TokenUidKey: p.TokenUidKey, TokenType: p.TokenType, TokenContractID: p.TokenContractID, LocationID: p.LocationID, EvseUid: p.EvseUid,
		EvseID: p.EvseID, EvseKey: p.EvseKey, ConnectorID: p.ConnectorID, PowerType: p.PowerType, LocationCountry: p.LocationCountry,
		Currency: p.Currency, TotalEnergy: p.TotalEnergy, TotalTime: p.TotalTime, TotalParkingTime: p.TotalParkingTime,
		AuthorizationReference: p.AuthorizationReference, Channel: in.Channel, Payload: string(in.Payload)})
	if err != nil {
		return rec, false, Translate(err)
	}
	if n == 1 {
		return rec, true, nil
	}
	stored, err := ChargeSessionByCDR(ctx, pool, s.Side, s.CountryCode, s.PartyID, s.CdrID)
	return stored, false, err
}

func insertParams(s session.ChargeSession, conn, credited *uuid.UUID) gen.InsertChargeSessionParams {
	return gen.InsertChargeSessionParams{ID: s.ID, Side: string(s.Side), AdministrationID: s.AdministrationID, PartnerID: s.PartnerID,
		ConnectionID: conn, CountryCode: s.CountryCode, PartyID: s.PartyID, CdrID: s.CdrID, CdrKey: strings.ToUpper(s.CdrID),
		SessionID: nonEmpty(s.SessionID), StartAt: s.Start.UTC(), EndAt: s.End.UTC(), TokenCountryCode: s.Token.CountryCode,
		TokenPartyID: s.Token.PartyID, TokenUid: s.Token.UID, TokenUidKey: strings.ToUpper(s.Token.UID), TokenType: s.Token.Type,
		TokenContractID: s.Token.ContractID, LocationID: s.Location.LocationID, EvseUid: s.Location.EvseUID,
		EvseID: nonEmpty(s.Location.EvseID), EvseKey: evseKey(s), ConnectorID: s.Location.ConnectorID,
		PowerType: nonEmpty(s.Location.PowerType), LocationCountry: nonEmpty(s.Location.Country), Currency: s.Currency,
		TotalEnergy: s.TotalEnergy, TotalTime: s.TotalTime, TotalParkingTime: s.TotalParkingTime, Credit: s.Credit,
		CreditReferenceID: nonEmpty(s.CreditReferenceID), CreditedSessionID: credited, State: string(s.State), ReceivedAt: s.ReceivedAt,
		AuthorizationReference: nonEmpty(s.AuthorizationReference)}
}

// evseKey is the EVSE a session is filed under: its case-key EVSE.
func evseKey(s session.ChargeSession) string { return session.KeyOf(s, "").EVSE }

// EVSEFilterKey is the evse filter value for a user-supplied EVSE id or
// uid, in the form sessions are filed under (case-key EVSE).
func EVSEFilterKey(v string) string { return session.NormalizeEVSEID(v) }

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func recordOf(r gen.ChargeSession) ChargeSessionRecord {
	s := session.ChargeSession{ID: r.ID, Side: session.Side(r.Side), AdministrationID: r.AdministrationID, PartnerID: r.PartnerID,
		CountryCode: r.CountryCode, PartyID: r.PartyID, CdrID: r.CdrID, SessionID: deref(r.SessionID), Start: r.StartAt, End: r.EndAt,
		Token: session.Token{CountryCode: r.TokenCountryCode, PartyID: r.TokenPartyID, UID: r.TokenUid, Type: r.TokenType, ContractID: r.TokenContractID},
		Location: session.Place{LocationID: r.LocationID, EvseUID: r.EvseUid, EvseID: deref(r.EvseID), ConnectorID: r.ConnectorID,
			PowerType: deref(r.PowerType), Country: deref(r.LocationCountry)},
		Currency: r.Currency, TotalEnergy: r.TotalEnergy, TotalTime: r.TotalTime, TotalParkingTime: r.TotalParkingTime,
		Credit: r.Credit, CreditReferenceID: deref(r.CreditReferenceID), AuthorizationReference: deref(r.AuthorizationReference),
		State: session.State(r.State), Attempts: int(r.Attempts),
		ReceivedAt: r.ReceivedAt, CMSReimbursement: r.CmsReimbursementExclVat}
	for _, b := range r.Bypass {
		s.Bypass = append(s.Bypass, session.Check(b))
	}
	if r.MatchLocationID != nil {
		m := &session.Match{LocationID: *r.MatchLocationID, EvseUID: deref(r.MatchEvseUid), ConnectorID: deref(r.MatchConnectorID),
			TimeZone: deref(r.MatchTimeZone)}
		if r.MatchEvseID != nil {
			m.EvseID = *r.MatchEvseID
		}
		if r.MatchMaxPowerKw != nil {
			m.MaxPowerKW = *r.MatchMaxPowerKw
		}
		if r.MatchDropoutAll != nil {
			m.DropoutAll = *r.MatchDropoutAll
		}
		s.Match = m
	}
	return ChargeSessionRecord{ChargeSession: s, ConnectionID: r.ConnectionID, EvseKey: r.EvseKey, CreditedSessionID: r.CreditedSessionID,
		NextAttemptAt: r.NextAttemptAt, DropoutReason: r.DropoutReason, DropoutDetail: r.DropoutDetail, DropoutCheck: r.DropoutCheck,
		DropoutCaseID: r.DropoutCaseID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// ChargeSession loads a charge session.
func ChargeSession(ctx context.Context, q Querier, id uuid.UUID) (ChargeSessionRecord, error) {
	r, err := Q(q).GetChargeSession(ctx, id)
	if err != nil {
		return ChargeSessionRecord{}, notFound(err, "charge session", id)
	}
	return recordOf(r), nil
}

// ChargeSessionByCDR loads the charge session of a CDR by its party and id.
func ChargeSessionByCDR(ctx context.Context, q Querier, side session.Side, countryCode, partyID, cdrID string) (ChargeSessionRecord, error) {
	r, err := Q(q).GetChargeSessionByKey(ctx, gen.GetChargeSessionByKeyParams{Side: string(side), CountryCode: strings.ToUpper(countryCode),
		PartyID: strings.ToUpper(partyID), CdrKey: strings.ToUpper(cdrID)})
	if err != nil {
		return ChargeSessionRecord{}, notFound(err, "CDR", countryCode+"-"+partyID+"/"+cdrID)
	}
	return recordOf(r), nil
}

// ChargeSessionOriginal returns the payload of a session exactly as it was
// received, with its channel.
func ChargeSessionOriginal(ctx context.Context, q Querier, id uuid.UUID) (gen.ChargeSessionOriginal, error) {
	r, err := Q(q).GetChargeSessionOriginal(ctx, id)
	return r, notFound(err, "charge session original", id)
}

// ListChargeSessions returns a page of charge sessions.
func ListChargeSessions(ctx context.Context, q Querier, p gen.ListChargeSessionsParams) ([]ChargeSessionRecord, error) {
	if p.AdminIds == nil {
		p.AdminIds = []uuid.UUID{}
	}
	rows, err := Q(q).ListChargeSessions(ctx, p)
	return mapAll(rows, recordOf), err
}

// ListChargeSessionsByAuthorizationReference is ListChargeSessions of the
// sessions whose CDR carries reference (ignoring case), through its index.
func ListChargeSessionsByAuthorizationReference(ctx context.Context, q Querier, p gen.ListChargeSessionsParams, reference string) ([]ChargeSessionRecord, error) {
	if p.AdminIds == nil {
		p.AdminIds = []uuid.UUID{}
	}
	rows, err := Q(q).ListChargeSessionsByAuthorizationReference(ctx, gen.ListChargeSessionsByAuthorizationReferenceParams{
		AuthorizationReference: reference, Side: p.Side, After: p.After, PartnerID: p.PartnerID, EvseKey: p.EvseKey,
		TokenUidKey: p.TokenUidKey, State: p.State, StartGte: p.StartGte, StartLt: p.StartLt, DropoutCaseID: p.DropoutCaseID,
		AllAdmins: p.AllAdmins, AdminIds: p.AdminIds, Lim: p.Lim})
	return mapAll(rows, func(r gen.ListChargeSessionsByAuthorizationReferenceRow) ChargeSessionRecord {
		return recordOf(gen.ChargeSession(r))
	}), err
}

// CommitStep commits the outcome of a pipeline step computed from s: the
// new state with its details, the drop-out attached to the open case of its
// key, and the outbox event, in one transaction. The update only applies
// if the session is still in the state and attempt count s has (an
// optimistic check), so a step that runs twice, or races an operator's
// reprocess, commits once; committed says whether this call did.
func CommitStep(ctx context.Context, pool Conn, s session.ChargeSession, o session.Outcome, now time.Time) (rec ChargeSessionRecord, committed bool, err error) {
	err = InTx(ctx, pool, func(tx pgx.Tx) error {
		var caseID *uuid.UUID
		caseMod := event.Update
		if o.State == session.DroppedOut {
			newID := uuid.Must(uuid.NewV7())
			c, err := openCase(ctx, tx, newID, session.KeyOf(s, o.Reason), now)
			if err != nil {
				return err
			}
			caseID = &c.ID
			if c.ID == newID {
				caseMod = event.Create
			}
		}
		p := stepParams(s, o, now)
		p.DropoutCaseID = caseID
		n, err := Q(tx).CommitChargeSessionStep(ctx, p)
		if err != nil {
			return err
		}
		if n == 0 {
			return errStale
		}
		committed = true
		r, err := Q(tx).GetChargeSession(ctx, s.ID)
		if err != nil {
			return err
		}
		rec = recordOf(r)
		if caseID != nil {
			if err := appendCaseEvents(ctx, tx, *caseID, caseMod, []*uuid.UUID{rec.AdministrationID}); err != nil {
				return err
			}
		}
		return AppendEvent(ctx, tx, event.New(EventKind(s.Side), event.Update, rec.AdministrationID, ChargeSessionViewOf(rec)))
	})
	if errors.Is(err, errStale) {
		return rec, false, nil
	}
	return rec, committed, err
}

var errStale = errors.New("charge session moved on")

// CommitRecordStep is CommitStep for a session loaded as rec: a step that
// opens no drop-out case is committed with its event in one statement,
// and the new record is built here instead of read back (the worker's hot
// path: one round trip and one commit per step). Drop-outs take
// CommitStep's transaction.
func CommitRecordStep(ctx context.Context, pool Conn, rec ChargeSessionRecord, o session.Outcome, now time.Time) (ChargeSessionRecord, bool, error) {
	if o.State == session.DroppedOut {
		return CommitStep(ctx, pool, rec.ChargeSession, o, now)
	}
	if o.State == session.Priced {
		return CommitPriced(ctx, pool, rec, o, now)
	}
	now = now.UTC().Truncate(time.Microsecond)
	p := stepParams(rec.ChargeSession, o, now)
	next := rec
	next.State, next.Attempts, next.NextAttemptAt, next.UpdatedAt = o.State, o.Attempts, p.NextAttemptAt, now
	if o.AdministrationID != nil {
		next.AdministrationID = o.AdministrationID
	}
	next.Match = nil
	if o.Match != nil {
		m := *o.Match
		next.Match = &m
	}
	ev := event.New(EventKind(rec.Side), event.Update, next.AdministrationID, ChargeSessionViewOf(next))
	data, err := json.Marshal(ev.Data)
	if err != nil {
		return rec, false, err
	}
	n, err := Q(pool).CommitChargeSessionStepWithEvent(ctx, gen.CommitChargeSessionStepWithEventParams{EventID: ev.ID, UpdatedAt: now,
		EventKind: ev.Kind, EventAdministrationID: next.AdministrationID, EventData: data, State: p.State, Attempts: p.Attempts,
		NextAttemptAt: p.NextAttemptAt, AdministrationID: p.AdministrationID, Bypass: p.Bypass, MatchLocationID: p.MatchLocationID,
		MatchEvseID: p.MatchEvseID, MatchEvseUid: p.MatchEvseUid, MatchConnectorID: p.MatchConnectorID, MatchMaxPowerKw: p.MatchMaxPowerKw,
		MatchDropoutAll: p.MatchDropoutAll, MatchTimeZone: p.MatchTimeZone, ID: p.ID, FromState: p.FromState, FromAttempts: p.FromAttempts})
	if err != nil || n == 0 {
		return rec, false, err
	}
	return next, true, nil
}

// CommitsAlone reports whether the commit of o locks rows that other
// sessions share — a drop-out's case, a charge credit's balance, the push
// queue of a CPO session's CDR. A batch transaction (the worker's lanes)
// must not hold such a lock while it commits other sessions: two batches
// would wait on each other, or deadlock. Such a step is committed in a
// transaction of its own.
func CommitsAlone(rec ChargeSessionRecord, o session.Outcome) bool {
	return o.State == session.DroppedOut || (o.State == session.Priced && (usesCredits(o) || publishesCDR(rec.ChargeSession, o)))
}

// stepParams maps an outcome onto the step update, checked against the
// state and attempt count of s.
func stepParams(s session.ChargeSession, o session.Outcome, now time.Time) gen.CommitChargeSessionStepParams {
	p := gen.CommitChargeSessionStepParams{ID: s.ID, FromState: string(s.State), FromAttempts: int32(s.Attempts),
		State: string(o.State), Attempts: int32(o.Attempts), AdministrationID: o.AdministrationID, Bypass: checks(s.Bypass), UpdatedAt: now}
	if o.State == session.Matching || (o.State == session.ReadyForPricing && !o.RetryAt.IsZero()) {
		// A match miss, or a credit CDR waiting for its credited session
		// (session.Pipeline.creditWait), is tried again at RetryAt.
		at := o.RetryAt.UTC()
		p.NextAttemptAt = &at
	}
	if m := o.Match; m != nil {
		p.MatchLocationID = &m.LocationID
		if m.EvseID != uuid.Nil {
			p.MatchEvseID = &m.EvseID
		}
		p.MatchEvseUid = nonEmpty(m.EvseUID)
		p.MatchConnectorID = nonEmpty(m.ConnectorID)
		if !m.MaxPowerKW.IsZero() {
			p.MatchMaxPowerKw = &m.MaxPowerKW
		}
		p.MatchDropoutAll = &m.DropoutAll
		p.MatchTimeZone = nonEmpty(m.TimeZone)
	}
	if o.State == session.DroppedOut {
		p.DropoutReason, p.DropoutDetail, p.DropoutCheck = nonEmpty(o.Reason), nonEmpty(o.Detail), nonEmpty(string(o.Check))
	}
	return p
}

func checks(cs []session.Check) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

// openCase returns the open drop-out case of key, creating it when there
// is none (concurrency-safe through the partial unique index).
// The case is new when it comes back with id.
func openCase(ctx context.Context, q Querier, id uuid.UUID, k session.CaseKey, now time.Time) (gen.DropoutCase, error) {
	return Q(q).OpenDropoutCase(ctx, gen.OpenDropoutCaseParams{ID: id, Side: string(k.Side), Reason: k.Reason,
		CountryCode: k.CountryCode, PartyID: k.PartyID, EvseKey: k.EVSE, Now: now})
}

// ClaimDueSessions locks and returns up to limit sessions whose next step
// is due at now, for the caller's transaction tx (worker/session_drain.go):
// pending sessions by due time, then ready_for_pricing sessions of the
// priced sides. Sessions locked by another transaction are skipped, as are
// those in skip, and fresh sessions with ids up to after (the caller's
// cursor; uuid.Nil for all). The locks end with tx, so a claim lost with
// its connection is claimed again.
func ClaimDueSessions(ctx context.Context, tx pgx.Tx, now time.Time, limit int, priced []session.Side, skip []uuid.UUID, after uuid.UUID) ([]ChargeSessionRecord, error) {
	sides := make([]string, len(priced))
	for i, s := range priced {
		sides[i] = string(s)
	}
	if skip == nil {
		skip = []uuid.UUID{}
	}
	rows, err := Q(tx).ClaimDueChargeSessions(ctx, gen.ClaimDueChargeSessionsParams{Now: now, Skip: skip, After: after, Lim: int32(limit), Sides: sides})
	return mapAll(rows, func(r gen.ClaimDueChargeSessionsRow) ChargeSessionRecord { return recordOf(gen.ChargeSession(r)) }), err
}

// ReprocessChargeSession applies an operator's instruction to a
// dropped-out session (domain Reprocess): retry and bypass send it back to
// received, discard ends it. The session keeps its case for traceability;
// the case is resolved once none of its sessions is dropped out.
func ReprocessChargeSession(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID, in session.Instruction, check session.Check) (ChargeSessionRecord, error) {
	return ReprocessSession(ctx, pool, id, Reprocessing{Instruction: in, Check: check})
}

// ReprocessCase applies an instruction to every dropped-out session of a
// drop-out case in one transaction and returns them.
func ReprocessCase(ctx context.Context, pool *pgxpool.Pool, caseID uuid.UUID, in session.Instruction, check session.Check) ([]ChargeSessionRecord, error) {
	return ReprocessDropoutCase(ctx, pool, caseID, Reprocessing{Instruction: in, Check: check})
}

func reprocess(ctx context.Context, tx pgx.Tx, r ChargeSessionRecord, in session.Instruction, check session.Check, now time.Time) (ChargeSessionRecord, error) {
	s, err := session.Reprocess(r.ChargeSession, in, check)
	if err != nil {
		return r, err
	}
	p := gen.CommitChargeSessionStepParams{ID: r.ID, FromState: string(r.State), FromAttempts: int32(r.Attempts),
		State: string(s.State), Attempts: int32(s.Attempts), Bypass: checks(s.Bypass), UpdatedAt: now,
		DropoutReason: r.DropoutReason, DropoutDetail: r.DropoutDetail, DropoutCheck: r.DropoutCheck, DropoutCaseID: r.DropoutCaseID}
	q := Q(tx)
	if _, err := q.CommitChargeSessionStep(ctx, p); err != nil {
		return r, err
	}
	if r.DropoutCaseID != nil {
		if _, err := q.ResolveDropoutCaseIfDone(ctx, gen.ResolveDropoutCaseIfDoneParams{ID: *r.DropoutCaseID, Now: &now}); err != nil {
			return r, err
		}
	}
	g, err := q.GetChargeSession(ctx, r.ID)
	if err != nil {
		return r, err
	}
	rec := recordOf(g)
	return rec, AppendEvent(ctx, tx, event.New(EventKind(rec.Side), event.Update, rec.AdministrationID, ChargeSessionViewOf(rec)))
}

// InvalidIntake is a CDR that failed the basic checks on a channel that
// cannot refuse it.
type InvalidIntake struct {
	Side         session.Side
	Channel      string
	ConnectionID *uuid.UUID
	PartnerID    *uuid.UUID
	CountryCode  string
	PartyID      string
	CdrID        string
	Payload      []byte
	Problems     []session.Problem
	ReceivedAt   time.Time
}

// StoreInvalidChargeSession keeps an invalid CDR with its problems.
func StoreInvalidChargeSession(ctx context.Context, q Querier, in InvalidIntake) (uuid.UUID, error) {
	type problem struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	}
	ps := make([]problem, len(in.Problems))
	for i, p := range in.Problems {
		ps[i] = problem{p.Field, p.Reason}
	}
	raw, err := json.Marshal(ps)
	if err != nil {
		return uuid.Nil, err
	}
	if in.ReceivedAt.IsZero() {
		in.ReceivedAt = time.Now().UTC()
	}
	id := uuid.Must(uuid.NewV7())
	upper := func(s string) *string { return nonEmpty(strings.ToUpper(s)) }
	return id, Q(q).InsertInvalidChargeSession(ctx, gen.InsertInvalidChargeSessionParams{ID: id, Side: string(in.Side), Channel: in.Channel,
		ConnectionID: in.ConnectionID, PartnerID: in.PartnerID, CountryCode: upper(in.CountryCode), PartyID: upper(in.PartyID),
		CdrID: nonEmpty(in.CdrID), CdrKey: upper(in.CdrID), Payload: strings.ToValidUTF8(string(in.Payload), "\uFFFD"), Problems: raw,
		ReceivedAt: in.ReceivedAt})
}
