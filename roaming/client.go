package roaming

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/roamnode/roamnode/ocpi"
)

// Defaults of Options.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultMaxRetries    = 3
	DefaultBackoffMin    = 250 * time.Millisecond
	DefaultBackoffMax    = 10 * time.Second
	DefaultMaxRetryAfter = time.Minute
	DefaultMaxBodyBytes  = 10 << 20
	DefaultLogBodyBytes  = 4 << 10
	DefaultMaxPages      = 10000
)

// Options configure a Client. A zero field takes its default.
type Options struct {
	// Timeout bounds one attempt: connecting, sending, and reading the whole
	// answer. Default 10 s.
	Timeout time.Duration
	// MaxRetries is the number of retries after the first attempt, when the
	// retry policy allows one (see Client.Do). Default 3; negative: never retry.
	MaxRetries int
	// BackoffMin and BackoffMax bound the exponential backoff between
	// attempts (defaults 250 ms and 10 s); each wait is jittered.
	BackoffMin time.Duration
	BackoffMax time.Duration
	// MaxRetryAfter is the longest Retry-After of a 429 or 503 answer that
	// the client waits for before retrying; a longer one ends the call with
	// the 429/503 error (Error.RetryAfter tells the caller when to come
	// back). Default 1 min.
	MaxRetryAfter time.Duration
	// MaxBodyBytes bounds an answer's body; a larger one is a KindTooLarge
	// error and is never read beyond the limit. Default 10 MiB.
	MaxBodyBytes int64
	// LogBodyBytes is how much of each (masked) body the exchange log keeps.
	// Default 4 KiB.
	LogBodyBytes int
	// MaxPages bounds the pages one Pages call follows. Default 10 000.
	MaxPages int
}

// withDefaults fills the zero fields of o.
func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = DefaultBackoffMin
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = o.BackoffMin
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.LogBodyBytes <= 0 {
		o.LogBodyBytes = DefaultLogBodyBytes
	}
	if o.MaxPages <= 0 {
		o.MaxPages = DefaultMaxPages
	}
	return o
}

// Target says whom a request goes to and how to authenticate: it is what
// the client needs from a partner connection.
type Target struct {
	// ConnectionID is the partner connection, for the exchange log.
	ConnectionID *uuid.UUID
	// Token is the credentials token we use with this partner.
	Token string
	// Base64Token sends the token Base64-encoded, as OCPI 2.2.1 requires;
	// false sends it raw, as many 2.1.1/2.2 implementations expect
	// (transport_and_format, Authorization header, NOTE).
	Base64Token bool
	// Routing headers (transport_and_format, Message Routing Headers); an
	// empty value omits its header, as for the configuration modules
	// (credentials, versions), which SHALL NOT be routed.
	FromCountry string
	FromParty   string
	ToCountry   string
	ToParty     string
	// CountryCode and PartyID of the partner, for the exchange log.
	CountryCode string
	PartyID     string
}

// Authorization returns the Authorization header value for t:
// "Token " followed by the token, Base64-encoded (RFC 4648 section 4) when
// t.Base64Token is set. It is empty when t has no token.
func (t Target) Authorization() string {
	if t.Token == "" {
		return ""
	}
	if t.Base64Token {
		return "Token " + base64.StdEncoding.EncodeToString([]byte(t.Token))
	}
	return "Token " + t.Token
}

// Envelope is the OCPI response envelope as received (transport_and_format,
// Response format); Data is left raw for the caller to decode.
type Envelope struct {
	StatusCode    int
	StatusMessage string
	// Timestamp is zero when the partner sent none or an unparsable one.
	Timestamp ocpi.DateTime
	// Data is nil when the envelope has no data field.
	Data json.RawMessage
}

// Response is a partner's answer.
type Response struct {
	HTTPStatus int
	Header     http.Header
	// Envelope is zero when the answer was not an envelope.
	Envelope Envelope
}

// Kind classifies an Error.
type Kind int

// The kinds of Error.
const (
	// KindNetwork: no answer (connection refused, reset, unknown host…).
	KindNetwork Kind = iota + 1
	// KindTimeout: no complete answer within Options.Timeout, or the
	// context's deadline passed.
	KindTimeout
	// KindHTTP: the answer's HTTP status is not 2xx.
	KindHTTP
	// KindOCPI: a 2xx answer whose envelope status_code is not a success (1xxx).
	KindOCPI
	// KindMalformed: a 2xx answer that is not a JSON OCPI envelope, or whose
	// data does not decode.
	KindMalformed
	// KindTooLarge: the answer's body exceeds Options.MaxBodyBytes.
	KindTooLarge
	// KindCanceled: the caller's context was cancelled.
	KindCanceled
)

// String names k.
func (k Kind) String() string {
	switch k {
	case KindNetwork:
		return "network"
	case KindTimeout:
		return "timeout"
	case KindHTTP:
		return "http"
	case KindOCPI:
		return "ocpi"
	case KindMalformed:
		return "malformed"
	case KindTooLarge:
		return "too large"
	case KindCanceled:
		return "canceled"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is a failed OCPI request to a partner.
type Error struct {
	Kind Kind
	// Method and URL of the request.
	Method string
	URL    string
	// HTTPStatus is the answer's HTTP status, 0 when there was none.
	HTTPStatus int
	// OCPIStatus is the envelope's status_code, 0 when there was no envelope.
	OCPIStatus int
	// Message is the partner's status_message, or what went wrong.
	Message string
	// RetryAfter is the wait a 429 or 503 answer asked for, 0 when none.
	RetryAfter time.Duration
	// Unsent is true when the request provably never reached the partner
	// (the connection could not be made), so re-sending it is safe even for
	// a non-idempotent request.
	Unsent bool
	// Attempts is how many attempts were made.
	Attempts int
	// Err is the underlying error, if any.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("roaming: ")
	b.WriteString(e.Kind.String())
	b.WriteString(" error")
	if e.Method != "" {
		b.WriteString(": " + e.Method + " " + e.URL)
	}
	if e.HTTPStatus != 0 {
		b.WriteString(": HTTP " + strconv.Itoa(e.HTTPStatus))
	}
	if e.OCPIStatus != 0 {
		b.WriteString(": status_code " + strconv.Itoa(e.OCPIStatus))
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Attempts > 1 {
		b.WriteString(" (after " + strconv.Itoa(e.Attempts) + " attempts)")
	}
	return b.String()
}

// answered reports whether the partner gave a complete answer, which the
// retry policy and the caller then judge by its status.
func (e *Error) answered() bool {
	return e.Kind == KindHTTP || e.Kind == KindOCPI || e.Kind == KindMalformed
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// correlationKey is the context key of the correlation id.
type correlationKey struct{}

// WithCorrelationID returns ctx carrying id as the X-Correlation-ID of the
// requests made with it (transport_and_format, Unique message IDs: every
// request caused by one incoming request carries its correlation id).
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey{}, id)
}

// CorrelationID returns the correlation id ctx carries, "" when none.
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}

// Client sends OCPI requests to partners. It is safe for concurrent use;
// its connections are pooled and kept alive across calls and partners.
type Client struct {
	opts Options
	rec  Recorder
	base *http.Transport
}

// NewClient returns a Client with opts (zero fields take the defaults) that
// records every attempt with rec; rec may be nil.
func NewClient(opts Options, rec Recorder) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 32
	tr.IdleConnTimeout = 90 * time.Second
	return &Client{opts: opts.withDefaults(), rec: rec, base: tr}
}

// CloseIdleConnections closes the pooled connections not in use.
func (c *Client) CloseIdleConnections() { c.base.CloseIdleConnections() }

// idempotent reports whether method may be re-sent after it may have
// reached the partner. OCPI pushes whole objects with PUT (transport_and_format,
// PUT; Client Owned Object Push), so sending one twice leaves the same
// state. POST (credentials registration, commands, CDR pushes) and PATCH
// (partial updates of sessions, EVSE statuses) are not; DELETE is kept with
// them because the OCPI offline rule says not to re-send failed pushes
// (transport_and_format, Offline behaviour): the receiver resynchronises by
// pulling.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut:
		return true
	}
	return false
}

// Do sends one OCPI request and returns the partner's answer.
//
// body is sent as JSON: nil sends no body, []byte and json.RawMessage are
// sent as they are, anything else is marshalled. Every request carries
// Authorization (Target.Authorization), X-Request-ID (a new UUID for each
// logical request, kept across its retries so that the partner can tell a
// retry from a new request), X-Correlation-ID (CorrelationID(ctx), or a new
// UUID), Accept, Content-Type when there is a body (transport_and_format,
// Request format) and the routing headers of t.
//
// Retries, at most Options.MaxRetries, with jittered exponential backoff:
// GET and PUT are retried after a network error, a timeout, a 5xx (not 501)
// or a 429; POST, PATCH and DELETE only when the request provably did not
// reach the partner (the connection could not be made: refused, unknown
// host). A 429 or 503 with Retry-After (seconds or an HTTP date) waits that
// long, unless it is longer than Options.MaxRetryAfter; no retry starts
// whose wait would end after the context's deadline: the last answer is
// returned instead. Redirects are not followed (the token must not go
// elsewhere); a 3xx is a KindHTTP error.
//
// Every attempt is recorded with the Recorder as one Exchange.
//
// The error, if any, is an *Error. With KindHTTP, KindOCPI and KindMalformed
// the Response is returned too. A 2xx answer succeeds only when it is an
// envelope with a 1xxx status_code (status_codes, 1xxx: Success). An
// invalid method, URL or body is reported as a plain error before anything
// is sent.
func (c *Client) Do(ctx context.Context, t Target, method, rawURL string, body any) (*Response, error) {
	method = strings.ToUpper(method)
	if method == "" || strings.ContainsAny(method, " \t\r\n") {
		return nil, fmt.Errorf("roaming: invalid method %q", method)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("roaming: invalid URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("roaming: URL %q is not an absolute http(s) URL", rawURL)
	}
	payload, err := encodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("roaming: encode %s body: %w", method, err)
	}
	corr := CorrelationID(ctx)
	if corr == "" {
		corr = newID()
	}
	cl := &call{
		c:             c,
		t:             t,
		method:        method,
		url:           rawURL,
		idempotent:    idempotent(method),
		requestID:     newID(),
		correlationID: corr,
		logReqBody:    LogBody(payload, c.opts.LogBodyBytes),
		recCtx:        context.WithoutCancel(ctx),
	}
	var raw any // nil: no body
	if payload != nil {
		raw = payload
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, rawURL, raw)
	if err != nil {
		return nil, fmt.Errorf("roaming: new request: %w", err)
	}
	cl.setHeaders(req.Header, payload != nil)

	rc := &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport:     cl,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		RetryWaitMin: c.opts.BackoffMin,
		RetryWaitMax: c.opts.BackoffMax,
		RetryMax:     c.opts.MaxRetries,
		CheckRetry:   cl.checkRetry,
		Backoff:      cl.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	resp, err := rc.Do(req)
	if resp != nil {
		resp.Body.Close() // an in-memory copy; see call.RoundTrip
	}
	return cl.result(ctx, err)
}

// GetJSON GETs url and decodes the envelope's data into out (when the
// envelope has data). A data field that does not decode into out is a
// KindMalformed error.
func (c *Client) GetJSON(ctx context.Context, t Target, url string, out any) (*Response, error) {
	resp, err := c.Do(ctx, t, http.MethodGet, url, nil)
	if err != nil {
		return resp, err
	}
	if len(resp.Envelope.Data) > 0 {
		if err := json.Unmarshal(resp.Envelope.Data, out); err != nil {
			return resp, &Error{Kind: KindMalformed, Method: http.MethodGet, URL: url, HTTPStatus: resp.HTTPStatus,
				OCPIStatus: resp.Envelope.StatusCode, Message: "data does not decode: " + err.Error(), Err: err}
		}
	}
	return resp, nil
}

// encodeBody returns the JSON body to send, nil for none.
func encodeBody(body any) ([]byte, error) {
	switch b := body.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return b, nil
	case []byte:
		return b, nil
	}
	return json.Marshal(body)
}

// newID returns a new UUIDv7 string for X-Request-ID / X-Correlation-ID
// (transport_and_format, Unique message IDs: "advised to use GUID/UUID").
func newID() string { return NewExchangeID().String() }

// call is one logical request: its retry policy, its transport hook that
// records every attempt, and the outcome of its last attempt. A call is used
// by one goroutine: retryablehttp makes its attempts one after the other.
type call struct {
	c                        *Client
	t                        Target
	method, url              string
	idempotent               bool
	requestID, correlationID string
	logReqBody               string
	recCtx                   context.Context

	attempts int           // attempts made so far
	last     attemptResult // outcome of the latest attempt
	wait     time.Duration // wait before the next attempt, set by checkRetry
}

// attemptResult is what one attempt produced.
type attemptResult struct {
	status int
	header http.Header
	body   []byte
	env    *Envelope // nil when body is not an envelope
	err    *Error    // nil on success
}

// setHeaders sets the OCPI request headers, spelled as the spec spells them
// (header names are case-insensitive; partners are not always).
func (cl *call) setHeaders(h http.Header, hasBody bool) {
	set := func(name, v string) {
		if v != "" {
			h[name] = []string{v}
		}
	}
	set("Authorization", cl.t.Authorization())
	set("X-Request-ID", cl.requestID)
	set("X-Correlation-ID", cl.correlationID)
	set("Accept", "application/json")
	if hasBody {
		set("Content-Type", "application/json")
	}
	set("OCPI-from-country-code", cl.t.FromCountry)
	set("OCPI-from-party-id", cl.t.FromParty)
	set("OCPI-to-country-code", cl.t.ToCountry)
	set("OCPI-to-party-id", cl.t.ToParty)
}

// RoundTrip makes one attempt: it bounds it by Options.Timeout, reads the
// whole answer (at most Options.MaxBodyBytes) so the attempt can be judged
// and recorded, and hands retryablehttp an in-memory copy of the body.
// Failures without a usable answer come back as *Error.
func (cl *call) RoundTrip(req *http.Request) (*http.Response, error) {
	cl.attempts++
	start := time.Now()
	actx, cancel := context.WithTimeout(req.Context(), cl.c.opts.Timeout)
	defer cancel()

	var res attemptResult
	resp, err := cl.c.base.RoundTrip(req.WithContext(actx))
	if err != nil {
		res.err = cl.transportError(err, actx, req.Context())
	} else {
		res.status, res.header = resp.StatusCode, resp.Header
		body, rerr := readBody(resp, cl.c.opts.MaxBodyBytes)
		resp.Body.Close()
		res.body = body
		switch {
		case errors.Is(rerr, errTooLarge):
			res.err = &Error{Kind: KindTooLarge, HTTPStatus: resp.StatusCode,
				Message: fmt.Sprintf("answer larger than %d bytes", cl.c.opts.MaxBodyBytes)}
		case rerr != nil:
			res.err = cl.transportError(rerr, actx, req.Context())
			res.err.HTTPStatus = resp.StatusCode
		default:
			res.env, res.err = interpret(resp.StatusCode, resp.Header, body)
		}
	}
	if res.err != nil {
		res.err.Method, res.err.URL = cl.method, cl.url
	}
	cl.last = res
	cl.record(start, time.Since(start), res)

	if resp == nil || res.err != nil && !res.err.answered() {
		return nil, res.err
	}
	resp.Body = io.NopCloser(bytes.NewReader(res.body))
	resp.ContentLength = int64(len(res.body))
	return resp, nil
}

// errTooLarge marks an answer beyond Options.MaxBodyBytes.
var errTooLarge = errors.New("body too large")

// readBody reads resp's body, never more than limit+1 bytes.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, errTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return b, err
	}
	if int64(len(b)) > limit {
		return b, errTooLarge
	}
	return b, nil
}

// transportError classifies an error of the transport: whether the request
// could have reached the partner, and whether time ran out.
func (cl *call) transportError(err error, attemptCtx, callCtx context.Context) *Error {
	e := &Error{Kind: KindNetwork, Message: err.Error(), Err: err}
	// A failed dial (refused, unknown host, unreachable) means no byte of
	// the request was sent.
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		e.Unsent = true
	}
	var ne net.Error
	switch {
	case callCtx.Err() != nil:
		e.Err = callCtx.Err()
		e.Kind = KindCanceled
		if errors.Is(e.Err, context.DeadlineExceeded) {
			e.Kind = KindTimeout
		}
		e.Message = e.Err.Error()
	case errors.Is(attemptCtx.Err(), context.DeadlineExceeded):
		e.Kind = KindTimeout
		e.Message = fmt.Sprintf("no complete answer within %s", cl.c.opts.Timeout)
	case errors.As(err, &ne) && ne.Timeout():
		e.Kind = KindTimeout
	}
	return e
}

// interpret judges a complete answer (status_codes; transport_and_format,
// Response format).
func interpret(status int, h http.Header, body []byte) (*Envelope, *Error) {
	env, perr := parseEnvelope(body)
	if status < 200 || status > 299 {
		e := &Error{Kind: KindHTTP, HTTPStatus: status, Message: http.StatusText(status)}
		if env != nil {
			e.OCPIStatus = env.StatusCode
			if env.StatusMessage != "" {
				e.Message = env.StatusMessage
			}
		}
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			e.RetryAfter, _ = parseRetryAfter(h.Get("Retry-After"), time.Now())
		}
		return env, e
	}
	if perr != nil {
		return nil, &Error{Kind: KindMalformed, HTTPStatus: status, Message: perr.Error(), Err: perr}
	}
	if env.StatusCode < 1000 || env.StatusCode > 1999 {
		return env, &Error{Kind: KindOCPI, HTTPStatus: status, OCPIStatus: env.StatusCode, Message: env.StatusMessage}
	}
	return env, nil
}

// parseEnvelope decodes an OCPI envelope: a JSON object with an integer
// status_code. The timestamp is required by the spec but a missing or bad
// one is tolerated (left zero): it only serves debugging.
func parseEnvelope(body []byte) (*Envelope, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("empty body, not an OCPI envelope")
	}
	if trimmed[0] != '{' {
		return nil, errors.New("body is not a JSON object, not an OCPI envelope")
	}
	var raw struct {
		Data          json.RawMessage `json:"data"`
		StatusCode    *int            `json:"status_code"`
		StatusMessage json.RawMessage `json:"status_message"`
		Timestamp     json.RawMessage `json:"timestamp"`
	}
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return nil, fmt.Errorf("invalid JSON envelope: %w", err)
	}
	if raw.StatusCode == nil {
		return nil, errors.New("no status_code, not an OCPI envelope")
	}
	env := &Envelope{StatusCode: *raw.StatusCode, Data: raw.Data}
	if len(raw.StatusMessage) > 0 {
		if err := json.Unmarshal(raw.StatusMessage, &env.StatusMessage); err != nil {
			env.StatusMessage = string(raw.StatusMessage)
		}
	}
	if len(raw.Timestamp) > 0 {
		var ts ocpi.DateTime
		if err := json.Unmarshal(raw.Timestamp, &ts); err == nil {
			env.Timestamp = ts
		}
	}
	return env, nil
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 section 10.2.3). A date in the past is a zero wait.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(365*24*time.Hour/time.Second) {
			s = int64(365 * 24 * time.Hour / time.Second) // no overflow
		}
		return time.Duration(s) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}

// checkRetry is the per-call retry policy (DESIGN, outbound HTTP: GETs
// retried, non-idempotent pushes only when the partner did not receive
// them). It also picks the wait before the retry, so that a retry whose
// wait would outlast the context is not started.
func (cl *call) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil || cl.attempts > cl.c.opts.MaxRetries {
		return false, nil
	}
	retry := false
	switch {
	case err != nil:
		var e *Error
		if errors.As(err, &e) {
			transient := (e.Kind == KindNetwork || e.Kind == KindTimeout) && !permanent(e.Err)
			retry = e.Unsent && transient || cl.idempotent && transient
		}
	case resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		retry = cl.idempotent
	}
	if !retry {
		return false, nil
	}
	wait := cl.jitteredBackoff()
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			if ra > cl.c.opts.MaxRetryAfter {
				return false, nil
			}
			wait = ra
		}
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return false, nil
	}
	cl.wait = wait
	return true, nil
}

// permanent reports errors that a retry cannot cure: the partner's TLS
// certificate is not trusted.
func permanent(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci)
}

// jitteredBackoff is the wait after the latest attempt: exponential in the
// attempt number from BackoffMin, capped at BackoffMax, with "equal
// jitter" (a random point in the upper half) so that many clients failing
// together do not retry together.
func (cl *call) jitteredBackoff() time.Duration {
	b := cl.c.opts.BackoffMin
	for i := 1; i < cl.attempts && b < cl.c.opts.BackoffMax; i++ {
		b *= 2
	}
	b = min(b, cl.c.opts.BackoffMax)
	half := b / 2
	return half + rand.N(b-half+1)
}

// backoff is retryablehttp's Backoff hook: the wait checkRetry chose.
func (cl *call) backoff(_, _ time.Duration, _ int, _ *http.Response) time.Duration {
	return cl.wait
}

// result turns the outcome of the retry loop into Do's results.
func (cl *call) result(ctx context.Context, err error) (*Response, error) {
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			// retryablehttp gave up while waiting to retry: the context ended.
			e = &Error{Kind: KindNetwork, Method: cl.method, URL: cl.url, Message: err.Error(), Err: err}
			if cerr := ctx.Err(); cerr != nil {
				e.Kind, e.Err, e.Message = KindCanceled, cerr, cerr.Error()
				if errors.Is(cerr, context.DeadlineExceeded) {
					e.Kind = KindTimeout
				}
			}
		}
		e.Attempts = cl.attempts
		return nil, e
	}
	res := cl.last
	r := &Response{HTTPStatus: res.status, Header: res.header}
	if res.env != nil {
		r.Envelope = *res.env
	}
	if res.err != nil {
		res.err.Attempts = cl.attempts
		return r, res.err
	}
	return r, nil
}

// record logs one attempt with the Recorder.
func (cl *call) record(start time.Time, d time.Duration, res attemptResult) {
	if cl.c.rec == nil {
		return
	}
	e := Exchange{
		ID:            NewExchangeID(),
		At:            start.UTC(),
		Direction:     DirectionOutbound,
		CountryCode:   cl.t.CountryCode,
		PartyID:       cl.t.PartyID,
		Method:        cl.method,
		URL:           cl.url,
		HTTPStatus:    res.status,
		DurationMs:    float64(d.Microseconds()) / 1000,
		Attempt:       cl.attempts,
		RequestID:     cl.requestID,
		CorrelationID: cl.correlationID,
		RequestBody:   cl.logReqBody,
		ResponseBody:  LogBody(res.body, cl.c.opts.LogBodyBytes),
	}
	if cl.t.ConnectionID != nil {
		id := *cl.t.ConnectionID
		e.ConnectionID = &id
	}
	if res.env != nil {
		sc := res.env.StatusCode
		e.OCPIStatus = &sc
	}
	if res.err != nil {
		e.Error = res.err.Error()
	}
	cl.c.rec.Record(cl.recCtx, e)
}
