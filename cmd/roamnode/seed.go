package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/party"
	"github.com/roamnode/roamnode/domain/tenant"
)

// seedDemo loads a coherent demo tenant: a seller, an administration in
// EUR, customers with billing addresses. It is idempotent: records are keyed
// by external reference and only created when missing. Later capabilities
// (rate plans, tokens, EVSEs) extend it the same way.
func seedDemo(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, out io.Writer) error {
	created := 0
	err := db.InTx(ctx, pool, func(tx pgx.Tx) error {
		// One seeder at a time (two replicas running `seed demo` together).
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(727275)"); err != nil {
			return err
		}
		seller, n, err := ensure(ctx, tx, "demo-seller", func(ref string) (tenant.Seller, error) { return db.Seller(ctx, tx, nil, ref, false) },
			func(now time.Time, id uuid.UUID) (tenant.Seller, error) {
				s := tenant.Seller{ID: id, ExternalReference: ptr("demo-seller"), Name: "Demo Mobility B.V.", Country: "NL",
					VATNumber: ptr("NL123456789B01"), CreatedAt: now, UpdatedAt: now}
				return s, db.SaveSeller(ctx, tx, s, true)
			}, "seller")
		if err != nil {
			return err
		}
		created += n
		admin, n, err := ensure(ctx, tx, "demo-eur", func(ref string) (tenant.Administration, error) {
			return db.Administration(ctx, tx, nil, ref, false)
		}, func(now time.Time, id uuid.UUID) (tenant.Administration, error) {
			a := tenant.Administration{ID: id, ExternalReference: ptr("demo-eur"), SellerID: seller.ID, Name: "Demo Netherlands",
				Currency: "EUR", LocaleID: ptr("nl-NL"), CreatedAt: now, UpdatedAt: now}
			return a, db.SaveAdministration(ctx, tx, a, true)
		}, "administration")
		if err != nil {
			return err
		}
		created += n
		customers := []party.Customer{
			{Name: "J. de Vries", Country: "NL", EntityType: party.Person, BillingEmail: ptr("jdevries@example.com"), LocaleID: ptr("nl-NL"), ReimbursementVAT: party.VATExempt},
			{Name: "Tulip Logistics B.V.", Country: "NL", EntityType: party.Organisation, CompanyRegNum: ptr("12345678"), VATNumber: ptr("NL001234567B01"),
				BillingEmail: ptr("finance@tulip.example"), BillingPhone: ptr("+31 20 123 4567"), ReimbursementVAT: party.VATApplies},
			{Name: "Gardening Enterprise Ltd", Country: "GB", EntityType: party.Organisation, CompanyRegNum: ptr("6984621"), LocaleID: ptr("en-GB"), ReimbursementVAT: party.VATUnknown},
		}
		for i, c := range customers {
			ref := fmt.Sprintf("demo-customer-%d", i+1)
			cust, n, err := ensure(ctx, tx, ref, func(ref string) (party.Customer, error) { return db.Customer(ctx, tx, nil, ref, false) },
				func(now time.Time, id uuid.UUID) (party.Customer, error) {
					c.ID, c.AdministrationID, c.ExternalReference, c.CreatedAt, c.UpdatedAt = id, admin.ID, ptr(ref), now, now
					if err := c.Validate(); err != nil {
						return c, err
					}
					return c, db.SaveCustomer(ctx, tx, c, true)
				}, "customer")
			if err != nil {
				return err
			}
			created += n
			_, n, err = ensure(ctx, tx, ref+"-address", func(ref string) (db.ScopedBillingAddress, error) { return db.BillingAddress(ctx, tx, nil, ref, false) },
				func(now time.Time, id uuid.UUID) (db.ScopedBillingAddress, error) {
					from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
					b := party.BillingAddress{ID: id, PartyID: cust.ID, ExternalReference: ptr(ref + "-address"), Addressee: cust.Name,
						AddressLine1: ptr(fmt.Sprintf("Keizersgracht %d", 100+i)), PostalCode: ptr("1015 CJ"), Locality: ptr("Amsterdam"),
						Country: "NL", ValidFrom: &from, CreatedAt: now, UpdatedAt: now}
					return db.ScopedBillingAddress{BillingAddress: b, AdministrationID: &admin.ID}, db.SaveBillingAddress(ctx, tx, b, true)
				}, "billing-address")
			if err != nil {
				return err
			}
			created += n
		}
		return nil
	})
	if err != nil {
		return err
	}
	log.Info("demo tenant ready", "created", created)
	return nil
}

// ensure returns the record with external reference ref, creating it (and
// its outbox event) when missing; n is 1 when it was created.
func ensure[T any](ctx context.Context, tx pgx.Tx, ref string, get func(string) (T, error), create func(time.Time, uuid.UUID) (T, error), kind string) (T, int, error) {
	v, err := get(ref)
	if err == nil || !fault.Is(err, fault.KindNotFound) {
		return v, 0, err
	}
	id := uuid.Must(uuid.NewV7())
	sec, nsec := id.Time().UnixTime()
	v, err = create(time.Unix(sec, nsec).UTC(), id)
	if err != nil {
		return v, 0, fmt.Errorf("seed %s %s: %w", kind, ref, err)
	}
	return v, 1, db.AppendEvent(ctx, tx, event.New(kind, event.Create, nil, map[string]any{"id": id, "external_reference": ref}))
}

func ptr[T any](v T) *T { return &v }
