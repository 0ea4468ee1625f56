package db

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/session"
)

// What the Admin API reads and changes of the charge-session pipeline:
// drop-out cases with their counts, reprocessing scoped to what the caller
// may see, invalid charge sessions, threshold overrides, and the retention
// of resolved cases.

// DropoutCaseRecord is a drop-out case with its session counts.
type DropoutCaseRecord struct {
	gen.DropoutCase
	// OpenSessions are the case's sessions still dropped out; the case is
	// resolved when none is left.
	OpenSessions  int64
	TotalSessions int64
}

// ListDropoutCases returns a page of a side's drop-out cases.
func ListDropoutCases(ctx context.Context, q Querier, p gen.ListDropoutCasesParams) ([]DropoutCaseRecord, error) {
	if p.AdminIds == nil {
		p.AdminIds = []uuid.UUID{}
	}
	rows, err := Q(q).ListDropoutCases(ctx, p)
	return mapAll(rows, func(r gen.ListDropoutCasesRow) DropoutCaseRecord {
		return DropoutCaseRecord{DropoutCase: gen.DropoutCase{ID: r.ID, Side: r.Side, Reason: r.Reason, CountryCode: r.CountryCode,
			PartyID: r.PartyID, EvseKey: r.EvseKey, State: r.State, ResolvedAt: r.ResolvedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt},
			OpenSessions: r.OpenSessions, TotalSessions: r.TotalSessions}
	}), err
}

// DropoutCase loads a drop-out case with its counts.
func DropoutCase(ctx context.Context, q Querier, id uuid.UUID) (DropoutCaseRecord, error) {
	c, err := Q(q).GetDropoutCase(ctx, id)
	if err != nil {
		return DropoutCaseRecord{}, notFound(err, "drop-out case", id)
	}
	n, err := Q(q).CountCaseSessions(ctx, &id)
	if err != nil {
		return DropoutCaseRecord{}, err
	}
	return DropoutCaseRecord{DropoutCase: c, OpenSessions: n.Open, TotalSessions: n.Total}, nil
}

// DropoutCaseAdmins returns the administrations of a case's sessions; nil
// stands for sessions not attributed to one yet.
func DropoutCaseAdmins(ctx context.Context, q Querier, id uuid.UUID) ([]*uuid.UUID, error) {
	return Q(q).CaseSessionAdmins(ctx, &id)
}

// Reprocessing is an operator's reprocess request (guide 003 → Drop-outs →
// Reprocessing) with the limits of who asks.
type Reprocessing struct {
	Instruction session.Instruction
	Check       session.Check
	// Side, when set, is the side the case or session must be on: a
	// session of the other side is not found.
	Side session.Side
	// Visible, when set, is asked about the administration (nil: none yet)
	// of every session the request changes; a session it refuses fails the
	// whole request as forbidden, so that nothing is half-applied.
	Visible func(admin *uuid.UUID) bool
}

func (r Reprocessing) check(rec ChargeSessionRecord) error {
	if r.Side != "" && rec.Side != r.Side {
		return fault.NotFound("not_found", "%s charge session %s does not exist", r.Side, rec.ID)
	}
	if r.Visible != nil && !r.Visible(rec.AdministrationID) {
		return fault.Forbidden("charge session %s belongs to an administration the API account cannot see", rec.ID)
	}
	return nil
}

// ReprocessSession applies r to one dropped-out session; see
// ReprocessChargeSession.
func ReprocessSession(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID, r Reprocessing) (ChargeSessionRecord, error) {
	var rec ChargeSessionRecord
	err := InTx(ctx, pool, func(tx pgx.Tx) error {
		g, err := Q(tx).LockChargeSession(ctx, id)
		if err != nil {
			return notFound(err, "charge session", id)
		}
		cur := recordOf(g)
		if err := r.check(cur); err != nil {
			return err
		}
		rec, err = reprocess(ctx, tx, cur, r.Instruction, r.Check, time.Now().UTC())
		if err != nil || cur.DropoutCaseID == nil {
			return err
		}
		// The case's counts changed (and it may be resolved now).
		return appendCaseEvents(ctx, tx, *cur.DropoutCaseID, event.Update, []*uuid.UUID{rec.AdministrationID})
	})
	return rec, err
}

// ReprocessDropoutCase applies r to every dropped-out session of a case in
// one transaction and returns them; see ReprocessCase.
func ReprocessDropoutCase(ctx context.Context, pool *pgxpool.Pool, caseID uuid.UUID, r Reprocessing) ([]ChargeSessionRecord, error) {
	var out []ChargeSessionRecord
	err := InTx(ctx, pool, func(tx pgx.Tx) error {
		out = nil // a retried transaction starts over
		q := Q(tx)
		c, err := q.LockDropoutCase(ctx, caseID)
		if err != nil || (r.Side != "" && c.Side != string(r.Side)) {
			if err == nil {
				err = pgx.ErrNoRows
			}
			return notFound(err, "drop-out case", caseID)
		}
		ids, err := q.DroppedSessionsOfCase(ctx, &caseID)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return fault.Conflict("not_dropped_out", "drop-out case %s has no dropped-out sessions (it is %s)", caseID, c.State)
		}
		now := time.Now().UTC()
		for _, id := range ids {
			g, err := q.LockChargeSession(ctx, id)
			if err != nil {
				return err
			}
			cur := recordOf(g)
			if err := r.check(cur); err != nil {
				return err
			}
			rec, err := reprocess(ctx, tx, cur, r.Instruction, r.Check, now)
			if err != nil {
				return err
			}
			out = append(out, rec)
		}
		admins := make([]*uuid.UUID, len(out))
		for i, rec := range out {
			admins[i] = rec.AdministrationID
		}
		return appendCaseEvents(ctx, tx, caseID, event.Update, admins)
	})
	return out, err
}

// PruneDropoutCases deletes the drop-out cases resolved before before, in
// batches of batch, and says how many it deleted. Their sessions keep
// their last drop-out reason but no longer name the case (guide 003 →
// Drop-outs: resolved cases are kept for a while for traceability).
func PruneDropoutCases(ctx context.Context, pool *pgxpool.Pool, before time.Time, batch int) (int, error) {
	total := 0
	for {
		var n int64
		err := InTx(ctx, pool, func(tx pgx.Tx) error {
			p := gen.DetachPrunableCasesParams{Before: &before, Lim: int32(batch)}
			if _, err := Q(tx).DetachPrunableCases(ctx, p); err != nil {
				return err
			}
			var err error
			n, err = Q(tx).PruneResolvedCases(ctx, gen.PruneResolvedCasesParams{Before: &before, Lim: int32(batch)})
			return err
		})
		total += int(n)
		if err != nil || n < int64(batch) {
			return total, err
		}
	}
}

// InvalidChargeSession loads an invalid charge session.
func InvalidChargeSession(ctx context.Context, q Querier, id uuid.UUID) (gen.InvalidChargeSession, error) {
	r, err := Q(q).GetInvalidChargeSession(ctx, id)
	return r, notFound(err, "invalid charge session", id)
}

// ListInvalidChargeSessions returns a page of invalid charge sessions.
func ListInvalidChargeSessions(ctx context.Context, q Querier, p gen.ListInvalidChargeSessionsParams) ([]gen.InvalidChargeSession, error) {
	return Q(q).ListInvalidChargeSessions(ctx, p)
}

// ThresholdOwner names whose threshold overrides are meant: an
// administration or (exclusively) a roaming partner.
type ThresholdOwner struct {
	AdministrationID *uuid.UUID
	PartnerID        *uuid.UUID
}

// StoredThresholds are the overrides of one owner as stored; UpdatedAt is
// nil when the owner never had any.
type StoredThresholds struct {
	ThresholdOwner
	Overrides session.Overrides
	UpdatedAt *time.Time
}

// ThresholdsOf returns the overrides of an owner (empty when none).
func ThresholdsOf(ctx context.Context, q Querier, o ThresholdOwner) (StoredThresholds, error) {
	var (
		r   gen.SessionThreshold
		err error
	)
	if o.PartnerID != nil {
		r, err = Q(q).GetPartnerThresholds(ctx, o.PartnerID)
	} else {
		r, err = Q(q).GetAdministrationThresholds(ctx, o.AdministrationID)
	}
	st := StoredThresholds{ThresholdOwner: o}
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(r.Overrides, &st.Overrides); err != nil {
		return st, err
	}
	at := r.UpdatedAt.UTC()
	st.UpdatedAt = &at
	return st, nil
}

// ThresholdsEventKind is the outbox kind of threshold-override changes.
const ThresholdsEventKind = "session-thresholds"

// SaveThresholds stores an owner's overrides with the outbox event whose
// data is view(the stored overrides), in one transaction.
func SaveThresholds(ctx context.Context, pool *pgxpool.Pool, o ThresholdOwner, ov session.Overrides, view func(StoredThresholds) any) (StoredThresholds, error) {
	var st StoredThresholds
	err := InTx(ctx, pool, func(tx pgx.Tx) error {
		if err := SetThresholdOverrides(ctx, tx, o.AdministrationID, o.PartnerID, ov); err != nil {
			return err
		}
		var err error
		if st, err = ThresholdsOf(ctx, tx, o); err != nil {
			return err
		}
		return AppendEvent(ctx, tx, event.New(ThresholdsEventKind, event.Update, o.AdministrationID, view(st)))
	})
	return st, err
}
