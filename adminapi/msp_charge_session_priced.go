package adminapi

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/session"
)

// The MSP pricing read model (guide 003 → Charge Sessions: "Charge
// sessions can be repriced, where the original pricing result is
// preserved, and a new one is added … The pricing result endpoint returns
// these records in chronological order"; "a pricing result and a charge
// session are distinct entities, each with its own unique ID"):
//
//	GET /main/v1/msp-charge-session-priced       MSP sessions with a pricing result
//	GET /main/v1/msp-charge-session-priced/{id}  one, by charge session id, with every version
//
// Each item is the session (as msp-charge-session renders it), its latest
// result (price) and its versions, oldest first: in the list a summary of
// each, in GET one the full results. Filters: customer_id and
// subscription_id (of the latest result), token_uid, start_gte/start_lt.

// mspPricedView is one priced MSP session.
type mspPricedView struct {
	ID       uuid.UUID            `json:"id"`
	Session  db.ChargeSessionView `json:"charge_session"`
	Price    *db.PriceView        `json:"price"`
	Versions []any                `json:"versions"`
}

// priceVersionView summarises one version in lists.
type priceVersionView struct {
	ID        uuid.UUID       `json:"id"`
	Version   int             `json:"version"`
	Reason    string          `json:"reason"`
	Currency  string          `json:"currency"`
	ExclVAT   decimal.Decimal `json:"excl_vat"`
	VAT       decimal.Decimal `json:"vat"`
	InclVAT   decimal.Decimal `json:"incl_vat"`
	CreatedAt time.Time       `json:"created_at"`
}

// pricedRow is a session with its MSP results (oldest version first).
type pricedRow struct {
	rec    db.ChargeSessionRecord
	prices []db.PriceView
}

func mspPricedViewOf(r pricedRow, full bool) mspPricedView {
	v := mspPricedView{ID: r.rec.ID, Session: db.ChargeSessionViewOf(r.rec), Versions: []any{}}
	for i, p := range r.prices {
		if full {
			v.Versions = append(v.Versions, p)
		} else {
			v.Versions = append(v.Versions, priceVersionView{ID: p.ID, Version: p.Version, Reason: p.Reason, Currency: p.Currency,
				ExclVAT: p.ExclVAT, VAT: p.VAT, InclVAT: p.InclVAT, CreatedAt: p.CreatedAt})
		}
		if i == len(r.prices)-1 {
			latest := p
			v.Price = &latest
		}
	}
	return v
}

var mspPricedFilters = []string{"customer_id", "subscription_id", "token_uid", "start_gte", "start_lt"}

// listMSPPriced is GET /msp-charge-session-priced.
func listMSPPriced(c *fiber.Ctx, rq *request) error {
	return seekPage(c, rq, "/main/v1/msp-charge-session-priced", "charge_session", mspPricedFilters,
		func(ctx context.Context, q url.Values, after uuid.UUID, limit int32) ([]pricedRow, error) {
			p := db.MSPPricedParams{After: after, Lim: limit}
			p.AllAdmins, p.AdminIds = scopeArgs(rq.account)
			var err error
			if p.CustomerID, err = filterUUID(q, "customer_id"); err != nil {
				return nil, err
			}
			if p.SubscriptionID, err = filterUUID(q, "subscription_id"); err != nil {
				return nil, err
			}
			if v := filterString(q, "token_uid"); v != nil {
				k := strings.ToUpper(*v)
				p.TokenUidKey = &k
			}
			if p.StartGte, err = filterTime(q, "start_gte"); err != nil {
				return nil, err
			}
			if p.StartLt, err = filterTime(q, "start_lt"); err != nil {
				return nil, err
			}
			recs, err := db.ListMSPPricedSessions(ctx, rq.api.pool, p)
			if err != nil || len(recs) == 0 {
				return nil, err
			}
			ids := make([]uuid.UUID, len(recs))
			for i, r := range recs {
				ids[i] = r.ID
			}
			prices, err := db.PricesOfSessions(ctx, rq.api.pool, session.KindMSP, ids)
			if err != nil {
				return nil, err
			}
			out := make([]pricedRow, len(recs))
			for i, r := range recs {
				out[i] = pricedRow{rec: r, prices: prices[r.ID]}
			}
			return out, nil
		},
		func(r pricedRow) uuid.UUID { return r.rec.ID }, func(r pricedRow) mspPricedView { return mspPricedViewOf(r, false) })
}

// getMSPPriced is GET /msp-charge-session-priced/{id}: the session with
// every version of its MSP result.
func getMSPPriced(c *fiber.Ctx, rq *request) error {
	rec, err := loadSession(c, rq, session.MSP)
	if err != nil {
		return err
	}
	prices, err := db.PricesOfSessions(c.UserContext(), rq.api.pool, session.KindMSP, []uuid.UUID{rec.ID})
	if err != nil {
		return err
	}
	if len(prices[rec.ID]) == 0 {
		return fault.NotFound("not_found", "charge session %s has no MSP pricing result (it is %s)", rec.ID, rec.State)
	}
	return c.JSON(mspPricedViewOf(pricedRow{rec: rec, prices: prices[rec.ID]}, true))
}
