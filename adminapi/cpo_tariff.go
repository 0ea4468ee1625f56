package adminapi

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/iso"
	"github.com/roamnode/roamnode/domain/location"
	"github.com/roamnode/roamnode/domain/pricing"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// Our tariffs as CPO (mod_tariffs), addressed by their OCPI id. The tariff
// parts are OCPI 2.2.1 JSON (prices as JSON numbers), so an OCPI Tariff
// object can be posted as it is. The pricing engine's rules validate it,
// its lint warnings come back in lint_warnings, and every change is pushed
// (PUT) to partners with a Tariffs receiver; a deletion is pushed as a
// DELETE (deleteCPOTariff).

// cpoTariffView is a tariff as the API returns it.
type cpoTariffView struct {
	ID                uuid.UUID            `json:"id"`
	TariffID          string               `json:"tariff_id"`
	ExternalReference *string              `json:"external_reference"`
	CountryCode       string               `json:"country_code"`
	PartyID           string               `json:"party_id"`
	Currency          string               `json:"currency"`
	Type              *string              `json:"type"`
	TariffAltText     []ocpi.DisplayText   `json:"tariff_alt_text"`
	TariffAltURL      *string              `json:"tariff_alt_url"`
	MinPrice          *ocpi.Price          `json:"min_price"`
	MaxPrice          *ocpi.Price          `json:"max_price"`
	Elements          []ocpi.TariffElement `json:"elements"`
	StartDateTime     *ocpi.DateTime       `json:"start_date_time"`
	EndDateTime       *ocpi.DateTime       `json:"end_date_time"`
	EnergyMix         *ocpi.EnergyMix      `json:"energy_mix"`
	LastUpdated       time.Time            `json:"last_updated"`
	LintWarnings      []cpoTariffWarning   `json:"lint_warnings"`
	ExternalUpdatedAt *time.Time           `json:"external_updated_at"`
	CreatedAt         time.Time            `json:"created_at"`
	UpdatedAt         time.Time            `json:"updated_at"`
}

// cpoTariffWarning is a lint warning: the tariff is valid but probably does
// not mean what it says (pricing.Lint).
type cpoTariffWarning struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// cpoTariffInput is what create-or-update accepts.
type cpoTariffInput struct {
	TariffID          string               `json:"tariff_id"`
	ExternalReference *string              `json:"external_reference"`
	CountryCode       *string              `json:"country_code"`
	PartyID           *string              `json:"party_id"`
	Currency          string               `json:"currency"`
	Type              *string              `json:"type"`
	TariffAltText     []ocpi.DisplayText   `json:"tariff_alt_text"`
	TariffAltURL      *string              `json:"tariff_alt_url"`
	MinPrice          *ocpi.Price          `json:"min_price"`
	MaxPrice          *ocpi.Price          `json:"max_price"`
	Elements          []ocpi.TariffElement `json:"elements"`
	StartDateTime     *ocpi.DateTime       `json:"start_date_time"`
	EndDateTime       *ocpi.DateTime       `json:"end_date_time"`
	EnergyMix         *ocpi.EnergyMix      `json:"energy_mix"`
	ExternalUpdatedAt *time.Time           `json:"external_updated_at"`
}

func cpoTariffResource() *resource[db.CPOTariff, cpoTariffView, cpoTariffInput] {
	return &resource[db.CPOTariff, cpoTariffView, cpoTariffInput]{
		name: "cpo-tariff", table: "cpo_tariff", family: "cpo", domainKey: "tariff_id",
		filters:   []string{"country_code", "party_id", "currency", "external_reference"},
		immutable: []string{"tariff_id", "country_code", "party_id"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (db.CPOTariff, error) {
			return db.CPOTariffByID(ctx, q, k.Domain, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]db.CPOTariff, error) {
			return db.ListCPOTariffs(ctx, q, gen.ListCPOTariffsParams{After: seek(a.After),
				CountryCode: upperPtr(filterString(a.Filters, "country_code")), PartyID: upperPtr(filterString(a.Filters, "party_id")),
				Currency: upperPtr(filterString(a.Filters, "currency")), ExternalReference: filterString(a.Filters, "external_reference"),
				PageLimit: a.Limit})
		},
		view: cpoTariffViewOf,
		build: func(w writeCtx, in cpoTariffInput, cur *db.CPOTariff) (db.CPOTariff, error) {
			var rec db.CPOTariff
			if cur != nil {
				rec = *cur
			} else {
				cc, pid, err := ownCPOParty(w, in.CountryCode, in.PartyID)
				if err != nil {
					return rec, err
				}
				rec.Tariff.ID, rec.Tariff.CountryCode, rec.Tariff.PartyID = in.TariffID, cc, pid
			}
			t := &rec.Tariff
			t.Currency, t.Type, t.TariffAltText, t.TariffAltURL = in.Currency, ocpi.TariffType(deref(in.Type)), in.TariffAltText, deref(in.TariffAltURL)
			t.MinPrice, t.MaxPrice, t.Elements = in.MinPrice, in.MaxPrice, in.Elements
			t.StartDateTime, t.EndDateTime, t.EnergyMix = in.StartDateTime, in.EndDateTime, in.EnergyMix
			rec.ExternalReference = in.ExternalReference
			if cur == nil || ocpiChanged(cur.Tariff, rec.Tariff) {
				t.LastUpdated = ocpi.NewDateTime(time.Now().UTC().Truncate(time.Microsecond))
			}
			return rec, validateCPOTariff(rec.Tariff)
		},
		save: db.SaveCPOTariff,
		meta: func(r *db.CPOTariff) meta {
			return meta{&r.ID, &r.ExternalReference, &r.ExternalUpdatedAt, &r.CreatedAt, &r.UpdatedAt}
		},
		scope: func(db.CPOTariff) *uuid.UUID { return nil },
		after: func(w writeCtx, prev *db.CPOTariff, rec db.CPOTariff) error {
			refs, err := db.EnqueueTariffPush(w.Ctx, w.Tx, prev, rec)
			w.kick(refs)
			return err
		},
	}
}

func cpoTariffViewOf(r db.CPOTariff) cpoTariffView {
	t := r.Tariff
	v := cpoTariffView{ID: r.ID, TariffID: t.ID, ExternalReference: r.ExternalReference, CountryCode: t.CountryCode, PartyID: t.PartyID,
		Currency: t.Currency, Type: strPtr(string(t.Type)), TariffAltText: t.TariffAltText, TariffAltURL: strPtr(t.TariffAltURL),
		MinPrice: t.MinPrice, MaxPrice: t.MaxPrice, Elements: t.Elements, StartDateTime: t.StartDateTime, EndDateTime: t.EndDateTime,
		EnergyMix: t.EnergyMix, LastUpdated: t.LastUpdated.UTC(), LintWarnings: []cpoTariffWarning{},
		ExternalUpdatedAt: utcPtr(r.ExternalUpdatedAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if pt, err := t.ToPricing(); err == nil {
		for _, w := range pricing.Lint(pt) {
			v.LintWarnings = append(v.LintWarnings, cpoTariffWarning{Path: w.Path, Message: w.Message})
		}
	}
	return v
}

// validateCPOTariff applies mod_tariffs: what the pricing engine needs
// (Tariff.ToPricing: elements, dimensions, restriction formats) and the
// fields around it.
func validateCPOTariff(t ocpi.Tariff) error {
	var fs fault.Fields
	collect(&fs, func() error { _, err := t.ToPricing(); return err }(), "id", "tariff_id")
	switch {
	case t.ID == "":
		fs.Add("tariff_id", "is required")
	case len(t.ID) > 36 || !ocpi.IsCiString(t.ID):
		fs.Add("tariff_id", "must be at most 36 printable ASCII characters (CiString(36))")
	}
	if !iso.Currency(t.Currency) {
		fs.Add("currency", "must be an ISO 4217 currency code such as EUR")
	}
	if len(t.Type) > 255 || !ocpi.IsCiString(string(t.Type)) {
		fs.Add("type", "must be a TariffType such as REGULAR or AD_HOC_PAYMENT")
	}
	if t.TariffAltURL != "" && !ocpi.IsURL(t.TariffAltURL) {
		fs.Add("tariff_alt_url", "must be an absolute http(s) URL")
	}
	for i, d := range t.TariffAltText {
		if len(d.Language) != 2 {
			fs.Add(fmt.Sprintf("tariff_alt_text[%d].language", i), "must be an ISO 639-1 language code")
		}
		if d.Text == "" || len([]rune(d.Text)) > 512 || !ocpi.IsPrintableString(d.Text) {
			fs.Add(fmt.Sprintf("tariff_alt_text[%d].text", i), "must be 1 to 512 printable characters")
		}
	}
	for _, p := range []struct {
		name string
		p    *ocpi.Price
	}{{"min_price", t.MinPrice}, {"max_price", t.MaxPrice}} {
		if p.p == nil {
			continue
		}
		if p.p.ExclVAT.Sign() < 0 {
			fs.Add(p.name+".excl_vat", "must not be negative")
		}
		if p.p.InclVAT != nil && p.p.InclVAT.Decimal.LessThan(p.p.ExclVAT.Decimal) {
			fs.Add(p.name+".incl_vat", "must not be less than excl_vat")
		}
	}
	if t.MinPrice != nil && t.MaxPrice != nil && t.MaxPrice.ExclVAT.LessThan(t.MinPrice.ExclVAT.Decimal) {
		fs.Add("max_price.excl_vat", "must not be less than min_price.excl_vat")
	}
	if t.StartDateTime != nil && t.EndDateTime != nil && !t.EndDateTime.After(t.StartDateTime.Time) {
		fs.Add("end_date_time", "must be later than start_date_time")
	}
	for i, e := range t.Elements {
		for j, c := range e.PriceComponents {
			p := fmt.Sprintf("elements[%d].price_components[%d]", i, j)
			if c.Price.Sign() < 0 {
				fs.Add(p+".price", "must not be negative")
			}
			if c.VAT != nil && c.VAT.Sign() < 0 {
				fs.Add(p+".vat", "must not be negative")
			}
			if c.StepSize < 0 {
				fs.Add(p+".step_size", "must not be negative")
			}
		}
	}
	if t.EnergyMix != nil {
		for i, s := range t.EnergyMix.EnergySources {
			if !location.OneOf(s.Source, location.EnergySourceCategories) {
				fs.Add(fmt.Sprintf("energy_mix.energy_sources[%d].source", i), "must be an EnergySourceCategory")
			}
		}
	}
	return fs.Err()
}

// tariffUsesShown is how many referencing connectors a refused deletion names.
const tariffUsesShown = 10

// cpoTariffKey is what a deletion event carries: the identifying
// properties (003 → Webhooks → Deletions), the OCPI tariff id included.
type cpoTariffKey struct {
	ID                uuid.UUID `json:"id"`
	ExternalReference *string   `json:"external_reference"`
	TariffID          string    `json:"tariff_id"`
}

// deleteCPOTariff is DELETE /cpo-tariff/{tariff_id} (or ext_ref.X): the
// tariff is removed, the Tariffs sender stops listing it, every partner
// with a Tariffs receiver gets a DELETE (mod_tariffs, Receiver Interface:
// DELETE /tariffs/{country_code}/{party_id}/{tariff_id}), and a cpo-tariff
// delete event records it, in one transaction. A tariff that a connector
// still names in tariff_ids is refused with 409 naming the connectors:
// partners would be told a price that no longer exists (mod_locations,
// Connector.tariff_ids). The answer is 204.
func deleteCPOTariff(c *fiber.Ctx, rq *request) error {
	k, err := cpoTariffResource().parseKey(c.Params("key"))
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	var refs []roaming.PushRef
	err = db.InTx(ctx, rq.api.pool, func(tx pgx.Tx) error {
		t, err := db.CPOTariffByID(ctx, tx, k.Domain, k.Ref, true)
		if err != nil {
			return err
		}
		uses, err := db.ConnectorsUsingTariff(ctx, tx, t.Tariff.ID, tariffUsesShown+1)
		if err != nil {
			return err
		}
		if len(uses) > 0 {
			names := make([]string, 0, tariffUsesShown)
			for i, u := range uses {
				if i == tariffUsesShown {
					names = append(names, "…")
					break
				}
				names = append(names, u.EvseUID+"/"+u.ConnectorID)
			}
			return &apiError{Status: fiber.StatusConflict, Code: "tariff_in_use", Message: fmt.Sprintf(
				"tariff %s is named in tariff_ids of connectors %s; remove it from them (POST /main/v1/cpo-evse/{evse_uid}) before deleting it",
				t.Tariff.ID, strings.Join(names, ", "))}
		}
		if refs, err = db.DeleteCPOTariff(ctx, tx, t); err != nil {
			return err
		}
		return db.AppendEvent(ctx, tx, event.New("cpo-tariff", event.Delete, nil,
			cpoTariffKey{ID: t.ID, ExternalReference: t.ExternalReference, TariffID: t.Tariff.ID}))
	})
	if err != nil {
		return err
	}
	rq.api.kick(context.WithoutCancel(ctx), refs...)
	return c.SendStatus(fiber.StatusNoContent)
}
