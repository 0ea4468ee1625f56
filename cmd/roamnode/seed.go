package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/adminapi"
)

// demoRecord is one record of the demo tenant, written with a
// create-or-update by external reference.
type demoRecord struct {
	resource, ref string
	body          map[string]any
}

// demoTenant is a coherent demo tenant: a seller, an administration in EUR,
// customers with billing addresses, and our own OCPI parties (an eMSP and a
// CPO) for partners to register with. Later capabilities (rate plans, tokens,
// EVSEs) append their records.
var demoTenant = []demoRecord{
	{"seller", "demo-seller", map[string]any{"name": "Demo Mobility B.V.", "country": "NL", "vat_number": "NL123456789B01"}},
	{"administration", "demo-eur", map[string]any{"seller_external_reference": "demo-seller", "name": "Demo Netherlands", "currency": "EUR", "locale_id": "nl-NL", "min_invoice_amount": "5.00"}},
	{"customer", "demo-customer-1", map[string]any{"administration_external_reference": "demo-eur", "name": "J. de Vries", "country": "NL", "entity_type": "person",
		"billing_email": "jdevries@example.com", "locale_id": "nl-NL", "reimbursement_vat": "exempt"}},
	{"customer", "demo-customer-2", map[string]any{"administration_external_reference": "demo-eur", "name": "Tulip Logistics B.V.", "country": "NL", "entity_type": "organisation",
		"company_reg_num": "12345678", "vat_number": "NL001234567B01", "billing_email": "finance@tulip.example", "billing_phone": "+31 20 123 4567", "reimbursement_vat": "applies"}},
	{"customer", "demo-customer-3", map[string]any{"administration_external_reference": "demo-eur", "name": "Gardening Enterprise Ltd", "country": "GB", "entity_type": "organisation",
		"company_reg_num": "6984621", "locale_id": "en-GB", "reimbursement_vat": "unknown"}},
	{"own-party", "demo-emsp", map[string]any{"country_code": "NL", "party_id": "RNE", "role": "EMSP", "name": "Demo Mobility eMSP", "website": "https://example.com"}},
	{"own-party", "demo-cpo", map[string]any{"country_code": "NL", "party_id": "RNC", "role": "CPO", "name": "Demo Mobility CPO", "website": "https://example.com"}},
	{"billing-address", "demo-customer-1-address", map[string]any{"party_external_reference": "demo-customer-1", "addressee": "J. de Vries",
		"address_line1": "Keizersgracht 100", "postal_code": "1015 CJ", "locality": "Amsterdam", "country": "NL", "valid_from": "2024-01-01T00:00:00Z"}},
	{"billing-address", "demo-customer-2-address", map[string]any{"party_external_reference": "demo-customer-2", "addressee": "Tulip Logistics B.V., attn. Finance",
		"address_line1": "Havenstraat 1", "postal_code": "3011 AA", "locality": "Rotterdam", "country": "NL", "valid_from": "2024-01-01T00:00:00Z"}},
	{"billing-address", "demo-customer-3-address", map[string]any{"party_external_reference": "demo-customer-3", "addressee": "Gardening Enterprise Ltd",
		"address_line1": "1 Kew Road", "postal_code": "TW9 3AB", "locality": "Richmond", "country": "GB", "valid_from": "2024-01-01T00:00:00Z"}},
	// MSP pricing (guide 003 → Rate plan): what the demo customers pay. AC
	// charging costs energy per kWh (billed per 0.1 kWh) and a small fee per
	// session, and parking after charging per started 5 minutes (at most
	// 15.00); the DC rule (rules are sorted most specific first) picks fast
	// charging: energy, charging time per started minute and a session fee.
	// Charge credits pay energy and fees, not parking.
	{"rate-plan", "demo-rate-plan", map[string]any{"administration_external_reference": "demo-eur", "name": "Demo standard",
		"description": "Demo rates: AC and DC (fast) charging at partners' charge points",
		"rates": []any{
			map[string]any{"code": "ac", "name": "AC charging", "components": []any{
				map[string]any{"type": "energy", "unit": "kwh", "price": "0.39", "step_size": 100, "credits": map[string]any{"apply": true, "shortfall": "charge_remainder"}},
				map[string]any{"type": "parking_time", "unit": "minute", "price": "0.10", "step_size": 300, "max_price": "15.00", "credits": map[string]any{"apply": false}},
				map[string]any{"type": "flat", "unit": "session", "price": "0.25", "credits": map[string]any{"apply": true, "shortfall": "charge_remainder"}}}},
			map[string]any{"code": "dc", "name": "DC fast charging", "components": []any{
				map[string]any{"type": "energy", "unit": "kwh", "price": "0.59", "step_size": 100, "credits": map[string]any{"apply": true, "shortfall": "charge_remainder"}},
				map[string]any{"type": "time", "unit": "hour", "price": "3.00", "step_size": 60, "credits": map[string]any{"apply": true, "shortfall": "charge_remainder"}},
				map[string]any{"type": "flat", "unit": "session", "price": "0.50", "credits": map[string]any{"apply": true, "shortfall": "charge_in_full"}}}},
		},
		"rules": []any{map[string]any{"rate": "ac"}, map[string]any{"rate": "dc", "power_types": []string{"DC"}}}}},
	// MSP tokens of the demo eMSP party NL-RNE: a plan on the demo rate
	// plan, two subscriptions, a charge card and an app user linked to the
	// first, a key fob handed over from the first subscription to the
	// second on 2025-01-01.
	{"msp-token-subscription-plan", "demo-plan-basic", map[string]any{"administration_external_reference": "demo-eur", "name": "Charge Card Basic",
		"rate_plan_external_reference": "demo-rate-plan", "publish_from": "2024-01-01T00:00:00Z"}},
	{"msp-token-subscription", "demo-subscription-1", map[string]any{"customer_external_reference": "demo-customer-1", "plan_external_reference": "demo-plan-basic",
		"valid_from": "2024-01-01T00:00:00Z"}},
	{"msp-token-subscription", "demo-subscription-2", map[string]any{"customer_external_reference": "demo-customer-2", "plan_external_reference": "demo-plan-basic",
		"valid_from": "2024-01-01T00:00:00Z", "buyer_reference": "PO-2024-17"}},
	{"msp-token", "demo-token-card", map[string]any{"administration_external_reference": "demo-eur", "evco_id": "NL-RNE-C00000001", "uid": "04A1B2C3D4E5F6",
		"type": "RFID", "form_factor": "card", "visual_number": "RNE-0000-0001"}},
	{"msp-token", "demo-token-app", map[string]any{"administration_external_reference": "demo-eur", "evco_id": "NL-RNE-C00000002", "uid": "app-user-0002",
		"type": "APP_USER", "form_factor": "virtual"}},
	{"msp-token", "demo-token-fob", map[string]any{"administration_external_reference": "demo-eur", "evco_id": "NL-RNE-C00000003", "uid": "04FFEEDDCCBB",
		"type": "RFID", "form_factor": "keychain", "visual_number": "RNE-0000-0003"}},
	{"msp-token-link", "demo-link-card", map[string]any{"token_external_reference": "demo-token-card", "subscription_external_reference": "demo-subscription-1",
		"valid_from": "2024-01-01T00:00:00Z"}},
	{"msp-token-link", "demo-link-app", map[string]any{"token_external_reference": "demo-token-app", "subscription_external_reference": "demo-subscription-1",
		"valid_from": "2024-01-01T00:00:00Z"}},
	{"msp-token-link", "demo-link-fob-1", map[string]any{"token_external_reference": "demo-token-fob", "subscription_external_reference": "demo-subscription-1",
		"valid_from": "2024-01-01T00:00:00Z", "valid_until": "2025-01-01T00:00:00Z"}},
	{"msp-token-link", "demo-link-fob-2", map[string]any{"token_external_reference": "demo-token-fob", "subscription_external_reference": "demo-subscription-2",
		"valid_from": "2025-01-01T00:00:00Z"}},
	// VAT (guide 003 → Determining VAT): the seller applies Belgian and
	// German VAT to sessions there, its own (NL) elsewhere; standard rates
	// of NL, BE and DE; charge sessions, reimbursements, roaming costs and
	// subscription fees are standard-rated.
	{"seller", "demo-seller/vat-policy", map[string]any{"fallback": "seller_country",
		"country_policies": map[string]any{"BE": "origin_country", "DE": "origin_country"}}},
	{"vat-rate", "demo-vat-nl-standard", map[string]any{"country": "NL", "kind": "standard", "percentage": "21", "valid_from": "2012-10-01T00:00:00Z"}},
	{"vat-rate", "demo-vat-be-standard", map[string]any{"country": "BE", "kind": "standard", "percentage": "21", "valid_from": "1996-01-01T00:00:00Z"}},
	{"vat-rate", "demo-vat-de-standard", map[string]any{"country": "DE", "kind": "standard", "percentage": "19", "valid_from": "2021-01-01T00:00:00Z"}},
	{"vat-rule", "demo-vat-rule-msp-session", map[string]any{"product_category": "msp_charge_session", "kind": "standard", "valid_from": "2012-10-01T00:00:00Z"}},
	{"vat-rule", "demo-vat-rule-msp-fee", map[string]any{"product_category": "msp_subscription_fee", "kind": "standard", "valid_from": "2012-10-01T00:00:00Z"}},
	{"vat-rule", "demo-vat-rule-cpo-reimbursement", map[string]any{"product_category": "cpo_reimbursement", "kind": "standard", "valid_from": "2012-10-01T00:00:00Z"}},
	{"vat-rule", "demo-vat-rule-cpo-roaming", map[string]any{"product_category": "cpo_roaming", "kind": "standard", "valid_from": "2012-10-01T00:00:00Z"}},
}

// demoChargePoints are our charge points as the demo CPO party NL-RNC, two
// tariffs and two locations with three EVSEs (AC and DC) that partners see
// through our OCPI Locations sender. They are addressed by their OCPI keys
// (tariff id, location id, EVSE uid) rather than by external reference.
var demoChargePoints = []demoRecord{
	{"cpo-tariff", "DEMO-AC", map[string]any{"country_code": "NL", "party_id": "RNC", "currency": "EUR", "type": "REGULAR",
		"tariff_alt_text": []any{map[string]any{"language": "en", "text": "0.35 EUR/kWh, parking after 2 hours 2.00 EUR/hour"}},
		"elements": []any{
			map[string]any{"price_components": []any{map[string]any{"type": "ENERGY", "price": 0.35, "vat": 21, "step_size": 1}}},
			map[string]any{"price_components": []any{map[string]any{"type": "PARKING_TIME", "price": 2.00, "vat": 21, "step_size": 300}},
				"restrictions": map[string]any{"min_duration": 7200}}}}},
	{"cpo-tariff", "DEMO-DC", map[string]any{"country_code": "NL", "party_id": "RNC", "currency": "EUR", "type": "REGULAR",
		"elements": []any{map[string]any{"price_components": []any{
			map[string]any{"type": "FLAT", "price": 0.50, "vat": 21, "step_size": 1},
			map[string]any{"type": "ENERGY", "price": 0.59, "vat": 21, "step_size": 1}}}}}},
	{"cpo-evse-location", "DEMO-UTRECHT-CS", map[string]any{"country_code": "NL", "party_id": "RNC", "name": "Utrecht Centraal P+R",
		"address": "Stationsplein 1", "city": "Utrecht", "postal_code": "3511 ED", "country": "NLD",
		"coordinates": map[string]any{"latitude": "52.089444", "longitude": "5.110278"}, "time_zone": "Europe/Amsterdam",
		"opening_times": map[string]any{"twentyfourseven": true}}},
	{"cpo-evse-location", "DEMO-AMSTERDAM-ZUID", map[string]any{"country_code": "NL", "party_id": "RNC", "name": "Amsterdam Zuid fast charging",
		"address": "Zuidplein 10", "city": "Amsterdam", "postal_code": "1077 XV", "country": "NLD",
		"coordinates": map[string]any{"latitude": "52.338889", "longitude": "4.872222"}, "time_zone": "Europe/Amsterdam",
		"opening_times": map[string]any{"twentyfourseven": true}}},
	{"cpo-evse", "DEMO-UTR-1", demoEVSE("DEMO-UTRECHT-CS", "NL*RNC*E0001*1", "AC_3_PHASE", 230, 32, 22000, "DEMO-AC")},
	{"cpo-evse", "DEMO-UTR-2", demoEVSE("DEMO-UTRECHT-CS", "NL*RNC*E0001*2", "AC_3_PHASE", 230, 32, 22000, "DEMO-AC")},
	{"cpo-evse", "DEMO-AMS-1", demoEVSE("DEMO-AMSTERDAM-ZUID", "NL*RNC*E0002*1", "DC", 920, 500, 350000, "DEMO-DC")},
}

// demoEVSE is an available EVSE with one connector: a Type 2 socket for AC,
// a CCS cable for DC.
func demoEVSE(location, evseID, power string, volts, amps, watts int, tariff string) map[string]any {
	standard, format := "IEC_62196_T2", "SOCKET"
	if power == "DC" {
		standard, format = "IEC_62196_T2_COMBO", "CABLE"
	}
	return map[string]any{"location_id": location, "evse_id": evseID, "status": "AVAILABLE", "capabilities": []string{"RFID_READER", "REMOTE_START_STOP_CAPABLE"},
		"connectors": []any{map[string]any{"id": "1", "standard": standard, "format": format, "power_type": power,
			"max_voltage": volts, "max_amperage": amps, "max_electric_power": watts, "tariff_ids": []string{tariff}}}}
}

// seedDemo loads the demo tenant through the Admin API's own handlers (as
// the in-process system client), so seeded data obeys every validation rule
// and emits the same outbox events. It is idempotent: create-or-update by
// external reference, and an unchanged record is neither written nor
// announced again.
func seedDemo(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	api := adminapi.New(pool, nil, log, adminapi.Options{Version: version}).Internal()
	created, kept := 0, 0
	for i, r := range append(demoTenant[:len(demoTenant):len(demoTenant)], demoChargePoints...) {
		path := "/main/v1/" + r.resource + "/ext_ref." + r.ref
		if i >= len(demoTenant) {
			path = "/main/v1/" + r.resource + "/" + r.ref
		}
		status, body, err := api.Do("POST", path, r.body)
		if err != nil {
			return err
		}
		switch status {
		case 201:
			created++
		case 200:
			kept++
		default:
			return fmt.Errorf("seed %s %s: HTTP %d: %s", r.resource, r.ref, status, body)
		}
	}
	log.Info("demo tenant ready", "created", created, "already_present", kept)
	return nil
}
