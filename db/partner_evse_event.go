package db

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/network"
)

// Partner EVSE events (issue 7: "EVSE status changes (our own and
// partners')"). Whatever writes a partner's EVSE — the Locations receiver
// (PUT/PATCH of a location, EVSE or connector) or a pull-sync page —
// records, in its transaction, an event of kind PartnerEVSEKind for each
// EVSE that really changed: create for a new EVSE, update when its status
// or its content changed (previous_status says what the status was),
// delete when a location was rewritten without it. An EVSE sent again
// unchanged, or only re-stamped (a new last_updated on the EVSE or its
// connectors and nothing else), records nothing, so an incremental sync of
// an unchanged network of any size records no event. Content is compared
// by a digest stored with each EVSE (evseDigest; migration 00015), so the
// comparison costs 16 bytes per EVSE, not the objects. Partners' EVSEs belong to no
// administration; the events are guarded by the roaming family, like the
// partner-evse-location resource.

// PartnerEVSEKind is the outbox kind of partners' EVSE changes.
const PartnerEVSEKind = "partner-evse"

// PartnerEVSEView is a partner's EVSE as its events carry it: where it is
// (the partner location's id in the Admin API, party, OCPI location id),
// its identifiers and status, and the OCPI EVSE object as stored (the
// same object GET /main/v1/partner-evse-location/{id} shows in
// location.evses).
type PartnerEVSEView struct {
	PartnerLocationID uuid.UUID       `json:"partner_location_id"`
	ConnectionID      *uuid.UUID      `json:"connection_id"`
	Party             string          `json:"party"`
	CountryCode       string          `json:"country_code"`
	PartyID           string          `json:"party_id"`
	LocationID        string          `json:"location_id"`
	EvseUID           string          `json:"evse_uid"`
	EvseID            *string         `json:"evse_id"`
	Status            string          `json:"status"`
	PreviousStatus    *string         `json:"previous_status"`
	LastUpdated       time.Time       `json:"last_updated"`
	EVSE              json.RawMessage `json:"evse"`
}

// PartnerEVSEKey is what a deletion event carries: the identifying
// properties only.
type PartnerEVSEKey struct {
	PartnerLocationID uuid.UUID `json:"partner_location_id"`
	Party             string    `json:"party"`
	CountryCode       string    `json:"country_code"`
	PartyID           string    `json:"party_id"`
	LocationID        string    `json:"location_id"`
	EvseUID           string    `json:"evse_uid"`
}

// appliedLocation is a location a write applied, with our id.
type appliedLocation struct {
	ref uuid.UUID
	loc network.Location
}

// evseChange is one EVSE that changed.
type evseChange struct {
	mod        event.Modification
	ref        uuid.UUID
	loc        network.Location
	evse       network.EVSE // for a deletion, only UID is set
	prevStatus *string
}

type evseRef struct {
	loc uuid.UUID
	uid string // uid key
}

// recordEVSEChanges compares the EVSEs of rewritten locations before
// (old, deleted) and after (the applied locations) and records the changes.
func recordEVSEChanges(ctx context.Context, q Querier, connID *uuid.UUID, applied []appliedLocation, old []gen.DeletePartnerEVSEsOfRow) error {
	before := make(map[evseRef]gen.DeletePartnerEVSEsOfRow, len(old))
	for _, o := range old {
		before[evseRef{o.LocationRef, o.UidKey}] = o
	}
	var changes []evseChange
	for _, a := range applied {
		for _, e := range a.loc.EVSEs {
			k := evseRef{a.ref, network.Key(e.UID)}
			o, existed := before[k]
			switch {
			case !existed:
				changes = append(changes, evseChange{mod: event.Create, ref: a.ref, loc: a.loc, evse: e})
			case evseChanged(o.Status, o.Digest, e):
				prev := o.Status
				changes = append(changes, evseChange{mod: event.Update, ref: a.ref, loc: a.loc, evse: e, prevStatus: &prev})
			}
			delete(before, k)
		}
	}
	// What is left in before was dropped from its location.
	if len(before) > 0 {
		locs := make(map[uuid.UUID]network.Location, len(applied))
		for _, a := range applied {
			locs[a.ref] = a.loc
		}
		for _, o := range old { // in the stored order
			if _, gone := before[evseRef{o.LocationRef, o.UidKey}]; gone {
				changes = append(changes, evseChange{mod: event.Delete, ref: o.LocationRef, loc: locs[o.LocationRef], evse: network.EVSE{UID: o.Uid}})
			}
		}
	}
	return appendEVSEEvents(ctx, q, connID, changes)
}

// evseChanged reports whether e differs from the stored EVSE of status
// and digest: its status, or its content apart from timestamps. An EVSE
// stored without a digest (before migration 00015) compares by status.
func evseChanged(status string, digest []byte, e network.EVSE) bool {
	return status != e.Status || (digest != nil && !bytes.Equal(digest, evseDigest(e.Data)))
}

// evseDigest is the digest of an EVSE's content without its timestamps:
// SHA-256 (first 16 bytes) of the OCPI EVSE JSON with every "last_updated"
// member (the EVSE's and its connectors') cut out. The JSON is the node's
// own encoding of the validated OCPI type (ocpi.EVSE.ToNetwork), so equal
// content is equal bytes. Inside a JSON string a quote is escaped, so the
// bytes `"last_updated":` only occur as a member name.
func evseDigest(data []byte) []byte {
	const key = `"last_updated":`
	h := sha256.New()
	rest := data
	for {
		i := bytes.Index(rest, []byte(key))
		if i < 0 {
			break
		}
		h.Write(rest[:i])
		rest = bytes.TrimLeft(rest[i+len(key):], " ")
		if len(rest) > 0 && rest[0] == '"' { // a timestamp: no escapes
			if j := bytes.IndexByte(rest[1:], '"'); j >= 0 {
				rest = rest[j+2:]
			}
		}
	}
	h.Write(rest)
	return h.Sum(nil)[:16]
}

// appendEVSEEvents writes the events of changes in one statement.
func appendEVSEEvents(ctx context.Context, q Querier, connID *uuid.UUID, changes []evseChange) error {
	if len(changes) == 0 {
		return nil
	}
	p := gen.InsertUnscopedEventsParams{}
	for _, c := range changes {
		party := c.loc.CountryCode + "-" + c.loc.PartyID
		var data any
		if c.mod == event.Delete {
			data = PartnerEVSEKey{PartnerLocationID: c.ref, Party: party, CountryCode: c.loc.CountryCode, PartyID: c.loc.PartyID,
				LocationID: c.loc.ID, EvseUID: c.evse.UID}
		} else {
			v := PartnerEVSEView{PartnerLocationID: c.ref, ConnectionID: connID, Party: party, CountryCode: c.loc.CountryCode,
				PartyID: c.loc.PartyID, LocationID: c.loc.ID, EvseUID: c.evse.UID, Status: c.evse.Status, PreviousStatus: c.prevStatus,
				LastUpdated: c.evse.LastUpdated.UTC(), EVSE: c.evse.Data}
			if c.evse.EVSEID != "" {
				id := c.evse.EVSEID
				v.EvseID = &id
			}
			data = v
		}
		ev := event.New(PartnerEVSEKind, c.mod, nil, data)
		b, err := json.Marshal(ev.Data)
		if err != nil {
			return err
		}
		p.Ids = append(p.Ids, ev.ID)
		p.OccurredAts = append(p.OccurredAts, ev.OccurredAt)
		p.Kinds = append(p.Kinds, ev.Kind)
		p.ModificationKinds = append(p.ModificationKinds, string(ev.ModificationKind))
		p.Datas = append(p.Datas, string(b))
	}
	return Q(q).InsertUnscopedEvents(ctx, p)
}
