package roaming

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/domain/authz"
	model "github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/domain/token"
	"github.com/roamnode/roamnode/ocpi"
)

// Partners' tokens as CPO (mod_tokens): the real-time authorization request
// to an eMSP, the decision "may this token charge at our EVSE now?" built on
// it, and the pull of an eMSP's token list.

// ErrUnknownToken: the eMSP does not know the token (mod_tokens → POST:
// "HTTP status code: 404" and "status code: 2004: Unknown Token").
var ErrUnknownToken = errors.New("roaming: the eMSP does not know the token")

// Authorize asks an eMSP to authorize a token in real time (mod_tokens →
// Sender interface, POST {tokens_endpoint_url}{token_uid}/authorize
// [?type=]), with the location when given. It returns the eMSP's
// AuthorizationInfo, validated; ErrUnknownToken when the eMSP does not know
// the token; else an *Error (no usable answer). ctx bounds the whole call,
// retries included; a POST is re-sent only when it never reached the eMSP.
func (c *Client) Authorize(ctx context.Context, t Target, tokensURL, uid string, typ token.Type, loc *ocpi.LocationReferences) (ocpi.AuthorizationInfo, error) {
	u := strings.TrimRight(tokensURL, "/") + "/" + url.PathEscape(uid) + "/authorize"
	if typ != "" {
		u += "?type=" + url.QueryEscape(string(typ))
	}
	var body any
	if loc != nil {
		body = loc
	}
	resp, err := c.Do(ctx, t, http.MethodPost, u, body)
	var e *Error
	if errors.As(err, &e) && (e.HTTPStatus == http.StatusNotFound || e.OCPIStatus == ocpi.StatusUnknownToken) {
		return ocpi.AuthorizationInfo{}, ErrUnknownToken
	}
	if err != nil {
		return ocpi.AuthorizationInfo{}, err
	}
	var info ocpi.AuthorizationInfo
	if err := ocpi.Decode(resp.Envelope.Data, &info); err != nil {
		return ocpi.AuthorizationInfo{}, &Error{Kind: KindMalformed, Method: http.MethodPost, URL: u, HTTPStatus: resp.HTTPStatus,
			OCPIStatus: resp.Envelope.StatusCode, Message: "AuthorizationInfo: " + err.Error(), Err: err}
	}
	return info, nil
}

// CachedToken is a token of the cache of received tokens.
type CachedToken struct {
	Token ocpi.Token
	// ConnectionID is the connection it last came through.
	ConnectionID uuid.UUID
}

// Route is an eMSP party as the authorization sees it.
type Route struct {
	Party model.PartyRef
	// Connection reaches the party; nil when none does.
	Connection *model.Connection
	// Agreement: the party's roaming partner has a cpo roaming agreement
	// valid now (its customers may charge at our charge points).
	Agreement bool
}

// AuthzStore is what the CPO authorization needs from storage (db
// implements it).
type AuthzStore interface {
	// CachedTokens returns the cached tokens with this uid (compared
	// case-insensitively) and type, of party when not nil, best first:
	// valid before invalid, then the most recently updated.
	CachedTokens(ctx context.Context, uid string, typ token.Type, party *model.PartyRef) ([]CachedToken, error)
	// Routes returns the eMSP parties we know (party only, when not nil).
	Routes(ctx context.Context, party *model.PartyRef, at time.Time) ([]Route, error)
	// OwnParties are our own parties (the CPO one sends the requests).
	OwnParties(ctx context.Context) ([]model.OwnParty, error)
	// SaveAnswerToken caches the token an eMSP sent with its answer through
	// connID (ignored when its party is not reached through connID; the
	// last_updated ordering applies).
	SaveAnswerToken(ctx context.Context, connID uuid.UUID, t ocpi.Token) error
}

// AuthzRequest asks whether a token may charge at a place now.
type AuthzRequest struct {
	UID  string
	Type token.Type
	// Party is the eMSP owning the token, when the caller knows it; nil
	// looks the token up among all parties.
	Party *model.PartyRef
	Where authz.Where
	// From is our CPO party that sends the real-time request (the owner
	// of the location); nil takes our first CPO party.
	From *model.PartyRef
}

// AuthzResult is a decision with what it rests on.
type AuthzResult struct {
	authz.Decision
	// Token is the token as the eMSP answered it, else as cached; nil when
	// neither knows it.
	Token *ocpi.Token
	// Party is the eMSP whose token or answer decided; nil when none.
	Party *model.PartyRef
	// ConnectionID is the connection of that eMSP, when known.
	ConnectionID *uuid.UUID
	// AuthorizationReference is the eMSP's reference to put in the Session
	// and CDR of the charge (AuthorizationInfo.authorization_reference).
	AuthorizationReference string
	// Info is the eMSP's message for the driver.
	Info *ocpi.DisplayText
	// Asked is how many real-time requests were sent.
	Asked int
	// Detail says why asking gave no answer ("" otherwise).
	Detail string
}

// Authorizer answers, as CPO, whether a partner's token may charge at one
// of our EVSEs now (domain/authz has the rule). Which eMSP it asks:
//   - a cached token: the party that owns it, through the connection the
//     token came through (else any connection reaching the party), with the
//     routing headers addressed to that party;
//   - an unknown token: every eMSP party whose roaming partner has a cpo
//     agreement valid now and whose connection offers a Tokens Sender —
//     or only the party named in the request. A peer-to-peer connection
//     is asked once per party; a hub connection once, as an Open Routing
//     Request (no OCPI-to headers, transport_and_format → "Open Routing
//     Request"), so that the hub routes it to the token's owner. The
//     requests run concurrently; an ALLOWED answer wins, then any other
//     answer, then "unknown token".
//
// Timeout bounds the whole real-time part; Policy decides without an answer.
type Authorizer struct {
	Store   AuthzStore
	Client  *Client
	Timeout time.Duration
	Policy  authz.Policy
	// Log receives what does not change the decision (a token of an
	// answer that could not be cached); nil is slog.Default().
	Log *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// Authorize decides.
func (a *Authorizer) Authorize(ctx context.Context, rq AuthzRequest) (AuthzResult, error) {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	cached, err := a.Store.CachedTokens(ctx, rq.UID, rq.Type, rq.Party)
	if err != nil {
		return AuthzResult{}, err
	}
	var res AuthzResult
	var c *authz.Cached
	var targets []askTarget
	if len(cached) > 0 {
		best := cached[0]
		tok := best.Token
		ref := model.PartyRef{CountryCode: strings.ToUpper(tok.CountryCode), PartyID: strings.ToUpper(tok.PartyID)}
		connID := best.ConnectionID
		res.Token, res.Party, res.ConnectionID = &tok, &ref, &connID
		routes, err := a.Store.Routes(ctx, &ref, now())
		if err != nil {
			return AuthzResult{}, err
		}
		c = &authz.Cached{Valid: tok.Valid, Whitelist: tok.Whitelist}
		for _, r := range routes {
			c.Agreement = c.Agreement || r.Agreement
		}
		if d, ok := authz.FromCache(c, rq.Where); ok {
			res.Decision = d
			return res, nil
		}
		targets = cachedTargets(routes, best.ConnectionID)
	} else {
		routes, err := a.Store.Routes(ctx, rq.Party, now())
		if err != nil {
			return AuthzResult{}, err
		}
		targets = openTargets(routes)
	}
	var from model.PartyRef
	if rq.From != nil {
		from = *rq.From
	} else if len(targets) > 0 {
		own, err := a.Store.OwnParties(ctx)
		if err != nil {
			return AuthzResult{}, err
		}
		from = ownCPO(own)
	}
	ans, got := a.ask(ctx, targets, from, rq)
	res.Asked = len(targets)
	switch {
	case got != nil:
		info := got.info
		res.Token, res.Party, res.ConnectionID = &info.Token, &got.target.party, &got.target.conn.ID
		if got.target.open {
			p := model.PartyRef{CountryCode: strings.ToUpper(info.Token.CountryCode), PartyID: strings.ToUpper(info.Token.PartyID)}
			res.Party = &p
		}
		res.AuthorizationReference, res.Info = info.AuthorizationReference, info.Info
		// Caching the answer's token is a by-product: the eMSP's answer
		// stands even when it cannot be stored.
		if err := a.Store.SaveAnswerToken(context.WithoutCancel(ctx), got.target.conn.ID, info.Token); err != nil {
			log := a.Log
			if log == nil {
				log = slog.Default()
			}
			log.Warn("caching the token of a real-time authorization answer failed", "connection_id", got.target.conn.ID, "err", err)
		}
	case ans.Outcome == authz.OutcomeNoAnswer:
		res.Detail = ans.detail
	}
	res.Decision = authz.Decide(c, rq.Where, ans.Answer, a.Policy)
	return res, nil
}

// askTarget is one real-time request to send.
type askTarget struct {
	conn  *model.Connection
	url   string
	party model.PartyRef // the party addressed (the hub's for open routing)
	open  bool           // Open Routing Request through a hub
}

// tokensSender is the partner's Tokens Sender endpoint.
func tokensSender(c *model.Connection) (string, bool) {
	if c == nil || c.Status != model.StatusRegistered || c.TheirToken == nil {
		return "", false
	}
	return c.Endpoint(string(ocpi.ModuleTokens), string(ocpi.InterfaceSender))
}

// cachedTargets: the owning party, through the connection its token came
// through when that still reaches it, else the first that does.
func cachedTargets(routes []Route, via uuid.UUID) []askTarget {
	var out []askTarget
	for _, r := range routes {
		u, ok := tokensSender(r.Connection)
		if !ok {
			continue
		}
		t := askTarget{conn: r.Connection, url: u, party: r.Party}
		if r.Connection.ID == via {
			return []askTarget{t}
		}
		out = append(out, t)
	}
	if len(out) > 1 {
		out = out[:1]
	}
	return out
}

// openTargets: every agreed party that can be asked, hubs once each.
func openTargets(routes []Route) []askTarget {
	var out []askTarget
	hubs := map[uuid.UUID]bool{}
	seen := map[string]bool{}
	for _, r := range routes {
		u, ok := tokensSender(r.Connection)
		if !ok || !r.Agreement {
			continue
		}
		if r.Connection.Kind == model.Hub {
			if !hubs[r.Connection.ID] {
				hubs[r.Connection.ID] = true
				out = append(out, askTarget{conn: r.Connection, url: u, party: r.Party, open: true})
			}
			continue
		}
		k := r.Connection.ID.String() + "/" + r.Party.String()
		if !seen[k] {
			seen[k] = true
			out = append(out, askTarget{conn: r.Connection, url: u, party: r.Party})
		}
	}
	return out
}

// ownCPO is the party we send as (OCPI-from-…): our CPO party; with
// several, the first (a charge point's own party is not known here).
func ownCPO(own []model.OwnParty) model.PartyRef {
	for _, p := range own {
		if p.Role == model.RoleCPO {
			return model.PartyRef{CountryCode: p.CountryCode, PartyID: p.PartyID}
		}
	}
	return model.PartyRef{}
}

// askAnswer is the combined outcome of the requests.
type askAnswer struct {
	authz.Answer
	detail string
}

// askReply is one target's reply.
type askReply struct {
	target  askTarget
	info    ocpi.AuthorizationInfo
	unknown bool
	err     error
}

// ask sends the real-time requests concurrently within the timeout and
// combines the replies: the first ALLOWED (in target order), else the
// first other answer, else unknown when any eMSP said so, else no answer.
func (a *Authorizer) ask(ctx context.Context, targets []askTarget, from model.PartyRef, rq AuthzRequest) (askAnswer, *askReply) {
	if len(targets) == 0 {
		return askAnswer{}, nil
	}
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	loc := &ocpi.LocationReferences{LocationID: rq.Where.LocationID, EVSEUIDs: rq.Where.EVSEUIDs}
	replies := make([]askReply, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tg := Target{ConnectionID: &t.conn.ID, Token: *t.conn.TheirToken, Base64Token: t.conn.TokenBase64,
				FromCountry: from.CountryCode, FromParty: from.PartyID, CountryCode: t.party.CountryCode, PartyID: t.party.PartyID}
			if !t.open {
				tg.ToCountry, tg.ToParty = t.party.CountryCode, t.party.PartyID
			}
			info, err := a.Client.Authorize(ctx, tg, t.url, rq.UID, rq.Type, loc)
			replies[i] = askReply{target: t, info: info, unknown: errors.Is(err, ErrUnknownToken)}
			if err != nil && !replies[i].unknown {
				replies[i].err = err
			}
		}()
	}
	wg.Wait()
	var first *askReply
	unknown := false
	var failures []string
	for i := range replies {
		r := &replies[i]
		switch {
		case r.err != nil:
			failures = append(failures, r.target.party.String()+": "+r.err.Error())
		case r.unknown:
			unknown = true
		case r.info.Allowed == token.AllowedAllowed:
			return answerOf(r), r
		case first == nil:
			first = r
		}
	}
	switch {
	case first != nil:
		return answerOf(first), first
	case unknown:
		return askAnswer{Answer: authz.Answer{Outcome: authz.OutcomeUnknown}}, nil
	}
	return askAnswer{Answer: authz.Answer{Outcome: authz.OutcomeNoAnswer}, detail: strings.Join(failures, "; ")}, nil
}

func answerOf(r *askReply) askAnswer {
	a := authz.Answer{Outcome: authz.OutcomeAnswered, Allowed: r.info.Allowed}
	if l := r.info.Location; l != nil {
		a.Location = &authz.Where{LocationID: l.LocationID, EVSEUIDs: l.EVSEUIDs}
	}
	return askAnswer{Answer: a}
}

// ---- pull (mod_tokens → Pull model)

// PullState is where a connection's token pull stands.
type PullState struct {
	// DateFrom is where the next incremental run starts (the partner's
	// clock at the start of the last completed run); nil: pull everything.
	DateFrom *time.Time
	// NextURL is the page an interrupted run resumes at; "" when none.
	NextURL string
	// Full asks for a full run (forget DateFrom and any NextURL).
	Full bool
}

// PullStore is what the token pull needs from storage (db implements it).
type PullStore interface {
	// Claim takes the lease on connID's pull for lease; ok is false when
	// another worker holds it.
	Claim(ctx context.Context, connID uuid.UUID, lease time.Duration) (PullState, bool, error)
	// Start begins a run at firstURL (full: forget DateFrom).
	Start(ctx context.Context, connID uuid.UUID, firstURL string, full bool) error
	// SavePage stores one page's tokens (those of parties connID reaches;
	// the others are counted as skipped) and the URL of the next page (""
	// on the last one) in one transaction, and renews the lease.
	// partnerTime is the partner's clock when it served the first page of
	// the run (nil when unknown).
	SavePage(ctx context.Context, connID uuid.UUID, tokens []ocpi.Token, skipped int, next string, partnerTime *time.Time, lease time.Duration) error
	// Finish ends the run: the next one is incremental from the partner's
	// clock at this run's start.
	Finish(ctx context.Context, connID uuid.UUID) error
	// Fail releases the lease and records why; the run resumes later at
	// the page where it stopped.
	Fail(ctx context.Context, connID uuid.UUID, msg string) error
}

// PullResult summarises one pull run.
type PullResult struct {
	Pages, Tokens, Skipped int
	// Busy: another worker holds the connection's pull.
	Busy bool
}

// TokenPuller pulls eMSPs' tokens into the cache: a full pull first, then
// incremental pulls with date_from, page by page (one page in memory at a
// time), each page's tokens committed with the URL of the next page so that
// a run interrupted anywhere resumes where it stopped. The pages are walked
// as the location and tariff pull walks them (walkPages, sync.go).
type TokenPuller struct {
	Client *Client
	Store  PullStore
	// Lease is how long a worker may hold a connection's pull between two
	// pages before another may take over (default 5 min).
	Lease time.Duration
	// PageLimit is the limit asked per page (0: the partner's default).
	PageLimit int
}

// ErrNoTokensSender: the connection is not registered or the partner has
// no Tokens Sender endpoint.
var ErrNoTokensSender = errors.New("roaming: the partner offers no Tokens Sender endpoint on a registered connection")

// Pull runs (or resumes) the token pull of conn.
func (p *TokenPuller) Pull(ctx context.Context, conn model.Connection, own []model.OwnParty) (PullResult, error) {
	base, ok := tokensSender(&conn)
	if !ok {
		return PullResult{}, ErrNoTokensSender
	}
	lease := p.Lease
	if lease <= 0 {
		lease = 5 * time.Minute
	}
	st, ok, err := p.Store.Claim(ctx, conn.ID, lease)
	if err != nil || !ok {
		return PullResult{Busy: !ok && err == nil}, err
	}
	cur := st.NextURL
	if cur == "" || st.Full {
		cur = p.firstURL(base, st)
		if err := p.Store.Start(ctx, conn.ID, cur, st.Full); err != nil {
			return PullResult{}, errors.Join(err, p.Store.Fail(context.WithoutCancel(ctx), conn.ID, err.Error()))
		}
	}
	from := ownCPO(own)
	t := Target{ConnectionID: &conn.ID, Token: *conn.TheirToken, Base64Token: conn.TokenBase64,
		FromCountry: from.CountryCode, FromParty: from.PartyID}
	// GET All via a hub is addressed to the hub (transport_and_format →
	// "GET All via Hubs"); a peer-to-peer partner with one eMSP role is
	// addressed to it.
	if to, ok := pullAddressee(conn); ok {
		t.ToCountry, t.ToParty, t.CountryCode, t.PartyID = to.CountryCode, to.PartyID, to.CountryCode, to.PartyID
	}
	origin, err := parseAbsolute(cur)
	if err != nil {
		return PullResult{}, errors.Join(err, p.Store.Fail(context.WithoutCancel(ctx), conn.ID, err.Error()))
	}
	var res PullResult
	err = walkPages(ctx, p.Client, t, origin, cur, func(data json.RawMessage, resp *Response, next *string) error {
		toks, skipped, err := decodeTokens(data)
		if err != nil {
			return err
		}
		var pt *time.Time
		if ts := resp.Envelope.Timestamp; !ts.IsZero() {
			v := ts.UTC()
			pt = &v
		}
		n := ""
		if next != nil {
			n = *next
		}
		if err := p.Store.SavePage(ctx, conn.ID, toks, skipped, n, pt, lease); err != nil {
			return err
		}
		res.Pages++
		res.Tokens += len(toks)
		res.Skipped += skipped
		return nil
	})
	if err != nil {
		return res, errors.Join(err, p.Store.Fail(context.WithoutCancel(ctx), conn.ID, err.Error()))
	}
	return res, p.Store.Finish(ctx, conn.ID)
}

// firstURL is the list URL of a new run: everything, or from DateFrom.
func (p *TokenPuller) firstURL(base string, st PullState) string {
	q := url.Values{}
	if st.DateFrom != nil && !st.Full {
		q.Set(ocpi.ParamDateFrom, ocpi.NewDateTime(*st.DateFrom).String())
	}
	if p.PageLimit > 0 {
		q.Set(ocpi.ParamLimit, fmt.Sprint(p.PageLimit))
	}
	if len(q) == 0 {
		return base
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + q.Encode()
}

// pullAddressee is whom a GET All is addressed to: the hub's own party on
// a hub connection, the partner's only eMSP party on a peer-to-peer one.
func pullAddressee(c model.Connection) (model.PartyRef, bool) {
	want := model.RoleEMSP
	if c.Kind == model.Hub {
		want = model.RoleHub
	}
	var found []model.PartyRef
	for _, r := range c.TheirRoles {
		if r.Role == want {
			found = append(found, model.PartyRef{CountryCode: r.CountryCode, PartyID: r.PartyID})
		}
	}
	if len(found) != 1 {
		return model.PartyRef{}, false
	}
	return found[0], true
}

// decodeTokens decodes a page of tokens one by one: an object that does not
// decode or validate is skipped (and counted) rather than failing the page,
// so that one bad token cannot block a partner's whole list. data that is
// not an array is an error (the page is not a token list).
func decodeTokens(data json.RawMessage) ([]ocpi.Token, int, error) {
	var raws []json.RawMessage
	if len(data) == 0 || string(data) == "null" {
		return nil, 0, nil
	}
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, 0, fmt.Errorf("roaming: token list page: data is not an array of tokens: %w", err)
	}
	out := make([]ocpi.Token, 0, len(raws))
	skipped := 0
	for _, r := range raws {
		var t ocpi.Token
		if err := ocpi.Decode(r, &t); err != nil || !hasValid(r) {
			skipped++
			continue
		}
		out = append(out, t)
	}
	return out, skipped, nil
}

// hasValid reports whether a Token object carries "valid" (card. 1): a
// token without it must not read as a deliberate valid = false.
func hasValid(raw json.RawMessage) bool {
	var probe struct {
		Valid *bool `json:"valid"`
	}
	return json.Unmarshal(raw, &probe) == nil && probe.Valid != nil
}

// HasValid is hasValid for the receiver (ocpi/module).
func HasValid(raw []byte) bool { return hasValid(raw) }
