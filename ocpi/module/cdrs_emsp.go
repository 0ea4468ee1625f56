package module

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/ocpi"
)

// CDRs receiver (mod_cdrs → Receiver Interface), our eMSP role: partners'
// CPOs POST their CDRs; each becomes an MSP charge session in state
// received, and the worker takes it through the pipeline. A CDR is
// immutable: the same CDR posted again is answered as the first time (same
// Location) and stores nothing; a different CDR under a stored id is a
// 409 (mod_cdrs: "CDRs cannot be changed or replaced"; corrections are
// credit CDRs).

// cdrsPath is our CDRs receiver endpoint (DESIGN.md: /ocpi/2.2.1/emsp/<module>).
const cdrsPath = "/2.2.1/emsp/cdrs"

// MountCDRs registers the CDRs receiver on app, under the /ocpi group's
// middleware (which Mount registers first). queue hands new sessions to the
// worker; it may be nil or failing (Redis down): the sweeper then picks the
// sessions up from Postgres.
func (s *Server) MountCDRs(app *fiber.App, queue session.Queue) {
	r := cdrReceiver{s: s, queue: queue}
	app.Post("/ocpi"+cdrsPath, s.modules(), r.post)
	app.Get("/ocpi"+cdrsPath+"/:id", s.modules(), r.get)
}

type cdrReceiver struct {
	s     *Server
	queue session.Queue
}

// enqueueTimeout bounds the hand-off to Redis so that intake keeps its
// pace when Redis is slow or down.
const enqueueTimeout = 250 * time.Millisecond

// post is POST /ocpi/2.2.1/emsp/cdrs.
func (r cdrReceiver) post(c *fiber.Ctx) error {
	// The body is kept as received; fasthttp reuses its buffer.
	body := append([]byte(nil), c.Body()...)
	cdr, err := decodeCDR(body)
	if err != nil {
		return err
	}
	cl := callerOf(c)
	ctx := c.UserContext()
	party, err := db.Q(r.s.pool).PartyIDByRef(ctx, gen.PartyIDByRefParams{CountryCode: strings.ToUpper(cdr.CountryCode),
		PartyID: strings.ToUpper(cdr.PartyID), Role: "CPO"})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if err != nil || party.ConnectionID == nil || *party.ConnectionID != cl.conn.ID {
		return badRequest(fmt.Sprintf("country_code/party_id: %s-%s is not a CPO party of this connection", cdr.CountryCode, cdr.PartyID))
	}
	s := SessionOfCDR(cdr)
	s.PartnerID = &party.PartnerID
	connID := cl.conn.ID
	rec, created, err := db.ReceiveChargeSession(ctx, r.s.pool, db.Intake{Session: s, Channel: db.ChannelOCPIPush, Payload: body, ConnectionID: &connID})
	if f, ok := fault.As(err); ok && f.Kind == fault.KindInvalid {
		return badRequest("invalid or missing parameters: " + f.Error())
	}
	if err != nil {
		return err
	}
	if !created {
		same, err := r.sameAsStored(ctx, rec.ID, body)
		if err != nil {
			return err
		}
		if !same {
			return ocpi.Fail(fiber.StatusConflict, ocpi.StatusClientError, fmt.Sprintf(
				"CDR %s of %s-%s already exists with other content; CDRs cannot be replaced, send a credit CDR (mod_cdrs → Credit CDRs)",
				cdr.ID, rec.CountryCode, rec.PartyID))
		}
	} else if r.queue != nil {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enqueueTimeout)
		if err := r.queue.Enqueue(qctx, rec.ID, rec.State, rec.Attempts, time.Now()); err != nil {
			r.s.log.Warn("worker not woken for a charge session; it claims it on its next poll", "session_id", rec.ID, "err", err)
		}
		cancel()
	}
	c.Set(fiber.HeaderLocation, r.s.Base()+"/emsp/cdrs/"+rec.ID.String())
	return ocpi.Respond(c, fiber.StatusCreated, nil)
}

// sameAsStored reports whether body is the CDR stored for id (as JSON
// values: key order and number formatting do not matter).
func (r cdrReceiver) sameAsStored(ctx context.Context, id uuid.UUID, body []byte) (bool, error) {
	orig, err := db.ChargeSessionOriginal(ctx, r.s.pool, id)
	if err != nil {
		return false, err
	}
	var a, b any
	if json.Unmarshal([]byte(orig.Payload), &a) != nil || json.Unmarshal(body, &b) != nil {
		return false, nil
	}
	return reflect.DeepEqual(a, b), nil
}

// get is GET /ocpi/2.2.1/emsp/cdrs/{id}: the CDR exactly as the partner
// posted it, only to the connection that posted it (mod_cdrs → Receiver
// GET; an id of another partner is unknown to the caller).
func (r cdrReceiver) get(c *fiber.Ctx) error {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return ocpi.NotFound("no CDR " + c.Params("id"))
	}
	rec, err := db.ChargeSession(c.UserContext(), r.s.pool, id)
	if err != nil {
		if fault.Is(err, fault.KindNotFound) {
			return ocpi.NotFound("no CDR " + id.String())
		}
		return err
	}
	if rec.Side != session.MSP || rec.ConnectionID == nil || *rec.ConnectionID != callerOf(c).conn.ID {
		return ocpi.NotFound("no CDR " + id.String())
	}
	orig, err := db.ChargeSessionOriginal(c.UserContext(), r.s.pool, id)
	if err != nil {
		return err
	}
	return ocpi.OK(c, json.RawMessage(orig.Payload))
}

// badRequest is 2001 with HTTP 400: the CDRs receiver's interface
// documents 400 for requests it refuses (the official receiver interface
// lists 201, 400, 401 and 409 for POST).
func badRequest(msg string) *ocpi.Error {
	return ocpi.Fail(fiber.StatusBadRequest, ocpi.StatusInvalidParams, msg)
}

// decodeCDR decodes and checks a posted CDR: JSON types (ocpi.Decode),
// the party fields' formats, and the basic checks of the pipeline
// (session.Basic), each problem named by its field path.
func decodeCDR(body []byte) (ocpi.CDR, error) {
	var cdr ocpi.CDR
	if !utf8.Valid(body) {
		return cdr, badRequest("request body is not valid UTF-8")
	}
	if err := ocpi.Decode(body, &cdr); err != nil {
		var oe *ocpi.Error
		if errors.As(err, &oe) && oe.Code == ocpi.StatusInvalidParams {
			return cdr, badRequest(oe.Message)
		}
		return cdr, err
	}
	if ps := CDRProblems(cdr); len(ps) > 0 {
		msgs := make([]string, len(ps))
		for i, p := range ps {
			msgs[i] = p.String()
		}
		return cdr, badRequest("invalid or missing parameters: " + strings.Join(msgs, "; "))
	}
	return cdr, nil
}

// CDRProblems returns why a CDR cannot enter the pipeline: malformed party
// ids and the basic checks of session.Basic. Channels that cannot refuse a
// CDR (pull sync) store it as an invalid charge session with these.
func CDRProblems(cdr ocpi.CDR) []session.Problem {
	var ps []session.Problem
	if cdr.CountryCode != "" && !ocpi.IsCountryCode(cdr.CountryCode) {
		ps = append(ps, session.Problem{Field: "country_code", Reason: "must be a 2-letter ISO 3166 country code"})
	}
	if cdr.PartyID != "" && !ocpi.IsPartyID(cdr.PartyID) {
		ps = append(ps, session.Problem{Field: "party_id", Reason: "must be 3 letters or digits (ISO 15118 party id)"})
	}
	if len(cdr.ID) > 39 {
		ps = append(ps, session.Problem{Field: "id", Reason: "must be at most 39 characters"})
	}
	return append(ps, session.Basic(SessionOfCDR(cdr))...)
}

// SessionOfCDR maps a CDR onto the facts of an MSP charge session.
func SessionOfCDR(cdr ocpi.CDR) session.ChargeSession {
	s := session.ChargeSession{Side: session.MSP, CountryCode: cdr.CountryCode, PartyID: cdr.PartyID, CdrID: cdr.ID,
		SessionID: cdr.SessionID, Start: cdr.StartDateTime.Time, End: cdr.EndDateTime.Time,
		Token: session.Token{CountryCode: cdr.CdrToken.CountryCode, PartyID: cdr.CdrToken.PartyID, UID: cdr.CdrToken.UID,
			Type: cdr.CdrToken.Type, ContractID: cdr.CdrToken.ContractID},
		Location: session.Place{LocationID: cdr.CdrLocation.ID, EvseUID: cdr.CdrLocation.EvseUID, EvseID: cdr.CdrLocation.EvseID,
			ConnectorID: cdr.CdrLocation.ConnectorID, PowerType: cdr.CdrLocation.ConnectorPowerType, Country: cdr.CdrLocation.Country},
		Currency: cdr.Currency, TotalEnergy: cdr.TotalEnergy.Decimal, TotalTime: cdr.TotalTime.Decimal,
		CreditReferenceID: cdr.CreditReferenceID, AuthorizationReference: cdr.AuthorizationReference}
	if p := cdr.TotalParkingTime.Dec(); p != nil {
		s.TotalParkingTime = *p
	}
	if cdr.Credit != nil {
		s.Credit = *cdr.Credit
	}
	return s
}
