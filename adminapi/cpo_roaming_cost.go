package adminapi

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/iso"
)

// The read model of CPO roaming costs (issue 6, CPO side → Roaming cost;
// guide 003 → Charge Point Operators → Charge sessions → Roaming): what we
// charge the eMSP that owns the token of a session at our charge points,
// as the roaming-cost pricer (domain/roamingcost) stored it — every
// version, oldest first:
//
//	GET /main/v1/cpo-charge-session-roaming-cost       every version of every roaming cost
//	GET /main/v1/cpo-charge-session-roaming-cost/{id}  one version, by the result's id
//
// An item is the stored result exactly as its outbox event
// cpo-charge-session-roaming-cost carries it (db.PriceView: the same
// fields with the same values), followed by what the read model adds:
// whether it is the session's latest version, the session's identifiers,
// the eMSP (the token's party and the roaming partner with it), the
// agreement and the tariff the pricer used. Guarded by the charge-session
// family like every pricing result; scoped by the result's administration.
// CPO sessions belong to no administration, so their roaming costs are
// seen only by accounts that see every administration (like
// cpo-charge-session itself, and like the events, db.WebhookEvents).

// roamingCostName is the path segment of the read model, and the kind of
// its results' outbox events (db.PriceEventKind).
const roamingCostName = "cpo-charge-session-roaming-cost"

func (a *API) mountCPORoamingCost(v1 fiber.Router) {
	r := roamingCostReadModel() // read-only: results are written by the pricer
	v1.Get("/"+r.name, a.handle(r.family, access.Read, r.getList))
	v1.Get("/"+r.name+"/:key", a.handle(r.family, access.Read, r.getOne))
}

// roamingCostView is one version of the roaming cost of a CPO charge
// session. Its embedded PriceView is what the result's outbox event
// carries; the fields after it are the read model's.
type roamingCostView struct {
	db.PriceView
	// Latest is whether this is the session's latest version (repricing
	// appends a newer one).
	Latest bool `json:"latest"`
	// The session: the session id our charge management system reported,
	// the CDR id, our CPO party, where and when.
	SessionID     *string   `json:"session_id"`
	CdrID         string    `json:"cdr_id"`
	CountryCode   string    `json:"country_code"`
	PartyID       string    `json:"party_id"`
	LocationID    string    `json:"location_id"`
	EvseUID       string    `json:"evse_uid"`
	EvseID        *string   `json:"evse_id"`
	ConnectorID   string    `json:"connector_id"`
	StartDateTime time.Time `json:"start_date_time"`
	EndDateTime   time.Time `json:"end_date_time"`
	TotalEnergy   Decimal   `json:"total_energy"`
	TotalTime     Decimal   `json:"total_time"`
	TokenUID      string    `json:"token_uid"`
	TokenType     string    `json:"token_type"`
	// The eMSP: the token's party, and the roaming partner with that party
	// and the agreement (role cpo) the pricer found.
	EMSPCountryCode string     `json:"emsp_country_code"`
	EMSPPartyID     string     `json:"emsp_party_id"`
	PartnerID       *uuid.UUID `json:"partner_id"`
	PartnerName     *string    `json:"partner_name"`
	AgreementID     *uuid.UUID `json:"agreement_id"`
	// The tariff used (one of the connector's) and why it was chosen.
	TariffID     *string `json:"tariff_id"`
	TariffChoice *string `json:"tariff_choice"`
}

// roamingCostDetail is what the view reads of the result's detail
// (domain/roamingcost: detail).
type roamingCostDetail struct {
	PartnerID    *uuid.UUID `json:"partner_id"`
	AgreementID  *uuid.UUID `json:"agreement_id"`
	TariffID     *string    `json:"tariff_id"`
	TariffChoice *string    `json:"tariff_choice"`
}

// roamingCostViewOf renders a row; its PriceView part is the stored
// result as db.PriceViewOf renders it everywhere (a stored JSON value that
// does not decode leaves its field empty rather than failing the page).
func roamingCostViewOf(r gen.ListCPOChargeSessionRoamingCostsRow) roamingCostView {
	p, _ := db.PriceViewOf(r.ChargeSessionPrice)
	if p.Components == nil {
		p.Components = []db.ComponentView{}
	}
	if len(p.Detail) == 0 {
		p.Detail = json.RawMessage(`{}`)
	}
	v := roamingCostView{PriceView: p, Latest: r.ChargeSessionPrice.Latest, SessionID: r.SessionID, CdrID: r.CdrID, CountryCode: r.CountryCode,
		PartyID: r.PartyID, LocationID: r.LocationID, EvseUID: r.EvseUid, EvseID: r.EvseID, ConnectorID: r.ConnectorID,
		StartDateTime: r.StartAt.UTC(), EndDateTime: r.EndAt.UTC(), TotalEnergy: Decimal{r.TotalEnergy}, TotalTime: Decimal{r.TotalTime},
		TokenUID: r.TokenUid, TokenType: r.TokenType, EMSPCountryCode: strings.ToUpper(r.TokenCountryCode),
		EMSPPartyID: strings.ToUpper(r.TokenPartyID), PartnerName: r.PartnerName}
	var d roamingCostDetail
	if json.Unmarshal(r.ChargeSessionPrice.Detail, &d) == nil {
		v.PartnerID, v.AgreementID, v.TariffID, v.TariffChoice = d.PartnerID, d.AgreementID, d.TariffID, d.TariffChoice
	}
	return v
}

// roamingCostFilters are the list's filters: the session, the eMSP (its
// roaming partner, or the token's country code and party id), our EVSE,
// the currency, latest versions only (or superseded ones only), and the
// period of the session start (start_gte ≤ start < start_lt).
var roamingCostFilters = []string{"charge_session_id", "partner_id", "emsp_country_code", "emsp_party_id", "evse_uid", "currency",
	"latest", "start_gte", "start_lt"}

// roamingCostReadModel describes the read model to the shared resource
// machinery (seek pagination, created_gt, scoping), like
// reimbursementReadModel.
func roamingCostReadModel() *resource[gen.ListCPOChargeSessionRoamingCostsRow, roamingCostView, struct{}] {
	return &resource[gen.ListCPOChargeSessionRoamingCostsRow, roamingCostView, struct{}]{
		name: roamingCostName, table: "charge_session_price", family: chargeSessionResultFamily,
		filters: roamingCostFilters,
		load: func(ctx context.Context, q db.Querier, k key, _ bool) (gen.ListCPOChargeSessionRoamingCostsRow, error) {
			if k.ID == nil {
				return gen.ListCPOChargeSessionRoamingCostsRow{}, badRequest("invalid_parameter", "invalid path parameter", field("id", "must be a UUID"))
			}
			rows, err := db.Q(q).ListCPOChargeSessionRoamingCosts(ctx, gen.ListCPOChargeSessionRoamingCostsParams{AllAdmins: true,
				AdminIds: []uuid.UUID{}, ID: k.ID, PageLimit: 1})
			if err != nil {
				return gen.ListCPOChargeSessionRoamingCostsRow{}, err
			}
			if len(rows) == 0 {
				return gen.ListCPOChargeSessionRoamingCostsRow{}, fault.NotFound("not_found", "cpo charge session roaming cost %s does not exist", *k.ID)
			}
			return rows[0], nil
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]gen.ListCPOChargeSessionRoamingCostsRow, error) {
			p := gen.ListCPOChargeSessionRoamingCostsParams{AllAdmins: a.Account.AllAdministrations, AdminIds: nonNil(a.Account.AdministrationIDs),
				After: seek(a.After), EvseUid: filterString(a.Filters, "evse_uid"), PageLimit: a.Limit}
			var err error
			if p.ChargeSessionID, err = filterUUID(a.Filters, "charge_session_id"); err != nil {
				return nil, err
			}
			if p.PartnerID, err = filterUUID(a.Filters, "partner_id"); err != nil {
				return nil, err
			}
			if p.EmspCountryCode, err = filterChecked(a.Filters, "emsp_country_code", partyPart(2), "an OCPI country code (2 letters)"); err != nil {
				return nil, err
			}
			if p.EmspPartyID, err = filterChecked(a.Filters, "emsp_party_id", partyPart(3), "an OCPI party id (3 letters or digits)"); err != nil {
				return nil, err
			}
			if p.Currency, err = filterChecked(a.Filters, "currency", func(s string) bool { return iso.Currency(strings.ToUpper(s)) },
				"an ISO 4217 currency code"); err != nil {
				return nil, err
			}
			if p.Latest, err = filterBool(a.Filters, "latest"); err != nil {
				return nil, err
			}
			if p.StartGte, err = filterTime(a.Filters, "start_gte"); err != nil {
				return nil, err
			}
			if p.StartLt, err = filterTime(a.Filters, "start_lt"); err != nil {
				return nil, err
			}
			return db.Q(q).ListCPOChargeSessionRoamingCosts(ctx, p)
		},
		view: roamingCostViewOf,
		meta: func(r *gen.ListCPOChargeSessionRoamingCostsRow) meta {
			var ref *string
			var eua *time.Time
			p := &r.ChargeSessionPrice
			return meta{ID: &p.ID, ExternalReference: &ref, ExternalUpdatedAt: &eua, CreatedAt: &p.CreatedAt, UpdatedAt: &p.CreatedAt}
		},
		// A result without an administration is not global (the
		// machinery's nil): it belongs to nobody in particular, so it is
		// scoped to the nil UUID, which no account lists among its
		// administrations — only accounts that see every administration
		// see it (seesAdmin).
		scope: func(r gen.ListCPOChargeSessionRoamingCostsRow) *uuid.UUID {
			if r.ChargeSessionPrice.AdministrationID == nil {
				none := uuid.Nil
				return &none
			}
			return r.ChargeSessionPrice.AdministrationID
		},
	}
}

// partyPart checks an OCPI country code (n = 2 letters) or party id (n = 3
// letters or digits), in any case.
func partyPart(n int) func(string) bool {
	return func(s string) bool {
		if len(s) != n {
			return false
		}
		for _, c := range strings.ToUpper(s) {
			if !(c >= 'A' && c <= 'Z' || n == 3 && c >= '0' && c <= '9') {
				return false
			}
		}
		return true
	}
}
