package db

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/session"
)

// Drop-out case events (issue 7: "events for … drop-out cases"; guide 003
// → Drop-outs). A case changes when a session drops out into it (created
// with its first session, counts up with the next ones) and when a session
// of it is reprocessed (counts down; resolved when none is dropped out any
// more). Each change records an event "<side>-dropout-case" whose data is
// the case as GET /main/v1/<side>-dropout-case lists it, in the
// transaction of the change. Pruning resolved cases after the retention is
// housekeeping and records no event.
//
// A case groups sessions of any administration (it is keyed by side,
// reason, party and EVSE), while an event belongs to one administration
// (or none): the event is attributed to the administration of the session
// whose change it records, so a subscription sees the case changes its
// owner's sessions cause — the API likewise shows a case to an account
// that sees one of its sessions. A change of sessions of several
// administrations at once (a case reprocessed as a whole) records one
// event per administration, with the same data.

// DropoutCaseView is a drop-out case as the Admin API lists it and as its
// events carry it.
type DropoutCaseView struct {
	ID            uuid.UUID  `json:"id"`
	Side          string     `json:"side"`
	Reason        string     `json:"reason"`
	CountryCode   string     `json:"country_code"`
	PartyID       string     `json:"party_id"`
	EVSE          string     `json:"evse"`
	State         string     `json:"state"`
	OpenSessions  int64      `json:"open_sessions"`
	TotalSessions int64      `json:"total_sessions"`
	ResolvedAt    *time.Time `json:"resolved_at"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// DropoutCaseViewOf renders a case with its counts.
func DropoutCaseViewOf(r DropoutCaseRecord) DropoutCaseView {
	v := DropoutCaseView{ID: r.ID, Side: r.Side, Reason: r.Reason, CountryCode: r.CountryCode, PartyID: r.PartyID, EVSE: r.EvseKey,
		State: r.State, OpenSessions: r.OpenSessions, TotalSessions: r.TotalSessions, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.ResolvedAt != nil {
		t := r.ResolvedAt.UTC()
		v.ResolvedAt = &t
	}
	return v
}

// Event kinds of drop-out cases, one per side.
const (
	MSPDropoutCaseKind = "msp-dropout-case"
	CPODropoutCaseKind = "cpo-dropout-case"
)

// DropoutCaseKind is the outbox kind of a side's drop-out cases.
func DropoutCaseKind(side session.Side) string {
	if side == session.CPO {
		return CPODropoutCaseKind
	}
	return MSPDropoutCaseKind
}

// appendCaseEvents records the change of a case (as the transaction sees
// it now, counts included) once per distinct administration of admins.
func appendCaseEvents(ctx context.Context, q Querier, caseID uuid.UUID, mod event.Modification, admins []*uuid.UUID) error {
	rec, err := DropoutCase(ctx, q, caseID)
	if err != nil {
		return err
	}
	v := DropoutCaseViewOf(rec)
	seen := map[uuid.UUID]bool{}
	none := false
	for _, a := range admins {
		if a == nil {
			if none {
				continue
			}
			none = true
		} else {
			if seen[*a] {
				continue
			}
			seen[*a] = true
		}
		if err := AppendEvent(ctx, q, event.New(DropoutCaseKind(session.Side(rec.Side)), mod, a, v)); err != nil {
			return err
		}
	}
	return nil
}
