package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/domain/rateplan"
	"github.com/roamnode/roamnode/domain/session"
)

func TestSeedDemoIsIdempotent(t *testing.T) {
	ctx := context.Background()
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	defer d.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	count := func(q string) int {
		var n int
		require.NoError(t, d.Pool.QueryRow(ctx, q).Scan(&n))
		return n
	}
	require.NoError(t, seedDemo(ctx, d.Pool, log))
	events := count("SELECT count(*) FROM outbox_event")
	require.Equal(t, len(demoTenant)+len(demoChargePoints), events, "one create event per seeded record")
	require.NoError(t, seedDemo(ctx, d.Pool, log))
	require.Equal(t, events, count("SELECT count(*) FROM outbox_event"), "a second run changes nothing")
	require.Equal(t, 3, count("SELECT count(*) FROM party WHERE role = 'customer'"))
	require.Equal(t, 1, count("SELECT count(*) FROM administration WHERE currency = 'EUR'"))
	require.Equal(t, 3, count("SELECT count(*) FROM billing_address"))
	require.Equal(t, 3, count("SELECT count(*) FROM msp_token"))
	require.Equal(t, 2, count("SELECT count(*) FROM cpo_location"))
	require.Equal(t, 3, count("SELECT count(*) FROM cpo_evse"))
	require.Equal(t, 2, count("SELECT count(*) FROM cpo_tariff"))
	require.Equal(t, 1, count("SELECT count(*) FROM rate_plan"))
	require.Equal(t, 1, count(`SELECT count(*) FROM msp_token_subscription_plan p JOIN rate_plan r ON r.id = p.rate_plan_id
		WHERE p.external_reference = 'demo-plan-basic' AND r.external_reference = 'demo-rate-plan'`), "the demo plan's sessions can be priced")
}

// TestSeedDemoRatePlanPrices: the demo plan's rate plan prices sessions
// (so that demo MSP sessions no longer drop out for want of one) with the
// demo's VAT: AC by the default rule, DC by the DC rule.
func TestSeedDemoRatePlanPrices(t *testing.T) {
	ctx := context.Background()
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	defer d.Close()
	require.NoError(t, seedDemo(ctx, d.Pool, slog.New(slog.NewTextHandler(io.Discard, nil))))
	plan, err := db.MSPTokenSubscriptionPlan(ctx, d.Pool, nil, "demo-plan-basic", false)
	require.NoError(t, err)
	require.NotNil(t, plan.RatePlanID)
	rp, err := db.LoadRatePlan(ctx, d.Pool, plan.RatePlanID, "", false)
	require.NoError(t, err)
	cfg, err := db.VATConfigOfAdministration(ctx, d.Pool, plan.AdministrationID)
	require.NoError(t, err)
	start := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	price := func(power string, kwh, hours, parking string) session.PriceResult {
		s := session.ChargeSession{Side: session.MSP, Start: start, End: start.Add(2 * time.Hour), Currency: "EUR",
			Location:    session.Place{LocationID: "L", EvseUID: "E", PowerType: power, Country: "NLD"},
			TotalEnergy: decimal.RequireFromString(kwh), TotalTime: decimal.RequireFromString(hours), TotalParkingTime: decimal.RequireFromString(parking)}
		p := rp.Plan
		r, err := rateplan.Compute(rateplan.Inputs{Session: s, TimeZone: "Europe/Amsterdam", Plan: &p, PlanUsable: true, VAT: cfg,
			Subscription: &rateplan.Subscription{PlanID: plan.ID, AdministrationID: plan.AdministrationID, RatePlanID: plan.RatePlanID}})
		require.NoError(t, err)
		return r
	}
	// AC: 10.05 kWh billed per 0.1 kWh → 10.1 × 0.39 = 3.939; parking 30 min × 0.10 = 3.00; fee 0.25.
	ac := price("AC_3_PHASE", "10.05", "2", "0.5")
	require.Equal(t, "7.189", ac.ExclVAT.String())
	require.Equal(t, "0.21", ac.Components[0].VATRate.String(), "NL standard VAT")
	// DC: 30 kWh × 0.59 = 17.70; 0.5 h charging × 3.00 = 1.50; fee 0.50.
	dc := price("DC", "30", "0.5", "0")
	require.Equal(t, "19.7", dc.ExclVAT.String())
}
