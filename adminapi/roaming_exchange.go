package adminapi

import (
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/partner"
)

// exchangeView is one OCPI request/response pair from the exchange log.
type exchangeView struct {
	ID            uuid.UUID  `json:"id"`
	At            time.Time  `json:"at"`
	Direction     string     `json:"direction"`
	ConnectionID  *uuid.UUID `json:"connection_id"`
	Party         *string    `json:"party"`
	Method        string     `json:"method"`
	URL           string     `json:"url"`
	HTTPStatus    int32      `json:"http_status"`
	OCPIStatus    *int32     `json:"ocpi_status"`
	DurationMs    float64    `json:"duration_ms"`
	RequestID     *string    `json:"request_id"`
	CorrelationID *string    `json:"correlation_id"`
	RequestBody   *string    `json:"request_body"`
	ResponseBody  *string    `json:"response_body"`
	Error         *string    `json:"error"`
}

func exchangeViewOf(e gen.RoamingExchange) exchangeView {
	v := exchangeView{ID: e.ID, At: e.At.UTC(), Direction: e.Direction, ConnectionID: e.ConnectionID, Method: e.Method, URL: e.Url,
		HTTPStatus: e.HttpStatus, OCPIStatus: e.OcpiStatus, DurationMs: e.DurationMs, RequestID: e.RequestID,
		CorrelationID: e.CorrelationID, RequestBody: e.RequestBody, ResponseBody: e.ResponseBody, Error: e.Error}
	if e.CountryCode != nil && e.PartyID != nil {
		p := *e.CountryCode + "-" + *e.PartyID
		v.Party = &p
	}
	return v
}

var exchangeFilters = []string{"connection_id", "direction", "method", "http_status", "ocpi_status", "request_id",
	"correlation_id", "party", "at_gte", "at_lt", "errors_only"}

// exchangeRoutes serves the exchange log, read-only: GET /roaming-exchange
// (seek-paginated, newest last, with filters that combine with AND) and GET
// /roaming-exchange/{id}. Partner troubleshooting starts here: find the
// failing call by party, status or correlation id and read both bodies.
func exchangeRoutes(a *API, v1 fiber.Router) {
	v1.Get("/roaming-exchange", a.handle("roaming", access.Read, func(c *fiber.Ctx, rq *request) error {
		q, err := url.ParseQuery(string(c.Request().URI().QueryString()))
		if err != nil {
			return badRequest("invalid_parameter", "the query string is malformed")
		}
		p, err := parsePage(q, exchangeFilters)
		if err != nil {
			return err
		}
		if p.CreatedGT != nil {
			return badRequest("invalid_parameter", "use at_gte on the exchange log", field("created_gt", "is not supported here; use at_gte"))
		}
		params := gen.ListExchangesParams{After: seek(p.After), PageLimit: p.Size, Method: filterString(q, "method"),
			RequestID: filterString(q, "request_id"), CorrelationID: filterString(q, "correlation_id")}
		if params.ConnectionID, err = filterUUID(q, "connection_id"); err != nil {
			return err
		}
		if params.Direction, err = filterChecked(q, "direction", func(v string) bool { return v == "inbound" || v == "outbound" }, "inbound or outbound"); err != nil {
			return err
		}
		if params.AtGte, err = filterTime(q, "at_gte"); err != nil {
			return err
		}
		if params.AtLt, err = filterTime(q, "at_lt"); err != nil {
			return err
		}
		for name, dst := range map[string]**int32{"http_status": &params.HttpStatus, "ocpi_status": &params.OcpiStatus} {
			if v := q.Get(name); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 || n > 9999 {
					return badRequest("invalid_parameter", "invalid query parameter", field(name, "must be a status code"))
				}
				n32 := int32(n)
				*dst = &n32
			}
		}
		if v := q.Get("party"); v != "" {
			ref, ok := partner.ParsePartyRef(v)
			if !ok {
				return badRequest("invalid_parameter", "invalid query parameter", field("party", "must be a country code and party id such as NL-TDR"))
			}
			params.CountryCode, params.PartyID = &ref.CountryCode, &ref.PartyID
		}
		if v := q.Get("errors_only"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return badRequest("invalid_parameter", "invalid query parameter", field("errors_only", "must be true or false"))
			}
			params.ErrorsOnly = &b
		}
		if p.After != nil {
			ok, err := db.Exists(c.UserContext(), rq.api.pool, "roaming_exchange", *p.After)
			if err != nil {
				return err
			}
			if !ok {
				return badRequest("invalid_parameter", "invalid query parameter", field("after", "no item has this id"))
			}
		}
		rows, err := db.Q(rq.api.pool).ListExchanges(c.UserContext(), params)
		if err != nil {
			return err
		}
		out := listBody[exchangeView]{Items: make([]exchangeView, len(rows)), PageSize: p.Size}
		for i, r := range rows {
			out.Items[i] = exchangeViewOf(r)
		}
		last := p.After
		if n := len(rows); n > 0 {
			last = &rows[n-1].ID
		}
		if last != nil {
			out.LinkNext = nextLink("/main/v1/roaming-exchange", q, last)
			c.Set("Link", "<"+out.LinkNext+`>; rel="next"`)
		}
		return c.JSON(out)
	}))
	v1.Get("/roaming-exchange/:key", a.handle("roaming", access.Read, func(c *fiber.Ctx, rq *request) error {
		id, err := parseID(c.Params("key"))
		if err != nil {
			return badRequest("invalid_parameter", "invalid path parameter", field("id", "must be a UUID"))
		}
		e, err := db.Q(rq.api.pool).GetExchange(c.UserContext(), id)
		if err != nil {
			return db.NotFound(err, "exchange", id)
		}
		return c.JSON(exchangeViewOf(e))
	}))
}
