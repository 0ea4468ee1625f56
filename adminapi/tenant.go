package adminapi

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/iso"
	"github.com/roamnode/roamnode/domain/tenant"
)

// sellerView is a seller as the API returns it.
type sellerView struct {
	ID                uuid.UUID  `json:"id"`
	ExternalReference *string    `json:"external_reference"`
	Name              string     `json:"name"`
	Country           string     `json:"country"`
	VATNumber         *string    `json:"vat_number"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

type sellerInput struct {
	ExternalReference *string    `json:"external_reference"`
	Name              string     `json:"name"`
	Country           string     `json:"country"`
	VATNumber         *string    `json:"vat_number"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
}

// Sellers are global (not administration-scoped): the seller permission
// family decides who sees them.
func sellerResource() *resource[tenant.Seller, sellerView, sellerInput] {
	return &resource[tenant.Seller, sellerView, sellerInput]{
		name: "seller", table: "seller", family: "seller",
		filters:  []string{"country", "external_reference"},
		implicit: []string{"external_reference"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (tenant.Seller, error) {
			return db.Seller(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]tenant.Seller, error) {
			country, err := filterChecked(a.Filters, "country", iso.Country, "an ISO 3166-1 alpha-2 country code")
			if err != nil {
				return nil, err
			}
			return db.ListSellers(ctx, q, gen.ListSellersParams{After: seek(a.After), Country: country,
				ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit})
		},
		view: func(s tenant.Seller) sellerView {
			return sellerView{ID: s.ID, ExternalReference: s.ExternalReference, Name: s.Name, Country: s.Country, VATNumber: s.VATNumber,
				ExternalUpdatedAt: utcPtr(s.ExternalUpdatedAt), CreatedAt: s.CreatedAt.UTC(), UpdatedAt: s.UpdatedAt.UTC()}
		},
		build: func(w writeCtx, in sellerInput, cur *tenant.Seller) (tenant.Seller, error) {
			var s tenant.Seller
			if cur != nil {
				s = *cur
			}
			s.ExternalReference, s.Name, s.Country, s.VATNumber = in.ExternalReference, in.Name, in.Country, in.VATNumber
			return s, s.Validate()
		},
		save: db.SaveSeller,
		meta: func(s *tenant.Seller) meta {
			return meta{&s.ID, &s.ExternalReference, &s.ExternalUpdatedAt, &s.CreatedAt, &s.UpdatedAt}
		},
		scope: func(tenant.Seller) *uuid.UUID { return nil },
	}
}

// administrationView is an administration as the API returns it.
type administrationView struct {
	ID                uuid.UUID  `json:"id"`
	ExternalReference *string    `json:"external_reference"`
	SellerID          uuid.UUID  `json:"seller_id"`
	Name              string     `json:"name"`
	Currency          string     `json:"currency"`
	LocaleID          *string    `json:"locale_id"`
	MinInvoiceAmount  *Decimal   `json:"min_invoice_amount"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

type administrationInput struct {
	ExternalReference       *string    `json:"external_reference"`
	SellerID                *uuid.UUID `json:"seller_id"`
	SellerExternalReference *string    `json:"seller_external_reference"`
	Name                    string     `json:"name"`
	Currency                string     `json:"currency"`
	LocaleID                *string    `json:"locale_id"`
	MinInvoiceAmount        *Decimal   `json:"min_invoice_amount"`
	ExternalUpdatedAt       *time.Time `json:"external_updated_at"`
}

// An administration's seller and currency never change (003 → Administrations:
// one currency each); only accounts that see every administration may
// create one, since nobody else could see it afterwards.
func administrationResource() *resource[tenant.Administration, administrationView, administrationInput] {
	return &resource[tenant.Administration, administrationView, administrationInput]{
		name: "administration", table: "administration", family: "administration",
		filters:   []string{"seller_id", "currency", "external_reference"},
		implicit:  []string{"external_reference"},
		immutable: []string{"seller_id", "seller_external_reference", "currency"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (tenant.Administration, error) {
			return db.Administration(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]tenant.Administration, error) {
			seller, err := filterUUID(a.Filters, "seller_id")
			if err != nil {
				return nil, err
			}
			currency, err := filterChecked(a.Filters, "currency", iso.Currency, "a supported ISO 4217 currency code")
			if err != nil {
				return nil, err
			}
			return db.ListAdministrations(ctx, q, gen.ListAdministrationsParams{AllAdmins: a.Account.AllAdministrations,
				AdminIds: nonNil(a.Account.AdministrationIDs), After: seek(a.After), SellerID: seller,
				Currency: currency, ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit})
		},
		view: func(a tenant.Administration) administrationView {
			return administrationView{ID: a.ID, ExternalReference: a.ExternalReference, SellerID: a.SellerID, Name: a.Name,
				Currency: a.Currency, LocaleID: a.LocaleID, MinInvoiceAmount: apiDec(a.MinInvoiceAmount),
				ExternalUpdatedAt: utcPtr(a.ExternalUpdatedAt), CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
		},
		build: func(w writeCtx, in administrationInput, cur *tenant.Administration) (tenant.Administration, error) {
			var a tenant.Administration
			if cur != nil {
				a = *cur
			} else {
				if !w.Account.AllAdministrations {
					return a, forbidden("only an API account with access to all administrations can create one")
				}
				s, err := resolveRef(w, in.SellerID, in.SellerExternalReference, "seller", func(id *uuid.UUID, ref string) (tenant.Seller, error) {
					return db.Seller(w.Ctx, w.Tx, id, ref, false)
				})
				if err != nil {
					return a, err
				}
				a.SellerID, a.Currency = s.ID, in.Currency
			}
			a.ExternalReference, a.Name, a.LocaleID, a.MinInvoiceAmount = in.ExternalReference, in.Name, in.LocaleID, decPtr(in.MinInvoiceAmount)
			return a, a.Validate()
		},
		save: db.SaveAdministration,
		meta: func(a *tenant.Administration) meta {
			return meta{&a.ID, &a.ExternalReference, &a.ExternalUpdatedAt, &a.CreatedAt, &a.UpdatedAt}
		},
		scope: func(a tenant.Administration) *uuid.UUID { return &a.ID },
	}
}

// resolveRef resolves an x_id / x_external_reference pair of a body to the
// referenced record; exactly one must be given (003 → Identifier or
// external reference in request body), and a missing record is a 400 on
// the field that named it.
func resolveRef[T any](w writeCtx, id *uuid.UUID, ref *string, name string, load func(*uuid.UUID, string) (T, error)) (T, error) {
	var zero T
	path := name + "_id"
	switch {
	case id == nil && ref == nil:
		return zero, fault.Invalid(path, "give %s_id or %s_external_reference", name, name)
	case id != nil && ref != nil:
		return zero, fault.Invalid(path, "give exactly one of %s_id and %s_external_reference", name, name)
	}
	r := ""
	if ref != nil {
		r, path = *ref, name+"_external_reference"
	}
	v, err := load(id, r)
	if fault.Is(err, fault.KindNotFound) {
		return zero, &fault.Error{Kind: fault.KindInvalid, Code: "reference_not_found", Message: "a referenced record does not exist",
			Fields: []fault.Field{{Path: path, Message: "no " + name + " has this " + map[bool]string{true: "id", false: "external reference"}[ref == nil]}}}
	}
	return v, err
}

// resolveAdministration resolves an administration reference and checks
// that the account may see it.
func resolveAdministration(w writeCtx, id *uuid.UUID, ref *string, name string) (tenant.Administration, error) {
	a, err := resolveRef(w, id, ref, name, func(id *uuid.UUID, ref string) (tenant.Administration, error) {
		return db.Administration(w.Ctx, w.Tx, id, ref, false)
	})
	if err != nil {
		return a, err
	}
	if !w.Account.Sees(a.ID) {
		return a, forbidden("the API account has no access to this administration")
	}
	return a, nil
}
