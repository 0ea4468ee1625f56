package adminapi

import (
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/network"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/roaming"
)

// syncView is the state of one pull synchronisation (connection × module).
type syncView struct {
	ConnectionID         uuid.UUID  `json:"connection_id"`
	Module               string     `json:"module"`
	Status               string     `json:"status"`
	Mode                 *string    `json:"mode"`
	DateFrom             *time.Time `json:"date_from"`
	NextURL              *string    `json:"next_url"`
	RunStartedAt         *time.Time `json:"run_started_at"`
	HeartbeatAt          *time.Time `json:"heartbeat_at"`
	Pages                int32      `json:"pages"`
	Objects              int32      `json:"objects"`
	Ignored              int32      `json:"ignored"`
	Rejected             int32      `json:"rejected"`
	LastRejection        *string    `json:"last_rejection"`
	RequestedAt          *time.Time `json:"requested_at"`
	RequestedFull        bool       `json:"requested_full"`
	LastSuccessStartedAt *time.Time `json:"last_success_started_at"`
	LastFinishedAt       *time.Time `json:"last_finished_at"`
	LastError            *string    `json:"last_error"`
	UpdatedAt            time.Time  `json:"updated_at"`
}

func syncViewOf(s db.SyncState) syncView {
	return syncView{ConnectionID: s.ConnectionID, Module: s.Module, Status: s.Status, Mode: s.Mode, DateFrom: utcPtr(s.DateFrom),
		NextURL: s.NextUrl, RunStartedAt: utcPtr(s.RunStartedAt), HeartbeatAt: utcPtr(s.HeartbeatAt), Pages: s.Pages,
		Objects: s.Objects, Ignored: s.Ignored, Rejected: s.Rejected, LastRejection: s.LastRejection, RequestedAt: utcPtr(s.RequestedAt),
		RequestedFull: s.RequestedFull, LastSuccessStartedAt: utcPtr(s.LastSuccessStartedAt), LastFinishedAt: utcPtr(s.LastFinishedAt),
		LastError: s.LastError, UpdatedAt: s.UpdatedAt.UTC()}
}

type syncList struct {
	Items []syncView `json:"items"`
}

// syncConnection loads the connection of the path.
func syncConnection(c *fiber.Ctx, rq *request) (partner.Connection, error) {
	k, err := parseKey(c.Params("key"))
	if err != nil {
		return partner.Connection{}, err
	}
	return db.Connection(c.UserContext(), rq.api.pool, k.ID, k.Ref, false)
}

// syncStates is GET /roaming-connection/{id}/sync: the pull-sync state of
// each module of the connection (progress of a running sync, the last
// error, when the last successful one started).
func syncStates(c *fiber.Ctx, rq *request) error {
	conn, err := syncConnection(c, rq)
	if err != nil {
		return err
	}
	if len(c.Request().URI().QueryString()) > 0 {
		return badRequest("unknown_parameter", "unknown query parameter", field("query", "this endpoint takes no query parameters"))
	}
	states, err := db.Syncs(c.UserContext(), rq.api.pool, conn.ID)
	if err != nil {
		return err
	}
	out := syncList{Items: make([]syncView, len(states))}
	for i, s := range states {
		out.Items[i] = syncViewOf(s)
	}
	return c.JSON(out)
}

// requestSync is POST /roaming-connection/{id}/sync?module=locations|tariffs|sessions|cdrs
// [&full=true]: an on-demand pull sync, recorded in Postgres and started by
// the worker within seconds (202). Without module, every module the partner
// has a sender for. full=true starts from the first page without date_from
// (sessions and cdrs: from the pull's window), even after an interrupted
// run. Sessions and CDRs are pulled by roaming.SessionPuller on the same
// roaming_sync rows.
func requestSync(c *fiber.Ctx, rq *request) error {
	q, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return badRequest("invalid_parameter", "the query string is malformed")
	}
	for k := range q {
		if k != "module" && k != "full" {
			return badRequest("unknown_parameter", "unknown query parameter", field(k, "is not a parameter of this endpoint; known: module, full"))
		}
	}
	modules := append(append([]network.Module(nil), network.Modules...), roaming.SessionModules...)
	if v := q.Get("module"); v != "" {
		m := network.Module(v)
		if !m.Valid() && !roaming.IsSessionModule(m) {
			return badRequest("invalid_parameter", "invalid query parameter", field("module", "must be locations, tariffs, sessions or cdrs"))
		}
		modules = []network.Module{m}
	}
	full := false
	if v := q.Get("full"); v != "" {
		if full, err = strconv.ParseBool(v); err != nil {
			return badRequest("invalid_parameter", "invalid query parameter", field("full", "must be true or false"))
		}
	}
	conn, err := syncConnection(c, rq)
	if err != nil {
		return err
	}
	if conn.Status != partner.StatusRegistered {
		return badRequest("not_registered", "the connection is not registered; register it first", field("id", "connection status is "+string(conn.Status)))
	}
	out := syncList{}
	now := time.Now().UTC()
	for _, m := range modules {
		if _, ok := conn.Endpoint(string(m), "SENDER"); !ok {
			if len(modules) == 1 {
				return badRequest("no_sender", "the partner offers no "+string(m)+" sender endpoint", field("module", "the partner's version details list no "+string(m)+" SENDER"))
			}
			continue
		}
		st, err := db.RequestSync(c.UserContext(), rq.api.pool, conn.ID, m, full, now)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, syncViewOf(st))
	}
	if len(out.Items) == 0 {
		return badRequest("no_sender", "the partner offers no locations, tariffs, sessions or cdrs sender endpoint", field("module", "nothing to pull from this partner"))
	}
	return c.Status(fiber.StatusAccepted).JSON(out)
}
