package ocpi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/network"
)

// Helpers of the eMSP Locations and Tariffs receivers and of pull
// synchronisation: validation of whole objects, PATCH merging, and the
// mapping between wire objects and the stored form (domain/network), which
// keeps each object's JSON as received, normalised by these wire types.

// DecodeLocation decodes and fully validates a pushed or pulled Location:
// JSON errors, field tags and the cross-field rules of Check, every
// problem named by its JSON path (2001).
func DecodeLocation(body []byte) (Location, error) {
	var l Location
	if err := Decode(body, &l); err != nil {
		return Location{}, err
	}
	return l, l.Check()
}

// DecodeEVSE decodes and fully validates an EVSE.
func DecodeEVSE(body []byte) (EVSE, error) {
	var e EVSE
	if err := Decode(body, &e); err != nil {
		return EVSE{}, err
	}
	return e, e.Check()
}

// DecodeConnector decodes and fully validates a Connector.
func DecodeConnector(body []byte) (Connector, error) {
	var c Connector
	if err := Decode(body, &c); err != nil {
		return Connector{}, err
	}
	return c, c.Check()
}

// DecodeTariff decodes and fully validates a Tariff.
func DecodeTariff(body []byte) (Tariff, error) {
	var t Tariff
	if err := Unmarshal(body, &t); err != nil {
		return Tariff{}, err
	}
	return t, t.Check()
}

// Check applies the Tariff object's rules (mod_tariffs "Tariff Object"):
// the required fields, CiString lengths, and everything the pricing engine
// depends on (elements, dimensions, restriction formats, see ToPricing).
func (t *Tariff) Check() error {
	var fs fault.Fields
	if !IsCountryCode(t.CountryCode) {
		fs.Add("country_code", "must be a 2-letter ISO 3166 country code")
	}
	if !IsPartyID(t.PartyID) {
		fs.Add("party_id", "must be 3 letters or digits (ISO 15118 party id)")
	}
	if t.ID == "" || len(t.ID) > 36 || !IsCiString(t.ID) {
		fs.Add("id", "is required: printable ASCII, at most 36 characters")
	}
	if len(t.Currency) != 3 {
		fs.Add("currency", "must be an ISO 4217 currency code of 3 letters")
	}
	if t.LastUpdated.IsZero() {
		fs.Add("last_updated", "is required")
	}
	switch t.Type {
	case "", TariffTypeAdHocPayment, TariffTypeProfileCheap, TariffTypeProfileFast, TariffTypeProfileGreen, TariffTypeRegular:
	default:
		fs.Add("type", "must be one of AD_HOC_PAYMENT, PROFILE_CHEAP, PROFILE_FAST, PROFILE_GREEN, REGULAR")
	}
	if _, err := t.ToPricing(); err != nil {
		if f, ok := fault.As(err); ok {
			fs = append(fs, f.Fields...)
		} else {
			fs.Add("elements", "%v", err)
		}
	}
	return fs.Err()
}

// MergePatch applies an OCPI PATCH body to the stored object (mod_locations
// PATCH: "only the fields/objects that have to be updated have to be
// present … other fields are considered unchanged"): each top-level field
// of patch replaces the stored one, except the list named listKey ("evses"
// of a Location, "connectors" of an EVSE), whose elements replace or are
// added to the stored ones by their idKey ("uid", "id", compared
// case-insensitively), since sending one EVSE must not drop the others.
// The PATCH must carry last_updated. The result still has to be decoded
// and validated as a whole object.
func MergePatch(stored, patch []byte, listKey, idKey string) ([]byte, error) {
	var p map[string]json.RawMessage
	if err := Unmarshal(patch, &p); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, InvalidParam("body", "must be a JSON object")
	}
	if lu, ok := p["last_updated"]; !ok || bytes.Equal(bytes.TrimSpace(lu), []byte("null")) {
		return nil, InvalidParam("last_updated", "is required in every PATCH (mod_locations, PATCH method)")
	}
	var s map[string]json.RawMessage
	if err := json.Unmarshal(stored, &s); err != nil {
		return nil, fmt.Errorf("ocpi: stored object does not decode: %w", err)
	}
	for k, v := range p {
		if k != listKey || listKey == "" {
			s[k] = v
			continue
		}
		merged, err := mergeList(s[k], v, k, idKey)
		if err != nil {
			return nil, err
		}
		s[k] = merged
	}
	return json.Marshal(s)
}

// mergeList replaces or appends the elements of patch in stored by idKey.
func mergeList(stored, patch json.RawMessage, listKey, idKey string) (json.RawMessage, error) {
	var cur, add []map[string]json.RawMessage
	if len(stored) > 0 {
		if err := json.Unmarshal(stored, &cur); err != nil {
			return nil, fmt.Errorf("ocpi: stored %s do not decode: %w", listKey, err)
		}
	}
	if err := json.Unmarshal(patch, &add); err != nil {
		return nil, InvalidParam(listKey, "must be an array of objects")
	}
	idOf := func(m map[string]json.RawMessage) string {
		var id string
		_ = json.Unmarshal(m[idKey], &id)
		return network.Key(id)
	}
	for i, a := range add {
		id := idOf(a)
		if id == "" {
			return nil, InvalidParam(fmt.Sprintf("%s[%d].%s", listKey, i, idKey), "is required")
		}
		replaced := false
		for j := range cur {
			if idOf(cur[j]) == id {
				cur[j], replaced = a, true
				break
			}
		}
		if !replaced {
			cur = append(cur, a)
		}
	}
	return json.Marshal(cur)
}

// ToNetwork maps a validated Location to its stored form.
func (l Location) ToNetwork() (network.Location, error) {
	lat, lng, err := parseGeo(l.Coordinates)
	if err != nil {
		return network.Location{}, err
	}
	out := network.Location{CountryCode: strings.ToUpper(l.CountryCode), PartyID: strings.ToUpper(l.PartyID), ID: l.ID,
		Latitude: lat, Longitude: lng, TimeZone: l.TimeZone, Publish: l.Publish, LastUpdated: l.LastUpdated.UTC(),
		EVSEs: make([]network.EVSE, len(l.EVSEs))}
	for i, e := range l.EVSEs {
		if out.EVSEs[i], err = e.ToNetwork(); err != nil {
			return network.Location{}, err
		}
	}
	l.EVSEs = nil
	if out.Data, err = json.Marshal(l); err != nil {
		return network.Location{}, err
	}
	return out, nil
}

// ToNetwork maps a validated EVSE to its stored form.
func (e EVSE) ToNetwork() (network.EVSE, error) {
	out := network.EVSE{UID: e.UID, EVSEID: e.EvseID, Status: e.Status, LastUpdated: e.LastUpdated.UTC()}
	if e.Coordinates != nil {
		lat, lng, err := parseGeo(*e.Coordinates)
		if err != nil {
			return network.EVSE{}, err
		}
		out.Latitude, out.Longitude = &lat, &lng
	}
	var err error
	out.Data, err = json.Marshal(e)
	return out, err
}

// ToNetwork maps a validated Tariff to its stored form.
func (t Tariff) ToNetwork() (network.Tariff, error) {
	data, err := json.Marshal(t)
	return network.Tariff{CountryCode: strings.ToUpper(t.CountryCode), PartyID: strings.ToUpper(t.PartyID), ID: t.ID,
		Currency: t.Currency, LastUpdated: t.LastUpdated.UTC(), Data: data}, err
}

// LocationFromNetwork rebuilds the OCPI Location from its stored form, with
// the stored last_updated values (which follow the children's).
func LocationFromNetwork(n network.Location) (Location, error) {
	var l Location
	if err := json.Unmarshal(n.Data, &l); err != nil {
		return Location{}, fmt.Errorf("ocpi: stored location %s does not decode: %w", n.ID, err)
	}
	l.LastUpdated = NewDateTime(n.LastUpdated)
	l.EVSEs = make([]EVSE, len(n.EVSEs))
	for i, e := range n.EVSEs {
		var err error
		if l.EVSEs[i], err = EVSEFromNetwork(e); err != nil {
			return Location{}, err
		}
	}
	return l, nil
}

// EVSEFromNetwork rebuilds the OCPI EVSE from its stored form.
func EVSEFromNetwork(n network.EVSE) (EVSE, error) {
	var e EVSE
	if err := json.Unmarshal(n.Data, &e); err != nil {
		return EVSE{}, fmt.Errorf("ocpi: stored EVSE %s does not decode: %w", n.UID, err)
	}
	e.LastUpdated = NewDateTime(n.LastUpdated)
	return e, nil
}

// TariffFromNetwork rebuilds the OCPI Tariff from its stored form.
func TariffFromNetwork(n network.Tariff) (Tariff, error) {
	var t Tariff
	if err := json.Unmarshal(n.Data, &t); err != nil {
		return Tariff{}, fmt.Errorf("ocpi: stored tariff %s does not decode: %w", n.ID, err)
	}
	t.LastUpdated = NewDateTime(n.LastUpdated)
	return t, nil
}

// Connector returns the EVSE's connector with id (case-insensitive).
func (e EVSE) Connector(id string) (Connector, int, bool) {
	for i, c := range e.Connectors {
		if network.Key(c.ID) == network.Key(id) {
			return c, i, true
		}
	}
	return Connector{}, -1, false
}

// parseGeo reads validated GeoLocation strings as degrees.
func parseGeo(g GeoLocation) (lat, lng float64, err error) {
	lat, err = strconv.ParseFloat(g.Latitude, 64)
	if err != nil {
		return 0, 0, InvalidParam("coordinates.latitude", "must be a decimal number of degrees")
	}
	lng, err = strconv.ParseFloat(g.Longitude, 64)
	if err != nil {
		return 0, 0, InvalidParam("coordinates.longitude", "must be a decimal number of degrees")
	}
	return lat, lng, nil
}
