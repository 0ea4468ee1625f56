package adminapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/domain/rateplan"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/domain/token"
	"github.com/roamnode/roamnode/domain/vat"
	"github.com/roamnode/roamnode/ocpi/ocpitest"
	"github.com/roamnode/roamnode/worker"
)

// pricingFixture is an MSP set-up that prices sessions: a seller in Malta
// (VAT: no country policies, fallback to the seller's country, charge
// sessions standard 18 %), an EUR administration, a customer with a
// subscription whose plan uses a rate plan (energy 0.30/kWh, flat 0.50;
// DC energy 0.59/kWh), our token linked to it, and a partner CPO (a party
// of the test's own) with a connection, a location LOC1 and EVSE 3256.
type pricingFixture struct {
	t                                    *testing.T
	admin, customer, plan, sub, ratePlan uuid.UUID
	tokenUID                             string
	party                                string
	connToken                            string
	location                             uuid.UUID
	partnerID                            uuid.UUID
}

// maltaVAT configures the instance-wide VAT rule and rate once per test
// process (VAT rules and rates are not per tenant; Malta keeps them apart
// from other tests' countries).
var maltaVAT sync.Once

// freeParty is a random party id (three of 36 characters) that no
// roaming party of the shared test database has yet: every pricing
// fixture registers its own CPO party (unique per country and role).
func freeParty(t *testing.T) string {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for {
		u := uuid.New()
		p := string([]byte{alnum[int(u[0])%36], alnum[int(u[1])%36], alnum[int(u[2])%36]})
		var taken bool
		require.NoError(t, testDB.Pool.QueryRow(context.Background(),
			`SELECT EXISTS (SELECT 1 FROM roaming_party_id WHERE party_id = $1)`, p).Scan(&taken))
		if !taken {
			return p
		}
	}
}

func newPricingFixture(t *testing.T) *pricingFixture {
	t.Helper()
	ctx := context.Background()
	pool := testDB.Pool
	now := time.Now().UTC().Truncate(time.Second)
	f := &pricingFixture{t: t, admin: uuid.Must(uuid.NewV7()), customer: uuid.Must(uuid.NewV7()), plan: uuid.Must(uuid.NewV7()),
		sub: uuid.Must(uuid.NewV7()), ratePlan: uuid.Must(uuid.NewV7()), party: freeParty(t),
		connToken: partner.NewToken(), location: uuid.Must(uuid.NewV7()), partnerID: uuid.Must(uuid.NewV7())}
	// The UID is unique per type across all tests sharing the database (the
	// three-character party alone collided now and then).
	f.tokenUID = "PRC" + f.party + strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", "")[:12])
	seller := uuid.Must(uuid.NewV7())
	exec := func(sql string, args ...any) {
		_, err := pool.Exec(ctx, sql, args...)
		require.NoError(t, err, sql)
	}
	exec(`INSERT INTO seller (id, name, country, created_at, updated_at) VALUES ($1, 'Malta seller', 'MT', now(), now())`, seller)
	exec(`INSERT INTO administration (id, seller_id, name, currency, created_at, updated_at) VALUES ($1, $2, 'MT EUR', 'EUR', now(), now())`, f.admin, seller)
	exec(`INSERT INTO party (id, role, administration_id, name, country, entity_type, created_at, updated_at) VALUES ($1, 'customer', $2, 'Jane', 'MT', 'person', now(), now())`,
		f.customer, f.admin)
	require.NoError(t, db.SaveSellerVATPolicy(ctx, pool, db.SellerVATPolicy{SellerID: seller, Policy: vat.SellerPolicy{Country: "MT",
		Policies: map[string]vat.CountryPolicy{}, Fallback: vat.FallbackSellerCountry}, CreatedAt: &now, UpdatedAt: &now}))
	maltaVAT.Do(func() {
		mt := "MT"
		require.NoError(t, db.SaveVATRule(ctx, pool, gen.VatRule{ID: uuid.Must(uuid.NewV7()), ProductCategory: string(vat.CategoryMSPChargeSession),
			Country: &mt, Kind: string(vat.KindStandard), CreatedAt: now, UpdatedAt: now}, true))
		require.NoError(t, db.SaveVATRate(ctx, pool, gen.VatRate{ID: uuid.Must(uuid.NewV7()), Country: "MT", Kind: string(vat.KindStandard),
			Percentage: decimal.NewFromInt(18), CreatedAt: now, UpdatedAt: now}, true))
	})
	price := decimal.RequireFromString
	require.NoError(t, db.SaveRatePlan(ctx, pool, db.RatePlan{ID: f.ratePlan, AdministrationID: f.admin, Name: "Standard", Currency: "EUR",
		Plan: rateplan.Plan{Currency: "EUR", Rates: []rateplan.Rate{
			{Code: "std", Components: []rateplan.Component{{Type: rateplan.Energy, Unit: rateplan.PerKWh, Price: price("0.30")},
				{Type: rateplan.Flat, Unit: rateplan.PerSession, Price: price("0.50")}}},
			{Code: "dc", Components: []rateplan.Component{{Type: rateplan.Energy, Unit: rateplan.PerKWh, Price: price("0.59")}}},
		}, Rules: []rateplan.Rule{{Rate: "std"}, {Rate: "dc", PowerTypes: []string{"DC"}}}}, CreatedAt: now, UpdatedAt: now}, true))
	require.NoError(t, db.SaveMSPTokenSubscriptionPlan(ctx, pool, gen.MspTokenSubscriptionPlan{ID: f.plan, AdministrationID: f.admin, Name: "Basic",
		RatePlanID: &f.ratePlan, CreatedAt: now, UpdatedAt: now}, true))
	require.NoError(t, db.SaveMSPTokenSubscription(ctx, pool, gen.MspTokenSubscription{ID: f.sub, AdministrationID: f.admin, CustomerID: f.customer,
		PlanID: f.plan, ValidFrom: now.Add(-30 * 24 * time.Hour), CreatedAt: now, UpdatedAt: now}, true))
	e, err := token.ParseEVCOID(fmt.Sprintf("MTRNEC%08d", time.Now().UnixNano()%100000000))
	require.NoError(t, err)
	tok := uuid.Must(uuid.NewV7())
	require.NoError(t, db.SaveMSPToken(ctx, pool, gen.MspToken{ID: tok, AdministrationID: f.admin, EvcoID: e.WithCheckDigit().Normalized(),
		CountryCode: "MT", PartyID: "RNE", Uid: f.tokenUID, UidKey: token.UID(f.tokenUID).Key(), Type: "RFID", Issuer: "I", CreatedAt: now, UpdatedAt: now}, true))
	from := now.Add(-30 * 24 * time.Hour)
	require.NoError(t, db.SaveMSPTokenLink(ctx, pool, gen.MspTokenLink{ID: uuid.Must(uuid.NewV7()), TokenID: tok, SubscriptionID: f.sub, ValidFrom: &from,
		CreatedAt: now, UpdatedAt: now}, true))

	// The partner CPO, its connection and its location.
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "cpo " + f.party, Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	c.Registered(f.connToken, "their-"+f.party, "http://127.0.0.1:1/versions", "2.2.1", nil, nil, "partner", now)
	require.NoError(t, db.SaveConnection(ctx, pool, c, true))
	q := db.Q(pool)
	require.NoError(t, q.InsertPartner(ctx, gen.InsertPartnerParams{ID: f.partnerID, Name: "CPO " + f.party, Country: "BE", CreatedAt: now, UpdatedAt: now}))
	require.NoError(t, q.InsertPartyID(ctx, gen.InsertPartyIDParams{ID: uuid.Must(uuid.NewV7()), PartnerID: f.partnerID, ConnectionID: &c.ID,
		CountryCode: "BE", PartyID: f.party, Role: "CPO", CreatedAt: now}))
	exec(`INSERT INTO partner_location (id, connection_id, country_code, party_id, location_id, location_key, latitude, longitude, time_zone, publish,
		last_updated, data, created_at, updated_at)
		VALUES ($1, $2, 'BE', $3, 'LOC1', 'LOC1', 51.04, 3.72, 'Europe/Brussels', true, now(), '{"country":"BEL"}', now(), now())`, f.location, c.ID, f.party)
	exec(`INSERT INTO partner_evse (location_ref, position, uid, uid_key, evse_id, evse_id_key, status, last_updated, data)
		VALUES ($1, 0, '3256', '3256', $2, $3, 'AVAILABLE', now(),
		'{"uid":"3256","connectors":[{"id":"1","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":32,"max_electric_power":22000}]}')`,
		f.location, "BE*"+f.party+"*E3256", "BE"+f.party+"E3256")
	return f
}

// cdr is the spec's example CDR for our token at the fixture's EVSE, with
// energy kwh, ended an hour ago after two hours.
func (f *pricingFixture) cdr(id string, kwh string) []byte {
	raw, err := os.ReadFile(ocpitest.Dir() + "/../examples/cdr_example.json")
	require.NoError(f.t, err)
	var m map[string]any
	require.NoError(f.t, json.Unmarshal(raw, &m))
	end := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	m["id"], m["country_code"], m["party_id"] = id, "BE", f.party
	m["start_date_time"], m["end_date_time"] = end.Add(-2*time.Hour).Format(time.RFC3339), end.Format(time.RFC3339)
	tok := m["cdr_token"].(map[string]any)
	tok["uid"], tok["type"], tok["country_code"], tok["party_id"] = f.tokenUID, "RFID", "MT", "RNE"
	loc := m["cdr_location"].(map[string]any)
	loc["id"], loc["evse_uid"], loc["evse_id"], loc["connector_id"], loc["country"], loc["connector_power_type"] = "LOC1", "3256", "BE*"+f.party+"*E3256", "1", "BEL", "AC_3_PHASE"
	m["total_energy"] = json.Number(kwh)
	periods := m["charging_periods"].([]any)
	for i, p := range periods {
		pm := p.(map[string]any)
		pm["start_date_time"] = end.Add(-2*time.Hour + time.Duration(i)*time.Minute).Format(time.RFC3339)
		for _, dm := range pm["dimensions"].([]any) {
			d := dm.(map[string]any)
			if d["type"] == "ENERGY" {
				d["volume"] = json.Number(kwh)
			}
		}
	}
	out, err := json.Marshal(m)
	require.NoError(f.t, err)
	return out
}

// postCDR sends a CDR to our eMSP CDRs receiver as the partner and returns
// the session id.
func (f *pricingFixture) postCDR(app *fiber.App, body []byte) uuid.UUID {
	f.t.Helper()
	req := httptest.NewRequest("POST", "/ocpi/2.2.1/emsp/cdrs", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Token "+base64.StdEncoding.EncodeToString([]byte(f.connToken)))
	req.Header.Set("Content-Type", "application/json")
	res, err := app.Test(req, -1)
	require.NoError(f.t, err)
	raw, _ := io.ReadAll(res.Body)
	require.Equal(f.t, 201, res.StatusCode, "%s", raw)
	loc := res.Header.Get("Location")
	id, err := uuid.Parse(loc[strings.LastIndex(loc, "/")+1:])
	require.NoError(f.t, err)
	return id
}

// processor prices sessions through the node's pricers (Redis db 14).
func pricingProcessor(t *testing.T) *worker.SessionProcessor {
	rdb := redis.NewClient(dbtest.RedisDB(dbtest.RedisDBPricing))
	t.Cleanup(func() { rdb.Close() })
	return worker.NewSessionProcessor(worker.Deps{Pool: testDB.Pool, Redis: rdb, Log: testLog()},
		worker.SessionOptions{Schedule: session.Schedule{time.Millisecond}, Pricing: true})
}

// TestMSPPricingEndToEnd: a partner CDR arrives over OCPI, the pipeline
// prices it for our customer with VAT, the result is visible through the
// Admin API with its versions and filters, and each version has its
// outbox event.
func TestMSPPricingEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := setup(t)
	f := newPricingFixture(t)
	proc := pricingProcessor(t)

	id := f.postCDR(h.app, f.cdr("E2E-"+f.party, "15"))
	require.NoError(t, proc.Process(ctx, id))
	require.Equal(t, session.Priced, h.session(id).State)

	g := h.must(200, h.do("GET", "/main/v1/msp-charge-session-priced/"+id.String(), nil))
	price := g.JSON["price"].(map[string]any)
	require.Equal(t, "msp", price["kind"])
	require.Equal(t, float64(1), price["version"])
	require.Equal(t, "initial", price["reason"])
	require.Equal(t, "EUR", price["currency"])
	// std: 15 kWh × 0.30 = 4.50 + 0.50 flat = 5.00; Malta 18 %: 0.81 + 0.09.
	require.Equal(t, "5", price["excl_vat"])
	require.Equal(t, "0.9", price["vat"])
	require.Equal(t, "5.9", price["incl_vat"])
	comps := price["components"].([]any)
	require.Len(t, comps, 2)
	energy := comps[0].(map[string]any)
	require.Equal(t, "energy", energy["component"])
	require.Equal(t, "0.18", energy["vat_rate"])
	require.Equal(t, "0.81", energy["vat"])
	detail := price["detail"].(map[string]any)
	require.Equal(t, f.sub.String(), detail["subscription_id"])
	require.Equal(t, "std", detail["rate"])
	require.Equal(t, id.String(), g.JSON["charge_session"].(map[string]any)["id"])
	require.Equal(t, "priced", g.JSON["charge_session"].(map[string]any)["state"])

	var events int
	require.NoError(t, testDB.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox_event WHERE kind = 'msp-charge-session-priced'
		AND data->>'charge_session_id' = $1 AND data->>'incl_vat' = '5.9' AND administration_id = $2`, id.String(), f.admin).Scan(&events))
	require.Equal(t, 1, events)

	// Repricing keeps version 1 and adds version 2; the list shows both.
	require.NoError(t, proc.Reprice(ctx, id, "correction: test"))
	g = h.must(200, h.do("GET", "/main/v1/msp-charge-session-priced/"+id.String(), nil))
	vs := g.JSON["versions"].([]any)
	require.Len(t, vs, 2)
	require.Equal(t, "correction: test", vs[1].(map[string]any)["reason"])
	require.Equal(t, float64(2), g.JSON["price"].(map[string]any)["version"])

	for _, q := range []url.Values{{"subscription_id": {f.sub.String()}}, {"customer_id": {f.customer.String()}},
		{"token_uid": {strings.ToLower(f.tokenUID)}, "start_gte": {time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)}}} {
		l := h.must(200, h.do("GET", "/main/v1/msp-charge-session-priced?"+q.Encode(), nil))
		require.Len(t, l.items(), 1, q.Encode())
		require.Len(t, l.items()[0]["versions"], 2)
	}
	l := h.must(200, h.do("GET", "/main/v1/msp-charge-session-priced?subscription_id="+uuid.NewString(), nil))
	require.Empty(t, l.items())
	require.Equal(t, 2, h.outboxCount("msp-charge-session-priced", f.admin))
}

// TestChargeCostCalculation: a quote goes through the same pricing as a
// session (the DC rule for a DC connector, VAT per component) and explains
// why it cannot price.
func TestChargeCostCalculation(t *testing.T) {
	t.Parallel()
	h := setup(t)
	f := newPricingFixture(t)
	base := "/main/v1/msp-charge-cost-calculation?"
	q := url.Values{"subscription_id": {f.sub.String()}, "location_id": {f.location.String()}, "energy": {"20"}, "duration": {"90"}}
	r := h.must(200, h.do("GET", base+q.Encode(), nil))
	require.Equal(t, "6.5", r.str("excl_vat"), "20 kWh × 0.30 + 0.50")
	require.Equal(t, "1.17", r.str("vat"))
	require.Equal(t, "7.67", r.str("incl_vat"))
	require.Equal(t, f.plan.String(), r.str("plan_id"))

	// A prospect: the plan alone, at the EVSE by EVSE id.
	q = url.Values{"plan_id": {f.plan.String()}, "evse_id": {"be-" + strings.ToLower(f.party) + "-e3256"}, "energy": {"10"}, "duration": {"60"}}
	require.Equal(t, "3.5", h.must(200, h.do("GET", base+q.Encode(), nil)).str("excl_vat"))

	e := h.must(400, h.do("GET", base+"energy=-1&duration=0&plan_id=x&typo=1", nil))
	require.ElementsMatch(t, []string{"energy", "duration", "plan_id", "location_id", "typo"}, e.fields())

	// A plan without a rate plan cannot be priced: the drop-out reason.
	plan := uuid.Must(uuid.NewV7())
	require.NoError(t, db.SaveMSPTokenSubscriptionPlan(context.Background(), testDB.Pool, gen.MspTokenSubscriptionPlan{ID: plan,
		AdministrationID: f.admin, Name: "No rates", CreatedAt: time.Now(), UpdatedAt: time.Now()}, true))
	q.Set("plan_id", plan.String())
	e = h.must(400, h.do("GET", base+q.Encode(), nil))
	require.Equal(t, "not_priceable", e.code())
	require.Contains(t, string(e.Raw), rateplan.ReasonNoRatePlan)
}

func TestPricingChecksAPI(t *testing.T) {
	t.Parallel()
	h := setup(t)
	admin, partnerID := newAdministration(t), newPartner(t)
	p := "/main/v1/administration/" + admin.String() + "/pricing-checks"
	r := h.must(200, h.do("GET", p, nil))
	require.Nil(t, r.JSON["max_price"])
	r = h.must(200, h.do("POST", p, map[string]any{"max_price": "250", "partner_cost_absolute": "0.05"}))
	require.Equal(t, "250", r.str("max_price"))
	before := h.outboxCount("pricing-checks", admin)
	h.must(200, h.do("POST", p, map[string]any{"max_price": "250.00"}))
	require.Equal(t, before, h.outboxCount("pricing-checks", admin), "an unchanged value writes no event")
	e := h.must(400, h.do("POST", p, map[string]any{"partner_cost_percentage": "-1"}))
	require.Equal(t, []string{"partner_cost_percentage"}, e.fields())
	h.must(200, h.do("POST", "/main/v1/roaming-partner/"+partnerID.String()+"/pricing-checks", map[string]any{"partner_cost_percentage": "2"}))
	require.Equal(t, "2", h.must(200, h.do("GET", "/main/v1/roaming-partner/"+partnerID.String()+"/pricing-checks", nil)).str("partner_cost_percentage"))
}

// oaPricing exercises the MSP pricing operations for the contract test
// (TestOpenAPIContract).
func oaPricing(t *testing.T, c *oaClient, tag, admID string) {
	t.Helper()
	ctx := context.Background()
	body := ratePlanBody(admID)
	rp := c.do(201, "POST", "/main/v1/rate-plan", body)
	c.do(200, "GET", "/main/v1/rate-plan/"+rp.str("id"), nil)
	c.do(200, "GET", "/main/v1/rate-plan?administration_id="+admID+"&currency=EUR", nil)
	c.do(200, "POST", "/main/v1/rate-plan/"+rp.str("id"), map[string]any{"description": "d", "external_updated_at": time.Now().Add(-time.Hour)})
	c.do(204, "POST", "/main/v1/rate-plan/"+rp.str("id"), map[string]any{"external_updated_at": time.Now().Add(-2 * time.Hour)})
	c.do(201, "POST", "/main/v1/rate-plan/ext_ref.RP-"+tag, body)
	c.do(400, "POST", "/main/v1/rate-plan", map[string]any{"administration_id": admID, "name": "x", "rules": []any{map[string]any{"rate": "nope"}}})

	f := newPricingFixture(t)
	proc := pricingProcessor(t)
	id := f.postCDR(c.app, f.cdr("OA-"+tag, "10"))
	require.NoError(t, proc.Process(ctx, id))
	c.do(200, "GET", "/main/v1/msp-charge-session-priced?subscription_id="+f.sub.String(), nil)
	c.do(200, "GET", "/main/v1/msp-charge-session-priced/"+id.String(), nil)
	c.do(400, "GET", "/main/v1/msp-charge-session-priced/"+uuid.NewString(), nil)
	q := url.Values{"subscription_id": {f.sub.String()}, "location_id": {f.location.String()}, "energy": {"20"}, "duration": {"90"},
		"start_date_time": {time.Now().UTC().Format(time.RFC3339)}}
	c.do(200, "GET", "/main/v1/msp-charge-cost-calculation?"+q.Encode(), nil)
	c.do(400, "GET", "/main/v1/msp-charge-cost-calculation?energy=1", nil)
	for _, p := range []string{"/main/v1/administration/" + admID, "/main/v1/roaming-partner/" + f.partnerID.String()} {
		c.do(200, "GET", p+"/pricing-checks", nil)
		c.do(200, "POST", p+"/pricing-checks", map[string]any{"max_price": "300"})
	}
}
