package adminapi

import (
	"context"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/network"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
)

// Partners' charge points and tariffs as this node received them as eMSP
// (OCPI Locations and Tariffs receivers and pull sync), read-only: they are
// the partners' data, changed only by the partners.

// partnerLocationView is a partner location as the Admin API returns it.
type partnerLocationView struct {
	ID           uuid.UUID       `json:"id"`
	ConnectionID *uuid.UUID      `json:"connection_id"`
	Party        string          `json:"party"`
	CountryCode  string          `json:"country_code"`
	PartyID      string          `json:"party_id"`
	LocationID   string          `json:"location_id"`
	Latitude     string          `json:"latitude"`
	Longitude    string          `json:"longitude"`
	DistanceM    *float64        `json:"distance_m,omitempty"`
	EVSECount    int             `json:"evse_count"`
	LastUpdated  time.Time       `json:"last_updated"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	Location     json.RawMessage `json:"location"`
}

func partnerLocationViewOf(l db.PartnerLocation) partnerLocationView {
	v := partnerLocationView{ID: l.Ref, ConnectionID: l.ConnectionID, Party: l.CountryCode + "-" + l.PartyID, CountryCode: l.CountryCode,
		PartyID: l.PartyID, LocationID: l.ID, EVSECount: len(l.EVSEs), LastUpdated: l.LastUpdated.UTC(), CreatedAt: l.CreatedAt.UTC(),
		UpdatedAt: l.UpdatedAt.UTC()}
	if l.DistanceM != nil {
		d := math.Round(*l.DistanceM*10) / 10
		v.DistanceM = &d
	}
	w, err := ocpi.LocationFromNetwork(l.Location)
	if err == nil {
		v.Latitude, v.Longitude = w.Coordinates.Latitude, w.Coordinates.Longitude
		v.Location, err = json.Marshal(w)
	}
	if err != nil {
		// Stored objects were validated on the way in; a corrupt one is
		// still listed, with what the columns know.
		v.Latitude, v.Longitude = strconv.FormatFloat(l.Latitude, 'f', -1, 64), strconv.FormatFloat(l.Longitude, 'f', -1, 64)
		v.Location = json.RawMessage(`{}`)
	}
	return v
}

// partnerTariffView is a partner tariff as the Admin API returns it.
type partnerTariffView struct {
	ID           uuid.UUID       `json:"id"`
	ConnectionID *uuid.UUID      `json:"connection_id"`
	Party        string          `json:"party"`
	CountryCode  string          `json:"country_code"`
	PartyID      string          `json:"party_id"`
	TariffID     string          `json:"tariff_id"`
	Currency     string          `json:"currency"`
	LastUpdated  time.Time       `json:"last_updated"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	Tariff       json.RawMessage `json:"tariff"`
}

func partnerTariffViewOf(t db.PartnerTariff) partnerTariffView {
	v := partnerTariffView{ID: t.Ref, ConnectionID: t.ConnectionID, Party: t.CountryCode + "-" + t.PartyID, CountryCode: t.CountryCode,
		PartyID: t.PartyID, TariffID: t.ID, Currency: t.Currency, LastUpdated: t.LastUpdated.UTC(), CreatedAt: t.CreatedAt.UTC(),
		UpdatedAt: t.UpdatedAt.UTC(), Tariff: json.RawMessage(`{}`)}
	if w, err := ocpi.TariffFromNetwork(t.Tariff); err == nil {
		if b, err := json.Marshal(w); err == nil {
			v.Tariff = b
		}
	}
	return v
}

// readOnlyMeta gives the pagination machinery the record's id (read-only
// records have no external reference).
func readOnlyMeta(id *uuid.UUID, created, updated *time.Time) meta {
	var ref *string
	var ext *time.Time
	return meta{ID: id, ExternalReference: &ref, ExternalUpdatedAt: &ext, CreatedAt: created, UpdatedAt: updated}
}

// byIDOnly refuses ext_ref keys: partners' objects have no reference of ours.
func byIDOnly(k key, what string) (uuid.UUID, error) {
	if k.ID == nil {
		return uuid.Nil, badRequest("invalid_parameter", "invalid path parameter", field("id", what+" are addressed by id only"))
	}
	return *k.ID, nil
}

// partyFilter reads party=NL-TNM (separator optional).
func partyFilter(q url.Values) (cc, pid *string, err error) {
	v := q.Get("party")
	if v == "" {
		return nil, nil, nil
	}
	ref, ok := partner.ParsePartyRef(v)
	if !ok {
		return nil, nil, badRequest("invalid_parameter", "invalid query parameter", field("party", "must be a country code and party id such as NL-TNM"))
	}
	return &ref.CountryCode, &ref.PartyID, nil
}

// nearFilter reads lat, lng and radius_m: all three or none.
func nearFilter(q url.Values) (lat, lng, radius float64, ok bool, err error) {
	names := []string{"lat", "lng", "radius_m"}
	vals := make([]float64, 3)
	given := 0
	for i, n := range names {
		v := q.Get(n)
		if v == "" {
			continue
		}
		given++
		f, perr := strconv.ParseFloat(v, 64)
		if perr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, 0, 0, false, badRequest("invalid_parameter", "invalid query parameter", field(n, "must be a decimal number"))
		}
		vals[i] = f
	}
	if given == 0 {
		return 0, 0, 0, false, nil
	}
	if given != 3 {
		return 0, 0, 0, false, badRequest("invalid_parameter", "lat, lng and radius_m go together", field("radius_m", "lat, lng and radius_m must be given together"))
	}
	switch {
	case vals[0] < -90 || vals[0] > 90:
		return 0, 0, 0, false, badRequest("invalid_parameter", "invalid query parameter", field("lat", "must be between -90 and 90"))
	case vals[1] < -180 || vals[1] > 180:
		return 0, 0, 0, false, badRequest("invalid_parameter", "invalid query parameter", field("lng", "must be between -180 and 180"))
	case vals[2] <= 0 || vals[2] > maxRadiusM:
		return 0, 0, 0, false, badRequest("invalid_parameter", "invalid query parameter", field("radius_m", "must be more than 0 and at most 1000000 (1000 km)"))
	}
	return vals[0], vals[1], vals[2], true, nil
}

// maxRadiusM bounds a "near" search (1000 km): a larger one is a full scan
// in disguise.
const maxRadiusM = 1_000_000

func partnerLocationResource() *resource[db.PartnerLocation, partnerLocationView, struct{}] {
	return &resource[db.PartnerLocation, partnerLocationView, struct{}]{
		name: "partner-evse-location", table: "partner_location", family: "roaming",
		filters: []string{"party", "connection_id", "location_id", "evse_id", "lat", "lng", "radius_m"},
		load: func(ctx context.Context, q db.Querier, k key, _ bool) (db.PartnerLocation, error) {
			id, err := byIDOnly(k, "partner locations")
			if err != nil {
				return db.PartnerLocation{}, err
			}
			return db.PartnerLocationByRef(ctx, q, id)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]db.PartnerLocation, error) {
			cc, pid, err := partyFilter(a.Filters)
			if err != nil {
				return nil, err
			}
			conn, err := filterUUID(a.Filters, "connection_id")
			if err != nil {
				return nil, err
			}
			var evseKey, locKey *string
			if v := a.Filters.Get("evse_id"); v != "" {
				k := network.EVSEIDKey(v)
				evseKey = &k
			}
			if v := a.Filters.Get("location_id"); v != "" {
				k := network.Key(v)
				locKey = &k
			}
			lat, lng, radius, near, err := nearFilter(a.Filters)
			if err != nil {
				return nil, err
			}
			if near {
				if locKey != nil {
					return nil, badRequest("invalid_parameter", "location_id cannot be combined with a near search", field("location_id", "use it without lat, lng and radius_m"))
				}
				return db.NearPartnerLocations(ctx, q, gen.NearPartnerLocationsParams{Lat: lat, Lng: lng, RadiusM: radius, After: seek(a.After),
					CountryCode: cc, PartyID: pid, ConnectionID: conn, EvseIDKey: evseKey, PageLimit: a.Limit})
			}
			return db.ListPartnerLocations(ctx, q, gen.ListPartnerLocationsParams{After: seek(a.After), CountryCode: cc, PartyID: pid,
				ConnectionID: conn, LocationKey: locKey, EvseIDKey: evseKey, PageLimit: a.Limit})
		},
		view:  partnerLocationViewOf,
		meta:  func(l *db.PartnerLocation) meta { return readOnlyMeta(&l.Ref, &l.CreatedAt, &l.UpdatedAt) },
		scope: func(db.PartnerLocation) *uuid.UUID { return nil },
	}
}

func partnerTariffResource() *resource[db.PartnerTariff, partnerTariffView, struct{}] {
	return &resource[db.PartnerTariff, partnerTariffView, struct{}]{
		name: "partner-tariff", table: "partner_tariff", family: "roaming",
		filters: []string{"party", "connection_id", "tariff_id"},
		load: func(ctx context.Context, q db.Querier, k key, _ bool) (db.PartnerTariff, error) {
			id, err := byIDOnly(k, "partner tariffs")
			if err != nil {
				return db.PartnerTariff{}, err
			}
			return db.PartnerTariffByRef(ctx, q, id)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]db.PartnerTariff, error) {
			cc, pid, err := partyFilter(a.Filters)
			if err != nil {
				return nil, err
			}
			conn, err := filterUUID(a.Filters, "connection_id")
			if err != nil {
				return nil, err
			}
			var tk *string
			if v := a.Filters.Get("tariff_id"); v != "" {
				k := network.Key(v)
				tk = &k
			}
			return db.ListPartnerTariffs(ctx, q, gen.ListPartnerTariffsParams{After: seek(a.After), CountryCode: cc, PartyID: pid,
				ConnectionID: conn, TariffKey: tk, PageLimit: a.Limit})
		},
		view:  partnerTariffViewOf,
		meta:  func(t *db.PartnerTariff) meta { return readOnlyMeta(&t.Ref, &t.CreatedAt, &t.UpdatedAt) },
		scope: func(db.PartnerTariff) *uuid.UUID { return nil },
	}
}

// mountPartnerNetwork registers the read-only partner location and tariff
// resources and the pull-sync actions of roaming connections.
func (a *API) mountPartnerNetwork(v1 fiber.Router) {
	for _, r := range []interface {
		routes() (string, handler, handler)
	}{partnerLocationResource(), partnerTariffResource()} {
		name, list, get := r.routes()
		v1.Get("/"+name, a.handle("roaming", access.Read, list))
		v1.Get("/"+name+"/:key", a.handle("roaming", access.Read, get))
	}
	v1.Get("/roaming-connection/:key/sync", a.handle("roaming", access.Read, syncStates))
	v1.Post("/roaming-connection/:key/sync", a.handle("roaming", access.Write, requestSync))
}

// routes gives a read-only resource's list and get handlers.
func (r *resource[R, V, I]) routes() (string, handler, handler) { return r.name, r.getList, r.getOne }
