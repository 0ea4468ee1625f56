package adminapi

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// Our charge points as CPO (003 → Charge Point Operators): locations
// (cpo-evse-location) and EVSEs with their connectors (cpo-evse), addressed
// by their OCPI identifiers, created or merge-updated with POST /x/{key}.
// The OCPI parts are OCPI 2.2.1 JSON exactly as mod_locations defines them
// (numbers as JSON numbers), so an OCPI Location or EVSE object can be
// posted as it is; the back-office fields sit beside them. Every change is
// pushed to partners with a Locations receiver.

// cpoLocationView is a location as the API returns it.
type cpoLocationView struct {
	ID                 uuid.UUID                    `json:"id"`
	LocationID         string                       `json:"location_id"`
	ExternalReference  *string                      `json:"external_reference"`
	CountryCode        string                       `json:"country_code"`
	PartyID            string                       `json:"party_id"`
	Publish            bool                         `json:"publish"`
	PublishAllowedTo   []ocpi.PublishTokenType      `json:"publish_allowed_to"`
	Name               *string                      `json:"name"`
	Address            string                       `json:"address"`
	City               string                       `json:"city"`
	PostalCode         *string                      `json:"postal_code"`
	State              *string                      `json:"state"`
	Country            string                       `json:"country"`
	Coordinates        ocpi.GeoLocation             `json:"coordinates"`
	RelatedLocations   []ocpi.AdditionalGeoLocation `json:"related_locations"`
	ParkingType        *string                      `json:"parking_type"`
	Directions         []ocpi.DisplayText           `json:"directions"`
	Operator           *ocpi.BusinessDetails        `json:"operator"`
	Suboperator        *ocpi.BusinessDetails        `json:"suboperator"`
	Owner              *ocpi.BusinessDetails        `json:"owner"`
	Facilities         []string                     `json:"facilities"`
	TimeZone           string                       `json:"time_zone"`
	OpeningTimes       *ocpi.Hours                  `json:"opening_times"`
	ChargingWhenClosed *bool                        `json:"charging_when_closed"`
	Images             []ocpi.Image                 `json:"images"`
	EnergyMix          *ocpi.EnergyMix              `json:"energy_mix"`
	DeactivatedAt      *time.Time                   `json:"deactivated_at"`
	LastUpdated        time.Time                    `json:"last_updated"`
	ExternalUpdatedAt  *time.Time                   `json:"external_updated_at"`
	CreatedAt          time.Time                    `json:"created_at"`
	UpdatedAt          time.Time                    `json:"updated_at"`
}

// cpoLocationInput is what create-or-update accepts.
type cpoLocationInput struct {
	LocationID         string                       `json:"location_id"`
	ExternalReference  *string                      `json:"external_reference"`
	CountryCode        *string                      `json:"country_code"`
	PartyID            *string                      `json:"party_id"`
	Publish            *bool                        `json:"publish"`
	PublishAllowedTo   []ocpi.PublishTokenType      `json:"publish_allowed_to"`
	Name               *string                      `json:"name"`
	Address            string                       `json:"address"`
	City               string                       `json:"city"`
	PostalCode         *string                      `json:"postal_code"`
	State              *string                      `json:"state"`
	Country            string                       `json:"country"`
	Coordinates        *ocpi.GeoLocation            `json:"coordinates"`
	RelatedLocations   []ocpi.AdditionalGeoLocation `json:"related_locations"`
	ParkingType        *string                      `json:"parking_type"`
	Directions         []ocpi.DisplayText           `json:"directions"`
	Operator           *ocpi.BusinessDetails        `json:"operator"`
	Suboperator        *ocpi.BusinessDetails        `json:"suboperator"`
	Owner              *ocpi.BusinessDetails        `json:"owner"`
	Facilities         []string                     `json:"facilities"`
	TimeZone           string                       `json:"time_zone"`
	OpeningTimes       *ocpi.Hours                  `json:"opening_times"`
	ChargingWhenClosed *bool                        `json:"charging_when_closed"`
	Images             []ocpi.Image                 `json:"images"`
	EnergyMix          *ocpi.EnergyMix              `json:"energy_mix"`
	DeactivatedAt      *time.Time                   `json:"deactivated_at"`
	ExternalUpdatedAt  *time.Time                   `json:"external_updated_at"`
}

func cpoLocationResource() *resource[db.CPOLocation, cpoLocationView, cpoLocationInput] {
	return &resource[db.CPOLocation, cpoLocationView, cpoLocationInput]{
		name: "cpo-evse-location", table: "cpo_location", family: "cpo", domainKey: "location_id",
		filters:   []string{"country_code", "party_id", "external_reference", "deactivated"},
		implicit:  []string{"time_zone", "publish"},
		immutable: []string{"location_id", "country_code", "party_id"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (db.CPOLocation, error) {
			return db.CPOLocationByID(ctx, q, k.Domain, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]db.CPOLocation, error) {
			deact, err := filterBool(a.Filters, "deactivated")
			if err != nil {
				return nil, err
			}
			return db.ListCPOLocations(ctx, q, gen.ListCPOLocationsParams{After: seek(a.After),
				CountryCode: upperPtr(filterString(a.Filters, "country_code")), PartyID: upperPtr(filterString(a.Filters, "party_id")),
				ExternalReference: filterString(a.Filters, "external_reference"), Deactivated: deact, PageLimit: a.Limit})
		},
		view: cpoLocationViewOf,
		build: func(w writeCtx, in cpoLocationInput, cur *db.CPOLocation) (db.CPOLocation, error) {
			var rec db.CPOLocation
			now := time.Now().UTC().Truncate(time.Microsecond) // Postgres precision: a reload reads the same value
			if cur != nil {
				rec = *cur
			} else {
				cc, pid, err := ownCPOParty(w, in.CountryCode, in.PartyID)
				if err != nil {
					return rec, err
				}
				rec.Location.ID, rec.Location.CountryCode, rec.Location.PartyID = in.LocationID, cc, pid
				rec.Location.Publish = true // mod_locations: publish is required; public unless said otherwise
			}
			l := &rec.Location
			if in.Publish != nil {
				l.Publish = *in.Publish
			}
			l.PublishAllowedTo, l.Name, l.Address, l.City = in.PublishAllowedTo, deref(in.Name), in.Address, in.City
			l.PostalCode, l.State, l.Country = deref(in.PostalCode), deref(in.State), in.Country
			l.Coordinates = ocpi.GeoLocation{}
			if in.Coordinates != nil {
				l.Coordinates = *in.Coordinates
			}
			l.RelatedLocations, l.ParkingType, l.Directions = in.RelatedLocations, deref(in.ParkingType), in.Directions
			l.Operator, l.Suboperator, l.Owner, l.Facilities = in.Operator, in.Suboperator, in.Owner, in.Facilities
			l.TimeZone, l.OpeningTimes, l.ChargingWhenClosed = in.TimeZone, in.OpeningTimes, in.ChargingWhenClosed
			l.Images, l.EnergyMix = in.Images, in.EnergyMix
			rec.ExternalReference, rec.DeactivatedAt = in.ExternalReference, utcPtr(in.DeactivatedAt)
			// A change of deactivation changes what the location publishes
			// (its EVSEs REMOVED), though deactivated_at is not an OCPI field.
			if cur == nil || ocpiChanged(cur.Location, rec.Location) || cur.Deactivated(now) != rec.Deactivated(now) {
				l.LastUpdated = ocpi.NewDateTime(now)
			}
			return rec, validateCPOLocation(rec, now)
		},
		save: db.SaveCPOLocation,
		meta: func(r *db.CPOLocation) meta {
			return meta{&r.ID, &r.ExternalReference, &r.ExternalUpdatedAt, &r.CreatedAt, &r.UpdatedAt}
		},
		scope: func(db.CPOLocation) *uuid.UUID { return nil },
		after: func(w writeCtx, prev *db.CPOLocation, rec db.CPOLocation) error {
			at := rec.Location.LastUpdated.Time
			if prev != nil && prev.Deactivated(at) != rec.Deactivated(at) {
				if err := db.TouchCPOEVSEsOfLocation(w.Ctx, w.Tx, rec.ID, at); err != nil {
					return err
				}
			}
			refs, err := db.EnqueueLocationPush(w.Ctx, w.Tx, prev, rec, time.Now())
			w.kick(refs)
			return err
		},
	}
}

func cpoLocationViewOf(r db.CPOLocation) cpoLocationView {
	l := r.Location
	return cpoLocationView{ID: r.ID, LocationID: l.ID, ExternalReference: r.ExternalReference, CountryCode: l.CountryCode,
		PartyID: l.PartyID, Publish: l.Publish, PublishAllowedTo: l.PublishAllowedTo, Name: strPtr(l.Name), Address: l.Address,
		City: l.City, PostalCode: strPtr(l.PostalCode), State: strPtr(l.State), Country: l.Country, Coordinates: l.Coordinates,
		RelatedLocations: l.RelatedLocations, ParkingType: strPtr(l.ParkingType), Directions: l.Directions, Operator: l.Operator,
		Suboperator: l.Suboperator, Owner: l.Owner, Facilities: l.Facilities, TimeZone: l.TimeZone, OpeningTimes: l.OpeningTimes,
		ChargingWhenClosed: l.ChargingWhenClosed, Images: l.Images, EnergyMix: l.EnergyMix, DeactivatedAt: utcPtr(r.DeactivatedAt),
		LastUpdated: l.LastUpdated.UTC(), ExternalUpdatedAt: utcPtr(r.ExternalUpdatedAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// validateCPOLocation applies the OCPI rules (field tags and Check) and the
// back-office ones.
func validateCPOLocation(r db.CPOLocation, now time.Time) error {
	var fs fault.Fields
	collect(&fs, ocpi.Problems(&r.Location, ""), "id", "location_id")
	collect(&fs, r.Location.Check(), "id", "location_id")
	if r.DeactivatedAt != nil && r.DeactivatedAt.After(now.Add(staleFuture)) {
		// A future deactivation would need a timer to publish it; the
		// client sends it when it happens.
		fs.Add("deactivated_at", "must not be in the future")
	}
	return fs.Err()
}

// collect adds the fields of a fault.KindInvalid error to fs, renaming the
// OCPI field from to the API's to; other errors (none expected) become a
// field on the body.
func collect(fs *fault.Fields, err error, from, to string) {
	if err == nil {
		return
	}
	f, ok := fault.As(err)
	if !ok {
		fs.Add("", "%v", err)
		return
	}
	for _, x := range f.Fields {
		if x.Path == from || strings.HasPrefix(x.Path, from+".") {
			x.Path = to + strings.TrimPrefix(x.Path, from)
		}
		*fs = append(*fs, x)
	}
}

// ocpiChanged reports whether the OCPI object differs (last_updated aside).
func ocpiChanged(a, b any) bool {
	fields, err := db.ChangedFields(a, b)
	return err != nil || len(fields) > 0
}

// ownCPOParty resolves the location's owner: the given country code and
// party id must be one of our CPO parties; without them the node's only
// CPO party is meant.
func ownCPOParty(w writeCtx, cc, pid *string) (string, string, error) {
	parties, err := db.AllOwnParties(w.Ctx, w.Tx)
	if err != nil {
		return "", "", err
	}
	var match []partner.OwnParty
	for _, p := range parties {
		if p.Role != partner.RoleCPO {
			continue
		}
		if (cc != nil && !strings.EqualFold(*cc, p.CountryCode)) || (pid != nil && !strings.EqualFold(*pid, p.PartyID)) {
			continue
		}
		match = append(match, p)
	}
	switch {
	case len(match) == 1:
		return match[0].CountryCode, match[0].PartyID, nil
	case len(match) == 0 && (cc != nil || pid != nil):
		return "", "", fault.Invalid("party_id", "country_code and party_id must name one of this node's own CPO parties (own-party)")
	case len(match) == 0:
		return "", "", fault.Invalid("party_id", "this node has no own CPO party yet: create one with POST /main/v1/own-party")
	}
	return "", "", fault.Invalid("party_id", "this node has several CPO parties: give country_code and party_id")
}

// kick asks the worker to send the recorded pushes once the write commits.
func (w writeCtx) kick(refs []roaming.PushRef) {
	if len(refs) == 0 || w.kicker == nil {
		return
	}
	k := w.kicker
	w.OnCommit(func() { k(context.WithoutCancel(w.Ctx), refs...) })
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func upperPtr(s *string) *string {
	if s == nil {
		return nil
	}
	u := strings.ToUpper(*s)
	return &u
}

// filterBool reads an optional true/false filter.
func filterBool(q url.Values, name string) (*bool, error) {
	v := q.Get(name)
	switch {
	case !q.Has(name):
		return nil, nil
	case v == "true" || v == "false":
		b := v == "true"
		return &b, nil
	}
	return nil, badRequest("invalid_parameter", "invalid query parameter", field(name, "must be true or false"))
}

// mountCPO registers our charge points and tariffs.
func (a *API) mountCPO(v1 fiber.Router) {
	cpoLocationResource().mount(a, v1)
	cpoEVSEResource().mount(a, v1)
	v1.Put("/cpo-evse/:key/dropout-all-chargesessions", a.handle("cpo", access.Write, putDropoutAll))
	cpoTariffResource().mount(a, v1)
	v1.Delete("/cpo-tariff/:key", a.handle("cpo", access.Write, deleteCPOTariff))
}
