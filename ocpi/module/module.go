// Package module serves roamnode's OCPI 2.2.1 modules to partners, one file
// per module. The wire protocol (types, envelope, transport rules) is
// package ocpi; the business flows are in roaming and domain. Handlers live
// here rather than in package ocpi because the outbound client in roaming
// needs the wire types: ocpi/module → roaming → ocpi keeps imports one-way.
package module

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// Server is the OCPI surface.
type Server struct {
	pool         *pgxpool.Pool
	registrar    *roaming.Registrar
	publicURL    string
	log          *slog.Logger
	recorder     roaming.Recorder
	logBodyBytes int
	tokens       *tokenCache
	touchMu      sync.Mutex
	touched      map[uuid.UUID]time.Time
}

// Options configure the OCPI surface.
type Options struct {
	PublicURL    string
	LogBodyBytes int           // body bytes kept per exchange in the log (default 4096)
	TokenTTL     time.Duration // how long a token lookup is cached (default 2s)
}

// New returns the OCPI surface. recorder receives every inbound exchange.
func New(pool *pgxpool.Pool, registrar *roaming.Registrar, recorder roaming.Recorder, log *slog.Logger, o Options) *Server {
	if o.LogBodyBytes == 0 {
		o.LogBodyBytes = 4096
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = 2 * time.Second
	}
	s := &Server{pool: pool, registrar: registrar, publicURL: strings.TrimRight(o.PublicURL, "/"), log: log, recorder: recorder,
		logBodyBytes: o.LogBodyBytes, tokens: &tokenCache{ttl: o.TokenTTL, m: map[[sha256.Size]byte]tokenEntry{}},
		touched: map[uuid.UUID]time.Time{}}
	prev := registrar.Invalidate
	registrar.Invalidate = func(id uuid.UUID) {
		prev(id)
		s.tokens.drop(id)
	}
	return s
}

// Base is our 2.2.1 base URL.
func (s *Server) Base() string { return s.publicURL + "/ocpi/2.2.1" }

// Mount registers the OCPI routes.
func (s *Server) Mount(app *fiber.App) {
	g := app.Group("/ocpi", ocpi.Headers(), s.record, s.authenticate)
	g.Get("/versions", s.versions)
	g.Get("/2.2.1", s.versionDetails)
	g.Get("/2.2.1/credentials", s.getCredentials)
	g.Post("/2.2.1/credentials", s.postCredentials)
	g.Put("/2.2.1/credentials", s.putCredentials)
	g.Delete("/2.2.1/credentials", s.deleteCredentials)
	g.Get("/2.2.1/hubclientinfo", s.modules(), s.listClientInfo)
	g.Get("/2.2.1/hubclientinfo/:country_code/:party_id", s.modules(), s.getClientInfo)
	g.Put("/2.2.1/hubclientinfo/:country_code/:party_id", s.modules(), s.putClientInfo)
	s.mountCPO(g)
	s.mountEMSPTokens(app, g)
	s.mountCPOTokens(g)
	s.mountEMSP(g)
	s.mountEMSPSessions(g)
	s.mountCPOSessions(g)
}

// caller is the authenticated partner connection of a request.
type caller struct {
	conn    partner.Connection
	tokenA  bool // authenticated with token A: versions and credentials only
	pending bool // a token we offered in a handshake we started
}

type callerKey struct{}

func callerOf(c *fiber.Ctx) caller { return c.Locals(callerKey{}).(caller) }

// authenticate resolves the Authorization token to a connection
// (transport_and_format → Authorization header): the token is accepted
// Base64-encoded and raw; an unknown token is a 401.
func (s *Server) authenticate(c *fiber.Ctx) error {
	cands := ocpi.TokenCandidates(c.Get(fiber.HeaderAuthorization))
	if len(cands) == 0 {
		return ocpi.Unauthorized("missing Authorization: Token header")
	}
	for _, t := range cands {
		cl, ok, err := s.tokens.lookup(c.UserContext(), s.pool, t)
		if err != nil {
			return err
		}
		if ok {
			c.Locals(callerKey{}, cl)
			return c.Next()
		}
	}
	return ocpi.Unauthorized("unknown or revoked credentials token")
}

// modules guards module endpoints: they need a registered connection and
// a token other than token A (transport_and_format: "CREDENTIALS_TOKEN_A
// … may only be used for the credentials and versions modules").
func (s *Server) modules() fiber.Handler {
	return func(c *fiber.Ctx) error {
		cl := callerOf(c)
		if cl.tokenA || cl.conn.Status != partner.StatusRegistered {
			return ocpi.Unauthorized("this token may only be used for the versions and credentials modules until registration is complete")
		}
		return c.Next()
	}
}

// tokenCache keeps token → connection lookups for a short time: module
// calls are hot, and every change through this node drops its entries at
// once (other nodes see it within the TTL). It is keyed by the token's
// SHA-256 (partner.HashToken) as an array, so a hit allocates nothing.
type tokenCache struct {
	ttl time.Duration
	mu  sync.RWMutex
	m   map[[sha256.Size]byte]tokenEntry
}

type tokenEntry struct {
	cl      caller
	found   bool
	expires time.Time
}

func (tc *tokenCache) lookup(ctx context.Context, pool *pgxpool.Pool, token string) (caller, bool, error) {
	k := sha256.Sum256([]byte(token)) // = partner.HashToken(token)
	now := time.Now()
	tc.mu.RLock()
	e, ok := tc.m[k]
	tc.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.cl, e.found, nil
	}
	h := partner.HashToken(token)
	conn, err := db.ConnectionByToken(ctx, pool, h)
	found := err == nil
	if err != nil && !fault.Is(err, fault.KindNotFound) {
		return caller{}, false, err
	}
	cl := caller{conn: conn}
	if found {
		cl.pending = string(conn.PendingTokenHash) == string(h)
		cl.tokenA = !cl.pending && conn.OurTokenIsA
	}
	// Unknown tokens are not cached: a token issued a moment ago on
	// another node must work at once, and the map stays bounded.
	if found {
		tc.mu.Lock()
		if len(tc.m) > 10000 {
			tc.m = map[[sha256.Size]byte]tokenEntry{}
		}
		tc.m[k] = tokenEntry{cl: cl, found: true, expires: now.Add(tc.ttl)}
		tc.mu.Unlock()
	}
	return cl, found, nil
}

func (tc *tokenCache) drop(connID uuid.UUID) {
	tc.mu.Lock()
	for k, e := range tc.m {
		if e.cl.conn.ID == connID {
			delete(tc.m, k)
		}
	}
	tc.mu.Unlock()
}

// record writes every inbound exchange to the exchange log: method, URL,
// statuses, duration, request and correlation ids, and the bodies with
// tokens masked and truncated.
func (s *Server) record(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		if herr := c.App().ErrorHandler(c, toOCPI(err)); herr != nil {
			return herr
		}
	}
	// The entry outlives the request: every string taken from the context
	// is copied (Fiber's strings point into buffers fasthttp reuses).
	e := roaming.Exchange{ID: roaming.NewExchangeID(), At: start.UTC(), Direction: roaming.DirectionInbound, Method: strings.Clone(c.Method()),
		URL: s.publicURL + string(c.Request().URI().RequestURI()), HTTPStatus: c.Response().StatusCode(),
		DurationMs: float64(time.Since(start).Microseconds()) / 1000,
		RequestID:  string(c.Response().Header.Peek("X-Request-ID")), CorrelationID: string(c.Response().Header.Peek("X-Correlation-ID")),
		RequestBody: roaming.LogBody(c.Body(), s.logBodyBytes), ResponseBody: roaming.LogBody(loggedResponse(c), s.logBodyBytes)}
	if code, ok := envelopeStatus(c.Response().Body()); ok {
		e.OCPIStatus = &code
	}
	if cl, ok := c.Locals(callerKey{}).(caller); ok {
		id := cl.conn.ID
		e.ConnectionID = &id
		if r, err := ocpi.RoutingFrom(c); err == nil && r.HasFrom() {
			e.CountryCode, e.PartyID = strings.Clone(r.FromCountry), strings.Clone(r.FromParty)
		}
		s.touch(c.UserContext(), id, start)
	}
	s.recorder.Record(c.UserContext(), e)
	return nil
}

// loggedResponseKey holds, in a request's Locals, the form of its response
// body that the exchange log keeps when a handler gives a shorter one.
type loggedResponseKey struct{}

// loggedResponse is the response body as the exchange log keeps it.
func loggedResponse(c *fiber.Ctx) []byte {
	if b, ok := c.Locals(loggedResponseKey{}).([]byte); ok {
		return b
	}
	return c.Response().Body()
}

// touch records the partner's last contact, at most every 30 s per
// connection and node, so that a busy partner costs no write per request.
func (s *Server) touch(ctx context.Context, id uuid.UUID, at time.Time) {
	s.touchMu.Lock()
	last := s.touched[id]
	due := at.Sub(last) >= 30*time.Second
	if due {
		s.touched[id] = at
	}
	s.touchMu.Unlock()
	if due {
		if err := db.TouchConnection(context.WithoutCancel(ctx), s.pool, id, at.UTC().Truncate(time.Second)); err != nil {
			s.log.Warn("recording partner contact failed", "connection_id", id, "err", err)
		}
	}
}

// envelopeStatus reads the envelope's status_code from a response body
// without decoding it: every /ocpi answer is an ocpi.Response (handlers and
// ocpi.WriteError alike), which encoding/json writes in field order, data
// first, so the last `"status_code":` of the body is the envelope's own
// (one inside data comes before it; status_message and timestamp after it
// are strings, in which a quote is escaped). Decoding the whole body again
// cost a JSON parse of every answer on the hot path (real-time
// authorization). A body that is not an object, or has no status_code,
// gives false.
func envelopeStatus(body []byte) (int, bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return 0, false
	}
	i := bytes.LastIndex(body, statusCodeKey)
	if i < 0 {
		return 0, false
	}
	rest := bytes.TrimLeft(body[i+len(statusCodeKey):], " \t\r\n")
	code, n := 0, 0
	for n < len(rest) && n < 9 && rest[n] >= '0' && rest[n] <= '9' {
		code = code*10 + int(rest[n]-'0')
		n++
	}
	if n == 0 {
		return 0, false
	}
	return code, true
}

var statusCodeKey = []byte(`"status_code":`)

// toOCPI is the module surface's error mapping onto OCPI statuses, before
// ocpi.WriteError renders the envelope: handshake failures carry the code
// the credentials module prescribes (3001, 3002, 3003, answered with HTTP
// 200 as the request itself was fine), domain validation is 2001.
func toOCPI(err error) error {
	var he *roaming.HandshakeError
	if errors.As(err, &he) {
		return ocpi.Fail(fiber.StatusOK, he.OCPI, he.Error())
	}
	if f, ok := fault.As(err); ok {
		switch f.Kind {
		case fault.KindInvalid:
			return ocpi.InvalidParam(firstPath(f), f.Error())
		case fault.KindNotFound:
			return ocpi.NotFound(f.Error())
		}
		return ocpi.Fail(fiber.StatusBadRequest, ocpi.StatusClientError, f.Error())
	}
	return err
}

func firstPath(f *fault.Error) string {
	if len(f.Fields) > 0 {
		return f.Fields[0].Path
	}
	return ""
}
