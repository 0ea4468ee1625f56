package module

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/network"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
)

// Locations module, Receiver interface (we are the eMSP; mod_locations →
// Receiver Interface): partners push their Locations, EVSEs and Connectors
// with PUT and PATCH and may GET them back for validation. Objects are
// Client Owned (transport_and_format → Client Owned Object Push): the
// country_code/party_id of the URL must be one of the pushing connection's
// CPO parties and match the object. Every write follows the last_updated
// ordering of domain/network: an update older than the stored object is
// answered with success and not applied.

// mountEMSP registers the eMSP receivers of partners' locations and tariffs.
func (s *Server) mountEMSP(g fiber.Router) {
	loc := "/2.2.1/emsp/locations/:country_code/:party_id/:location_id"
	for _, p := range []string{loc, loc + "/:evse_uid", loc + "/:evse_uid/:connector_id"} {
		g.Get(p, s.modules(), s.getPartnerLocation)
		g.Put(p, s.modules(), s.putPartnerLocation)
		g.Patch(p, s.modules(), s.patchPartnerLocation)
	}
	tariff := "/2.2.1/emsp/tariffs/:country_code/:party_id/:tariff_id"
	g.Get(tariff, s.modules(), s.getPartnerTariff)
	g.Put(tariff, s.modules(), s.putPartnerTariff)
	g.Delete(tariff, s.modules(), s.deletePartnerTariff)
}

// objectRef is the URL of a pushed object: the owning party and the ids.
type objectRef struct {
	party     partner.PartyRef
	location  string
	evse      string // "" for a Location
	connector string // "" for a Location or an EVSE
}

func (r objectRef) String() string {
	s := r.party.String() + "/" + r.location
	if r.evse != "" {
		s += "/" + r.evse
	}
	if r.connector != "" {
		s += "/" + r.connector
	}
	return s
}

// idParam reads an OCPI id from the path: a CiString(36) (mod_locations,
// Request Parameters), percent-decoded and copied out of Fiber's buffer.
func idParam(c *fiber.Ctx, name string) (string, error) {
	raw := c.Params(name)
	if raw == "" {
		return "", nil
	}
	v, err := url.PathUnescape(raw)
	if err != nil || len(v) > 36 || !ocpi.IsCiString(v) || strings.TrimSpace(v) == "" {
		return "", ocpi.InvalidParam(name, "must be a CiString of 1 to 36 printable ASCII characters")
	}
	return strings.Clone(v), nil
}

// ownedParty checks that the URL's party belongs to the calling connection
// with role CPO (transport_and_format → Client Owned Object Push, Errors).
// Reads of another party's objects are 404, as that section allows; a
// write is refused with 2001 naming the party, since the official
// interface of PUT has no 404.
func (s *Server) ownedParty(c *fiber.Ctx, write bool) (partner.PartyRef, error) {
	ref, err := partyParams(c)
	if err != nil {
		return ref, err
	}
	ok, err := db.PartyOfConnection(c.UserContext(), s.pool, callerOf(c).conn.ID, ref.CountryCode, ref.PartyID, string(partner.RoleCPO))
	if err != nil {
		return ref, err
	}
	if !ok {
		msg := ref.String() + " is not a CPO party of this connection"
		if write {
			return ref, ocpi.InvalidParam("country_code/party_id", msg)
		}
		return ref, ocpi.NotFound(msg)
	}
	return ref, nil
}

func (s *Server) locationRef(c *fiber.Ctx, write bool) (objectRef, error) {
	var r objectRef
	var err error
	if r.party, err = s.ownedParty(c, write); err != nil {
		return r, err
	}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"location_id", &r.location}, {"evse_uid", &r.evse}, {"connector_id", &r.connector}} {
		if *p.dst, err = idParam(c, p.name); err != nil {
			return r, err
		}
	}
	return r, nil
}

// getPartnerLocation is GET (Receiver): the Location, EVSE or Connector as
// we store it, so the CPO can validate it (mod_locations, Receiver GET).
func (s *Server) getPartnerLocation(c *fiber.Ctx) error {
	r, err := s.locationRef(c, false)
	if err != nil {
		return err
	}
	stored, err := db.PartnerLocationByKey(c.UserContext(), s.pool, r.party.CountryCode, r.party.PartyID, r.location, false)
	if err != nil {
		return err
	}
	loc, err := ocpi.LocationFromNetwork(stored.Location)
	if err != nil {
		return err
	}
	if r.evse == "" {
		return ocpi.OK(c, loc)
	}
	evse, ok := findEVSE(loc.EVSEs, r.evse)
	if !ok {
		return ocpi.NotFound("no EVSE " + r.String())
	}
	if r.connector == "" {
		return ocpi.OK(c, evse)
	}
	conn, _, ok := evse.Connector(r.connector)
	if !ok {
		return ocpi.NotFound("no connector " + r.String())
	}
	return ocpi.OK(c, conn)
}

func findEVSE(evses []ocpi.EVSE, uid string) (ocpi.EVSE, bool) {
	for _, e := range evses {
		if network.Key(e.UID) == network.Key(uid) {
			return e, true
		}
	}
	return ocpi.EVSE{}, false
}

// outcome is what a write did: created a new object, was not applied
// because the stored object (what) is newer (stored), or replaced it.
type outcome struct {
	created bool
	what    string
	stored  *time.Time
}

// respond answers a write: 201 for a new object (status_codes: "201 -
// Created when the object has been newly created"), a success with a
// message when ordering kept the stored object (the sender cannot do
// better with an error), else 200.
func respond(c *fiber.Ctx, o outcome) error {
	switch {
	case o.stored != nil:
		return c.Status(fiber.StatusOK).JSON(ocpi.Response{StatusCode: ocpi.StatusSuccess, Timestamp: ocpi.NewDateTime(time.Now()),
			StatusMessage: "not applied: the stored " + o.what + " is newer (last_updated " + ocpi.NewDateTime(*o.stored).String() + ")"})
	case o.created:
		return ocpi.Respond(c, fiber.StatusCreated, nil)
	}
	return ocpi.OK(c, nil)
}

// matchID refuses an object whose id differs from its URL
// (transport_and_format → Client Owned Object Push, Errors: 2001).
func matchID(field, inBody, inURL string) error {
	if network.Key(inBody) != network.Key(inURL) {
		return ocpi.InvalidParam(field, "must match the URL ("+inURL+")")
	}
	return nil
}

// putPartnerLocation is PUT (Receiver) of a Location, an EVSE or a
// Connector: a new object or a replacement (mod_locations, PUT).
func (s *Server) putPartnerLocation(c *fiber.Ctx) error {
	r, err := s.locationRef(c, true)
	if err != nil {
		return err
	}
	var o outcome
	switch {
	case r.evse == "":
		l, err := ocpi.DecodeLocation(c.Body())
		if err != nil {
			return err
		}
		if err := sameLocation(l, r); err != nil {
			return err
		}
		o, err = s.changeLocation(c, r, true, func(*ocpi.Location) (ocpi.Location, error) { return l, nil })
		if err != nil {
			return err
		}
	case r.connector == "":
		e, err := ocpi.DecodeEVSE(c.Body())
		if err != nil {
			return err
		}
		if err := matchID("uid", e.UID, r.evse); err != nil {
			return err
		}
		if o, err = s.changeEVSE(c, r, true, func(*ocpi.EVSE) (ocpi.EVSE, error) { return e, nil }); err != nil {
			return err
		}
	default:
		cn, err := ocpi.DecodeConnector(c.Body())
		if err != nil {
			return err
		}
		if err := matchID("id", cn.ID, r.connector); err != nil {
			return err
		}
		if o, err = s.changeConnector(c, r, true, func(*ocpi.Connector) (ocpi.Connector, error) { return cn, nil }); err != nil {
			return err
		}
	}
	return respond(c, o)
}

// sameLocation refuses a Location whose party or id differs from its URL.
func sameLocation(l ocpi.Location, r objectRef) error {
	if !ocpi.EqualCI(l.CountryCode, r.party.CountryCode) || !ocpi.EqualCI(l.PartyID, r.party.PartyID) {
		return ocpi.InvalidParam("country_code/party_id", "must match the URL ("+r.party.String()+")")
	}
	return matchID("id", l.ID, r.location)
}

// changeLocation applies change to the stored location of r (nil when
// new) under the location's row lock and stores the result, with its
// EVSEs, when it is at least as recent as the stored location.
func (s *Server) changeLocation(c *fiber.Ctx, r objectRef, put bool, change func(cur *ocpi.Location) (ocpi.Location, error)) (outcome, error) {
	ctx := c.UserContext()
	connID := callerOf(c).conn.ID
	o := outcome{what: "location"}
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var cur *ocpi.Location
		stored, err := db.PartnerLocationByKey(ctx, tx, r.party.CountryCode, r.party.PartyID, r.location, true)
		switch {
		case fault.Is(err, fault.KindNotFound):
			if !put {
				return ocpi.NotFound("no location " + r.String())
			}
		case err != nil:
			return err
		default:
			w, err := ocpi.LocationFromNetwork(stored.Location)
			if err != nil {
				return err
			}
			cur = &w
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		if cur != nil && !network.Accepts(cur.LastUpdated.Time, next.LastUpdated.Time) {
			t := cur.LastUpdated.Time
			o.stored = &t
			return nil
		}
		o.created = cur == nil
		n, err := next.ToNetwork()
		if err != nil {
			return err
		}
		_, err = db.SavePartnerLocations(ctx, tx, &connID, []network.Location{n}, time.Now().UTC())
		return err
	})
	return o, err
}

// changeEVSE applies change to the EVSE of r (nil when new) under the
// location's row lock and stores the result when it is at least as recent
// as the stored EVSE; the location's last_updated follows. A missing
// location is 2003 Unknown Location for a PUT (there is nothing to add the
// EVSE to) and 404 for a PATCH (the object does not exist).
func (s *Server) changeEVSE(c *fiber.Ctx, r objectRef, put bool, change func(cur *ocpi.EVSE) (ocpi.EVSE, error)) (outcome, error) {
	ctx := c.UserContext()
	connID := callerOf(c).conn.ID
	o := outcome{what: "EVSE"}
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		loc, err := db.PartnerLocationByKey(ctx, tx, r.party.CountryCode, r.party.PartyID, r.location, true)
		if fault.Is(err, fault.KindNotFound) {
			if put {
				return ocpi.UnknownLocation("unknown location " + r.party.String() + "/" + r.location + ": push the Location first")
			}
			return ocpi.NotFound("no location " + r.party.String() + "/" + r.location)
		}
		if err != nil {
			return err
		}
		var cur *ocpi.EVSE
		for _, e := range loc.EVSEs {
			if network.Key(e.UID) == network.Key(r.evse) {
				w, err := ocpi.EVSEFromNetwork(e)
				if err != nil {
					return err
				}
				cur = &w
			}
		}
		if cur == nil && !put {
			return ocpi.NotFound("no EVSE " + r.String())
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		if cur != nil && !network.Accepts(cur.LastUpdated.Time, next.LastUpdated.Time) {
			t := cur.LastUpdated.Time
			o.stored = &t
			return nil
		}
		o.created = cur == nil
		n, err := next.ToNetwork()
		if err != nil {
			return err
		}
		return db.SavePartnerEVSE(ctx, tx, loc, n, &connID, time.Now().UTC())
	})
	return o, err
}

// changeConnector applies change to the Connector of r (nil when new)
// inside its EVSE when it is at least as recent as the stored connector;
// the EVSE's and the location's last_updated follow. A connector of an
// unknown EVSE is 2003 for a PUT, 404 for a PATCH.
func (s *Server) changeConnector(c *fiber.Ctx, r objectRef, put bool, change func(cur *ocpi.Connector) (ocpi.Connector, error)) (outcome, error) {
	o := outcome{what: "connector"}
	_, err := s.changeEVSE(c, r, false, func(cur *ocpi.EVSE) (ocpi.EVSE, error) {
		old, i, ok := cur.Connector(r.connector)
		if !ok && !put {
			return ocpi.EVSE{}, ocpi.NotFound("no connector " + r.String())
		}
		var prev *ocpi.Connector
		if ok {
			prev = &old
		}
		next, err := change(prev)
		if err != nil {
			return ocpi.EVSE{}, err
		}
		if ok && !network.Accepts(old.LastUpdated.Time, next.LastUpdated.Time) {
			t := old.LastUpdated.Time
			o.stored = &t
			return ocpi.EVSE{}, errKeep
		}
		e := *cur
		e.Connectors = append([]ocpi.Connector(nil), cur.Connectors...)
		if ok {
			e.Connectors[i] = next
		} else {
			e.Connectors = append(e.Connectors, next)
			o.created = true
		}
		e.LastUpdated = ocpi.NewDateTime(network.Later(e.LastUpdated.Time, next.LastUpdated.Time))
		return e, nil
	})
	if errors.Is(err, errKeep) {
		return o, nil
	}
	if f, ok := err.(*ocpi.Error); ok && put && f.HTTP == fiber.StatusNotFound {
		// PUT of a connector of an unknown location or EVSE: there is
		// nothing to add it to.
		return o, ocpi.UnknownLocation("unknown EVSE " + r.party.String() + "/" + r.location + "/" + r.evse + ": push the Location or EVSE first")
	}
	return o, err
}

// errKeep unwinds (rolls back) a connector write that ordering refused.
var errKeep = errors.New("module: stored connector is newer")

// patchPartnerLocation is PATCH (Receiver): only the fields present change
// (mod_locations, PATCH), last_updated is required, and the merged object
// is validated as a whole; a Location PATCH may list EVSEs (by uid) and an
// EVSE PATCH Connectors (by id), which replace or add those objects only.
func (s *Server) patchPartnerLocation(c *fiber.Ctx) error {
	r, err := s.locationRef(c, true)
	if err != nil {
		return err
	}
	body := c.Body()
	var o outcome
	switch {
	case r.evse == "":
		o, err = s.changeLocation(c, r, false, func(cur *ocpi.Location) (ocpi.Location, error) {
			return mergeInto(cur, body, "evses", "uid", ocpi.DecodeLocation, func(l ocpi.Location) error { return sameLocation(l, r) })
		})
	case r.connector == "":
		o, err = s.changeEVSE(c, r, false, func(cur *ocpi.EVSE) (ocpi.EVSE, error) {
			return mergeInto(cur, body, "connectors", "id", ocpi.DecodeEVSE, func(e ocpi.EVSE) error { return matchID("uid", e.UID, r.evse) })
		})
	default:
		o, err = s.changeConnector(c, r, false, func(cur *ocpi.Connector) (ocpi.Connector, error) {
			return mergeInto(cur, body, "", "", ocpi.DecodeConnector, func(cn ocpi.Connector) error { return matchID("id", cn.ID, r.connector) })
		})
	}
	if err != nil {
		return err
	}
	return respond(c, o)
}

// mergeInto merges a PATCH body into the stored object and decodes and
// validates the result as a whole object.
func mergeInto[T any](cur *T, patch []byte, listKey, idKey string, decode func([]byte) (T, error), same func(T) error) (T, error) {
	var zero T
	stored, err := json.Marshal(cur)
	if err != nil {
		return zero, err
	}
	merged, err := ocpi.MergePatch(stored, patch, listKey, idKey)
	if err != nil {
		return zero, err
	}
	v, err := decode(merged)
	if err != nil {
		return zero, err
	}
	return v, same(v)
}
