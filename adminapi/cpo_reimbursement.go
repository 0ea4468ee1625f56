package adminapi

import (
	"context"
	"encoding/json"
	"net/url"
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
	"github.com/roamnode/roamnode/domain/location"
	"github.com/roamnode/roamnode/domain/period"
	"github.com/roamnode/roamnode/domain/reimbursement"
)

// CPO reimbursements (guide 003 → Charge Point Operators → Charge sessions
// → "Reimbursements"): cpo-reimbursement-plan (how the amount is found:
// the CMS provided reimbursement, or a calculation from cost components),
// cpo-reimbursement-arrangement (a customer on a plan for a period),
// cpo-reimbursement-link (an EVSE under an arrangement for a period), the
// calculation inputs of plans and arrangements
// (…/{id}/calculation-input/{valid_from}/{component_type}, as in the
// guide's changelog), and the read model cpo-charge-session-reimbursement
// of the results the reimbursement pricer stored. Guarded by the cpo
// family; scoped by the plan's, arrangement's or customer's administration.

// reimbursementFamily guards reimbursements: the cpo family, like our
// EVSEs they are about.
const reimbursementFamily = "cpo"

// chargeSessionResultFamily guards the read model of reimbursement
// results, like every pricing result of a charge session (and like their
// cpo-charge-session-reimbursement events).
const chargeSessionResultFamily = "charge-session"

// calculationInputKind is the event kind of calculation input writes.
const calculationInputKind = "cpo-reimbursement-calculation-input"

func (a *API) mountCPOReimbursements(v1 fiber.Router) {
	reimbursementPlanResource().mount(a, v1)
	reimbursementArrangementResource().mount(a, v1)
	reimbursementLinkResource().mount(a, v1)
	for _, owner := range []string{"cpo-reimbursement-plan", "cpo-reimbursement-arrangement"} {
		owner := owner
		v1.Get("/"+owner+"/:key/calculation-input", a.handle(reimbursementFamily, access.Read, func(c *fiber.Ctx, rq *request) error {
			return getCalculationInputs(c, rq, owner)
		}))
		v1.Put("/"+owner+"/:key/calculation-input/:valid_from/:component_type", a.handle(reimbursementFamily, access.Write, func(c *fiber.Ctx, rq *request) error {
			return putCalculationInput(c, rq, owner)
		}))
	}
	r := reimbursementReadModel() // read-only: results are written by the pricer
	v1.Get("/"+r.name, a.handle(r.family, access.Read, r.getList))
	v1.Get("/"+r.name+"/:key", a.handle(r.family, access.Read, r.getOne))
}

// ---- cpo-reimbursement-plan

type reimbursementPlanView struct {
	ID                uuid.UUID  `json:"id"`
	ExternalReference *string    `json:"external_reference"`
	AdministrationID  uuid.UUID  `json:"administration_id"`
	Name              string     `json:"name"`
	Calculation       string     `json:"calculation"`
	CostComponents    []string   `json:"cost_components"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

type reimbursementPlanInput struct {
	AdministrationID                *uuid.UUID `json:"administration_id"`
	AdministrationExternalReference *string    `json:"administration_external_reference"`
	ExternalReference               *string    `json:"external_reference"`
	Name                            string     `json:"name"`
	Calculation                     string     `json:"calculation"`
	CostComponents                  []string   `json:"cost_components"`
	ExternalUpdatedAt               *time.Time `json:"external_updated_at"`
}

// A reimbursement plan: "Reimbursements can be calculated in two ways,
// using a setting on the reimbursement plan" (calculation), and "Cost
// Components: the specific cost components available for calculations, as
// defined by the reimbursement plan" (cost_components). Its inputs are
// written through …/calculation-input. Plans are managed per
// administration; the administration never changes.
func reimbursementPlanResource() *resource[gen.CpoReimbursementPlan, reimbursementPlanView, reimbursementPlanInput] {
	return &resource[gen.CpoReimbursementPlan, reimbursementPlanView, reimbursementPlanInput]{
		name: "cpo-reimbursement-plan", table: "cpo_reimbursement_plan", family: reimbursementFamily,
		filters:   []string{"administration_id", "external_reference"},
		implicit:  []string{"external_reference"},
		immutable: []string{"administration_id", "administration_external_reference"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (gen.CpoReimbursementPlan, error) {
			return db.ReimbursementPlan(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]gen.CpoReimbursementPlan, error) {
			admin, err := filterUUID(a.Filters, "administration_id")
			if err != nil {
				return nil, err
			}
			return db.ListReimbursementPlans(ctx, q, gen.ListReimbursementPlansParams{AllAdmins: a.Account.AllAdministrations,
				AdminIds: nonNil(a.Account.AdministrationIDs), After: seek(a.After), AdministrationID: admin,
				ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit})
		},
		view: func(p gen.CpoReimbursementPlan) reimbursementPlanView {
			comps := p.CostComponents
			if comps == nil {
				comps = []string{}
			}
			return reimbursementPlanView{ID: p.ID, ExternalReference: p.ExternalReference, AdministrationID: p.AdministrationID, Name: p.Name,
				Calculation: p.Calculation, CostComponents: comps, ExternalUpdatedAt: utcPtr(p.ExternalUpdatedAt),
				CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
		},
		build: func(w writeCtx, in reimbursementPlanInput, cur *gen.CpoReimbursementPlan) (gen.CpoReimbursementPlan, error) {
			var p gen.CpoReimbursementPlan
			if cur != nil {
				p = *cur
			} else {
				adm, err := resolveAdministration(w, in.AdministrationID, in.AdministrationExternalReference, "administration")
				if err != nil {
					return p, err
				}
				p.AdministrationID = adm.ID
			}
			p.ExternalReference, p.Name, p.Calculation = in.ExternalReference, in.Name, in.Calculation
			p.CostComponents = []string{}
			comps := make([]reimbursement.Component, len(in.CostComponents))
			for i, c := range in.CostComponents {
				comps[i] = reimbursement.Component(c)
				p.CostComponents = append(p.CostComponents, c)
			}
			var fs fault.Fields
			if p.Name == "" {
				fs.Add("name", "is required")
			}
			if err := reimbursement.ValidatePlan(reimbursement.Calculation(in.Calculation), comps); err != nil {
				fs = appendFields(fs, err)
			}
			return p, fs.Err()
		},
		save: db.SaveReimbursementPlan,
		meta: func(p *gen.CpoReimbursementPlan) meta {
			return meta{&p.ID, &p.ExternalReference, &p.ExternalUpdatedAt, &p.CreatedAt, &p.UpdatedAt}
		},
		scope: func(p gen.CpoReimbursementPlan) *uuid.UUID { return &p.AdministrationID },
	}
}

// ---- cpo-reimbursement-arrangement

type reimbursementArrangementView struct {
	ID                uuid.UUID  `json:"id"`
	ExternalReference *string    `json:"external_reference"`
	AdministrationID  uuid.UUID  `json:"administration_id"`
	CustomerID        uuid.UUID  `json:"customer_id"`
	PlanID            uuid.UUID  `json:"plan_id"`
	ValidFrom         *time.Time `json:"valid_from"`
	ValidUntil        *time.Time `json:"valid_until"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

type reimbursementArrangementInput struct {
	CustomerID                *uuid.UUID `json:"customer_id"`
	CustomerExternalReference *string    `json:"customer_external_reference"`
	PlanID                    *uuid.UUID `json:"plan_id"`
	PlanExternalReference     *string    `json:"plan_external_reference"`
	ExternalReference         *string    `json:"external_reference"`
	ValidFrom                 *time.Time `json:"valid_from"`
	ValidUntil                *time.Time `json:"valid_until"`
	ExternalUpdatedAt         *time.Time `json:"external_updated_at"`
}

// A reimbursement arrangement: a customer (the site owner paid) on a plan
// of the customer's administration for a validity period. The customer
// never changes; the plan may (a plan switch takes effect for sessions
// priced afterwards). Its own calculation inputs take precedence over the
// plan's (…/calculation-input).
func reimbursementArrangementResource() *resource[gen.CpoReimbursementArrangement, reimbursementArrangementView, reimbursementArrangementInput] {
	return &resource[gen.CpoReimbursementArrangement, reimbursementArrangementView, reimbursementArrangementInput]{
		name: "cpo-reimbursement-arrangement", table: "cpo_reimbursement_arrangement", family: reimbursementFamily,
		filters:   []string{"customer_id", "plan_id", "external_reference", "valid_at"},
		implicit:  []string{"external_reference", "valid_from"},
		immutable: []string{"customer_id", "customer_external_reference"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (gen.CpoReimbursementArrangement, error) {
			return db.ReimbursementArrangement(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]gen.CpoReimbursementArrangement, error) {
			p := gen.ListReimbursementArrangementsParams{AllAdmins: a.Account.AllAdministrations, AdminIds: nonNil(a.Account.AdministrationIDs),
				After: seek(a.After), ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit}
			var err error
			if p.CustomerID, err = filterUUID(a.Filters, "customer_id"); err != nil {
				return nil, err
			}
			if p.PlanID, err = filterUUID(a.Filters, "plan_id"); err != nil {
				return nil, err
			}
			if p.ValidAt, err = filterTime(a.Filters, "valid_at"); err != nil {
				return nil, err
			}
			return db.ListReimbursementArrangements(ctx, q, p)
		},
		view: func(r gen.CpoReimbursementArrangement) reimbursementArrangementView {
			return reimbursementArrangementView{ID: r.ID, ExternalReference: r.ExternalReference, AdministrationID: r.AdministrationID,
				CustomerID: r.CustomerID, PlanID: r.PlanID, ValidFrom: utcPtr(r.ValidFrom), ValidUntil: utcPtr(r.ValidUntil),
				ExternalUpdatedAt: utcPtr(r.ExternalUpdatedAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
		},
		build: func(w writeCtx, in reimbursementArrangementInput, cur *gen.CpoReimbursementArrangement) (gen.CpoReimbursementArrangement, error) {
			var r gen.CpoReimbursementArrangement
			if cur != nil {
				r = *cur
			} else {
				c, err := resolveRef(w, in.CustomerID, in.CustomerExternalReference, "customer", func(id *uuid.UUID, ref string) (gen.Party, error) {
					cu, err := db.Customer(w.Ctx, w.Tx, id, ref, false)
					return gen.Party{ID: cu.ID, AdministrationID: &cu.AdministrationID}, err
				})
				if err != nil {
					return r, err
				}
				if !w.Account.Sees(*c.AdministrationID) {
					return r, forbidden("the API account has no access to the administration of this customer")
				}
				r.CustomerID, r.AdministrationID = c.ID, *c.AdministrationID
			}
			// The plan: given in the body (create, or a switch), else kept.
			if in.PlanID != nil || in.PlanExternalReference != nil || cur == nil {
				planID, planRef := in.PlanID, in.PlanExternalReference
				if cur != nil && planID != nil && planRef != nil && *planID == cur.PlanID {
					planID = nil // the merged view carries the current plan_id next to a new reference
				}
				p, err := resolveRef(w, planID, planRef, "plan", func(id *uuid.UUID, ref string) (gen.CpoReimbursementPlan, error) {
					return db.ReimbursementPlan(w.Ctx, w.Tx, id, ref, false)
				})
				if err != nil {
					return r, err
				}
				if p.AdministrationID != r.AdministrationID {
					return r, fault.Invalid("plan_id", "the plan belongs to another administration than the customer")
				}
				r.PlanID = p.ID
			}
			r.ExternalReference = in.ExternalReference
			r.ValidFrom, r.ValidUntil = period.Truncate(in.ValidFrom), period.Truncate(in.ValidUntil)
			var fs fault.Fields
			period.Check(&fs, "", r.ValidFrom, r.ValidUntil)
			return r, fs.Err()
		},
		save: db.SaveReimbursementArrangement,
		meta: func(r *gen.CpoReimbursementArrangement) meta {
			return meta{&r.ID, &r.ExternalReference, &r.ExternalUpdatedAt, &r.CreatedAt, &r.UpdatedAt}
		},
		scope: func(r gen.CpoReimbursementArrangement) *uuid.UUID { return &r.AdministrationID },
	}
}

// ---- cpo-reimbursement-link

type reimbursementLinkView struct {
	ID                uuid.UUID  `json:"id"`
	ExternalReference *string    `json:"external_reference"`
	ArrangementID     uuid.UUID  `json:"arrangement_id"`
	AdministrationID  uuid.UUID  `json:"administration_id"`
	EvseUID           string     `json:"evse_uid"`
	ValidFrom         *time.Time `json:"valid_from"`
	ValidUntil        *time.Time `json:"valid_until"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

type reimbursementLinkInput struct {
	ArrangementID                *uuid.UUID `json:"arrangement_id"`
	ArrangementExternalReference *string    `json:"arrangement_external_reference"`
	EvseUID                      string     `json:"evse_uid"`
	ExternalReference            *string    `json:"external_reference"`
	ValidFrom                    *time.Time `json:"valid_from"`
	ValidUntil                   *time.Time `json:"valid_until"`
	ExternalUpdatedAt            *time.Time `json:"external_updated_at"`
}

// A reimbursement link puts one of our EVSEs (by OCPI EVSE uid) under an
// arrangement for a period; one link per arrangement and EVSE at any
// instant. Arrangement and EVSE never change.
func reimbursementLinkResource() *resource[db.ReimbursementLink, reimbursementLinkView, reimbursementLinkInput] {
	return &resource[db.ReimbursementLink, reimbursementLinkView, reimbursementLinkInput]{
		name: "cpo-reimbursement-link", table: "cpo_reimbursement_link", family: reimbursementFamily,
		filters:   []string{"arrangement_id", "evse_uid", "external_reference", "valid_at"},
		implicit:  []string{"external_reference", "valid_from"},
		immutable: []string{"arrangement_id", "arrangement_external_reference", "evse_uid"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (db.ReimbursementLink, error) {
			return db.ReimbursementLinkOf(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]db.ReimbursementLink, error) {
			p := gen.ListReimbursementLinksParams{AllAdmins: a.Account.AllAdministrations, AdminIds: nonNil(a.Account.AdministrationIDs),
				After: seek(a.After), ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit}
			var err error
			if p.ArrangementID, err = filterUUID(a.Filters, "arrangement_id"); err != nil {
				return nil, err
			}
			if uid := filterString(a.Filters, "evse_uid"); uid != nil {
				k := location.KeyOf(*uid)
				p.EvseKey = &k
			}
			if p.ValidAt, err = filterTime(a.Filters, "valid_at"); err != nil {
				return nil, err
			}
			return db.ListReimbursementLinks(ctx, q, p)
		},
		view: func(l db.ReimbursementLink) reimbursementLinkView {
			return reimbursementLinkView{ID: l.ID, ExternalReference: l.ExternalReference, ArrangementID: l.ArrangementID,
				AdministrationID: l.AdministrationID, EvseUID: l.EvseUid, ValidFrom: utcPtr(l.ValidFrom), ValidUntil: utcPtr(l.ValidUntil),
				ExternalUpdatedAt: utcPtr(l.ExternalUpdatedAt), CreatedAt: l.CreatedAt.UTC(), UpdatedAt: l.UpdatedAt.UTC()}
		},
		build: func(w writeCtx, in reimbursementLinkInput, cur *db.ReimbursementLink) (db.ReimbursementLink, error) {
			var l db.ReimbursementLink
			if cur != nil {
				l = *cur
			} else {
				a, err := resolveRef(w, in.ArrangementID, in.ArrangementExternalReference, "arrangement", func(id *uuid.UUID, ref string) (gen.CpoReimbursementArrangement, error) {
					return db.ReimbursementArrangement(w.Ctx, w.Tx, id, ref, false)
				})
				if err != nil {
					return l, err
				}
				if !w.Account.Sees(a.AdministrationID) {
					return l, forbidden("the API account has no access to the administration of this arrangement")
				}
				if in.EvseUID == "" {
					return l, fault.Invalid("evse_uid", "is required")
				}
				e, err := db.CPOEVSEByUID(w.Ctx, w.Tx, in.EvseUID, "", false)
				if fault.Is(err, fault.KindNotFound) {
					return l, &fault.Error{Kind: fault.KindInvalid, Code: "reference_not_found", Message: "a referenced record does not exist",
						Fields: []fault.Field{{Path: "evse_uid", Message: "none of our EVSEs has this uid"}}}
				}
				if err != nil {
					return l, err
				}
				l.ArrangementID, l.AdministrationID, l.EvseID, l.EvseUid = a.ID, a.AdministrationID, e.ID, e.EVSE.UID
			}
			l.ExternalReference = in.ExternalReference
			l.ValidFrom, l.ValidUntil = period.Truncate(in.ValidFrom), period.Truncate(in.ValidUntil)
			var fs fault.Fields
			period.Check(&fs, "", l.ValidFrom, l.ValidUntil)
			return l, fs.Err()
		},
		save: db.SaveReimbursementLink,
		meta: func(l *db.ReimbursementLink) meta {
			return meta{&l.ID, &l.ExternalReference, &l.ExternalUpdatedAt, &l.CreatedAt, &l.UpdatedAt}
		},
		scope: func(l db.ReimbursementLink) *uuid.UUID { return &l.AdministrationID },
	}
}

// ---- calculation inputs

// calculationInputView is one calculation input.
type calculationInputView struct {
	ComponentType string    `json:"component_type"`
	ValidFrom     time.Time `json:"valid_from"`
	Value         Decimal   `json:"value"`
}

// calculationInputEvent is the data of a calculation input event.
type calculationInputEvent struct {
	PlanID        *uuid.UUID `json:"plan_id"`
	ArrangementID *uuid.UUID `json:"arrangement_id"`
	ComponentType string     `json:"component_type"`
	ValidFrom     time.Time  `json:"valid_from"`
	Value         *Decimal   `json:"value"`
}

// inputOwner resolves the plan or arrangement of a calculation-input path,
// checks the account's scope, and returns the owner, its administration
// and the cost components its inputs may price.
func inputOwner(ctx context.Context, q db.Querier, rq *request, owner, raw string, lock bool) (db.ReimbursementInputOwner, uuid.UUID, []reimbursement.Component, error) {
	k, err := parseKey(raw)
	if err != nil {
		return db.ReimbursementInputOwner{}, uuid.Nil, nil, err
	}
	var plan gen.CpoReimbursementPlan
	var o db.ReimbursementInputOwner
	if owner == "cpo-reimbursement-plan" {
		if plan, err = db.ReimbursementPlan(ctx, q, k.ID, k.Ref, lock); err != nil {
			return o, uuid.Nil, nil, err
		}
		o.PlanID = &plan.ID
	} else {
		a, err := db.ReimbursementArrangement(ctx, q, k.ID, k.Ref, lock)
		if err != nil {
			return o, uuid.Nil, nil, err
		}
		if plan, err = db.ReimbursementPlan(ctx, q, &a.PlanID, "", false); err != nil {
			return o, uuid.Nil, nil, err
		}
		o.ArrangementID = &a.ID
	}
	if !rq.account.Sees(plan.AdministrationID) {
		return o, uuid.Nil, nil, forbidden("the API account has no access to the administration of this " + strings.TrimPrefix(owner, "cpo-"))
	}
	comps := make([]reimbursement.Component, len(plan.CostComponents))
	for i, c := range plan.CostComponents {
		comps[i] = reimbursement.Component(c)
	}
	return o, plan.AdministrationID, comps, nil
}

// calculationInputList is the answer of the calculation-input endpoints:
// the owner's inputs in valid_from order (an object, like every Admin API
// answer, rather than the guide's bare array).
type calculationInputList struct {
	Items []calculationInputView `json:"items"`
}

func calculationInputViews(ins []reimbursement.Input) calculationInputList {
	out := calculationInputList{Items: make([]calculationInputView, len(ins))}
	for i, in := range ins {
		out.Items[i] = calculationInputView{ComponentType: string(in.Component), ValidFrom: in.ValidFrom.UTC(), Value: Decimal{in.Value}}
	}
	return out
}

// getCalculationInputs is GET /{plan|arrangement}/{key}/calculation-input:
// the owner's calculation inputs in valid_from order.
func getCalculationInputs(c *fiber.Ctx, rq *request, owner string) error {
	ctx := c.UserContext()
	o, _, _, err := inputOwner(ctx, rq.api.pool, rq, owner, c.Params("key"), false)
	if err != nil {
		return err
	}
	ins, err := db.ReimbursementInputs(ctx, rq.api.pool, o)
	if err != nil {
		return err
	}
	return c.JSON(calculationInputViews(ins))
}

// putCalculationInput is PUT /{plan|arrangement}/{key}/calculation-input/
// {valid_from}/{component_type} with {"value": "0.25"} to set the input,
// or {"value": null} to remove it (guide changelog: "inputs can now be
// removed by explicitly setting a value to null using the new PUT
// endpoints"). valid_from is truncated to the minute. The answer is the
// owner's inputs after the write; a change emits one event.
func putCalculationInput(c *fiber.Ctx, rq *request, owner string) error {
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	if unknown := unknownFields(b, []string{"value"}); len(unknown) > 0 {
		c.Set("X-RN-Unknown-Fields", strings.Join(unknown, ","))
	}
	raw, ok := b["value"]
	if !ok {
		return badRequest("invalid", "invalid input", field("value", `is required: a decimal string, or null to remove the input`))
	}
	remove := string(raw) == "null"
	var value Decimal
	if !remove {
		if err := json.Unmarshal(raw, &value); err != nil {
			return badRequest("invalid", "invalid input", field("value", err.Error()))
		}
	}
	vf, err := url.PathUnescape(c.Params("valid_from"))
	if err != nil {
		vf = c.Params("valid_from")
	}
	from, err := time.Parse(time.RFC3339, vf)
	if err != nil {
		return badRequest("invalid_parameter", "invalid path parameter", field("valid_from", "must be an RFC 3339 date-time"))
	}
	in := reimbursement.Input{Component: reimbursement.Component(c.Params("component_type")), ValidFrom: *period.Truncate(&from), Value: value.Decimal}
	ctx := c.UserContext()
	var out calculationInputList
	err = db.InTx(ctx, rq.api.pool, func(tx pgx.Tx) error {
		o, admin, comps, err := inputOwner(ctx, tx, rq, owner, c.Params("key"), true)
		if err != nil {
			return err
		}
		if !remove {
			if err := reimbursement.ValidateInput(in, comps); err != nil {
				return err
			}
		}
		before, err := db.ReimbursementInputs(ctx, tx, o)
		if err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		removed, err := db.SetReimbursementInput(ctx, tx, o, in, remove, now)
		if err != nil {
			return err
		}
		after, err := db.ReimbursementInputs(ctx, tx, o)
		if err != nil {
			return err
		}
		out = calculationInputViews(after)
		mod := event.Update
		switch {
		case remove && !removed:
			return nil // nothing to remove: no change, no event
		case remove:
			mod = event.Delete
		default:
			for _, x := range before {
				if x.Component == in.Component && x.ValidFrom.Equal(in.ValidFrom) && x.Value.Equal(in.Value) {
					return nil // already as requested
				}
			}
			if !hasInput(before, in) {
				mod = event.Create
			}
		}
		if err := db.TouchReimbursementOwner(ctx, tx, o, now); err != nil {
			return err
		}
		ev := calculationInputEvent{PlanID: o.PlanID, ArrangementID: o.ArrangementID, ComponentType: string(in.Component), ValidFrom: in.ValidFrom.UTC()}
		if !remove {
			ev.Value = &value
		}
		return db.AppendEvent(ctx, tx, event.New(calculationInputKind, mod, &admin, ev))
	})
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func hasInput(ins []reimbursement.Input, in reimbursement.Input) bool {
	for _, x := range ins {
		if x.Component == in.Component && x.ValidFrom.Equal(in.ValidFrom) {
			return true
		}
	}
	return false
}

// ---- cpo-charge-session-reimbursement (read model)

// reimbursementComponentView is a subtotal of a reimbursement.
type reimbursementComponentView struct {
	Component string  `json:"component"`
	Volume    Decimal `json:"volume"`
	Unit      string  `json:"unit"`
	ExclVAT   Decimal `json:"amount_excl_vat"`
	VATRate   Decimal `json:"vat_rate"`
	VAT       Decimal `json:"vat_amount"`
	InclVAT   Decimal `json:"amount_incl_vat"`
}

// chargeSessionReimbursementView is a reimbursement of a CPO charge
// session: one version of the result of one arrangement.
type chargeSessionReimbursementView struct {
	ID                           uuid.UUID                    `json:"id"`
	ChargeSessionID              uuid.UUID                    `json:"charge_session_id"`
	Version                      int                          `json:"version"`
	Reason                       string                       `json:"reason"`
	AdministrationID             uuid.UUID                    `json:"administration_id"`
	ArrangementID                uuid.UUID                    `json:"arrangement_id"`
	ArrangementExternalReference *string                      `json:"arrangement_external_reference"`
	CustomerID                   uuid.UUID                    `json:"customer_id"`
	CustomerExternalReference    *string                      `json:"customer_external_reference"`
	CountryCode                  string                       `json:"country_code"`
	PartyID                      string                       `json:"party_id"`
	CdrID                        string                       `json:"cdr_id"`
	EvseUID                      string                       `json:"evse_uid"`
	EvseID                       *string                      `json:"evse_id"`
	StartDateTime                time.Time                    `json:"start_date_time"`
	EndDateTime                  time.Time                    `json:"end_date_time"`
	TotalEnergy                  Decimal                      `json:"total_energy"`
	CurrencyCode                 string                       `json:"currency_code"`
	TotalAmountExclVAT           Decimal                      `json:"total_amount_excl_vat"`
	TotalVATAmount               Decimal                      `json:"total_vat_amount"`
	TotalAmountInclVAT           Decimal                      `json:"total_amount_incl_vat"`
	VATCountry                   *string                      `json:"vat_country"`
	VATKind                      *string                      `json:"vat_kind"`
	VATPercentage                *Decimal                     `json:"vat_percentage"`
	Components                   []reimbursementComponentView `json:"components"`
	Detail                       json.RawMessage              `json:"detail"`
	CreatedAt                    time.Time                    `json:"created_at"`
}

func chargeSessionReimbursementViewOf(r db.CPOChargeSessionReimbursement) chargeSessionReimbursementView {
	v := chargeSessionReimbursementView{ID: r.ID, ChargeSessionID: r.ChargeSessionID, Version: int(r.Version), Reason: r.Reason,
		AdministrationID: r.AdministrationID, ArrangementExternalReference: r.ArrangementExternalReference, CustomerID: r.CustomerID,
		CustomerExternalReference: r.CustomerExternalReference, CountryCode: r.CountryCode, PartyID: r.PartyID, CdrID: r.CdrID,
		EvseUID: r.EvseUid, EvseID: r.EvseID, StartDateTime: r.StartAt.UTC(), EndDateTime: r.EndAt.UTC(), TotalEnergy: Decimal{r.TotalEnergy},
		CurrencyCode: r.Currency, TotalAmountExclVAT: Decimal{r.ExclVat}, TotalVATAmount: Decimal{r.Vat}, TotalAmountInclVAT: Decimal{r.InclVat},
		Components: []reimbursementComponentView{}, Detail: json.RawMessage(r.Detail), CreatedAt: r.CreatedAt.UTC()}
	if r.SubjectID != nil {
		v.ArrangementID = *r.SubjectID
	}
	var comps []db.ComponentView
	if json.Unmarshal(r.Components, &comps) == nil {
		for _, c := range comps {
			v.Components = append(v.Components, reimbursementComponentView{Component: c.Component, Volume: Decimal{c.Volume}, Unit: c.Unit,
				ExclVAT: Decimal{c.ExclVAT}, VATRate: Decimal{c.VATRate}, VAT: Decimal{c.VAT}, InclVAT: Decimal{c.InclVAT}})
		}
	}
	var d reimbursement.Detail
	if json.Unmarshal(r.Detail, &d) == nil && d.VAT.Country != "" {
		country, kind := d.VAT.Country, string(d.VAT.Kind)
		v.VATCountry, v.VATKind, v.VATPercentage = &country, &kind, &Decimal{d.VAT.Percentage}
	}
	if len(v.Detail) == 0 {
		v.Detail = json.RawMessage(`{}`)
	}
	return v
}

// The read model of reimbursements (guide changelog: GET
// /cpo-charge-session-reimbursement, with EVSE, customer and arrangement
// information and vat_country, vat_kind, vat_percentage): every stored
// version of every reimbursement result, oldest first, scoped by the
// arrangement's administration. Filters: arrangement, customer, charge
// session, EVSE uid, and the period of the session start
// (start_gte ≤ start < start_lt).
func reimbursementReadModel() *resource[db.CPOChargeSessionReimbursement, chargeSessionReimbursementView, struct{}] {
	return &resource[db.CPOChargeSessionReimbursement, chargeSessionReimbursementView, struct{}]{
		name: "cpo-charge-session-reimbursement", table: "charge_session_price", family: chargeSessionResultFamily,
		filters: []string{"arrangement_id", "customer_id", "charge_session_id", "evse_uid", "start_gte", "start_lt"},
		load: func(ctx context.Context, q db.Querier, k key, _ bool) (db.CPOChargeSessionReimbursement, error) {
			if k.ID == nil {
				return db.CPOChargeSessionReimbursement{}, badRequest("invalid_parameter", "invalid path parameter", field("id", "must be a UUID"))
			}
			return db.CPOChargeSessionReimbursementByID(ctx, q, *k.ID)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]db.CPOChargeSessionReimbursement, error) {
			p := gen.ListCPOChargeSessionReimbursementsParams{AllAdmins: a.Account.AllAdministrations, AdminIds: nonNil(a.Account.AdministrationIDs),
				After: seek(a.After), EvseUid: filterString(a.Filters, "evse_uid"), PageLimit: a.Limit}
			var err error
			for name, dst := range map[string]**uuid.UUID{"arrangement_id": &p.ArrangementID, "customer_id": &p.CustomerID, "charge_session_id": &p.ChargeSessionID} {
				if *dst, err = filterUUID(a.Filters, name); err != nil {
					return nil, err
				}
			}
			if p.StartGte, err = filterTime(a.Filters, "start_gte"); err != nil {
				return nil, err
			}
			if p.StartLt, err = filterTime(a.Filters, "start_lt"); err != nil {
				return nil, err
			}
			return db.ListCPOChargeSessionReimbursements(ctx, q, p)
		},
		view: chargeSessionReimbursementViewOf,
		meta: func(r *db.CPOChargeSessionReimbursement) meta {
			var ref *string
			var eua *time.Time
			return meta{ID: &r.ID, ExternalReference: &ref, ExternalUpdatedAt: &eua, CreatedAt: &r.CreatedAt, UpdatedAt: &r.CreatedAt}
		},
		scope: func(r db.CPOChargeSessionReimbursement) *uuid.UUID { return &r.AdministrationID },
	}
}
