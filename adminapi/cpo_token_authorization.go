package adminapi

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/authz"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/domain/token"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// POST /cpo-token-authorization answers our charge point management system:
// may this token charge at this EVSE of ours now? The rule is
// domain/authz; which eMSP is asked and how is roaming.Authorizer.

// CPOTokenOptions configure partners' tokens as CPO.
type CPOTokenOptions struct {
	// Client sends the real-time authorization requests (and records them
	// in the exchange log).
	Client *roaming.Client
	// AuthorizeTimeout bounds the real-time part of a decision
	// (ROAMNODE_AUTHORIZE_TIMEOUT; default 3 s).
	AuthorizeTimeout time.Duration
	// AuthorizeFallback decides when the eMSP does not answer
	// (ROAMNODE_AUTHORIZE_FALLBACK; default allow_if_whitelisted).
	AuthorizeFallback authz.Policy
}

// cpoAuthorizationInput is the question.
type cpoAuthorizationInput struct {
	TokenUID     string   `json:"token_uid"`
	TokenType    *string  `json:"token_type"`
	Party        *string  `json:"party"`
	LocationID   string   `json:"location_id"`
	EVSEUIDs     []string `json:"evse_uids"`
	ConnectorIDs []string `json:"connector_ids"`
}

// cpoAuthorizationView is the answer.
type cpoAuthorizationView struct {
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason"`
	Source  string `json:"source"`
	Message string `json:"message"`
	// LocationID, EVSEUIDs and ConnectorIDs: where the token may charge
	// (the EVSEs narrowed by the eMSP's restriction); empty lists when denied.
	LocationID             string            `json:"location_id"`
	EVSEUIDs               []string          `json:"evse_uids"`
	ConnectorIDs           []string          `json:"connector_ids"`
	AuthorizationReference *string           `json:"authorization_reference"`
	Info                   *ocpi.DisplayText `json:"info"`
	Party                  *string           `json:"party"`
	ConnectionID           *uuid.UUID        `json:"connection_id"`
	Token                  *ocpi.Token       `json:"token"`
	RealtimeRequests       int               `json:"realtime_requests"`
	PartnerError           *string           `json:"partner_error"`
	DecidedAt              time.Time         `json:"decided_at"`
}

// reasonText explains each reason to an operator.
var reasonText = map[authz.Reason]string{
	authz.ReasonWhitelisted:    "allowed from the cached token: its whitelist permits charging without asking the eMSP",
	authz.ReasonAuthorized:     "the eMSP authorized the token in real time",
	authz.ReasonAllowedOffline: "the eMSP did not answer; the token is ALLOWED_OFFLINE and valid, so it may charge",
	authz.ReasonFallbackAllow:  "the eMSP did not answer; the fallback policy allow lets the token charge",
	authz.ReasonInvalid:        "the eMSP marked the token invalid",
	authz.ReasonBlocked:        "the eMSP answered BLOCKED",
	authz.ReasonExpired:        "the eMSP answered EXPIRED",
	authz.ReasonNoCredit:       "the eMSP answered NO_CREDIT",
	authz.ReasonNotAllowed:     "the eMSP answered NOT_ALLOWED: the token may not charge at this location",
	authz.ReasonEVSENotAllowed: "the eMSP allowed the token, but not at the requested EVSEs of this location",
	authz.ReasonUnknown:        "no eMSP knows this token",
	authz.ReasonUnreachable:    "the eMSP did not answer in time, and the token's whitelist and the fallback policy do not allow charging without its answer",
	authz.ReasonNoAgreement:    "the token's eMSP has no roaming agreement (role cpo) valid now",
}

// authorizeCPOToken is POST /cpo-token-authorization.
func authorizeCPOToken(c *fiber.Ctx, rq *request) error {
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	var in cpoAuthorizationInput
	if err := decodeInto(b, &in); err != nil {
		return err
	}
	if unknown := unknownFields(b, jsonNames(in)); len(unknown) > 0 {
		c.Set("X-RN-Unknown-Fields", strings.Join(unknown, ","))
	}
	ctx := c.UserContext()
	arq, from, err := authorizationRequest(c, rq, in)
	if err != nil {
		return err
	}
	o := rq.api.opts.CPOTokens
	a := &roaming.Authorizer{Store: db.PartnerTokenStore{Pool: rq.api.pool}, Client: o.Client, Timeout: o.AuthorizeTimeout,
		Policy: o.AuthorizeFallback, Log: rq.api.log}
	if a.Client == nil {
		return &apiError{Status: fiber.StatusServiceUnavailable, Code: "unavailable", Message: "outbound OCPI calls are not available on this node"}
	}
	if a.Policy == "" {
		a.Policy = authz.PolicyAllowIfWhitelisted
	}
	arq.From = &from
	res, err := a.Authorize(ctx, arq)
	if err != nil {
		return err
	}
	v := cpoAuthorizationView{Allowed: res.Allowed, Reason: string(res.Reason), Source: string(res.Source), Message: reasonText[res.Reason],
		LocationID: in.LocationID, EVSEUIDs: []string{}, ConnectorIDs: []string{}, Info: res.Info, ConnectionID: res.ConnectionID,
		Token: res.Token, RealtimeRequests: res.Asked, DecidedAt: time.Now().UTC()}
	if res.Allowed {
		v.EVSEUIDs = res.EVSEUIDs
		if len(v.EVSEUIDs) == 0 {
			if v.EVSEUIDs, err = locationEVSEs(c, rq, in.LocationID); err != nil {
				return err
			}
		}
		if in.ConnectorIDs != nil {
			v.ConnectorIDs = in.ConnectorIDs
		}
	}
	if res.AuthorizationReference != "" {
		v.AuthorizationReference = &res.AuthorizationReference
	}
	if res.Party != nil {
		p := res.Party.String()
		v.Party = &p
	}
	if res.Detail != "" {
		v.PartnerError = &res.Detail
	}
	return c.JSON(v)
}

// authorizationRequest checks the question: the token (uid CiString(36),
// type), the optional owning party, and the place, which must be ours: the
// location, its EVSEs, and the connectors (of the one EVSE named). It also
// returns our party that owns the location (the sender of the real-time
// request).
func authorizationRequest(c *fiber.Ctx, rq *request, in cpoAuthorizationInput) (roaming.AuthzRequest, partner.PartyRef, error) {
	var fs fault.Fields
	checkOCPIID(&fs, "token_uid", in.TokenUID)
	typ := token.TypeRFID
	if in.TokenType != nil {
		t, err := token.ParseType(*in.TokenType)
		if err != nil || *in.TokenType == "" {
			fs.Add("token_type", "must be AD_HOC_USER, APP_USER, OTHER or RFID")
		}
		typ = t
	}
	var party *partner.PartyRef
	if in.Party != nil {
		ref, ok := partner.ParsePartyRef(*in.Party)
		if !ok {
			fs.Add("party", "must be a country code and party id such as NL-TNM")
		}
		party = &ref
	}
	checkOCPIID(&fs, "location_id", in.LocationID)
	for i, e := range in.EVSEUIDs {
		checkOCPIID(&fs, "evse_uids["+strconv.Itoa(i)+"]", e)
	}
	for i, id := range in.ConnectorIDs {
		checkOCPIID(&fs, "connector_ids["+strconv.Itoa(i)+"]", id)
	}
	if len(in.ConnectorIDs) > 0 && len(in.EVSEUIDs) != 1 {
		fs.Add("connector_ids", "name the one EVSE the connectors belong to in evse_uids")
	}
	if err := fs.Err(); err != nil {
		return roaming.AuthzRequest{}, partner.PartyRef{}, err
	}
	ctx := c.UserContext()
	loc, err := db.CPOLocationByID(ctx, rq.api.pool, in.LocationID, "", false)
	if fault.Is(err, fault.KindNotFound) {
		return roaming.AuthzRequest{}, partner.PartyRef{}, badRequest("reference_not_found", "no such location of ours", field("location_id", "is not one of our locations"))
	}
	if err != nil {
		return roaming.AuthzRequest{}, partner.PartyRef{}, err
	}
	for i, uid := range in.EVSEUIDs {
		e, err := db.CPOEVSEByUID(ctx, rq.api.pool, uid, "", false)
		if fault.Is(err, fault.KindNotFound) || err == nil && e.LocationUUID != loc.ID {
			fs.Add("evse_uids["+strconv.Itoa(i)+"]", "is not an EVSE of location %s", in.LocationID)
			continue
		}
		if err != nil {
			return roaming.AuthzRequest{}, partner.PartyRef{}, err
		}
		for j, id := range in.ConnectorIDs {
			if !hasConnector(e.EVSE, id) {
				fs.Add("connector_ids["+strconv.Itoa(j)+"]", "is not a connector of EVSE %s", uid)
			}
		}
	}
	if err := fs.Err(); err != nil {
		return roaming.AuthzRequest{}, partner.PartyRef{}, err
	}
	return roaming.AuthzRequest{UID: in.TokenUID, Type: typ, Party: party, Where: authz.Where{LocationID: loc.Location.ID, EVSEUIDs: in.EVSEUIDs}},
		partner.PartyRef{CountryCode: strings.ToUpper(loc.Location.CountryCode), PartyID: strings.ToUpper(loc.Location.PartyID)}, nil
}

// checkOCPIID checks an OCPI identifier: CiString(36), not empty.
func checkOCPIID(fs *fault.Fields, path, s string) {
	if s == "" || len(s) > 36 || !ocpi.IsCiString(s) {
		fs.Add(path, "must be 1 to 36 printable ASCII characters")
	}
}

func hasConnector(e ocpi.EVSE, id string) bool {
	for _, c := range e.Connectors {
		if ocpi.EqualCI(c.ID, id) {
			return true
		}
	}
	return false
}

// locationEVSEs lists the EVSE uids of one of our locations.
func locationEVSEs(c *fiber.Ctx, rq *request, locationID string) ([]string, error) {
	loc, err := db.CPOLocationByID(c.UserContext(), rq.api.pool, locationID, "", false)
	if err != nil {
		return nil, err
	}
	es, err := db.EVSEsOfLocations(c.UserContext(), rq.api.pool, []uuid.UUID{loc.ID})
	if err != nil {
		return nil, err
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.EVSE.UID
	}
	return out, nil
}
