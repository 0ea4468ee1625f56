package module

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/authrule"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/domain/token"
	"github.com/roamnode/roamnode/ocpi"
)

// ruling is what the charge authorization rules (domain/authrule) decided
// in one real-time authorization: the hook token.StateWith calls once the
// token's link and subscription are valid (so BLOCKED/EXPIRED of the
// validity rule come first), and what it found.
type ruling struct {
	out authrule.Outcome
	err error
}

// chargeRules returns the rules hook of a real-time authorization, or nil
// when the token's administration has no rules: the rule set comes from
// the node-local cache at the version the token lookup read
// (db.AuthorizationRules), so an administration without rules costs no
// statement. The CPO is the request's OCPI-from party, else the asking
// connection's only CPO role. The partner location's time zone and the
// subscription's credit are read only when a rule needs them.
func (e *emspTokens) chargeRules(c *fiber.Ctx, t token.Issued, version int64, r ocpi.Routing, loc *ocpi.LocationReferences, res *ruling) (token.Rules, error) {
	set, err := e.rules.At(c.UserContext(), version)
	if err != nil {
		return nil, err
	}
	rules := set.For(t.AdministrationID)
	if len(rules) == 0 {
		return nil, nil
	}
	ctx := context.WithoutCancel(c.UserContext())
	req := authrule.Request{}
	if r.HasFrom() {
		req.CountryCode, req.PartyID = strings.ToUpper(r.FromCountry), strings.ToUpper(r.FromParty)
	} else if cl, ok := c.Locals(callerKey{}).(caller); ok {
		req.CountryCode, req.PartyID = onlyCPO(cl.conn)
	}
	if loc != nil {
		req.LocationID, req.EVSEUIDs = loc.LocationID, loc.EVSEUIDs
		req.TimeZone = func() (string, error) {
			return db.PartnerLocationTimeZone(ctx, e.s.pool, req.CountryCode, req.PartyID, loc.LocationID)
		}
	}
	return func(at time.Time, link token.Link) token.Decision {
		req.At = at
		req.HasCredit = func(sub uuid.UUID) (bool, error) { return db.HasChargeCredit(ctx, e.s.pool, sub, at) }
		res.out, res.err = authrule.Decide(rules, link.Subscription, req)
		return res.out.Decision
	}, nil
}

// onlyCPO is the party of a connection's only CPO role ("" when it has
// none or several, as a hub does: then only the routing headers say).
func onlyCPO(conn partner.Connection) (country, party string) {
	n := 0
	for _, role := range conn.TheirRoles {
		if role.Role == partner.RoleCPO {
			country, party = strings.ToUpper(role.CountryCode), strings.ToUpper(role.PartyID)
			n++
		}
	}
	if n != 1 {
		return "", ""
	}
	return country, party
}
