package adminapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/iso"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
)

// Sessions at our own charge points as our charge management system
// reports them (issue 5, CPO side; guide 003 → POST /cpo-charge-session,
// "Add charge_periods to POST /cpo-charge-session"): POST
// /cpo-charge-session creates or updates a session by its OCPI session id
// while it runs (status, charge periods so far, kWh) and when it ends (the
// CDR's facts). A running session is published as an OCPI Session to the
// eMSP that owns its token; an ended one becomes a cpo-charge-session that
// the pipeline processes and prices, whose CDR we publish. The reports are
// readable as cpo-charge-session-progress.

// cpoProgressFilters are the filters of GET /cpo-charge-session-progress.
var cpoProgressFilters = []string{"status", "session_id", "external_reference", "finished"}

// mountCPOChargeSessions registers the report endpoint and its read model.
func (a *API) mountCPOChargeSessions(v1 fiber.Router) {
	v1.Post("/cpo-charge-session", a.handle(sessionFamily, access.Write, reportCPOSession))
	v1.Get("/cpo-charge-session-progress", a.handle(sessionFamily, access.Read, listCPOSessions))
	v1.Get("/cpo-charge-session-progress/:key", a.handle(sessionFamily, access.Read, getCPOSession))
}

// cpoSessionInput is the body of POST /cpo-charge-session. Decimals are
// strings (003 → Data types → Decimals).
type cpoSessionInput struct {
	SessionID              string           `json:"session_id"`
	ExternalReference      *string          `json:"external_reference"`
	CountryCode            *string          `json:"country_code"`
	PartyID                *string          `json:"party_id"`
	Status                 string           `json:"status"`
	StartDateTime          *time.Time       `json:"start_date_time"`
	EndDateTime            *time.Time       `json:"end_date_time"`
	Kwh                    *Decimal         `json:"kwh"`
	Token                  *cpoTokenInput   `json:"token"`
	AuthMethod             string           `json:"auth_method"`
	AuthorizationReference *string          `json:"authorization_reference"`
	LocationID             string           `json:"location_id"`
	EvseUID                string           `json:"evse_uid"`
	ConnectorID            string           `json:"connector_id"`
	MeterID                *string          `json:"meter_id"`
	Currency               string           `json:"currency"`
	ChargePeriods          []cpoPeriodInput `json:"charge_periods"`
	TotalCost              *cpoPriceInput   `json:"total_cost"`
	TotalEnergy            *Decimal         `json:"total_energy"`
	TotalTime              *Decimal         `json:"total_time"`
	TotalParkingTime       *Decimal         `json:"total_parking_time"`
	ReimbursementAmount    *Decimal         `json:"reimbursement_amount_excl_vat"`
	Remark                 *string          `json:"remark"`
	SignedData             *ocpi.SignedData `json:"signed_data"`
	ExternalUpdatedAt      *time.Time       `json:"external_updated_at"`
}

// cpoTokenInput is the token the session was authorized with (mod_cdrs →
// CdrToken).
type cpoTokenInput struct {
	CountryCode string `json:"country_code"`
	PartyID     string `json:"party_id"`
	UID         string `json:"uid"`
	Type        string `json:"type"`
	ContractID  string `json:"contract_id"`
}

// cpoPeriodInput is a charging period (mod_cdrs → ChargingPeriod).
type cpoPeriodInput struct {
	StartDateTime *time.Time          `json:"start_date_time"`
	Dimensions    []cpoDimensionInput `json:"dimensions"`
	TariffID      *string             `json:"tariff_id"`
}

// cpoDimensionInput is one value of a charging period (mod_cdrs → CdrDimension).
type cpoDimensionInput struct {
	Type   string   `json:"type"`
	Volume *Decimal `json:"volume"`
}

// cpoPriceInput is an amount the system provides (types → Price).
type cpoPriceInput struct {
	ExclVAT *Decimal `json:"excl_vat"`
	InclVAT *Decimal `json:"incl_vat"`
}

// cdrDimensions are the CdrDimensionType values (mod_cdrs).
var cdrDimensions = map[string]bool{"CURRENT": true, "ENERGY": true, "ENERGY_EXPORT": true, "ENERGY_IMPORT": true, "MAX_CURRENT": true,
	"MIN_CURRENT": true, "MAX_POWER": true, "MIN_POWER": true, "PARKING_TIME": true, "POWER": true, "RESERVATION_TIME": true,
	"STATE_OF_CHARGE": true, "TIME": true}

// hoursPerNano converts a duration to hours.
var hoursPerNano = decimal.NewFromInt(int64(time.Hour))

// readCPOReport decodes and validates a report, collecting every problem
// with its field path (003 → error responses). Basic checks only: a
// plausible but wrong session (end before start, too much energy) is the
// pipeline's validity checks' to judge and drop out, not refused here.
func readCPOReport(c *fiber.Ctx, rq *request) (db.CPOSessionReport, error) {
	b, err := parseBody(c.Body())
	if err != nil {
		return db.CPOSessionReport{}, err
	}
	var in cpoSessionInput
	if unknown := unknownFields(b, jsonNames(in)); len(unknown) > 0 {
		c.Set("X-RN-Unknown-Fields", strings.Join(unknown, ","))
	}
	if err := decodeInto(b, &in); err != nil {
		return db.CPOSessionReport{}, err
	}
	var fs fault.Fields
	ciString := func(path, v string, max int, required bool) {
		switch {
		case v == "" && required:
			fs.Add(path, "is required")
		case len(v) > max || !ocpi.IsCiString(v):
			fs.Add(path, "must be at most %d printable ASCII characters (CiString(%d))", max, max)
		}
	}
	nonNegative := func(path string, d *Decimal, required bool) {
		switch {
		case d == nil && required:
			fs.Add(path, "is required")
		case d != nil && d.IsNegative():
			fs.Add(path, "must not be negative")
		}
	}
	ciString("session_id", in.SessionID, 36, true)
	if !ocpi.IsSessionStatus(in.Status) {
		fs.Add("status", "must be one of ACTIVE, COMPLETED, INVALID, PENDING, RESERVATION")
	}
	ended := in.Status == ocpi.SessionCompleted
	if in.StartDateTime == nil {
		fs.Add("start_date_time", "is required")
	}
	if ended && in.EndDateTime == nil {
		fs.Add("end_date_time", "is required when the status is COMPLETED")
	}
	nonNegative("kwh", in.Kwh, true)
	if in.Token == nil {
		fs.Add("token", "is required: country_code, party_id, uid, type, contract_id of the token used")
	} else {
		t := in.Token
		for _, p := range []*string{&t.CountryCode, &t.PartyID, &t.UID, &t.Type, &t.ContractID} {
			*p = strings.TrimSpace(*p)
		}
		if !ocpi.IsCountryCode(t.CountryCode) {
			fs.Add("token.country_code", "must be an ISO 3166-1 alpha-2 country code (the eMSP that owns the token)")
		}
		if !ocpi.IsPartyID(t.PartyID) {
			fs.Add("token.party_id", "must be a 3-character party id (the eMSP that owns the token)")
		}
		ciString("token.uid", t.UID, 36, true)
		ciString("token.type", t.Type, 255, true)
		ciString("token.contract_id", t.ContractID, 36, true)
	}
	switch ocpi.AuthMethod(in.AuthMethod) {
	case ocpi.AuthMethodAuthRequest, ocpi.AuthMethodCommand, ocpi.AuthMethodWhitelist:
	default:
		fs.Add("auth_method", "must be one of AUTH_REQUEST, COMMAND, WHITELIST")
	}
	if in.AuthorizationReference != nil {
		ciString("authorization_reference", *in.AuthorizationReference, 36, false)
	}
	ciString("location_id", in.LocationID, 36, true)
	ciString("evse_uid", in.EvseUID, 36, true)
	ciString("connector_id", in.ConnectorID, 36, true)
	if in.MeterID != nil && len(*in.MeterID) > 255 {
		fs.Add("meter_id", "must be at most 255 characters")
	}
	if !iso.Currency(in.Currency) {
		fs.Add("currency", "must be an ISO 4217 currency code such as EUR")
	}
	if ended && len(in.ChargePeriods) == 0 {
		fs.Add("charge_periods", "at least one charge period is required when the status is COMPLETED (mod_cdrs: a CDR has charging periods)")
	}
	periods := make([]ocpi.ChargingPeriod, len(in.ChargePeriods))
	for i, p := range in.ChargePeriods {
		path := fmt.Sprintf("charge_periods[%d]", i)
		if p.StartDateTime == nil {
			fs.Add(path+".start_date_time", "is required")
		} else {
			periods[i].StartDateTime = ocpi.NewDateTime(*p.StartDateTime)
			if i > 0 && in.ChargePeriods[i-1].StartDateTime != nil && p.StartDateTime.Before(*in.ChargePeriods[i-1].StartDateTime) {
				fs.Add(path+".start_date_time", "must not be before the previous period's (periods are in chronological order)")
			}
		}
		if len(p.Dimensions) == 0 {
			fs.Add(path+".dimensions", "at least one dimension is required")
		}
		for j, d := range p.Dimensions {
			dp := fmt.Sprintf("%s.dimensions[%d]", path, j)
			if !cdrDimensions[d.Type] {
				fs.Add(dp+".type", "must be a CdrDimensionType such as ENERGY, TIME, PARKING_TIME")
			}
			nonNegative(dp+".volume", d.Volume, true)
			if d.Volume != nil {
				periods[i].Dimensions = append(periods[i].Dimensions, ocpi.CdrDimension{Type: ocpi.CdrDimensionType(d.Type), Volume: ocpi.NewNumber(d.Volume.Decimal)})
			}
		}
		if p.TariffID != nil {
			tid := strings.TrimSpace(*p.TariffID)
			ciString(path+".tariff_id", tid, 36, false)
			periods[i].TariffID = tid
		}
	}
	var cost *ocpi.Price
	if in.TotalCost != nil {
		nonNegative("total_cost.excl_vat", in.TotalCost.ExclVAT, true)
		nonNegative("total_cost.incl_vat", in.TotalCost.InclVAT, false)
		if in.TotalCost.ExclVAT != nil {
			cost = &ocpi.Price{ExclVAT: ocpi.NewNumber(in.TotalCost.ExclVAT.Decimal), InclVAT: ocpi.NumberPtr(decPtr(in.TotalCost.InclVAT))}
		}
	}
	nonNegative("total_energy", in.TotalEnergy, false)
	nonNegative("total_time", in.TotalTime, false)
	nonNegative("total_parking_time", in.TotalParkingTime, false)
	nonNegative("reimbursement_amount_excl_vat", in.ReimbursementAmount, false)
	if !ended {
		for _, f := range []string{"total_energy", "total_time", "total_parking_time", "reimbursement_amount_excl_vat", "remark", "signed_data"} {
			if b.has(f) && !b.isNull(f) {
				fs.Add(f, "is only given when the session ended (status COMPLETED): it is a fact of the CDR")
			}
		}
	}
	if in.ExternalUpdatedAt != nil && in.ExternalUpdatedAt.After(time.Now().Add(staleFuture)) {
		fs.Add("external_updated_at", "must not be in the future")
	}
	var cc, pid string
	if err := fs.Err(); err != nil {
		return db.CPOSessionReport{}, err
	}
	cc, pid, err = reportParty(c.UserContext(), rq, in)
	if err != nil {
		return db.CPOSessionReport{}, err
	}
	t := in.Token
	s := ocpi.CPOSession{CountryCode: cc, PartyID: pid, ID: in.SessionID, StartDateTime: ocpi.NewDateTime(*in.StartDateTime),
		Kwh: ocpi.NewNumber(in.Kwh.Decimal), CdrToken: ocpi.CdrToken{CountryCode: strings.ToUpper(t.CountryCode), PartyID: strings.ToUpper(t.PartyID),
			UID: t.UID, Type: t.Type, ContractID: t.ContractID},
		AuthMethod: ocpi.AuthMethod(in.AuthMethod), AuthorizationReference: deref(in.AuthorizationReference), LocationID: in.LocationID,
		EvseUID: in.EvseUID, ConnectorID: in.ConnectorID, MeterID: deref(in.MeterID), Currency: in.Currency, ChargingPeriods: periods,
		TotalCost: cost, Status: in.Status}
	if len(periods) == 0 {
		s.ChargingPeriods = nil
	}
	if in.EndDateTime != nil {
		e := ocpi.NewDateTime(*in.EndDateTime)
		s.EndDateTime = &e
	}
	rep := db.CPOSessionReport{Session: s, ExternalReference: in.ExternalReference, ExternalUpdatedAt: in.ExternalUpdatedAt,
		Payload: append([]byte(nil), c.Body()...)}
	if ended {
		// total_energy defaults to kwh and total_time to the session's
		// duration (mod_cdrs → CDR: total_time "including time the EV is not
		// charging"); the system's own figures win when given.
		f := &db.CPOCDRFacts{TotalEnergy: in.Kwh.Decimal, TotalParkingTime: decPtr(in.TotalParkingTime), Remark: deref(in.Remark),
			SignedData: in.SignedData, CMSReimbursement: decPtr(in.ReimbursementAmount)}
		if in.TotalEnergy != nil {
			f.TotalEnergy = in.TotalEnergy.Decimal
		}
		f.TotalTime = decimal.NewFromInt(int64(in.EndDateTime.Sub(*in.StartDateTime))).DivRound(hoursPerNano, 6)
		if in.TotalTime != nil {
			f.TotalTime = in.TotalTime.Decimal
		}
		rep.CDR = f
	}
	return rep, nil
}

// reportParty is our CPO party that owns a reported session: the given
// country_code and party_id must name one of our CPO parties; without them
// the party of the session's location, else the node's only CPO party.
func reportParty(ctx context.Context, rq *request, in cpoSessionInput) (string, string, error) {
	parties, err := db.AllOwnParties(ctx, rq.api.pool)
	if err != nil {
		return "", "", err
	}
	var cpo []partner.OwnParty
	for _, p := range parties {
		if p.Role == partner.RoleCPO {
			cpo = append(cpo, p)
		}
	}
	if in.CountryCode != nil || in.PartyID != nil {
		for _, p := range cpo {
			if in.CountryCode != nil && in.PartyID != nil && strings.EqualFold(*in.CountryCode, p.CountryCode) && strings.EqualFold(*in.PartyID, p.PartyID) {
				return p.CountryCode, p.PartyID, nil
			}
		}
		return "", "", fault.Invalid("party_id", "country_code and party_id must together name one of this node's own CPO parties (own-party)")
	}
	if loc, err := db.CPOLocationByID(ctx, rq.api.pool, in.LocationID, "", false); err == nil {
		return loc.Location.CountryCode, loc.Location.PartyID, nil
	} else if !fault.Is(err, fault.KindNotFound) {
		return "", "", err
	}
	switch len(cpo) {
	case 1:
		return cpo[0].CountryCode, cpo[0].PartyID, nil
	case 0:
		return "", "", fault.Invalid("party_id", "this node has no own CPO party yet: create one with POST /main/v1/own-party")
	}
	return "", "", fault.Invalid("party_id", "the location is unknown and this node has several CPO parties: give country_code and party_id")
}

// cpoScope: reported sessions belong to no administration (our charge
// points are the node's), so only accounts that see every administration
// report or read them.
func cpoScope(rq *request) error {
	if !rq.account.AllAdministrations {
		return forbidden("CPO sessions belong to no administration; only an API account that sees all administrations reports or reads them")
	}
	return nil
}

// reportCPOSession is POST /cpo-charge-session: create-or-update by the
// session id (and our party). 201 when the session is new, 200 when it
// changed or the report is a repeat (idempotent: nothing is written
// twice), 204 with X-RN-Stale-Update when external_updated_at is older
// than the stored report's; 409 (cdr_issued) for a different report of a
// session whose CDR was issued. An ended session becomes a
// cpo-charge-session, handed to the pipeline after the commit.
func reportCPOSession(c *fiber.Ctx, rq *request) error {
	if err := cpoScope(rq); err != nil {
		return err
	}
	rep, err := readCPOReport(c, rq)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	res, err := db.ReportCPOSession(ctx, rq.api.pool, rep, time.Now())
	if f, ok := fault.As(err); ok && f.Code == "duplicate" && len(f.Fields) == 1 && f.Fields[0].Path == "id" {
		// A concurrent first report of the same session won the insert:
		// this one is then an update of it.
		res, err = db.ReportCPOSession(ctx, rq.api.pool, rep, time.Now())
	}
	if f, ok := fault.As(err); ok && f.Code == db.ErrCDRIssued {
		return &apiError{Status: fiber.StatusConflict, Code: f.Code, Message: f.Message}
	}
	if err != nil {
		return err
	}
	if len(res.Pushes) > 0 {
		rq.api.kick(context.WithoutCancel(ctx), res.Pushes...)
	}
	if res.Charge != nil {
		rq.api.wakeReprocessed(*res.Charge)
	}
	view := db.CPOSessionViewOf(res.Record)
	switch res.Outcome {
	case db.CPOReportStale:
		c.Set("X-RN-Stale-Update", "true")
		return c.SendStatus(fiber.StatusNoContent)
	case db.CPOReportCreated:
		return c.Status(fiber.StatusCreated).JSON(view)
	}
	raw, err := json.Marshal(view)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(withStale(raw, false))
}

// listCPOSessions is GET /cpo-charge-session-progress.
func listCPOSessions(c *fiber.Ctx, rq *request) error {
	if err := cpoScope(rq); err != nil {
		return err
	}
	return seekPage(c, rq, "/main/v1/cpo-charge-session-progress", "cpo_session", cpoProgressFilters,
		func(ctx context.Context, q url.Values, after uuid.UUID, limit int32) ([]db.CPOSessionRecord, error) {
			p := gen.ListCPOSessionsParams{After: after, Lim: limit, ExternalReference: filterString(q, "external_reference")}
			var err error
			if p.Status, err = filterChecked(q, "status", ocpi.IsSessionStatus, "one of ACTIVE, COMPLETED, INVALID, PENDING, RESERVATION"); err != nil {
				return nil, err
			}
			if v := filterString(q, "session_id"); v != nil {
				k := strings.ToUpper(*v)
				p.SessionKey = &k
			}
			if v := q.Get("finished"); v != "" {
				if v != "true" && v != "false" {
					return nil, badRequest("invalid_parameter", "invalid query parameter", field("finished", "must be true or false"))
				}
				f := v == "true"
				p.Finished = &f
			}
			return db.ListCPOSessions(ctx, rq.api.pool, p)
		},
		func(r db.CPOSessionRecord) uuid.UUID { return r.ID }, db.CPOSessionViewOf)
}

// getCPOSession is GET /cpo-charge-session-progress/{id}.
func getCPOSession(c *fiber.Ctx, rq *request) error {
	if err := cpoScope(rq); err != nil {
		return err
	}
	id, err := pathID(c)
	if err != nil {
		return err
	}
	r, err := db.CPOSessionByID(c.UserContext(), rq.api.pool, id)
	if err != nil {
		return err
	}
	return c.JSON(db.CPOSessionViewOf(r))
}
