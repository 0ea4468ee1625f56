package adminapi

import (
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/fault"
)

// msp-token-authorization: the real-time authorizations we answered
// (POST /ocpi/2.2.1/emsp/tokens/{uid}/authorize), each under the
// authorization_reference we gave the CPO, matched to the CDRs (MSP charge
// sessions) and session reports (msp-charge-session-progress) that carry
// that reference (db.TokenAuthorizationView). An operator answering "why
// was this charge allowed?" starts from a session's authorization_reference
// (also a filter of the charge-session lists). Read-only, in the token
// permission family, scoped by the token's administration.

// mountTokenAuthorizations registers the route.
func (a *API) mountTokenAuthorizations(v1 fiber.Router) {
	v1.Get("/msp-token-authorization/:key", a.handle(tokenFamily, access.Read, getTokenAuthorization))
}

// getTokenAuthorization is GET /msp-token-authorization/{reference}. A
// reference that is not one of ours (not a UUID: CPOs set their own when
// they authorized without us) is a 400 not_found, as an unknown one is.
func getTokenAuthorization(c *fiber.Ctx, rq *request) error {
	ref := c.Params("key")
	id, err := uuid.Parse(ref)
	if err != nil {
		return fault.NotFound("not_found", "authorization %s does not exist: references we give are UUIDs", ref)
	}
	v, err := db.TokenAuthorization(c.UserContext(), rq.api.pool, id)
	if err != nil {
		return err
	}
	if !seesAdmin(rq.account, &v.AdministrationID) {
		return forbidden("the API account has no access to the administration of this token")
	}
	return c.JSON(v)
}
