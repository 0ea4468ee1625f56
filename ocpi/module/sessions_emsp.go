package module

import (
	"errors"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
)

// Sessions module, Receiver interface (we are the eMSP; mod_sessions →
// Receiver Interface): partners' CPOs PUT a new or updated Session, PATCH
// the parts that changed, and may GET it back to validate it. Sessions are
// Client Owned Objects (transport_and_format → Client Owned Object Push):
// the country_code/party_id of the URL must be a CPO party of the calling
// connection and match the object. Every write follows last_updated
// ordering (session.AcceptsReport): an older PUT or PATCH is answered 1000
// and not applied. The latest report of each session is the Admin API read
// model msp-charge-session-progress (db.ApplyPartnerSession).

// sessionsPath is our Sessions receiver endpoint.
const sessionsPath = "/2.2.1/emsp/sessions"

// mountEMSPSessions registers the Sessions receiver.
func (s *Server) mountEMSPSessions(g fiber.Router) {
	p := sessionsPath + "/:country_code/:party_id/:session_id"
	g.Get(p, s.modules(), s.getPartnerSession)
	g.Put(p, s.modules(), s.putPartnerSession)
	g.Patch(p, s.modules(), s.patchPartnerSession)
}

// sessionRef is the URL of a session: its party, the party's roaming
// partner, and the session id.
type sessionRef struct {
	party     partner.PartyRef
	partnerID uuid.UUID
	id        string
}

// sessionRef reads and checks the URL: the party must be a CPO party of
// the calling connection (transport_and_format → Client Owned Object Push,
// Errors). Reads of another party's sessions are 404, as that section
// allows; a write is refused with 2001 naming the party (the official PUT
// and PATCH interfaces have no 404).
func (s *Server) sessionRef(c *fiber.Ctx, write bool) (sessionRef, error) {
	var r sessionRef
	ref, err := partyParams(c)
	if err != nil {
		return r, err
	}
	r.party = ref
	if r.id, err = idParam(c, "session_id"); err != nil {
		return r, err
	}
	row, err := db.Q(s.pool).PartyIDByRef(c.UserContext(), gen.PartyIDByRefParams{CountryCode: ref.CountryCode, PartyID: ref.PartyID,
		Role: string(partner.RoleCPO)})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return r, err
	}
	if err != nil || row.ConnectionID == nil || *row.ConnectionID != callerOf(c).conn.ID {
		msg := ref.String() + " is not a CPO party of this connection"
		if write {
			return r, ocpi.InvalidParam("country_code/party_id", msg)
		}
		return r, ocpi.NotFound(msg)
	}
	r.partnerID = row.PartnerID
	return r, nil
}

// sameSession refuses a Session whose party or id differs from its URL
// (mod_sessions → PUT: "This SHALL be the same value as the country_code
// in the Session object being pushed"; transport_and_format → Client Owned
// Object Push, Errors: 2001 for a different id).
func sameSession(sess ocpi.Session, r sessionRef) error {
	if !ocpi.EqualCI(sess.CountryCode, r.party.CountryCode) || !ocpi.EqualCI(sess.PartyID, r.party.PartyID) {
		return ocpi.InvalidParam("country_code/party_id", "must match the URL ("+r.party.String()+")")
	}
	return matchID("id", sess.ID, r.id)
}

// getPartnerSession is GET (Receiver): the Session as we hold it, so the
// CPO can validate it (mod_sessions → Receiver GET).
func (s *Server) getPartnerSession(c *fiber.Ctx) error {
	r, err := s.sessionRef(c, false)
	if err != nil {
		return err
	}
	rec, err := db.PartnerSessionByKey(c.UserContext(), s.pool, r.party.CountryCode, r.party.PartyID, r.id)
	if fault.Is(err, fault.KindNotFound) {
		return ocpi.NotFound("no session " + r.party.String() + "/" + r.id)
	}
	if err != nil {
		return err
	}
	return ocpi.OK(c, rec.Session)
}

// putPartnerSession is PUT (Receiver): a new Session, or one that replaces
// the stored one, charging periods included ("Any charging_periods from
// the existing object SHALL be replaced by the charging_periods from the
// newly received Session object").
func (s *Server) putPartnerSession(c *fiber.Ctx) error {
	r, err := s.sessionRef(c, true)
	if err != nil {
		return err
	}
	body := append([]byte(nil), c.Body()...)
	sess, err := ocpi.DecodeSession(body)
	if err != nil {
		return err
	}
	if err := sameSession(sess, r); err != nil {
		return err
	}
	return s.applySession(c, r, body, func(*ocpi.Session) (ocpi.Session, error) { return sess, nil })
}

// patchPartnerSession is PATCH (Receiver): the fields present replace the
// stored ones, last_updated is required, charging_periods are appended
// (ocpi.MergeSessionPatch), and the merged Session is validated as a
// whole. The merge runs under the session's row lock, so concurrent
// PATCHes each add their periods. A PATCH of a session we do not hold is
// refused with 2001: there is nothing to update (PUT it first).
func (s *Server) patchPartnerSession(c *fiber.Ctx) error {
	r, err := s.sessionRef(c, true)
	if err != nil {
		return err
	}
	body := append([]byte(nil), c.Body()...)
	return s.applySession(c, r, body, func(cur *ocpi.Session) (ocpi.Session, error) {
		if cur == nil {
			return ocpi.Session{}, ocpi.InvalidParam("session_id", "no session "+r.party.String()+"/"+r.id+
				" is known here; PUT the whole Session first (mod_sessions: PATCH updates an existing Session)")
		}
		m, err := ocpi.MergeSessionPatch(*cur, body)
		if err != nil {
			return m, err
		}
		return m, sameSession(m, r)
	})
}

// applySession stores a report and answers: 201 for a new session, 1000
// with a message when the stored report is newer, else 200.
func (s *Server) applySession(c *fiber.Ctx, r sessionRef, body []byte, build func(*ocpi.Session) (ocpi.Session, error)) error {
	connID, partnerID := callerOf(c).conn.ID, r.partnerID
	out, err := db.ApplyPartnerSession(c.UserContext(), s.pool, db.PartnerSessionReport{CountryCode: r.party.CountryCode,
		PartyID: r.party.PartyID, SessionID: r.id, ConnectionID: &connID, PartnerID: &partnerID, Channel: db.ChannelOCPIPush,
		Body: body, Build: build})
	if err != nil {
		return err
	}
	o := outcome{created: out.Created, what: "session"}
	if out.Stale {
		t := out.Record.Session.LastUpdated.Time
		o.stored = &t
	}
	return respond(c, o)
}
