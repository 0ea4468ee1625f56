package module

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/network"
	"github.com/roamnode/roamnode/ocpi"
)

// Tariffs module, Receiver interface (we are the eMSP; mod_tariffs →
// Receiver Interface): partners push their Tariffs (PUT), delete them
// (DELETE) and may GET them back. Client Owned Objects with the same party
// rules and last_updated ordering as Locations.

func (s *Server) tariffRef(c *fiber.Ctx, write bool) (objectRef, error) {
	var r objectRef
	var err error
	if r.party, err = s.ownedParty(c, write); err != nil {
		return r, err
	}
	r.location, err = idParam(c, "tariff_id")
	return r, err
}

// getPartnerTariff is GET (Receiver): the Tariff as we store it.
func (s *Server) getPartnerTariff(c *fiber.Ctx) error {
	r, err := s.tariffRef(c, false)
	if err != nil {
		return err
	}
	t, err := db.PartnerTariffByKey(c.UserContext(), s.pool, r.party.CountryCode, r.party.PartyID, r.location)
	if err != nil {
		return err
	}
	w, err := ocpi.TariffFromNetwork(t.Tariff)
	if err != nil {
		return err
	}
	return ocpi.OK(c, w)
}

// putPartnerTariff is PUT (Receiver): a new or replaced Tariff, applied
// when at least as recent as the stored one.
func (s *Server) putPartnerTariff(c *fiber.Ctx) error {
	r, err := s.tariffRef(c, true)
	if err != nil {
		return err
	}
	t, err := ocpi.DecodeTariff(c.Body())
	if err != nil {
		return err
	}
	if !ocpi.EqualCI(t.CountryCode, r.party.CountryCode) || !ocpi.EqualCI(t.PartyID, r.party.PartyID) {
		return ocpi.InvalidParam("country_code/party_id", "must match the URL ("+r.party.String()+")")
	}
	if err := matchID("id", t.ID, r.location); err != nil {
		return err
	}
	n, err := t.ToNetwork()
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	o := outcome{what: "tariff"}
	cur, err := db.PartnerTariffByKey(ctx, s.pool, r.party.CountryCode, r.party.PartyID, r.location)
	switch {
	case fault.Is(err, fault.KindNotFound):
		o.created = true
	case err != nil:
		return err
	}
	connID := callerOf(c).conn.ID
	// The upsert applies the ordering itself (a concurrent newer push wins).
	applied, err := db.SavePartnerTariffs(ctx, s.pool, &connID, []network.Tariff{n}, time.Now().UTC())
	if err != nil {
		return err
	}
	if applied == 0 {
		o.created = false
		if cur, err = db.PartnerTariffByKey(ctx, s.pool, r.party.CountryCode, r.party.PartyID, r.location); err != nil {
			return err
		}
		o.stored = &cur.LastUpdated
	}
	return respond(c, o)
}

// deletePartnerTariff is DELETE (Receiver): the Tariff is no longer used
// (mod_tariffs, DELETE). An unknown tariff is 404.
func (s *Server) deletePartnerTariff(c *fiber.Ctx) error {
	r, err := s.tariffRef(c, true)
	if err != nil {
		return err
	}
	ok, err := db.DeletePartnerTariff(c.UserContext(), s.pool, r.party.CountryCode, r.party.PartyID, r.location)
	if err != nil {
		return err
	}
	if !ok {
		return ocpi.NotFound("no tariff " + r.party.String() + "/" + r.location)
	}
	return ocpi.OK(c, nil)
}
