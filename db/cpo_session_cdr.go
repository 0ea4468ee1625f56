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
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/location"
	"github.com/roamnode/roamnode/domain/pricing"
	"github.com/roamnode/roamnode/domain/roamingcost"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// The CPO side of pricing: what the roaming cost of a session at our
// charge points is computed from (RoamingCostLoader), and the CDR we
// publish once it is priced (PublishCPOCDR).

// ---- the CDR we publish

// CDRPushObject is the push object (and group) of a CDR: "CC/PID/CDR_ID".
// CDRs are POSTed to the receiver's endpoint itself (mod_cdrs → Receiver
// POST); the object only names the CDR for the renderer.
func CDRPushObject(cc, pid, cdrID string) string { return cc + "/" + pid + "/" + cdrID }

// PublishCPOCDR publishes the CDR of a priced CPO charge session in the
// caller's transaction q (the pricing commit): the CDR is built from the
// reported session, our location, EVSE and connector it was matched to,
// and the roaming-cost result r (its total_cost and per-dimension costs;
// issue 6: the roaming cost "is the total_cost of the CDRs we send"), kept
// as published, and POSTed to the eMSP that owns the token. A CDR is
// final (mod_cdrs): repricing a session whose CDR was published corrects
// it with a credit CDR and a replacement CDR when the roaming cost changed
// (correctCPOCDR), and sends nothing when it did not. A charge session
// without a reported session (not ours) publishes nothing. It returns the
// push groups to kick after the commit.
func PublishCPOCDR(ctx context.Context, q Querier, cs session.ChargeSession, r session.PriceResult, now time.Time) ([]roaming.PushRef, error) {
	if cs.Side != session.CPO || r.Kind != session.KindRoamingCost {
		return nil, nil
	}
	g := Q(q)
	row, err := g.LockCPOSessionOfChargeSession(ctx, &cs.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rec, err := cpoSessionOf(row)
	if err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Second) // OCPI DateTime precision: the CDR's last_updated is its publication
	if rec.Published != nil {
		return correctCPOCDR(ctx, q, cs, rec, r, now)
	}
	cdr, err := buildCDR(ctx, q, cs, rec, r, now)
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(cdr)
	if err != nil {
		return nil, err
	}
	n, err := g.PublishCPOCDR(ctx, gen.PublishCPOCDRParams{ID: rec.ID, CdrDoc: doc, CdrPublishedAt: &now})
	if err != nil || n == 0 {
		return nil, err
	}
	obj := CDRPushObject(cdr.CountryCode, cdr.PartyID, cdr.ID)
	return EnqueuePush(ctx, q, roaming.Change{Module: string(ocpi.ModuleCDRs), Group: obj, Object: obj, Method: roaming.PushPost,
		FromCountry: cdr.CountryCode, FromParty: cdr.PartyID, ToCountry: cdr.CdrToken.CountryCode, ToParty: cdr.CdrToken.PartyID})
}

// correctCPOCDR corrects the published CDR of a repriced session
// (mod_cdrs → Credit CDRs: "When a CPO wants to make changes to a CDR
// that was already sent to the eMSP, the CPO has to send a Credit CDR for
// the first CDR", then "a new CDR with a new unique ID"), in the pricing
// commit's transaction q: when the new roaming cost r differs from the
// total_cost of the CDR in force (the first CDR, else the last
// replacement), a credit CDR of the CDR in force and a replacement CDR
// with r are stored and POSTed to the token's eMSP in that order, in the
// push group of the first CDR (one group is sent in order, so the credit
// always arrives first). An unchanged cost sends nothing.
func correctCPOCDR(ctx context.Context, q Querier, cs session.ChargeSession, rec CPOSessionRecord, r session.PriceResult, now time.Time) ([]roaming.PushRef, error) {
	g := Q(q)
	inForce, seq := *rec.Published, int32(0)
	last, err := g.LatestCPOCDRCorrection(ctx, cs.ID)
	switch {
	case err == nil:
		seq = last.Seq
		if err := json.Unmarshal(last.Doc, &inForce); err != nil {
			return nil, err
		}
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, err
	}
	repl, err := buildCDR(ctx, q, cs, rec, r, now)
	if err != nil {
		return nil, err
	}
	if sameCost(inForce.TotalCost, repl.TotalCost) {
		return nil, nil
	}
	repl.ID = uuid.Must(uuid.NewV7()).String()
	credit := CreditCDR(inForce, uuid.Must(uuid.NewV7()).String(), now)
	grp := CDRPushObject(cs.CountryCode, cs.PartyID, cs.CdrID)
	var refs []roaming.PushRef
	for i, c := range []ocpi.CDR{credit, repl} {
		doc, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		kind, ref := "replacement", (*string)(nil)
		if i == 0 {
			kind, ref = "credit", &credit.CreditReferenceID
		}
		if err := g.InsertCPOCDRCorrection(ctx, gen.InsertCPOCDRCorrectionParams{ID: c.ID, CpoSessionID: rec.ID, ChargeSessionID: cs.ID,
			Seq: seq + int32(i) + 1, Kind: kind, CreditReferenceID: ref, CountryCode: c.CountryCode, PartyID: c.PartyID,
			TokenCountryCode: strings.ToUpper(c.CdrToken.CountryCode), TokenPartyID: strings.ToUpper(c.CdrToken.PartyID), Doc: doc,
			PublishedAt: now}); err != nil {
			return nil, err
		}
		rs, err := EnqueuePush(ctx, q, roaming.Change{Module: string(ocpi.ModuleCDRs), Group: grp, Object: CDRPushObject(c.CountryCode, c.PartyID, c.ID),
			Method: roaming.PushPost, FromCountry: c.CountryCode, FromParty: c.PartyID, ToCountry: c.CdrToken.CountryCode, ToParty: c.CdrToken.PartyID})
		if err != nil {
			return nil, err
		}
		refs = append(refs, rs...)
	}
	return refs, nil
}

// sameCost reports whether two total_costs are equal (excl. VAT, and
// incl. VAT when either has it).
func sameCost(a, b ocpi.Price) bool {
	if !a.ExclVAT.Equal(b.ExclVAT.Decimal) {
		return false
	}
	if a.InclVAT == nil || b.InclVAT == nil {
		return a.InclVAT == nil && b.InclVAT == nil
	}
	return a.InclVAT.Equal(b.InclVAT.Decimal)
}

// CreditCDR returns the credit CDR of cdr under a new id (mod_cdrs →
// Credit CDRs): "all the data of the original CDR", credit true,
// credit_reference_id its id, and "only the values in the total_cost field
// SHALL contain the negative amounts of the original CDR" — the
// per-dimension totals (total_energy_cost, …) stay as in the original.
func CreditCDR(cdr ocpi.CDR, id string, now time.Time) ocpi.CDR {
	yes := true
	c := cdr
	c.ID, c.Credit, c.CreditReferenceID, c.LastUpdated = id, &yes, cdr.ID, ocpi.NewDateTime(now)
	c.TotalCost = negPrice(cdr.TotalCost)
	return c
}

func negPrice(p ocpi.Price) ocpi.Price {
	out := ocpi.Price{ExclVAT: ocpi.NewNumber(p.ExclVAT.Neg())}
	if p.InclVAT != nil {
		in := ocpi.NewNumber(p.InclVAT.Neg())
		out.InclVAT = &in
	}
	return out
}

// PublishedCDR returns the CDR we published under id, as published (the
// CDRs renderer's source): a credit or replacement CDR
// (cpo_cdr_correction), else the first CDR of the charge session whose id
// it is. Found false: no such CDR (or not published yet).
func PublishedCDR(ctx context.Context, q Querier, id string) (json.RawMessage, bool, error) {
	k, err := Q(q).CPOCDRCorrection(ctx, id)
	if err == nil {
		return k.Doc, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, false, err
	}
	sid, err := uuid.Parse(id) // our first CDRs' ids are charge session ids
	if err != nil {
		return nil, false, nil
	}
	rec, err := CPOSessionOfChargeSession(ctx, q, sid)
	if fault.Is(err, fault.KindNotFound) || (err == nil && rec.Published == nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	doc, err := json.Marshal(rec.Published)
	return doc, err == nil, err
}

// buildCDR renders the OCPI CDR of a priced session (mod_cdrs → CDR
// Object): the reported facts (token, times, periods, energy, time), our
// location as matched (CdrLocation), the tariff that priced it, and the
// roaming cost as its costs.
func buildCDR(ctx context.Context, q Querier, cs session.ChargeSession, rec CPOSessionRecord, r session.PriceResult, now time.Time) (ocpi.CDR, error) {
	s := rec.Session
	tot, err := roamingcost.TotalsOf(r)
	if err != nil {
		return ocpi.CDR{}, err
	}
	end := s.StartDateTime
	if s.EndDateTime != nil {
		end = *s.EndDateTime
	}
	cdr := ocpi.CDR{CountryCode: cs.CountryCode, PartyID: cs.PartyID, ID: cs.CdrID, StartDateTime: s.StartDateTime, EndDateTime: end,
		SessionID: s.ID, CdrToken: s.CdrToken, AuthMethod: s.AuthMethod, AuthorizationReference: s.AuthorizationReference,
		MeterID: s.MeterID, Currency: r.Currency, ChargingPeriods: s.ChargingPeriods,
		TotalCost: ocpi.PriceOf(tot.TotalCost), LastUpdated: ocpi.NewDateTime(now)}
	if f := rec.CDR; f != nil {
		cdr.TotalEnergy, cdr.TotalTime, cdr.TotalParkingTime = ocpi.NewNumber(f.TotalEnergy), ocpi.NewNumber(f.TotalTime), ocpi.NumberPtr(f.TotalParkingTime)
		cdr.SignedData, cdr.Remark = f.SignedData, f.Remark
	}
	opt := func(a pricing.Amount) *ocpi.Price {
		if a.ExclVAT.IsZero() && a.InclVAT.IsZero() {
			return nil
		}
		p := ocpi.PriceOf(a)
		return &p
	}
	cdr.TotalFixedCost, cdr.TotalEnergyCost, cdr.TotalTimeCost = opt(tot.TotalFixedCost), opt(tot.TotalEnergyCost), opt(tot.TotalTimeCost)
	cdr.TotalParkingCost, cdr.TotalReservationCost = opt(tot.TotalParkingCost), opt(tot.TotalReservationCost)
	if tot.TariffID != "" {
		if t, err := CPOTariffByID(ctx, q, tot.TariffID, "", false); err == nil {
			cdr.Tariffs = []ocpi.Tariff{t.Tariff}
		} else if !fault.Is(err, fault.KindNotFound) {
			return cdr, err
		}
	}
	loc, evse, conn, err := matchedPlace(ctx, q, cs)
	if err != nil {
		return cdr, err
	}
	l := loc.Location
	cdr.CdrLocation = ocpi.CdrLocation{ID: l.ID, Name: l.Name, Address: l.Address, City: l.City, PostalCode: l.PostalCode, State: l.State,
		Country: l.Country, Coordinates: l.Coordinates, EvseUID: evse.EVSE.UID, EvseID: evse.EVSE.EvseID, ConnectorID: conn.ID,
		ConnectorStandard: conn.Standard, ConnectorFormat: conn.Format, ConnectorPowerType: conn.PowerType}
	if cdr.CdrLocation.EvseID == "" {
		cdr.CdrLocation.EvseID = evse.EVSE.UID // an EVSE without an EVSE id is named by its uid
	}
	return cdr, nil
}

// matchedPlace loads our location, EVSE and connector a session was matched to.
func matchedPlace(ctx context.Context, q Querier, cs session.ChargeSession) (CPOLocation, CPOEVSE, ocpi.Connector, error) {
	if cs.Match == nil {
		return CPOLocation{}, CPOEVSE{}, ocpi.Connector{}, errors.New("a priced CPO session has no match")
	}
	loc, err := CPOLocationByUUID(ctx, q, cs.Match.LocationID)
	if err != nil {
		return loc, CPOEVSE{}, ocpi.Connector{}, err
	}
	er, err := Q(q).GetCPOEVSEByID(ctx, cs.Match.EvseID)
	if err != nil {
		return loc, CPOEVSE{}, ocpi.Connector{}, notFound(err, "cpo evse", cs.Match.EvseID)
	}
	evse, err := cpoEVSEOf(er)
	if err != nil {
		return loc, evse, ocpi.Connector{}, err
	}
	for _, c := range evse.EVSE.Connectors {
		if location.EqualID(c.ID, cs.Match.ConnectorID) {
			return loc, evse, c, nil
		}
	}
	return loc, evse, ocpi.Connector{ID: cs.Match.ConnectorID}, nil
}

// ---- the roaming cost inputs

// RoamingCostLoader implements roamingcost.Loader: it gathers what the
// roaming cost of a CPO session depends on — the reported charging
// periods, the roaming partner with the token's party and its agreements
// in role cpo, the matched connector's tariffs — and decides nothing.
type RoamingCostLoader struct{ Pool *pgxpool.Pool }

var _ roamingcost.Loader = RoamingCostLoader{}

// RoamingCostInputs implements roamingcost.Loader.
func (l RoamingCostLoader) RoamingCostInputs(ctx context.Context, s session.ChargeSession) (roamingcost.Inputs, error) {
	q := Q(l.Pool)
	in := roamingcost.Inputs{Start: s.Start, End: s.End, Currency: s.Currency, TokenCountry: strings.ToUpper(s.Token.CountryCode),
		TokenParty: strings.ToUpper(s.Token.PartyID), EVSE: s.Location.EvseUID, Connector: s.Location.ConnectorID,
		Tariffs: map[string]roamingcost.Tariff{}}
	rep, err := CPOSessionOfChargeSession(ctx, l.Pool, s.ID)
	switch {
	case err == nil:
		for _, p := range rep.Session.ChargingPeriods {
			in.Periods = append(in.Periods, p.ToPricing())
			in.PeriodTariffIDs = append(in.PeriodTariffIDs, p.TariffID)
		}
	case !fault.Is(err, fault.KindNotFound):
		return in, err
	}
	if p, err := q.PartnerOfParty(ctx, gen.PartnerOfPartyParams{CountryCode: in.TokenCountry, PartyID: in.TokenParty}); err == nil {
		in.PartnerID = &p
		ags, err := q.CPOAgreementsOfPartner(ctx, p)
		if err != nil {
			return in, err
		}
		for _, a := range ags {
			in.Agreements = append(in.Agreements, roamingcost.Agreement{ID: a.ID, ValidFrom: a.ValidFrom, ValidUntil: a.ValidUntil})
		}
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return in, err
	}
	if s.Match == nil {
		return in, nil
	}
	in.TimeZone = s.Match.TimeZone
	er, err := q.GetCPOEVSEByID(ctx, s.Match.EvseID)
	if errors.Is(err, pgx.ErrNoRows) {
		return in, nil
	}
	if err != nil {
		return in, err
	}
	evse, err := cpoEVSEOf(er)
	if err != nil {
		return in, err
	}
	in.EVSE = evse.EVSE.UID
	for _, c := range evse.EVSE.Connectors {
		if location.EqualID(c.ID, s.Match.ConnectorID) {
			in.Connector, in.ConnectorTariffIDs = c.ID, c.TariffIDs
		}
	}
	keys := make([]string, len(in.ConnectorTariffIDs))
	for i, id := range in.ConnectorTariffIDs {
		keys[i] = strings.ToUpper(id)
	}
	rows, err := q.CPOTariffsByKeys(ctx, keys)
	if err != nil {
		return in, err
	}
	for _, r := range rows {
		t, err := cpoTariffOf(r)
		if err != nil {
			return in, err
		}
		pt, err := t.Tariff.ToPricing()
		if err != nil {
			continue // a tariff the engine cannot read is no candidate (it was checked when written)
		}
		in.Tariffs[strings.ToUpper(t.Tariff.ID)] = roamingcost.Tariff{Type: string(t.Tariff.Type), Tariff: pt}
	}
	return in, nil
}

// publishesCDR reports whether committing outcome o of a session publishes
// a CDR: a CPO session priced with a roaming cost (the pricing commit then
// runs in a transaction with PublishCPOCDR).
func publishesCDR(s session.ChargeSession, o session.Outcome) bool {
	if s.Side != session.CPO || o.State != session.Priced {
		return false
	}
	for _, r := range o.Prices {
		if r.Kind == session.KindRoamingCost {
			return true
		}
	}
	return false
}

// publishPriced is the pricing commit's hook for CPO sessions, in its
// transaction: the CDR is published with the roaming cost as total_cost
// (PublishCPOCDR), so that a priced session and its CDR push exist
// together or not at all. The worker kicks the push after the commit
// (CDRPushRefs); the push sweeper covers a lost kick.
func publishPriced(ctx context.Context, tx pgx.Tx, s session.ChargeSession, o session.Outcome, now time.Time) error {
	for _, r := range o.Prices {
		if r.Kind == session.KindRoamingCost {
			_, err := PublishCPOCDR(ctx, tx, s, r, now)
			return err
		}
	}
	return nil
}

// CDRPushRefs returns the pending push groups of a CPO session's CDR (to
// kick the worker after the pricing commit published it); none when the
// CDR was not published or is sent already.
func CDRPushRefs(ctx context.Context, q Querier, s session.ChargeSession) ([]roaming.PushRef, error) {
	if s.Side != session.CPO {
		return nil, nil
	}
	grp := CDRPushObject(s.CountryCode, s.PartyID, s.CdrID)
	rows, err := Q(q).PendingPushRefsOfGroup(ctx, gen.PendingPushRefsOfGroupParams{Module: string(ocpi.ModuleCDRs), Grp: grp})
	return mapAll(rows, func(r gen.PendingPushRefsOfGroupRow) roaming.PushRef {
		return roaming.PushRef{ConnectionID: r.ConnectionID, Module: string(ocpi.ModuleCDRs), Group: grp, Seq: r.Seq, Attempts: r.Attempts}
	}), err
}
