package db

import (
	"context"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/network"
)

// PartnerLocation is a stored partner location with its EVSEs.
type PartnerLocation struct {
	network.Location
	Ref          uuid.UUID  // our record id (partner_location.id)
	ConnectionID *uuid.UUID // the connection that last wrote it
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// DistanceM is the distance to the point of a "near" query, else nil.
	DistanceM *float64
}

// PartnerTariff is a stored partner tariff.
type PartnerTariff struct {
	network.Tariff
	Ref          uuid.UUID
	ConnectionID *uuid.UUID
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// SavePartnerLocations writes whole locations with their EVSEs, for a
// receiver PUT or one page of a pull sync, in a few statements whatever the
// batch size. Each location is applied only when it is at least as recent
// as the stored one (network.Accepts, enforced by the upsert itself, so a
// concurrent push cannot be overwritten by an older pull); an applied
// location's EVSEs replace the stored ones. Within the batch the latest
// version of a location wins. It returns how many locations were applied.
// Run it in a transaction (q is a pgx.Tx).
func SavePartnerLocations(ctx context.Context, q Querier, connID *uuid.UUID, locs []network.Location, now time.Time) (int, error) {
	if len(locs) == 0 {
		return 0, nil
	}
	locs = latestLocations(locs)
	p := gen.UpsertPartnerLocationsParams{ConnectionID: connID, Now: now}
	for _, l := range locs {
		p.Ids = append(p.Ids, uuid.Must(uuid.NewV7()))
		p.CountryCodes = append(p.CountryCodes, l.CountryCode)
		p.PartyIds = append(p.PartyIds, l.PartyID)
		p.LocationIds = append(p.LocationIds, l.ID)
		p.LocationKeys = append(p.LocationKeys, network.Key(l.ID))
		p.Latitudes = append(p.Latitudes, l.Latitude)
		p.Longitudes = append(p.Longitudes, l.Longitude)
		p.TimeZones = append(p.TimeZones, l.TimeZone)
		p.Publishes = append(p.Publishes, l.Publish)
		p.LastUpdateds = append(p.LastUpdateds, l.LastUpdated)
		p.Datas = append(p.Datas, string(l.Data))
	}
	rows, err := Q(q).UpsertPartnerLocations(ctx, p)
	if err != nil {
		return 0, Translate(err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	refs := make([]uuid.UUID, len(rows))
	got := make(map[locKey]uuid.UUID, len(rows))
	for i, r := range rows {
		refs[i] = r.ID
		got[locKey{r.CountryCode, r.PartyID, r.LocationKey}] = r.ID
	}
	old, err := Q(q).DeletePartnerEVSEsOf(ctx, refs)
	if err != nil {
		return 0, err
	}
	var ev gen.InsertPartnerEVSEsParams
	var applied []appliedLocation
	for _, l := range locs {
		ref, ok := got[locKey{l.CountryCode, l.PartyID, network.Key(l.ID)}]
		if !ok {
			continue
		}
		applied = append(applied, appliedLocation{ref: ref, loc: l})
		for pos, e := range l.EVSEs {
			appendEVSE(&ev, ref, int32(pos), e)
		}
	}
	if len(ev.LocationRefs) > 0 {
		if err := Q(q).InsertPartnerEVSEs(ctx, ev); err != nil {
			return 0, Translate(err)
		}
	}
	if err := recordEVSEChanges(ctx, q, connID, applied, old); err != nil {
		return 0, err
	}
	return len(rows), nil
}

// locKey identifies a location: party and location id key.
type locKey struct{ cc, pid, loc string }

// latestLocations keeps, per location key, the most recent version (the
// last one on a tie): one statement cannot upsert a row twice.
func latestLocations(locs []network.Location) []network.Location {
	at := make(map[locKey]int, len(locs))
	out := make([]network.Location, 0, len(locs))
	for _, l := range locs {
		k := locKey{l.CountryCode, l.PartyID, network.Key(l.ID)}
		if i, ok := at[k]; ok {
			if network.Accepts(out[i].LastUpdated, l.LastUpdated) {
				out[i] = l
			}
			continue
		}
		at[k] = len(out)
		out = append(out, l)
	}
	return out
}

func appendEVSE(p *gen.InsertPartnerEVSEsParams, ref uuid.UUID, pos int32, e network.EVSE) {
	lat, lng := math.NaN(), math.NaN()
	if e.Latitude != nil && e.Longitude != nil {
		lat, lng = *e.Latitude, *e.Longitude
	}
	p.LocationRefs = append(p.LocationRefs, ref)
	p.Positions = append(p.Positions, pos)
	p.Uids = append(p.Uids, e.UID)
	p.UidKeys = append(p.UidKeys, network.Key(e.UID))
	p.EvseIds = append(p.EvseIds, e.EVSEID)
	p.EvseIDKeys = append(p.EvseIDKeys, network.EVSEIDKey(e.EVSEID))
	p.Statuses = append(p.Statuses, e.Status)
	p.Latitudes = append(p.Latitudes, lat)
	p.Longitudes = append(p.Longitudes, lng)
	p.LastUpdateds = append(p.LastUpdateds, e.LastUpdated)
	p.Datas = append(p.Datas, string(e.Data))
	p.Digests = append(p.Digests, evseDigest(e.Data))
}

// PartnerLocationByKey loads a partner location with its EVSEs by party
// and OCPI location id (case-insensitive); lock takes its row lock for the
// transaction, which serialises every change to the location and its
// EVSEs. A missing location is a fault.KindNotFound error.
func PartnerLocationByKey(ctx context.Context, q Querier, countryCode, partyID, locationID string, lock bool) (PartnerLocation, error) {
	get := Q(q).GetPartnerLocationByKey
	if lock {
		get = func(ctx context.Context, p gen.GetPartnerLocationByKeyParams) (gen.PartnerLocation, error) {
			return Q(q).LockPartnerLocationByKey(ctx, gen.LockPartnerLocationByKeyParams(p))
		}
	}
	r, err := get(ctx, gen.GetPartnerLocationByKeyParams{CountryCode: countryCode, PartyID: partyID, LocationKey: network.Key(locationID)})
	if err != nil {
		return PartnerLocation{}, notFound(err, "location", countryCode+"-"+partyID+"/"+locationID)
	}
	ls, err := withEVSEs(ctx, q, []gen.PartnerLocation{r}, nil)
	if err != nil {
		return PartnerLocation{}, err
	}
	return ls[0], nil
}

// PartnerLocationByRef loads a partner location with its EVSEs by our id.
func PartnerLocationByRef(ctx context.Context, q Querier, ref uuid.UUID) (PartnerLocation, error) {
	r, err := Q(q).GetPartnerLocation(ctx, ref)
	if err != nil {
		return PartnerLocation{}, notFound(err, "partner location", ref)
	}
	ls, err := withEVSEs(ctx, q, []gen.PartnerLocation{r}, nil)
	if err != nil {
		return PartnerLocation{}, err
	}
	return ls[0], nil
}

// withEVSEs maps location rows and loads all their EVSEs in one query.
func withEVSEs(ctx context.Context, q Querier, rows []gen.PartnerLocation, dist []float64) ([]PartnerLocation, error) {
	out := make([]PartnerLocation, len(rows))
	refs := make([]uuid.UUID, len(rows))
	at := make(map[uuid.UUID]int, len(rows))
	for i, r := range rows {
		refs[i], at[r.ID] = r.ID, i
		out[i] = PartnerLocation{Ref: r.ID, ConnectionID: r.ConnectionID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
			Location: network.Location{CountryCode: r.CountryCode, PartyID: r.PartyID, ID: r.LocationID, Latitude: r.Latitude,
				Longitude: r.Longitude, TimeZone: r.TimeZone, Publish: r.Publish, LastUpdated: r.LastUpdated, Data: r.Data,
				EVSEs: []network.EVSE{}}}
		if dist != nil {
			d := dist[i]
			out[i].DistanceM = &d
		}
	}
	if len(rows) == 0 {
		return out, nil
	}
	evses, err := Q(q).PartnerEVSEsOf(ctx, refs)
	if err != nil {
		return nil, err
	}
	for _, e := range evses {
		i := at[e.LocationRef]
		out[i].EVSEs = append(out[i].EVSEs, evseOf(e))
	}
	return out, nil
}

func evseOf(e gen.PartnerEvse) network.EVSE {
	out := network.EVSE{UID: e.Uid, Status: e.Status, Latitude: e.Latitude, Longitude: e.Longitude, LastUpdated: e.LastUpdated, Data: e.Data}
	if e.EvseID != nil {
		out.EVSEID = *e.EvseID
	}
	return out
}

// SavePartnerEVSE writes one EVSE of a locked location (the caller applied
// the ordering) and moves the location's last_updated up to the EVSE's.
func SavePartnerEVSE(ctx context.Context, q Querier, loc PartnerLocation, e network.EVSE, connID *uuid.UUID, now time.Time) error {
	p := gen.UpsertPartnerEVSEParams{LocationRef: loc.Ref, Uid: e.UID, UidKey: network.Key(e.UID), Status: e.Status,
		Latitude: e.Latitude, Longitude: e.Longitude, LastUpdated: e.LastUpdated, Data: e.Data, Digest: evseDigest(e.Data)}
	if e.EVSEID != "" {
		id, key := e.EVSEID, network.EVSEIDKey(e.EVSEID)
		p.EvseID = &id
		if key != "" {
			p.EvseIDKey = &key
		}
	}
	r, err := Q(q).UpsertPartnerEVSE(ctx, p)
	if err != nil {
		return Translate(err)
	}
	if err := Q(q).TouchPartnerLocation(ctx, gen.TouchPartnerLocationParams{ID: loc.Ref, LastUpdated: e.LastUpdated, ConnectionID: connID, Now: now}); err != nil {
		return err
	}
	if r.PrevStatus != "" && !evseChanged(r.PrevStatus, r.PrevDigest, e) {
		return nil // re-sent or re-stamped, not changed
	}
	c := evseChange{mod: event.Create, loc: loc.Location, ref: loc.Ref, evse: e}
	if r.PrevStatus != "" {
		c.mod, c.prevStatus = event.Update, &r.PrevStatus
	}
	return appendEVSEEvents(ctx, q, connID, []evseChange{c})
}

// PartnerEVSEMatch is an EVSE found by its EVSE id, with its location's key.
type PartnerEVSEMatch struct {
	network.EVSE
	LocationRef uuid.UUID
	CountryCode string
	PartyID     string
	LocationID  string
}

// PartnerEVSEsByEVSEID finds partners' EVSEs by EVSE id, case-insensitively
// and with or without separators (network.EVSEIDKey), most recently updated
// first. It uses the partner_evse_evse_id index; sessions and CDRs match
// their EVSE with it.
func PartnerEVSEsByEVSEID(ctx context.Context, q Querier, evseID string) ([]PartnerEVSEMatch, error) {
	key := network.EVSEIDKey(evseID)
	if key == "" {
		return nil, nil
	}
	rows, err := Q(q).PartnerEVSEsByEVSEID(ctx, &key)
	if err != nil {
		return nil, err
	}
	out := make([]PartnerEVSEMatch, len(rows))
	for i, r := range rows {
		out[i] = PartnerEVSEMatch{EVSE: evseOf(gen.PartnerEvse{LocationRef: r.LocationRef, Position: r.Position, Uid: r.Uid,
			UidKey: r.UidKey, EvseID: r.EvseID, EvseIDKey: r.EvseIDKey, Status: r.Status, Latitude: r.Latitude, Longitude: r.Longitude,
			LastUpdated: r.LastUpdated, Data: r.Data}), LocationRef: r.LocationRef, CountryCode: r.CountryCode, PartyID: r.PartyID,
			LocationID: r.LocationID}
	}
	return out, nil
}

// ListPartnerLocations returns a page of partner locations with their EVSEs.
func ListPartnerLocations(ctx context.Context, q Querier, p gen.ListPartnerLocationsParams) ([]PartnerLocation, error) {
	rows, err := Q(q).ListPartnerLocations(ctx, p)
	if err != nil {
		return nil, err
	}
	return withEVSEs(ctx, q, rows, nil)
}

// NearPartnerLocations returns a page of partner locations within
// p.RadiusM of (p.Lat, p.Lng), each with its distance; the bounding box of
// p is filled in here from network.BoundingBox.
func NearPartnerLocations(ctx context.Context, q Querier, p gen.NearPartnerLocationsParams) ([]PartnerLocation, error) {
	b := network.BoundingBox(p.Lat, p.Lng, p.RadiusM)
	p.LatMin, p.LatMax, p.LngMin, p.LngMax, p.LngMin2, p.LngMax2 = b.LatMin, b.LatMax, b.LngMin, b.LngMax, b.LngMin2, b.LngMax2
	rows, err := Q(q).NearPartnerLocations(ctx, p)
	if err != nil {
		return nil, err
	}
	locs := make([]gen.PartnerLocation, len(rows))
	dist := make([]float64, len(rows))
	for i, r := range rows {
		locs[i], dist[i] = r.PartnerLocation, r.DistanceM
	}
	return withEVSEs(ctx, q, locs, dist)
}

// PartyOfConnection reports whether the party (upper case) belongs to the
// connection with one of roles: a partner may push only its own objects
// (transport_and_format → Client Owned Object Push, Errors).
func PartyOfConnection(ctx context.Context, q Querier, connID uuid.UUID, countryCode, partyID string, roles ...string) (bool, error) {
	return Q(q).PartnerPartyOfConnection(ctx, gen.PartnerPartyOfConnectionParams{ConnectionID: &connID, CountryCode: countryCode,
		PartyID: partyID, Roles: roles})
}

// ---- tariffs

// SavePartnerTariffs writes tariffs with the same ordering as locations and
// returns how many were applied.
func SavePartnerTariffs(ctx context.Context, q Querier, connID *uuid.UUID, ts []network.Tariff, now time.Time) (int, error) {
	if len(ts) == 0 {
		return 0, nil
	}
	type key struct{ cc, pid, id string }
	at := map[key]int{}
	var latest []network.Tariff
	for _, t := range ts {
		k := key{t.CountryCode, t.PartyID, network.Key(t.ID)}
		if i, ok := at[k]; ok {
			if network.Accepts(latest[i].LastUpdated, t.LastUpdated) {
				latest[i] = t
			}
			continue
		}
		at[k] = len(latest)
		latest = append(latest, t)
	}
	p := gen.UpsertPartnerTariffsParams{ConnectionID: connID, Now: now}
	for _, t := range latest {
		p.Ids = append(p.Ids, uuid.Must(uuid.NewV7()))
		p.CountryCodes = append(p.CountryCodes, t.CountryCode)
		p.PartyIds = append(p.PartyIds, t.PartyID)
		p.TariffIds = append(p.TariffIds, t.ID)
		p.TariffKeys = append(p.TariffKeys, network.Key(t.ID))
		p.Currencies = append(p.Currencies, t.Currency)
		p.LastUpdateds = append(p.LastUpdateds, t.LastUpdated)
		p.Datas = append(p.Datas, string(t.Data))
	}
	ids, err := Q(q).UpsertPartnerTariffs(ctx, p)
	return len(ids), Translate(err)
}

func tariffOf(r gen.PartnerTariff) PartnerTariff {
	return PartnerTariff{Ref: r.ID, ConnectionID: r.ConnectionID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Tariff: network.Tariff{CountryCode: r.CountryCode, PartyID: r.PartyID, ID: r.TariffID, Currency: r.Currency,
			LastUpdated: r.LastUpdated, Data: r.Data}}
}

// PartnerTariffByKey loads a partner tariff by party and OCPI tariff id.
func PartnerTariffByKey(ctx context.Context, q Querier, countryCode, partyID, tariffID string) (PartnerTariff, error) {
	r, err := Q(q).GetPartnerTariffByKey(ctx, gen.GetPartnerTariffByKeyParams{CountryCode: countryCode, PartyID: partyID, TariffKey: network.Key(tariffID)})
	if err != nil {
		return PartnerTariff{}, notFound(err, "tariff", countryCode+"-"+partyID+"/"+tariffID)
	}
	return tariffOf(r), nil
}

// PartnerTariffByRef loads a partner tariff by our id.
func PartnerTariffByRef(ctx context.Context, q Querier, ref uuid.UUID) (PartnerTariff, error) {
	r, err := Q(q).GetPartnerTariff(ctx, ref)
	if err != nil {
		return PartnerTariff{}, notFound(err, "partner tariff", ref)
	}
	return tariffOf(r), nil
}

// DeletePartnerTariff removes a tariff (mod_tariffs DELETE); it reports
// whether there was one.
func DeletePartnerTariff(ctx context.Context, q Querier, countryCode, partyID, tariffID string) (bool, error) {
	n, err := Q(q).DeletePartnerTariff(ctx, gen.DeletePartnerTariffParams{CountryCode: countryCode, PartyID: partyID, TariffKey: network.Key(tariffID)})
	return n > 0, err
}

// ListPartnerTariffs returns a page of partner tariffs.
func ListPartnerTariffs(ctx context.Context, q Querier, p gen.ListPartnerTariffsParams) ([]PartnerTariff, error) {
	rows, err := Q(q).ListPartnerTariffs(ctx, p)
	return mapAll(rows, tariffOf), err
}
