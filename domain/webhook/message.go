package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Message is one event as a receiver gets it: the envelope of the guide
// (003 → Webhooks → Message structure). Data is the record as the Admin
// API's GET renders it; for deletions, only its identifying properties.
type Message struct {
	ID               uuid.UUID       `json:"id"`
	OccurredAt       time.Time       `json:"occurred_at"`
	ModificationKind string          `json:"modification_kind"`
	Kind             string          `json:"kind"`
	Data             json.RawMessage `json:"data"`
}

// Body encodes the request body: the message itself when the subscription
// sends one message per request (batch size 1), otherwise a JSON array of
// messages (even when only one is ready), so a receiver sees one shape.
func Body(msgs []Message, batched bool) ([]byte, error) {
	for i := range msgs {
		msgs[i].OccurredAt = msgs[i].OccurredAt.UTC().Truncate(time.Millisecond)
	}
	if !batched && len(msgs) == 1 {
		return json.Marshal(msgs[0])
	}
	return json.Marshal(msgs)
}

// The signature headers. The signature is HMAC-SHA256 under the
// subscription secret over "<timestamp>.<body>", hex, prefixed "v1=";
// during a rotation overlap the header carries one signature per valid
// secret, comma-separated, and a receiver accepts the request if any
// matches a secret it knows.
const (
	HeaderTimestamp = HeaderPrefix + "Timestamp" // Unix seconds when the request was signed
	HeaderSignature = HeaderPrefix + "Signature" // "v1=<hex>[,v1=<hex>]"
	HeaderID        = HeaderPrefix + "Id"        // id of the first message in the body
)

// Sign returns "v1=<hex>" for body signed at ts with secret.
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Secrets returns the secrets to sign with at now: the current one, and the
// previous one while its overlap lasts.
func (s Subscription) Secrets(now time.Time) []string {
	out := []string{s.Secret}
	if s.PreviousSecret != nil && s.PreviousSecretExpiresAt != nil && now.Before(*s.PreviousSecretExpiresAt) {
		out = append(out, *s.PreviousSecret)
	}
	return out
}

// SignatureHeader is the value of HeaderSignature for body at ts.
func SignatureHeader(secrets []string, ts int64, body []byte) string {
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		sigs[i] = Sign(s, ts, body)
	}
	return strings.Join(sigs, ",")
}

// Verify is what a receiver does (README → Webhooks shows the same in a
// few lines): the timestamp must be within tolerance of now (replays of old
// requests fail), and one of the signatures must match secret.
func Verify(secret, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) bool {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return false
	}
	want := Sign(secret, ts, body)
	for _, sig := range strings.Split(signature, ",") {
		if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(sig)), []byte(want)) == 1 {
			return true
		}
	}
	return false
}
