package db_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/rateplan"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/domain/vat"
	"github.com/roamnode/roamnode/worker"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// setupVAT gives the database the guide's VAT example setup (003 → VAT
// examples): the seller in NL, BE on the origin country, fallback to the
// seller's country; charge sessions standard; NL and BE 21 %, parking
// time reduced (NL 9 %, BE 6 %).
func setupVAT(t *testing.T, m *mspDB) {
	t.Helper()
	ctx := context.Background()
	var seller uuid.UUID
	require.NoError(t, m.d.Pool.QueryRow(ctx, "SELECT seller_id FROM administration WHERE id = $1", m.admin).Scan(&seller))
	now := time.Now().UTC()
	require.NoError(t, db.SaveSellerVATPolicy(ctx, m.d.Pool, db.SellerVATPolicy{SellerID: seller, Policy: vat.SellerPolicy{Country: "NL",
		Policies: map[string]vat.CountryPolicy{"BE": vat.PolicyOriginCountry}, Fallback: vat.FallbackSellerCountry}, CreatedAt: &now, UpdatedAt: &now}))
	for _, r := range []gen.VatRule{
		{ProductCategory: string(vat.CategoryMSPChargeSession), Kind: string(vat.KindStandard)},
		{ProductCategory: string(vat.CategoryMSPChargeSession), Indicators: []string{"parking_time"}, Kind: string(vat.KindReduced)},
	} {
		r.ID, r.CreatedAt, r.UpdatedAt = uuid.Must(uuid.NewV7()), now, now
		require.NoError(t, db.SaveVATRule(ctx, m.d.Pool, r, true))
	}
	for _, r := range []gen.VatRate{
		{Country: "NL", Kind: "standard", Percentage: d("21")}, {Country: "BE", Kind: "standard", Percentage: d("21")},
		{Country: "NL", Kind: "reduced", Percentage: d("9")}, {Country: "BE", Kind: "reduced", Percentage: d("6")},
	} {
		r.ID, r.CreatedAt, r.UpdatedAt = uuid.Must(uuid.NewV7()), now, now
		require.NoError(t, db.SaveVATRate(ctx, m.d.Pool, r, true))
	}
}

// saveRatePlan stores a rate plan of the test administration and makes it
// the subscription plan's.
func saveRatePlan(t *testing.T, m *mspDB, p rateplan.Plan) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	id := uuid.Must(uuid.NewV7())
	p.Currency = "EUR"
	require.NoError(t, db.SaveRatePlan(ctx, m.d.Pool, db.RatePlan{ID: id, AdministrationID: m.admin, Name: "RP", Currency: "EUR", Plan: p,
		CreatedAt: m.now, UpdatedAt: m.now}, true))
	plan, err := db.MSPTokenSubscriptionPlan(ctx, m.d.Pool, &m.plan, "", false)
	require.NoError(t, err)
	plan.RatePlanID = &id
	require.NoError(t, db.SaveMSPTokenSubscriptionPlan(ctx, m.d.Pool, plan, false))
	return id
}

func newMSPPricingDB(t *testing.T) *pricingDB {
	t.Helper()
	p := newPricingDB(t, nil)
	rdb := redis.NewClient(dbtest.RedisDB(dbtest.RedisDBPricing))
	t.Cleanup(func() { rdb.Close() })
	p.proc = worker.NewSessionProcessor(worker.Deps{Pool: p.d.Pool, Redis: rdb, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		// The node's MSP pricer without its caches: the test changes
		// pricing checks between sessions.
		worker.SessionOptions{Schedule: session.Schedule{time.Millisecond},
			Pricers: map[session.Side][]session.Pricer{session.MSP: {rateplan.Pricer{Loader: db.MSPPricingLoader{Pool: p.d.Pool}}}}})
	setupVAT(t, p.mspDB)
	return p
}

// TestMSPPricer: a session of our token is priced through its
// subscription's plan and rate plan, the most specific rule choosing the
// rate, with VAT per component; without a valid link it drops out and is
// priced once the link exists and the case is retried.
func TestMSPPricer(t *testing.T) {
	ctx := context.Background()
	p := newMSPPricingDB(t)
	rp := saveRatePlan(t, p.mspDB, rateplan.Plan{
		Rates: []rateplan.Rate{
			{Code: "std", Components: []rateplan.Component{{Type: rateplan.Energy, Unit: rateplan.PerKWh, Price: d("0.30")}}},
			{Code: "bec", Components: []rateplan.Component{{Type: rateplan.Energy, Unit: rateplan.PerKWh, Price: d("0.40")},
				{Type: rateplan.ParkingTime, Unit: rateplan.PerHour, Price: d("1")}, {Type: rateplan.Flat, Unit: rateplan.PerSession, Price: d("0.50")}}},
		},
		Rules: []rateplan.Rule{{Rate: "std"}, {Rate: "bec", CPOParty: "BE-BEC", PowerTypes: []string{"AC_3_PHASE"}}},
	})

	// No link yet: drop-out "No subscription for the token".
	id := p.receive("M-1", 10)
	require.NoError(t, p.proc.Process(ctx, id))
	rec := p.session(id)
	require.Equal(t, session.DroppedOut, rec.State)
	require.Equal(t, rateplan.ReasonNoSubscription, *rec.DropoutReason)
	require.Equal(t, string(session.CheckPricingConfigured), *rec.DropoutCheck)

	tok := p.token(2, p.now) // another token, so Tok0001 is looked up by uid
	_ = tok
	var tok1 uuid.UUID
	require.NoError(t, p.d.Pool.QueryRow(ctx, "SELECT id FROM msp_token WHERE uid = 'Tok0001'").Scan(&tok1))
	sub := p.subscription(p.now.Add(-72*time.Hour), nil, false, p.now)
	require.NoError(t, p.link(tok1, sub, tp(p.now.Add(-72*time.Hour)), nil, false, p.now))
	_, err := db.ReprocessCase(ctx, p.d.Pool, *rec.DropoutCaseID, session.Retry, "")
	require.NoError(t, err)
	require.NoError(t, p.proc.Process(ctx, id))
	require.Equal(t, session.Priced, p.session(id).State)
	vs := p.prices(id)
	require.Len(t, vs, 1)
	v := vs[0]
	require.Equal(t, session.KindMSP, v.Kind)
	require.Equal(t, "EUR", v.Currency)
	// bec: 10 kWh × 0.40 = 4.00 (21 %), 0.50 flat (21 %); no parking.
	byName := map[string]db.ComponentView{}
	for _, c := range v.Components {
		byName[c.Component] = c
	}
	require.Equal(t, "4", byName["energy"].ExclVAT.String())
	require.Equal(t, "0.84", byName["energy"].VAT.String())
	require.Equal(t, "0.21", byName["energy"].VATRate.String())
	require.Equal(t, "0.5", byName["flat"].ExclVAT.String())
	require.Equal(t, "4.5", v.ExclVAT.String())
	require.Equal(t, "0.95", v.VAT.String())
	require.Equal(t, "5.45", v.InclVAT.String())
	var det map[string]any
	require.NoError(t, json.Unmarshal(v.Detail, &det))
	require.Equal(t, "bec", det["rate"])
	require.Equal(t, rp.String(), det["rate_plan_id"])
	require.Equal(t, sub.String(), det["subscription_id"])
	var subCol *uuid.UUID
	require.NoError(t, p.d.Pool.QueryRow(ctx, "SELECT subscription_id FROM charge_session_price WHERE id = $1", v.ID).Scan(&subCol))
	require.Equal(t, &sub, subCol, "the result names its subscription for the read model")

	// Repricing with the same inputs gives the same amounts as version 2.
	require.NoError(t, p.proc.Reprice(ctx, id, "test"))
	vs = p.prices(id)
	require.Len(t, vs, 2)
	require.True(t, vs[1].InclVAT.Equal(v.InclVAT))
	require.JSONEq(t, string(v.Detail), string(vs[1].Detail))

	// The administration's pricing check: a maximum price per session.
	require.NoError(t, db.SavePricingChecks(ctx, p.d.Pool, db.ThresholdOwner{AdministrationID: &p.admin},
		rateplan.Checks{MaxPrice: decp("4")}, time.Now()))
	big := p.receive("M-2", 12)
	require.NoError(t, p.proc.Process(ctx, big))
	rec = p.session(big)
	require.Equal(t, session.DroppedOut, rec.State)
	require.Equal(t, rateplan.ReasonTooExpensive, *rec.DropoutReason)
}

func decp(s string) *decimal.Decimal { v := d(s); return &v }

// TestMSPPassThroughConnectorTariff: a pass-through rate prices the CPO
// tariff the matched connector names (the CDR carries none) with the
// markup.
func TestMSPPassThroughConnectorTariff(t *testing.T) {
	ctx := context.Background()
	p := newMSPPricingDB(t)
	saveRatePlan(t, p.mspDB, rateplan.Plan{
		Rates: []rateplan.Rate{{Code: "pt", PassThrough: &rateplan.PassThrough{MarkupPercentage: d("10"), MarkupFixed: d("0.25")}}},
		Rules: []rateplan.Rule{{Rate: "pt", CPOParty: "BE-BEC"}},
	})
	var tok1 uuid.UUID
	require.NoError(t, p.d.Pool.QueryRow(ctx, "SELECT id FROM msp_token WHERE uid = 'Tok0001'").Scan(&tok1))
	sub := p.subscription(p.now.Add(-72*time.Hour), nil, false, p.now)
	require.NoError(t, p.link(tok1, sub, tp(p.now.Add(-72*time.Hour)), nil, false, p.now))
	_, err := p.d.Pool.Exec(ctx, `INSERT INTO partner_tariff (id, country_code, party_id, tariff_id, tariff_key, currency, last_updated, data, created_at, updated_at)
		VALUES (gen_random_uuid(), 'BE', 'BEC', 'T1', 'T1', 'EUR', now(), '{"country_code":"BE","party_id":"BEC","id":"T1","currency":"EUR",
		"elements":[{"price_components":[{"type":"ENERGY","price":0.25,"step_size":1}]}],"last_updated":"2025-01-01T00:00:00Z"}', now(), now())`)
	require.NoError(t, err)
	id := p.receive("PT-1", 10)
	require.NoError(t, p.proc.Process(ctx, id))
	require.Equal(t, session.Priced, p.session(id).State)
	v := p.prices(id)[0]
	// 10 kWh × 0.25 = 2.50, +10 % = 2.75, + 0.25 markup = 3.00; 21 % (BE).
	require.Equal(t, "3", v.ExclVAT.String())
	require.Equal(t, "0.63", v.VAT.String())
	var det map[string]any
	require.NoError(t, json.Unmarshal(v.Detail, &det))
	require.Equal(t, "pass_through", det["mode"])
	require.Equal(t, "T1", det["cpo_tariff_id"])
}
