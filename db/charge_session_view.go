package db

import (
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/session"
)

// ChargeSessionView is a charge session as the Admin API returns it and as
// its outbox events carry it (the event's data is the record as GET renders
// it). Decimals are strings, timestamps RFC 3339 UTC.
type ChargeSessionView struct {
	ID                uuid.UUID        `json:"id"`
	Side              session.Side     `json:"side"`
	State             session.State    `json:"state"`
	AdministrationID  *uuid.UUID       `json:"administration_id"`
	PartnerID         *uuid.UUID       `json:"partner_id"`
	CountryCode       string           `json:"country_code"`
	PartyID           string           `json:"party_id"`
	CdrID             string           `json:"cdr_id"`
	SessionID         *string          `json:"session_id"`
	StartDateTime     time.Time        `json:"start_date_time"`
	EndDateTime       time.Time        `json:"end_date_time"`
	Token             SessionTokenView `json:"token"`
	Location          SessionPlaceView `json:"location"`
	Currency          string           `json:"currency"`
	TotalEnergy       decimal.Decimal  `json:"total_energy"`
	TotalTime         decimal.Decimal  `json:"total_time"`
	TotalParkingTime  decimal.Decimal  `json:"total_parking_time"`
	Credit            bool             `json:"credit"`
	CreditReferenceID *string          `json:"credit_reference_id"`
	CreditedSessionID *uuid.UUID       `json:"credited_session_id"`
	// AuthorizationReference is the CDR's; GET /msp-token-authorization/{it}
	// shows the decision we stored under it.
	AuthorizationReference *string             `json:"authorization_reference"`
	Attempts               int                 `json:"attempts"`
	NextAttemptAt          *time.Time          `json:"next_attempt_at"`
	Bypass                 []session.Check     `json:"bypass"`
	Match                  *SessionMatchView   `json:"match"`
	Dropout                *SessionDropoutView `json:"dropout"`
	ReceivedAt             time.Time           `json:"received_at"`
	CreatedAt              time.Time           `json:"created_at"`
	UpdatedAt              time.Time           `json:"updated_at"`
}

// SessionTokenView is the token of a charge session.
type SessionTokenView struct {
	CountryCode string `json:"country_code"`
	PartyID     string `json:"party_id"`
	UID         string `json:"uid"`
	Type        string `json:"type"`
	ContractID  string `json:"contract_id"`
}

// SessionPlaceView is where the CDR says the session happened.
type SessionPlaceView struct {
	LocationID  string  `json:"location_id"`
	EvseUID     string  `json:"evse_uid"`
	EvseID      *string `json:"evse_id"`
	ConnectorID string  `json:"connector_id"`
}

// SessionMatchView is what the match step found.
type SessionMatchView struct {
	LocationID  uuid.UUID        `json:"location_id"`
	EvseID      *uuid.UUID       `json:"evse_id"`
	EvseUID     *string          `json:"evse_uid"`
	ConnectorID string           `json:"connector_id"`
	MaxPowerKW  *decimal.Decimal `json:"max_power_kw"`
	DropoutAll  bool             `json:"dropout_all_chargesessions"`
	TimeZone    *string          `json:"time_zone"`
}

// SessionDropoutView is why a session dropped out (kept after reprocessing
// as the last drop-out, for traceability).
type SessionDropoutView struct {
	Reason string     `json:"reason"`
	Detail *string    `json:"detail"`
	Check  *string    `json:"check"`
	CaseID *uuid.UUID `json:"case_id"`
}

// ChargeSessionViewOf renders a record.
func ChargeSessionViewOf(r ChargeSessionRecord) ChargeSessionView {
	v := ChargeSessionView{ID: r.ID, Side: r.Side, State: r.State, AdministrationID: r.AdministrationID, PartnerID: r.PartnerID,
		CountryCode: r.CountryCode, PartyID: r.PartyID, CdrID: r.CdrID, SessionID: nonEmpty(r.SessionID),
		StartDateTime: r.Start.UTC(), EndDateTime: r.End.UTC(),
		Token: SessionTokenView{CountryCode: r.Token.CountryCode, PartyID: r.Token.PartyID, UID: r.Token.UID, Type: r.Token.Type, ContractID: r.Token.ContractID},
		Location: SessionPlaceView{LocationID: r.Location.LocationID, EvseUID: r.Location.EvseUID, EvseID: nonEmpty(r.Location.EvseID),
			ConnectorID: r.Location.ConnectorID},
		Currency: r.Currency, TotalEnergy: r.TotalEnergy, TotalTime: r.TotalTime, TotalParkingTime: r.TotalParkingTime,
		Credit: r.Credit, CreditReferenceID: nonEmpty(r.CreditReferenceID), CreditedSessionID: r.CreditedSessionID,
		AuthorizationReference: nonEmpty(r.AuthorizationReference), Attempts: r.Attempts, NextAttemptAt: utcPtr(r.NextAttemptAt), Bypass: r.Bypass,
		ReceivedAt: r.ReceivedAt.UTC(), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if v.Bypass == nil {
		v.Bypass = []session.Check{}
	}
	if m := r.Match; m != nil {
		mv := &SessionMatchView{LocationID: m.LocationID, EvseUID: nonEmpty(m.EvseUID), ConnectorID: m.ConnectorID,
			DropoutAll: m.DropoutAll, TimeZone: nonEmpty(m.TimeZone)}
		if m.EvseID != uuid.Nil {
			id := m.EvseID
			mv.EvseID = &id
		}
		if !m.MaxPowerKW.IsZero() {
			p := m.MaxPowerKW
			mv.MaxPowerKW = &p
		}
		v.Match = mv
	}
	if r.DropoutReason != nil {
		v.Dropout = &SessionDropoutView{Reason: *r.DropoutReason, Detail: r.DropoutDetail, Check: r.DropoutCheck, CaseID: r.DropoutCaseID}
	}
	return v
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
