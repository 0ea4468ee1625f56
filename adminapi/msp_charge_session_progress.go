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
	"github.com/roamnode/roamnode/domain/session"
)

// msp-charge-session-progress (issue 5, read models: "for ongoing sessions
// (status, energy, last update)"): the latest report of each session that
// partners' CPOs run for our drivers, as received by the OCPI Sessions
// receiver or pulled from their Sessions senders (db.PartnerSessionView).
// Read-only; every accepted report emits an outbox event of this kind whose
// data is the record as GET renders it, last_change saying what changed
// (started, updated, stopped, meter). Guarded by the charge-session
// permission family and scoped like charge sessions: a session belongs to
// the administration of our token it runs on; one whose token is not ours
// (yet) only to accounts that see all administrations.

var progressFilters = []string{"partner_id", "evse", "token_uid", "status", "ongoing", "start_gte", "start_lt"}

// mountChargeSessionProgress registers the read model's routes.
func (a *API) mountChargeSessionProgress(v1 fiber.Router) {
	base := "/msp-charge-session-progress"
	v1.Get(base, a.handle(sessionFamily, access.Read, listChargeSessionProgress))
	v1.Get(base+"/:key", a.handle(sessionFamily, access.Read, getChargeSessionProgress))
}

// progressListParams reads the filters: partner, EVSE uid and token uid
// (both case-insensitive), OCPI status, ongoing (status not final) and the
// start period [start_gte, start_lt).
func progressListParams(acct access.Account, q url.Values) (gen.ListPartnerSessionsParams, error) {
	var p gen.ListPartnerSessionsParams
	p.AllAdmins, p.AdminIds = scopeArgs(acct)
	var err error
	if p.PartnerID, err = filterUUID(q, "partner_id"); err != nil {
		return p, err
	}
	if v := filterString(q, "evse"); v != nil {
		k := strings.ToUpper(*v)
		p.EvseKey = &k
	}
	if v := filterString(q, "token_uid"); v != nil {
		k := strings.ToUpper(*v)
		p.TokenUidKey = &k
	}
	names := make([]string, len(session.ProgressStatuses))
	for i, s := range session.ProgressStatuses {
		names[i] = string(s)
	}
	if p.Status, err = filterChecked(q, "status", func(s string) bool { return session.ProgressStatus(s).Valid() },
		"one of "+strings.Join(names, ", ")); err != nil {
		return p, err
	}
	if p.Ongoing, err = filterBool(q, "ongoing"); err != nil {
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

// listChargeSessionProgress is GET /msp-charge-session-progress.
func listChargeSessionProgress(c *fiber.Ctx, rq *request) error {
	return seekPage(c, rq, "/main/v1/msp-charge-session-progress", "partner_session", progressFilters,
		func(ctx context.Context, q url.Values, after uuid.UUID, limit int32) ([]db.PartnerSessionRecord, error) {
			p, err := progressListParams(rq.account, q)
			if err != nil {
				return nil, err
			}
			p.After, p.Lim = after, limit
			return db.ListPartnerSessions(ctx, rq.api.pool, p)
		},
		func(r db.PartnerSessionRecord) uuid.UUID { return r.ID }, db.PartnerSessionViewOf)
}

// getChargeSessionProgress is GET /msp-charge-session-progress/{id}.
func getChargeSessionProgress(c *fiber.Ctx, rq *request) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	rec, err := db.PartnerSession(c.UserContext(), rq.api.pool, id)
	if err != nil {
		return err
	}
	if !seesAdmin(rq.account, rec.AdministrationID) {
		return forbidden("the API account has no access to the administration of this session")
	}
	return c.JSON(db.PartnerSessionViewOf(rec))
}
