package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/party"
	"github.com/roamnode/roamnode/domain/tenant"
)

// Q returns the generated queries bound to q (a pool or a transaction).
func Q(q Querier) *gen.Queries { return gen.New(q) }

// NotFound turns pgx.ErrNoRows into a domain not-found error (for callers
// of generated queries outside this package).
func NotFound(err error, what string, key any) error { return notFound(err, what, key) }

// notFound turns pgx.ErrNoRows into a domain not-found error naming what.
func notFound(err error, what string, key any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fault.NotFound("not_found", "%s %v does not exist", what, key)
	}
	return err
}

// Translate maps constraint violations of a write to domain errors with the
// field that caused them, so that clients get a 400 naming the field instead
// of a 500.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	code, constraint := pgCode(err)
	switch code {
	case codeUniqueViolation:
		field := "id"
		if strings.HasSuffix(constraint, "external_reference_key") {
			field = "external_reference"
		} else if strings.HasSuffix(constraint, "public_id_key") {
			field = "public_id"
		}
		return &fault.Error{Kind: fault.KindConflict, Code: "duplicate", Message: "a record with this value already exists",
			Fields: []fault.Field{{Path: field, Message: "is already used by another record"}}}
	case codeExclusionViolation:
		return &fault.Error{Kind: fault.KindConflict, Code: "overlapping_validity", Message: "the validity period overlaps another record's",
			Fields: []fault.Field{{Path: "valid_from", Message: "overlaps the validity period of another record of the same owner (" + constraint + ")"}}}
	case codeForeignKeyViolation:
		return fault.NotFound("not_found", "a referenced record does not exist (%s)", constraint)
	case codeCheckViolation:
		return fault.Invalid("", "violates rule %s", constraint)
	}
	return err
}

// Exists reports whether table has a row with id. table is a constant from
// the caller (never user input).
func Exists(ctx context.Context, q Querier, table string, id uuid.UUID) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s WHERE id = $1)", table), id).Scan(&ok)
	return ok, err
}

// PrevID returns the greatest id in table that is smaller than id, or nil.
// Seek pagination uses it to turn created_gt into a link_next whose after is
// a real record id.
func PrevID(ctx context.Context, q Querier, table string, id uuid.UUID) (*uuid.UUID, error) {
	var prev uuid.UUID
	err := q.QueryRow(ctx, fmt.Sprintf("SELECT id FROM %s WHERE id < $1 ORDER BY id DESC LIMIT 1", table), id).Scan(&prev)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &prev, nil
}

// AppendEvent writes ev to the outbox; call it in the write's transaction.
func AppendEvent(ctx context.Context, q Querier, ev event.Event) error {
	data, err := json.Marshal(ev.Data)
	if err != nil {
		return err
	}
	return Q(q).InsertEvent(ctx, gen.InsertEventParams{ID: ev.ID, OccurredAt: ev.OccurredAt, Kind: ev.Kind,
		ModificationKind: string(ev.ModificationKind), AdministrationID: ev.AdministrationID, Data: data})
}

// ---- sellers and administrations

// Seller loads a seller by id (lock: FOR UPDATE) or by external reference.
func Seller(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (tenant.Seller, error) {
	r, err := lookup(ctx, "seller", id, ref, lock, Q(q).GetSeller, Q(q).LockSeller, Q(q).GetSellerByRef, Q(q).LockSellerByRef)
	if err != nil {
		return tenant.Seller{}, err
	}
	return sellerOf(r), nil
}

func sellerOf(r gen.Seller) tenant.Seller {
	return tenant.Seller{ID: r.ID, ExternalReference: r.ExternalReference, Name: r.Name, Country: r.Country,
		VATNumber: r.VatNumber, ExternalUpdatedAt: r.ExternalUpdatedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// ListSellers returns a page of sellers.
func ListSellers(ctx context.Context, q Querier, p gen.ListSellersParams) ([]tenant.Seller, error) {
	rows, err := Q(q).ListSellers(ctx, p)
	return mapAll(rows, sellerOf), err
}

// SaveSeller inserts or updates a seller.
func SaveSeller(ctx context.Context, q Querier, s tenant.Seller, isNew bool) error {
	if isNew {
		return Translate(Q(q).InsertSeller(ctx, gen.InsertSellerParams{ID: s.ID, ExternalReference: s.ExternalReference, Name: s.Name,
			Country: s.Country, VatNumber: s.VATNumber, ExternalUpdatedAt: s.ExternalUpdatedAt, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}))
	}
	return Translate(Q(q).UpdateSeller(ctx, gen.UpdateSellerParams{ID: s.ID, ExternalReference: s.ExternalReference, Name: s.Name,
		Country: s.Country, VatNumber: s.VATNumber, ExternalUpdatedAt: s.ExternalUpdatedAt, UpdatedAt: s.UpdatedAt}))
}

// Administration loads an administration by id or external reference.
func Administration(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (tenant.Administration, error) {
	r, err := lookup(ctx, "administration", id, ref, lock, Q(q).GetAdministration, Q(q).LockAdministration, Q(q).GetAdministrationByRef, Q(q).LockAdministrationByRef)
	if err != nil {
		return tenant.Administration{}, err
	}
	return administrationOf(r), nil
}

func administrationOf(r gen.Administration) tenant.Administration {
	return tenant.Administration{ID: r.ID, ExternalReference: r.ExternalReference, SellerID: r.SellerID, Name: r.Name,
		Currency: r.Currency, LocaleID: r.LocaleID, MinInvoiceAmount: r.MinInvoiceAmount, ExternalUpdatedAt: r.ExternalUpdatedAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// ListAdministrations returns a page of administrations.
func ListAdministrations(ctx context.Context, q Querier, p gen.ListAdministrationsParams) ([]tenant.Administration, error) {
	rows, err := Q(q).ListAdministrations(ctx, p)
	return mapAll(rows, administrationOf), err
}

// SaveAdministration inserts or updates an administration. Currency and
// seller are immutable, so an update does not write them.
func SaveAdministration(ctx context.Context, q Querier, a tenant.Administration, isNew bool) error {
	if isNew {
		return Translate(Q(q).InsertAdministration(ctx, gen.InsertAdministrationParams{ID: a.ID, ExternalReference: a.ExternalReference,
			SellerID: a.SellerID, Name: a.Name, Currency: a.Currency, LocaleID: a.LocaleID, MinInvoiceAmount: a.MinInvoiceAmount,
			ExternalUpdatedAt: a.ExternalUpdatedAt, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}))
	}
	return Translate(Q(q).UpdateAdministration(ctx, gen.UpdateAdministrationParams{ID: a.ID, ExternalReference: a.ExternalReference,
		Name: a.Name, LocaleID: a.LocaleID, MinInvoiceAmount: a.MinInvoiceAmount, ExternalUpdatedAt: a.ExternalUpdatedAt, UpdatedAt: a.UpdatedAt}))
}

// ---- customers and billing addresses

// Customer loads a customer by id or external reference.
func Customer(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (party.Customer, error) {
	r, err := lookup(ctx, "customer", id, ref, lock, Q(q).GetCustomer, Q(q).LockCustomer, Q(q).GetCustomerByRef, Q(q).LockCustomerByRef)
	if err != nil {
		return party.Customer{}, err
	}
	return customerOf(r), nil
}

func customerOf(r gen.Party) party.Customer {
	c := party.Customer{ID: r.ID, ExternalReference: r.ExternalReference, Name: r.Name, Country: r.Country,
		EntityType: party.EntityType(r.EntityType), CompanyRegNum: r.CompanyRegNum, VATNumber: r.VatNumber, BillingEmail: r.BillingEmail,
		BillingPhone: r.BillingPhone, LocaleID: r.LocaleID, ReimbursementVAT: party.ReimbursementVAT(r.ReimbursementVat),
		WithholdBilling: r.WithholdBilling, ExternalUpdatedAt: r.ExternalUpdatedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.AdministrationID != nil {
		c.AdministrationID = *r.AdministrationID
	}
	return c
}

// ListCustomers returns a page of customers.
func ListCustomers(ctx context.Context, q Querier, p gen.ListCustomersParams) ([]party.Customer, error) {
	rows, err := Q(q).ListCustomers(ctx, p)
	return mapAll(rows, customerOf), err
}

// SaveCustomer inserts or updates a customer; its administration is immutable.
func SaveCustomer(ctx context.Context, q Querier, c party.Customer, isNew bool) error {
	if isNew {
		return Translate(Q(q).InsertCustomer(ctx, gen.InsertCustomerParams{ID: c.ID, AdministrationID: &c.AdministrationID,
			ExternalReference: c.ExternalReference, Name: c.Name, Country: c.Country, EntityType: string(c.EntityType),
			CompanyRegNum: c.CompanyRegNum, VatNumber: c.VATNumber, BillingEmail: c.BillingEmail, BillingPhone: c.BillingPhone,
			LocaleID: c.LocaleID, ReimbursementVat: string(c.ReimbursementVAT), WithholdBilling: c.WithholdBilling,
			ExternalUpdatedAt: c.ExternalUpdatedAt, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}))
	}
	return Translate(Q(q).UpdateCustomer(ctx, gen.UpdateCustomerParams{ID: c.ID, ExternalReference: c.ExternalReference, Name: c.Name,
		Country: c.Country, EntityType: string(c.EntityType), CompanyRegNum: c.CompanyRegNum, VatNumber: c.VATNumber,
		BillingEmail: c.BillingEmail, BillingPhone: c.BillingPhone, LocaleID: c.LocaleID, ReimbursementVat: string(c.ReimbursementVAT),
		WithholdBilling: c.WithholdBilling, ExternalUpdatedAt: c.ExternalUpdatedAt, UpdatedAt: c.UpdatedAt}))
}

// ScopedBillingAddress is a billing address with its party's administration
// (the API scope it belongs to).
type ScopedBillingAddress struct {
	party.BillingAddress
	AdministrationID *uuid.UUID
}

// BillingAddress loads a billing address by id or external reference.
func BillingAddress(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (ScopedBillingAddress, error) {
	var r gen.GetBillingAddressRow
	var err error
	switch {
	case id != nil && lock:
		var l gen.LockBillingAddressRow
		l, err = Q(q).LockBillingAddress(ctx, *id)
		r = gen.GetBillingAddressRow(l)
	case lock:
		var l gen.LockBillingAddressByRefRow
		l, err = Q(q).LockBillingAddressByRef(ctx, &ref)
		r = gen.GetBillingAddressRow(l)
	case id != nil:
		r, err = Q(q).GetBillingAddress(ctx, *id)
	default:
		var l gen.GetBillingAddressByRefRow
		l, err = Q(q).GetBillingAddressByRef(ctx, &ref)
		r = gen.GetBillingAddressRow(l)
	}
	if err != nil {
		return ScopedBillingAddress{}, notFound(err, "billing address", keyOf(id, ref))
	}
	return billingAddressOf(r), nil
}

func billingAddressOf(r gen.GetBillingAddressRow) ScopedBillingAddress {
	return ScopedBillingAddress{BillingAddress: party.BillingAddress{ID: r.ID, PartyID: r.PartyID, ExternalReference: r.ExternalReference,
		Addressee: r.Addressee, AddressLine1: r.AddressLine1, AddressLine2: r.AddressLine2, PostalCode: r.PostalCode,
		Locality: r.Locality, Region: r.Region, Country: r.Country, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil,
		ExternalUpdatedAt: r.ExternalUpdatedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, AdministrationID: r.AdministrationID}
}

// ListBillingAddresses returns a page of billing addresses.
func ListBillingAddresses(ctx context.Context, q Querier, p gen.ListBillingAddressesParams) ([]ScopedBillingAddress, error) {
	rows, err := Q(q).ListBillingAddresses(ctx, p)
	return mapAll(rows, func(r gen.ListBillingAddressesRow) ScopedBillingAddress {
		return billingAddressOf(gen.GetBillingAddressRow(r))
	}), err
}

// SaveBillingAddress inserts or updates a billing address; its party is immutable.
func SaveBillingAddress(ctx context.Context, q Querier, b party.BillingAddress, isNew bool) error {
	if isNew {
		return Translate(Q(q).InsertBillingAddress(ctx, gen.InsertBillingAddressParams{ID: b.ID, PartyID: b.PartyID,
			ExternalReference: b.ExternalReference, Addressee: b.Addressee, AddressLine1: b.AddressLine1, AddressLine2: b.AddressLine2,
			PostalCode: b.PostalCode, Locality: b.Locality, Region: b.Region, Country: b.Country, ValidFrom: b.ValidFrom,
			ValidUntil: b.ValidUntil, ExternalUpdatedAt: b.ExternalUpdatedAt, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}))
	}
	return Translate(Q(q).UpdateBillingAddress(ctx, gen.UpdateBillingAddressParams{ID: b.ID, ExternalReference: b.ExternalReference,
		Addressee: b.Addressee, AddressLine1: b.AddressLine1, AddressLine2: b.AddressLine2, PostalCode: b.PostalCode,
		Locality: b.Locality, Region: b.Region, Country: b.Country, ValidFrom: b.ValidFrom, ValidUntil: b.ValidUntil,
		ExternalUpdatedAt: b.ExternalUpdatedAt, UpdatedAt: b.UpdatedAt}))
}

// ---- API accounts

// APIAccount loads an API account by id or external reference.
func APIAccount(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (access.Account, error) {
	r, err := lookup(ctx, "api account", id, ref, lock, Q(q).GetAPIAccount, Q(q).LockAPIAccount, Q(q).GetAPIAccountByRef, Q(q).LockAPIAccountByRef)
	if err != nil {
		return access.Account{}, err
	}
	return accountOf(r), nil
}

// APIAccountByPublicID loads the account that authenticates as publicID.
func APIAccountByPublicID(ctx context.Context, q Querier, publicID string) (access.Account, error) {
	r, err := Q(q).GetAPIAccountByPublicID(ctx, publicID)
	if err != nil {
		return access.Account{}, notFound(err, "api account", publicID)
	}
	return accountOf(r), nil
}

func accountOf(r gen.ApiAccount) access.Account {
	return access.Account{ID: r.ID, ExternalReference: r.ExternalReference, PublicID: r.PublicID, Name: r.Name,
		SecretHash: r.SecretHash, Permissions: r.Permissions, AllAdministrations: r.AllAdministrations,
		AdministrationIDs: r.AdministrationIds, RateLimitRPS: intPtr(r.RateLimitRps), RateLimitBurst: intPtr(r.RateLimitBurst),
		Disabled: r.Disabled, ExternalUpdatedAt: r.ExternalUpdatedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// ListAPIAccounts returns a page of API accounts.
func ListAPIAccounts(ctx context.Context, q Querier, p gen.ListAPIAccountsParams) ([]access.Account, error) {
	rows, err := Q(q).ListAPIAccounts(ctx, p)
	return mapAll(rows, accountOf), err
}

// SaveAPIAccount inserts or updates an API account; public_id is immutable.
func SaveAPIAccount(ctx context.Context, q Querier, a access.Account, isNew bool) error {
	if a.Permissions == nil {
		a.Permissions = []string{}
	}
	if a.AdministrationIDs == nil {
		a.AdministrationIDs = []uuid.UUID{}
	}
	if isNew {
		return Translate(Q(q).InsertAPIAccount(ctx, gen.InsertAPIAccountParams{ID: a.ID, ExternalReference: a.ExternalReference,
			PublicID: a.PublicID, Name: a.Name, SecretHash: a.SecretHash, Permissions: a.Permissions,
			AllAdministrations: a.AllAdministrations, AdministrationIds: a.AdministrationIDs, RateLimitRps: int32Ptr(a.RateLimitRPS),
			RateLimitBurst: int32Ptr(a.RateLimitBurst), Disabled: a.Disabled, ExternalUpdatedAt: a.ExternalUpdatedAt,
			CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}))
	}
	return Translate(Q(q).UpdateAPIAccount(ctx, gen.UpdateAPIAccountParams{ID: a.ID, ExternalReference: a.ExternalReference,
		Name: a.Name, SecretHash: a.SecretHash, Permissions: a.Permissions, AllAdministrations: a.AllAdministrations,
		AdministrationIds: a.AdministrationIDs, RateLimitRps: int32Ptr(a.RateLimitRPS), RateLimitBurst: int32Ptr(a.RateLimitBurst),
		Disabled: a.Disabled, ExternalUpdatedAt: a.ExternalUpdatedAt, UpdatedAt: a.UpdatedAt}))
}

// ---- small mapping helpers

// lookup loads one record by id or by external reference, with FOR UPDATE
// when lock is set, and turns "no rows" into a not-found error naming what.
func lookup[R any](ctx context.Context, what string, id *uuid.UUID, ref string, lock bool,
	byID, lockByID func(context.Context, uuid.UUID) (R, error),
	byRef, lockByRef func(context.Context, *string) (R, error)) (R, error) {
	var r R
	var err error
	switch {
	case id != nil && lock:
		r, err = lockByID(ctx, *id)
	case id != nil:
		r, err = byID(ctx, *id)
	case lock:
		r, err = lockByRef(ctx, &ref)
	default:
		r, err = byRef(ctx, &ref)
	}
	if err != nil {
		return r, notFound(err, what, keyOf(id, ref))
	}
	return r, nil
}

func keyOf(id *uuid.UUID, ref string) string {
	if id != nil {
		return id.String()
	}
	return "ext_ref." + ref
}

func mapAll[A, B any](in []A, f func(A) B) []B {
	out := make([]B, len(in))
	for i, a := range in {
		out[i] = f(a)
	}
	return out
}

func intPtr(v *int32) *int {
	if v == nil {
		return nil
	}
	i := int(*v)
	return &i
}

func int32Ptr(v *int) *int32 {
	if v == nil {
		return nil
	}
	i := int32(*v)
	return &i
}

// conflictOn is a conflict reported on one field.
func conflictOn(path, message string) error {
	return &fault.Error{Kind: fault.KindConflict, Code: "conflict", Message: message, Fields: []fault.Field{{Path: path, Message: message}}}
}
