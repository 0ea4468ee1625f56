package module

import (
	"context"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// Tariffs module, SENDER interface in the CPO role (mod_tariffs → Sender
// Interface): partners GET our tariffs, paginated and filtered on
// last_updated. Changes are pushed (PUT) to partners' receivers
// (db.EnqueueTariffPush, rendered by TariffsRenderer).

// maxOurTariffsPage is the X-Limit of our tariffs list.
const maxOurTariffsPage = 100

// listOurTariffs is GET /ocpi/2.2.1/cpo/tariffs: the addressed CPO party's
// tariffs, oldest last_updated first.
func (s *Server) listOurTariffs(c *fiber.Ctx) error {
	p, err := ocpi.ParsePage(c, maxOurTariffsPage)
	if err != nil {
		return err
	}
	own, err := s.ownParty(c, partner.RoleCPO)
	if err != nil {
		return err
	}
	ts, total, err := db.OCPITariffs(c.UserContext(), s.pool, own.CountryCode, own.PartyID, timeOf(p.DateFrom), timeOf(p.DateTo), p.Offset, p.Limit)
	if err != nil {
		return err
	}
	out := make([]ocpi.Tariff, len(ts))
	for i, t := range ts {
		out[i] = t.Tariff
	}
	return ocpi.WritePage(c, s.publicURL, p, total, out)
}

// TariffsRenderer renders pushes of our tariffs (object "CC/PID/TARIFF"):
// a PUT of the current tariff (mod_tariffs receiver: PUT, DELETE).
func TariffsRenderer(pool *pgxpool.Pool) roaming.Renderer {
	return func(ctx context.Context, item roaming.PushItem, _, _ string) (roaming.Request, error) {
		parts := strings.Split(item.Object, "/")
		if len(parts) != 3 {
			return roaming.Request{}, fmt.Errorf("tariffs push object %q", item.Object)
		}
		t, err := db.CPOTariffByID(ctx, pool, parts[2], "", false)
		if fault.Is(err, fault.KindNotFound) {
			return roaming.Request{Method: roaming.PushDelete, Path: item.Object}, nil
		}
		if err != nil {
			return roaming.Request{}, err
		}
		return roaming.Request{Method: roaming.PushPut, Path: item.Object, Body: t.Tariff}, nil
	}
}

// PushRenderers are the push renderers of the objects we own (our CPO
// locations, tariffs, sessions and CDRs, our eMSP tokens), by module id.
func PushRenderers(pool *pgxpool.Pool) map[string]roaming.Renderer {
	return map[string]roaming.Renderer{
		string(ocpi.ModuleLocations): LocationsRenderer(pool),
		string(ocpi.ModuleTariffs):   TariffsRenderer(pool),
		string(ocpi.ModuleTokens):    TokensRenderer(pool),
		string(ocpi.ModuleSessions):  SessionsRenderer(pool),
		string(ocpi.ModuleCDRs):      CDRsRenderer(pool),
	}
}
