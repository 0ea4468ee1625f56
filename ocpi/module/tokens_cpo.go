package module

import (
	"encoding/json"
	"net/url"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/domain/token"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// Tokens Receiver, as CPO (mod_tokens → Receiver Interface): eMSPs push
// their tokens to {base}/cpo/tokens/{country_code}/{party_id}/{token_uid}
// [?type=], PUT for a whole token, PATCH for a partial update, and GET one
// back to check what we hold. Tokens are Client Owned Objects: each is
// stored under the party that owns it, which must be an eMSP party of the
// calling connection (its credentials roles, or a party its hub reported).

// mountCPOTokens registers the receiver's routes.
func (s *Server) mountCPOTokens(g fiber.Router) {
	const path = "/2.2.1/cpo/tokens/:country_code/:party_id/:token_uid"
	g.Get(path, s.modules(), s.getCPOToken)
	g.Put(path, s.modules(), s.putCPOToken)
	g.Patch(path, s.modules(), s.patchCPOToken)
}

// tokenKey is the token a receiver request addresses.
type tokenKey struct {
	party partner.PartyRef
	uid   string
	typ   token.Type
	// typeGiven: the request named the type (?type=); without it GET and
	// PATCH mean RFID (mod_tokens: "Default if omitted: RFID") and a PUT
	// takes the pushed token's own type (see putCPOToken).
	typeGiven bool
}

// tokenParams reads and checks the URL: country code, party id, token uid
// (CiString(36)), type; our CPO party (routing headers); and that the party
// is one the caller may push for. notMine is the error for a party that is
// not the caller's: 404 where the official interface allows it (GET,
// PATCH: transport_and_format → Client Owned Object Push, Errors), 2001 on
// PUT, whose official responses have no 404.
func (s *Server) tokenParams(c *fiber.Ctx, notMine func(string) error) (tokenKey, error) {
	ref, err := partyParams(c)
	if err != nil {
		return tokenKey{}, err
	}
	uid, err := url.PathUnescape(c.Params("token_uid"))
	if err != nil || uid == "" || len(uid) > 36 || !ocpi.IsCiString(uid) {
		return tokenKey{}, ocpi.InvalidParam("token_uid", "must be 1 to 36 printable ASCII characters (CiString(36))")
	}
	k := tokenKey{party: ref, uid: uid, typ: token.TypeRFID}
	if raw := c.Query("type"); raw != "" {
		if k.typ, err = token.ParseType(raw); err != nil {
			return tokenKey{}, ocpi.InvalidParam("type", "must be AD_HOC_USER, APP_USER, OTHER or RFID")
		}
		k.typeGiven = true
	}
	if _, err := s.ownParty(c, partner.RoleCPO); err != nil {
		return tokenKey{}, err
	}
	ok, err := db.ConnectionReachesEMSP(c.UserContext(), s.pool, callerOf(c).conn.ID, ref)
	if err != nil {
		return tokenKey{}, err
	}
	if !ok {
		return tokenKey{}, notMine(ref.String() + " is not an eMSP party of this connection (credentials roles or hub client info)")
	}
	return k, nil
}

func notFoundErr(msg string) error { return ocpi.NotFound(msg) }

func invalidParty(msg string) error { return ocpi.InvalidParam("country_code/party_id", msg) }

// getCPOToken is GET …/cpo/tokens/{country_code}/{party_id}/{token_uid}:
// the token as we hold it, for the eMSP's validation.
func (s *Server) getCPOToken(c *fiber.Ctx) error {
	k, err := s.tokenParams(c, notFoundErr)
	if err != nil {
		return err
	}
	pt, err := db.PartnerTokenByKey(c.UserContext(), s.pool, k.party, k.uid, k.typ, false)
	if fault.Is(err, fault.KindNotFound) {
		return ocpi.NotFound("no " + string(k.typ) + " token " + k.uid + " of " + k.party.String())
	}
	if err != nil {
		return err
	}
	return ocpi.OK(c, pt.Token)
}

// putCPOToken is PUT …/cpo/tokens/{country_code}/{party_id}/{token_uid}:
// a new or updated token. The object's country_code, party_id and uid must
// be those of the URL (2001 otherwise, transport_and_format → Client Owned
// Object Push, Errors), as must its type when the URL names one; a PUT
// without ?type= is taken as the pushed token's own type rather than
// refused as RFID, because the object says unambiguously what it is. An
// update older than the stored token is acknowledged and ignored
// (last_updated ordering); a new token answers 201.
func (s *Server) putCPOToken(c *fiber.Ctx) error {
	k, err := s.tokenParams(c, invalidParty)
	if err != nil {
		return err
	}
	var t ocpi.Token
	if err := decodeToken(c.Body(), &t); err != nil {
		return err
	}
	if err := k.matches(t); err != nil {
		return err
	}
	created, _, err := db.SavePartnerToken(c.UserContext(), s.pool, callerOf(c).conn.ID, t, db.ViaPush, time.Now().UTC())
	if err != nil {
		return err
	}
	if created {
		return ocpi.Respond(c, fiber.StatusCreated, nil)
	}
	return ocpi.OK(c, nil)
}

// patchCPOToken is PATCH …/cpo/tokens/{country_code}/{party_id}/{token_uid}:
// the fields present replace the stored ones (mod_tokens → PATCH; a null
// removes an optional field, RFC 7396), last_updated is required, and the
// merged token must be a valid Token. The key fields may be repeated but
// not changed. An unknown token is 404; a patch older than the stored
// token is acknowledged and ignored.
func (s *Server) patchCPOToken(c *fiber.Ctx) error {
	k, err := s.tokenParams(c, notFoundErr)
	if err != nil {
		return err
	}
	body := c.Body()
	var patch map[string]json.RawMessage
	if err := ocpi.Unmarshal(body, &patch); err != nil {
		return err
	}
	var lu struct {
		LastUpdated *ocpi.DateTime `json:"last_updated"`
	}
	if err := ocpi.Unmarshal(body, &lu); err != nil {
		return err
	}
	if lu.LastUpdated == nil {
		return ocpi.InvalidParam("last_updated", "is required in a PATCH (mod_tokens → PATCH Method)")
	}
	ctx := c.UserContext()
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := db.PartnerTokenByKey(ctx, tx, k.party, k.uid, k.typ, true)
		if fault.Is(err, fault.KindNotFound) {
			return ocpi.NotFound("no " + string(k.typ) + " token " + k.uid + " of " + k.party.String() + " to patch; PUT it first")
		}
		if err != nil {
			return err
		}
		if lu.LastUpdated.Before(cur.Token.LastUpdated.Time) {
			return nil
		}
		stored, err := json.Marshal(cur.Token)
		if err != nil {
			return err
		}
		merged, err := jsonpatch.MergePatch(stored, body)
		if err != nil {
			return ocpi.InvalidParam("body", "cannot be merged: "+err.Error())
		}
		var t ocpi.Token
		if err := decodeToken(merged, &t); err != nil {
			return err
		}
		k.typeGiven = true // the stored token's type, which a patch cannot change
		if err := k.matches(t); err != nil {
			return err
		}
		_, _, err = db.SavePartnerToken(ctx, tx, callerOf(c).conn.ID, t, db.ViaPush, time.Now().UTC())
		return err
	})
	if err != nil {
		return err
	}
	return ocpi.OK(c, nil)
}

// decodeToken decodes and validates a Token; valid must be present (card.
// 1): decoded as false when absent, a token would silently turn invalid.
func decodeToken(body []byte, t *ocpi.Token) error {
	if err := ocpi.Decode(body, t); err != nil {
		return err
	}
	if !roaming.HasValid(body) {
		return ocpi.InvalidParam("valid", "is required")
	}
	return nil
}

// matches checks that the object is the one the URL addresses.
func (k tokenKey) matches(t ocpi.Token) error {
	switch {
	case !ocpi.EqualCI(t.CountryCode, k.party.CountryCode) || !ocpi.EqualCI(t.PartyID, k.party.PartyID):
		return ocpi.InvalidParam("country_code/party_id", "the token's country_code and party_id must be those of the URL ("+k.party.String()+")")
	case !ocpi.EqualCI(t.UID, k.uid):
		return ocpi.InvalidParam("uid", "the token's uid must be the token_uid of the URL ("+k.uid+")")
	case k.typeGiven && t.Type != k.typ:
		return ocpi.InvalidParam("type", "the token's type must be the type of the URL ("+string(k.typ)+")")
	}
	return nil
}
