// Package network holds the rules for partners' charge points and tariffs
// as this node receives them in its eMSP role (OCPI 2.2.1 mod_locations and
// mod_tariffs receivers, and pull synchronisation from partners' senders):
// last_updated ordering, EVSE id lookup keys, geographic search and the
// planning of pull-sync runs. It is pure: no I/O, no clock.
package network

import (
	"encoding/json"
	"strings"
	"time"
)

// Location is a partner's Location as stored: the columns that are queried
// and the OCPI object itself (Data, without its EVSEs, which are EVSEs).
type Location struct {
	CountryCode string // upper case
	PartyID     string // upper case
	ID          string // as the partner spells it
	Latitude    float64
	Longitude   float64
	TimeZone    string
	Publish     bool
	LastUpdated time.Time
	// Data is the OCPI Location object without "evses".
	Data  json.RawMessage
	EVSEs []EVSE
}

// EVSE is a partner's EVSE as stored.
type EVSE struct {
	UID    string
	EVSEID string // "" when the partner sent none
	Status string
	// Latitude and Longitude are nil when the EVSE has no coordinates of
	// its own (the location's apply).
	Latitude    *float64
	Longitude   *float64
	LastUpdated time.Time
	// Data is the OCPI EVSE object with its connectors.
	Data json.RawMessage
}

// Tariff is a partner's Tariff as stored.
type Tariff struct {
	CountryCode string
	PartyID     string
	ID          string
	Currency    string
	LastUpdated time.Time
	// Data is the OCPI Tariff object.
	Data json.RawMessage
}

// Key is the comparison form of an OCPI identifier (location id, EVSE uid,
// connector id, tariff id): they are CiStrings, equal regardless of ASCII
// case (types → CiString), and keep their original casing for display.
func Key(id string) string { return strings.ToUpper(id) }

// Accepts is the last_updated ordering of pushed and pulled objects: an
// update is applied when it is at least as recent as what is stored, so an
// older update never overwrites a newer one (pushes and pulls can arrive in
// any order) and re-sending the same object is harmless. OCPI does not say
// how a receiver answers an out-of-date update; like common practice we
// answer success and keep the newer object, since the sender cannot do
// anything better with an error.
func Accepts(stored, incoming time.Time) bool { return !incoming.Before(stored) }

// Later returns the later of two instants: a parent's last_updated follows
// its children's (mod_locations, PUT and PATCH: "the Receiver SHALL also
// set the new last_updated value on the parent") but never moves back.
func Later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// EVSEIDKey is the lookup form of an EVSE id: upper case, letters and
// digits only, so that "NL*TNM*E0001", "nl-tnm-e0001" and "NLTNME0001"
// are one EVSE (003 → eMobility identifiers: EVSE ids are accepted with or
// without separators). Partners' ids are not required to follow the IDACS
// syntax, so this is a normalisation, not a validation. It returns "" when
// nothing is left.
func EVSEIDKey(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b = append(b, c)
		}
	}
	return string(b)
}
