package adminapi

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/location"
	"github.com/roamnode/roamnode/ocpi"
)

// cpoEVSEView is an EVSE as the API returns it: the OCPI EVSE fields
// (connectors as OCPI Connector objects) and the back-office flags.
type cpoEVSEView struct {
	ID                       uuid.UUID             `json:"id"`
	EvseUID                  string                `json:"evse_uid"`
	LocationID               string                `json:"location_id"`
	ExternalReference        *string               `json:"external_reference"`
	EvseID                   *string               `json:"evse_id"`
	Status                   string                `json:"status"`
	StatusUpdatedAt          time.Time             `json:"status_updated_at"`
	StatusSchedule           []ocpi.StatusSchedule `json:"status_schedule"`
	Capabilities             []string              `json:"capabilities"`
	Connectors               []ocpi.Connector      `json:"connectors"`
	FloorLevel               *string               `json:"floor_level"`
	Coordinates              *ocpi.GeoLocation     `json:"coordinates"`
	PhysicalReference        *string               `json:"physical_reference"`
	Directions               []ocpi.DisplayText    `json:"directions"`
	ParkingRestrictions      []string              `json:"parking_restrictions"`
	Images                   []ocpi.Image          `json:"images"`
	ReimbursementMandatory   bool                  `json:"reimbursement_mandatory"`
	DropoutAllChargesessions bool                  `json:"dropout_all_chargesessions"`
	LastUpdated              time.Time             `json:"last_updated"`
	ExternalUpdatedAt        *time.Time            `json:"external_updated_at"`
	CreatedAt                time.Time             `json:"created_at"`
	UpdatedAt                time.Time             `json:"updated_at"`
}

// cpoEVSEInput is what create-or-update accepts. reprocess_dropouts is an
// instruction, not a field: with dropout_all_chargesessions turned off it
// asks for the sessions dropped out meanwhile to be processed again.
type cpoEVSEInput struct {
	EvseUID                  string                `json:"evse_uid"`
	LocationID               string                `json:"location_id"`
	ExternalReference        *string               `json:"external_reference"`
	EvseID                   *string               `json:"evse_id"`
	Status                   string                `json:"status"`
	StatusSchedule           []ocpi.StatusSchedule `json:"status_schedule"`
	Capabilities             []string              `json:"capabilities"`
	Connectors               []ocpi.Connector      `json:"connectors"`
	FloorLevel               *string               `json:"floor_level"`
	Coordinates              *ocpi.GeoLocation     `json:"coordinates"`
	PhysicalReference        *string               `json:"physical_reference"`
	Directions               []ocpi.DisplayText    `json:"directions"`
	ParkingRestrictions      []string              `json:"parking_restrictions"`
	Images                   []ocpi.Image          `json:"images"`
	ReimbursementMandatory   *bool                 `json:"reimbursement_mandatory"`
	DropoutAllChargesessions *bool                 `json:"dropout_all_chargesessions"`
	ReprocessDropouts        *bool                 `json:"reprocess_dropouts"`
	ExternalUpdatedAt        *time.Time            `json:"external_updated_at"`
}

func cpoEVSEResource() *resource[db.CPOEVSE, cpoEVSEView, cpoEVSEInput] {
	return &resource[db.CPOEVSE, cpoEVSEView, cpoEVSEInput]{
		name: "cpo-evse", table: "cpo_evse", family: "cpo", domainKey: "evse_uid",
		filters:   []string{"location_id", "status", "evse_id", "external_reference"},
		implicit:  []string{"evse_id"},
		immutable: []string{"evse_uid", "location_id"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (db.CPOEVSE, error) {
			return db.CPOEVSEByUID(ctx, q, k.Domain, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]db.CPOEVSE, error) {
			status, err := filterChecked(a.Filters, "status", func(s string) bool { return location.Status(s).Valid() }, "an OCPI EVSE status")
			if err != nil {
				return nil, err
			}
			var loc *string
			if l := filterString(a.Filters, "location_id"); l != nil {
				k := location.KeyOf(*l)
				loc = &k
			}
			return db.ListCPOEVSEs(ctx, q, gen.ListCPOEVSEsParams{After: seek(a.After), LocationKey: loc, Status: status,
				EvseID: filterString(a.Filters, "evse_id"), ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit})
		},
		view: cpoEVSEViewOf,
		build: func(w writeCtx, in cpoEVSEInput, cur *db.CPOEVSE) (db.CPOEVSE, error) {
			var rec db.CPOEVSE
			now := time.Now().UTC().Truncate(time.Microsecond) // Postgres precision: a reload reads the same value
			if cur != nil {
				rec = *cur
			} else {
				if in.LocationID == "" {
					return rec, fault.Invalid("location_id", "is required: the OCPI id of the EVSE's cpo-evse-location")
				}
				loc, err := db.CPOLocationByID(w.Ctx, w.Tx, in.LocationID, "", false)
				if fault.Is(err, fault.KindNotFound) {
					return rec, &fault.Error{Kind: fault.KindInvalid, Code: "reference_not_found", Message: "invalid input",
						Fields: []fault.Field{{Path: "location_id", Message: "no cpo-evse-location has this location_id"}}}
				}
				if err != nil {
					return rec, err
				}
				rec.LocationUUID, rec.LocationID, rec.EVSE.UID = loc.ID, loc.Location.ID, in.EvseUID
			}
			e := &rec.EVSE
			if e.Status != in.Status || cur == nil {
				rec.StatusUpdatedAt = now
			}
			e.EvseID, e.Status, e.StatusSchedule, e.Capabilities = deref(in.EvseID), in.Status, in.StatusSchedule, in.Capabilities
			e.Connectors = stampConnectors(in.Connectors, rec.EVSE.Connectors, cur != nil, now)
			e.FloorLevel, e.Coordinates, e.PhysicalReference = deref(in.FloorLevel), in.Coordinates, deref(in.PhysicalReference)
			e.Directions, e.ParkingRestrictions, e.Images = in.Directions, in.ParkingRestrictions, in.Images
			if in.ReimbursementMandatory != nil {
				rec.ReimbursementMandatory = *in.ReimbursementMandatory
			}
			if in.DropoutAllChargesessions != nil {
				rec.DropoutAllChargesessions = *in.DropoutAllChargesessions
			}
			rec.ExternalReference = in.ExternalReference
			if cur == nil || ocpiChanged(cur.EVSE, rec.EVSE) {
				e.LastUpdated = ocpi.NewDateTime(now)
			}
			var fs fault.Fields
			collect(&fs, ocpi.Problems(e, ""), "uid", "evse_uid")
			collect(&fs, e.Check(), "uid", "evse_uid")
			return rec, fs.Err()
		},
		save: db.SaveCPOEVSE,
		meta: func(r *db.CPOEVSE) meta {
			return meta{&r.ID, &r.ExternalReference, &r.ExternalUpdatedAt, &r.CreatedAt, &r.UpdatedAt}
		},
		scope: func(db.CPOEVSE) *uuid.UUID { return nil },
		after: func(w writeCtx, prev *db.CPOEVSE, rec db.CPOEVSE) error {
			if prev != nil && prev.DropoutAllChargesessions && !rec.DropoutAllChargesessions && reprocessRequested(w.Body) {
				if err := db.RequestDropoutReprocess(w.Ctx, w.Tx, rec, time.Now().UTC()); err != nil {
					return err
				}
			}
			if prev != nil && !prev.EVSE.LastUpdated.Before(rec.EVSE.LastUpdated.Time) {
				return nil // back-office fields only: nothing for partners
			}
			loc, err := db.CPOLocationByUUID(w.Ctx, w.Tx, rec.LocationUUID)
			if err != nil {
				return err
			}
			if err := db.TouchCPOLocation(w.Ctx, w.Tx, loc.ID, rec.EVSE.LastUpdated.Time); err != nil {
				return err
			}
			refs, err := db.EnqueueEVSEPush(w.Ctx, w.Tx, loc, prev, rec, time.Now())
			w.kick(refs)
			return err
		},
	}
}

func reprocessRequested(b body) bool {
	var v bool
	return b.has("reprocess_dropouts") && json.Unmarshal(b["reprocess_dropouts"], &v) == nil && v
}

// stampConnectors gives each connector its last_updated: unchanged ones
// keep theirs, new or changed ones get now (mod_locations: "Timestamp when
// this Connector was last updated").
func stampConnectors(in, old []ocpi.Connector, update bool, now time.Time) []ocpi.Connector {
	out := make([]ocpi.Connector, len(in))
	for i, c := range in {
		c.LastUpdated = ocpi.NewDateTime(now)
		for _, o := range old {
			if update && location.EqualID(o.ID, c.ID) {
				cmp := c
				cmp.LastUpdated = o.LastUpdated
				if a, b := mustJSON(cmp), mustJSON(o); a == b {
					c.LastUpdated = o.LastUpdated
				}
			}
		}
		out[i] = c
	}
	if in == nil {
		return nil
	}
	return out
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func cpoEVSEViewOf(r db.CPOEVSE) cpoEVSEView {
	e := r.EVSE
	conns := e.Connectors
	if conns == nil {
		conns = []ocpi.Connector{}
	}
	return cpoEVSEView{ID: r.ID, EvseUID: e.UID, LocationID: r.LocationID, ExternalReference: r.ExternalReference,
		EvseID: strPtr(e.EvseID), Status: e.Status, StatusUpdatedAt: r.StatusUpdatedAt.UTC(), StatusSchedule: e.StatusSchedule,
		Capabilities: e.Capabilities, Connectors: conns, FloorLevel: strPtr(e.FloorLevel), Coordinates: e.Coordinates,
		PhysicalReference: strPtr(e.PhysicalReference), Directions: e.Directions, ParkingRestrictions: e.ParkingRestrictions,
		Images: e.Images, ReimbursementMandatory: r.ReimbursementMandatory, DropoutAllChargesessions: r.DropoutAllChargesessions,
		LastUpdated: e.LastUpdated.UTC(), ExternalUpdatedAt: utcPtr(r.ExternalUpdatedAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// putDropoutAll is PUT /cpo-evse/{evse_uid}/dropout-all-chargesessions
// (003 → Safe EVSE configuration): sets the flag of an existing EVSE;
// turning it off with "reprocess_dropouts": true records a reprocessing
// request for the session pipeline. It is a merge-update limited to these
// fields, with the same stale-update prevention.
func putDropoutAll(c *fiber.Ctx, rq *request) error {
	r := cpoEVSEResource()
	k, err := r.parseKey(c.Params("key"))
	if err != nil {
		return err
	}
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	var fs fault.Fields
	for name := range b {
		switch name {
		case "dropout_all_chargesessions", "reprocess_dropouts", "external_updated_at":
		default:
			fs.Add(name, "is not a field of this endpoint (dropout_all_chargesessions, reprocess_dropouts, external_updated_at)")
		}
	}
	var flag *bool
	if err := json.Unmarshal(b["dropout_all_chargesessions"], &flag); !b.has("dropout_all_chargesessions") || err != nil || flag == nil {
		fs.Add("dropout_all_chargesessions", "is required: true or false")
	}
	if raw, ok := b["reprocess_dropouts"]; ok {
		var v bool
		if json.Unmarshal(raw, &v) != nil {
			fs.Add("reprocess_dropouts", "must be a boolean")
		}
	}
	if err := fs.Err(); err != nil {
		return err
	}
	if _, err := r.load(c.UserContext(), rq.api.pool, k, false); err != nil {
		return err // only existing EVSEs: this endpoint never creates one
	}
	return r.write(c, rq, b, &k)
}
