package module

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// Sessions module, SENDER interface in the CPO role (mod_sessions → Sender
// Interface): partners GET the sessions at our charge points that their
// drivers' tokens started (paginated, filtered on last_updated), and may
// PUT charging preferences. Sessions are reported by our charge management
// system (POST /main/v1/cpo-charge-session) and pushed to the eMSP that
// owns the token (db.ReportCPOSession, rendered by SessionsRenderer). The
// CDRs sender is cdrs_cpo.go.

// maxOurSessionsPage is the X-Limit of our sessions and CDRs lists.
const maxOurSessionsPage = 100

// mountCPOSessions registers our Sessions and CDRs senders.
func (s *Server) mountCPOSessions(g fiber.Router) {
	g.Get("/2.2.1/cpo/sessions", s.modules(), s.listOurSessions)
	g.Put("/2.2.1/cpo/sessions/:session_id/charging_preferences", s.modules(), s.putChargingPreferences)
	g.Get("/2.2.1/cpo/cdrs", s.modules(), s.listOurCDRs)
}

// callerScope is what a sender request may see: the addressed CPO party
// of ours (OCPI-to routing headers) and the caller's parties (its roles,
// the parties behind it when it is a hub, narrowed to the OCPI-from party
// when it names one of them). Sessions and CDRs belong to the eMSP that
// owns their token, so a partner sees only those of its own parties.
func (s *Server) callerScope(c *fiber.Ctx) (db.PartyKey, []db.PartyKey, error) {
	own, err := s.ownParty(c, partner.RoleCPO)
	if err != nil {
		return db.PartyKey{}, nil, err
	}
	r, err := ocpi.RoutingFrom(c)
	if err != nil {
		return db.PartyKey{}, nil, err
	}
	parties, err := db.CallerParties(c.UserContext(), s.pool, callerOf(c).conn, r.FromCountry, r.FromParty)
	return db.PartyKey{CountryCode: own.CountryCode, PartyID: own.PartyID}, parties, err
}

// listOurSessions is GET /ocpi/2.2.1/cpo/sessions: the caller's sessions at
// the addressed party's charge points, oldest last_updated first
// (mod_sessions → Sender GET; transport_and_format → pagination).
func (s *Server) listOurSessions(c *fiber.Ctx) error {
	p, err := ocpi.ParsePage(c, maxOurSessionsPage)
	if err != nil {
		return err
	}
	own, parties, err := s.callerScope(c)
	if err != nil {
		return err
	}
	out, total, err := db.OCPISessions(c.UserContext(), s.pool, own, parties, timeOf(p.DateFrom), timeOf(p.DateTo), p.Offset, p.Limit)
	if err != nil {
		return err
	}
	return ocpi.WritePage(c, s.publicURL, p, total, out)
}

// putChargingPreferences is PUT
// /ocpi/2.2.1/cpo/sessions/{session_id}/charging_preferences (mod_sessions
// → Sender PUT). The node does not drive smart charging: preferences are
// never forwarded to a charge point. So an unknown session (or another
// eMSP's) and a session at an EVSE without CHARGING_PREFERENCES_CAPABLE are
// answered HTTP 404 with 2001 as the spec prescribes for the latter
// (ChargingPreferencesResponse enum), and a capable EVSE's session gets
// NOT_POSSIBLE ("a demand that the EVSE knows it cannot fulfill"), never a
// false ACCEPTED.
func (s *Server) putChargingPreferences(c *fiber.Ctx) error {
	id, err := ourIDParam(c, "session_id")
	if err != nil {
		return err
	}
	var prefs ocpi.ChargingPreferences
	if err := ocpi.Decode(c.Body(), &prefs); err != nil {
		return err
	}
	own, parties, err := s.callerScope(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	rec, err := db.CPOSessionByKey(ctx, s.pool, own.CountryCode, own.PartyID, id)
	if fault.Is(err, fault.KindNotFound) || (err == nil && !slices.Contains(parties, db.PartyKey{CountryCode: rec.Session.CdrToken.CountryCode,
		PartyID: rec.Session.CdrToken.PartyID})) {
		return ocpi.Fail(fiber.StatusNotFound, ocpi.StatusInvalidParams, "unknown session "+id)
	}
	if err != nil {
		return err
	}
	evse, err := db.CPOEVSEByUID(ctx, s.pool, rec.Session.EvseUID, "", false)
	if err != nil && !fault.Is(err, fault.KindNotFound) {
		return err
	}
	if err != nil || !slices.ContainsFunc(evse.EVSE.Capabilities, func(c string) bool { return strings.EqualFold(c, "CHARGING_PREFERENCES_CAPABLE") }) {
		return ocpi.Fail(fiber.StatusNotFound, ocpi.StatusInvalidParams,
			fmt.Sprintf("EVSE %s of session %s is not CHARGING_PREFERENCES_CAPABLE", rec.Session.EvseUID, id))
	}
	c.Status(fiber.StatusOK)
	return c.JSON(ocpi.Response{Data: ocpi.PreferencesNotPossible, StatusCode: ocpi.StatusSuccess,
		StatusMessage: "this node does not forward charging preferences to its charge points", Timestamp: ocpi.NewDateTime(time.Now())})
}

// SessionsRenderer renders pushes of our sessions (object
// "CC/PID/SESSION_ID", db.SessionPushObject) from the session as it is
// when sent: a PUT of the whole Session, or a PATCH of the changed fields
// with last_updated (mod_sessions → Receiver PUT and PATCH: "Any request
// to the PATCH method SHALL contain the last_updated field").
func SessionsRenderer(pool *pgxpool.Pool) roaming.Renderer {
	return func(ctx context.Context, item roaming.PushItem, _, _ string) (roaming.Request, error) {
		parts := strings.SplitN(item.Object, "/", 3)
		if len(parts) != 3 {
			return roaming.Request{}, fmt.Errorf("sessions push object %q", item.Object)
		}
		rec, err := db.CPOSessionByKey(ctx, pool, parts[0], parts[1], parts[2])
		if fault.Is(err, fault.KindNotFound) {
			return roaming.Request{Skip: true}, nil
		}
		if err != nil {
			return roaming.Request{}, err
		}
		path := parts[0] + "/" + parts[1] + "/" + url.PathEscape(rec.Session.ID)
		if item.Method != roaming.PushPatch {
			return roaming.Request{Method: roaming.PushPut, Path: path, Body: rec.Session}, nil
		}
		body, err := pick(rec.Session, append(item.Fields, "last_updated"))
		return roaming.Request{Method: roaming.PushPatch, Path: path, Body: body}, err
	}
}
