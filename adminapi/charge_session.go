package adminapi

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/session"
)

// Charge sessions (issue 5; guide 003 → Charge Sessions, Drop-outs, Charge
// Point Operators → Charge sessions), read-only except for reprocessing:
// the processed sessions of each side (msp-charge-session: partners' CDRs
// for our drivers; cpo-charge-session: sessions at our own charge points),
// the payload as received (…-charge-session-original), reprocessing of a
// dropped-out session, and the CDRs kept as invalid charge sessions.
// Drop-out cases are in dropout_case.go, threshold overrides in
// session_threshold.go. The "charge-session" permission family guards
// them all.

// sessionFamily is the permission family of the charge-session resources.
const sessionFamily = "charge-session"

// sessionSides are the two sides, each with its own set of routes.
var sessionSides = []session.Side{session.MSP, session.CPO}

var chargeSessionFilters = []string{"partner_id", "evse", "token_uid", "state", "start_gte", "start_lt", "dropout_case_id", "authorization_reference"}

var invalidSessionFilters = []string{"partner_id", "resolved"}

// mountChargeSessions registers the charge-session routes of both sides.
func (a *API) mountChargeSessions(v1 fiber.Router) {
	for _, side := range sessionSides {
		base := "/" + string(side) + "-charge-session"
		v1.Get(base, a.handle(sessionFamily, access.Read, listChargeSessions(side)))
		v1.Get(base+"/:key", a.handle(sessionFamily, access.Read, getChargeSession(side)))
		v1.Post(base+"/:key/reprocess", a.handle(sessionFamily, access.Write, reprocessChargeSession(side)))
		v1.Get(base+"-original/:key", a.handle(sessionFamily, access.Read, getChargeSessionOriginal(side)))
		inv := "/" + string(side) + "-invalid-charge-session"
		v1.Get(inv, a.handle(sessionFamily, access.Read, listInvalidChargeSessions(side)))
		v1.Get(inv+"/:key", a.handle(sessionFamily, access.Read, getInvalidChargeSession(side)))
	}
	a.mountDropoutCases(v1)
	a.mountSessionThresholds(v1)
}

// seesAdmin reports whether the account may see a record of admin. A
// session not attributed to an administration yet (its token or location
// is still unknown) belongs to nobody in particular: only accounts that
// see every administration see it.
func seesAdmin(acct access.Account, admin *uuid.UUID) bool {
	if admin == nil {
		return acct.AllAdministrations
	}
	return acct.Sees(*admin)
}

// scopeArgs are the scoping arguments of the list queries.
func scopeArgs(acct access.Account) (*bool, []uuid.UUID) {
	all := acct.AllAdministrations
	return &all, acct.AdministrationIDs
}

// seekPage serves a seek-paginated list (page.go's conventions): it parses
// the page, answers created_gt with the link to the first page created
// after it, refuses an after that names no row of table, and renders the
// rows fetch returns with the next link.
func seekPage[R, V any](c *fiber.Ctx, rq *request, path, table string, filters []string,
	fetch func(ctx context.Context, q url.Values, after uuid.UUID, limit int32) ([]R, error), id func(R) uuid.UUID, view func(R) V) error {
	q, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return badRequest("invalid_parameter", "the query string is malformed")
	}
	p, err := parsePage(q, filters)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	if p.CreatedGT != nil {
		first, err := fetch(ctx, url.Values{}, v7Ceiling(*p.CreatedGT), 1)
		if err != nil {
			return err
		}
		if len(first) == 0 {
			return badRequest("no_items", "no items were created after created_gt", field("created_gt", "no item was created after this moment"))
		}
		prev, err := db.PrevID(ctx, rq.api.pool, table, id(first[0]))
		if err != nil {
			return err
		}
		link := nextLink(path, url.Values{}, prev)
		c.Set("Link", "<"+link+`>; rel="next"`)
		return c.JSON(listBody[V]{Items: []V{}, PageSize: defaultPageSize, LinkNext: link})
	}
	if p.After != nil && !rq.api.known.has(table, *p.After) {
		ok, err := db.Exists(ctx, rq.api.pool, table, *p.After)
		if err != nil {
			return err
		}
		if !ok {
			return badRequest("invalid_parameter", "invalid query parameter", field("after", "no item has this id"))
		}
		rq.api.known.add(table, *p.After)
	}
	rows, err := fetch(ctx, q, seek(p.After), p.Size)
	if err != nil {
		return err
	}
	out := listBody[V]{Items: make([]V, len(rows)), PageSize: p.Size}
	ids := make([]uuid.UUID, len(rows))
	last := p.After
	for i, r := range rows {
		out.Items[i] = view(r)
		ids[i] = id(r)
		last = &ids[i]
	}
	rq.api.known.addAll(table, ids)
	if last != nil {
		out.LinkNext = nextLink(path, q, last)
		c.Set("Link", "<"+out.LinkNext+`>; rel="next"`)
	}
	return c.JSON(out)
}

// sessionListParams reads the charge-session filters.
func sessionListParams(side session.Side, acct access.Account, q url.Values) (gen.ListChargeSessionsParams, error) {
	p := gen.ListChargeSessionsParams{Side: string(side)}
	p.AllAdmins, p.AdminIds = scopeArgs(acct)
	var err error
	if p.PartnerID, err = filterUUID(q, "partner_id"); err != nil {
		return p, err
	}
	if p.DropoutCaseID, err = filterUUID(q, "dropout_case_id"); err != nil {
		return p, err
	}
	if v := filterString(q, "evse"); v != nil {
		k := db.EVSEFilterKey(*v)
		if k == "" {
			return p, badRequest("invalid_parameter", "invalid query parameter", field("evse", "must contain letters or digits"))
		}
		p.EvseKey = &k
	}
	if v := filterString(q, "token_uid"); v != nil {
		k := strings.ToUpper(*v)
		p.TokenUidKey = &k
	}
	if p.State, err = filterChecked(q, "state", validState, "one of "+strings.Join(stateNames(), ", ")); err != nil {
		return p, err
	}
	if p.StartGte, err = filterTime(q, "start_gte"); err != nil {
		return p, err
	}
	if p.StartLt, err = filterTime(q, "start_lt"); err != nil {
		return p, err
	}
	return p, nil
}

var allStates = []session.State{session.Received, session.Matching, session.Validating, session.DroppedOut, session.ReadyForPricing, session.Priced, session.Discarded}

func validState(s string) bool {
	for _, st := range allStates {
		if string(st) == s {
			return true
		}
	}
	return false
}

func stateNames() []string {
	out := make([]string, len(allStates))
	for i, s := range allStates {
		out[i] = string(s)
	}
	return out
}

// listChargeSessions is GET /<side>-charge-session.
func listChargeSessions(side session.Side) handler {
	return func(c *fiber.Ctx, rq *request) error {
		return seekPage(c, rq, "/main/v1/"+string(side)+"-charge-session", "charge_session", chargeSessionFilters,
			func(ctx context.Context, q url.Values, after uuid.UUID, limit int32) ([]db.ChargeSessionRecord, error) {
				p, err := sessionListParams(side, rq.account, q)
				if err != nil {
					return nil, err
				}
				p.After, p.Lim = after, limit
				if ref := filterString(q, "authorization_reference"); ref != nil {
					return db.ListChargeSessionsByAuthorizationReference(ctx, rq.api.pool, p, *ref)
				}
				return db.ListChargeSessions(ctx, rq.api.pool, p)
			},
			func(r db.ChargeSessionRecord) uuid.UUID { return r.ID }, db.ChargeSessionViewOf)
	}
}

// loadSession loads the session of a path for the account: another side's
// session does not exist here; another administration's is forbidden.
func loadSession(c *fiber.Ctx, rq *request, side session.Side) (db.ChargeSessionRecord, error) {
	id, err := pathID(c)
	if err != nil {
		return db.ChargeSessionRecord{}, err
	}
	rec, err := db.ChargeSession(c.UserContext(), rq.api.pool, id)
	if err == nil && rec.Side != side {
		err = fault.NotFound("not_found", "%s charge session %s does not exist", side, id)
	}
	if err != nil {
		return rec, err
	}
	if !seesAdmin(rq.account, rec.AdministrationID) {
		return rec, forbidden("the API account has no access to the administration of this charge session")
	}
	return rec, nil
}

// pathID reads the {id} of a record that has no external reference.
func pathID(c *fiber.Ctx) (uuid.UUID, error) {
	id, err := parseID(c.Params("key"))
	if err != nil {
		return id, badRequest("invalid_parameter", "invalid path parameter", field("id", "must be a UUID"))
	}
	return id, nil
}

// getChargeSession is GET /<side>-charge-session/{id}.
func getChargeSession(side session.Side) handler {
	return func(c *fiber.Ctx, rq *request) error {
		rec, err := loadSession(c, rq, side)
		if err != nil {
			return err
		}
		return c.JSON(db.ChargeSessionViewOf(rec))
	}
}

// chargeSessionOriginalView is a session's payload exactly as received
// (a string, so that nothing — key order, number formatting — changes).
type chargeSessionOriginalView struct {
	SessionID  uuid.UUID `json:"session_id"`
	Channel    string    `json:"channel"`
	ReceivedAt time.Time `json:"received_at"`
	Payload    string    `json:"payload"`
}

// getChargeSessionOriginal is GET /<side>-charge-session-original/{id}.
func getChargeSessionOriginal(side session.Side) handler {
	return func(c *fiber.Ctx, rq *request) error {
		rec, err := loadSession(c, rq, side)
		if err != nil {
			return err
		}
		o, err := db.ChargeSessionOriginal(c.UserContext(), rq.api.pool, rec.ID)
		if err != nil {
			return err
		}
		return c.JSON(chargeSessionOriginalView{SessionID: o.SessionID, Channel: o.Channel, ReceivedAt: o.ReceivedAt.UTC(), Payload: o.Payload})
	}
}

// reprocessInput is the body of the reprocess actions.
type reprocessInput struct {
	Instruction string  `json:"instruction"`
	Check       *string `json:"check"`
}

// readReprocess decodes and validates a reprocess body: every problem is
// reported with its field path at once.
func readReprocess(c *fiber.Ctx) (db.Reprocessing, error) {
	b, err := parseBody(c.Body())
	if err != nil {
		return db.Reprocessing{}, err
	}
	var in reprocessInput
	if err := decodeInto(b, &in); err != nil {
		return db.Reprocessing{}, err
	}
	if unknown := unknownFields(b, jsonNames(in)); len(unknown) > 0 {
		c.Set("X-RN-Unknown-Fields", strings.Join(unknown, ","))
	}
	r := db.Reprocessing{Instruction: session.Instruction(in.Instruction)}
	var fs fault.Fields
	switch r.Instruction {
	case session.Retry, session.Discard:
		if in.Check != nil {
			fs.Add("check", "is only given with the instruction bypass")
		}
	case session.Bypass:
		names := make([]string, len(session.Checks))
		for i, k := range session.Checks {
			names[i] = string(k)
		}
		switch {
		case in.Check == nil:
			fs.Add("check", "is required with the instruction bypass: one of %s", strings.Join(names, ", "))
		case !session.Check(*in.Check).Valid():
			fs.Add("check", "%q is not a validity check: one of %s", *in.Check, strings.Join(names, ", "))
		default:
			r.Check = session.Check(*in.Check)
		}
	case "":
		fs.Add("instruction", "is required: retry, bypass or discard")
	default:
		fs.Add("instruction", "%q is not retry, bypass or discard", in.Instruction)
	}
	return r, fs.Err()
}

// asConflict turns "this is not dropped out" into a 409: the request was
// fine, the record's state does not allow it.
func asConflict(err error) error {
	if f, ok := fault.As(err); ok && f.Kind == fault.KindConflict && f.Code == "not_dropped_out" {
		return &apiError{Status: fiber.StatusConflict, Code: f.Code, Message: f.Message}
	}
	return err
}

// wakeReprocessed wakes the worker for the sessions a reprocess sent back
// to received, after the commit. They are due in Postgres, where the
// worker claims them; a lost wake-up (Redis down) costs its idle poll.
func (a *API) wakeReprocessed(recs ...db.ChargeSessionRecord) {
	if a.sessions != nil && slices.ContainsFunc(recs, func(r db.ChargeSessionRecord) bool { return r.State.Pending() }) {
		a.sessions.Wake()
	}
}

// reprocessChargeSession is POST /<side>-charge-session/{id}/reprocess.
func reprocessChargeSession(side session.Side) handler {
	return func(c *fiber.Ctx, rq *request) error {
		id, err := pathID(c)
		if err != nil {
			return err
		}
		r, err := readReprocess(c)
		if err != nil {
			return err
		}
		r.Side = side
		r.Visible = func(admin *uuid.UUID) bool { return seesAdmin(rq.account, admin) }
		rec, err := db.ReprocessSession(c.UserContext(), rq.api.pool, id, r)
		if err != nil {
			return asConflict(err)
		}
		rq.api.wakeReprocessed(rec)
		return c.JSON(db.ChargeSessionViewOf(rec))
	}
}

// invalidProblemView is one reason an invalid charge session was refused.
type invalidProblemView struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// invalidSessionView is an invalid charge session as the API returns it.
type invalidSessionView struct {
	ID                  uuid.UUID            `json:"id"`
	Side                string               `json:"side"`
	Channel             string               `json:"channel"`
	ConnectionID        *uuid.UUID           `json:"connection_id"`
	PartnerID           *uuid.UUID           `json:"partner_id"`
	CountryCode         *string              `json:"country_code"`
	PartyID             *string              `json:"party_id"`
	CdrID               *string              `json:"cdr_id"`
	Problems            []invalidProblemView `json:"problems"`
	Payload             string               `json:"payload"`
	ReceivedAt          time.Time            `json:"received_at"`
	ResolvedAt          *time.Time           `json:"resolved_at"`
	ResolvedBySessionID *uuid.UUID           `json:"resolved_by_session_id"`
}

func invalidSessionViewOf(r gen.InvalidChargeSession) invalidSessionView {
	v := invalidSessionView{ID: r.ID, Side: r.Side, Channel: r.Channel, ConnectionID: r.ConnectionID, PartnerID: r.PartnerID,
		CountryCode: r.CountryCode, PartyID: r.PartyID, CdrID: r.CdrID, Problems: []invalidProblemView{}, Payload: r.Payload,
		ReceivedAt: r.ReceivedAt.UTC(), ResolvedAt: utcPtr(r.ResolvedAt), ResolvedBySessionID: r.ResolvedBySessionID}
	_ = json.Unmarshal(r.Problems, &v.Problems) // written by db.StoreInvalidChargeSession in this shape
	return v
}

// invalidScope: an invalid charge session was never attributed to an
// administration, so only accounts that see every administration see it.
func invalidScope(rq *request) error {
	if !rq.account.AllAdministrations {
		return forbidden("invalid charge sessions belong to no administration; only an API account that sees all administrations sees them")
	}
	return nil
}

// listInvalidChargeSessions is GET /<side>-invalid-charge-session.
func listInvalidChargeSessions(side session.Side) handler {
	return func(c *fiber.Ctx, rq *request) error {
		if err := invalidScope(rq); err != nil {
			return err
		}
		return seekPage(c, rq, "/main/v1/"+string(side)+"-invalid-charge-session", "invalid_charge_session", invalidSessionFilters,
			func(ctx context.Context, q url.Values, after uuid.UUID, limit int32) ([]gen.InvalidChargeSession, error) {
				p := gen.ListInvalidChargeSessionsParams{Side: string(side), After: after, Lim: limit}
				var err error
				if p.PartnerID, err = filterUUID(q, "partner_id"); err != nil {
					return nil, err
				}
				if v := q.Get("resolved"); v != "" {
					b, err := strconv.ParseBool(v)
					if err != nil {
						return nil, badRequest("invalid_parameter", "invalid query parameter", field("resolved", "must be true or false"))
					}
					p.Resolved = &b
				}
				return db.ListInvalidChargeSessions(ctx, rq.api.pool, p)
			},
			func(r gen.InvalidChargeSession) uuid.UUID { return r.ID }, invalidSessionViewOf)
	}
}

// getInvalidChargeSession is GET /<side>-invalid-charge-session/{id}.
func getInvalidChargeSession(side session.Side) handler {
	return func(c *fiber.Ctx, rq *request) error {
		if err := invalidScope(rq); err != nil {
			return err
		}
		id, err := pathID(c)
		if err != nil {
			return err
		}
		r, err := db.InvalidChargeSession(c.UserContext(), rq.api.pool, id)
		if err == nil && r.Side != string(side) {
			err = fault.NotFound("not_found", "%s invalid charge session %s does not exist", side, id)
		}
		if err != nil {
			return err
		}
		return c.JSON(invalidSessionViewOf(r))
	}
}
