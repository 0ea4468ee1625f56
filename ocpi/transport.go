package ocpi

import (
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// HTTP header names of OCPI 2.2.1 (transport_and_format → "Unique message
// IDs", "Message Routing Headers", "Paginated Response"). Header names are
// case-insensitive; these are the spellings the spec uses.
const (
	HeaderAuthorization = "Authorization"
	HeaderRequestID     = "X-Request-ID"
	HeaderCorrelationID = "X-Correlation-ID"
	HeaderFromCountry   = "OCPI-from-country-code"
	HeaderFromParty     = "OCPI-from-party-id"
	HeaderToCountry     = "OCPI-to-country-code"
	HeaderToParty       = "OCPI-to-party-id"
	HeaderTotalCount    = "X-Total-Count"
	HeaderLimit         = "X-Limit"
	HeaderLink          = "Link"
)

// tokenKeyword is the literal before the credentials token
// (transport_and_format → "Authorization header").
const tokenKeyword = "Token"

// TokenCandidates parses an Authorization header value "Token <t>" and
// returns the credentials tokens it may carry, most likely first.
//
// OCPI 2.2.1 (transport_and_format → "Authorization header") sends the
// token Base64-encoded (RFC 4648 §4), but many 2.1.1 and 2.2 peers send it
// raw, and the spec leaves telling them apart to "trial and error". So:
//   - if the value decodes as standard Base64 (with or without padding) to a
//     credentials token — printable ASCII without whitespace, U+0021–U+007E
//     (credentials → "Credentials object", token) — the decoded value is
//     the first candidate. A trailing line break in the decoded bytes is
//     dropped: the spec's own examples ("ZXhhbXBsZS10b2tlbgo=") encode
//     "example-token\n", as `echo token | base64` does;
//   - the raw value is always a candidate too (when it is a valid token).
//
// The ambiguity: a raw token that happens to be valid Base64 of printable
// ASCII (e.g. a raw "dG9rZW4x" versus the encoded "token1") cannot be told
// apart from the header alone. The caller therefore looks up every
// candidate and accepts the one that matches a known party; with tokens of
// real entropy at most one will match. The keyword "Token" is matched
// case-insensitively and extra spaces are tolerated. A missing keyword, an
// empty token or a value with no valid candidate yields nil.
func TokenCandidates(h string) []string {
	h = strings.TrimSpace(h)
	kw, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(kw, tokenKeyword) {
		return nil
	}
	raw := strings.TrimSpace(rest)
	if raw == "" {
		return nil
	}
	var out []string
	if dec, ok := decodeToken(raw); ok {
		out = append(out, dec)
	}
	if isTokenString(raw) && (len(out) == 0 || out[0] != raw) {
		out = append(out, raw)
	}
	return out
}

// TokenFromHeader returns the most likely credentials token in an
// Authorization header value: the Base64-decoded one when the value decodes
// to a valid token, else the raw one. See TokenCandidates for the
// ambiguity; callers that authenticate should look up every candidate.
func TokenFromHeader(h string) (token string, ok bool) {
	c := TokenCandidates(h)
	if len(c) == 0 {
		return "", false
	}
	return c[0], true
}

// decodeToken decodes s as standard Base64, padded or not, and accepts the
// result only when it is a valid credentials token (a final "\n" or "\r\n"
// stripped first, see TokenCandidates).
func decodeToken(s string) (string, bool) {
	var b []byte
	var err error
	if strings.HasSuffix(s, "=") {
		b, err = base64.StdEncoding.Strict().DecodeString(s)
	} else {
		b, err = base64.RawStdEncoding.Strict().DecodeString(s)
	}
	if err != nil {
		return "", false
	}
	t := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if !isTokenString(t) {
		return "", false
	}
	return t, true
}

// isTokenString reports whether s is a non-empty credentials token:
// printable non-whitespace ASCII, U+0021 to U+007E (credentials →
// "Credentials object", token).
func isTokenString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// EncodeToken returns the Authorization header value for credentials
// token t: "Token " followed by the Base64 (RFC 4648 §4, padded) encoding
// of t when b64 is true, as OCPI 2.2.1 requires (transport_and_format →
// "Authorization header"), or by t itself for peers that expect the raw
// token (OCPI 2.1.1 and many 2.2 implementations); the partner's connection
// setting decides.
func EncodeToken(t string, b64 bool) string {
	if b64 {
		return tokenKeyword + " " + base64.StdEncoding.EncodeToString([]byte(t))
	}
	return tokenKeyword + " " + t
}

// Routing holds the four message routing headers (transport_and_format →
// "Message Routing Headers"). Values keep the casing they were received in;
// compare them with EqualCI (they are CiStrings).
type Routing struct {
	// FromCountry is OCPI-from-country-code, CiString(2).
	FromCountry string
	// FromParty is OCPI-from-party-id, CiString(3).
	FromParty string
	// ToCountry is OCPI-to-country-code, CiString(2).
	ToCountry string
	// ToParty is OCPI-to-party-id, CiString(3).
	ToParty string
}

// RoutingFrom reads and validates the routing headers of the request. The
// headers may be absent (configuration modules never carry them and a
// peer-to-peer connection may omit them; an Open Routing Request omits the
// "to" pair), but a present value must be well-formed: a country code is two
// ASCII letters and a party id three ASCII letters or digits, and each
// country code comes with its party id. A malformed header is an
// InvalidParam error (2001) naming the header.
//
// The headers are read once per request: the result (valid or not) is
// kept in the request's Locals, because the transport middleware
// (Headers), the exchange log and the handler each ask, and on the
// real-time authorization path reading, trimming, copying and validating
// the four headers three times was measurable (docs/performance.md,
// "Round 5"). Request headers do not change while a request is served.
func RoutingFrom(c *fiber.Ctx) (Routing, error) {
	if m, ok := c.Locals(routingKey{}).(routingMemo); ok {
		return m.r, m.err
	}
	r, err := readRouting(c)
	c.Locals(routingKey{}, routingMemo{r, err})
	return r, err
}

// routingKey holds a request's routingMemo in its Locals.
type routingKey struct{}

type routingMemo struct {
	r   Routing
	err error
}

// readRouting is RoutingFrom without the per-request memo.
func readRouting(c *fiber.Ctx) (Routing, error) {
	r := Routing{
		FromCountry: strings.TrimSpace(c.Get(HeaderFromCountry)),
		FromParty:   strings.TrimSpace(c.Get(HeaderFromParty)),
		ToCountry:   strings.TrimSpace(c.Get(HeaderToCountry)),
		ToParty:     strings.TrimSpace(c.Get(HeaderToParty)),
	}
	// Fiber's strings point into the request buffer; keep copies.
	r.FromCountry, r.FromParty = strings.Clone(r.FromCountry), strings.Clone(r.FromParty)
	r.ToCountry, r.ToParty = strings.Clone(r.ToCountry), strings.Clone(r.ToParty)
	return r, r.Validate()
}

// RoutingFromHeader reads and validates the routing headers of h (an
// outbound client reading a partner's response, for example). It applies
// the same rules as RoutingFrom.
func RoutingFromHeader(h http.Header) (Routing, error) {
	r := Routing{
		FromCountry: strings.TrimSpace(h.Get(HeaderFromCountry)),
		FromParty:   strings.TrimSpace(h.Get(HeaderFromParty)),
		ToCountry:   strings.TrimSpace(h.Get(HeaderToCountry)),
		ToParty:     strings.TrimSpace(h.Get(HeaderToParty)),
	}
	return r, r.Validate()
}

// Validate checks the routing values: each present country code is two
// ASCII letters (ISO 3166 alpha-2, any case since it is a CiString), each
// present party id three ASCII letters or digits (ISO 15118), and a
// country code and its party id are given together. It returns an
// InvalidParam error (2001) naming the first bad header.
func (r Routing) Validate() error {
	pairs := [...]struct {
		cn, pn string
		cv, pv string
	}{
		{HeaderFromCountry, HeaderFromParty, r.FromCountry, r.FromParty},
		{HeaderToCountry, HeaderToParty, r.ToCountry, r.ToParty},
	}
	for _, p := range pairs {
		if p.cv != "" && !IsCountryCode(p.cv) {
			return InvalidParam(p.cn, "must be a 2-letter ISO 3166 country code")
		}
		if p.pv != "" && !IsPartyID(p.pv) {
			return InvalidParam(p.pn, "must be a 3-character party id (letters and digits)")
		}
		if p.cv == "" && p.pv != "" {
			return InvalidParam(p.cn, "is required with "+p.pn)
		}
		if p.pv == "" && p.cv != "" {
			return InvalidParam(p.pn, "is required with "+p.cn)
		}
	}
	return nil
}

// HasFrom reports whether the "from" pair is set.
func (r Routing) HasFrom() bool { return r.FromCountry != "" && r.FromParty != "" }

// HasTo reports whether the "to" pair is set.
func (r Routing) HasTo() bool { return r.ToCountry != "" && r.ToParty != "" }

// Reverse swaps "from" and "to": the routing of the response to a request
// (transport_and_format → "Party to Party (without Hub)": a direct
// response is addressed to the requesting party and comes from the
// receiving party).
func (r Routing) Reverse() Routing {
	return Routing{FromCountry: r.ToCountry, FromParty: r.ToParty, ToCountry: r.FromCountry, ToParty: r.FromParty}
}

// Set writes the non-empty routing values into h (an outbound request),
// and removes the headers whose value is empty.
func (r Routing) Set(h http.Header) {
	for _, kv := range r.pairs() {
		if kv[1] == "" {
			h.Del(kv[0])
			continue
		}
		h.Set(kv[0], kv[1])
	}
}

// SetResponse writes the non-empty routing values as response headers of c.
func (r Routing) SetResponse(c *fiber.Ctx) {
	for _, kv := range r.pairs() {
		if kv[1] == "" {
			c.Response().Header.Del(kv[0])
			continue
		}
		c.Set(kv[0], kv[1])
	}
}

func (r Routing) pairs() [4][2]string {
	return [4][2]string{
		{HeaderFromCountry, r.FromCountry},
		{HeaderFromParty, r.FromParty},
		{HeaderToCountry, r.ToCountry},
		{HeaderToParty, r.ToParty},
	}
}

// IsCountryCode reports whether s is two ASCII letters, in any case
// (CiString(2), ISO 3166-1 alpha-2).
func IsCountryCode(s string) bool {
	return len(s) == 2 && isASCIILetter(s[0]) && isASCIILetter(s[1])
}

// IsPartyID reports whether s is three ASCII letters or digits, in any case
// (CiString(3), the ISO 15118 provider/operator id).
func IsPartyID(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if !isASCIILetter(s[i]) && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

func isASCIILetter(b byte) bool { return (b|0x20) >= 'a' && (b|0x20) <= 'z' }

// EqualCI compares two CiStrings (types → "CiString type"): ASCII case is
// ignored, nothing else is folded (unlike strings.EqualFold, which also
// folds non-ASCII letters such as the Kelvin sign into "k").
func EqualCI(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if isASCIILetter(x) && isASCIILetter(y) && x|0x20 == y|0x20 {
			continue
		}
		return false
	}
	return true
}

// Locals keys under which Headers stores the message ids.
type ctxKey int

const (
	requestIDKey ctxKey = iota
	correlationIDKey
)

// RequestIDs returns the X-Request-ID and X-Correlation-ID of the request
// (transport_and_format → "Unique message IDs"), generating a UUID for a
// missing one. Values are remembered on c, so repeated calls (and the
// Headers middleware) agree.
func RequestIDs(c *fiber.Ctx) (requestID, correlationID string) {
	if v, ok := c.Locals(requestIDKey).(string); ok {
		requestID = v
	} else {
		requestID = strings.Clone(strings.TrimSpace(c.Get(HeaderRequestID)))
		if requestID == "" {
			requestID = newID()
		}
		c.Locals(requestIDKey, requestID)
	}
	if v, ok := c.Locals(correlationIDKey).(string); ok {
		correlationID = v
	} else {
		correlationID = strings.Clone(strings.TrimSpace(c.Get(HeaderCorrelationID)))
		if correlationID == "" {
			correlationID = newID()
		}
		c.Locals(correlationIDKey, correlationID)
	}
	return requestID, correlationID
}

// newID returns a UUIDv7 (DESIGN: ids are UUIDv7), or a v4 if the clock
// source fails.
func newID() string {
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}

// Headers is the middleware of the /ocpi surface that implements
// transport_and_format → "Unique message IDs": every response carries the
// request's X-Request-ID and X-Correlation-ID (generated when the request
// has none). The headers are set before the handler runs, so error
// responses written by WriteError carry them as well.
//
// When the request carries both routing pairs, well-formed, the response
// gets them reversed ("Direct response": to the requesting party, from the
// receiving party); a handler may overwrite them with Routing.SetResponse.
// Malformed routing headers are left for the handler to report through
// RoutingFrom.
func Headers() fiber.Handler {
	return func(c *fiber.Ctx) error {
		rid, cid := RequestIDs(c)
		c.Set(HeaderRequestID, rid)
		c.Set(HeaderCorrelationID, cid)
		if r, err := RoutingFrom(c); err == nil && r.HasFrom() && r.HasTo() {
			r.Reverse().SetResponse(c)
		}
		return c.Next()
	}
}

// OK writes a success envelope (status_code 1000) with HTTP 200 and data
// (transport_and_format → "Response format"). data may be nil: the spec
// advises leaving data unset where it does not say what to put there.
func OK(c *fiber.Ctx, data any) error {
	return Respond(c, fiber.StatusOK, data)
}

// Respond writes a success envelope (status_code 1000) with the given HTTP
// status, e.g. 201 when a pushed object was newly created (status_codes:
// "HTTP 201 - Created when the object has been newly created").
func Respond(c *fiber.Ctx, httpStatus int, data any) error {
	return c.Status(httpStatus).JSON(Response{Data: data, StatusCode: StatusSuccess, Timestamp: NewDateTime(time.Now())})
}

// Fail returns an OCPI error with an HTTP status and an OCPI status code;
// WriteError renders it as an envelope without data.
func Fail(httpStatus, code int, msg string) *Error {
	return &Error{HTTP: httpStatus, Code: code, Message: msg}
}

// InvalidParam is status 2001 "Invalid or missing parameters" naming the
// field (a JSON path such as "roles[0].party_id", a query parameter or a
// header). The HTTP status is 200: status_codes says a request that is
// syntactically valid JSON, addresses an existing resource and comes from
// an authenticated sender has reached the OCPI layer and "an HTTP error
// status code MUST NOT be returned"; only JSON that does not parse is an
// HTTP 400 (see Decode).
func InvalidParam(field, msg string) *Error {
	return Fail(fiber.StatusOK, StatusInvalidParams, field+": "+msg)
}

// NotEnoughInfo is status 2002 "Not enough information", HTTP 200 as for
// InvalidParam: a real-time authorization whose answer depends on a place
// the request does not give (mod_tokens, "no LocationReferences
// provided").
func NotEnoughInfo(msg string) *Error {
	return Fail(fiber.StatusOK, StatusNotEnoughInfo, msg)
}

// UnknownLocation is status 2003 "Unknown Location" (status_codes, e.g. a
// START_SESSION command for an unknown location), HTTP 200 as it reached
// the OCPI layer.
func UnknownLocation(msg string) *Error {
	return Fail(fiber.StatusOK, StatusUnknownLocation, msg)
}

// UnknownToken is status 2004 "Unknown Token" with HTTP 404: mod_tokens →
// real-time authorization, "When the eMSP does not know the Token, the
// eMSP SHALL respond with an HTTP status code: 404 (Not Found)" and "the
// response SHALL contain the status code: 2004: Unknown Token, and no data
// field".
func UnknownToken(msg string) *Error {
	return Fail(fiber.StatusNotFound, StatusUnknownToken, msg)
}

// Unauthorized is the answer to a missing Authorization header or a
// credentials token that matches no known party, and to CREDENTIALS_TOKEN_A
// used outside the credentials and versions modules: transport_and_format
// → "Authorization header", "the server SHALL respond with an HTTP 401 -
// Unauthorized status code". The spec names no OCPI code for it; the
// envelope carries 2000 (generic client error), the code the official
// OpenAPI OCPIUnauthorizedResponse shows.
func Unauthorized(msg string) *Error {
	return Fail(fiber.StatusUnauthorized, StatusClientError, msg)
}

// NotFound is HTTP 404 with status 2000, for a GET of an object that does
// not exist (status_codes: "when the resource does NOT exist, the server
// SHOULD return a HTTP 404 - Not Found") and for objects under a
// country_code/party_id the client does not own (transport_and_format →
// "Client Owned Object Push", Errors).
func NotFound(msg string) *Error {
	return Fail(fiber.StatusNotFound, StatusClientError, msg)
}

// MethodNotAllowed is HTTP 405 with status 2000, the answer the credentials
// module prescribes for a POST by an already registered client and a PUT
// or DELETE by an unregistered one (credentials → POST, PUT, DELETE).
func MethodNotAllowed(msg string) *Error {
	return Fail(fiber.StatusMethodNotAllowed, StatusClientError, msg)
}
