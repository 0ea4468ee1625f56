// Package event defines the domain events that every write records in the
// transactional outbox (same transaction as the write), and that webhooks
// deliver later. The envelope follows the guide (003 → Webhooks → Message
// structure): id, occurred_at, modification_kind, kind, data.
package event

import (
	"time"

	"github.com/google/uuid"
)

// Modification says what happened to the record.
type Modification string

// The modification kinds of the guide.
const (
	Create Modification = "create"
	Update Modification = "update"
	Delete Modification = "delete"
)

// Event is one change. Data is the record as the Admin API's GET renders it
// (for deletions, only its identifying properties).
type Event struct {
	ID               uuid.UUID
	OccurredAt       time.Time
	Kind             string
	ModificationKind Modification
	AdministrationID *uuid.UUID
	Data             any
}

// New returns an event with a fresh UUIDv7 occurring now.
func New(kind string, mod Modification, admin *uuid.UUID, data any) Event {
	return Event{ID: uuid.Must(uuid.NewV7()), OccurredAt: time.Now().UTC(), Kind: kind, ModificationKind: mod, AdministrationID: admin, Data: data}
}
