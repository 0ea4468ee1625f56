package webhook

import (
	"time"

	"github.com/google/uuid"
)

// View is a subscription as the Admin API returns it and as
// "webhook-subscription" events carry it. The secrets never appear; header
// values are masked (they usually are credentials).
type View struct {
	ID                      uuid.UUID         `json:"id"`
	ExternalReference       *string           `json:"external_reference"`
	OwnerAccountID          uuid.UUID         `json:"owner_account_id"`
	Name                    *string           `json:"name"`
	URL                     string            `json:"url"`
	Kinds                   []string          `json:"kinds"`
	Headers                 map[string]string `json:"headers"`
	BatchSize               int               `json:"batch_size"`
	BatchLingerMs           int               `json:"batch_linger_ms"`
	State                   State             `json:"state"`
	Attempts                int               `json:"attempts"`
	FailingSince            *time.Time        `json:"failing_since"`
	NextAttemptAt           *time.Time        `json:"next_attempt_at"`
	LastError               *string           `json:"last_error"`
	LastDeliveredAt         *time.Time        `json:"last_delivered_at"`
	PreviousSecretExpiresAt *time.Time        `json:"previous_secret_expires_at"`
	ExternalUpdatedAt       *time.Time        `json:"external_updated_at"`
	CreatedAt               time.Time         `json:"created_at"`
	UpdatedAt               time.Time         `json:"updated_at"`
}

// ViewOf renders s.
func ViewOf(s Subscription) View {
	h := make(map[string]string, len(s.Headers))
	for k, v := range s.Headers {
		h[k] = Mask(v)
	}
	kinds := s.Kinds
	if kinds == nil {
		kinds = []string{}
	}
	v := View{ID: s.ID, ExternalReference: s.ExternalReference, OwnerAccountID: s.OwnerAccountID, Name: s.Name, URL: s.URL,
		Kinds: kinds, Headers: h, BatchSize: s.BatchSize, BatchLingerMs: s.BatchLingerMs, State: s.State, Attempts: s.Attempts,
		FailingSince: utc(s.FailingSince), NextAttemptAt: utc(s.NextAttemptAt), LastError: s.LastError,
		LastDeliveredAt: utc(s.LastDeliveredAt), ExternalUpdatedAt: utc(s.ExternalUpdatedAt),
		CreatedAt: s.CreatedAt.UTC(), UpdatedAt: s.UpdatedAt.UTC()}
	if len(s.Secrets(time.Now())) > 1 {
		v.PreviousSecretExpiresAt = utc(s.PreviousSecretExpiresAt)
	}
	return v
}

// Mask hides a header value, keeping its last four characters when it is
// long enough that they give nothing away.
func Mask(v string) string {
	if len(v) < 16 {
		return "…"
	}
	return "…" + v[len(v)-4:]
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
