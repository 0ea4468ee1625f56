package adminapi

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/authrule"
	"github.com/roamnode/roamnode/domain/fault"
)

// msp-charge-authorization-rule: the MSP's charge authorization rules, the
// third condition of token validity (guide 003 → Token Validity; the rule
// itself is domain/authrule). A rule is owned by an administration and
// scoped to it, to one of its subscription plans or to one of its
// subscriptions; administration and scope never change. Permission family
// "token", like the tokens the rules govern. A change takes effect on every
// node for the next real-time authorization (db.AuthorizationRules).

type chargeAuthRuleView struct {
	ID                uuid.UUID  `json:"id"`
	AdministrationID  uuid.UUID  `json:"administration_id"`
	ExternalReference *string    `json:"external_reference"`
	Name              string     `json:"name"`
	Description       *string    `json:"description"`
	PlanID            *uuid.UUID `json:"plan_id"`
	SubscriptionID    *uuid.UUID `json:"subscription_id"`
	Effect            string     `json:"effect"`
	ValidFrom         *time.Time `json:"valid_from"`
	ValidUntil        *time.Time `json:"valid_until"`
	CPOCountryCodes   []string   `json:"cpo_country_codes"`
	CPOParties        []string   `json:"cpo_parties"`
	LocationIDs       []string   `json:"location_ids"`
	EVSEUIDs          []string   `json:"evse_uids"`
	DaysOfWeek        []string   `json:"days_of_week"`
	StartTime         *string    `json:"start_time"`
	EndTime           *string    `json:"end_time"`
	TimeZone          *string    `json:"time_zone"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

type chargeAuthRuleInput struct {
	AdministrationID                *uuid.UUID `json:"administration_id"`
	AdministrationExternalReference *string    `json:"administration_external_reference"`
	PlanID                          *uuid.UUID `json:"plan_id"`
	PlanExternalReference           *string    `json:"plan_external_reference"`
	SubscriptionID                  *uuid.UUID `json:"subscription_id"`
	SubscriptionExternalReference   *string    `json:"subscription_external_reference"`
	ExternalReference               *string    `json:"external_reference"`
	Name                            string     `json:"name"`
	Description                     *string    `json:"description" rn:"multiline"`
	Effect                          string     `json:"effect"`
	ValidFrom                       *time.Time `json:"valid_from"`
	ValidUntil                      *time.Time `json:"valid_until"`
	CPOCountryCodes                 []string   `json:"cpo_country_codes"`
	CPOParties                      []string   `json:"cpo_parties"`
	LocationIDs                     []string   `json:"location_ids"`
	EVSEUIDs                        []string   `json:"evse_uids"`
	DaysOfWeek                      []string   `json:"days_of_week"`
	StartTime                       *string    `json:"start_time"`
	EndTime                         *string    `json:"end_time"`
	TimeZone                        *string    `json:"time_zone"`
	ExternalUpdatedAt               *time.Time `json:"external_updated_at"`
}

func chargeAuthRuleViewOf(r gen.MspChargeAuthorizationRule) chargeAuthRuleView {
	return chargeAuthRuleView{ID: r.ID, AdministrationID: r.AdministrationID, ExternalReference: r.ExternalReference, Name: r.Name,
		Description: r.Description, PlanID: r.PlanID, SubscriptionID: r.SubscriptionID, Effect: r.Effect,
		ValidFrom: utcPtr(r.ValidFrom), ValidUntil: utcPtr(r.ValidUntil), CPOCountryCodes: nonNilStrings(r.CpoCountryCodes),
		CPOParties: nonNilStrings(r.CpoParties), LocationIDs: nonNilStrings(r.LocationIds), EVSEUIDs: nonNilStrings(r.EvseUids),
		DaysOfWeek: nonNilStrings(r.DaysOfWeek), StartTime: r.StartTime, EndTime: r.EndTime, TimeZone: r.TimeZone,
		ExternalUpdatedAt: utcPtr(r.ExternalUpdatedAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// mountChargeAuthorizationRules registers the resource.
func (a *API) mountChargeAuthorizationRules(v1 fiber.Router) {
	chargeAuthRuleResource().mount(a, v1)
}

func chargeAuthRuleResource() *resource[gen.MspChargeAuthorizationRule, chargeAuthRuleView, chargeAuthRuleInput] {
	return &resource[gen.MspChargeAuthorizationRule, chargeAuthRuleView, chargeAuthRuleInput]{
		name: "msp-charge-authorization-rule", table: "msp_charge_authorization_rule", family: tokenFamily,
		filters:  []string{"administration_id", "plan_id", "subscription_id", "effect", "external_reference", "valid_at"},
		implicit: []string{"external_reference"},
		immutable: []string{"administration_id", "administration_external_reference", "plan_id", "plan_external_reference",
			"subscription_id", "subscription_external_reference"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (gen.MspChargeAuthorizationRule, error) {
			return db.ChargeAuthorizationRule(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]gen.MspChargeAuthorizationRule, error) {
			p := gen.ListChargeAuthorizationRulesParams{AllAdmins: a.Account.AllAdministrations, AdminIds: nonNil(a.Account.AdministrationIDs),
				After: seek(a.After), Effect: filterString(a.Filters, "effect"), ExternalReference: filterString(a.Filters, "external_reference"),
				PageLimit: a.Limit}
			var err error
			if p.AdministrationID, err = filterUUID(a.Filters, "administration_id"); err != nil {
				return nil, err
			}
			if p.PlanID, err = filterUUID(a.Filters, "plan_id"); err != nil {
				return nil, err
			}
			if p.SubscriptionID, err = filterUUID(a.Filters, "subscription_id"); err != nil {
				return nil, err
			}
			if p.ValidAt, err = filterTime(a.Filters, "valid_at"); err != nil {
				return nil, err
			}
			return db.ListChargeAuthorizationRules(ctx, q, p)
		},
		view:  chargeAuthRuleViewOf,
		build: buildChargeAuthRule,
		save:  db.SaveChargeAuthorizationRule,
		meta: func(r *gen.MspChargeAuthorizationRule) meta {
			return meta{&r.ID, &r.ExternalReference, &r.ExternalUpdatedAt, &r.CreatedAt, &r.UpdatedAt}
		},
		scope: func(r gen.MspChargeAuthorizationRule) *uuid.UUID { return &r.AdministrationID },
	}
}

// buildChargeAuthRule applies the input to the current rule (nil on
// create): on create it resolves the scope — a subscription or a plan
// gives the administration, which must then agree with one given
// explicitly — and validates the rule with authrule.Compile, the same
// compilation real-time authorization uses, so a stored rule always
// compiles.
func buildChargeAuthRule(w writeCtx, in chargeAuthRuleInput, cur *gen.MspChargeAuthorizationRule) (gen.MspChargeAuthorizationRule, error) {
	var r gen.MspChargeAuthorizationRule
	if cur != nil {
		r = *cur
	} else {
		var scopeAdmin *uuid.UUID
		switch {
		case in.SubscriptionID != nil || in.SubscriptionExternalReference != nil:
			s, err := resolveRef(w, in.SubscriptionID, in.SubscriptionExternalReference, "subscription", func(id *uuid.UUID, ref string) (gen.MspTokenSubscription, error) {
				return db.MSPTokenSubscription(w.Ctx, w.Tx, id, ref, false)
			})
			if err != nil {
				return r, err
			}
			r.SubscriptionID, scopeAdmin = &s.ID, &s.AdministrationID
		case in.PlanID != nil || in.PlanExternalReference != nil:
			p, err := resolveRef(w, in.PlanID, in.PlanExternalReference, "plan", func(id *uuid.UUID, ref string) (gen.MspTokenSubscriptionPlan, error) {
				return db.MSPTokenSubscriptionPlan(w.Ctx, w.Tx, id, ref, false)
			})
			if err != nil {
				return r, err
			}
			r.PlanID, scopeAdmin = &p.ID, &p.AdministrationID
		}
		if (in.PlanID != nil || in.PlanExternalReference != nil) && r.SubscriptionID != nil {
			return r, fault.Invalid("plan_id", "a rule applies to the administration, one plan or one subscription: give at most one of plan and subscription")
		}
		switch {
		case in.AdministrationID == nil && in.AdministrationExternalReference == nil && scopeAdmin != nil:
			r.AdministrationID = *scopeAdmin
		default:
			adm, err := resolveAdministration(w, in.AdministrationID, in.AdministrationExternalReference, "administration")
			if err != nil {
				return r, err
			}
			if scopeAdmin != nil && *scopeAdmin != adm.ID {
				return r, fault.Invalid("administration_id", "the plan or subscription belongs to another administration")
			}
			r.AdministrationID = adm.ID
		}
		if !w.Account.Sees(r.AdministrationID) {
			return r, forbidden("the API account has no access to this administration")
		}
	}
	spec := authrule.Normalize(authrule.Spec{ID: r.ID, AdministrationID: r.AdministrationID, PlanID: r.PlanID, SubscriptionID: r.SubscriptionID,
		Effect: in.Effect, ValidFrom: in.ValidFrom, ValidUntil: in.ValidUntil, CountryCodes: in.CPOCountryCodes, Parties: in.CPOParties,
		LocationIDs: in.LocationIDs, EVSEUIDs: in.EVSEUIDs, DaysOfWeek: in.DaysOfWeek, StartTime: in.StartTime, EndTime: in.EndTime,
		TimeZone: in.TimeZone})
	r.ExternalReference, r.Name, r.Description, r.Effect = in.ExternalReference, in.Name, in.Description, spec.Effect
	r.ValidFrom, r.ValidUntil = spec.ValidFrom, spec.ValidUntil
	r.CpoCountryCodes, r.CpoParties, r.LocationIds, r.EvseUids, r.DaysOfWeek = spec.CountryCodes, spec.Parties, spec.LocationIDs, spec.EVSEUIDs, spec.DaysOfWeek
	r.StartTime, r.EndTime, r.TimeZone = spec.StartTime, spec.EndTime, spec.TimeZone
	var fs fault.Fields
	if r.Name == "" {
		fs.Add("name", "is required: what the rule is for")
	}
	checkMax(&fs, "name", r.Name, 200)
	if _, err := authrule.Compile(spec); err != nil {
		if f, ok := fault.As(err); ok {
			fs = append(fs, f.Fields...)
		} else {
			return r, err
		}
	}
	return r, fs.Err()
}
