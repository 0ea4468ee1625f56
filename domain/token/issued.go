package token

import (
	"time"

	"github.com/google/uuid"
)

// Issued is an MSP token this node issues (guide, "Mobility Service
// Provider"), with everything the OCPI Token object and the validity rule
// need: its identity, its configuration and all its links (each with its
// subscription). It is what the Tokens sender, the token push and
// real-time authorization render.
type Issued struct {
	ID uuid.UUID
	// AdministrationID is the administration the token belongs to (its
	// charge authorization rules).
	AdministrationID uuid.UUID
	// CountryCode and PartyID are the eMSP party that owns the token: the
	// country code and provider ID of its EVCO ID.
	CountryCode, PartyID string
	UID                  UID
	Type                 Type
	// ContractID is the normalised EVCO ID.
	ContractID   string
	Issuer       string
	VisualNumber *string
	GroupID      *string
	Language     *string
	// Whitelist is the configured whitelist type; "" uses the type's default.
	Whitelist Whitelist
	// UpdatedAt is when the token record itself was last written.
	UpdatedAt time.Time
	Links     []Link
}

// Config returns the token's whitelist configuration. No charge
// authorization restrictions exist yet, so no token is Restricted.
func (t Issued) Config() Config { return Config{Type: t.Type, Whitelist: t.Whitelist} }

// State is a token's validity at an instant together with its OCPI
// last_updated.
type State struct {
	Result
	// LastUpdated is the OCPI last_updated of the token at the instant.
	LastUpdated time.Time
}

// State evaluates the validity rule at instant at without the charge
// authorization rules (see StateWith) and computes the token's OCPI
// last_updated.
//
// Why last_updated is more than the token's own updated_at: OCPI's valid
// flag depends on the token's links and their subscriptions, and on time.
// A CPO syncing with date_from must see a token again whenever valid may
// have changed, which happens
//   - when the token, one of its links or one of their subscriptions is
//     written (an edit of a validity period, a link or subscription marked
//     defunct), and
//   - without any write, when a validity boundary passes: a link or
//     subscription starting or ending at T flips valid at T.
//
// So last_updated is the latest of: the token's updated_at, the updated_at
// of each link and of each link's subscription, and every valid_from /
// valid_until of a live (not defunct) link and of its subscription (when
// that is not defunct either) that is not later than at. Boundaries in the
// future do not count yet; they count from the moment they pass, which is
// exactly when valid changes. Defunct records cannot make the token valid,
// so their boundaries are ignored (their updated_at still counts: becoming
// defunct is a change). The value never exceeds at and never decreases as
// at advances (records are never deleted, and every edit sets its
// updated_at to the time of the edit), so a date_from sync misses nothing.
// The SQL of the Tokens sender's list (db.ListIssuedTokens) computes the
// same value; a test keeps both in agreement.
func (t Issued) State(at time.Time) State { return t.StateWith(at, nil) }

// StateWith is State with the charge authorization rules (real-time
// authorization, where the charging location is known). The rules do not
// change last_updated.
func (t Issued) StateWith(at time.Time, rules Rules) State {
	st := State{Result: Evaluate(t.Links, at, rules), LastUpdated: t.UpdatedAt}
	latest := func(ts time.Time) {
		if ts.After(st.LastUpdated) {
			st.LastUpdated = ts
		}
	}
	passed := func(b *time.Time) {
		if b != nil && !b.After(at) {
			latest(*b)
		}
	}
	for _, l := range t.Links {
		latest(l.UpdatedAt)
		latest(l.Subscription.UpdatedAt)
		if l.Defunct {
			continue
		}
		passed(l.Period.From())
		passed(l.Period.Until())
		if !l.Subscription.Defunct {
			passed(l.Subscription.Period.From())
			passed(l.Subscription.Period.Until())
		}
	}
	st.LastUpdated = st.LastUpdated.UTC()
	return st
}
