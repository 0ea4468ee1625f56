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
	// DefaultProfileType is the driver's preferred smart charging profile
	// (OCPI ProfileType: CHEAP, FAST, GREEN or REGULAR), nil when not set.
	DefaultProfileType *string
	// EnergyContract is the driver's own energy contract, nil when not set.
	EnergyContract *EnergyContract
	// UpdatedAt is when the token record itself was last written.
	UpdatedAt time.Time
	// RulesChangedAt is when the charge authorization rules last changed
	// the token's published valid or whitelist (zero: never). A rule
	// change writes no token, yet a CPO syncing with date_from must see
	// the token again, so it counts in last_updated (see State).
	RulesChangedAt time.Time
	// Restricted is set when location- or credit-dependent charge
	// authorization rules are in force for the token (authrule.Publish
	// sets it): it is then whitelisted NEVER (Config.Restricted).
	Restricted bool
	Links      []Link
}

// EnergyContract is a driver's contract with an energy supplier (OCPI
// EnergyContract): the supplier's name and, optionally, the contract id at
// that supplier.
type EnergyContract struct {
	SupplierName string
	ContractID   *string
}

// Config returns the token's whitelist configuration.
func (t Issued) Config() Config {
	return Config{Type: t.Type, Whitelist: t.Whitelist, Restricted: t.Restricted}
}

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
// So last_updated is the latest of: the token's updated_at, RulesChangedAt
// (when the charge authorization rules last changed valid or whitelist;
// it is written when the change is seen, so it is never in the future
// either), the updated_at
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
// authorization, where the charging location is known; authrule.Publish
// for the OCPI Token object). The rules hook does not change last_updated:
// their changes reach it through RulesChangedAt.
func (t Issued) StateWith(at time.Time, rules Rules) State {
	st := State{Result: Evaluate(t.Links, at, rules), LastUpdated: t.UpdatedAt}
	latest := func(ts time.Time) {
		if ts.After(st.LastUpdated) {
			st.LastUpdated = ts
		}
	}
	latest(t.RulesChangedAt)
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
