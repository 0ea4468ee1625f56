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
	// MSP tokens of the demo eMSP party NL-RNE: a plan, two subscriptions,
	// a charge card and an app user linked to the first, a key fob handed
	// over from the first subscription to the second on 2025-01-01.
	{"msp-token-subscription-plan", "demo-plan-basic", map[string]any{"administration_external_reference": "demo-eur", "name": "Charge Card Basic",
		"rate_plan_id": nil, "publish_from": "2024-01-01T00:00:00Z"}},
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
}

// seedDemo loads the demo tenant through the Admin API's own handlers (as
// the in-process system client), so seeded data obeys every validation rule
// and emits the same outbox events. It is idempotent: create-or-update by
// external reference, and an unchanged record is neither written nor
// announced again.
func seedDemo(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	api := adminapi.New(pool, nil, log, adminapi.Options{Version: version}).Internal()
	created, kept := 0, 0
	for _, r := range demoTenant {
		status, body, err := api.Do("POST", "/main/v1/"+r.resource+"/ext_ref."+r.ref, r.body)
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
