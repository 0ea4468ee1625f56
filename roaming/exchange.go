// Package roaming holds roamnode's side of its OCPI partnerships: the
// connections to partners, the outbound OCPI client, push and pull
// synchronisation and the exchange log of every OCPI request in both
// directions.
package roaming

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Direction tells whether an exchange was a request a partner sent to us
// (inbound) or one we sent to a partner (outbound).
type Direction string

// The two directions of an exchange.
const (
	DirectionInbound  Direction = "inbound"
	DirectionOutbound Direction = "outbound"
)

// Exchange is one OCPI HTTP request and its answer, as kept in the exchange
// log for partner troubleshooting. Outbound, the Client records one Exchange
// per attempt (a retried request gives several, with the same RequestID and
// increasing Attempt). Bodies are masked (MaskSecrets) and then truncated
// (TruncateBody) before they are put here, so an Exchange never holds a
// complete credentials token.
type Exchange struct {
	// ID is a UUIDv7, so the log sorts by time.
	ID uuid.UUID
	// At is when the request (attempt) started, UTC.
	At time.Time
	// Direction is inbound or outbound.
	Direction Direction
	// ConnectionID is the partner connection the exchange belongs to, when known.
	ConnectionID *uuid.UUID
	// CountryCode and PartyID identify the partner when known.
	CountryCode string
	PartyID     string
	// Method and URL of the request; the URL keeps its query (offset, limit,
	// date_from…), which never holds secrets in OCPI.
	Method string
	URL    string
	// HTTPStatus is the HTTP status of the answer, 0 when none was received.
	HTTPStatus int
	// OCPIStatus is the status_code of the answer's envelope, nil when the
	// answer was not an envelope.
	OCPIStatus *int
	// DurationMs is the time from sending the request to having read the
	// answer, in milliseconds.
	DurationMs float64
	// Attempt is the 1-based attempt number of an outbound request; 1 for
	// inbound exchanges.
	Attempt int
	// RequestID and CorrelationID are the X-Request-ID and X-Correlation-ID
	// headers (transport_and_format, Unique message IDs).
	RequestID     string
	CorrelationID string
	// RequestBody and ResponseBody are masked and truncated; see LogBody.
	RequestBody  string
	ResponseBody string
	// Error describes why the exchange failed (network, timeout, HTTP or OCPI
	// error, malformed answer); empty on success.
	Error string
}

// Recorder stores exchanges. Record must not fail the exchange it records:
// it has no error result, and an implementation that cannot store an
// exchange logs that itself. It is called synchronously on the request's
// path with a context that is not cancelled with the request, so a slow
// implementation should hand the write off.
type Recorder interface {
	Record(ctx context.Context, e Exchange)
}

// NewExchangeID returns a new UUIDv7 for an Exchange (DESIGN: ids are v7).
func NewExchangeID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the random source fails; a v4 still
		// identifies the row uniquely.
		return uuid.New()
	}
	return id
}

// maskedKey is the JSON field whose string values are secrets: the
// credentials token (credentials module, Credentials object "token").
const maskedKey = "token"

// MaskSecrets returns body with the string value of every JSON field named
// "token" (compared case-insensitively, at any depth) replaced by MaskToken
// of that value, e.g. the credentials token in a Credentials object. Values
// of other types are kept: a "token" object (the Token object inside a
// START_SESSION command) is not a secret. The rest of the body, whitespace
// and key order included, is kept byte for byte. The scan does not need
// valid JSON, so a truncated or broken body is masked too. MaskSecrets never
// modifies body; it returns body itself when nothing was masked.
func MaskSecrets(body []byte) []byte {
	var out []byte // nil until the first replacement
	last := 0      // body[last:i] not yet copied to out
	for i := 0; i < len(body); {
		if body[i] != '"' {
			i++
			continue
		}
		end := stringEnd(body, i)
		if end < 0 {
			break // unterminated string: nothing more to mask
		}
		j := skipSpace(body, end)
		if j >= len(body) || body[j] != ':' || !isMaskedKey(body[i:end]) {
			i = end
			continue
		}
		// A key named token: mask the value when it is a string.
		v := skipSpace(body, j+1)
		if v >= len(body) || body[v] != '"' {
			i = v
			continue
		}
		var s string
		vend := stringEnd(body, v)
		switch {
		case vend < 0:
			// Unterminated value (a cut body): mask what is there.
			vend = len(body)
			s = string(body[v+1:])
		case json.Unmarshal(body[v:vend], &s) != nil:
			s = string(body[v+1 : vend-1]) // bad escapes: mask the raw text
		}
		out = append(out, body[last:v]...)
		out = appendJSONString(out, MaskToken(s))
		last = vend
		i = vend
	}
	if out == nil {
		return body
	}
	return append(out, body[last:]...)
}

// stringEnd returns the index just after the closing quote of the JSON
// string starting at b[start] (a quote), or -1 when it is not terminated.
func stringEnd(b []byte, start int) int {
	for i := start + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++ // skip the escaped character
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipSpace returns the index of the first non-whitespace byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// isMaskedKey reports whether the quoted JSON string q names the token field.
func isMaskedKey(q []byte) bool {
	if len(q) > 64 {
		return false
	}
	if bytes.IndexByte(q, '\\') < 0 {
		// No escapes (nearly every key): the key is the bytes between the
		// quotes. MaskSecrets asks this of every key of every logged body,
		// so decoding each one as JSON was a hot-path cost.
		return strings.EqualFold(string(q[1:len(q)-1]), maskedKey)
	}
	var k string
	if err := json.Unmarshal(q, &k); err != nil {
		return false
	}
	return strings.EqualFold(k, maskedKey)
}

// appendJSONString appends s as a JSON string without HTML escaping.
func appendJSONString(dst []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(dst, bytes.TrimRight(buf.Bytes(), "\n")...)
}

// maskMinReveal is the shortest secret of which MaskToken shows the last four
// characters; of a shorter one, showing four would give most of it away.
const maskMinReveal = 8

// MaskToken hides a secret for logs: "***" followed by its last four
// characters, enough to tell tokens apart; a secret shorter than eight
// characters becomes "***", and an empty one stays empty.
func MaskToken(s string) string {
	if s == "" {
		return ""
	}
	n := utf8.RuneCountInString(s)
	if n < maskMinReveal {
		return "***"
	}
	r := []rune(s)
	return "***" + string(r[n-4:])
}

// MaskAuthorization hides the credentials token of an Authorization header
// value (transport_and_format, Authorization header) and keeps its scheme:
// "Token <encoded>" becomes "Token ***abcd". When the encoded token is
// Base64 of printable UTF-8 (OCPI 2.2.1 encoding) the last four characters
// shown are those of the decoded token, so they match MaskToken of the
// stored token whatever the partner's encoding; otherwise (a raw token, as
// many 2.1.1/2.2 implementations send) they are those of the value itself.
func MaskAuthorization(h string) string {
	h = strings.TrimSpace(h)
	if h == "" {
		return ""
	}
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok {
		return MaskToken(h)
	}
	cred = strings.TrimSpace(cred)
	if dec, err := base64.StdEncoding.DecodeString(cred); err == nil && printable(dec) {
		cred = string(dec)
	}
	return scheme + " " + MaskToken(cred)
}

// printable reports whether b is non-empty valid UTF-8 without control characters.
func printable(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// TruncateBody renders body as text for the exchange log: at most maxBytes
// bytes of it, cut on a UTF-8 character boundary, followed by the marker
// "…[truncated N bytes]" where N counts the bytes left out. Invalid UTF-8
// and NUL bytes become U+FFFD so the text can be stored in a Postgres text
// column. maxBytes ≤ 0 keeps the whole body.
func TruncateBody(body []byte, maxBytes int) string {
	cut := len(body)
	if maxBytes > 0 && len(body) > maxBytes {
		cut = maxBytes
		// Step back to the start of the character that straddles the cut
		// (at most utf8.UTFMax-1 continuation bytes).
		for k := 0; k < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(body[cut]); k++ {
			cut--
		}
		if !utf8.RuneStart(body[cut]) {
			cut = maxBytes // not UTF-8 here anyway: cut at the byte limit
		}
	}
	s := strings.ToValidUTF8(string(body[:cut]), "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if cut < len(body) {
		s += "…[truncated " + strconv.Itoa(len(body)-cut) + " bytes]"
	}
	return s
}

// LogBody is the form in which a body goes into the exchange log: secrets
// masked first (so a cut cannot leave part of a token unmasked), then
// truncated to maxBytes.
func LogBody(body []byte, maxBytes int) string {
	if len(body) == 0 {
		return ""
	}
	return TruncateBody(MaskSecrets(body), maxBytes)
}
