package module

import (
	"context"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// CDRs module, SENDER interface in the CPO role (mod_cdrs → Sender
// Interface): partners GET the CDRs of sessions at our charge points that
// their drivers' tokens started, paginated and filtered on last_updated. A
// CDR is published once its session is priced (its total_cost is the
// roaming cost, db.PublishCPOCDR) and POSTed to the eMSP that owns the
// token (rendered by CDRsRenderer); a CDR whose eMSP has no CDRs receiver
// with us waits here to be pulled. A repricing that changes the roaming
// cost publishes a credit CDR and a replacement CDR (mod_cdrs → Credit
// CDRs); the sender lists them all.

// listOurCDRs is GET /ocpi/2.2.1/cpo/cdrs: the caller's published CDRs of
// the addressed party, oldest first (mod_cdrs → Sender GET).
func (s *Server) listOurCDRs(c *fiber.Ctx) error {
	p, err := ocpi.ParsePage(c, maxOurSessionsPage)
	if err != nil {
		return err
	}
	own, parties, err := s.callerScope(c)
	if err != nil {
		return err
	}
	out, total, err := db.OCPICDRs(c.UserContext(), s.pool, own, parties, timeOf(p.DateFrom), timeOf(p.DateTo), p.Offset, p.Limit)
	if err != nil {
		return err
	}
	return ocpi.WritePage(c, s.publicURL, p, total, out)
}

// CDRsRenderer renders pushes of our CDRs (object "CC/PID/CDR_ID",
// db.CDRPushObject): a POST of the CDR as published to the receiver's
// endpoint (mod_cdrs → Receiver POST) — a first CDR, or a credit or
// replacement CDR that corrects it after a repricing (db.PublishedCDR). A
// published CDR never changes, so a resend after a lost answer sends the
// same CDR (the receiver answers a duplicate idempotently).
func CDRsRenderer(pool *pgxpool.Pool) roaming.Renderer {
	return func(ctx context.Context, item roaming.PushItem, _, _ string) (roaming.Request, error) {
		parts := strings.SplitN(item.Object, "/", 3)
		if len(parts) != 3 {
			return roaming.Request{}, fmt.Errorf("cdrs push object %q", item.Object)
		}
		doc, found, err := db.PublishedCDR(ctx, pool, parts[2])
		if err != nil {
			return roaming.Request{}, err
		}
		if !found {
			return roaming.Request{Skip: true}, nil
		}
		return roaming.Request{Method: roaming.PushPost, Body: doc}, nil
	}
}
