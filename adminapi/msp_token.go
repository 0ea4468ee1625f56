package adminapi

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/token"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// The MSP token model (guide 003 → Mobility Service Provider, eMobility
// identifiers, Validity periods): msp-token, msp-token-subscription-plan,
// msp-token-subscription and msp-token-link, and the EVCO ID validator. A
// token is valid exactly when a live link covers the instant, that link's
// subscription is live and covers it too, and the charge authorization
// rules permit it (domain/token.Evaluate). All four are in the "token"
// permission family.

// tokenFamily is the permission family of the MSP token resources.
const tokenFamily = "token"

// mountMSPToken registers the MSP token resources.
func (a *API) mountMSPToken(v1 fiber.Router) {
	mspTokenResource().mount(a, v1)
	mspTokenPlanResource().mount(a, v1)
	mspTokenSubscriptionResource().mount(a, v1)
	mspTokenLinkResource().mount(a, v1)
	v1.Post("/msp-token-evco-id/validate", a.handle(tokenFamily, access.Read, validateEVCOID))
}

// ---- msp-token

// mspTokenView is a token as the API returns it.
type mspTokenView struct {
	ID                uuid.UUID `json:"id"`
	AdministrationID  uuid.UUID `json:"administration_id"`
	ExternalReference *string   `json:"external_reference"`
	EVCOID            string    `json:"evco_id"`
	EVCOIDFormatted   string    `json:"evco_id_formatted"`
	CountryCode       string    `json:"country_code"`
	PartyID           string    `json:"party_id"`
	UID               string    `json:"uid"`
	Type              string    `json:"type"`
	FormFactor        *string   `json:"form_factor"`
	Brand             *string   `json:"brand"`
	Issuer            string    `json:"issuer"`
	VisualNumber      *string   `json:"visual_number"`
	GroupID           *string   `json:"group_id"`
	Language          *string   `json:"language"`
	Whitelist         *string   `json:"whitelist"`
	// DefaultProfileType and EnergyContract are the OCPI Token fields of
	// the same names (the driver's preferences), null when not set.
	DefaultProfileType *string                `json:"default_profile_type"`
	EnergyContract     *mspEnergyContractView `json:"energy_contract"`
	ExternalUpdatedAt  *time.Time             `json:"external_updated_at"`
	CreatedAt          time.Time              `json:"created_at"`
	UpdatedAt          time.Time              `json:"updated_at"`
}

// mspEnergyContractView is OCPI EnergyContract.
type mspEnergyContractView struct {
	SupplierName string  `json:"supplier_name"`
	ContractID   *string `json:"contract_id"`
}

type mspTokenInput struct {
	AdministrationID                *uuid.UUID              `json:"administration_id"`
	AdministrationExternalReference *string                 `json:"administration_external_reference"`
	ExternalReference               *string                 `json:"external_reference"`
	EVCOID                          string                  `json:"evco_id"`
	UID                             string                  `json:"uid"`
	Type                            string                  `json:"type"`
	FormFactor                      *string                 `json:"form_factor"`
	Brand                           *string                 `json:"brand"`
	Issuer                          *string                 `json:"issuer"`
	VisualNumber                    *string                 `json:"visual_number"`
	GroupID                         *string                 `json:"group_id"`
	Language                        *string                 `json:"language"`
	Whitelist                       *string                 `json:"whitelist"`
	DefaultProfileType              *string                 `json:"default_profile_type"`
	EnergyContract                  *mspEnergyContractInput `json:"energy_contract"`
	ExternalUpdatedAt               *time.Time              `json:"external_updated_at"`
}

// mspEnergyContractInput is energy_contract as given. It decodes itself
// field by field so that a problem inside names its own path
// (energy_contract.supplier_name); build reports them.
type mspEnergyContractInput struct {
	SupplierName, ContractID *string
	problems                 fault.Fields
}

func (e *mspEnergyContractInput) UnmarshalJSON(raw []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return err // not an object: reported on energy_contract
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		var dst **string
		switch k {
		case "supplier_name":
			dst = &e.SupplierName
		case "contract_id":
			dst = &e.ContractID
		default:
			e.problems.Add("energy_contract."+k, "is not a field of energy_contract (supplier_name, contract_id)")
			continue
		}
		if err := json.Unmarshal(m[k], dst); err != nil {
			e.problems.Add("energy_contract."+k, "must be a string or null")
			continue
		}
		if *dst != nil {
			if v := strings.TrimSpace(**dst); v == "" {
				*dst = nil
			} else {
				*dst = &v
			}
		}
	}
	return nil
}

// profileTypes are the OCPI ProfileType values (mod_sessions → ProfileType).
var profileTypes = []string{"CHEAP", "FAST", "GREEN", "REGULAR"}

// formFactors are the physical (or virtual) forms of a token (guide
// changelog v2.45.0 "form_factor"; card and keychain are the RFID ones).
var formFactors = []string{"card", "keychain", "sticker", "virtual", "other"}

// mspTokenViewOf renders a token.
func mspTokenViewOf(t gen.MspToken) mspTokenView {
	formatted := t.EvcoID
	if id, err := token.ParseEVCOID(t.EvcoID); err == nil {
		formatted = id.Formatted()
	}
	return mspTokenView{ID: t.ID, AdministrationID: t.AdministrationID, ExternalReference: t.ExternalReference, EVCOID: t.EvcoID,
		EVCOIDFormatted: formatted, CountryCode: t.CountryCode, PartyID: t.PartyID, UID: t.Uid, Type: t.Type,
		FormFactor: t.FormFactor, Brand: t.Brand, Issuer: t.Issuer, VisualNumber: t.VisualNumber, GroupID: t.GroupID,
		Language: t.Language, Whitelist: t.Whitelist, DefaultProfileType: t.DefaultProfileType, EnergyContract: energyContractView(t),
		ExternalUpdatedAt: utcPtr(t.ExternalUpdatedAt), CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
}

func energyContractView(t gen.MspToken) *mspEnergyContractView {
	if t.EnergyContractSupplierName == nil {
		return nil
	}
	return &mspEnergyContractView{SupplierName: *t.EnergyContractSupplierName, ContractID: t.EnergyContractContractID}
}

// setProfile validates and sets default_profile_type and energy_contract
// (OCPI Token: ProfileType; EnergyContract with supplier_name string(64)
// required and contract_id string(64) optional).
func setProfile(fs *fault.Fields, t *gen.MspToken, in mspTokenInput) {
	t.DefaultProfileType = in.DefaultProfileType
	if t.DefaultProfileType != nil && !contains(profileTypes, *t.DefaultProfileType) {
		fs.Add("default_profile_type", "must be one of CHEAP, FAST, GREEN, REGULAR, or null")
	}
	t.EnergyContractSupplierName, t.EnergyContractContractID = nil, nil
	c := in.EnergyContract
	if c == nil {
		return
	}
	for _, f := range c.problems {
		fs.Add(f.Path, "%s", f.Message)
	}
	if len(c.problems) > 0 {
		return
	}
	check := func(path string, v *string) {
		if v == nil {
			return
		}
		checkMax(fs, path, *v, 64)
		if !ocpi.IsPrintableString(*v) {
			fs.Add(path, "must be printable text without control characters")
		}
	}
	if c.SupplierName == nil {
		fs.Add("energy_contract.supplier_name", "is required (OCPI EnergyContract.supplier_name): the driver's energy supplier")
	}
	check("energy_contract.supplier_name", c.SupplierName)
	check("energy_contract.contract_id", c.ContractID)
	t.EnergyContractSupplierName, t.EnergyContractContractID = c.SupplierName, c.ContractID
}

// A token belongs to one administration. Its EVCO ID, UID and type are its
// identity (the EVCO ID in the guide, uid+type in OCPI, where CPOs cache
// tokens by them) and never change after creation.
func mspTokenResource() *resource[gen.MspToken, mspTokenView, mspTokenInput] {
	return &resource[gen.MspToken, mspTokenView, mspTokenInput]{
		name: "msp-token", table: "msp_token", family: tokenFamily,
		filters:   []string{"administration_id", "evco_id", "uid", "type", "external_reference"},
		implicit:  []string{"external_reference", "type"},
		immutable: []string{"administration_id", "administration_external_reference", "evco_id", "uid", "type"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (gen.MspToken, error) {
			return db.MSPToken(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]gen.MspToken, error) {
			admin, err := filterUUID(a.Filters, "administration_id")
			if err != nil {
				return nil, err
			}
			typ, err := filterChecked(a.Filters, "type", func(v string) bool { _, err := token.ParseType(v); return err == nil },
				"one of AD_HOC_USER, APP_USER, OTHER, RFID")
			if err != nil {
				return nil, err
			}
			p := gen.ListMSPTokensParams{AllAdmins: a.Account.AllAdministrations, AdminIds: nonNil(a.Account.AdministrationIDs),
				After: seek(a.After), AdministrationID: admin, Type: typ,
				ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit}
			if v := filterString(a.Filters, "evco_id"); v != nil {
				// Any accepted spelling finds the token (separators, case,
				// with or without check digit).
				id, err := token.ParseEVCOID(*v)
				if err != nil {
					return nil, badRequest("invalid_parameter", "invalid query parameter", field("evco_id", fieldMessage(err)))
				}
				n := id.WithCheckDigit().Normalized()
				p.EvcoID = &n
			}
			if v := filterString(a.Filters, "uid"); v != nil {
				k := token.UID(*v).Key() // UIDs compare case-insensitively
				p.UidKey = &k
			}
			return db.ListMSPTokens(ctx, q, p)
		},
		view: mspTokenViewOf,
		build: func(w writeCtx, in mspTokenInput, cur *gen.MspToken) (gen.MspToken, error) {
			var t gen.MspToken
			var fs fault.Fields
			if cur != nil {
				t = *cur
			} else {
				adm, err := resolveAdministration(w, in.AdministrationID, in.AdministrationExternalReference, "administration")
				if err != nil {
					return t, err
				}
				t.AdministrationID = adm.ID
				if id, err := token.ParseEVCOID(in.EVCOID); err != nil {
					fs.Add("evco_id", "%s", fieldMessage(err))
				} else {
					// IDs issued by roamnode always carry the check digit
					// (guide, "EVCO ID"); the country and provider are the
					// eMSP party that owns the token in OCPI.
					id = id.WithCheckDigit()
					t.EvcoID, t.CountryCode, t.PartyID = id.Normalized(), id.Country(), id.Provider()
				}
				if uid, err := token.ParseUID(in.UID); err != nil {
					fs.Add("uid", "%s", fieldMessage(err))
				} else {
					t.Uid, t.UidKey = uid.String(), uid.Key()
				}
				if typ, err := token.ParseType(in.Type); err != nil {
					fs.Add("type", "%s", fieldMessage(err))
				} else {
					t.Type = string(typ)
				}
				if in.Issuer == nil {
					// OCPI requires an issuer: "most of the times the name
					// of the company printed on the token" — the seller's.
					s, err := db.Seller(w.Ctx, w.Tx, &adm.SellerID, "", false)
					if err != nil {
						return t, err
					}
					in.Issuer = &s.Name
				}
			}
			t.ExternalReference, t.FormFactor, t.Brand, t.VisualNumber, t.GroupID, t.Language =
				in.ExternalReference, in.FormFactor, in.Brand, in.VisualNumber, in.GroupID, in.Language
			if in.Issuer == nil {
				fs.Add("issuer", "is required (OCPI Token.issuer): the company printed on the token")
			} else {
				t.Issuer = *in.Issuer
				checkMax(&fs, "issuer", t.Issuer, 64)
			}
			if t.FormFactor != nil && !contains(formFactors, *t.FormFactor) {
				fs.Add("form_factor", "must be one of card, keychain, sticker, virtual, other")
			}
			if t.Brand != nil {
				checkMax(&fs, "brand", *t.Brand, 64)
			}
			if t.VisualNumber != nil {
				checkMax(&fs, "visual_number", *t.VisualNumber, 64)
			}
			if t.GroupID != nil {
				// OCPI group_id is a CiString(36); OCPP 1.5/1.6 parentId
				// allows only 20, so keep it short where possible.
				if _, err := token.ParseUID(*t.GroupID); err != nil {
					fs.Add("group_id", "must be 1 to 36 printable ASCII characters without spaces")
				}
			}
			if t.Language != nil && !isLanguage(*t.Language) {
				fs.Add("language", "must be an ISO 639-1 code of two lower-case letters, such as nl")
			}
			if t.Whitelist = in.Whitelist; t.Whitelist != nil {
				if _, err := token.ParseWhitelist(*t.Whitelist); err != nil || *t.Whitelist == "" {
					fs.Add("whitelist", "must be one of ALWAYS, ALLOWED, ALLOWED_OFFLINE, NEVER, or null for the type's default")
				}
			}
			setProfile(&fs, &t, in)
			return t, fs.Err()
		},
		save: db.SaveMSPToken,
		meta: func(t *gen.MspToken) meta {
			return meta{&t.ID, &t.ExternalReference, &t.ExternalUpdatedAt, &t.CreatedAt, &t.UpdatedAt}
		},
		scope: func(t gen.MspToken) *uuid.UUID { return &t.AdministrationID },
		after: func(w writeCtx, prev *gen.MspToken, rec gen.MspToken) error {
			if prev != nil && !tokenOCPIChanged(*prev, rec) {
				return nil // form factor, brand, references: not in the OCPI token
			}
			return pushTokens(w, func() ([]roaming.PushRef, error) { return db.EnqueueTokenPushes(w.Ctx, w.Tx, rec.ID) })
		},
	}
}

// tokenOCPIChanged reports whether a token write changes a field of its
// OCPI Token object (the identity fields are immutable).
func tokenOCPIChanged(a, b gen.MspToken) bool {
	return a.Issuer != b.Issuer || !eqPtr(a.VisualNumber, b.VisualNumber) || !eqPtr(a.GroupID, b.GroupID) ||
		!eqPtr(a.Language, b.Language) || !eqPtr(a.Whitelist, b.Whitelist) || !eqPtr(a.DefaultProfileType, b.DefaultProfileType) ||
		!eqPtr(a.EnergyContractSupplierName, b.EnergyContractSupplierName) || !eqPtr(a.EnergyContractContractID, b.EnergyContractContractID)
}

// validityChanged reports whether a link or subscription write changes what
// the validity rule sees (its period or its defunct flag).
func validityChanged(fromA, untilA, fromB, untilB *time.Time, defunctA, defunctB bool) bool {
	return defunctA != defunctB || !eqTime(fromA, fromB) || !eqTime(untilA, untilB)
}

func eqPtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func eqTime(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }

// pushTokens enqueues token pushes in the write's transaction and kicks
// the worker once it committed: CPOs' whitelists follow every change of a
// token's OCPI representation (db.EnqueueTokenPushes).
func pushTokens(w writeCtx, enqueue func() ([]roaming.PushRef, error)) error {
	refs, err := enqueue()
	if err != nil {
		return err
	}
	w.kick(refs)
	return nil
}

// fieldMessage is the message of a domain validation error without its
// field path (the surface names the field itself).
func fieldMessage(err error) string {
	if f, ok := fault.As(err); ok && len(f.Fields) > 0 {
		return f.Fields[0].Message
	}
	return err.Error()
}

// checkMax adds an error when s is longer than max characters.
func checkMax(fs *fault.Fields, path, s string, max int) {
	if n := len([]rune(s)); n > max {
		fs.Add(path, "must be at most %d characters (got %d)", max, n)
	}
}

// isLanguage reports whether s is two lower-case ASCII letters (ISO 639-1).
func isLanguage(s string) bool {
	return len(s) == 2 && s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z'
}

// ---- msp-token-subscription-plan

type mspTokenPlanView struct {
	ID                uuid.UUID  `json:"id"`
	AdministrationID  uuid.UUID  `json:"administration_id"`
	ExternalReference *string    `json:"external_reference"`
	Name              string     `json:"name"`
	Description       *string    `json:"description"`
	RatePlanID        *uuid.UUID `json:"rate_plan_id"`
	// UseCustomerReimbursementVAT: see mspTokenPlanResource.
	UseCustomerReimbursementVAT bool       `json:"use_customer_reimbursement_vat"`
	PublishFrom                 *time.Time `json:"publish_from"`
	PublishUntil                *time.Time `json:"publish_until"`
	ExternalUpdatedAt           *time.Time `json:"external_updated_at"`
	CreatedAt                   time.Time  `json:"created_at"`
	UpdatedAt                   time.Time  `json:"updated_at"`
}

type mspTokenPlanInput struct {
	AdministrationID                *uuid.UUID `json:"administration_id"`
	AdministrationExternalReference *string    `json:"administration_external_reference"`
	ExternalReference               *string    `json:"external_reference"`
	Name                            string     `json:"name"`
	Description                     *string    `json:"description" rn:"multiline"`
	RatePlanID                      *uuid.UUID `json:"rate_plan_id"`
	RatePlanExternalReference       *string    `json:"rate_plan_external_reference"`
	UseCustomerReimbursementVAT     bool       `json:"use_customer_reimbursement_vat"`
	PublishFrom                     *time.Time `json:"publish_from"`
	PublishUntil                    *time.Time `json:"publish_until"`
	ExternalUpdatedAt               *time.Time `json:"external_updated_at"`
}

// Subscription plans are managed per administration (guide,
// "Administrations"). The publishing period says when new subscriptions
// are meant to start; like the guide, it is not enforced. rate_plan_id
// names the plan's rate plan: it must exist and be owned by or shared with
// the plan's administration (guide → Rate plan: shareable across
// administrations with its currency), else pricing would drop every
// session of the plan out; rate_plan_external_reference names it by its
// external reference instead. use_customer_reimbursement_vat is the
// plan's "Use Customer Reimbursement VAT" (guide → "Subscription plan: use
// customer reimbursement VAT"; default false): MSP pricing then lets the
// reimbursement VAT of the customer of our local EVSE's arrangement decide
// the session's VAT (domain/vat).
func mspTokenPlanResource() *resource[gen.MspTokenSubscriptionPlan, mspTokenPlanView, mspTokenPlanInput] {
	return &resource[gen.MspTokenSubscriptionPlan, mspTokenPlanView, mspTokenPlanInput]{
		name: "msp-token-subscription-plan", table: "msp_token_subscription_plan", family: tokenFamily,
		filters:   []string{"administration_id", "external_reference"},
		implicit:  []string{"external_reference", "rate_plan_id"},
		immutable: []string{"administration_id", "administration_external_reference"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (gen.MspTokenSubscriptionPlan, error) {
			return db.MSPTokenSubscriptionPlan(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]gen.MspTokenSubscriptionPlan, error) {
			admin, err := filterUUID(a.Filters, "administration_id")
			if err != nil {
				return nil, err
			}
			return db.ListMSPTokenSubscriptionPlans(ctx, q, gen.ListMSPTokenSubscriptionPlansParams{AllAdmins: a.Account.AllAdministrations,
				AdminIds: nonNil(a.Account.AdministrationIDs), After: seek(a.After), AdministrationID: admin,
				ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit})
		},
		view: func(p gen.MspTokenSubscriptionPlan) mspTokenPlanView {
			return mspTokenPlanView{ID: p.ID, AdministrationID: p.AdministrationID, ExternalReference: p.ExternalReference, Name: p.Name,
				Description: p.Description, RatePlanID: p.RatePlanID, UseCustomerReimbursementVAT: p.UseCustomerReimbursementVat,
				PublishFrom: utcPtr(p.PublishFrom), PublishUntil: utcPtr(p.PublishUntil), ExternalUpdatedAt: utcPtr(p.ExternalUpdatedAt), CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
		},
		build: func(w writeCtx, in mspTokenPlanInput, cur *gen.MspTokenSubscriptionPlan) (gen.MspTokenSubscriptionPlan, error) {
			var p gen.MspTokenSubscriptionPlan
			if cur != nil {
				p = *cur
			} else {
				adm, err := resolveAdministration(w, in.AdministrationID, in.AdministrationExternalReference, "administration")
				if err != nil {
					return p, err
				}
				p.AdministrationID = adm.ID
			}
			p.ExternalReference, p.Name, p.Description, p.RatePlanID = in.ExternalReference, in.Name, in.Description, in.RatePlanID
			p.UseCustomerReimbursementVat = in.UseCustomerReimbursementVAT
			if in.RatePlanExternalReference != nil {
				if cur != nil && in.RatePlanID != nil && cur.RatePlanID != nil && *in.RatePlanID == *cur.RatePlanID {
					in.RatePlanID = nil // the merged view carries the current rate_plan_id next to a new reference
				}
				rp, err := resolveRef(w, in.RatePlanID, in.RatePlanExternalReference, "rate_plan", func(id *uuid.UUID, ref string) (db.RatePlan, error) {
					return db.LoadRatePlan(w.Ctx, w.Tx, id, ref, false)
				})
				if err != nil {
					return p, err
				}
				p.RatePlanID = &rp.ID
			}
			var fs fault.Fields
			if p.Name == "" {
				fs.Add("name", "is required: the name under which the plan is marketed")
			}
			checkMax(&fs, "name", p.Name, 200)
			pub, err := token.NewPeriod(in.PublishFrom, in.PublishUntil)
			if err != nil {
				fs.Add("publish_until", "must be later than publish_from (whole minutes)")
			}
			p.PublishFrom, p.PublishUntil = pub.From(), pub.Until()
			if p.RatePlanID != nil {
				if msg, err := ratePlanUsable(w, *p.RatePlanID, p.AdministrationID); err != nil {
					return p, err
				} else if msg != "" {
					fs.Add("rate_plan_id", "%s", msg)
				}
			}
			return p, fs.Err()
		},
		save: db.SaveMSPTokenSubscriptionPlan,
		meta: func(p *gen.MspTokenSubscriptionPlan) meta {
			return meta{&p.ID, &p.ExternalReference, &p.ExternalUpdatedAt, &p.CreatedAt, &p.UpdatedAt}
		},
		scope: func(p gen.MspTokenSubscriptionPlan) *uuid.UUID { return &p.AdministrationID },
	}
}

// ratePlanUsable says why a rate plan cannot serve a subscription plan of
// administration admin ("" when it can).
func ratePlanUsable(w writeCtx, id, admin uuid.UUID) (string, error) {
	rp, err := db.LoadRatePlan(w.Ctx, w.Tx, &id, "", false)
	if fault.Is(err, fault.KindNotFound) {
		return "no rate plan has this id", nil
	}
	if err != nil {
		return "", err
	}
	if rp.AdministrationID == admin || slices.Contains(rp.SharedAdministrationIDs, admin) {
		return "", nil
	}
	return "the rate plan is neither owned by nor shared with the plan's administration", nil
}

// ---- msp-token-subscription

type mspTokenSubscriptionView struct {
	ID                uuid.UUID  `json:"id"`
	AdministrationID  uuid.UUID  `json:"administration_id"`
	ExternalReference *string    `json:"external_reference"`
	CustomerID        uuid.UUID  `json:"customer_id"`
	PlanID            uuid.UUID  `json:"plan_id"`
	BuyerReference    *string    `json:"buyer_reference"`
	ValidFrom         time.Time  `json:"valid_from"`
	ValidUntil        *time.Time `json:"valid_until"`
	Defunct           bool       `json:"defunct"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

type mspTokenSubscriptionInput struct {
	CustomerID                *uuid.UUID `json:"customer_id"`
	CustomerExternalReference *string    `json:"customer_external_reference"`
	PlanID                    *uuid.UUID `json:"plan_id"`
	PlanExternalReference     *string    `json:"plan_external_reference"`
	ExternalReference         *string    `json:"external_reference"`
	BuyerReference            *string    `json:"buyer_reference"`
	ValidFrom                 *time.Time `json:"valid_from"`
	ValidUntil                *time.Time `json:"valid_until"`
	Defunct                   *bool      `json:"defunct"`
	ExternalUpdatedAt         *time.Time `json:"external_updated_at"`
}

// A subscription is a customer's agreement under a plan; it lives in the
// plan's administration (a customer may hold subscriptions in several).
// Customer and plan never change (corrections are a later, dedicated
// endpoint in the guide). Marking it defunct is final and marks its token
// links defunct in the same transaction (guide changelog v3.27.0), each
// with its own event.
func mspTokenSubscriptionResource() *resource[gen.MspTokenSubscription, mspTokenSubscriptionView, mspTokenSubscriptionInput] {
	view := func(s gen.MspTokenSubscription) mspTokenSubscriptionView {
		return mspTokenSubscriptionView{ID: s.ID, AdministrationID: s.AdministrationID, ExternalReference: s.ExternalReference,
			CustomerID: s.CustomerID, PlanID: s.PlanID, BuyerReference: s.BuyerReference, ValidFrom: s.ValidFrom.UTC(),
			ValidUntil: utcPtr(s.ValidUntil), Defunct: s.Defunct, ExternalUpdatedAt: utcPtr(s.ExternalUpdatedAt),
			CreatedAt: s.CreatedAt.UTC(), UpdatedAt: s.UpdatedAt.UTC()}
	}
	return &resource[gen.MspTokenSubscription, mspTokenSubscriptionView, mspTokenSubscriptionInput]{
		name: "msp-token-subscription", table: "msp_token_subscription", family: tokenFamily,
		filters:   []string{"administration_id", "customer_id", "plan_id", "external_reference", "defunct", "valid_at"},
		implicit:  []string{"external_reference"},
		immutable: []string{"customer_id", "customer_external_reference", "plan_id", "plan_external_reference"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (gen.MspTokenSubscription, error) {
			return db.MSPTokenSubscription(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]gen.MspTokenSubscription, error) {
			p := gen.ListMSPTokenSubscriptionsParams{AllAdmins: a.Account.AllAdministrations, AdminIds: nonNil(a.Account.AdministrationIDs),
				After: seek(a.After), ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit}
			var err error
			if p.AdministrationID, err = filterUUID(a.Filters, "administration_id"); err != nil {
				return nil, err
			}
			if p.CustomerID, err = filterUUID(a.Filters, "customer_id"); err != nil {
				return nil, err
			}
			if p.PlanID, err = filterUUID(a.Filters, "plan_id"); err != nil {
				return nil, err
			}
			if p.Defunct, err = filterFlag(a.Filters, "defunct"); err != nil {
				return nil, err
			}
			if p.ValidAt, err = filterTime(a.Filters, "valid_at"); err != nil {
				return nil, err
			}
			return db.ListMSPTokenSubscriptions(ctx, q, p)
		},
		view: view,
		build: func(w writeCtx, in mspTokenSubscriptionInput, cur *gen.MspTokenSubscription) (gen.MspTokenSubscription, error) {
			var s gen.MspTokenSubscription
			if cur != nil {
				s = *cur
			} else {
				plan, err := resolveRef(w, in.PlanID, in.PlanExternalReference, "plan", func(id *uuid.UUID, ref string) (gen.MspTokenSubscriptionPlan, error) {
					return db.MSPTokenSubscriptionPlan(w.Ctx, w.Tx, id, ref, false)
				})
				if err != nil {
					return s, err
				}
				if !w.Account.Sees(plan.AdministrationID) {
					return s, forbidden("the API account has no access to the administration of this plan")
				}
				cust, err := resolveRef(w, in.CustomerID, in.CustomerExternalReference, "customer", func(id *uuid.UUID, ref string) (gen.Party, error) {
					c, err := db.Customer(w.Ctx, w.Tx, id, ref, false)
					return gen.Party{ID: c.ID, AdministrationID: &c.AdministrationID}, err
				})
				if err != nil {
					return s, err
				}
				if !w.Account.Sees(*cust.AdministrationID) {
					return s, forbidden("the API account has no access to the administration of this customer")
				}
				s.PlanID, s.AdministrationID, s.CustomerID = plan.ID, plan.AdministrationID, cust.ID
			}
			s.ExternalReference, s.BuyerReference = in.ExternalReference, in.BuyerReference
			var fs fault.Fields
			if in.Defunct != nil {
				if s.Defunct && !*in.Defunct {
					fs.Add("defunct", "a defunct subscription stays defunct; create a new subscription instead")
				}
				s.Defunct = s.Defunct || *in.Defunct
			}
			if in.ValidFrom == nil {
				fs.Add("valid_from", "is required: every subscription has a defined start")
				return s, fs.Err()
			}
			per, err := token.NewPeriod(in.ValidFrom, in.ValidUntil)
			if err != nil {
				fs.Add("valid_until", "%s", fieldMessage(err))
				return s, fs.Err()
			}
			s.ValidFrom, s.ValidUntil = *per.From(), per.Until()
			return s, fs.Err()
		},
		save: func(ctx context.Context, q db.Querier, s gen.MspTokenSubscription, isNew bool) error {
			if err := db.SaveMSPTokenSubscription(ctx, q, s, isNew); err != nil || !s.Defunct {
				return err
			}
			// Only live links change, so a repeated defunct write is a no-op.
			links, err := db.DefunctLinksOfSubscription(ctx, q, s.ID, s.UpdatedAt)
			if err != nil {
				return err
			}
			for _, l := range links {
				v := mspTokenLinkViewOf(db.MSPTokenLink{MspTokenLink: l, AdministrationID: s.AdministrationID})
				if err := db.AppendEvent(ctx, q, event.New("msp-token-link", event.Update, &s.AdministrationID, v)); err != nil {
					return err
				}
			}
			return nil
		},
		meta: func(s *gen.MspTokenSubscription) meta {
			return meta{&s.ID, &s.ExternalReference, &s.ExternalUpdatedAt, &s.CreatedAt, &s.UpdatedAt}
		},
		scope: func(s gen.MspTokenSubscription) *uuid.UUID { return &s.AdministrationID },
		// A new subscription has no links yet; a changed period or
		// defunct flag (which also marked its links defunct) changes the
		// valid flag of every token linked to it.
		after: func(w writeCtx, prev *gen.MspTokenSubscription, rec gen.MspTokenSubscription) error {
			if prev == nil || !validityChanged(&prev.ValidFrom, prev.ValidUntil, &rec.ValidFrom, rec.ValidUntil, prev.Defunct, rec.Defunct) {
				return nil
			}
			return pushTokens(w, func() ([]roaming.PushRef, error) { return db.EnqueueSubscriptionTokenPushes(w.Ctx, w.Tx, rec.ID) })
		},
	}
}

// filterFlag parses an optional true/false filter (an empty value is no filter).
func filterFlag(q url.Values, name string) (*bool, error) {
	switch q.Get(name) {
	case "":
		return nil, nil
	case "true":
		v := true
		return &v, nil
	case "false":
		v := false
		return &v, nil
	}
	return nil, badRequest("invalid_parameter", "invalid query parameter", field(name, "must be true or false"))
}

// ---- msp-token-link

type mspTokenLinkView struct {
	ID                uuid.UUID  `json:"id"`
	ExternalReference *string    `json:"external_reference"`
	TokenID           uuid.UUID  `json:"token_id"`
	SubscriptionID    uuid.UUID  `json:"subscription_id"`
	ValidFrom         *time.Time `json:"valid_from"`
	ValidUntil        *time.Time `json:"valid_until"`
	Defunct           bool       `json:"defunct"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

type mspTokenLinkInput struct {
	TokenID                       *uuid.UUID `json:"token_id"`
	TokenExternalReference        *string    `json:"token_external_reference"`
	SubscriptionID                *uuid.UUID `json:"subscription_id"`
	SubscriptionExternalReference *string    `json:"subscription_external_reference"`
	ExternalReference             *string    `json:"external_reference"`
	ValidFrom                     *time.Time `json:"valid_from"`
	ValidUntil                    *time.Time `json:"valid_until"`
	Defunct                       *bool      `json:"defunct"`
	ExternalUpdatedAt             *time.Time `json:"external_updated_at"`
}

func mspTokenLinkViewOf(l db.MSPTokenLink) mspTokenLinkView {
	return mspTokenLinkView{ID: l.ID, ExternalReference: l.ExternalReference, TokenID: l.TokenID, SubscriptionID: l.SubscriptionID,
		ValidFrom: utcPtr(l.ValidFrom), ValidUntil: utcPtr(l.ValidUntil), Defunct: l.Defunct,
		ExternalUpdatedAt: utcPtr(l.ExternalUpdatedAt), CreatedAt: l.CreatedAt.UTC(), UpdatedAt: l.UpdatedAt.UTC()}
}

// A link puts a token in a subscription for a period; valid_from may be
// null ("deferring validity to the subscription"). The database refuses two
// live links of one token that overlap (the token is in one subscription
// at a time); a hand-over sets the old link's valid_until and the new
// link's valid_from to the same instant. Token and subscription never
// change; defunct is final. A link is scoped by its subscription's
// administration.
func mspTokenLinkResource() *resource[db.MSPTokenLink, mspTokenLinkView, mspTokenLinkInput] {
	return &resource[db.MSPTokenLink, mspTokenLinkView, mspTokenLinkInput]{
		name: "msp-token-link", table: "msp_token_link", family: tokenFamily,
		filters:   []string{"token_id", "subscription_id", "external_reference", "defunct", "valid_at"},
		implicit:  []string{"external_reference", "valid_from"},
		immutable: []string{"token_id", "token_external_reference", "subscription_id", "subscription_external_reference"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (db.MSPTokenLink, error) {
			return db.MSPTokenLinkOf(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]db.MSPTokenLink, error) {
			p := gen.ListMSPTokenLinksParams{AllAdmins: a.Account.AllAdministrations, AdminIds: nonNil(a.Account.AdministrationIDs),
				After: seek(a.After), ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit}
			var err error
			if p.TokenID, err = filterUUID(a.Filters, "token_id"); err != nil {
				return nil, err
			}
			if p.SubscriptionID, err = filterUUID(a.Filters, "subscription_id"); err != nil {
				return nil, err
			}
			if p.Defunct, err = filterFlag(a.Filters, "defunct"); err != nil {
				return nil, err
			}
			if p.ValidAt, err = filterTime(a.Filters, "valid_at"); err != nil {
				return nil, err
			}
			return db.ListMSPTokenLinks(ctx, q, p)
		},
		view: mspTokenLinkViewOf,
		build: func(w writeCtx, in mspTokenLinkInput, cur *db.MSPTokenLink) (db.MSPTokenLink, error) {
			var l db.MSPTokenLink
			wasDefunct := false
			if cur != nil {
				l, wasDefunct = *cur, cur.Defunct
			} else {
				t, err := resolveRef(w, in.TokenID, in.TokenExternalReference, "token", func(id *uuid.UUID, ref string) (gen.MspToken, error) {
					return db.MSPToken(w.Ctx, w.Tx, id, ref, false)
				})
				if err != nil {
					return l, err
				}
				if !w.Account.Sees(t.AdministrationID) {
					return l, forbidden("the API account has no access to the administration of this token")
				}
				s, err := resolveRef(w, in.SubscriptionID, in.SubscriptionExternalReference, "subscription", func(id *uuid.UUID, ref string) (gen.MspTokenSubscription, error) {
					return db.MSPTokenSubscription(w.Ctx, w.Tx, id, ref, false)
				})
				if err != nil {
					return l, err
				}
				if !w.Account.Sees(s.AdministrationID) {
					return l, forbidden("the API account has no access to the administration of this subscription")
				}
				if s.Defunct && (in.Defunct == nil || !*in.Defunct) {
					return l, fault.Invalid("subscription_id", "the subscription is defunct; link the token to a live subscription")
				}
				l.TokenID, l.SubscriptionID, l.AdministrationID = t.ID, s.ID, s.AdministrationID
			}
			l.ExternalReference = in.ExternalReference
			var fs fault.Fields
			if in.Defunct != nil {
				if wasDefunct && !*in.Defunct {
					fs.Add("defunct", "a defunct link stays defunct; create a new link instead")
				}
				l.Defunct = wasDefunct || *in.Defunct
			}
			per, err := token.NewPeriod(in.ValidFrom, in.ValidUntil)
			if err != nil {
				fs.Add("valid_until", "%s", fieldMessage(err))
			}
			l.ValidFrom, l.ValidUntil = per.From(), per.Until()
			return l, fs.Err()
		},
		save: func(ctx context.Context, q db.Querier, l db.MSPTokenLink, isNew bool) error {
			return db.SaveMSPTokenLink(ctx, q, l.MspTokenLink, isNew)
		},
		meta: func(l *db.MSPTokenLink) meta {
			return meta{&l.ID, &l.ExternalReference, &l.ExternalUpdatedAt, &l.CreatedAt, &l.UpdatedAt}
		},
		scope: func(l db.MSPTokenLink) *uuid.UUID { return &l.AdministrationID },
		after: func(w writeCtx, prev *db.MSPTokenLink, rec db.MSPTokenLink) error {
			if prev != nil && !validityChanged(prev.ValidFrom, prev.ValidUntil, rec.ValidFrom, rec.ValidUntil, prev.Defunct, rec.Defunct) {
				return nil
			}
			return pushTokens(w, func() ([]roaming.PushRef, error) { return db.EnqueueTokenPushes(w.Ctx, w.Tx, rec.TokenID) })
		},
	}
}

// ---- EVCO ID validation

// evcoValidation is the answer of POST /msp-token-evco-id/validate.
type evcoValidation struct {
	EVCOID          string `json:"evco_id"`
	Normalized      string `json:"normalized"`
	Formatted       string `json:"formatted"`
	CountryCode     string `json:"country_code"`
	ProviderID      string `json:"provider_id"`
	Instance        string `json:"instance"`
	CheckDigit      string `json:"check_digit"`
	CheckDigitGiven bool   `json:"check_digit_given"`
}

// validateEVCOID is POST /main/v1/msp-token-evco-id/validate: it checks an
// EVCO ID against the eMA-ID rules (IDACS syntax, eMI3 check digit) and
// returns its normalised (machine) and formatted (human) forms, both with
// the check digit, which is computed when the input has none. An invalid
// ID is a 400 naming what is wrong.
func validateEVCOID(c *fiber.Ctx, _ *request) error {
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	var in struct {
		EVCOID *string `json:"evco_id"`
	}
	if err := decodeInto(b, &in); err != nil {
		return err
	}
	if unknown := unknownFields(b, []string{"evco_id"}); len(unknown) > 0 {
		c.Set("X-RN-Unknown-Fields", strings.Join(unknown, ","))
	}
	if in.EVCOID == nil {
		return badRequest("invalid", "invalid EVCO ID", field("evco_id", "is required"))
	}
	id, err := token.ParseEVCOID(*in.EVCOID)
	if err != nil {
		return badRequest("invalid", "invalid EVCO ID", field("evco_id", fieldMessage(err)))
	}
	full := id.WithCheckDigit()
	return c.JSON(evcoValidation{EVCOID: *in.EVCOID, Normalized: full.Normalized(), Formatted: full.Formatted(),
		CountryCode: id.Country(), ProviderID: id.Provider(), Instance: id.Instance(), CheckDigit: string(full.CheckDigit()),
		CheckDigitGiven: id.HasCheckDigit()})
}
