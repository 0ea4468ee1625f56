package adminapi

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/rateplan"
)

// MSP pricing (issue 6 → MSP pricing; guide 003 → Rate plan, Charge
// Sessions): the rate-plan resource here; the read model
// msp-charge-session-priced (msp_charge_session_priced.go), the quote
// msp-charge-cost-calculation (charge_cost_calculation.go) and the
// pricing checks per administration and roaming partner
// (pricing_checks in charge_cost_calculation.go). Rate plans belong to the
// "token" permission family with the subscription plans that use them;
// priced sessions and pricing checks to "charge-session".

// mountPricing registers the MSP pricing routes.
func (a *API) mountPricing(v1 fiber.Router) {
	ratePlanResource().mount(a, v1)
	v1.Get("/msp-charge-session-priced", a.handle(sessionFamily, access.Read, listMSPPriced))
	v1.Get("/msp-charge-session-priced/:key", a.handle(sessionFamily, access.Read, getMSPPriced))
	v1.Get("/msp-charge-cost-calculation", a.handle(tokenFamily, access.Read, quoteChargeCost))
	for _, owner := range []string{"administration", "roaming-partner"} {
		v1.Get("/"+owner+"/:key/pricing-checks", a.handle(sessionFamily, access.Read, getPricingChecks(owner)))
		v1.Post("/"+owner+"/:key/pricing-checks", a.handle(sessionFamily, access.Write, postPricingChecks(owner)))
	}
}

// ratePlanView is a rate plan as the API returns it: its rules in the
// order they are evaluated, most specific first.
type ratePlanView struct {
	ID                      uuid.UUID       `json:"id"`
	AdministrationID        uuid.UUID       `json:"administration_id"`
	ExternalReference       *string         `json:"external_reference"`
	Name                    string          `json:"name"`
	Description             *string         `json:"description"`
	Currency                string          `json:"currency"`
	SharedAdministrationIDs []uuid.UUID     `json:"shared_administration_ids"`
	Rates                   []rateplan.Rate `json:"rates"`
	Rules                   []rateplan.Rule `json:"rules"`
	ExternalUpdatedAt       *time.Time      `json:"external_updated_at"`
	CreatedAt               time.Time       `json:"created_at"`
	UpdatedAt               time.Time       `json:"updated_at"`
}

type ratePlanInput struct {
	AdministrationID                *uuid.UUID      `json:"administration_id"`
	AdministrationExternalReference *string         `json:"administration_external_reference"`
	ExternalReference               *string         `json:"external_reference"`
	Name                            string          `json:"name"`
	Description                     *string         `json:"description" rn:"multiline"`
	Currency                        *string         `json:"currency"`
	SharedAdministrationIDs         []uuid.UUID     `json:"shared_administration_ids"`
	Rates                           []rateplan.Rate `json:"rates"`
	Rules                           []rateplan.Rule `json:"rules"`
	ExternalUpdatedAt               *time.Time      `json:"external_updated_at"`
}

func ratePlanViewOf(r db.RatePlan) ratePlanView {
	v := ratePlanView{ID: r.ID, AdministrationID: r.AdministrationID, ExternalReference: r.ExternalReference, Name: r.Name,
		Description: r.Description, Currency: r.Currency, SharedAdministrationIDs: r.SharedAdministrationIDs, Rates: r.Plan.Rates,
		Rules: rateplan.Ordered(r.Plan.Rules), ExternalUpdatedAt: utcPtr(r.ExternalUpdatedAt), CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: r.UpdatedAt.UTC()}
	if v.Rates == nil {
		v.Rates = []rateplan.Rate{}
	}
	if v.Rules == nil {
		v.Rules = []rateplan.Rule{}
	}
	for i := range v.Rates {
		if v.Rates[i].Components == nil {
			v.Rates[i].Components = []rateplan.Component{}
		}
	}
	return v
}

// ratePlanResource: a rate plan is owned by an administration and may be
// shared with others that use the same currency (guide 003 → Rate plan).
// Owner and currency are fixed at creation (the currency defaults to the
// owner's); an administration stays in shared_administration_ids while
// its subscription plans use the rate plan. Rates and rules are replaced
// as a whole by a merge-update (RFC 7396 replaces arrays) and validated
// with field paths (rates[0].components[1].price).
func ratePlanResource() *resource[db.RatePlan, ratePlanView, ratePlanInput] {
	return &resource[db.RatePlan, ratePlanView, ratePlanInput]{
		name: "rate-plan", table: "rate_plan", family: tokenFamily,
		filters:   []string{"administration_id", "currency", "external_reference"},
		implicit:  []string{"external_reference"},
		immutable: []string{"administration_id", "administration_external_reference"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (db.RatePlan, error) {
			return db.LoadRatePlan(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]db.RatePlan, error) {
			admin, err := filterUUID(a.Filters, "administration_id")
			if err != nil {
				return nil, err
			}
			var cur *string
			if c := filterString(a.Filters, "currency"); c != nil {
				u := strings.ToUpper(*c)
				cur = &u
			}
			return db.ListRatePlans(ctx, q, gen.ListRatePlansParams{AllAdmins: a.Account.AllAdministrations, AdminIds: nonNil(a.Account.AdministrationIDs),
				After: seek(a.After), AdministrationID: admin, Currency: cur, ExternalReference: filterString(a.Filters, "external_reference"),
				PageLimit: a.Limit})
		},
		view:  ratePlanViewOf,
		build: buildRatePlan,
		save:  db.SaveRatePlan,
		meta: func(r *db.RatePlan) meta {
			return meta{&r.ID, &r.ExternalReference, &r.ExternalUpdatedAt, &r.CreatedAt, &r.UpdatedAt}
		},
		scope: func(r db.RatePlan) *uuid.UUID { return &r.AdministrationID },
	}
}

func buildRatePlan(w writeCtx, in ratePlanInput, cur *db.RatePlan) (db.RatePlan, error) {
	var r db.RatePlan
	var fs fault.Fields
	if cur != nil {
		r = *cur
		if in.Currency != nil && !strings.EqualFold(*in.Currency, r.Currency) {
			fs.Add("currency", "cannot change: the rates are in %s", r.Currency)
		}
	} else {
		adm, err := resolveAdministration(w, in.AdministrationID, in.AdministrationExternalReference, "administration")
		if err != nil {
			return r, err
		}
		r.AdministrationID, r.Currency = adm.ID, adm.Currency
		if in.Currency != nil && !strings.EqualFold(*in.Currency, adm.Currency) {
			fs.Add("currency", "must be the administration's currency %s", adm.Currency)
		}
	}
	r.ExternalReference, r.Name, r.Description = in.ExternalReference, in.Name, in.Description
	if r.Name == "" {
		fs.Add("name", "is required")
	}
	checkMax(&fs, "name", r.Name, 200)
	r.Plan = rateplan.Plan{ID: r.ID, Currency: r.Currency, Rates: in.Rates, Rules: rateplan.Ordered(in.Rules)}
	if err := (rateplan.Plan{Currency: r.Currency, Rates: in.Rates, Rules: in.Rules}).Validate(); err != nil {
		if f, ok := fault.As(err); ok {
			fs = append(fs, f.Fields...)
		} else {
			return r, err
		}
	}
	shared, err := sharedAdministrations(w, r, in.SharedAdministrationIDs, &fs)
	if err != nil {
		return r, err
	}
	r.SharedAdministrationIDs = shared
	return r, fs.Err()
}

// sharedAdministrations checks the administrations a rate plan is shared
// with: existing, seen by the account, in the plan's currency, not the
// owner, listed once; and still listing those whose subscription plans
// use the rate plan.
func sharedAdministrations(w writeCtx, r db.RatePlan, ids []uuid.UUID, fs *fault.Fields) ([]uuid.UUID, error) {
	out := []uuid.UUID{}
	seen := map[uuid.UUID]bool{}
	cur, err := db.AdministrationCurrencies(w.Ctx, w.Tx, ids)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		path := "shared_administration_ids[" + strconv.Itoa(i) + "]"
		c, ok := cur[id]
		switch {
		case !ok:
			fs.Add(path, "no administration has this id")
		case !w.Account.Sees(id):
			fs.Add(path, "the API account has no access to this administration")
		case id == r.AdministrationID:
			fs.Add(path, "is the owner of the rate plan")
		case seen[id]:
			fs.Add(path, "is listed twice")
		case !strings.EqualFold(c, r.Currency):
			fs.Add(path, "uses %s; a rate plan is shared only with administrations of its currency %s", c, r.Currency)
		}
		seen[id] = true
		out = append(out, id)
	}
	if r.ID == uuid.Nil {
		return out, nil
	}
	using, err := db.AdministrationsUsingRatePlan(w.Ctx, w.Tx, r.ID)
	if err != nil {
		return nil, err
	}
	for _, a := range using {
		if a != r.AdministrationID && !seen[a] {
			fs.Add("shared_administration_ids", "must keep %s: its subscription plans use this rate plan", a)
		}
	}
	return out, nil
}
