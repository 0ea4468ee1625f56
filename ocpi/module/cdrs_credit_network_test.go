package module_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/domain/roamingcost"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/worker"
)

// perKWhMSP is the eMSP's pricer of the network test: 0.40 per kWh, 21 %
// VAT rounded to the cent (a rate plan's figures without its set-up).
type perKWhMSP struct{}

func (perKWhMSP) Price(_ context.Context, s session.ChargeSession, _ time.Time) ([]session.PriceResult, error) {
	rate := decimal.RequireFromString("0.21")
	excl := decimal.RequireFromString("0.40").Mul(s.TotalEnergy)
	vat := excl.Mul(rate).Round(2)
	return []session.PriceResult{{Kind: session.KindMSP, Currency: "EUR", Components: []session.PriceComponent{{Component: "energy",
		Volume: s.TotalEnergy, Unit: "kWh", ExclVAT: excl, VATRate: rate, VAT: vat, InclVAT: excl.Add(vat)}}}}, nil
}

// Two nodes, each with its pipeline: the CPO prices a session at its
// charge point and sends the CDR; the eMSP prices it for its customer.
// The CPO then fixes its tariff and reprices: the eMSP receives a credit
// CDR and a replacement CDR, and its MSP results show the reversal of
// what it charged (linked to the credited session's result) and the price
// of the replacement.
func TestTwoNodeCreditCDRs(t *testing.T) {
	cpoPricers := map[session.Side][]session.Pricer{session.CPO: {roamingcost.Pricer{}}}
	cpo := startLive(t, "NL", "CPN", "CPO", dbtest.RedisDBNetworkCPO, worker.Sessions(worker.SessionOptions{
		Schedule: session.Schedule{50 * time.Millisecond}, Pricers: cpoPricers}))
	cpoPricers[session.CPO][0] = roamingcost.Pricer{Loader: db.RoamingCostLoader{Pool: cpo.db.Pool}}
	emsp := startLive(t, "NL", "RNE", "EMSP", dbtest.RedisDBNetworkMSP, worker.Sessions(worker.SessionOptions{
		Schedule: session.Schedule{50 * time.Millisecond, 100 * time.Millisecond, time.Second}, Pricers: map[session.Side][]session.Pricer{session.MSP: {perKWhMSP{}}}}))
	ctx := context.Background()

	ca := cpo.admin(201, "POST", "/main/v1/roaming-connection", map[string]any{"name": "to eMSP", "kind": "peer_to_peer"})
	ce := emsp.admin(201, "POST", "/main/v1/roaming-connection", map[string]any{"name": "to CPO", "kind": "peer_to_peer"})
	reg := emsp.admin(200, "POST", "/main/v1/roaming-connection/"+ce["id"].(string)+"/register",
		map[string]any{"versions_url": ca["versions_url"], "token": ca["token_a"]})
	require.Equal(t, "registered", reg["status"])
	for _, p := range cpo.admin(200, "GET", "/main/v1/roaming-partner?party=NL-RNE", nil)["items"].([]any) {
		cpo.admin(201, "POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": p.(map[string]any)["id"], "role": "cpo",
			"valid_from": "2020-01-01T00:00:00Z"})
	}
	cpo.admin(201, "POST", "/main/v1/cpo-evse-location/CR-LOC1", map[string]any{"country_code": "NL", "party_id": "CPN",
		"address": "Stationsplein 1", "city": "Utrecht", "country": "NLD", "time_zone": "Europe/Amsterdam",
		"coordinates": map[string]any{"latitude": "52.089444", "longitude": "5.110278"}, "opening_times": map[string]any{"twentyfourseven": true}})
	conn := map[string]any{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230,
		"max_amperage": 32, "max_electric_power": 22000, "tariff_ids": []string{"CR-T1"}}
	cpo.admin(201, "POST", "/main/v1/cpo-evse/CR-E1", map[string]any{"location_id": "CR-LOC1", "status": "AVAILABLE",
		"evse_id": "NL*CPN*ECR1", "connectors": []any{conn}})
	tariff := func(status int, price float64) {
		cpo.admin(status, "POST", "/main/v1/cpo-tariff/CR-T1", map[string]any{"country_code": "NL", "party_id": "CPN", "currency": "EUR",
			"type": "REGULAR", "elements": []any{map[string]any{"price_components": []any{map[string]any{"type": "ENERGY", "price": price, "step_size": 1}}}}})
	}
	tariff(201, 0.25)
	eventually(t, "location at the eMSP", func() bool { return evseStatus(emsp, "CR-LOC1", "CR-E1") == "AVAILABLE" })

	f := newMSPFixture(emsp.instance)
	sub := f.subscription(at(-48*time.Hour), "")
	tok := f.token("CRD0001", map[string]any{"type": "RFID"})
	f.link(tok, sub, "", "", nil)

	start := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	cpo.admin(201, "POST", "/main/v1/cpo-charge-session", map[string]any{"session_id": "CR-S1", "status": "COMPLETED",
		"start_date_time": start.Format(time.RFC3339), "end_date_time": start.Add(time.Hour).Format(time.RFC3339), "kwh": "15",
		"token":       map[string]any{"country_code": "NL", "party_id": "RNE", "uid": "CRD0001", "type": "RFID", "contract_id": evcoFor("CRD0001")},
		"auth_method": "WHITELIST", "location_id": "CR-LOC1", "evse_uid": "CR-E1", "connector_id": "1", "currency": "EUR",
		"charge_periods": []any{map[string]any{"start_date_time": start.Format(time.RFC3339), "dimensions": []any{map[string]any{"type": "ENERGY", "volume": "15"}}}}})

	priced := func() []any {
		return emsp.admin(200, "GET", "/main/v1/msp-charge-session-priced", nil)["items"].([]any)
	}
	eventually(t, "the CDR priced at the eMSP", func() bool { return len(priced()) == 1 })
	orig := priced()[0].(map[string]any)
	origCDR := orig["charge_session"].(map[string]any)["cdr_id"]
	require.Equal(t, "6", orig["price"].(map[string]any)["excl_vat"], "15 kWh at 0.40")

	// The CPO's tariff was wrong: fixed and repriced.
	tariff(200, 0.30)
	var csID uuid.UUID
	require.NoError(t, cpo.db.Pool.QueryRow(ctx, `SELECT charge_session_id FROM cpo_session WHERE session_id = 'CR-S1'`).Scan(&csID))
	proc := worker.NewSessionProcessor(worker.Deps{Pool: cpo.db.Pool, Redis: cpo.deps.Redis, Log: testLog()}, worker.SessionOptions{Pricers: cpoPricers})
	require.NoError(t, proc.Reprice(ctx, csID, "tariff fix"))

	eventually(t, "credit and replacement priced at the eMSP", func() bool { return len(priced()) == 3 })
	var credit, repl map[string]any
	for _, it := range priced() {
		m := it.(map[string]any)
		cs := m["charge_session"].(map[string]any)
		switch {
		case cs["cdr_id"] == origCDR:
		case cs["credit"] == true:
			credit = m
		default:
			repl = m
		}
	}
	require.NotNil(t, credit)
	require.NotNil(t, repl)
	cp := credit["price"].(map[string]any)
	op := orig["price"].(map[string]any)
	require.Equal(t, "-6", cp["excl_vat"], "the reversal of what the eMSP charged")
	require.Equal(t, "-1.26", cp["vat"])
	require.Equal(t, "-7.26", cp["incl_vat"])
	require.Equal(t, map[string]any{"charge_session_id": orig["id"], "cdr_id": origCDR, "price_id": op["id"], "version": float64(1)}, cp["credit_of"])
	require.Equal(t, orig["id"], credit["charge_session"].(map[string]any)["credited_session_id"])
	rp := repl["price"].(map[string]any)
	require.Nil(t, rp["credit_of"])
	require.Equal(t, "6", rp["excl_vat"], "the replacement priced for the customer")
	require.NotEqual(t, origCDR, repl["charge_session"].(map[string]any)["cdr_id"])
}
