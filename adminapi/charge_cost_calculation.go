package adminapi

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/credit"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/rateplan"
	"github.com/roamnode/roamnode/domain/session"
)

// GET /main/v1/msp-charge-cost-calculation quotes a charge session before
// it happens (issue 6: "the same code path as real pricing"): the
// subscription (or, for a prospect, a subscription plan), where (a
// partner-evse-location and optionally an EVSE by uid, or an EVSE by its
// EVSE id; optionally a connector), the expected energy (kWh) and
// duration (minutes, of which parking_duration minutes not charging) and
// the start (default now). The quote is rateplan.Compute over the same
// facts a real session's pricing loads, priced as one charging period;
// the pricing checks do not apply. A quote that cannot be priced (no rate
// plan, no matching rule, VAT undetermined) answers 400 not_priceable
// with the reason a session would drop out with.
//
// A subscription's quote shows what the customer would pay after its
// charge credits valid at the start: the same allocation as a session's
// (credit.Credited: energy credits first, soonest-expiring first, each
// component's credit terms), reading the balances without consuming
// anything. excl_vat, vat, incl_vat and components are after credits;
// before_credits holds the price without them, credits what each credit
// would pay. A quote by plan (a prospect) has no credits.

// quoteView is a charge cost calculation.
type quoteView struct {
	SubscriptionID *uuid.UUID         `json:"subscription_id"`
	PlanID         uuid.UUID          `json:"plan_id"`
	StartDateTime  time.Time          `json:"start_date_time"`
	EndDateTime    time.Time          `json:"end_date_time"`
	Currency       string             `json:"currency"`
	ExclVAT        decimal.Decimal    `json:"excl_vat"`
	VAT            decimal.Decimal    `json:"vat"`
	InclVAT        decimal.Decimal    `json:"incl_vat"`
	Components     []db.ComponentView `json:"components"`
	BeforeCredits  quoteTotals        `json:"before_credits"`
	Credits        []quoteCreditView  `json:"credits"`
	Detail         json.RawMessage    `json:"detail"`
}

// quoteTotals is a price without charge credits.
type quoteTotals struct {
	ExclVAT    decimal.Decimal    `json:"excl_vat"`
	VAT        decimal.Decimal    `json:"vat"`
	InclVAT    decimal.Decimal    `json:"incl_vat"`
	Components []db.ComponentView `json:"components"`
}

// quoteCreditView is what one credit would pay (credit.Use) with the unit
// of its amount: the currency of a monetary credit, kWh of an energy one.
type quoteCreditView struct {
	credit.Use
	Unit string `json:"unit"`
}

func quoteTotalsOf(r session.PriceResult) quoteTotals {
	cs := []db.ComponentView{}
	for _, cp := range r.Components {
		cs = append(cs, db.ComponentView{Component: cp.Component, Volume: cp.Volume, Unit: cp.Unit, ExclVAT: cp.ExclVAT,
			VATRate: cp.VATRate, VAT: cp.VAT, InclVAT: cp.InclVAT})
	}
	return quoteTotals{ExclVAT: r.ExclVAT, VAT: r.VAT, InclVAT: r.InclVAT, Components: cs}
}

var quoteParams = []string{"subscription_id", "plan_id", "location_id", "evse_uid", "evse_id", "connector_id", "energy", "duration",
	"parking_duration", "start_date_time"}

// quoteChargeCost is GET /msp-charge-cost-calculation.
func quoteChargeCost(c *fiber.Ctx, rq *request) error {
	q := c.Queries()
	var fs fault.Fields
	for k := range q {
		if !contains(quoteParams, k) {
			fs.Add(k, "is not a parameter of this endpoint (%s)", strings.Join(quoteParams, ", "))
		}
	}
	qt := db.Quote{EVSEUID: strings.TrimSpace(q["evse_uid"]), EVSEID: strings.TrimSpace(q["evse_id"]), ConnectorID: strings.TrimSpace(q["connector_id"]),
		Start: time.Now().UTC().Truncate(time.Second)}
	id := func(name string) *uuid.UUID {
		if v := q[name]; v != "" {
			u, err := uuid.Parse(v)
			if err != nil {
				fs.Add(name, "must be a UUID")
				return nil
			}
			return &u
		}
		return nil
	}
	qt.SubscriptionID, qt.PlanID, qt.LocationRef = id("subscription_id"), id("plan_id"), id("location_id")
	if (qt.SubscriptionID == nil) == (qt.PlanID == nil) && q["subscription_id"] == "" && q["plan_id"] == "" {
		fs.Add("subscription_id", "give a subscription_id (a customer's) or a plan_id (a prospect's)")
	} else if q["subscription_id"] != "" && q["plan_id"] != "" {
		fs.Add("plan_id", "cannot be combined with subscription_id (the subscription names its plan)")
	}
	if q["location_id"] == "" && qt.EVSEID == "" {
		fs.Add("location_id", "give a location_id (a partner-evse-location) or an evse_id")
	}
	dec := func(name string, required bool) decimal.Decimal {
		v := q[name]
		if v == "" {
			if required {
				fs.Add(name, "is required")
			}
			return decimal.Zero
		}
		d, err := decimal.NewFromString(v)
		if err != nil || d.IsNegative() {
			fs.Add(name, "must be a non-negative decimal number")
			return decimal.Zero
		}
		return d
	}
	qt.Energy = dec("energy", true)
	minutes := func(d decimal.Decimal) time.Duration {
		return time.Duration(d.Mul(decimal.NewFromInt(int64(time.Minute))).IntPart())
	}
	dur, park := dec("duration", true), dec("parking_duration", false)
	if q["duration"] != "" && !dur.IsPositive() {
		fs.Add("duration", "must be more than 0 minutes")
	}
	if dur.GreaterThan(decimal.NewFromInt(7 * 24 * 60)) {
		fs.Add("duration", "must be at most a week (10080 minutes)")
	}
	if park.GreaterThan(dur) {
		fs.Add("parking_duration", "must not exceed duration")
	}
	qt.Duration, qt.Parking = minutes(dur), minutes(park)
	if v := q["start_date_time"]; v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			fs.Add("start_date_time", "must be an RFC 3339 date-time")
		}
		qt.Start = t.UTC()
	}
	if err := fs.Err(); err != nil {
		return err
	}
	in, scope, err := db.MSPPricingLoader{Pool: rq.api.pool}.QuoteInputs(c.UserContext(), qt)
	if err != nil {
		return err
	}
	if !rq.account.Sees(scope.AdministrationID) {
		return forbidden("the API account has no access to the administration of this subscription or plan")
	}
	before, err := rateplan.Compute(in)
	var pf *session.PricingFailure
	if errors.As(err, &pf) {
		return fault.Conflict("not_priceable", "%s: %s", pf.Reason, pf.Detail)
	}
	if err != nil {
		return err
	}
	// Read-only: the movements stay in r.Credits, nothing is committed.
	r, lines, err := credit.Credited(c.UserContext(), db.CreditStore{Pool: rq.api.pool}, before, uuid.Nil, in.Session.Start)
	if err != nil {
		return err
	}
	after := quoteTotalsOf(r)
	v := quoteView{SubscriptionID: qt.SubscriptionID, PlanID: in.Subscription.PlanID, StartDateTime: in.Session.Start, EndDateTime: in.Session.End,
		Currency: r.Currency, ExclVAT: after.ExclVAT, VAT: after.VAT, InclVAT: after.InclVAT, Components: after.Components,
		BeforeCredits: quoteTotalsOf(before), Credits: []quoteCreditView{}, Detail: r.Detail}
	for _, u := range credit.Uses(lines) {
		unit := "kWh"
		if u.Kind == credit.Monetary {
			unit = r.Currency
		}
		v.Credits = append(v.Credits, quoteCreditView{Use: u, Unit: unit})
	}
	return c.JSON(v)
}

// ---- pricing checks per administration and roaming partner

// Pricing checks (guide 003 → Charge Sessions: "Various pricing checks are
// applied, which can be customized based on administration settings and
// roaming partner configurations"): one set per owner,
//
//	GET/POST /main/v1/administration/{id}/pricing-checks
//	GET/POST /main/v1/roaming-partner/{id}/pricing-checks
//
// partner_cost_absolute and partner_cost_percentage bound the difference
// between a CDR's total_cost and our recomputation of the CPO's tariff;
// max_price bounds the price of one session (excluding VAT). A field left
// null is not checked (a partner's value wins over its administration's).
// POST is a merge-update (RFC 7396); a change emits a pricing-checks event.

// pricingChecksView is an owner's checks.
type pricingChecksView struct {
	AdministrationID      *uuid.UUID `json:"administration_id"`
	PartnerID             *uuid.UUID `json:"partner_id"`
	PartnerCostAbsolute   *Decimal   `json:"partner_cost_absolute"`
	PartnerCostPercentage *Decimal   `json:"partner_cost_percentage"`
	MaxPrice              *Decimal   `json:"max_price"`
	UpdatedAt             *time.Time `json:"updated_at"`
}

type pricingChecksInput struct {
	PartnerCostAbsolute   *Decimal `json:"partner_cost_absolute"`
	PartnerCostPercentage *Decimal `json:"partner_cost_percentage"`
	MaxPrice              *Decimal `json:"max_price"`
}

// PricingChecksEventKind is the outbox kind of a change of pricing checks.
const PricingChecksEventKind = "pricing-checks"

func pricingChecksViewOf(o db.ThresholdOwner, c rateplan.Checks, at *time.Time) pricingChecksView {
	return pricingChecksView{AdministrationID: o.AdministrationID, PartnerID: o.PartnerID, PartnerCostAbsolute: apiDec(c.PartnerCostAbsolute),
		PartnerCostPercentage: apiDec(c.PartnerCostPercentage), MaxPrice: apiDec(c.MaxPrice), UpdatedAt: utcPtr(at)}
}

func getPricingChecks(owner string) handler {
	return func(c *fiber.Ctx, rq *request) error {
		o, err := thresholdOwner(c, rq, owner, false)
		if err != nil {
			return err
		}
		ch, at, err := db.PricingChecksOf(c.UserContext(), rq.api.pool, o)
		if err != nil {
			return err
		}
		return c.JSON(pricingChecksViewOf(o, ch, at))
	}
}

func postPricingChecks(owner string) handler {
	return func(c *fiber.Ctx, rq *request) error {
		o, err := thresholdOwner(c, rq, owner, true)
		if err != nil {
			return err
		}
		b, err := parseBody(c.Body())
		if err != nil {
			return err
		}
		var in pricingChecksInput
		var v pricingChecksView
		if unknown := unknownFields(b, jsonNames(in), jsonNames(v)); len(unknown) > 0 {
			c.Set("X-RN-Unknown-Fields", strings.Join(unknown, ","))
		}
		ctx := c.UserContext()
		var out pricingChecksView
		err = db.InTx(ctx, rq.api.pool, func(tx pgx.Tx) error {
			cur, at, err := db.PricingChecksOf(ctx, tx, o)
			if err != nil {
				return err
			}
			before, err := json.Marshal(pricingChecksViewOf(o, cur, at))
			if err != nil {
				return err
			}
			merged, err := mergeDoc(before, b, []string{"administration_id", "partner_id", "updated_at"})
			if err != nil {
				return err
			}
			if err := decodeInto(merged, &in); err != nil {
				return err
			}
			ch := rateplan.Checks{PartnerCostAbsolute: decPtr(in.PartnerCostAbsolute), PartnerCostPercentage: decPtr(in.PartnerCostPercentage),
				MaxPrice: decPtr(in.MaxPrice)}
			if err := ch.Validate(); err != nil {
				return err
			}
			now := time.Now().UTC().Truncate(time.Microsecond)
			if at != nil && sameChecks(ch, cur) {
				out = pricingChecksViewOf(o, cur, at)
				return nil
			}
			if err := db.SavePricingChecks(ctx, tx, o, ch, now); err != nil {
				return err
			}
			out = pricingChecksViewOf(o, ch, &now)
			return db.AppendEvent(ctx, tx, event.New(PricingChecksEventKind, event.Update, o.AdministrationID, out))
		})
		if err != nil {
			return err
		}
		return c.JSON(out)
	}
}

func sameChecks(a, b rateplan.Checks) bool {
	eq := func(x, y *decimal.Decimal) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return eq(a.PartnerCostAbsolute, b.PartnerCostAbsolute) && eq(a.PartnerCostPercentage, b.PartnerCostPercentage) && eq(a.MaxPrice, b.MaxPrice)
}
