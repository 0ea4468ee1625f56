// Package roamingcost decides the CPO roaming cost of a charge session at
// one of our charge points (issue 6, CPO side → Roaming cost; guide 003 →
// Charge Point Operators → Charge sessions → Roaming): "the roaming
// agreements valid at the session start, our tariff for that EVSE, and the
// partner's party give the amount we charge the eMSP; it is the total_cost
// of the CDRs we send".
//
// The package decides; it does not load. Pricer implements session.Pricer
// for the CPO side on top of a Loader (db implements it) that gathers the
// facts; Compute is the pure rule over those facts, priced with the OCPI
// tariff engine (domain/pricing).
package roamingcost

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/pricing"
	"github.com/roamnode/roamnode/domain/session"
)

// Reasons of the drop-outs this pricer causes (the drop-out case key).
const (
	ReasonNoAgreement      = "No roaming agreement"
	ReasonNoTariff         = "No tariff for the connector"
	ReasonCurrencyMismatch = "Tariff currency differs from the session's"
	ReasonUnpriceable      = "Session cannot be priced with the tariff"
)

// Agreement is a roaming agreement with the eMSP partner in role cpo (their
// customers charge at our charge points), valid over [ValidFrom,
// ValidUntil) — nil bounds are open.
type Agreement struct {
	ID         uuid.UUID
	ValidFrom  *time.Time
	ValidUntil *time.Time
}

// validAt reports whether the agreement is valid at t (half-open period,
// DESIGN.md → Time).
func (a Agreement) validAt(t time.Time) bool {
	return (a.ValidFrom == nil || !t.Before(*a.ValidFrom)) && (a.ValidUntil == nil || t.Before(*a.ValidUntil))
}

// Tariff is one of our tariffs as the connector lists it: its OCPI type
// (empty, REGULAR, AD_HOC_PAYMENT, PROFILE_*) beside what the engine needs.
type Tariff struct {
	Type   string
	Tariff pricing.Tariff
}

// Inputs are the facts the roaming cost depends on, as the store found
// them for one session.
type Inputs struct {
	// Start and End of the session; Periods its charging periods in
	// chronological order (as the charge management system reported them).
	Start, End time.Time
	Periods    []pricing.Period
	// PeriodTariffIDs are the tariff_id the charging periods name (empty
	// where a period names none), index for index with Periods.
	PeriodTariffIDs []string
	// Currency is the session's currency.
	Currency string
	// TokenCountry and TokenParty are the party of the token (the eMSP
	// that owns it).
	TokenCountry, TokenParty string
	// PartnerID is the roaming partner with that party; nil when none has it.
	PartnerID *uuid.UUID
	// Agreements are the partner's roaming agreements in role cpo.
	Agreements []Agreement
	// ConnectorTariffIDs are the connector's tariff_ids in order
	// (mod_locations → Connector.tariff_ids); Tariffs the ones of them that
	// exist, by OCPI id upper case.
	ConnectorTariffIDs []string
	Tariffs            map[string]Tariff
	// EVSE and Connector name the matched connector for the drop-out detail.
	EVSE, Connector string
	// TimeZone is the location's IANA zone, in which tariff restrictions
	// are evaluated (mod_tariffs: restrictions are local time). Without
	// one (or with an unknown one) the zone of Country is used when the
	// country has a single one, else UTC; the detail notes the fallback
	// (pricing.ZoneFor; our locations' zones are checked when they are
	// written, so this is a safety net).
	TimeZone string
	// Country is the location's ISO 3166-1 country (alpha-3 as OCPI sends
	// it, or alpha-2); Price fills it from the session when the loader
	// leaves it empty.
	Country string
}

// Loader gathers the Inputs of a CPO session (db.RoamingCostLoader).
type Loader interface {
	RoamingCostInputs(ctx context.Context, s session.ChargeSession) (Inputs, error)
}

// Pricer is the CPO roaming-cost pricer of the session pipeline.
type Pricer struct{ Loader Loader }

var _ session.Pricer = Pricer{}

// Price implements session.Pricer: one result of kind roaming_cost for a
// CPO session, nothing for other sides.
func (p Pricer) Price(ctx context.Context, s session.ChargeSession, _ time.Time) ([]session.PriceResult, error) {
	if s.Side != session.CPO {
		return nil, nil
	}
	in, err := p.Loader.RoamingCostInputs(ctx, s)
	if err != nil {
		return nil, err
	}
	if in.Country == "" {
		in.Country = s.Location.Country
	}
	r, err := Compute(in)
	if err != nil {
		return nil, err
	}
	return []session.PriceResult{r}, nil
}

// Compute decides the roaming cost of a session from its inputs:
//
//  1. the eMSP is the roaming partner with the token's party, and one of
//     its agreements in role cpo must be valid at the session start (guide
//     003 → Roaming: "Any roaming agreements valid at the start of the
//     charge session are identified"); otherwise the session drops out
//     with "No roaming agreement";
//  2. the tariff is one of the matched connector's tariff_ids that exists,
//     is of type REGULAR or untyped (an AD_HOC_PAYMENT tariff is for
//     drivers paying on the spot, PROFILE_* tariffs for charging
//     preferences: neither is what an eMSP is charged) and is valid at the
//     start (mod_locations → Connector.tariff_ids: "only one of each
//     Tariff.type can be active at the same time"); when a charging period
//     names one of those tariffs that one is used, else the first;
//  3. the charging periods are priced with that tariff in the location's
//     time zone by the tariff engine; VAT comes from the tariff's price
//     components (mod_tariffs → PriceComponent.vat; none means no VAT).
//
// The amounts are exact (mod_tariffs: "There are no parameters related to
// price rounding"); rounding happens when they are invoiced.
func Compute(in Inputs) (session.PriceResult, error) {
	start := in.Start.UTC().Format(time.RFC3339)
	if in.PartnerID == nil {
		return session.PriceResult{}, session.Failf(session.CheckPricingConfigured, ReasonNoAgreement,
			"no roaming partner has the token's party %s-%s", in.TokenCountry, in.TokenParty)
	}
	var agreement *Agreement
	for i := range in.Agreements {
		if in.Agreements[i].validAt(in.Start) {
			agreement = &in.Agreements[i]
			break
		}
	}
	if agreement == nil {
		return session.PriceResult{}, session.Failf(session.CheckPricingConfigured, ReasonNoAgreement,
			"roaming partner %s (%s-%s) has no roaming agreement in role cpo valid at %s", in.PartnerID, in.TokenCountry, in.TokenParty, start)
	}
	t, why, err := chooseTariff(in)
	if err != nil {
		return session.PriceResult{}, err
	}
	if !strings.EqualFold(t.Currency, in.Currency) {
		return session.PriceResult{}, session.Failf(session.CheckPricingConfigured, ReasonCurrencyMismatch,
			"tariff %s is in %s, the session in %s", t.ID, t.Currency, in.Currency)
	}
	z := pricing.ZoneFor(in.TimeZone, in.Country)
	loc, zoneNote := z.Loc, z.Note
	res, err := pricing.Price(t, pricing.Session{Start: in.Start, End: in.End, Periods: in.Periods}, loc)
	if err != nil {
		return session.PriceResult{}, session.Failf(session.CheckPricingConfigured, ReasonUnpriceable, "tariff %s: %v", t.ID, err)
	}
	out := session.PriceResult{Kind: session.KindRoamingCost, Currency: strings.ToUpper(t.Currency), Components: components(res)}.Totals()
	out.Detail, err = json.Marshal(detailOf(in, *agreement, t.ID, why, loc.String(), zoneNote, res))
	return out, err
}

// chooseTariff applies rule 2 of Compute.
func chooseTariff(in Inputs) (pricing.Tariff, string, error) {
	var cands []pricing.Tariff
	for _, id := range in.ConnectorTariffIDs {
		t, ok := in.Tariffs[strings.ToUpper(id)]
		if !ok || (t.Type != "" && t.Type != "REGULAR") {
			continue
		}
		if t.Tariff.StartDateTime != nil && in.Start.Before(*t.Tariff.StartDateTime) {
			continue
		}
		if t.Tariff.EndDateTime != nil && !in.Start.Before(*t.Tariff.EndDateTime) {
			continue
		}
		cands = append(cands, t.Tariff)
	}
	if len(cands) == 0 {
		return pricing.Tariff{}, "", session.Failf(session.CheckPricingConfigured, ReasonNoTariff,
			"connector %s of EVSE %s has no REGULAR tariff valid at %s (tariff_ids %v)", in.Connector, in.EVSE,
			in.Start.UTC().Format(time.RFC3339), in.ConnectorTariffIDs)
	}
	for _, named := range in.PeriodTariffIDs {
		for _, c := range cands {
			if named != "" && strings.EqualFold(c.ID, named) {
				return c, "named by the charging periods", nil
			}
		}
	}
	return cands[0], "the connector's first regular tariff valid at the session start", nil
}

// componentKey groups engine lines into a result's components: one per
// dimension and VAT rate.
type componentKey struct {
	name string
	rate string
}

var hundred = decimal.NewFromInt(100)

// components sums the engine's lines per dimension and VAT rate, and adds
// the min_price/max_price adjustments as components of their own, so that
// the result's totals (the sums of its components) equal the engine's
// total_cost.
func components(res pricing.Result) []session.PriceComponent {
	var out []session.PriceComponent
	idx := map[componentKey]int{}
	for _, p := range res.Parts {
		for _, l := range p.Lines {
			if l.Element < 0 {
				continue // no element matched: free, nothing to charge
			}
			name, unit := componentName(l)
			rate := decimal.Zero
			if l.VAT != nil {
				rate = l.VAT.Div(hundred)
			}
			k := componentKey{name, rate.String()}
			i, ok := idx[k]
			if !ok {
				i = len(out)
				idx[k] = i
				out = append(out, session.PriceComponent{Component: name, Unit: unit, VATRate: rate})
			}
			c := &out[i]
			c.Volume = c.Volume.Add(l.Billed)
			c.ExclVAT = c.ExclVAT.Add(l.Amount.ExclVAT)
			c.InclVAT = c.InclVAT.Add(l.Amount.InclVAT)
			c.VAT = c.InclVAT.Sub(c.ExclVAT)
		}
	}
	for _, a := range res.Adjustments {
		c := session.PriceComponent{Component: a.Reason, Unit: "session", Volume: decimal.NewFromInt(1),
			ExclVAT: a.Amount.ExclVAT, InclVAT: a.Amount.InclVAT, VAT: a.Amount.InclVAT.Sub(a.Amount.ExclVAT)}
		if !c.ExclVAT.IsZero() {
			// A blended rate for information: the adjustment spans lines of
			// possibly different rates; its VAT amount is exact.
			c.VATRate = c.VAT.DivRound(c.ExclVAT, 4)
		}
		out = append(out, c)
	}
	return out
}

// componentName names a line's component and the unit of its volume.
func componentName(l pricing.Line) (string, string) {
	switch {
	case l.Reservation && l.Dimension == pricing.Flat:
		return "reservation", "session"
	case l.Reservation:
		return "reservation", "h"
	case l.Dimension == pricing.Energy:
		return "energy", "kWh"
	case l.Dimension == pricing.Time:
		return "time", "h"
	case l.Dimension == pricing.ParkingTime:
		return "parking_time", "h"
	}
	return "flat", "session"
}

// detail is the explainable breakdown stored with the result: what was
// chosen and why, and the engine's lines (guide 003: a partner's dispute
// is answered line by line).
type detail struct {
	PartnerID   uuid.UUID      `json:"partner_id"`
	AgreementID uuid.UUID      `json:"agreement_id"`
	TokenParty  string         `json:"token_party"`
	TariffID    string         `json:"tariff_id"`
	TariffWhy   string         `json:"tariff_choice"`
	TimeZone    string         `json:"time_zone"`
	Notes       []string       `json:"notes,omitempty"`
	Lines       []detailLine   `json:"lines"`
	Steps       []detailStep   `json:"steps,omitempty"`
	Adjustments []detailAdjust `json:"adjustments,omitempty"`
	Totals      detailTotals   `json:"totals"`
}

type detailLine struct {
	Period    int              `json:"period"`
	Start     time.Time        `json:"start"`
	End       time.Time        `json:"end"`
	Dimension string           `json:"dimension"`
	Volume    decimal.Decimal  `json:"volume"`
	Billed    decimal.Decimal  `json:"billed"`
	Element   int              `json:"element"`
	UnitPrice decimal.Decimal  `json:"unit_price"`
	VAT       *decimal.Decimal `json:"vat_percent"`
	ExclVAT   decimal.Decimal  `json:"excl_vat"`
	InclVAT   decimal.Decimal  `json:"incl_vat"`
	Why       string           `json:"why"`
}

type detailStep struct {
	Dimension string          `json:"dimension"`
	StepSize  int64           `json:"step_size"`
	Total     decimal.Decimal `json:"total"`
	Billed    decimal.Decimal `json:"billed"`
}

type detailAdjust struct {
	Reason  string          `json:"reason"`
	ExclVAT decimal.Decimal `json:"excl_vat"`
	InclVAT decimal.Decimal `json:"incl_vat"`
}

// detailTotals are the OCPI CDR totals of the engine (mod_cdrs → CDR
// Object), which the CDR we publish carries.
type detailTotals struct {
	TotalCost            amount          `json:"total_cost"`
	TotalFixedCost       amount          `json:"total_fixed_cost"`
	TotalEnergy          decimal.Decimal `json:"total_energy"`
	TotalEnergyCost      amount          `json:"total_energy_cost"`
	TotalTime            decimal.Decimal `json:"total_time"`
	TotalTimeCost        amount          `json:"total_time_cost"`
	TotalParkingTime     decimal.Decimal `json:"total_parking_time"`
	TotalParkingCost     amount          `json:"total_parking_cost"`
	TotalReservationCost amount          `json:"total_reservation_cost"`
}

// amount is a pricing.Amount as the detail writes it.
type amount struct {
	ExclVAT decimal.Decimal `json:"excl_vat"`
	InclVAT decimal.Decimal `json:"incl_vat"`
}

func amountOf(a pricing.Amount) amount { return amount{a.ExclVAT, a.InclVAT} }

func (a amount) pricing() pricing.Amount {
	return pricing.Amount{ExclVAT: a.ExclVAT, InclVAT: a.InclVAT}
}

func detailOf(in Inputs, a Agreement, tariffID, why, zoneName, zoneNote string, res pricing.Result) detail {
	d := detail{PartnerID: *in.PartnerID, AgreementID: a.ID, TokenParty: strings.ToUpper(in.TokenCountry + "-" + in.TokenParty),
		TariffID: tariffID, TariffWhy: why, TimeZone: zoneName, Lines: []detailLine{}, Notes: res.Warnings,
		Totals: detailTotals{TotalCost: amountOf(res.TotalCost), TotalFixedCost: amountOf(res.TotalFixedCost), TotalEnergy: res.TotalEnergy,
			TotalEnergyCost: amountOf(res.TotalEnergyCost), TotalTime: res.TotalTime, TotalTimeCost: amountOf(res.TotalTimeCost),
			TotalParkingTime: res.TotalParkingTime, TotalParkingCost: amountOf(res.TotalParkingCost),
			TotalReservationCost: amountOf(res.TotalReservationCost)}}
	if zoneNote != "" {
		d.Notes = append(d.Notes, zoneNote)
	}
	for i := range res.Parts {
		p := &res.Parts[i]
		for j := range p.Lines {
			l := &p.Lines[j]
			dim := string(l.Dimension)
			if l.Reservation {
				dim = "RESERVATION_" + dim
			}
			d.Lines = append(d.Lines, detailLine{Period: p.Period, Start: p.Volumes.Start.UTC(), End: p.End.UTC(), Dimension: dim,
				Volume: l.Volume, Billed: l.Billed, Element: l.Element, UnitPrice: l.UnitPrice, VAT: l.VAT,
				ExclVAT: l.Amount.ExclVAT, InclVAT: l.Amount.InclVAT, Why: p.Why(l)})
		}
	}
	for _, s := range res.Steps {
		d.Steps = append(d.Steps, detailStep{Dimension: string(s.Dimension), StepSize: s.StepSize, Total: s.Total, Billed: s.Billed})
	}
	for _, a := range res.Adjustments {
		d.Adjustments = append(d.Adjustments, detailAdjust{Reason: a.Reason, ExclVAT: a.Amount.ExclVAT, InclVAT: a.Amount.InclVAT})
	}
	return d
}

// Totals are the OCPI CDR totals kept in a roaming-cost result's detail:
// the CDR we publish carries them (mod_cdrs → CDR Object: total_cost,
// total_energy_cost, …).
type Totals struct {
	TotalCost            pricing.Amount
	TotalFixedCost       pricing.Amount
	TotalEnergy          decimal.Decimal
	TotalEnergyCost      pricing.Amount
	TotalTime            decimal.Decimal
	TotalTimeCost        pricing.Amount
	TotalParkingTime     decimal.Decimal
	TotalParkingCost     pricing.Amount
	TotalReservationCost pricing.Amount
	TariffID             string
}

// TotalsOf reads the CDR totals back from a roaming-cost result's detail.
func TotalsOf(r session.PriceResult) (Totals, error) {
	var d detail
	if err := json.Unmarshal(r.Detail, &d); err != nil {
		return Totals{}, err
	}
	t := d.Totals
	return Totals{TotalCost: t.TotalCost.pricing(), TotalFixedCost: t.TotalFixedCost.pricing(), TotalEnergy: t.TotalEnergy,
		TotalEnergyCost: t.TotalEnergyCost.pricing(), TotalTime: t.TotalTime, TotalTimeCost: t.TotalTimeCost.pricing(),
		TotalParkingTime: t.TotalParkingTime, TotalParkingCost: t.TotalParkingCost.pricing(),
		TotalReservationCost: t.TotalReservationCost.pricing(), TariffID: d.TariffID}, nil
}
