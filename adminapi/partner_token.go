package adminapi

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/worker"
)

// Partners' tokens as CPO, read-only: the tokens eMSPs pushed to our OCPI
// Tokens receiver or we pulled from their senders (GET /partner-token,
// GET /partner-token/{id}); the token pull of a connection (GET and POST
// /roaming-connection/{id}/token-pull); and the authorization decision
// (cpo_token_authorization.go). The "roaming" permission family guards them.

// partnerTokenView is a cached partner token as the API returns it.
type partnerTokenView struct {
	ID           uuid.UUID  `json:"id"`
	ConnectionID uuid.UUID  `json:"connection_id"`
	Party        string     `json:"party"`
	UID          string     `json:"uid"`
	Type         string     `json:"type"`
	ContractID   string     `json:"contract_id"`
	Valid        bool       `json:"valid"`
	Whitelist    string     `json:"whitelist"`
	LastUpdated  time.Time  `json:"last_updated"`
	ReceivedVia  string     `json:"received_via"`
	Token        ocpi.Token `json:"token"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

func partnerTokenViewOf(t db.PartnerToken) partnerTokenView {
	return partnerTokenView{ID: t.ID, ConnectionID: t.ConnectionID, Party: t.Token.CountryCode + "-" + t.Token.PartyID, UID: t.Token.UID,
		Type: string(t.Token.Type), ContractID: t.Token.ContractID, Valid: t.Token.Valid, Whitelist: string(t.Token.Whitelist),
		LastUpdated: t.Token.LastUpdated.UTC(), ReceivedVia: t.ReceivedVia, Token: t.Token, CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
}

var partnerTokenFilters = []string{"connection_id", "party", "uid", "type", "valid", "contract_id"}

// mountPartnerTokens registers the routes of partners' tokens.
func (a *API) mountPartnerTokens(v1 fiber.Router) {
	v1.Get("/partner-token", a.handle("roaming", access.Read, listPartnerTokens))
	v1.Get("/partner-token/:key", a.handle("roaming", access.Read, getPartnerToken))
	v1.Get("/roaming-connection/:key/token-pull", a.handle("roaming", access.Read, getTokenPull))
	v1.Post("/roaming-connection/:key/token-pull", a.handle("roaming", access.Write, requestTokenPull))
	v1.Post("/cpo-token-authorization", a.handle("roaming", access.Read, authorizeCPOToken))
}

// listPartnerTokens is GET /partner-token: seek pagination in id order,
// filters combined with AND.
func listPartnerTokens(c *fiber.Ctx, rq *request) error {
	q, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return badRequest("invalid_parameter", "the query string is malformed")
	}
	p, err := parsePage(q, partnerTokenFilters)
	if err != nil {
		return err
	}
	if p.CreatedGT != nil {
		return badRequest("invalid_parameter", "created_gt is not supported here", field("created_gt", "is not supported on partner tokens"))
	}
	params := gen.ListPartnerTokensParams{After: seek(p.After), PageLimit: p.Size, Uid: filterString(q, "uid"),
		Type: filterString(q, "type"), ContractID: filterString(q, "contract_id")}
	if params.ConnectionID, err = filterUUID(q, "connection_id"); err != nil {
		return err
	}
	if v := q.Get("party"); v != "" {
		ref, ok := partner.ParsePartyRef(v)
		if !ok {
			return badRequest("invalid_parameter", "invalid query parameter", field("party", "must be a country code and party id such as NL-TNM"))
		}
		params.CountryCode, params.PartyID = &ref.CountryCode, &ref.PartyID
	}
	if v := q.Get("valid"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest("invalid_parameter", "invalid query parameter", field("valid", "must be true or false"))
		}
		params.Valid = &b
	}
	if p.After != nil && !rq.api.known.has("partner_token", *p.After) {
		ok, err := db.Exists(c.UserContext(), rq.api.pool, "partner_token", *p.After)
		if err != nil {
			return err
		}
		if !ok {
			return badRequest("invalid_parameter", "invalid query parameter", field("after", "no item has this id"))
		}
	}
	toks, err := db.ListPartnerTokens(c.UserContext(), rq.api.pool, params)
	if err != nil {
		return err
	}
	out := listBody[partnerTokenView]{Items: make([]partnerTokenView, len(toks)), PageSize: p.Size}
	last := p.After
	for i, t := range toks {
		out.Items[i] = partnerTokenViewOf(t)
		last = &toks[i].ID
		rq.api.known.add("partner_token", t.ID)
	}
	if last != nil {
		out.LinkNext = nextLink("/main/v1/partner-token", q, last)
		c.Set("Link", "<"+out.LinkNext+`>; rel="next"`)
	}
	return c.JSON(out)
}

// getPartnerToken is GET /partner-token/{id}.
func getPartnerToken(c *fiber.Ctx, rq *request) error {
	id, err := parseID(c.Params("key"))
	if err != nil {
		return badRequest("invalid_parameter", "invalid path parameter", field("id", "must be a UUID"))
	}
	t, err := db.PartnerTokenByID(c.UserContext(), rq.api.pool, id)
	if err != nil {
		return err
	}
	return c.JSON(partnerTokenViewOf(t))
}

// tokenPullView is the token pull of a connection.
type tokenPullView struct {
	ConnectionID uuid.UUID `json:"connection_id"`
	// Status: running (a worker holds it), requested (waiting for a
	// worker), interrupted (stopped at next_url, resumes there), idle.
	Status          string     `json:"status"`
	DateFrom        *time.Time `json:"date_from"`
	NextURL         *string    `json:"next_url"`
	RunStartedAt    *time.Time `json:"run_started_at"`
	RunPages        int32      `json:"run_pages"`
	RunTokens       int32      `json:"run_tokens"`
	RunSkipped      int32      `json:"run_skipped"`
	RequestedAt     *time.Time `json:"requested_at"`
	FullRequested   bool       `json:"full_requested"`
	LastCompletedAt *time.Time `json:"last_completed_at"`
	LastError       *string    `json:"last_error"`
	LastErrorAt     *time.Time `json:"last_error_at"`
}

func tokenPullViewOf(p gen.PartnerTokenPull, now time.Time) tokenPullView {
	v := tokenPullView{ConnectionID: p.ConnectionID, Status: "idle", DateFrom: utcPtr(p.DateFrom), NextURL: p.NextUrl,
		RunStartedAt: utcPtr(p.RunStartedAt), RunPages: p.RunPages, RunTokens: p.RunTokens, RunSkipped: p.RunSkipped,
		RequestedAt: utcPtr(p.RequestedAt), FullRequested: p.FullRequested, LastCompletedAt: utcPtr(p.LastCompletedAt),
		LastError: p.LastError, LastErrorAt: utcPtr(p.LastErrorAt)}
	switch {
	case p.LeaseUntil != nil && p.LeaseUntil.After(now):
		v.Status = "running"
	case p.RequestedAt != nil:
		v.Status = "requested"
	case p.NextUrl != nil:
		v.Status = "interrupted"
	}
	return v
}

// pullConnection loads the connection of a token-pull route.
func pullConnection(c *fiber.Ctx, rq *request) (partner.Connection, error) {
	k, err := parseKey(c.Params("key"))
	if err != nil {
		return partner.Connection{}, err
	}
	return db.Connection(c.UserContext(), rq.api.pool, k.ID, k.Ref, false)
}

// getTokenPull is GET /roaming-connection/{id}/token-pull.
func getTokenPull(c *fiber.Ctx, rq *request) error {
	conn, err := pullConnection(c, rq)
	if err != nil {
		return err
	}
	p, err := db.TokenPull(c.UserContext(), rq.api.pool, conn.ID)
	if err != nil {
		return err
	}
	return c.JSON(tokenPullViewOf(p, time.Now()))
}

// requestTokenPull is POST /roaming-connection/{id}/token-pull: pull the
// partner's tokens now ({"full": true}: everything, not only what changed
// since the last pull). The request is recorded in Postgres and the task
// enqueued; when Redis is down the worker's sweep still finds it.
func requestTokenPull(c *fiber.Ctx, rq *request) error {
	conn, err := pullConnection(c, rq)
	if err != nil {
		return err
	}
	var in struct {
		Full bool `json:"full"`
	}
	if len(strings.TrimSpace(string(c.Body()))) > 0 {
		b, err := parseBody(c.Body())
		if err != nil {
			return err
		}
		if err := decodeInto(b, &in); err != nil {
			return err
		}
		if unknown := unknownFields(b, jsonNames(in)); len(unknown) > 0 {
			c.Set("X-RN-Unknown-Fields", strings.Join(unknown, ","))
		}
	}
	if _, ok := conn.Endpoint(string(ocpi.ModuleTokens), string(ocpi.InterfaceSender)); !ok || conn.Status != partner.StatusRegistered {
		return badRequest("no_tokens_sender", "the connection is not registered, or the partner offers no Tokens Sender endpoint to pull from")
	}
	p, err := db.RequestTokenPull(c.UserContext(), rq.api.pool, conn.ID, in.Full)
	if err != nil {
		return err
	}
	if rdb := rq.api.limiter.rdb; rdb != nil {
		if err := worker.EnqueueTokenPull(c.UserContext(), asynq.NewClientFromRedisClient(rdb), conn.ID); err != nil {
			rq.api.log.Warn("token pull: enqueue failed, the sweep will start it", "connection_id", conn.ID, "err", err)
		}
	}
	return c.Status(fiber.StatusAccepted).JSON(tokenPullViewOf(p, time.Now()))
}
