package db

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/location"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// Sessions at our own charge points (issue 5, CPO side; guide 003 →
// Charge Point Operators → Charge sessions). Our charge management system
// reports each session while it runs and when it ends
// (ReportCPOSession); we publish it as an OCPI Session to the eMSP that
// owns its token (Sessions sender and push), and once it ends it becomes a
// charge session of side cpo that the pipeline matches, checks and prices.
// The priced session's CDR, whose total_cost is the roaming cost, is
// published once (PublishCPOCDR): CDRs sender and push to the token's eMSP.

// EventKindCPOSession is the outbox kind of a reported session (running
// or ended), as the cpo-charge-session-progress read model renders it.
const EventKindCPOSession = "cpo-charge-session-progress"

// CPOCDRFacts is what the charge management system reports beyond the
// OCPI Session when a session ends: the CDR's own facts (mod_cdrs → CDR
// Object). Costs are ours to compute (the roaming cost); what the system
// says about them is kept for information.
type CPOCDRFacts struct {
	// TotalEnergy in kWh, TotalTime and TotalParkingTime in hours.
	TotalEnergy      decimal.Decimal  `json:"total_energy"`
	TotalTime        decimal.Decimal  `json:"total_time"`
	TotalParkingTime *decimal.Decimal `json:"total_parking_time,omitempty"`
	SignedData       *ocpi.SignedData `json:"signed_data,omitempty"`
	Remark           string           `json:"remark,omitempty"`
	// CMSReimbursement is the reimbursement (excluding VAT) the system
	// computed for the site owner, when it provides one (guide 003 →
	// Reimbursements: "Using the CPMS provided reimbursement").
	CMSReimbursement *decimal.Decimal `json:"cms_reimbursement_excl_vat,omitempty"`
}

// CPOSessionRecord is a stored session of one of our charge points.
type CPOSessionRecord struct {
	ID                uuid.UUID
	ExternalReference *string
	// Session is the OCPI Session as we publish it.
	Session ocpi.CPOSession
	// CDR holds the facts of the ended session; nil while it runs.
	CDR *CPOCDRFacts
	// ChargeSessionID is the charge session the ended session became.
	ChargeSessionID *uuid.UUID
	// Published is the CDR as published (nil until priced), at PublishedAt.
	Published         *ocpi.CDR
	PublishedAt       *time.Time
	ExternalUpdatedAt *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

func cpoSessionOf(r gen.CpoSession) (CPOSessionRecord, error) {
	rec := CPOSessionRecord{ID: r.ID, ExternalReference: r.ExternalReference, ChargeSessionID: r.ChargeSessionID,
		PublishedAt: r.CdrPublishedAt, ExternalUpdatedAt: r.ExternalUpdatedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if err := json.Unmarshal(r.Doc, &rec.Session); err != nil {
		return rec, err
	}
	if r.CdrFacts != nil {
		rec.CDR = &CPOCDRFacts{}
		if err := json.Unmarshal(r.CdrFacts, rec.CDR); err != nil {
			return rec, err
		}
	}
	if r.CdrDoc != nil {
		rec.Published = &ocpi.CDR{}
		if err := json.Unmarshal(r.CdrDoc, rec.Published); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// CPOSessionByKey loads the session our party cc-pid reported with OCPI
// id sessionID (case-insensitive).
func CPOSessionByKey(ctx context.Context, q Querier, cc, pid, sessionID string) (CPOSessionRecord, error) {
	r, err := Q(q).GetCPOSessionByKey(ctx, gen.GetCPOSessionByKeyParams{CountryCode: strings.ToUpper(cc), PartyID: strings.ToUpper(pid),
		SessionKey: strings.ToUpper(sessionID)})
	if err != nil {
		return CPOSessionRecord{}, notFound(err, "cpo session", cc+"-"+pid+"/"+sessionID)
	}
	return cpoSessionOf(r)
}

// CPOSessionByID loads a session by its record id.
func CPOSessionByID(ctx context.Context, q Querier, id uuid.UUID) (CPOSessionRecord, error) {
	r, err := Q(q).GetCPOSession(ctx, id)
	if err != nil {
		return CPOSessionRecord{}, notFound(err, "cpo session", id)
	}
	return cpoSessionOf(r)
}

// CPOSessionOfChargeSession loads the session a CPO charge session came from.
func CPOSessionOfChargeSession(ctx context.Context, q Querier, chargeSessionID uuid.UUID) (CPOSessionRecord, error) {
	r, err := Q(q).GetCPOSessionOfChargeSession(ctx, &chargeSessionID)
	if err != nil {
		return CPOSessionRecord{}, notFound(err, "cpo session of charge session", chargeSessionID)
	}
	return cpoSessionOf(r)
}

// ListCPOSessions returns a page of reported sessions (id order).
func ListCPOSessions(ctx context.Context, q Querier, p gen.ListCPOSessionsParams) ([]CPOSessionRecord, error) {
	return convert(cpoSessionOf)(Q(q).ListCPOSessions(ctx, p))
}

// CPOSessionReport is one report of the charge management system: the
// Session as it is now, and the CDR's facts when it ended.
type CPOSessionReport struct {
	// Session is the Session to publish; its last_updated is ours to set.
	Session           ocpi.CPOSession
	ExternalReference *string
	// ExternalUpdatedAt orders reports (guide 003 → stale update
	// prevention): a report older than the stored one is ignored.
	ExternalUpdatedAt *time.Time
	// CDR is set when the session ended (status COMPLETED): it then
	// becomes a charge session.
	CDR *CPOCDRFacts
	// Payload is the report as received, kept as the charge session's
	// original.
	Payload []byte
}

// CPOReportOutcome says what a report did.
type CPOReportOutcome string

// The outcomes of a report.
const (
	CPOReportCreated   CPOReportOutcome = "created"
	CPOReportUpdated   CPOReportOutcome = "updated"
	CPOReportUnchanged CPOReportOutcome = "unchanged" // a repeat: nothing written
	CPOReportStale     CPOReportOutcome = "stale"     // older than the stored report: ignored
)

// CPOReportResult is the result of ReportCPOSession.
type CPOReportResult struct {
	Outcome CPOReportOutcome
	Record  CPOSessionRecord
	// Charge is the charge session this report created (the session
	// ended); nil otherwise. The caller hands it to the pipeline after the
	// commit.
	Charge *ChargeSessionRecord
	// Pushes are the push groups to kick after the commit.
	Pushes []roaming.PushRef
}

// ErrCDRIssued is the code of a report that changes a session whose CDR
// was already issued: a CDR is final (mod_cdrs → CDR Object; corrections
// are credit CDRs), so the report is refused rather than silently lost.
const ErrCDRIssued = "cdr_issued"

// ReportCPOSession stores a report of the charge management system in one
// transaction: the session (created or updated, with its outbox event and
// the push of the Session to the eMSP that owns its token) and, when the
// session ended, the charge session it becomes (original payload, outbox
// event), exactly once. Reports are idempotent: a repeat changes nothing,
// creates no second charge session and sends nothing; an older report
// (external_updated_at) is ignored; a different report after the CDR was
// issued is a conflict (ErrCDRIssued).
func ReportCPOSession(ctx context.Context, pool *pgxpool.Pool, rep CPOSessionReport, now time.Time) (CPOReportResult, error) {
	now = now.UTC().Truncate(time.Microsecond) // as Postgres keeps it: events equal GET
	s := rep.Session
	s.CountryCode, s.PartyID = strings.ToUpper(s.CountryCode), strings.ToUpper(s.PartyID)
	s.CdrToken.CountryCode, s.CdrToken.PartyID = strings.ToUpper(s.CdrToken.CountryCode), strings.ToUpper(s.CdrToken.PartyID)
	var out CPOReportResult
	err := InTx(ctx, pool, func(tx pgx.Tx) error {
		out = CPOReportResult{}
		q := Q(tx)
		var cur *CPOSessionRecord
		row, err := q.LockCPOSessionByKey(ctx, gen.LockCPOSessionByKeyParams{CountryCode: s.CountryCode, PartyID: s.PartyID,
			SessionKey: strings.ToUpper(s.ID)})
		switch {
		case err == nil:
			c, err := cpoSessionOf(row)
			if err != nil {
				return err
			}
			cur = &c
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if cur != nil && rep.ExternalUpdatedAt != nil && cur.ExternalUpdatedAt != nil && rep.ExternalUpdatedAt.Before(*cur.ExternalUpdatedAt) {
			out.Outcome, out.Record = CPOReportStale, *cur
			return nil
		}
		next := CPOSessionRecord{ID: uuid.Must(uuid.NewV7()), ExternalReference: rep.ExternalReference, Session: s, CDR: rep.CDR,
			ExternalUpdatedAt: rep.ExternalUpdatedAt, CreatedAt: now, UpdatedAt: now}
		// OCPI DateTimes have whole seconds (types → DateTime): what we
		// store is what partners read and filter on.
		next.Session.LastUpdated = ocpi.NewDateTime(now.Truncate(time.Second))
		if cur != nil {
			// The session id keeps the casing of its first report (ids
			// compare case-insensitively, DESIGN.md → Identifiers).
			s.ID, next.Session.ID = cur.Session.ID, cur.Session.ID
			next.ID, next.CreatedAt, next.ChargeSessionID = cur.ID, cur.CreatedAt, cur.ChargeSessionID
			next.Published, next.PublishedAt = cur.Published, cur.PublishedAt
			if next.ExternalUpdatedAt == nil {
				next.ExternalUpdatedAt = cur.ExternalUpdatedAt
			}
			sessionSame := sameSession(cur.Session, s)
			if sessionSame && sameJSON(cur.CDR, rep.CDR) && equalRef(cur.ExternalReference, rep.ExternalReference) {
				out.Outcome, out.Record = CPOReportUnchanged, *cur
				return nil
			}
			if cur.ChargeSessionID != nil {
				return fault.Conflict(ErrCDRIssued, "session %s ended and its CDR was issued (charge session %s); a CDR is final, so a different report is refused",
					s.ID, cur.ChargeSessionID)
			}
			if sessionSame {
				next.Session.LastUpdated = cur.Session.LastUpdated // back-office fields only: nothing new to publish
			}
		}
		if err := saveCPOSession(ctx, q, next, cur == nil); err != nil {
			return err
		}
		mod := event.Update
		out.Outcome = CPOReportUpdated
		if cur == nil {
			mod, out.Outcome = event.Create, CPOReportCreated
		}
		refs, err := enqueueSessionPush(ctx, tx, cur, next)
		if err != nil {
			return err
		}
		out.Pushes = refs
		if next.CDR != nil && next.ChargeSessionID == nil {
			cs, err := chargeSessionOfReport(ctx, tx, next, rep.Payload, now)
			if err != nil {
				return err
			}
			next.ChargeSessionID = &cs.ID
			out.Charge = &cs
		}
		out.Record = next
		return AppendEvent(ctx, tx, event.New(EventKindCPOSession, mod, nil, CPOSessionViewOf(next)))
	})
	return out, err
}

// sameSession reports whether two Sessions say the same, last_updated aside.
func sameSession(a, b ocpi.CPOSession) bool {
	a.LastUpdated, b.LastUpdated = ocpi.DateTime{}, ocpi.DateTime{}
	return sameJSON(a, b)
}

func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

func equalRef(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func saveCPOSession(ctx context.Context, q *gen.Queries, r CPOSessionRecord, isNew bool) error {
	doc, err := json.Marshal(r.Session)
	if err != nil {
		return err
	}
	var facts []byte
	if r.CDR != nil {
		if facts, err = json.Marshal(r.CDR); err != nil {
			return err
		}
	}
	s := r.Session
	var end *time.Time
	if s.EndDateTime != nil {
		t := s.EndDateTime.Time
		end = &t
	}
	if isNew {
		return Translate(q.InsertCPOSession(ctx, gen.InsertCPOSessionParams{ID: r.ID, ExternalReference: r.ExternalReference,
			CountryCode: s.CountryCode, PartyID: s.PartyID, SessionID: s.ID, SessionKey: strings.ToUpper(s.ID), Status: s.Status,
			StartAt: s.StartDateTime.Time, EndAt: end, TokenCountryCode: s.CdrToken.CountryCode, TokenPartyID: s.CdrToken.PartyID,
			TokenUid: s.CdrToken.UID, Doc: doc, CdrFacts: facts, LastUpdated: s.LastUpdated.Time, ExternalUpdatedAt: r.ExternalUpdatedAt,
			CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}))
	}
	return Translate(q.UpdateCPOSession(ctx, gen.UpdateCPOSessionParams{ID: r.ID, ExternalReference: r.ExternalReference,
		Status: s.Status, StartAt: s.StartDateTime.Time, EndAt: end, TokenCountryCode: s.CdrToken.CountryCode,
		TokenPartyID: s.CdrToken.PartyID, TokenUid: s.CdrToken.UID, Doc: doc, CdrFacts: facts, LastUpdated: s.LastUpdated.Time,
		ExternalUpdatedAt: r.ExternalUpdatedAt, UpdatedAt: r.UpdatedAt}))
}

// SessionPushObject is the push object (and ordering group) of a Session:
// "CC/PID/SESSION_ID", the receiver's path (mod_sessions → Receiver
// interface: {country_code}/{party_id}/{session_id}).
func SessionPushObject(s ocpi.CPOSession) string { return s.CountryCode + "/" + s.PartyID + "/" + s.ID }

// enqueueSessionPush records the push of a session to the eMSP that owns
// its token: a PUT when the session is new or its charging periods
// changed, else a PATCH of the changed fields. A PATCH's charging_periods
// are appended by the receiver (mod_sessions → PATCH), so a PATCH retried
// after a lost answer would add them twice: new periods always go with a
// PUT of the whole Session, which is safe to repeat.
func enqueueSessionPush(ctx context.Context, q Querier, prev *CPOSessionRecord, cur CPOSessionRecord) ([]roaming.PushRef, error) {
	s := cur.Session
	obj := SessionPushObject(s)
	ch := roaming.Change{Module: string(ocpi.ModuleSessions), Group: obj, Object: obj, Method: roaming.PushPut,
		FromCountry: s.CountryCode, FromParty: s.PartyID, ToCountry: s.CdrToken.CountryCode, ToParty: s.CdrToken.PartyID}
	if prev != nil {
		if sameSession(prev.Session, s) {
			return nil, nil
		}
		fields, err := ChangedFields(prev.Session, s)
		if err != nil {
			return nil, err
		}
		fields = slices.DeleteFunc(fields, func(f string) bool { return f == "last_updated" })
		periodsChanged := slices.Contains(fields, "charging_periods")
		tokenChanged := !strings.EqualFold(prev.Session.CdrToken.CountryCode, s.CdrToken.CountryCode) ||
			!strings.EqualFold(prev.Session.CdrToken.PartyID, s.CdrToken.PartyID)
		if len(fields) > 0 && !periodsChanged && !tokenChanged {
			ch.Method, ch.Fields = roaming.PushPatch, fields
		}
	}
	return EnqueuePush(ctx, q, ch)
}

// chargeSessionOfReport creates the charge session (side cpo) of an ended
// session: its CDR id is ours (the charge session's id: unique per our
// party, mod_cdrs → CDR.id), its partner the roaming partner with the
// token's party when known, its original the report as received.
func chargeSessionOfReport(ctx context.Context, tx pgx.Tx, r CPOSessionRecord, payload []byte, now time.Time) (ChargeSessionRecord, error) {
	q := Q(tx)
	s := r.Session
	id := uuid.Must(uuid.NewV7())
	cs := session.ChargeSession{ID: id, Side: session.CPO, CountryCode: s.CountryCode, PartyID: s.PartyID, CdrID: id.String(),
		SessionID: s.ID, Start: s.StartDateTime.Time, End: s.EndDateTime.Time,
		Token: session.Token{CountryCode: s.CdrToken.CountryCode, PartyID: s.CdrToken.PartyID, UID: s.CdrToken.UID,
			Type: s.CdrToken.Type, ContractID: s.CdrToken.ContractID},
		Location: session.Place{LocationID: s.LocationID, EvseUID: s.EvseUID, ConnectorID: s.ConnectorID},
		Currency: s.Currency, TotalEnergy: r.CDR.TotalEnergy, TotalTime: r.CDR.TotalTime, State: session.Received, ReceivedAt: now,
		AuthorizationReference: s.AuthorizationReference}
	if r.CDR.TotalParkingTime != nil {
		cs.TotalParkingTime = *r.CDR.TotalParkingTime
	}
	if p, err := q.PartnerOfParty(ctx, gen.PartnerOfPartyParams{CountryCode: cs.Token.CountryCode, PartyID: cs.Token.PartyID}); err == nil {
		cs.PartnerID = &p
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return ChargeSessionRecord{}, err
	}
	// Our EVSE's id and the location's country, when we know them already
	// (the pipeline's match decides; these only file the session).
	if e, err := CPOEVSEByUID(ctx, tx, s.EvseUID, "", false); err == nil && strings.EqualFold(e.LocationID, s.LocationID) {
		cs.Location.EvseID = e.EVSE.EvseID
		for _, c := range e.EVSE.Connectors {
			if location.EqualID(c.ID, s.ConnectorID) {
				cs.Location.PowerType = c.PowerType
			}
		}
		if l, err := CPOLocationByUUID(ctx, tx, e.LocationUUID); err == nil {
			cs.Location.Country = l.Location.Country
		}
	}
	n, err := q.InsertChargeSession(ctx, insertParams(cs, nil, nil))
	if err != nil {
		return ChargeSessionRecord{}, Translate(err)
	}
	if n != 1 {
		return ChargeSessionRecord{}, errors.New("charge session of a reported session not inserted")
	}
	if v := r.CDR.CMSReimbursement; v != nil {
		if err := q.SetChargeSessionCMSReimbursement(ctx, gen.SetChargeSessionCMSReimbursementParams{ID: id, CmsReimbursementExclVat: v}); err != nil {
			return ChargeSessionRecord{}, err
		}
	}
	if err := q.InsertChargeSessionOriginal(ctx, gen.InsertChargeSessionOriginalParams{SessionID: id, Channel: ChannelAdminAPI,
		Payload: strings.ToValidUTF8(string(payload), "\uFFFD"), ReceivedAt: now}); err != nil {
		return ChargeSessionRecord{}, err
	}
	if err := q.SetCPOSessionChargeSession(ctx, gen.SetCPOSessionChargeSessionParams{ID: r.ID, ChargeSessionID: &id}); err != nil {
		return ChargeSessionRecord{}, err
	}
	g, err := q.GetChargeSession(ctx, id)
	if err != nil {
		return ChargeSessionRecord{}, err
	}
	rec := recordOf(g)
	return rec, AppendEvent(ctx, tx, event.New(EventKind(session.CPO), event.Create, nil, ChargeSessionViewOf(rec)))
}

// ---- the read model

// CPOSessionView is a reported session as the Admin API returns it
// (cpo-charge-session-progress) and its outbox events carry it: the OCPI
// Session (decimals as strings, as the Admin API writes them) and the
// charge session and CDR it led to.
type CPOSessionView struct {
	ID                     uuid.UUID               `json:"id"`
	ExternalReference      *string                 `json:"external_reference"`
	CountryCode            string                  `json:"country_code"`
	PartyID                string                  `json:"party_id"`
	SessionID              string                  `json:"session_id"`
	Status                 string                  `json:"status"`
	StartDateTime          time.Time               `json:"start_date_time"`
	EndDateTime            *time.Time              `json:"end_date_time"`
	Kwh                    decimal.Decimal         `json:"kwh"`
	Token                  SessionTokenView        `json:"token"`
	AuthMethod             string                  `json:"auth_method"`
	AuthorizationReference *string                 `json:"authorization_reference"`
	LocationID             string                  `json:"location_id"`
	EvseUID                string                  `json:"evse_uid"`
	ConnectorID            string                  `json:"connector_id"`
	MeterID                *string                 `json:"meter_id"`
	Currency               string                  `json:"currency"`
	ChargePeriods          []CPOSessionPeriodView  `json:"charge_periods"`
	TotalCost              *CPOSessionPriceView    `json:"total_cost"`
	CDR                    *CPOSessionCDRFactsView `json:"cdr"`
	ChargeSessionID        *uuid.UUID              `json:"charge_session_id"`
	CdrID                  *string                 `json:"cdr_id"`
	CdrPublishedAt         *time.Time              `json:"cdr_published_at"`
	LastUpdated            time.Time               `json:"last_updated"`
	ExternalUpdatedAt      *time.Time              `json:"external_updated_at"`
	CreatedAt              time.Time               `json:"created_at"`
	UpdatedAt              time.Time               `json:"updated_at"`
}

// CPOSessionPeriodView is a charging period (mod_cdrs → ChargingPeriod).
type CPOSessionPeriodView struct {
	StartDateTime time.Time                 `json:"start_date_time"`
	Dimensions    []CPOSessionDimensionView `json:"dimensions"`
	TariffID      *string                   `json:"tariff_id"`
}

// CPOSessionDimensionView is one value of a charging period.
type CPOSessionDimensionView struct {
	Type   string          `json:"type"`
	Volume decimal.Decimal `json:"volume"`
}

// CPOSessionPriceView is an amount excluding and (when known) including VAT.
type CPOSessionPriceView struct {
	ExclVAT decimal.Decimal  `json:"excl_vat"`
	InclVAT *decimal.Decimal `json:"incl_vat"`
}

// CPOSessionCDRFactsView is what the system reported when the session ended.
type CPOSessionCDRFactsView struct {
	TotalEnergy             decimal.Decimal  `json:"total_energy"`
	TotalTime               decimal.Decimal  `json:"total_time"`
	TotalParkingTime        *decimal.Decimal `json:"total_parking_time"`
	Remark                  *string          `json:"remark"`
	ReimbursementAmountExcl *decimal.Decimal `json:"reimbursement_amount_excl_vat"`
}

// CPOSessionViewOf renders a reported session.
func CPOSessionViewOf(r CPOSessionRecord) CPOSessionView {
	s := r.Session
	v := CPOSessionView{ID: r.ID, ExternalReference: r.ExternalReference, CountryCode: s.CountryCode, PartyID: s.PartyID, SessionID: s.ID,
		Status: s.Status, StartDateTime: s.StartDateTime.UTC(), Kwh: s.Kwh.Decimal,
		Token: SessionTokenView{CountryCode: s.CdrToken.CountryCode, PartyID: s.CdrToken.PartyID, UID: s.CdrToken.UID,
			Type: s.CdrToken.Type, ContractID: s.CdrToken.ContractID},
		AuthMethod: string(s.AuthMethod), AuthorizationReference: nonEmpty(s.AuthorizationReference), LocationID: s.LocationID,
		EvseUID: s.EvseUID, ConnectorID: s.ConnectorID, MeterID: nonEmpty(s.MeterID), Currency: s.Currency,
		ChargePeriods: make([]CPOSessionPeriodView, len(s.ChargingPeriods)), ChargeSessionID: r.ChargeSessionID,
		CdrPublishedAt: utcPtr(r.PublishedAt), LastUpdated: s.LastUpdated.UTC(), ExternalUpdatedAt: utcPtr(r.ExternalUpdatedAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if s.EndDateTime != nil {
		t := s.EndDateTime.UTC()
		v.EndDateTime = &t
	}
	for i, p := range s.ChargingPeriods {
		pv := CPOSessionPeriodView{StartDateTime: p.StartDateTime.UTC(), TariffID: nonEmpty(p.TariffID),
			Dimensions: make([]CPOSessionDimensionView, len(p.Dimensions))}
		for j, d := range p.Dimensions {
			pv.Dimensions[j] = CPOSessionDimensionView{Type: string(d.Type), Volume: d.Volume.Decimal}
		}
		v.ChargePeriods[i] = pv
	}
	if s.TotalCost != nil {
		v.TotalCost = &CPOSessionPriceView{ExclVAT: s.TotalCost.ExclVAT.Decimal, InclVAT: s.TotalCost.InclVAT.Dec()}
	}
	if c := r.CDR; c != nil {
		v.CDR = &CPOSessionCDRFactsView{TotalEnergy: c.TotalEnergy, TotalTime: c.TotalTime, TotalParkingTime: c.TotalParkingTime,
			Remark: nonEmpty(c.Remark), ReimbursementAmountExcl: c.CMSReimbursement}
	}
	if r.ChargeSessionID != nil {
		id := r.ChargeSessionID.String()
		v.CdrID = &id
	}
	return v
}

// ---- the OCPI senders

// PartyKey is an OCPI party (country code and party id, upper case).
type PartyKey struct{ CountryCode, PartyID string }

// CallerParties are the parties a partner connection speaks for: its
// credentials roles and the parties reached through it (a hub's clients).
// When the request names one of them in its OCPI-from routing headers,
// only that one (a hub forwards one party's request; transport_and_format
// → Message Routing Headers).
func CallerParties(ctx context.Context, q Querier, conn partner.Connection, fromCountry, fromParty string) ([]PartyKey, error) {
	seen := map[PartyKey]bool{}
	var out []PartyKey
	add := func(cc, pid string) {
		k := PartyKey{strings.ToUpper(cc), strings.ToUpper(pid)}
		if !seen[k] && k.CountryCode != "" {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, r := range conn.TheirRoles {
		add(r.CountryCode, r.PartyID)
	}
	id := conn.ID
	rows, err := Q(q).SessionPartiesOfConnection(ctx, &id)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		add(r.CountryCode, r.PartyID)
	}
	from := PartyKey{strings.ToUpper(fromCountry), strings.ToUpper(fromParty)}
	if seen[from] {
		return []PartyKey{from}, nil
	}
	return out, nil
}

func partyArgs(parties []PartyKey) (cc, pid, keys []string) {
	cc, pid, keys = []string{}, []string{}, []string{}
	for _, p := range parties {
		cc, pid, keys = append(cc, p.CountryCode), append(pid, p.PartyID), append(keys, p.CountryCode+"-"+p.PartyID)
	}
	return cc, pid, keys
}

// OCPISessions returns one page of our party's Sessions whose token belongs
// to one of parties, oldest last_updated first in the window [from, to),
// and the window's total (mod_sessions → Sender GET).
func OCPISessions(ctx context.Context, q Querier, own PartyKey, parties []PartyKey, from, to *time.Time, offset, limit int) ([]ocpi.CPOSession, int, error) {
	cc, pid, keys := partyArgs(parties)
	g := Q(q)
	total, err := g.CountOCPISessions(ctx, gen.CountOCPISessionsParams{CountryCode: own.CountryCode, PartyID: own.PartyID, Countries: cc,
		Parties: pid, PartyKeys: keys, DateFrom: from, DateTo: to})
	if err != nil || limit == 0 {
		return []ocpi.CPOSession{}, int(total), err
	}
	rows, err := g.PageOCPISessions(ctx, gen.PageOCPISessionsParams{CountryCode: own.CountryCode, PartyID: own.PartyID, Countries: cc,
		Parties: pid, PartyKeys: keys, DateFrom: from, DateTo: to, PageOffset: int32(offset), PageLimit: int32(limit)})
	if err != nil {
		return nil, 0, err
	}
	out := make([]ocpi.CPOSession, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal(r.Doc, &out[i]); err != nil {
			return nil, 0, err
		}
	}
	return out, int(total), nil
}

// OCPICDRs returns one page of our party's published CDRs (first CDRs
// and the credit and replacement CDRs that correct them, cpo_session_cdr.go)
// whose token belongs to one of parties, oldest first by publication
// (their last_updated) in the window [from, to), and the window's total
// (mod_cdrs → Sender GET).
func OCPICDRs(ctx context.Context, q Querier, own PartyKey, parties []PartyKey, from, to *time.Time, offset, limit int) ([]ocpi.CDR, int, error) {
	cc, pid, keys := partyArgs(parties)
	g := Q(q)
	total, err := g.CountOCPICDRDocs(ctx, gen.CountOCPICDRDocsParams{CountryCode: own.CountryCode, PartyID: own.PartyID, Countries: cc,
		Parties: pid, PartyKeys: keys, DateFrom: from, DateTo: to})
	if err != nil || limit == 0 {
		return []ocpi.CDR{}, int(total), err
	}
	docs, err := g.PageOCPICDRDocs(ctx, gen.PageOCPICDRDocsParams{CountryCode: own.CountryCode, PartyID: own.PartyID, Countries: cc,
		Parties: pid, PartyKeys: keys, DateFrom: from, DateTo: to, PageOffset: int32(offset), PageLimit: int32(limit)})
	if err != nil {
		return nil, 0, err
	}
	out := make([]ocpi.CDR, len(docs))
	for i, d := range docs {
		if err := json.Unmarshal(d, &out[i]); err != nil {
			return nil, 0, err
		}
	}
	return out, int(total), nil
}

// ---- drop-out reprocessing requests

// ConsumeDropoutReprocess handles one request recorded when an EVSE's
// dropout_all_chargesessions was turned off with reprocess_dropouts (guide
// 003 → Safe EVSE configuration: "all previously dropped charge sessions
// are automatically retried"): in one transaction, every CPO session the
// flag dropped out at that EVSE goes back to received (a plain retry) and
// the request is marked consumed. A request already consumed, or being
// consumed by another worker, is left alone (done false), so running it
// twice retries once. It returns the sessions to hand to the pipeline
// after the commit.
func ConsumeDropoutReprocess(ctx context.Context, pool *pgxpool.Pool, requestID uuid.UUID, now time.Time) (recs []ChargeSessionRecord, done bool, err error) {
	now = now.UTC().Truncate(time.Microsecond)
	err = InTx(ctx, pool, func(tx pgx.Tx) error {
		recs, done = nil, false
		q := Q(tx)
		req, err := q.LockOpenDropoutReprocessRequest(ctx, requestID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		ids, err := q.DroppedSessionsAtEVSE(ctx, gen.DroppedSessionsAtEVSEParams{MatchEvseID: &req.EvseID, DropoutReason: ptrTo(session.ReasonDropoutAll)})
		if err != nil {
			return err
		}
		for _, id := range ids {
			g, err := q.LockChargeSession(ctx, id)
			if err != nil {
				return err
			}
			cur := recordOf(g)
			if cur.State != session.DroppedOut {
				continue
			}
			rec, err := reprocess(ctx, tx, cur, session.Retry, "", now)
			if err != nil {
				return err
			}
			recs = append(recs, rec)
		}
		done = true
		return ConsumeDropoutReprocessRequest(ctx, tx, req.ID, now)
	})
	return recs, done, err
}

func ptrTo[T any](v T) *T { return &v }
