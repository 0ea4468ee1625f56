package module

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
)

// ownParty picks which of our parties a request addresses
// (transport_and_format → Message Routing Headers): the OCPI-to-country-code
// and OCPI-to-party-id headers name it when present — through a hub, many
// parties share one connection — otherwise the request must be unambiguous:
// exactly one own party with the role.
func (s *Server) ownParty(c *fiber.Ctx, role partner.Role) (partner.OwnParty, error) {
	r, err := ocpi.RoutingFrom(c)
	if err != nil {
		return partner.OwnParty{}, err
	}
	parties, err := db.AllOwnParties(c.UserContext(), s.pool)
	if err != nil {
		return partner.OwnParty{}, err
	}
	return pickOwnParty(parties, role, r)
}

// pickOwnParty is ownParty's rule on a given list of parties.
func pickOwnParty(parties []partner.OwnParty, role partner.Role, r ocpi.Routing) (partner.OwnParty, error) {
	var match []partner.OwnParty
	for _, p := range parties {
		if p.Role != role {
			continue
		}
		if r.HasTo() && (!strings.EqualFold(p.CountryCode, r.ToCountry) || !strings.EqualFold(p.PartyID, r.ToParty)) {
			continue
		}
		match = append(match, p)
	}
	switch {
	case len(match) == 1:
		return match[0], nil
	case len(match) == 0 && r.HasTo():
		return partner.OwnParty{}, ocpi.Fail(fiber.StatusOK, 4001, "unknown receiver "+r.ToCountry+"-"+r.ToParty+" (no such "+string(role)+" on this node)")
	case len(match) == 0:
		return partner.OwnParty{}, ocpi.Fail(fiber.StatusOK, ocpi.StatusServerError, "this node has no "+string(role)+" party")
	}
	return partner.OwnParty{}, ocpi.InvalidParam("OCPI-to-party-id", "this node hosts several "+string(role)+" parties: set OCPI-to-country-code and OCPI-to-party-id")
}
