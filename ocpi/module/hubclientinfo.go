package module

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
)

// Hub Client Info (mod_hub_client_info). As receiver we learn from a hub
// which parties are reachable through it; as sender we tell partners which
// parties this node hosts (our own parties, all CONNECTED).

// maxClientInfoPage is the X-Limit of the client info list.
const maxClientInfoPage = 100

func partyParams(c *fiber.Ctx) (partner.PartyRef, error) {
	ref := partner.PartyRef{CountryCode: strings.ToUpper(c.Params("country_code")), PartyID: strings.ToUpper(c.Params("party_id"))}
	if !ref.Valid() {
		return ref, ocpi.InvalidParam("country_code/party_id", "must be a 2-letter country code and a 3-character party id")
	}
	return ref, nil
}

// putClientInfo is PUT /ocpi/2.2.1/hubclientinfo/{country_code}/{party_id}
// (receiver): the hub pushes a new or changed ClientInfo.
func (s *Server) putClientInfo(c *fiber.Ctx) error {
	ref, err := partyParams(c)
	if err != nil {
		return err
	}
	var info ocpi.ClientInfo
	if err := ocpi.Decode(c.Body(), &info); err != nil {
		return err
	}
	if !ocpi.EqualCI(info.CountryCode, ref.CountryCode) || !ocpi.EqualCI(info.PartyID, ref.PartyID) {
		return ocpi.InvalidParam("party_id", "the object's country_code and party_id must match the URL")
	}
	err = db.UpsertHubClient(c.UserContext(), s.pool, callerOf(c).conn.ID, db.HubClient{Ref: ref, Role: partner.Role(info.Role),
		Status: string(info.Status), LastUpdated: info.LastUpdated.UTC()})
	if err != nil {
		return err
	}
	return ocpi.OK(c, nil)
}

// getClientInfo is GET /ocpi/2.2.1/hubclientinfo/{country_code}/{party_id}
// (receiver): the object as we stored it, for the hub's validation.
func (s *Server) getClientInfo(c *fiber.Ctx) error {
	ref, err := partyParams(c)
	if err != nil {
		return err
	}
	hs, err := db.HubClients(c.UserContext(), s.pool, ref)
	if err != nil {
		return err
	}
	if len(hs) == 0 {
		return ocpi.NotFound("no client info stored for " + ref.String())
	}
	h := hs[0]
	return ocpi.OK(c, ocpi.ClientInfo{PartyID: h.Ref.PartyID, CountryCode: h.Ref.CountryCode, Role: ocpi.Role(h.Role),
		Status: ocpi.ConnectionStatus(h.Status), LastUpdated: ocpi.NewDateTime(h.LastUpdated)})
}

// listClientInfo is GET /ocpi/2.2.1/hubclientinfo (sender): the parties we
// host, paginated and filtered on last_updated like every list.
func (s *Server) listClientInfo(c *fiber.Ctx) error {
	p, err := ocpi.ParsePage(c, maxClientInfoPage)
	if err != nil {
		return err
	}
	parties, err := db.AllOwnParties(c.UserContext(), s.pool)
	if err != nil {
		return err
	}
	var all []ocpi.ClientInfo
	for _, o := range parties {
		lu := ocpi.NewDateTime(o.UpdatedAt)
		if !p.Within(lu) {
			continue
		}
		all = append(all, ocpi.ClientInfo{PartyID: o.PartyID, CountryCode: o.CountryCode, Role: ocpi.Role(o.Role),
			Status: ocpi.ConnectionConnected, LastUpdated: lu})
	}
	total := len(all)
	lo := min(p.Offset, total)
	hi := min(lo+p.Limit, total)
	page := all[lo:hi]
	if page == nil {
		page = []ocpi.ClientInfo{}
	}
	return ocpi.WritePage(c, s.publicURL, p, total, page)
}
