package db

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/location"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// CPOTariff is one of our tariffs as CPO. Tariff.ID, CountryCode, PartyID,
// Currency and LastUpdated are authoritative.
type CPOTariff struct {
	ID                uuid.UUID
	ExternalReference *string
	Tariff            ocpi.Tariff
	ExternalUpdatedAt *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// CPOTariffByID loads a tariff by OCPI id (ref empty) or external reference.
func CPOTariffByID(ctx context.Context, q Querier, id, ref string, lock bool) (CPOTariff, error) {
	g := Q(q)
	r, err := keyLookup(ctx, "cpo-tariff", id, ref, lock, g.GetCPOTariffByKey, g.LockCPOTariffByKey, g.GetCPOTariffByRef, g.LockCPOTariffByRef)
	if err != nil {
		return CPOTariff{}, err
	}
	return cpoTariffOf(r)
}

func cpoTariffOf(r gen.CpoTariff) (CPOTariff, error) {
	var t ocpi.Tariff
	if err := json.Unmarshal(r.Doc, &t); err != nil {
		return CPOTariff{}, err
	}
	t.ID, t.CountryCode, t.PartyID, t.Currency, t.LastUpdated = r.TariffID, r.CountryCode, r.PartyID, r.Currency, ocpi.NewDateTime(r.LastUpdated)
	return CPOTariff{ID: r.ID, ExternalReference: r.ExternalReference, Tariff: t, ExternalUpdatedAt: r.ExternalUpdatedAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
}

func cpoTariffsOf(rows []gen.CpoTariff) ([]CPOTariff, error) {
	return convert(cpoTariffOf)(rows, nil)
}

// ListCPOTariffs returns a page of tariffs (Admin API).
func ListCPOTariffs(ctx context.Context, q Querier, p gen.ListCPOTariffsParams) ([]CPOTariff, error) {
	rows, err := Q(q).ListCPOTariffs(ctx, p)
	if err != nil {
		return nil, err
	}
	return cpoTariffsOf(rows)
}

// SaveCPOTariff inserts or updates a tariff; its OCPI id and party never
// change after creation.
func SaveCPOTariff(ctx context.Context, q Querier, t CPOTariff, isNew bool) error {
	raw, err := json.Marshal(t.Tariff)
	if err != nil {
		return err
	}
	lu := t.Tariff.LastUpdated.UTC()
	if isNew {
		err = Q(q).InsertCPOTariff(ctx, gen.InsertCPOTariffParams{ID: t.ID, TariffID: t.Tariff.ID, TariffKey: location.KeyOf(t.Tariff.ID),
			ExternalReference: t.ExternalReference, CountryCode: t.Tariff.CountryCode, PartyID: t.Tariff.PartyID,
			Currency: t.Tariff.Currency, Doc: raw, LastUpdated: lu, ExternalUpdatedAt: t.ExternalUpdatedAt,
			CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt})
	} else {
		err = Q(q).UpdateCPOTariff(ctx, gen.UpdateCPOTariffParams{ID: t.ID, ExternalReference: t.ExternalReference,
			Currency: t.Tariff.Currency, Doc: raw, LastUpdated: lu, ExternalUpdatedAt: t.ExternalUpdatedAt, UpdatedAt: t.UpdatedAt})
	}
	return translateKey(err, "tariff_id")
}

// OCPITariffs returns one page of a party's tariffs for the OCPI sender
// (last_updated window, oldest first) and the total count of the window.
func OCPITariffs(ctx context.Context, q Querier, country, party string, from, to *time.Time, offset, limit int) ([]CPOTariff, int, error) {
	g := Q(q)
	total, err := g.CountOCPITariffs(ctx, gen.CountOCPITariffsParams{CountryCode: country, PartyID: party, DateFrom: from, DateTo: to})
	if err != nil {
		return nil, 0, err
	}
	rows, err := g.PageOCPITariffs(ctx, gen.PageOCPITariffsParams{CountryCode: country, PartyID: party, DateFrom: from,
		DateTo: to, PageOffset: int32(offset), PageLimit: int32(limit)})
	if err != nil {
		return nil, 0, err
	}
	ts, err := cpoTariffsOf(rows)
	return ts, int(total), err
}

// EnqueueTariffPush records the push of a tariff change: the Tariffs
// receiver takes whole tariffs only (mod_tariffs: PUT, DELETE), so every
// change that alters the OCPI object is a PUT.
func EnqueueTariffPush(ctx context.Context, q Querier, prev *CPOTariff, cur CPOTariff) ([]roaming.PushRef, error) {
	if prev != nil {
		fields, err := ChangedFields(prev.Tariff, cur.Tariff)
		if err == nil && len(fields) == 0 {
			return nil, nil
		}
	}
	obj := cur.Tariff.CountryCode + "/" + cur.Tariff.PartyID + "/" + cur.Tariff.ID
	return EnqueuePush(ctx, q, roaming.Change{Module: "tariffs", Group: obj, Object: obj, Method: roaming.PushPut,
		FromCountry: cur.Tariff.CountryCode, FromParty: cur.Tariff.PartyID})
}

// TariffUse is a connector of ours whose tariff_ids name a tariff.
type TariffUse struct {
	EvseUID     string
	ConnectorID string
}

// ConnectorsUsingTariff returns up to limit of our connectors that name
// the tariff (OCPI tariff id, case-insensitive: CiString) in tariff_ids.
func ConnectorsUsingTariff(ctx context.Context, q Querier, tariffID string, limit int) ([]TariffUse, error) {
	rows, err := Q(q).ConnectorsUsingTariff(ctx, gen.ConnectorsUsingTariffParams{TariffKey: location.KeyOf(tariffID), Lim: int32(limit)})
	return mapAll(rows, func(r gen.ConnectorsUsingTariffRow) TariffUse {
		return TariffUse{EvseUID: r.EvseUid, ConnectorID: r.ConnectorID}
	}), err
}

// DeleteCPOTariff removes a tariff (the caller holds its row lock and has
// checked that no connector names it) and records the push of its
// removal: a DELETE to every partner's Tariffs receiver (mod_tariffs,
// Receiver Interface: DELETE /tariffs/{country_code}/{party_id}/{tariff_id};
// TariffsRenderer renders a DELETE for a tariff that no longer exists). It
// returns the push groups to kick after the commit.
func DeleteCPOTariff(ctx context.Context, q Querier, t CPOTariff) ([]roaming.PushRef, error) {
	if _, err := Q(q).DeleteCPOTariff(ctx, t.ID); err != nil {
		return nil, err
	}
	obj := t.Tariff.CountryCode + "/" + t.Tariff.PartyID + "/" + t.Tariff.ID
	return EnqueuePush(ctx, q, roaming.Change{Module: "tariffs", Group: obj, Object: obj, Method: roaming.PushDelete,
		FromCountry: t.Tariff.CountryCode, FromParty: t.Tariff.PartyID})
}
