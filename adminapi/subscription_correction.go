package adminapi

import (
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/roaming"
)

// POST /main/v1/msp-token-subscription/{id}/plan-or-customer-correction
// (guide 003 → Token validity: "For corrections, including retroactive
// changes, use the /msp-token-subscription/{id}/plan-or-customer-correction
// endpoint. This handles subscription corrections, including moving tokens
// and repricing charge sessions, with minimal manual intervention";
// changelog v3.4.0 (POST), v3.41.0 (new_plan_external_reference)). The
// rules are db.CorrectSubscription's; this handler resolves the body's
// references, checks the account's scope, writes the outbox events and
// token pushes in the same transaction, and hands the sessions to reprice
// to the worker after the commit.

// mountSubscriptionCorrection registers the correction route.
func (a *API) mountSubscriptionCorrection(v1 fiber.Router) {
	v1.Post("/msp-token-subscription/:key/plan-or-customer-correction", a.handle(tokenFamily, access.Write, correctSubscription))
	// The guide keeps the older PUT working ("for backwards compatibility
	// the old versions remain functional").
	v1.Put("/msp-token-subscription/:key/plan-or-customer-correction", a.handle(tokenFamily, access.Write, correctSubscription))
}

// correctionInput is the correction's body.
type correctionInput struct {
	ValidFrom                           *time.Time  `json:"valid_from"`
	NewPlanID                           *uuid.UUID  `json:"new_plan_id"`
	NewPlanExternalReference            *string     `json:"new_plan_external_reference"`
	NewCustomerID                       *uuid.UUID  `json:"new_customer_id"`
	NewCustomerExternalReference        *string     `json:"new_customer_external_reference"`
	TargetSubscriptionID                *uuid.UUID  `json:"target_subscription_id"`
	TargetSubscriptionExternalReference *string     `json:"target_subscription_external_reference"`
	TokenIDs                            []uuid.UUID `json:"token_ids"`
	NewSubscriptionExternalReference    *string     `json:"new_subscription_external_reference"`
	Reason                              *string     `json:"reason" rn:"multiline"`
}

// correctionView is the correction's answer.
type correctionView struct {
	Mode               string                    `json:"mode"`
	Reason             string                    `json:"reason"`
	Subscription       mspTokenSubscriptionView  `json:"subscription"`
	NewSubscription    *mspTokenSubscriptionView `json:"new_subscription"`
	TargetSubscription *mspTokenSubscriptionView `json:"target_subscription"`
	Links              []mspTokenLinkView        `json:"links"`
	RepricedSessionIDs []uuid.UUID               `json:"repriced_charge_session_ids"`
}

// correctSubscription applies a correction in one transaction: the
// subscription, its links and the repricing requests with their events;
// any broken rule is a 400 with field paths and writes nothing.
func correctSubscription(c *fiber.Ctx, rq *request) error {
	k, err := parseKey(c.Params("key"))
	if err != nil {
		return err
	}
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	var in correctionInput
	if unknown := unknownFields(b, jsonNames(in)); len(unknown) > 0 {
		c.Set("X-RN-Unknown-Fields", strings.Join(unknown, ","))
	}
	if err := decodeInto(b, &in); err != nil {
		return err
	}
	if in.ValidFrom == nil {
		return fault.Invalid("valid_from", "is required: the moment the correction applies from")
	}
	for _, name := range []string{"new_plan", "new_customer", "target_subscription"} {
		if b.has(name+"_id") && b.has(name+"_external_reference") && !b.isNull(name+"_id") && !b.isNull(name+"_external_reference") {
			return fault.Invalid(name+"_id", "give exactly one of %s_id and %s_external_reference", name, name)
		}
	}
	ctx := c.UserContext()
	var (
		res      db.CorrectionResult
		out      correctionView
		onCommit []func()
	)
	err = db.InTx(ctx, rq.api.pool, func(tx pgx.Tx) error {
		onCommit = nil
		w := writeCtx{Ctx: ctx, Tx: tx, Account: rq.account, Body: b, onCommit: &onCommit, kicker: rq.api.kick}
		sub, err := db.MSPTokenSubscription(ctx, tx, k.ID, k.Ref, false)
		if err != nil {
			return err
		}
		if !rq.account.Sees(sub.AdministrationID) {
			return forbidden("the API account has no access to the administration of this msp-token-subscription")
		}
		cr := db.Correction{SubscriptionID: sub.ID, From: *in.ValidFrom, TokenIDs: in.TokenIDs, NewSubscriptionRef: in.NewSubscriptionExternalReference}
		if in.Reason != nil {
			cr.Note = *in.Reason
		}
		if in.NewPlanID != nil || in.NewPlanExternalReference != nil {
			p, err := resolveRef(w, in.NewPlanID, in.NewPlanExternalReference, "new_plan", func(id *uuid.UUID, ref string) (gen.MspTokenSubscriptionPlan, error) {
				return db.MSPTokenSubscriptionPlan(ctx, tx, id, ref, false)
			})
			if err != nil {
				return err
			}
			if p.AdministrationID != sub.AdministrationID {
				return fault.Invalid("new_plan_id", "must be a plan of the subscription's administration (%s)", sub.AdministrationID)
			}
			cr.Plan = &p
		}
		if in.NewCustomerID != nil || in.NewCustomerExternalReference != nil {
			cu, err := resolveRef(w, in.NewCustomerID, in.NewCustomerExternalReference, "new_customer", func(id *uuid.UUID, ref string) (gen.Party, error) {
				cu, err := db.Customer(ctx, tx, id, ref, false)
				return gen.Party{ID: cu.ID, AdministrationID: &cu.AdministrationID}, err
			})
			if err != nil {
				return err
			}
			if !rq.account.Sees(*cu.AdministrationID) {
				return forbidden("the API account has no access to the administration of this customer")
			}
			cr.CustomerID = &cu.ID
		}
		if in.TargetSubscriptionID != nil || in.TargetSubscriptionExternalReference != nil {
			t, err := resolveRef(w, in.TargetSubscriptionID, in.TargetSubscriptionExternalReference, "target_subscription",
				func(id *uuid.UUID, ref string) (gen.MspTokenSubscription, error) {
					return db.MSPTokenSubscription(ctx, tx, id, ref, true)
				})
			if err != nil {
				return err
			}
			if !rq.account.Sees(t.AdministrationID) {
				return forbidden("the API account has no access to the administration of the target subscription")
			}
			cr.Target = &t
		}
		if res, err = db.CorrectSubscription(ctx, tx, cr, time.Now()); err != nil {
			return err
		}
		out, err = correctionEvents(w, sub, res)
		if err != nil {
			return err
		}
		return pushTokens(w, func() ([]roaming.PushRef, error) { return db.EnqueueTokenPushes(ctx, tx, res.Tokens...) })
	})
	if err != nil {
		return err
	}
	for _, f := range onCommit {
		f()
	}
	rq.api.wakeRepricing(res.Repriced)
	return c.JSON(out)
}

// correctionEvents writes the outbox events of a correction (the
// subscription changed, the new subscription, each link changed or
// created) and returns the answer.
func correctionEvents(w writeCtx, before gen.MspTokenSubscription, res db.CorrectionResult) (correctionView, error) {
	view := mspTokenSubscriptionResource().view
	out := correctionView{Mode: res.Mode, Reason: res.Reason, Subscription: view(res.Subscription), Links: []mspTokenLinkView{},
		RepricedSessionIDs: []uuid.UUID{}}
	emit := func(ev event.Event) error { return db.AppendEvent(w.Ctx, w.Tx, ev) }
	if res.Mode != db.CorrectionMove {
		a := res.Subscription.AdministrationID
		if err := emit(event.New("msp-token-subscription", event.Update, &a, out.Subscription)); err != nil {
			return out, err
		}
	}
	if res.NewSubscription != nil {
		v := view(*res.NewSubscription)
		out.NewSubscription = &v
		a := res.NewSubscription.AdministrationID
		if err := emit(event.New("msp-token-subscription", event.Create, &a, v)); err != nil {
			return out, err
		}
	}
	if res.Target != nil && res.NewSubscription == nil {
		v := view(*res.Target)
		out.TargetSubscription = &v
	}
	admin := before.AdministrationID
	target := admin
	if res.Target != nil {
		target = res.Target.AdministrationID
	}
	for _, l := range res.Updated {
		a := admin
		if l.SubscriptionID != before.ID {
			a = target
		}
		v := mspTokenLinkViewOf(db.MSPTokenLink{MspTokenLink: l, AdministrationID: a})
		out.Links = append(out.Links, v)
		if err := emit(event.New("msp-token-link", event.Update, &a, v)); err != nil {
			return out, err
		}
	}
	for _, l := range res.Created {
		a := target
		v := mspTokenLinkViewOf(db.MSPTokenLink{MspTokenLink: l, AdministrationID: a})
		out.Links = append(out.Links, v)
		if err := emit(event.New("msp-token-link", event.Create, &a, v)); err != nil {
			return out, err
		}
	}
	for _, r := range res.Repriced {
		out.RepricedSessionIDs = append(out.RepricedSessionIDs, r.ID)
	}
	return out, nil
}

// wakeRepricing wakes the worker for the sessions a correction sent back
// to pricing, after the commit (they are owed pricing in Postgres).
func (a *API) wakeRepricing(recs []db.ChargeSessionRecord) {
	if a.sessions != nil && slices.ContainsFunc(recs, func(r db.ChargeSessionRecord) bool { return r.State == session.ReadyForPricing }) {
		a.sessions.Wake()
	}
}
