package db

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/reimbursement"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/domain/vat"
)

// ReimbursementPricer is the CPO side's reimbursement pricer
// (session.Pricer; guide 003 → Charge sessions → "Reimbursements"): it
// loads the arrangements linked to the session's EVSE and valid at its
// start, their plans' and their own calculation inputs, their customers
// and the VAT configuration of their sellers, and lets
// domain/reimbursement decide. The VAT configuration is read through VAT
// (a short-lived cache; nil reads it every time).
type ReimbursementPricer struct {
	Pool *pgxpool.Pool
	VAT  *VATCache
}

var _ session.Pricer = ReimbursementPricer{}

// Price implements session.Pricer: one KindReimbursement result per
// arrangement, none for a session that is not at one of our EVSEs.
func (p ReimbursementPricer) Price(ctx context.Context, s session.ChargeSession, _ time.Time) ([]session.PriceResult, error) {
	if s.Side != session.CPO || s.Match == nil || s.Match.EvseID == uuid.Nil {
		return nil, nil
	}
	g := Q(p.Pool)
	evse, err := g.ReimbursementEVSE(ctx, s.Match.EvseID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil // not one of our EVSEs: nobody to reimburse
	}
	if err != nil {
		return nil, err
	}
	in := reimbursement.Session{Start: s.Start, Energy: s.TotalEnergy, Time: s.TotalTime, ParkingTime: s.TotalParkingTime,
		CMSReimbursement: s.CMSReimbursement, Currency: s.Currency, EVSEUID: evse.EvseUid, ReimbursementMandatory: evse.ReimbursementMandatory}
	if s.Location.Country != "" {
		c, ok := vat.CountryAlpha2(s.Location.Country)
		if !ok {
			return nil, session.Failf(session.CheckVATDetermined, reimbursement.ReasonVAT,
				"the location country %q is not an ISO 3166-1 country code", s.Location.Country)
		}
		in.OriginCountry = c
	}
	rows, err := g.ReimbursementArrangementsAt(ctx, gen.ReimbursementArrangementsAtParams{EvseID: s.Match.EvseID, At: s.Start})
	if err != nil {
		return nil, err
	}
	arrs, err := p.arrangements(ctx, rows, s.Start)
	if err != nil {
		return nil, err
	}
	return reimbursement.Price(in, arrs)
}

// arrangements builds the domain arrangements of rows with their inputs
// valid at start and their sellers' VAT configurations.
func (p ReimbursementPricer) arrangements(ctx context.Context, rows []gen.ReimbursementArrangementsAtRow, start time.Time) ([]reimbursement.Arrangement, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	planIDs, arrIDs := make([]uuid.UUID, len(rows)), make([]uuid.UUID, len(rows))
	for i, r := range rows {
		planIDs[i], arrIDs[i] = r.PlanID, r.ID
	}
	inputs, err := Q(p.Pool).ReimbursementInputsAt(ctx, gen.ReimbursementInputsAtParams{PlanIds: planIDs, ArrangementIds: arrIDs, At: start})
	if err != nil {
		return nil, err
	}
	byPlan, byArr := map[uuid.UUID][]reimbursement.Input{}, map[uuid.UUID][]reimbursement.Input{}
	for _, r := range inputs {
		if r.PlanID != nil {
			byPlan[*r.PlanID] = append(byPlan[*r.PlanID], inputOf(r))
		} else if r.ArrangementID != nil {
			byArr[*r.ArrangementID] = append(byArr[*r.ArrangementID], inputOf(r))
		}
	}
	out := make([]reimbursement.Arrangement, len(rows))
	for i, r := range rows {
		cfg, err := p.VAT.Config(ctx, p.Pool, r.SellerID)
		if err != nil {
			return nil, err
		}
		comps := make([]reimbursement.Component, len(r.CostComponents))
		for j, c := range r.CostComponents {
			comps[j] = reimbursement.Component(c)
		}
		cust := vat.Customer{ID: r.CustomerID.String(), Country: r.CustomerCountry, Business: r.CustomerEntityType == "organisation",
			ReimbursementVAT: vat.ReimbursementVAT(r.CustomerReimbursementVat)}
		if r.CustomerVatNumber != nil {
			cust.VATNumber = *r.CustomerVatNumber
		}
		out[i] = reimbursement.Arrangement{ID: r.ID, AdministrationID: r.AdministrationID, Currency: r.Currency, Customer: cust, VAT: cfg, Inputs: byArr[r.ID],
			Plan: reimbursement.Plan{ID: r.PlanID, Calculation: reimbursement.Calculation(r.Calculation), Components: comps, Inputs: byPlan[r.PlanID]}}
	}
	return out, nil
}
