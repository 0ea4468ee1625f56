package module

import (
	"bytes"
	"net/url"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/token"
	"github.com/roamnode/roamnode/ocpi"
)

// The Tokens module as eMSP, Sender interface (mod_tokens → "Sender
// Interface"): CPOs list our tokens (GET, paginated, date filters) and ask
// for real-time authorization (POST {uid}/authorize). Tokens come from the
// MSP token model (Admin API msp-token…); valid is the validity rule at the
// moment of the request, whitelist the token's configuration
// (domain/token). Neither path touches Redis: a node whose Redis is down
// keeps listing and authorizing.

// maxTokensPage is the X-Limit of the Tokens sender list.
const maxTokensPage = 1000

// emspTokens serves the Tokens sender.
type emspTokens struct {
	s      *Server
	authz  *db.AuthorizationLog
	lookup *db.TokenLookup
	// rules is the node-local charge authorization rule set (chargeRules).
	rules *db.AuthorizationRules
}

// mountEMSPTokens registers the Tokens sender routes. Real-time
// authorization's batched statements run on a small pool of their own
// whose connections plan them generically (db.GenericPlanPool): one
// connection per batch in flight (two lookups, two inserts), closed when
// the app shuts down.
func (s *Server) mountEMSPTokens(app *fiber.App, g fiber.Router) {
	hot, err := db.GenericPlanPool(s.pool, 4)
	if err != nil {
		// Only an invalid copy of a valid configuration gets here; the
		// shared pool answers the same, planning each execution.
		s.log.Error("authorization pool not created, using the shared pool", "err", err)
		hot = s.pool
	} else {
		app.Hooks().OnShutdown(func() error { hot.Close(); return nil })
	}
	t := &emspTokens{s: s, authz: db.NewAuthorizationLog(hot), lookup: db.NewTokenLookup(hot), rules: db.NewAuthorizationRules(s.pool)}
	g.Get("/2.2.1/emsp/tokens", s.modules(), t.list)
	g.Post("/2.2.1/emsp/tokens/:token_uid/authorize", s.modules(), t.authorize)
}

// ownerFilter returns the eMSP party a request addresses (OCPI-to-*
// routing headers), upper case, or "" when it addresses none in
// particular (peer-to-peer without routing headers).
func ownerFilter(c *fiber.Ctx) (country, party string, err error) {
	r, err := ocpi.RoutingFrom(c)
	if err != nil || !r.HasTo() {
		return "", "", err
	}
	return strings.ToUpper(r.ToCountry), strings.ToUpper(r.ToParty), nil
}

// list is GET /ocpi/2.2.1/emsp/tokens (mod_tokens → Sender "GET Method"):
// our tokens whose last_updated is in [date_from, date_to), oldest first,
// paginated. last_updated moves whenever valid may have changed, including
// when a validity boundary passes without any write (token.Issued.State)
// and when the charge authorization rules change valid or whitelist
// (RulesChangedAt, db.RecheckTokenRules), so an incremental sync with
// date_from sees every change of valid and whitelist.
func (e *emspTokens) list(c *fiber.Ctx) error {
	p, err := ocpi.ParsePage(c, maxTokensPage)
	if err != nil {
		return err
	}
	country, party, err := ownerFilter(c)
	if err != nil {
		return err
	}
	now := time.Now()
	f := db.IssuedTokenFilter{At: now, CountryCode: country, PartyID: party, Offset: p.Offset, Limit: p.Limit}
	if p.DateFrom != nil {
		f.DateFrom = &p.DateFrom.Time
	}
	if p.DateTo != nil {
		f.DateTo = &p.DateTo.Time
	}
	page, err := db.ListIssuedTokens(c.UserContext(), e.s.pool, f)
	if err != nil {
		return err
	}
	// The rule set once per page, from the node-local cache (a version
	// check, a reload only after a rule change).
	set, err := e.rules.Current(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]ocpi.Token, len(page.Tokens))
	for i, t := range page.Tokens {
		out[i] = publishToken(t, set, now)
	}
	return ocpi.WritePage(c, e.s.publicURL, p, page.Total, out)
}

// authorize is POST /ocpi/2.2.1/emsp/tokens/{token_uid}/authorize[?type=]
// (mod_tokens → Sender "POST Method"), real-time authorization. It looks
// the token up by UID (ignoring case) and type (default RFID) with all its
// links in one indexed query, shared with concurrent requests
// (db.TokenLookup: read at the request, never cached, so a blocked token is
// refused by the next request), applies the validity rule now, and answers
// an AuthorizationInfo whose authorization_reference identifies the
// stored decision (sessions and CDRs carry it). The decision is committed
// before the answer is sent (group commit, db.AuthorizationLog): a
// reference a CPO holds always exists. An unknown token is HTTP 404 with
// status 2004 and no data.
//
// allowed follows token.OCPIAllowed: ALLOWED for a valid token, EXPIRED
// when its link or subscription has ended, BLOCKED when it is not usable
// otherwise (no live link, defunct, not yet valid); then the charge
// authorization rules of its administration (chargeRules, domain/authrule)
// may answer NOT_ALLOWED, NO_CREDIT or BLOCKED. The LocationReferences of
// the request are echoed when the token is ALLOWED, with the EVSEs the
// rules allow ("the EVSEs it is allowed to charge at", mod_tokens). A
// request without LocationReferences that the rules cannot decide without
// the place is status 2002 (authrule.Outcome.NeedsLocation).
func (e *emspTokens) authorize(c *fiber.Ctx) error {
	raw, err := url.PathUnescape(c.Params("token_uid"))
	if err != nil {
		return ocpi.InvalidParam("token_uid", "is not a valid URL path segment")
	}
	uid, err := token.ParseUID(raw)
	if err != nil {
		return ocpi.InvalidParam("token_uid", fieldMsg(err))
	}
	typ, err := token.ParseType(c.Query("type"))
	if err != nil {
		return ocpi.InvalidParam("type", fieldMsg(err))
	}
	var loc *ocpi.LocationReferences
	if body := c.Body(); len(bytes.TrimSpace(body)) > 0 && string(bytes.TrimSpace(body)) != "null" {
		loc = new(ocpi.LocationReferences)
		if err := decodeLocationReferences(body, loc); err != nil {
			return err
		}
	}
	r, err := ocpi.RoutingFrom(c)
	if err != nil {
		return err
	}
	t, version, err := e.lookup.IssuedWithRules(uid, typ)
	if fault.Is(err, fault.KindNotFound) {
		return ocpi.UnknownToken("unknown token " + string(typ) + " " + raw)
	}
	if err != nil {
		return err
	}
	if r.HasTo() && (!ocpi.EqualCI(r.ToCountry, t.CountryCode) || !ocpi.EqualCI(r.ToParty, t.PartyID)) {
		// The request addresses another of our parties, which does not
		// own this token.
		return ocpi.UnknownToken("unknown token " + string(typ) + " " + raw + " for " + r.ToCountry + "-" + r.ToParty)
	}
	now := time.Now()
	var res ruling
	rules, err := e.chargeRules(c, t, version, r, loc, &res)
	if err != nil {
		return err
	}
	st := t.StateWith(now, rules)
	if res.err != nil {
		return res.err
	}
	if res.out.NeedsLocation {
		// No reference is stored: nothing was decided.
		return ocpi.NotEnoughInfo("the charge authorization rules of token " + raw + " depend on the location: send LocationReferences")
	}
	allowed := token.OCPIAllowed(st.Reason)
	ref, err := uuid.NewV7()
	if err != nil {
		return err
	}
	rec := db.MSPTokenAuthorization{ID: ref, TokenID: t.ID, Allowed: string(allowed), Reason: string(st.Reason), At: now.UTC()}
	if cl, ok := c.Locals(callerKey{}).(caller); ok {
		id := cl.conn.ID
		rec.ConnectionID = &id
	}
	if r.HasFrom() {
		rec.CountryCode, rec.PartyID = strings.ToUpper(r.FromCountry), strings.ToUpper(r.FromParty)
	}
	info := ocpi.AuthorizationInfo{Allowed: allowed, Token: ocpi.TokenWithState(t, st), AuthorizationReference: ref.String()}
	if loc != nil {
		rec.LocationID, rec.EVSEUIDs = loc.LocationID, loc.EVSEUIDs
		if allowed == token.AllowedAllowed {
			info.Location = loc
			if res.out.EVSEUIDs != nil { // some requested EVSEs are denied
				info.Location = &ocpi.LocationReferences{LocationID: loc.LocationID, EVSEUIDs: res.out.EVSEUIDs}
			}
		}
	}
	if err := e.authz.Write(rec); err != nil {
		return err
	}
	c.Locals(loggedResponseKey{}, authorizationLogged(allowed, ref))
	return ocpi.OKAuthorizationInfo(c, info)
}

// authorizationLogged is what the exchange log keeps of an authorization's
// answer: the envelope with the decision and its reference, without the
// token object, which repeats the stored token (msp_token) while the
// reference names the stored decision (msp_token_authorization). The
// exchange still shows who asked what and what was answered, for a
// quarter of the bytes written per request on this hot path.
func authorizationLogged(allowed token.Allowed, ref uuid.UUID) []byte {
	b := make([]byte, 0, 128)
	b = append(b, `{"data":{"allowed":"`...)
	b = append(b, allowed...)
	b = append(b, `","authorization_reference":"`...)
	b = append(b, ref.String()...)
	b = append(b, `"},"status_code":1000}`...)
	return b
}

// decodeLocationReferences is ocpi.Decode for the body of a real-time
// authorization, with a fast path: a body that decodes (goccy/go-json,
// about half the CPU of encoding/json here: docs/performance.md, "Round
// 5") and passes the
// rules of ocpi.LocationReferences (location_id required, every id a
// CiString of 1 to 36 characters: mod_tokens → LocationReferences) is
// taken without the generic validator, which costs more than the rest of
// the decoding on this hot path; anything else goes through ocpi.Decode,
// so errors are exactly the generic ones.
func decodeLocationReferences(body []byte, loc *ocpi.LocationReferences) error {
	if gojson.Unmarshal(body, loc) == nil && validRef(loc.LocationID) {
		ok := true
		for _, e := range loc.EVSEUIDs {
			ok = ok && validRef(e)
		}
		if ok {
			return nil
		}
	}
	*loc = ocpi.LocationReferences{}
	return ocpi.Decode(body, loc)
}

// validRef is the rule of a LocationReferences id: CiString(36), required.
func validRef(s string) bool { return s != "" && len(s) <= 36 && ocpi.IsCiString(s) }

// fieldMsg is a domain validation error's message without its path.
func fieldMsg(err error) string {
	if f, ok := fault.As(err); ok && len(f.Fields) > 0 {
		return f.Fields[0].Message
	}
	return err.Error()
}
