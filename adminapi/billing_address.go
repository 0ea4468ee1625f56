package adminapi

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/party"
)

// billingAddressView is a billing address as the API returns it.
type billingAddressView struct {
	ID                uuid.UUID  `json:"id"`
	PartyID           uuid.UUID  `json:"party_id"`
	ExternalReference *string    `json:"external_reference"`
	Addressee         string     `json:"addressee"`
	AddressLine1      *string    `json:"address_line1"`
	AddressLine2      *string    `json:"address_line2"`
	PostalCode        *string    `json:"postal_code"`
	Locality          *string    `json:"locality"`
	Region            *string    `json:"region"`
	Country           string     `json:"country"`
	ValidFrom         *time.Time `json:"valid_from"`
	ValidUntil        *time.Time `json:"valid_until"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

type billingAddressInput struct {
	PartyID                *uuid.UUID `json:"party_id"`
	PartyExternalReference *string    `json:"party_external_reference"`
	ExternalReference      *string    `json:"external_reference"`
	Addressee              string     `json:"addressee"`
	AddressLine1           *string    `json:"address_line1"`
	AddressLine2           *string    `json:"address_line2"`
	PostalCode             *string    `json:"postal_code"`
	Locality               *string    `json:"locality"`
	Region                 *string    `json:"region"`
	Country                string     `json:"country"`
	ValidFrom              *time.Time `json:"valid_from"`
	ValidUntil             *time.Time `json:"valid_until"`
	ExternalUpdatedAt      *time.Time `json:"external_updated_at"`
}

// A billing address belongs to a party (a customer) for a validity period;
// the database allows one per party at any instant.
func billingAddressResource() *resource[db.ScopedBillingAddress, billingAddressView, billingAddressInput] {
	return &resource[db.ScopedBillingAddress, billingAddressView, billingAddressInput]{
		name: "billing-address", table: "billing_address", family: "customer",
		filters:   []string{"party_id", "external_reference", "valid_at"},
		implicit:  []string{"external_reference", "valid_from"},
		immutable: []string{"party_id", "party_external_reference"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (db.ScopedBillingAddress, error) {
			return db.BillingAddress(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]db.ScopedBillingAddress, error) {
			p, err := filterUUID(a.Filters, "party_id")
			if err != nil {
				return nil, err
			}
			at, err := filterTime(a.Filters, "valid_at")
			if err != nil {
				return nil, err
			}
			return db.ListBillingAddresses(ctx, q, gen.ListBillingAddressesParams{AllAdmins: a.Account.AllAdministrations,
				AdminIds: nonNil(a.Account.AdministrationIDs), After: seek(a.After), PartyID: p,
				ExternalReference: filterString(a.Filters, "external_reference"), ValidAt: at, PageLimit: a.Limit})
		},
		view: func(b db.ScopedBillingAddress) billingAddressView {
			return billingAddressView{ID: b.ID, PartyID: b.PartyID, ExternalReference: b.ExternalReference, Addressee: b.Addressee,
				AddressLine1: b.AddressLine1, AddressLine2: b.AddressLine2, PostalCode: b.PostalCode, Locality: b.Locality,
				Region: b.Region, Country: b.Country, ValidFrom: utcPtr(b.ValidFrom), ValidUntil: utcPtr(b.ValidUntil),
				ExternalUpdatedAt: utcPtr(b.ExternalUpdatedAt), CreatedAt: b.CreatedAt.UTC(), UpdatedAt: b.UpdatedAt.UTC()}
		},
		build: func(w writeCtx, in billingAddressInput, cur *db.ScopedBillingAddress) (db.ScopedBillingAddress, error) {
			var b db.ScopedBillingAddress
			if cur != nil {
				b = *cur
			} else {
				c, err := resolveRef(w, in.PartyID, in.PartyExternalReference, "party", func(id *uuid.UUID, ref string) (party.Customer, error) {
					return db.Customer(w.Ctx, w.Tx, id, ref, false)
				})
				if err != nil {
					return b, err
				}
				if !w.Account.Sees(c.AdministrationID) {
					return b, forbidden("the API account has no access to the administration of this party")
				}
				b.PartyID, b.AdministrationID = c.ID, &c.AdministrationID
			}
			b.ExternalReference, b.Addressee, b.AddressLine1, b.AddressLine2 = in.ExternalReference, in.Addressee, in.AddressLine1, in.AddressLine2
			b.PostalCode, b.Locality, b.Region, b.Country = in.PostalCode, in.Locality, in.Region, in.Country
			b.ValidFrom, b.ValidUntil = in.ValidFrom, in.ValidUntil
			b.Normalize()
			return b, b.Validate()
		},
		save: func(ctx context.Context, q db.Querier, b db.ScopedBillingAddress, isNew bool) error {
			return db.SaveBillingAddress(ctx, q, b.BillingAddress, isNew)
		},
		meta: func(b *db.ScopedBillingAddress) meta {
			return meta{&b.ID, &b.ExternalReference, &b.ExternalUpdatedAt, &b.CreatedAt, &b.UpdatedAt}
		},
		scope: func(b db.ScopedBillingAddress) *uuid.UUID { return b.AdministrationID },
	}
}
