package adminapi

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
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
	"github.com/roamnode/roamnode/domain/iso"
	"github.com/roamnode/roamnode/domain/period"
	"github.com/roamnode/roamnode/domain/vat"
)

// The VAT configuration of guide 003 → Billing and VAT → "Determining VAT":
// vat-rate (step 3: a percentage per country and VAT kind, with validity),
// vat-rule (step 2: the VAT kind per product category, optionally VAT
// country and VAT indicators, with validity) and each seller's VAT policy
// (step 1: origin or seller country per foreign country, and the fallback
// for a country without a policy). Rates and rules are instance-wide and,
// like sellers, guarded by the seller permission family; records are
// validated by domain/vat, the package that applies them.

// vatFamily guards the VAT configuration: it is the seller's ("Each seller
// within TandemDrive can set VAT policies", guide "VAT Country
// determination").
const vatFamily = "seller"

// sellerVATPolicyKind is the event kind of seller VAT policy writes.
const sellerVATPolicyKind = "seller-vat-policy"

func (a *API) mountVAT(v1 fiber.Router) {
	vatRateResource().mount(a, v1)
	vatRuleResource().mount(a, v1)
	v1.Get("/seller/:key/vat-policy", a.handle(vatFamily, access.Read, getSellerVATPolicy))
	v1.Post("/seller/:key/vat-policy", a.handle(vatFamily, access.Write, mergeSellerVATPolicy))
}

// ---- vat-rate

type vatRateView struct {
	ID                uuid.UUID  `json:"id"`
	ExternalReference *string    `json:"external_reference"`
	Country           string     `json:"country"`
	Kind              string     `json:"kind"`
	Percentage        Decimal    `json:"percentage"`
	ValidFrom         *time.Time `json:"valid_from"`
	ValidUntil        *time.Time `json:"valid_until"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

type vatRateInput struct {
	ExternalReference *string    `json:"external_reference"`
	Country           string     `json:"country"`
	Kind              string     `json:"kind"`
	Percentage        *Decimal   `json:"percentage"`
	ValidFrom         *time.Time `json:"valid_from"`
	ValidUntil        *time.Time `json:"valid_until"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
}

func vatRateViewOf(r gen.VatRate) vatRateView {
	return vatRateView{ID: r.ID, ExternalReference: r.ExternalReference, Country: r.Country, Kind: r.Kind,
		Percentage: Decimal{r.Percentage}, ValidFrom: utcPtr(r.ValidFrom), ValidUntil: utcPtr(r.ValidUntil),
		ExternalUpdatedAt: utcPtr(r.ExternalUpdatedAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// A VAT rate: "A VAT rate defines the VAT percentage for a specific country
// and VAT kind … VAT rates have validity periods, allowing for percentage
// changes over time" (guide, "VAT"). One rate per country and kind at any
// instant; a change of percentage is a new rate starting where the old one
// ends.
func vatRateResource() *resource[gen.VatRate, vatRateView, vatRateInput] {
	return &resource[gen.VatRate, vatRateView, vatRateInput]{
		name: "vat-rate", table: "vat_rate", family: vatFamily,
		filters:  []string{"country", "kind", "external_reference", "valid_at"},
		implicit: []string{"external_reference", "valid_from"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (gen.VatRate, error) {
			return db.VATRate(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]gen.VatRate, error) {
			p := gen.ListVATRatesParams{After: seek(a.After), Kind: filterString(a.Filters, "kind"),
				ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit}
			var err error
			if p.Country, err = filterChecked(a.Filters, "country", iso.Country, "an ISO 3166-1 alpha-2 country code"); err != nil {
				return nil, err
			}
			if p.ValidAt, err = filterTime(a.Filters, "valid_at"); err != nil {
				return nil, err
			}
			return db.ListVATRates(ctx, q, p)
		},
		view: vatRateViewOf,
		build: func(w writeCtx, in vatRateInput, cur *gen.VatRate) (gen.VatRate, error) {
			var r gen.VatRate
			if cur != nil {
				r = *cur
			}
			r.ExternalReference, r.Kind = in.ExternalReference, in.Kind
			r.Country, _ = vat.NormalizeCountry(in.Country)
			r.ValidFrom, r.ValidUntil = period.Truncate(in.ValidFrom), period.Truncate(in.ValidUntil)
			var fs fault.Fields
			if in.Percentage == nil {
				fs.Add("percentage", "is required")
			} else {
				r.Percentage = in.Percentage.Decimal
			}
			if err := db.VATRateOf(r).Validate(); err != nil {
				fs = appendFields(fs, err)
			}
			return r, fs.Err()
		},
		save: db.SaveVATRate,
		meta: func(r *gen.VatRate) meta {
			return meta{&r.ID, &r.ExternalReference, &r.ExternalUpdatedAt, &r.CreatedAt, &r.UpdatedAt}
		},
		scope: func(gen.VatRate) *uuid.UUID { return nil },
	}
}

// ---- vat-rule

type vatRuleView struct {
	ID                uuid.UUID  `json:"id"`
	ExternalReference *string    `json:"external_reference"`
	ProductCategory   string     `json:"product_category"`
	Country           *string    `json:"country"`
	Indicators        []string   `json:"indicators"`
	Kind              string     `json:"kind"`
	ValidFrom         *time.Time `json:"valid_from"`
	ValidUntil        *time.Time `json:"valid_until"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

type vatRuleInput struct {
	ExternalReference *string    `json:"external_reference"`
	ProductCategory   string     `json:"product_category"`
	Country           *string    `json:"country"`
	Indicators        []string   `json:"indicators"`
	Kind              string     `json:"kind"`
	ValidFrom         *time.Time `json:"valid_from"`
	ValidUntil        *time.Time `json:"valid_until"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
}

func vatRuleViewOf(r gen.VatRule) vatRuleView {
	ind := r.Indicators
	if ind == nil {
		ind = []string{}
	}
	return vatRuleView{ID: r.ID, ExternalReference: r.ExternalReference, ProductCategory: r.ProductCategory, Country: r.Country,
		Indicators: ind, Kind: r.Kind, ValidFrom: utcPtr(r.ValidFrom), ValidUntil: utcPtr(r.ValidUntil),
		ExternalUpdatedAt: utcPtr(r.ExternalUpdatedAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// A VAT rule: "VAT rules select the appropriate VAT kind for each item,
// based on the product category, and optionally the VAT country or VAT
// indicators … VAT rules have specific validity periods" (guide, "VAT
// kind"). The most specific matching rule wins (domain/vat.SelectKind);
// two rules of one category with the same country and indicators at the
// same instant would always tie, so the second is refused.
func vatRuleResource() *resource[gen.VatRule, vatRuleView, vatRuleInput] {
	return &resource[gen.VatRule, vatRuleView, vatRuleInput]{
		name: "vat-rule", table: "vat_rule", family: vatFamily,
		filters:  []string{"product_category", "country", "kind", "external_reference", "valid_at"},
		implicit: []string{"external_reference", "valid_from"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (gen.VatRule, error) {
			return db.VATRule(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]gen.VatRule, error) {
			p := gen.ListVATRulesParams{After: seek(a.After), ProductCategory: filterString(a.Filters, "product_category"),
				Kind: filterString(a.Filters, "kind"), ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit}
			var err error
			if p.Country, err = filterChecked(a.Filters, "country", iso.Country, "an ISO 3166-1 alpha-2 country code"); err != nil {
				return nil, err
			}
			if p.ValidAt, err = filterTime(a.Filters, "valid_at"); err != nil {
				return nil, err
			}
			return db.ListVATRules(ctx, q, p)
		},
		view: vatRuleViewOf,
		build: func(w writeCtx, in vatRuleInput, cur *gen.VatRule) (gen.VatRule, error) {
			var r gen.VatRule
			if cur != nil {
				r = *cur
			}
			r.ExternalReference, r.ProductCategory, r.Kind = in.ExternalReference, in.ProductCategory, in.Kind
			r.Country = nil
			if in.Country != nil && *in.Country != "" {
				c, _ := vat.NormalizeCountry(*in.Country)
				r.Country = &c
			}
			var fs fault.Fields
			r.Indicators = []string{}
			for i, ind := range in.Indicators {
				if ind == "" {
					fs.Add("indicators["+strconv.Itoa(i)+"]", "must not be empty")
					continue
				}
				r.Indicators = append(r.Indicators, ind)
			}
			r.ValidFrom, r.ValidUntil = period.Truncate(in.ValidFrom), period.Truncate(in.ValidUntil)
			if err := db.VATRuleOf(r).Validate(); err != nil {
				fs = appendFields(fs, err)
			}
			for i := range fs {
				if fs[i].Path == "category" { // the domain's name of product_category
					fs[i].Path = "product_category"
				}
			}
			return r, fs.Err()
		},
		save: db.SaveVATRule,
		meta: func(r *gen.VatRule) meta {
			return meta{&r.ID, &r.ExternalReference, &r.ExternalUpdatedAt, &r.CreatedAt, &r.UpdatedAt}
		},
		scope: func(gen.VatRule) *uuid.UUID { return nil },
	}
}

// ---- seller VAT policy

// sellerVATPolicyView is a seller's VAT policy as the API returns it.
// vat_country is the seller's own country (set on the seller); created_at
// and updated_at are null until the policy is first written.
type sellerVATPolicyView struct {
	SellerID          uuid.UUID         `json:"seller_id"`
	VATCountry        string            `json:"vat_country"`
	Fallback          string            `json:"fallback"`
	EUReverseCharge   bool              `json:"eu_reverse_charge"`
	CountryPolicies   map[string]string `json:"country_policies"`
	ExternalUpdatedAt *time.Time        `json:"external_updated_at"`
	CreatedAt         *time.Time        `json:"created_at"`
	UpdatedAt         *time.Time        `json:"updated_at"`
}

// sellerVATPolicyInput is what a merge-update accepts.
type sellerVATPolicyInput struct {
	Fallback          string            `json:"fallback"`
	EUReverseCharge   bool              `json:"eu_reverse_charge"`
	CountryPolicies   map[string]string `json:"country_policies"`
	ExternalUpdatedAt *time.Time        `json:"external_updated_at"`
}

func sellerVATPolicyViewOf(p db.SellerVATPolicy) sellerVATPolicyView {
	pols := make(map[string]string, len(p.Policy.Policies))
	for c, pol := range p.Policy.Policies {
		pols[c] = string(pol)
	}
	return sellerVATPolicyView{SellerID: p.SellerID, VATCountry: p.Policy.Country, Fallback: string(p.Policy.Fallback),
		EUReverseCharge: p.Policy.EUReverseCharge, CountryPolicies: pols, ExternalUpdatedAt: utcPtr(p.ExternalUpdatedAt),
		CreatedAt: utcPtr(p.CreatedAt), UpdatedAt: utcPtr(p.UpdatedAt)}
}

// resolveSeller turns a path key (id or ext_ref.X) into a seller id.
func resolveSeller(ctx context.Context, q db.Querier, raw string) (uuid.UUID, error) {
	k, err := parseKey(raw)
	if err != nil {
		return uuid.Nil, err
	}
	s, err := db.Seller(ctx, q, k.ID, k.Ref, false)
	if err != nil {
		return uuid.Nil, err
	}
	return s.ID, nil
}

// getSellerVATPolicy is GET /seller/{key}/vat-policy: the policy, or the
// default (no country policies, fallback "error") when none was written.
func getSellerVATPolicy(c *fiber.Ctx, rq *request) error {
	ctx := c.UserContext()
	id, err := resolveSeller(ctx, rq.api.pool, c.Params("key"))
	if err != nil {
		return err
	}
	p, err := db.LoadSellerVATPolicy(ctx, rq.api.pool, id, false)
	if err != nil {
		return err
	}
	return c.JSON(sellerVATPolicyViewOf(p))
}

// mergeSellerVATPolicy is POST /seller/{key}/vat-policy: a merge-update
// (RFC 7396, so {"country_policies": {"DE": null}} removes Germany's
// policy) that creates the policy on first write (201), with stale-update
// prevention by external_updated_at and one outbox event per change, like
// every other merge endpoint (003 → Merge endpoints).
func mergeSellerVATPolicy(c *fiber.Ctx, rq *request) error {
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	if unknown := unknownFields(b, jsonNames(sellerVATPolicyInput{}), jsonNames(sellerVATPolicyView{})); len(unknown) > 0 {
		c.Set("X-RN-Unknown-Fields", strings.Join(unknown, ","))
	}
	var eua *time.Time
	if raw, ok := b["external_updated_at"]; ok && string(raw) != "null" {
		var t time.Time
		if err := json.Unmarshal(raw, &t); err != nil {
			return badRequest("invalid", "invalid input", field("external_updated_at", "must be an RFC 3339 date-time"))
		}
		if t.After(time.Now().Add(staleFuture)) {
			return badRequest("invalid", "invalid input", field("external_updated_at", "must not be in the future"))
		}
		eua = &t
	}
	ctx := c.UserContext()
	var (
		out    json.RawMessage
		status = fiber.StatusOK
		stale  bool
	)
	err = db.InTx(ctx, rq.api.pool, func(tx pgx.Tx) error {
		id, err := resolveSeller(ctx, tx, c.Params("key"))
		if err != nil {
			return err
		}
		cur, err := db.LoadSellerVATPolicy(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if eua != nil && cur.ExternalUpdatedAt != nil && eua.Before(*cur.ExternalUpdatedAt) {
			stale = true // 003 → Stale update prevention: older than stored → ignored
			return nil
		}
		before, err := json.Marshal(sellerVATPolicyViewOf(cur))
		if err != nil {
			return err
		}
		merged, err := mergeDoc(before, b, []string{"seller_id", "vat_country", "created_at", "updated_at"})
		if err != nil {
			return err
		}
		var in sellerVATPolicyInput
		if err := decodeInto(merged, &in); err != nil {
			return err
		}
		next := cur
		next.Policy.Fallback, next.Policy.EUReverseCharge = vat.Fallback(in.Fallback), in.EUReverseCharge
		next.Policy.Policies = map[string]vat.CountryPolicy{}
		var fs fault.Fields
		for _, cc := range sortedKeys(in.CountryPolicies) {
			n, _ := vat.NormalizeCountry(cc)
			if _, dup := next.Policy.Policies[n]; dup {
				fs.Add("country_policies."+cc, "names the same country as another key")
			}
			if n == next.Policy.Country {
				fs.Add("country_policies."+cc, "is the seller's own VAT country, which always applies its own VAT")
			}
			next.Policy.Policies[n] = vat.CountryPolicy(in.CountryPolicies[cc])
		}
		if err := next.Policy.ValidatePolicy(); err != nil {
			for _, f := range appendFields(nil, err) {
				if rest, ok := strings.CutPrefix(f.Path, "policies."); ok { // the domain's name of country_policies
					f.Path = "country_policies." + rest
				}
				fs = append(fs, f)
			}
		}
		if err := fs.Err(); err != nil {
			return err
		}
		if eua != nil {
			next.ExternalUpdatedAt = eua
		}
		after, err := json.Marshal(sellerVATPolicyViewOf(next))
		if err != nil {
			return err
		}
		if cur.Stored && string(before) == string(after) {
			out = withStale(after, false) // nothing changed: no write, no event
			return nil
		}
		now := time.Now().UTC().Truncate(time.Microsecond) // what Postgres keeps
		mod := event.Update
		if !cur.Stored {
			next.CreatedAt, mod, status = &now, event.Create, fiber.StatusCreated
		}
		next.UpdatedAt, next.Stored = &now, true
		if err := db.SaveSellerVATPolicy(ctx, tx, next); err != nil {
			return err
		}
		v := sellerVATPolicyViewOf(next)
		saved, err := json.Marshal(v)
		if err != nil {
			return err
		}
		out = withStale(saved, false)
		return db.AppendEvent(ctx, tx, event.New(sellerVATPolicyKind, mod, nil, v))
	})
	if err != nil {
		return err
	}
	if stale {
		c.Set("X-RN-Stale-Update", "true")
		return c.SendStatus(fiber.StatusNoContent)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(status).Send(out)
}

// appendFields adds the field problems of a domain error to fs; an error
// without fields becomes one problem without a path.
func appendFields(fs fault.Fields, err error) fault.Fields {
	if e, ok := fault.As(err); ok && len(e.Fields) > 0 {
		return append(fs, e.Fields...)
	}
	return append(fs, fault.Field{Message: err.Error()})
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
