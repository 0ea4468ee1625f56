package module

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/location"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// Locations module, SENDER interface in the CPO role (mod_locations → Sender
// Interface): partners GET our locations (paginated, filtered on
// last_updated) or one location, EVSE or connector. Changes are also pushed
// to partners' receivers (db.EnqueueLocationPush, rendered by
// LocationsRenderer).

// maxOurLocationsPage is the X-Limit of our locations list.
const maxOurLocationsPage = 100

// mountCPO registers our CPO senders (locations, tariffs).
func (s *Server) mountCPO(g fiber.Router) {
	g.Get("/2.2.1/cpo/locations", s.modules(), s.listOurLocations)
	g.Get("/2.2.1/cpo/locations/:location_id", s.modules(), s.getOurLocation)
	g.Get("/2.2.1/cpo/locations/:location_id/:evse_uid", s.modules(), s.getOurLocation)
	g.Get("/2.2.1/cpo/locations/:location_id/:evse_uid/:connector_id", s.modules(), s.getOurLocation)
	g.Get("/2.2.1/cpo/tariffs", s.modules(), s.listOurTariffs)
}

// listOurLocations is GET /ocpi/2.2.1/cpo/locations: the addressed CPO
// party's locations, oldest last_updated first.
func (s *Server) listOurLocations(c *fiber.Ctx) error {
	p, err := ocpi.ParsePage(c, maxOurLocationsPage)
	if err != nil {
		return err
	}
	own, err := s.ownParty(c, partner.RoleCPO)
	if err != nil {
		return err
	}
	locs, evses, total, err := db.OCPILocations(c.UserContext(), s.pool, own.CountryCode, own.PartyID, timeOf(p.DateFrom), timeOf(p.DateTo), p.Offset, p.Limit)
	if err != nil {
		return err
	}
	now := time.Now()
	out := make([]ocpi.Location, len(locs))
	for i, l := range locs {
		out[i] = l.OCPI(evses[i], now)
	}
	return ocpi.WritePage(c, s.publicURL, p, total, out)
}

func timeOf(d *ocpi.DateTime) *time.Time {
	if d == nil {
		return nil
	}
	t := d.Time
	return &t
}

// getOurLocation is GET /ocpi/2.2.1/cpo/locations/{location_id}[/{evse_uid}[/{connector_id}]].
// Identifiers compare case-insensitively (CiString); an unknown one is
// 2003 Unknown Location.
func (s *Server) getOurLocation(c *fiber.Ctx) error {
	own, err := s.ownParty(c, partner.RoleCPO)
	if err != nil {
		return err
	}
	var ids [3]string
	for i, name := range []string{"location_id", "evse_uid", "connector_id"} {
		v, err := ourIDParam(c, name)
		if err != nil {
			return err
		}
		ids[i] = v
	}
	ctx := c.UserContext()
	loc, err := db.CPOLocationByID(ctx, s.pool, ids[0], "", false)
	if fault.Is(err, fault.KindNotFound) || (err == nil && (loc.Location.CountryCode != own.CountryCode || loc.Location.PartyID != own.PartyID)) {
		return ocpi.UnknownLocation("unknown location " + ids[0])
	}
	if err != nil {
		return err
	}
	evses, err := db.EVSEsOfLocations(ctx, s.pool, []uuid.UUID{loc.ID})
	if err != nil {
		return err
	}
	full := loc.OCPI(evses, time.Now())
	if ids[1] == "" {
		return ocpi.OK(c, full)
	}
	for _, e := range full.EVSEs {
		if !location.EqualID(e.UID, ids[1]) {
			continue
		}
		if ids[2] == "" {
			return ocpi.OK(c, e)
		}
		for _, k := range e.Connectors {
			if location.EqualID(k.ID, ids[2]) {
				return ocpi.OK(c, k)
			}
		}
		return ocpi.UnknownLocation(fmt.Sprintf("unknown connector %s of EVSE %s at location %s", ids[2], ids[1], ids[0]))
	}
	return ocpi.UnknownLocation(fmt.Sprintf("unknown EVSE %s at location %s", ids[1], ids[0]))
}

// ourIDParam reads an optional CiString(36) path parameter.
func ourIDParam(c *fiber.Ctx, name string) (string, error) {
	v := strings.Clone(c.Params(name))
	if v == "" {
		return "", nil
	}
	if len(v) > 36 || !ocpi.IsCiString(v) {
		return "", ocpi.InvalidParam(name, "must be at most 36 printable ASCII characters (CiString(36))")
	}
	return v, nil
}

// LocationsRenderer renders pushes of our locations module (see
// db.EnqueueLocationPush): object "CC/PID/LOC" is a Location, object
// "CC/PID/LOC/EVSE" an EVSE, sent with the current state: a PUT of the
// whole object, or a PATCH of the changed fields plus last_updated
// (mod_locations → PATCH: "Any request to the PATCH method SHALL contain
// the last_updated field").
func LocationsRenderer(pool *pgxpool.Pool) roaming.Renderer {
	return func(ctx context.Context, item roaming.PushItem, _, _ string) (roaming.Request, error) {
		parts := strings.Split(item.Object, "/")
		if len(parts) != 3 && len(parts) != 4 {
			return roaming.Request{}, fmt.Errorf("locations push object %q", item.Object)
		}
		loc, err := db.CPOLocationByID(ctx, pool, parts[2], "", false)
		if err != nil {
			return roaming.Request{}, err
		}
		evses, err := db.EVSEsOfLocations(ctx, pool, []uuid.UUID{loc.ID})
		if err != nil {
			return roaming.Request{}, err
		}
		full := loc.OCPI(evses, time.Now())
		var obj any = full
		if len(parts) == 4 {
			found := false
			for _, e := range full.EVSEs {
				if location.EqualID(e.UID, parts[3]) {
					obj, found = e, true
				}
			}
			if !found {
				return roaming.Request{Skip: true}, nil
			}
		}
		if item.Method != roaming.PushPatch {
			return roaming.Request{Method: item.Method, Path: item.Object, Body: obj}, nil
		}
		body, err := pick(obj, append(item.Fields, "last_updated"))
		return roaming.Request{Method: item.Method, Path: item.Object, Body: body}, err
	}
}

// pick returns the named top-level fields of v's JSON form (a PATCH body).
func pick(v any, fields []string) (map[string]json.RawMessage, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(fields))
	for _, f := range fields {
		if v, ok := all[f]; ok {
			out[f] = v
		}
	}
	return out, nil
}
