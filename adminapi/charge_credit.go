package adminapi

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/credit"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/token"
)

// Charge credits of MSP token subscriptions (guide 003 → Charge credits;
// changelog v3.4.0: POST /msp-token-subscription/{id}/energy-credit and
// /monetary-credit; v3.52.0: energy_credit and monetary_credit of a
// subscription). A grant adds a credit with its own balance and validity;
// sessions consume it when they are priced (domain/credit, db/credit.go);
// every change of a balance is a movement of the ledger. All in the
// "token" permission family, like the subscriptions they belong to.

// mountChargeCredits registers the charge-credit routes.
func (a *API) mountChargeCredits(v1 fiber.Router) {
	v1.Post("/msp-token-subscription/:key/monetary-credit", a.handle(tokenFamily, access.Write, grantChargeCredit(credit.Monetary)))
	v1.Post("/msp-token-subscription/:key/energy-credit", a.handle(tokenFamily, access.Write, grantChargeCredit(credit.Energy)))
	v1.Get("/msp-token-subscription/:key/charge-credit", a.handle(tokenFamily, access.Read, subscriptionChargeCredit))
	v1.Get("/charge-credit", a.handle(tokenFamily, access.Read, listChargeCredits))
	v1.Get("/charge-credit/:key", a.handle(tokenFamily, access.Read, getChargeCredit))
	v1.Get("/charge-credit-movement", a.handle(tokenFamily, access.Read, listChargeCreditMovements))
}

// chargeCreditInput is the body of a grant: the amount is "amount" (money
// excluding VAT) for a monetary credit, "energy" (kWh) for an energy one.
type chargeCreditInput struct {
	Amount            *Decimal   `json:"amount"`
	Energy            *Decimal   `json:"energy"`
	ValidFrom         *time.Time `json:"valid_from"`
	ValidUntil        *time.Time `json:"valid_until"`
	Description       *string    `json:"description" rn:"multiline"`
	ExternalReference *string    `json:"external_reference"`
}

// grantChargeCredit is POST /msp-token-subscription/{id}/monetary-credit
// and …/energy-credit: the credit is granted to the subscription (its
// administration's currency for money: the rate plan's, which must be that
// currency to be usable), valid from valid_from (default now: "once
// credits are assigned, they will automatically be used" by the sessions
// that start from then on) until valid_until (default open-ended), both in
// whole minutes. A defunct subscription gets no credit.
func grantChargeCredit(kind credit.Kind) handler {
	amountField, other := "amount", "energy"
	if kind == credit.Energy {
		amountField, other = "energy", "amount"
	}
	return func(c *fiber.Ctx, rq *request) error {
		k, err := parseKey(c.Params("key"))
		if err != nil {
			return err
		}
		b, err := parseBody(c.Body())
		if err != nil {
			return err
		}
		known := []string{amountField, "valid_from", "valid_until", "description", "external_reference"}
		if unknown := unknownFields(b, known); len(unknown) > 0 {
			c.Set("X-RN-Unknown-Fields", strings.Join(unknown, ","))
		}
		delete(b, other)
		var in chargeCreditInput
		if err := decodeInto(b, &in); err != nil {
			return err
		}
		amount := in.Amount
		if kind == credit.Energy {
			amount = in.Energy
		}
		if amount == nil {
			return fault.Invalid(amountField, "is required")
		}
		now := time.Now().UTC()
		from := now
		if in.ValidFrom != nil {
			from = *in.ValidFrom
		}
		per, err := token.NewPeriod(&from, in.ValidUntil)
		if err != nil {
			return err
		}
		ctx := c.UserContext()
		var out db.ChargeCreditView
		err = db.InTx(ctx, rq.api.pool, func(tx pgx.Tx) error {
			sub, err := db.MSPTokenSubscription(ctx, tx, k.ID, k.Ref, true)
			if err != nil {
				return err
			}
			if !rq.account.Sees(sub.AdministrationID) {
				return forbidden("the API account has no access to the administration of this msp-token-subscription")
			}
			if sub.Defunct {
				return fault.Invalid("id", "the subscription is defunct; it can get no charge credit")
			}
			adm, err := db.Administration(ctx, tx, &sub.AdministrationID, "", false)
			if err != nil {
				return err
			}
			g := credit.Grant{Kind: kind, Amount: amount.Decimal, Currency: adm.Currency, ValidFrom: *per.From(), ValidUntil: per.Until()}
			if err := g.Validate(); err != nil {
				return err
			}
			out, err = db.GrantChargeCredit(ctx, tx, sub, g, in.ExternalReference, in.Description, now)
			return err
		})
		if err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(out)
	}
}

// creditBalance is one kind's balance of a subscription.
type creditBalance struct {
	Balance  Decimal `json:"balance"`
	Unit     string  `json:"unit"`
	Currency *string `json:"currency"`
	Credits  int     `json:"credits"`
}

// subscriptionCreditView is GET /msp-token-subscription/{id}/charge-credit:
// what the subscription's credits valid at a moment hold, per kind (the
// guide's energy_credit and monetary_credit; null without such credits).
type subscriptionCreditView struct {
	SubscriptionID uuid.UUID      `json:"subscription_id"`
	At             time.Time      `json:"at"`
	EnergyCredit   *creditBalance `json:"energy_credit"`
	MonetaryCredit *creditBalance `json:"monetary_credit"`
}

// subscriptionChargeCredit is GET /msp-token-subscription/{id}/charge-credit
// [?at=]: the balances of the subscription's credits valid at at (default
// now). The credits themselves are GET /charge-credit?subscription_id=.
func subscriptionChargeCredit(c *fiber.Ctx, rq *request) error {
	k, err := parseKey(c.Params("key"))
	if err != nil {
		return err
	}
	q, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return badRequest("invalid_parameter", "the query string is malformed")
	}
	for name := range q {
		if name != "at" {
			return badRequest("unknown_parameter", "unknown query parameter", field(name, "is not a parameter of this endpoint; known: at"))
		}
	}
	at := time.Now().UTC()
	if t, err := filterTime(q, "at"); err != nil {
		return err
	} else if t != nil {
		at = t.UTC()
	}
	ctx := c.UserContext()
	sub, err := db.MSPTokenSubscription(ctx, rq.api.pool, k.ID, k.Ref, false)
	if err != nil {
		return err
	}
	if !rq.account.Sees(sub.AdministrationID) {
		return forbidden("the API account has no access to the administration of this msp-token-subscription")
	}
	bs, err := db.SubscriptionCreditBalances(ctx, rq.api.pool, sub.ID, at)
	if err != nil {
		return err
	}
	out := subscriptionCreditView{SubscriptionID: sub.ID, At: at}
	for _, b := range bs {
		v := &creditBalance{Balance: Decimal{b.Balance}, Unit: b.Unit, Currency: b.Currency, Credits: b.Credits}
		if b.Kind == credit.Energy {
			out.EnergyCredit = v
		} else {
			out.MonetaryCredit = v
		}
	}
	return c.JSON(out)
}

// chargeCreditFilters are the filters of GET /charge-credit.
var chargeCreditFilters = []string{"subscription_id", "kind", "external_reference", "valid_at"}

// listChargeCredits is GET /charge-credit: credits with their balance.
func listChargeCredits(c *fiber.Ctx, rq *request) error {
	return seekPage(c, rq, "/main/v1/charge-credit", "charge_credit", chargeCreditFilters,
		func(ctx context.Context, q url.Values, after uuid.UUID, limit int32) ([]gen.ChargeCredit, error) {
			p := db.ChargeCreditListParams{AllAdmins: rq.account.AllAdministrations, AdminIds: rq.account.AdministrationIDs, After: after, PageLimit: limit,
				ExternalReference: filterString(q, "external_reference")}
			var err error
			if p.SubscriptionID, err = filterUUID(q, "subscription_id"); err != nil {
				return nil, err
			}
			if p.Kind, err = filterChecked(q, "kind", func(s string) bool { return credit.Kind(s).Valid() }, "monetary or energy"); err != nil {
				return nil, err
			}
			if p.ValidAt, err = filterTime(q, "valid_at"); err != nil {
				return nil, err
			}
			return db.ListChargeCredits(ctx, rq.api.pool, p)
		},
		func(r gen.ChargeCredit) uuid.UUID { return r.ID }, db.ChargeCreditViewOf)
}

// getChargeCredit is GET /charge-credit/{id} (or ext_ref.{reference}).
func getChargeCredit(c *fiber.Ctx, rq *request) error {
	k, err := parseKey(c.Params("key"))
	if err != nil {
		return err
	}
	cr, err := db.ChargeCredit(c.UserContext(), rq.api.pool, k.ID, k.Ref)
	if err != nil {
		return err
	}
	if !rq.account.Sees(cr.AdministrationID) {
		return forbidden("the API account has no access to the administration of this charge-credit")
	}
	return c.JSON(db.ChargeCreditViewOf(cr))
}

// movementKinds are the kinds of ledger movements.
var movementKinds = []string{db.MovementGrant, db.MovementConsumption, db.MovementReversal, db.MovementExpiry}

// listChargeCreditMovements is GET /charge-credit-movement: the ledger —
// grants, consumptions per session and component, reversals when a
// session is repriced, expiries — in time order.
func listChargeCreditMovements(c *fiber.Ctx, rq *request) error {
	return seekPage(c, rq, "/main/v1/charge-credit-movement", "charge_credit_movement",
		[]string{"subscription_id", "credit_id", "charge_session_id", "kind"},
		func(ctx context.Context, q url.Values, after uuid.UUID, limit int32) ([]gen.ChargeCreditMovement, error) {
			p := db.ChargeCreditMovementListParams{AllAdmins: rq.account.AllAdministrations, AdminIds: rq.account.AdministrationIDs, After: after,
				PageLimit: limit}
			var err error
			if p.SubscriptionID, err = filterUUID(q, "subscription_id"); err != nil {
				return nil, err
			}
			if p.CreditID, err = filterUUID(q, "credit_id"); err != nil {
				return nil, err
			}
			if p.ChargeSessionID, err = filterUUID(q, "charge_session_id"); err != nil {
				return nil, err
			}
			if p.Kind, err = filterChecked(q, "kind", func(s string) bool { return contains(movementKinds, s) }, strings.Join(movementKinds, ", ")); err != nil {
				return nil, err
			}
			return db.ListChargeCreditMovements(ctx, rq.api.pool, p)
		},
		func(r gen.ChargeCreditMovement) uuid.UUID { return r.ID }, db.ChargeCreditMovementViewOf)
}
