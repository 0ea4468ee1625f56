package adminapi

import (
	"context"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/domain/session"
)

// Drop-out cases (guide 003 → Drop-outs): the sessions that failed a
// pipeline step, grouped by side, reason, CPO party and EVSE so that one
// fix resolves them together. GET /<side>-dropout-case lists them, GET
// /<side>-dropout-case/{id} shows one with its sessions, and POST
// /<side>-dropout-case/{id}/reprocess retries, bypasses a check for, or
// discards all its dropped-out sessions at once. A case is resolved when
// none of its sessions is dropped out any more; resolved cases are pruned
// after ROAMNODE_DROPOUT_RETENTION by the worker.

var dropoutCaseFilters = []string{"reason", "state", "evse", "party"}

// caseSessionsShown is how many sessions GET of a case embeds; the rest
// are a sessions_link away.
const caseSessionsShown = 100

// mountDropoutCases registers the drop-out case routes of both sides.
func (a *API) mountDropoutCases(v1 fiber.Router) {
	for _, side := range sessionSides {
		base := "/" + string(side) + "-dropout-case"
		v1.Get(base, a.handle(sessionFamily, access.Read, listDropoutCases(side)))
		v1.Get(base+"/:key", a.handle(sessionFamily, access.Read, getDropoutCase(side)))
		v1.Post(base+"/:key/reprocess", a.handle(sessionFamily, access.Write, reprocessDropoutCase(side)))
	}
}

// dropoutCaseView is a drop-out case as the API lists it (and as its
// events carry it: db.DropoutCaseView).
type dropoutCaseView = db.DropoutCaseView

func dropoutCaseViewOf(r db.DropoutCaseRecord) dropoutCaseView { return db.DropoutCaseViewOf(r) }

// dropoutCaseDetail is one case with (the first of) its sessions that the
// account may see.
type dropoutCaseDetail struct {
	dropoutCaseView
	Sessions     []db.ChargeSessionView `json:"sessions"`
	SessionsLink string                 `json:"sessions_link"`
}

// listDropoutCases is GET /<side>-dropout-case.
func listDropoutCases(side session.Side) handler {
	return func(c *fiber.Ctx, rq *request) error {
		return seekPage(c, rq, "/main/v1/"+string(side)+"-dropout-case", "dropout_case", dropoutCaseFilters,
			func(ctx context.Context, q url.Values, after uuid.UUID, limit int32) ([]db.DropoutCaseRecord, error) {
				p := gen.ListDropoutCasesParams{Side: string(side), After: after, Lim: limit, Reason: filterString(q, "reason")}
				p.AllAdmins, p.AdminIds = scopeArgs(rq.account)
				var err error
				if p.State, err = filterChecked(q, "state", func(v string) bool { return v == "open" || v == "resolved" }, "open or resolved"); err != nil {
					return nil, err
				}
				if v := filterString(q, "evse"); v != nil {
					k := db.EVSEFilterKey(*v)
					if k == "" {
						return nil, badRequest("invalid_parameter", "invalid query parameter", field("evse", "must contain letters or digits"))
					}
					p.EvseKey = &k
				}
				if v := q.Get("party"); v != "" {
					ref, ok := partner.ParsePartyRef(v)
					if !ok {
						return nil, badRequest("invalid_parameter", "invalid query parameter", field("party", "must be a country code and party id such as NL-TNM"))
					}
					cc, pid := strings.ToUpper(ref.CountryCode), strings.ToUpper(ref.PartyID)
					p.CountryCode, p.PartyID = &cc, &pid
				}
				return db.ListDropoutCases(ctx, rq.api.pool, p)
			},
			func(r db.DropoutCaseRecord) uuid.UUID { return r.ID }, dropoutCaseViewOf)
	}
}

// loadDropoutCase loads the case of a path for the account: another
// side's case does not exist here; a case none of whose sessions the
// account may see is forbidden.
func loadDropoutCase(c *fiber.Ctx, rq *request, side session.Side) (db.DropoutCaseRecord, error) {
	id, err := pathID(c)
	if err != nil {
		return db.DropoutCaseRecord{}, err
	}
	ctx := c.UserContext()
	rec, err := db.DropoutCase(ctx, rq.api.pool, id)
	if err == nil && rec.Side != string(side) {
		err = fault.NotFound("not_found", "%s drop-out case %s does not exist", side, id)
	}
	if err != nil || rq.account.AllAdministrations {
		return rec, err
	}
	admins, err := db.DropoutCaseAdmins(ctx, rq.api.pool, id)
	if err != nil {
		return rec, err
	}
	for _, a := range admins {
		if a != nil && rq.account.Sees(*a) {
			return rec, nil
		}
	}
	return rec, forbidden("the API account sees no session of this drop-out case")
}

// caseDetail renders a case with the sessions the account may see.
func caseDetail(ctx context.Context, rq *request, side session.Side, rec db.DropoutCaseRecord) (dropoutCaseDetail, error) {
	p := gen.ListChargeSessionsParams{Side: string(side), DropoutCaseID: &rec.ID, Lim: caseSessionsShown}
	p.AllAdmins, p.AdminIds = scopeArgs(rq.account)
	recs, err := db.ListChargeSessions(ctx, rq.api.pool, p)
	if err != nil {
		return dropoutCaseDetail{}, err
	}
	d := dropoutCaseDetail{dropoutCaseView: dropoutCaseViewOf(rec), Sessions: make([]db.ChargeSessionView, len(recs)),
		SessionsLink: "/main/v1/" + string(side) + "-charge-session?" + url.Values{"dropout_case_id": {rec.ID.String()}}.Encode()}
	for i, r := range recs {
		d.Sessions[i] = db.ChargeSessionViewOf(r)
	}
	return d, nil
}

// getDropoutCase is GET /<side>-dropout-case/{id}.
func getDropoutCase(side session.Side) handler {
	return func(c *fiber.Ctx, rq *request) error {
		rec, err := loadDropoutCase(c, rq, side)
		if err != nil {
			return err
		}
		d, err := caseDetail(c.UserContext(), rq, side, rec)
		if err != nil {
			return err
		}
		return c.JSON(d)
	}
}

// reprocessDropoutCase is POST /<side>-dropout-case/{id}/reprocess: the
// instruction applies to every dropped-out session of the case in one
// transaction; the account must see all of them (else 403, nothing
// changed). The answer is the case as it is afterwards.
func reprocessDropoutCase(side session.Side) handler {
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
		ctx := c.UserContext()
		recs, err := db.ReprocessDropoutCase(ctx, rq.api.pool, id, r)
		if err != nil {
			return asConflict(err)
		}
		rq.api.wakeReprocessed(recs...)
		rec, err := db.DropoutCase(ctx, rq.api.pool, id)
		if err != nil {
			return err
		}
		d, err := caseDetail(ctx, rq, side, rec)
		if err != nil {
			return err
		}
		return c.JSON(d)
	}
}
