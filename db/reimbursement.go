package db

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/location"
	"github.com/roamnode/roamnode/domain/reimbursement"
	"github.com/roamnode/roamnode/domain/vat"
)

// This file stores CPO reimbursement plans, arrangements, their
// calculation inputs and EVSE links (migration 00016; guide 003 →
// "Reimbursements"), for the Admin API and the reimbursement pricer.

// ReimbursementPlan loads a reimbursement plan by id or external reference.
func ReimbursementPlan(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (gen.CpoReimbursementPlan, error) {
	g := Q(q)
	return lookup(ctx, "reimbursement plan", id, ref, lock, g.GetReimbursementPlan, g.LockReimbursementPlan,
		g.GetReimbursementPlanByRef, g.LockReimbursementPlanByRef)
}

// ListReimbursementPlans returns a page of reimbursement plans.
func ListReimbursementPlans(ctx context.Context, q Querier, p gen.ListReimbursementPlansParams) ([]gen.CpoReimbursementPlan, error) {
	return Q(q).ListReimbursementPlans(ctx, p)
}

// SaveReimbursementPlan inserts or updates a plan; its administration is
// immutable.
func SaveReimbursementPlan(ctx context.Context, q Querier, p gen.CpoReimbursementPlan, isNew bool) error {
	if p.CostComponents == nil {
		p.CostComponents = []string{}
	}
	if isNew {
		return Translate(Q(q).InsertReimbursementPlan(ctx, gen.InsertReimbursementPlanParams{ID: p.ID, ExternalReference: p.ExternalReference,
			AdministrationID: p.AdministrationID, Name: p.Name, Calculation: p.Calculation, CostComponents: p.CostComponents,
			ExternalUpdatedAt: p.ExternalUpdatedAt, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}))
	}
	return Translate(Q(q).UpdateReimbursementPlan(ctx, gen.UpdateReimbursementPlanParams{ID: p.ID, ExternalReference: p.ExternalReference,
		Name: p.Name, Calculation: p.Calculation, CostComponents: p.CostComponents, ExternalUpdatedAt: p.ExternalUpdatedAt,
		UpdatedAt: p.UpdatedAt}))
}

// ReimbursementArrangement loads an arrangement by id or external reference.
func ReimbursementArrangement(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (gen.CpoReimbursementArrangement, error) {
	g := Q(q)
	return lookup(ctx, "reimbursement arrangement", id, ref, lock, g.GetReimbursementArrangement, g.LockReimbursementArrangement,
		g.GetReimbursementArrangementByRef, g.LockReimbursementArrangementByRef)
}

// ListReimbursementArrangements returns a page of arrangements.
func ListReimbursementArrangements(ctx context.Context, q Querier, p gen.ListReimbursementArrangementsParams) ([]gen.CpoReimbursementArrangement, error) {
	return Q(q).ListReimbursementArrangements(ctx, p)
}

// SaveReimbursementArrangement inserts or updates an arrangement; its
// customer and administration are immutable.
func SaveReimbursementArrangement(ctx context.Context, q Querier, a gen.CpoReimbursementArrangement, isNew bool) error {
	if isNew {
		return Translate(Q(q).InsertReimbursementArrangement(ctx, gen.InsertReimbursementArrangementParams{ID: a.ID,
			ExternalReference: a.ExternalReference, AdministrationID: a.AdministrationID, CustomerID: a.CustomerID, PlanID: a.PlanID,
			ValidFrom: a.ValidFrom, ValidUntil: a.ValidUntil, ExternalUpdatedAt: a.ExternalUpdatedAt, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}))
	}
	return Translate(Q(q).UpdateReimbursementArrangement(ctx, gen.UpdateReimbursementArrangementParams{ID: a.ID,
		ExternalReference: a.ExternalReference, PlanID: a.PlanID, ValidFrom: a.ValidFrom, ValidUntil: a.ValidUntil,
		ExternalUpdatedAt: a.ExternalUpdatedAt, UpdatedAt: a.UpdatedAt}))
}

// ReimbursementLink is a link with its arrangement's administration (its
// API scope) and its EVSE's uid.
type ReimbursementLink = gen.GetReimbursementLinkRow

// ReimbursementLinkOf loads a link by id or external reference.
func ReimbursementLinkOf(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (ReimbursementLink, error) {
	g := Q(q)
	return lookup(ctx, "reimbursement link", id, ref, lock, g.GetReimbursementLink,
		func(ctx context.Context, id uuid.UUID) (ReimbursementLink, error) {
			r, err := g.LockReimbursementLink(ctx, id)
			return ReimbursementLink(r), err
		}, func(ctx context.Context, ref *string) (ReimbursementLink, error) {
			r, err := g.GetReimbursementLinkByRef(ctx, ref)
			return ReimbursementLink(r), err
		}, func(ctx context.Context, ref *string) (ReimbursementLink, error) {
			r, err := g.LockReimbursementLinkByRef(ctx, ref)
			return ReimbursementLink(r), err
		})
}

// ListReimbursementLinks returns a page of links.
func ListReimbursementLinks(ctx context.Context, q Querier, p gen.ListReimbursementLinksParams) ([]ReimbursementLink, error) {
	rows, err := Q(q).ListReimbursementLinks(ctx, p)
	return mapAll(rows, func(r gen.ListReimbursementLinksRow) ReimbursementLink { return ReimbursementLink(r) }), err
}

// SaveReimbursementLink inserts or updates a link; its arrangement and EVSE
// are immutable. Two links of one arrangement and EVSE whose periods
// overlap are refused (overlapping_validity).
func SaveReimbursementLink(ctx context.Context, q Querier, l ReimbursementLink, isNew bool) error {
	if isNew {
		return Translate(Q(q).InsertReimbursementLink(ctx, gen.InsertReimbursementLinkParams{ID: l.ID, ExternalReference: l.ExternalReference,
			ArrangementID: l.ArrangementID, EvseID: l.EvseID, ValidFrom: l.ValidFrom, ValidUntil: l.ValidUntil,
			ExternalUpdatedAt: l.ExternalUpdatedAt, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt}))
	}
	return Translate(Q(q).UpdateReimbursementLink(ctx, gen.UpdateReimbursementLinkParams{ID: l.ID, ExternalReference: l.ExternalReference,
		ValidFrom: l.ValidFrom, ValidUntil: l.ValidUntil, ExternalUpdatedAt: l.ExternalUpdatedAt, UpdatedAt: l.UpdatedAt}))
}

// ReimbursementInputOwner names whose calculation inputs are meant: a plan
// or an arrangement (exactly one of the two).
type ReimbursementInputOwner struct {
	PlanID, ArrangementID *uuid.UUID
}

// ReimbursementInputs returns the calculation inputs of a plan or an
// arrangement in (valid_from, component) order.
func ReimbursementInputs(ctx context.Context, q Querier, o ReimbursementInputOwner) ([]reimbursement.Input, error) {
	var rows []gen.CpoReimbursementCalculationInput
	var err error
	if o.PlanID != nil {
		rows, err = Q(q).ReimbursementInputsOfPlan(ctx, o.PlanID)
	} else {
		rows, err = Q(q).ReimbursementInputsOfArrangement(ctx, o.ArrangementID)
	}
	return mapAll(rows, inputOf), err
}

func inputOf(r gen.CpoReimbursementCalculationInput) reimbursement.Input {
	return reimbursement.Input{Component: reimbursement.Component(r.ComponentType), ValidFrom: r.ValidFrom.UTC(), Value: r.Value}
}

// SetReimbursementInput sets (value non-nil) or removes (nil) the
// calculation input of a plan or an arrangement for a component from
// validFrom on; removed reports whether an input was removed.
func SetReimbursementInput(ctx context.Context, q Querier, o ReimbursementInputOwner, in reimbursement.Input, remove bool, now time.Time) (bool, error) {
	g := Q(q)
	if remove {
		var n int64
		var err error
		if o.PlanID != nil {
			n, err = g.DeleteReimbursementPlanInput(ctx, gen.DeleteReimbursementPlanInputParams{PlanID: o.PlanID,
				ComponentType: string(in.Component), ValidFrom: in.ValidFrom})
		} else {
			n, err = g.DeleteReimbursementArrangementInput(ctx, gen.DeleteReimbursementArrangementInputParams{ArrangementID: o.ArrangementID,
				ComponentType: string(in.Component), ValidFrom: in.ValidFrom})
		}
		return n > 0, err
	}
	id := uuid.Must(uuid.NewV7())
	if o.PlanID != nil {
		return false, Translate(g.UpsertReimbursementPlanInput(ctx, gen.UpsertReimbursementPlanInputParams{ID: id, PlanID: o.PlanID,
			ComponentType: string(in.Component), ValidFrom: in.ValidFrom, Value: in.Value, CreatedAt: now}))
	}
	return false, Translate(g.UpsertReimbursementArrangementInput(ctx, gen.UpsertReimbursementArrangementInputParams{ID: id,
		ArrangementID: o.ArrangementID, ComponentType: string(in.Component), ValidFrom: in.ValidFrom, Value: in.Value, CreatedAt: now}))
}

// TouchReimbursementOwner sets the updated_at of the plan or arrangement
// whose inputs changed (its representation, which lists them, changed).
func TouchReimbursementOwner(ctx context.Context, q Querier, o ReimbursementInputOwner, now time.Time) error {
	if o.PlanID != nil {
		return Q(q).TouchReimbursementPlan(ctx, gen.TouchReimbursementPlanParams{ID: *o.PlanID, UpdatedAt: now})
	}
	return Q(q).TouchReimbursementArrangement(ctx, gen.TouchReimbursementArrangementParams{ID: *o.ArrangementID, UpdatedAt: now})
}

// CPOChargeSessionReimbursement is a row of the read model
// cpo-charge-session-reimbursement: a reimbursement result with its
// arrangement, customer and session.
type CPOChargeSessionReimbursement = gen.ListCPOChargeSessionReimbursementsRow

// ListCPOChargeSessionReimbursements returns a page of reimbursement
// results (every version), in id order.
func ListCPOChargeSessionReimbursements(ctx context.Context, q Querier, p gen.ListCPOChargeSessionReimbursementsParams) ([]CPOChargeSessionReimbursement, error) {
	return Q(q).ListCPOChargeSessionReimbursements(ctx, p)
}

// CPOChargeSessionReimbursementByID loads one reimbursement result; all
// and admins scope it like the list.
func CPOChargeSessionReimbursementByID(ctx context.Context, q Querier, id uuid.UUID) (CPOChargeSessionReimbursement, error) {
	rows, err := Q(q).ListCPOChargeSessionReimbursements(ctx, gen.ListCPOChargeSessionReimbursementsParams{AllAdmins: true,
		AdminIds: []uuid.UUID{}, ID: &id, PageLimit: 1})
	if err != nil {
		return CPOChargeSessionReimbursement{}, err
	}
	if len(rows) == 0 {
		return CPOChargeSessionReimbursement{}, notFound(pgx.ErrNoRows, "cpo charge session reimbursement", id)
	}
	return rows[0], nil
}

// LocalEVSEForVAT finds our own EVSE where an MSP charge session took place
// (the CPO party countryCode/partyID is one of ours and has an EVSE with
// this uid) with its reimbursement arrangements, for the MSP side's "use
// customer reimbursement VAT" rule (guide 003 → "Subscription plan: use
// customer reimbursement VAT": "check if a matching local EVSE can be
// found (on the CPO side)"); pass the result to vat.Input.LocalEVSE. It is
// nil when no local EVSE matches ("the normal VAT determination will be
// used"). Each arrangement's validity is that of the arrangement within
// its link to the EVSE; vat.Determine selects those valid at the session
// start.
func LocalEVSEForVAT(ctx context.Context, q Querier, countryCode, partyID, evseUID string) (*vat.LocalEVSE, error) {
	g := Q(q)
	e, err := g.ReimbursementLocalEVSE(ctx, gen.ReimbursementLocalEVSEParams{EvseKey: location.KeyOf(evseUID),
		CountryCode: strings.ToUpper(countryCode), PartyID: strings.ToUpper(partyID)})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rows, err := g.ReimbursementArrangementsOfEVSE(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	out := &vat.LocalEVSE{UID: e.EvseUid, ReimbursementMandatory: e.ReimbursementMandatory}
	for _, r := range rows {
		from, until := laterStart(r.ValidFrom, r.LinkValidFrom), earlierEnd(r.ValidUntil, r.LinkValidUntil)
		if from != nil && until != nil && !until.After(*from) {
			continue // the link and the arrangement never overlap
		}
		out.Arrangements = append(out.Arrangements, vat.Arrangement{ID: r.ID.String(), CustomerID: r.CustomerID.String(),
			CustomerReimbursementVAT: vat.ReimbursementVAT(r.ReimbursementVat), ValidFrom: from, ValidUntil: until})
	}
	return out, nil
}

// laterStart is the later of two period starts (nil: since always).
func laterStart(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.After(*a)) {
		return b
	}
	return a
}

// earlierEnd is the earlier of two period ends (nil: until further notice).
func earlierEnd(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.Before(*a)) {
		return b
	}
	return a
}
