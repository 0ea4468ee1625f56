package db

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/location"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// Our charge points as CPO. A record keeps the OCPI object itself (the
// wire type is the most precise statement of "every OCPI field") next to
// the back-office fields the guide adds.

// CPOLocation is one of our locations. Location.ID, CountryCode, PartyID
// and LastUpdated are authoritative; Location.EVSEs is always empty (EVSEs
// are records of their own).
type CPOLocation struct {
	ID                uuid.UUID
	ExternalReference *string
	Location          ocpi.Location
	// DeactivatedAt: from then on the location is out of service; its EVSEs
	// are published with status REMOVED (mod_locations: "A Location without
	// any valid EVSE object can be considered expired").
	DeactivatedAt     *time.Time
	ExternalUpdatedAt *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// CPOEVSE is one of our EVSEs, with its connectors.
type CPOEVSE struct {
	ID           uuid.UUID
	LocationUUID uuid.UUID
	// LocationID is the OCPI id of the EVSE's location (never changes).
	LocationID        string
	ExternalReference *string
	EVSE              ocpi.EVSE
	StatusUpdatedAt   time.Time
	// ReimbursementMandatory: sessions at this EVSE must be reimbursed to
	// the site owner (a session without an arrangement drops out).
	ReimbursementMandatory bool
	// DropoutAllChargesessions moves every incoming session at this EVSE
	// into a drop-out case (guide → Safe EVSE configuration).
	DropoutAllChargesessions bool
	ExternalUpdatedAt        *time.Time
	CreatedAt                time.Time
	UpdatedAt                time.Time
}

// keyLookup loads one record by its OCPI identifier (case-insensitive) or
// by external reference, with FOR UPDATE when lock is set.
func keyLookup[R any](ctx context.Context, what, id, ref string, lock bool,
	byKey, lockByKey func(context.Context, string) (R, error),
	byRef, lockByRef func(context.Context, *string) (R, error)) (R, error) {
	var (
		r   R
		err error
	)
	switch {
	case ref == "" && lock:
		r, err = lockByKey(ctx, location.KeyOf(id))
	case ref == "":
		r, err = byKey(ctx, location.KeyOf(id))
	case lock:
		r, err = lockByRef(ctx, &ref)
	default:
		r, err = byRef(ctx, &ref)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		if ref != "" {
			id = "ext_ref." + ref
		}
		return r, fault.NotFound("not_found", "%s %s does not exist", what, id)
	}
	return r, err
}

// translateKey maps a duplicate OCPI identifier to its field.
func translateKey(err error, field string) error {
	if code, constraint := pgCode(err); code == codeUniqueViolation && strings.HasSuffix(constraint, "_key_key") {
		return &fault.Error{Kind: fault.KindConflict, Code: "duplicate", Message: "a record with this value already exists",
			Fields: []fault.Field{{Path: field, Message: "is already used by another record"}}}
	}
	return Translate(err)
}

// CPOLocationByID loads a location by OCPI id (ref empty) or external
// reference.
func CPOLocationByID(ctx context.Context, q Querier, id, ref string, lock bool) (CPOLocation, error) {
	g := Q(q)
	r, err := keyLookup(ctx, "cpo-evse-location", id, ref, lock, g.GetCPOLocationByKey, g.LockCPOLocationByKey, g.GetCPOLocationByRef, g.LockCPOLocationByRef)
	if err != nil {
		return CPOLocation{}, err
	}
	return cpoLocationOf(r)
}

// CPOLocationByUUID loads a location by record id.
func CPOLocationByUUID(ctx context.Context, q Querier, id uuid.UUID) (CPOLocation, error) {
	r, err := Q(q).GetCPOLocation(ctx, id)
	if err != nil {
		return CPOLocation{}, notFound(err, "cpo-evse-location", id)
	}
	return cpoLocationOf(r)
}

func cpoLocationOf(r gen.CpoLocation) (CPOLocation, error) {
	var l ocpi.Location
	if err := json.Unmarshal(r.Doc, &l); err != nil {
		return CPOLocation{}, err
	}
	l.ID, l.CountryCode, l.PartyID, l.LastUpdated, l.EVSEs = r.LocationID, r.CountryCode, r.PartyID, ocpi.NewDateTime(r.LastUpdated), nil
	return CPOLocation{ID: r.ID, ExternalReference: r.ExternalReference, Location: l, DeactivatedAt: r.DeactivatedAt,
		ExternalUpdatedAt: r.ExternalUpdatedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
}

func cpoLocationsOf(rows []gen.CpoLocation) ([]CPOLocation, error) {
	return convert(cpoLocationOf)(rows, nil)
}

// ListCPOLocations returns a page of locations (Admin API).
func ListCPOLocations(ctx context.Context, q Querier, p gen.ListCPOLocationsParams) ([]CPOLocation, error) {
	rows, err := Q(q).ListCPOLocations(ctx, p)
	if err != nil {
		return nil, err
	}
	return cpoLocationsOf(rows)
}

// SaveCPOLocation inserts or updates a location. The OCPI id and party
// never change after creation.
func SaveCPOLocation(ctx context.Context, q Querier, l CPOLocation, isNew bool) error {
	doc := l.Location
	doc.EVSEs = nil
	raw, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	lu := l.Location.LastUpdated.UTC()
	if isNew {
		err = Q(q).InsertCPOLocation(ctx, gen.InsertCPOLocationParams{ID: l.ID, LocationID: l.Location.ID,
			LocationKey: location.KeyOf(l.Location.ID), ExternalReference: l.ExternalReference, CountryCode: l.Location.CountryCode,
			PartyID: l.Location.PartyID, Doc: raw, DeactivatedAt: l.DeactivatedAt, LastUpdated: lu,
			ExternalUpdatedAt: l.ExternalUpdatedAt, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt})
	} else {
		err = Q(q).UpdateCPOLocation(ctx, gen.UpdateCPOLocationParams{ID: l.ID, ExternalReference: l.ExternalReference, Doc: raw,
			DeactivatedAt: l.DeactivatedAt, LastUpdated: lu, ExternalUpdatedAt: l.ExternalUpdatedAt, UpdatedAt: l.UpdatedAt})
	}
	return translateKey(err, "location_id")
}

// TouchCPOEVSEsOfLocation moves the last_updated of every EVSE of a
// location forward to at: the location's deactivation changed their
// published status.
func TouchCPOEVSEsOfLocation(ctx context.Context, q Querier, id uuid.UUID, at time.Time) error {
	return Q(q).TouchCPOEVSEsOfLocation(ctx, gen.TouchCPOEVSEsOfLocationParams{LocationUuid: id, LastUpdated: at})
}

// TouchCPOLocation moves a location's last_updated forward to at (an EVSE
// or connector of it changed).
func TouchCPOLocation(ctx context.Context, q Querier, id uuid.UUID, at time.Time) error {
	return Q(q).TouchCPOLocation(ctx, gen.TouchCPOLocationParams{ID: id, LastUpdated: at})
}

// CPOEVSEByUID loads an EVSE by OCPI uid (ref empty) or external reference.
func CPOEVSEByUID(ctx context.Context, q Querier, uid, ref string, lock bool) (CPOEVSE, error) {
	g := Q(q)
	r, err := keyLookup(ctx, "cpo-evse", uid, ref, lock, g.GetCPOEVSEByKey, g.LockCPOEVSEByKey, g.GetCPOEVSEByRef, g.LockCPOEVSEByRef)
	if err != nil {
		return CPOEVSE{}, err
	}
	return cpoEVSEOf(r)
}

func cpoEVSEOf(r gen.CpoEvse) (CPOEVSE, error) {
	var e ocpi.EVSE
	if err := json.Unmarshal(r.Doc, &e); err != nil {
		return CPOEVSE{}, err
	}
	e.UID, e.Status, e.LastUpdated = r.EvseUid, r.Status, ocpi.NewDateTime(r.LastUpdated)
	return CPOEVSE{ID: r.ID, LocationUUID: r.LocationUuid, LocationID: r.LocationID, ExternalReference: r.ExternalReference,
		EVSE: e, StatusUpdatedAt: r.StatusUpdatedAt, ReimbursementMandatory: r.ReimbursementMandatory,
		DropoutAllChargesessions: r.DropoutAllChargesessions, ExternalUpdatedAt: r.ExternalUpdatedAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
}

func cpoEVSEsOf(rows []gen.CpoEvse) ([]CPOEVSE, error) {
	return convert(cpoEVSEOf)(rows, nil)
}

// ListCPOEVSEs returns a page of EVSEs (Admin API).
func ListCPOEVSEs(ctx context.Context, q Querier, p gen.ListCPOEVSEsParams) ([]CPOEVSE, error) {
	rows, err := Q(q).ListCPOEVSEs(ctx, p)
	if err != nil {
		return nil, err
	}
	return cpoEVSEsOf(rows)
}

// EVSEsOfLocations returns the EVSEs of the locations (record ids), in
// location and creation order.
func EVSEsOfLocations(ctx context.Context, q Querier, ids []uuid.UUID) ([]CPOEVSE, error) {
	rows, err := Q(q).EVSEsOfLocations(ctx, ids)
	if err != nil {
		return nil, err
	}
	return cpoEVSEsOf(rows)
}

// SaveCPOEVSE inserts or updates an EVSE. Its uid and location never
// change after creation.
func SaveCPOEVSE(ctx context.Context, q Querier, e CPOEVSE, isNew bool) error {
	raw, err := json.Marshal(e.EVSE)
	if err != nil {
		return err
	}
	var evseID *string
	if e.EVSE.EvseID != "" {
		v := e.EVSE.EvseID
		evseID = &v
	}
	lu := e.EVSE.LastUpdated.UTC()
	if isNew {
		err = Q(q).InsertCPOEVSE(ctx, gen.InsertCPOEVSEParams{ID: e.ID, EvseUid: e.EVSE.UID, EvseKey: location.KeyOf(e.EVSE.UID),
			LocationUuid: e.LocationUUID, LocationID: e.LocationID, ExternalReference: e.ExternalReference, EvseID: evseID,
			Status: e.EVSE.Status, StatusUpdatedAt: e.StatusUpdatedAt, Doc: raw, ReimbursementMandatory: e.ReimbursementMandatory,
			DropoutAllChargesessions: e.DropoutAllChargesessions, LastUpdated: lu, ExternalUpdatedAt: e.ExternalUpdatedAt,
			CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt})
	} else {
		err = Q(q).UpdateCPOEVSE(ctx, gen.UpdateCPOEVSEParams{ID: e.ID, ExternalReference: e.ExternalReference, EvseID: evseID,
			Status: e.EVSE.Status, StatusUpdatedAt: e.StatusUpdatedAt, Doc: raw, ReimbursementMandatory: e.ReimbursementMandatory,
			DropoutAllChargesessions: e.DropoutAllChargesessions, LastUpdated: lu, ExternalUpdatedAt: e.ExternalUpdatedAt,
			UpdatedAt: e.UpdatedAt})
	}
	return translateKey(err, "evse_uid")
}

// RequestDropoutReprocess records that the sessions dropped out because of
// the EVSE's dropout_all_chargesessions flag are to be processed again
// (guide → Safe EVSE configuration, reprocess_dropouts). The session
// pipeline consumes open requests with OpenDropoutReprocessRequests and
// ConsumeDropoutReprocessRequest.
func RequestDropoutReprocess(ctx context.Context, q Querier, evse CPOEVSE, at time.Time) error {
	return Q(q).InsertDropoutReprocessRequest(ctx, gen.InsertDropoutReprocessRequestParams{ID: uuid.Must(uuid.NewV7()),
		EvseID: evse.ID, EvseUid: evse.EVSE.UID, RequestedAt: at})
}

// OpenDropoutReprocessRequests returns up to limit requests not yet
// consumed, oldest first.
func OpenDropoutReprocessRequests(ctx context.Context, q Querier, limit int32) ([]gen.CpoDropoutReprocessRequest, error) {
	return Q(q).OpenDropoutReprocessRequests(ctx, limit)
}

// ConsumeDropoutReprocessRequest marks a request handled.
func ConsumeDropoutReprocessRequest(ctx context.Context, q Querier, id uuid.UUID, at time.Time) error {
	return Q(q).ConsumeDropoutReprocessRequest(ctx, gen.ConsumeDropoutReprocessRequestParams{ID: id, ConsumedAt: &at})
}

// OCPILocations returns one page of a party's locations for the OCPI
// sender (last_updated window, oldest first), each with its EVSEs, and the
// total count of the window.
func OCPILocations(ctx context.Context, q Querier, country, party string, from, to *time.Time, offset, limit int) ([]CPOLocation, [][]CPOEVSE, int, error) {
	g := Q(q)
	total, err := g.CountOCPILocations(ctx, gen.CountOCPILocationsParams{CountryCode: country, PartyID: party, DateFrom: from, DateTo: to})
	if err != nil {
		return nil, nil, 0, err
	}
	rows, err := g.PageOCPILocations(ctx, gen.PageOCPILocationsParams{CountryCode: country, PartyID: party, DateFrom: from,
		DateTo: to, PageOffset: int32(offset), PageLimit: int32(limit)})
	if err != nil {
		return nil, nil, 0, err
	}
	locs, err := cpoLocationsOf(rows)
	if err != nil {
		return nil, nil, 0, err
	}
	ids := make([]uuid.UUID, len(locs))
	for i, l := range locs {
		ids[i] = l.ID
	}
	evses, err := EVSEsOfLocations(ctx, q, ids)
	if err != nil {
		return nil, nil, 0, err
	}
	byLoc := map[uuid.UUID][]CPOEVSE{}
	for _, e := range evses {
		byLoc[e.LocationUUID] = append(byLoc[e.LocationUUID], e)
	}
	out := make([][]CPOEVSE, len(locs))
	for i, l := range locs {
		out[i] = byLoc[l.ID]
	}
	return locs, out, int(total), nil
}

// OCPI renders the location as the Locations sender publishes it, with its
// EVSEs. A deactivated location publishes its EVSEs as REMOVED.
func (l CPOLocation) OCPI(evses []CPOEVSE, now time.Time) ocpi.Location {
	out := l.Location
	out.EVSEs = make([]ocpi.EVSE, len(evses))
	for i, e := range evses {
		out.EVSEs[i] = e.OCPI(l.Deactivated(now))
	}
	if len(evses) == 0 {
		out.EVSEs = nil
	}
	return out
}

// Deactivated reports whether the location is out of service at now.
func (l CPOLocation) Deactivated(now time.Time) bool {
	return l.DeactivatedAt != nil && !l.DeactivatedAt.After(now)
}

// OCPI renders the EVSE as the Locations sender publishes it; an EVSE of a
// deactivated location is REMOVED.
func (e CPOEVSE) OCPI(deactivated bool) ocpi.EVSE {
	out := e.EVSE
	if deactivated {
		out.Status = string(location.StatusRemoved)
	}
	return out
}

// PushGroupOf is the push ordering group of a location and its EVSEs.
func PushGroupOf(l ocpi.Location) string { return l.CountryCode + "/" + l.PartyID + "/" + l.ID }

// ChangedFields lists the top-level JSON fields whose values differ
// between a and b, ignoring last_updated.
func ChangedFields(a, b any) ([]string, error) {
	var ma, mb map[string]json.RawMessage
	ja, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	jb, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(ja, &ma); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(jb, &mb); err != nil {
		return nil, err
	}
	var out []string
	for k, v := range mb {
		if k != "last_updated" && string(ma[k]) != string(v) {
			out = append(out, k)
		}
	}
	for k := range ma {
		if _, ok := mb[k]; !ok && k != "last_updated" {
			// Removed optional field: PATCH cannot remove, a PUT must go.
			return nil, errRemoved
		}
	}
	return out, nil
}

var errRemoved = errors.New("a field was removed")

// EnqueueLocationPush records the push of a location change (prev nil on
// create): a PUT of the whole location when it is new, when a field was
// removed (mod_locations: PATCH "is not suitable to remove information
// shared earlier") or when its deactivation changes the status of all its
// EVSEs; otherwise a PATCH of the changed fields; nothing when the OCPI
// object did not change.
func EnqueueLocationPush(ctx context.Context, q Querier, prev *CPOLocation, cur CPOLocation, now time.Time) ([]roaming.PushRef, error) {
	ch := roaming.Change{Module: "locations", Group: PushGroupOf(cur.Location), Object: PushGroupOf(cur.Location),
		Method: roaming.PushPut, FromCountry: cur.Location.CountryCode, FromParty: cur.Location.PartyID}
	if prev != nil && prev.Deactivated(now) == cur.Deactivated(now) {
		fields, err := ChangedFields(prev.Location, cur.Location)
		switch {
		case errors.Is(err, errRemoved):
		case err != nil:
			return nil, err
		case len(fields) == 0:
			return nil, nil
		default:
			ch.Method, ch.Fields = roaming.PushPatch, fields
		}
	}
	return EnqueuePush(ctx, q, ch)
}

// EnqueueEVSEPush records the push of an EVSE change (prev nil on create)
// at its location: a PUT of the EVSE when it is new or a field was
// removed, else a PATCH of the changed fields (a status flip is a PATCH of
// status), nothing when the OCPI object did not change.
func EnqueueEVSEPush(ctx context.Context, q Querier, loc CPOLocation, prev *CPOEVSE, cur CPOEVSE, now time.Time) ([]roaming.PushRef, error) {
	grp := PushGroupOf(loc.Location)
	ch := roaming.Change{Module: "locations", Group: grp, Object: grp + "/" + cur.EVSE.UID, Method: roaming.PushPut,
		FromCountry: loc.Location.CountryCode, FromParty: loc.Location.PartyID}
	if prev != nil {
		fields, err := ChangedFields(prev.OCPI(loc.Deactivated(now)), cur.OCPI(loc.Deactivated(now)))
		switch {
		case errors.Is(err, errRemoved):
		case err != nil:
			return nil, err
		case len(fields) == 0:
			return nil, nil
		default:
			ch.Method, ch.Fields = roaming.PushPatch, fields
		}
	}
	return EnqueuePush(ctx, q, ch)
}
