package adminapi

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/iso"
	"github.com/roamnode/roamnode/domain/party"
)

// customerView is a customer as the API returns it.
type customerView struct {
	ID                uuid.UUID  `json:"id"`
	AdministrationID  uuid.UUID  `json:"administration_id"`
	ExternalReference *string    `json:"external_reference"`
	Name              string     `json:"name"`
	Country           string     `json:"country"`
	EntityType        string     `json:"entity_type"`
	CompanyRegNum     *string    `json:"company_reg_num"`
	VATNumber         *string    `json:"vat_number"`
	BillingEmail      *string    `json:"billing_email"`
	BillingPhone      *string    `json:"billing_phone"`
	LocaleID          *string    `json:"locale_id"`
	ReimbursementVAT  string     `json:"reimbursement_vat"`
	WithholdBilling   bool       `json:"withhold_billing"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

// customerInput is what create and merge-update accept.
type customerInput struct {
	AdministrationID                *uuid.UUID `json:"administration_id"`
	AdministrationExternalReference *string    `json:"administration_external_reference"`
	ExternalReference               *string    `json:"external_reference"`
	Name                            string     `json:"name"`
	Country                         string     `json:"country"`
	EntityType                      string     `json:"entity_type"`
	CompanyRegNum                   *string    `json:"company_reg_num"`
	VATNumber                       *string    `json:"vat_number"`
	BillingEmail                    *string    `json:"billing_email"`
	BillingPhone                    *string    `json:"billing_phone"`
	LocaleID                        *string    `json:"locale_id"`
	ReimbursementVAT                *string    `json:"reimbursement_vat"`
	WithholdBilling                 *bool      `json:"withhold_billing"`
	ExternalUpdatedAt               *time.Time `json:"external_updated_at"`
}

func customerResource() *resource[party.Customer, customerView, customerInput] {
	return &resource[party.Customer, customerView, customerInput]{
		name: "customer", table: "party", family: "customer",
		filters:   []string{"administration_id", "country", "entity_type", "external_reference", "created_gte", "created_lt"},
		implicit:  []string{"external_reference", "reimbursement_vat"},
		immutable: []string{"administration_id", "administration_external_reference"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (party.Customer, error) {
			return db.Customer(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]party.Customer, error) {
			admin, err := filterUUID(a.Filters, "administration_id")
			if err != nil {
				return nil, err
			}
			gte, err := filterTime(a.Filters, "created_gte")
			if err != nil {
				return nil, err
			}
			lt, err := filterTime(a.Filters, "created_lt")
			if err != nil {
				return nil, err
			}
			country, err := filterChecked(a.Filters, "country", iso.Country, "an ISO 3166-1 alpha-2 country code")
			if err != nil {
				return nil, err
			}
			et, err := filterChecked(a.Filters, "entity_type", func(v string) bool { return v == "person" || v == "organisation" }, "person or organisation")
			if err != nil {
				return nil, err
			}
			return db.ListCustomers(ctx, q, gen.ListCustomersParams{AllAdmins: a.Account.AllAdministrations,
				AdminIds: nonNil(a.Account.AdministrationIDs), After: seek(a.After), AdministrationID: admin,
				Country: country, EntityType: et,
				ExternalReference: filterString(a.Filters, "external_reference"), CreatedGte: gte, CreatedLt: lt, PageLimit: a.Limit})
		},
		view: func(c party.Customer) customerView {
			return customerView{ID: c.ID, AdministrationID: c.AdministrationID, ExternalReference: c.ExternalReference, Name: c.Name,
				Country: c.Country, EntityType: string(c.EntityType), CompanyRegNum: c.CompanyRegNum, VATNumber: c.VATNumber,
				BillingEmail: c.BillingEmail, BillingPhone: c.BillingPhone, LocaleID: c.LocaleID,
				ReimbursementVAT: string(c.ReimbursementVAT), WithholdBilling: c.WithholdBilling,
				ExternalUpdatedAt: utcPtr(c.ExternalUpdatedAt), CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
		},
		build: func(w writeCtx, in customerInput, cur *party.Customer) (party.Customer, error) {
			var c party.Customer
			if cur != nil {
				c = *cur
			} else {
				adm, err := resolveAdministration(w, in.AdministrationID, in.AdministrationExternalReference, "administration")
				if err != nil {
					return c, err
				}
				c.AdministrationID = adm.ID
				c.ReimbursementVAT = party.VATUnknown
			}
			c.ExternalReference, c.Name, c.Country, c.EntityType = in.ExternalReference, in.Name, in.Country, party.EntityType(in.EntityType)
			c.CompanyRegNum, c.VATNumber, c.BillingEmail, c.BillingPhone, c.LocaleID = in.CompanyRegNum, in.VATNumber, in.BillingEmail, in.BillingPhone, in.LocaleID
			if in.ReimbursementVAT != nil {
				c.ReimbursementVAT = party.ReimbursementVAT(*in.ReimbursementVAT)
			}
			if in.WithholdBilling != nil {
				c.WithholdBilling = *in.WithholdBilling
			}
			return c, c.Validate()
		},
		save: db.SaveCustomer,
		meta: func(c *party.Customer) meta {
			return meta{&c.ID, &c.ExternalReference, &c.ExternalUpdatedAt, &c.CreatedAt, &c.UpdatedAt}
		},
		scope: func(c party.Customer) *uuid.UUID { return &c.AdministrationID },
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil(ids []uuid.UUID) []uuid.UUID {
	if ids == nil {
		return []uuid.UUID{}
	}
	return ids
}
