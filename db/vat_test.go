package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/vat"
)

// TestVATConfigRoundTrip stores the setup of the guide's "VAT examples"
// (an NL seller with origin-country policies for BE and NO, fallback to
// the seller's country, a standard rule for charge sessions, standard
// rates NL 21 / BE 21 / NO 25 / DE 19) and checks that the loaded
// configuration gives the guide's answers, through the cache too.
func TestVATConfigRoundTrip(t *testing.T) {
	ctx := context.Background()
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	now := time.Now().UTC().Truncate(time.Microsecond)
	seller, admin := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	_, err = d.Pool.Exec(ctx, "INSERT INTO seller (id, name, country, created_at, updated_at) VALUES ($1, 'S', 'NL', now(), now())", seller)
	require.NoError(t, err)
	_, err = d.Pool.Exec(ctx, "INSERT INTO administration (id, seller_id, name, currency, created_at, updated_at) VALUES ($1, $2, 'A', 'EUR', now(), now())", admin, seller)
	require.NoError(t, err)

	// No policy written yet: the default is "no policies, fallback error".
	cfg, err := db.VATConfig(ctx, d.Pool, seller)
	require.NoError(t, err)
	require.Equal(t, vat.FallbackError, cfg.Seller.Fallback)
	require.Equal(t, "NL", cfg.Seller.Country)

	require.NoError(t, db.SaveSellerVATPolicy(ctx, d.Pool, db.SellerVATPolicy{SellerID: seller, Policy: vat.SellerPolicy{
		Fallback: vat.FallbackSellerCountry, Policies: map[string]vat.CountryPolicy{"BE": vat.PolicyOriginCountry, "NO": vat.PolicyOriginCountry}},
		CreatedAt: &now, UpdatedAt: &now}))
	require.NoError(t, db.SaveVATRule(ctx, d.Pool, gen.VatRule{ID: uuid.Must(uuid.NewV7()), ProductCategory: string(vat.CategoryMSPChargeSession),
		Kind: "standard", CreatedAt: now, UpdatedAt: now}, true))
	from := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	for c, p := range map[string]string{"NL": "21", "BE": "21", "NO": "25", "DE": "19"} {
		require.NoError(t, db.SaveVATRate(ctx, d.Pool, gen.VatRate{ID: uuid.Must(uuid.NewV7()), Country: c, Kind: "standard",
			Percentage: decimal.RequireFromString(p), ValidFrom: &from, CreatedAt: now, UpdatedAt: now}, true))
	}

	cache := db.NewVATCache(time.Hour)
	for _, load := range []func() (vat.Config, error){
		func() (vat.Config, error) { return db.VATConfig(ctx, d.Pool, seller) },
		func() (vat.Config, error) { return db.VATConfigOfAdministration(ctx, d.Pool, admin) },
		func() (vat.Config, error) { return cache.ConfigOfAdministration(ctx, d.Pool, admin) },
	} {
		cfg, err := load()
		require.NoError(t, err)
		require.NoError(t, cfg.Validate())
		for origin, want := range map[string][2]string{"NO": {"NO", "25"}, "BE": {"BE", "21"}, "DE": {"NL", "21"}} {
			res, err := vat.Determine(vat.Input{Category: vat.CategoryMSPChargeSession, OriginCountry: origin,
				Moment: time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)}, cfg)
			require.NoError(t, err)
			require.Equal(t, want[0], res.Country, "session in %s", origin)
			require.True(t, decimal.RequireFromString(want[1]).Equal(res.Percentage), "session in %s: %s", origin, res.Percentage)
		}
	}

	// The cache serves its copy within the TTL; a zero-TTL cache reloads.
	require.NoError(t, db.SaveSellerVATPolicy(ctx, d.Pool, db.SellerVATPolicy{SellerID: seller, Policy: vat.SellerPolicy{
		Fallback: vat.FallbackError}, CreatedAt: &now, UpdatedAt: &now}))
	cached, err := cache.Config(ctx, d.Pool, seller)
	require.NoError(t, err)
	require.Equal(t, vat.FallbackSellerCountry, cached.Seller.Fallback)
	fresh, err := db.NewVATCache(0).Config(ctx, d.Pool, seller)
	require.NoError(t, err)
	require.Equal(t, vat.FallbackError, fresh.Seller.Fallback)
	_, err = vat.Determine(vat.Input{Category: vat.CategoryMSPChargeSession, OriginCountry: "DE", Moment: time.Now()}, fresh)
	require.True(t, fault.Is(err, fault.KindConflict))

	_, err = db.VATConfig(ctx, d.Pool, uuid.New())
	require.True(t, fault.Is(err, fault.KindNotFound))
}
