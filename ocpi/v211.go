package ocpi

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/shopspring/decimal"
)

// OCPI 2.1.1 input. Partners still on OCPI 2.1.1 send tariffs and CDRs in
// that version's shape; the tariff engine (domain/pricing) and everything
// built on it speak 2.2.1, so 2.1.1 objects are converted to their 2.2.1
// equivalents on input (TariffV211.ToV221, CDRV211.ToV221), and ReadTariff
// and ReadCDR accept either version (Version211, Version221), detecting
// which from the fields.
//
// The differences that matter (OCPI 2.1.1 mod_tariffs and mod_cdrs against
// 2.2.1):
//   - Tariff: no country_code, party_id, type, min_price, max_price,
//     start_date_time or end_date_time; a PriceComponent has no vat (2.1.1
//     prices carry no VAT information, so the converted component has none
//     and amounts including VAT equal those excluding it); restrictions
//     have no min_current, max_current or reservation; EnvironmentalImpact
//     says source where 2.2.1 says category.
//   - CDR: stop_date_time instead of end_date_time; auth_id (the Token's
//     auth_id, 2.2.1's contract_id) instead of the cdr_token object; the
//     whole Location (with only the EVSE and connector used) instead of
//     cdr_location; total_cost a number (excluding VAT) instead of a Price;
//     no total_*_cost breakdown; charging periods have no tariff_id; the
//     CdrDimensionType FLAT exists (2.2.1 dropped it; it carries no volume
//     the engine uses: FLAT is charged once per session).
//   - total_time: 2.1.1 describes it as "Total time charging, in hours",
//     but hubs (GIREVE, for one) and most CPOs send the session duration,
//     which is what 2.2.1 made explicit; it maps to total_time unchanged.

// NumberV211 is an OCPI 2.1.1 number: a JSON number, or, as the 2.1.1
// specification's own CDR example writes tariff prices ("price": "2.00"),
// a string holding one.
type NumberV211 struct {
	decimal.Decimal
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *NumberV211) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	var v Number
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	n.Decimal = v.Decimal
	return nil
}

// MarshalJSON implements json.Marshaler (always a JSON number).
func (n NumberV211) MarshalJSON() ([]byte, error) { return Number{n.Decimal}.MarshalJSON() }

func (n *NumberV211) v221() *Number {
	if n == nil {
		return nil
	}
	return &Number{n.Decimal}
}

// TariffV211 is the OCPI 2.1.1 Tariff object (2.1.1 mod_tariffs "Tariff
// Object").
type TariffV211 struct {
	ID            string              `json:"id"`
	Currency      string              `json:"currency"`
	TariffAltText []DisplayText       `json:"tariff_alt_text,omitempty"`
	TariffAltURL  string              `json:"tariff_alt_url,omitempty"`
	Elements      []TariffElementV211 `json:"elements"`
	EnergyMix     *EnergyMixV211      `json:"energy_mix,omitempty"`
	LastUpdated   DateTime            `json:"last_updated"`
}

// TariffElementV211 is the 2.1.1 TariffElement class.
type TariffElementV211 struct {
	PriceComponents []PriceComponentV211    `json:"price_components"`
	Restrictions    *TariffRestrictionsV211 `json:"restrictions,omitempty"`
}

// PriceComponentV211 is the 2.1.1 PriceComponent class: no vat.
type PriceComponentV211 struct {
	Type     TariffDimensionType `json:"type"`
	Price    NumberV211          `json:"price"`
	StepSize int64               `json:"step_size"`
}

// TariffRestrictionsV211 is the 2.1.1 TariffRestrictions class: no
// min_current, max_current or reservation.
type TariffRestrictionsV211 struct {
	StartTime   string      `json:"start_time,omitempty"`
	EndTime     string      `json:"end_time,omitempty"`
	StartDate   string      `json:"start_date,omitempty"`
	EndDate     string      `json:"end_date,omitempty"`
	MinKWh      *NumberV211 `json:"min_kwh,omitempty"`
	MaxKWh      *NumberV211 `json:"max_kwh,omitempty"`
	MinPower    *NumberV211 `json:"min_power,omitempty"`
	MaxPower    *NumberV211 `json:"max_power,omitempty"`
	MinDuration *int64      `json:"min_duration,omitempty"`
	MaxDuration *int64      `json:"max_duration,omitempty"`
	DayOfWeek   []DayOfWeek `json:"day_of_week,omitempty"`
}

// EnergyMixV211 is the 2.1.1 EnergyMix class.
type EnergyMixV211 struct {
	IsGreenEnergy bool `json:"is_green_energy"`
	EnergySources []struct {
		Source     string     `json:"source"`
		Percentage NumberV211 `json:"percentage"`
	} `json:"energy_sources,omitempty"`
	EnvironImpact []struct {
		// Source is 2.2.1's category (NUCLEAR_WASTE, CARBON_DIOXIDE).
		Source string     `json:"source"`
		Amount NumberV211 `json:"amount"`
	} `json:"environ_impact,omitempty"`
	SupplierName      string `json:"supplier_name,omitempty"`
	EnergyProductName string `json:"energy_product_name,omitempty"`
}

// ToV221 converts the tariff to OCPI 2.2.1. countryCode and partyID are the
// CPO's (2.1.1 tariffs do not carry them; the sender's credentials do);
// they may be empty for offline use.
func (t TariffV211) ToV221(countryCode, partyID string) Tariff {
	out := Tariff{CountryCode: countryCode, PartyID: partyID, ID: t.ID, Currency: t.Currency,
		TariffAltText: t.TariffAltText, TariffAltURL: t.TariffAltURL, LastUpdated: t.LastUpdated,
		Elements: make([]TariffElement, len(t.Elements))}
	for i, e := range t.Elements {
		el := TariffElement{PriceComponents: make([]PriceComponent, len(e.PriceComponents))}
		for j, c := range e.PriceComponents {
			// "price: price per unit for this tariff dimension" with no VAT
			// field: no VAT information (vat omitted).
			el.PriceComponents[j] = PriceComponent{Type: c.Type, Price: Number{c.Price.Decimal}, StepSize: c.StepSize}
		}
		if r := e.Restrictions; r != nil {
			el.Restrictions = &TariffRestrictions{StartTime: r.StartTime, EndTime: r.EndTime, StartDate: r.StartDate,
				EndDate: r.EndDate, MinKWh: r.MinKWh.v221(), MaxKWh: r.MaxKWh.v221(), MinPower: r.MinPower.v221(),
				MaxPower: r.MaxPower.v221(), MinDuration: r.MinDuration, MaxDuration: r.MaxDuration, DayOfWeek: r.DayOfWeek}
		}
		out.Elements[i] = el
	}
	if m := t.EnergyMix; m != nil {
		mix := &EnergyMix{IsGreenEnergy: m.IsGreenEnergy, SupplierName: m.SupplierName, EnergyProductName: m.EnergyProductName}
		for _, s := range m.EnergySources {
			mix.EnergySources = append(mix.EnergySources, EnergySource{Source: s.Source, Percentage: Number{s.Percentage.Decimal}})
		}
		for _, e := range m.EnvironImpact {
			mix.EnvironImpact = append(mix.EnvironImpact, EnvironmentalImpact{Category: e.Source, Amount: Number{e.Amount.Decimal}})
		}
		out.EnergyMix = mix
	}
	return out
}

// CDRV211 is the OCPI 2.1.1 CDR object (2.1.1 mod_cdrs "CDR Object").
type CDRV211 struct {
	ID               string               `json:"id"`
	StartDateTime    DateTime             `json:"start_date_time"`
	StopDateTime     DateTime             `json:"stop_date_time"`
	AuthID           string               `json:"auth_id"`
	AuthMethod       AuthMethod           `json:"auth_method"`
	Location         LocationV211         `json:"location"`
	MeterID          string               `json:"meter_id,omitempty"`
	Currency         string               `json:"currency"`
	Tariffs          []TariffV211         `json:"tariffs,omitempty"`
	ChargingPeriods  []ChargingPeriodV211 `json:"charging_periods"`
	TotalCost        NumberV211           `json:"total_cost"`
	TotalEnergy      NumberV211           `json:"total_energy"`
	TotalTime        NumberV211           `json:"total_time"`
	TotalParkingTime *NumberV211          `json:"total_parking_time,omitempty"`
	Remark           string               `json:"remark,omitempty"`
	LastUpdated      DateTime             `json:"last_updated"`
}

// ChargingPeriodV211 is the 2.1.1 ChargingPeriod class (no tariff_id).
type ChargingPeriodV211 struct {
	StartDateTime DateTime           `json:"start_date_time"`
	Dimensions    []CdrDimensionV211 `json:"dimensions"`
}

// CdrDimensionV211 is the 2.1.1 CdrDimension class. Its types are ENERGY,
// FLAT, MAX_CURRENT, MIN_CURRENT, PARKING_TIME and TIME.
type CdrDimensionV211 struct {
	Type   CdrDimensionType `json:"type"`
	Volume NumberV211       `json:"volume"`
}

// CdrDimensionFlatV211 is the 2.1.1 CdrDimensionType FLAT, which 2.2.1 no
// longer has.
const CdrDimensionFlatV211 CdrDimensionType = "FLAT"

// LocationV211 is the part of a 2.1.1 Location (mod_locations "Location
// Object") a CDR needs: where, in which time zone, and the EVSE and
// connector used (a CDR's location holds only those).
type LocationV211 struct {
	ID          string      `json:"id"`
	Name        string      `json:"name,omitempty"`
	Address     string      `json:"address"`
	City        string      `json:"city"`
	PostalCode  string      `json:"postal_code"`
	Country     string      `json:"country"`
	Coordinates GeoLocation `json:"coordinates"`
	EVSEs       []struct {
		UID        string `json:"uid"`
		EvseID     string `json:"evse_id,omitempty"`
		Connectors []struct {
			ID        string `json:"id"`
			Standard  string `json:"standard"`
			Format    string `json:"format"`
			PowerType string `json:"power_type"`
		} `json:"connectors"`
	} `json:"evses,omitempty"`
	// TimeZone is an IANA zone name ("One of IANA tzdata's TZ-values").
	TimeZone string `json:"time_zone,omitempty"`
}

// ToV221 converts the CDR to OCPI 2.2.1. countryCode and partyID are the
// CPO's, which a 2.1.1 CDR does not carry (empty for offline use). The
// token becomes a cdr_token whose uid and contract_id are the auth_id
// (2.1.1 identifies the token only by it) and whose type is OTHER; the
// location's first EVSE and its first connector become the cdr_location;
// total_cost becomes a Price without incl_vat. The location's time_zone,
// which CdrLocation has no field for, is returned separately.
func (c CDRV211) ToV221(countryCode, partyID string) (CDR, string) {
	out := CDR{CountryCode: countryCode, PartyID: partyID, ID: c.ID, StartDateTime: c.StartDateTime,
		EndDateTime: c.StopDateTime, AuthMethod: c.AuthMethod, MeterID: c.MeterID, Currency: c.Currency,
		CdrToken:         CdrToken{CountryCode: countryCode, PartyID: partyID, UID: c.AuthID, Type: "OTHER", ContractID: c.AuthID},
		TotalCost:        Price{ExclVAT: Number{c.TotalCost.Decimal}},
		TotalEnergy:      Number{c.TotalEnergy.Decimal},
		TotalTime:        Number{c.TotalTime.Decimal},
		TotalParkingTime: c.TotalParkingTime.v221(),
		Remark:           c.Remark, LastUpdated: c.LastUpdated,
		ChargingPeriods: make([]ChargingPeriod, len(c.ChargingPeriods))}
	l := c.Location
	out.CdrLocation = CdrLocation{ID: l.ID, Name: l.Name, Address: l.Address, City: l.City, PostalCode: l.PostalCode,
		Country: l.Country, Coordinates: l.Coordinates}
	if len(l.EVSEs) > 0 {
		e := l.EVSEs[0]
		out.CdrLocation.EvseUID, out.CdrLocation.EvseID = e.UID, e.EvseID
		if len(e.Connectors) > 0 {
			k := e.Connectors[0]
			out.CdrLocation.ConnectorID, out.CdrLocation.ConnectorStandard = k.ID, k.Standard
			out.CdrLocation.ConnectorFormat, out.CdrLocation.ConnectorPowerType = k.Format, k.PowerType
		}
	}
	for _, t := range c.Tariffs {
		out.Tariffs = append(out.Tariffs, t.ToV221(countryCode, partyID))
	}
	for i, p := range c.ChargingPeriods {
		cp := ChargingPeriod{StartDateTime: p.StartDateTime, Dimensions: make([]CdrDimension, 0, len(p.Dimensions))}
		for _, d := range p.Dimensions {
			if d.Type == CdrDimensionFlatV211 {
				continue
			}
			cp.Dimensions = append(cp.Dimensions, CdrDimension{Type: d.Type, Volume: Number{d.Volume.Decimal}})
		}
		out.ChargingPeriods[i] = cp
	}
	return out, l.TimeZone
}

// TariffInput is a tariff read by ReadTariff.
type TariffInput struct {
	Tariff Tariff
	// Version is the OCPI version the input was read as.
	Version VersionNumber
}

// CDRInput is a CDR read by ReadCDR.
type CDRInput struct {
	CDR CDR
	// Version is the OCPI version the input was read as.
	Version VersionNumber
	// TimeZone is the location's IANA time zone when the input has one:
	// 2.1.1 location.time_zone, or a time_zone that some CPOs add to a
	// 2.2.1 cdr_location although CdrLocation does not define it.
	TimeZone string
}

// fieldSet lists the top-level fields of a JSON object.
func fieldSet(raw []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func hasAny(m map[string]json.RawMessage, keys ...string) bool {
	for _, k := range keys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// DetectCDRVersion tells a 2.1.1 CDR from a 2.2.1 one by the fields only
// one of them has: end_date_time, cdr_token and cdr_location (2.2.1),
// stop_date_time, auth_id and location (2.1.1), else total_cost as a plain
// number (2.1.1) or an object (2.2.1). Without any of these it says 2.2.1.
func DetectCDRVersion(raw []byte) (VersionNumber, error) {
	m, err := fieldSet(raw)
	if err != nil {
		return "", err
	}
	switch {
	case hasAny(m, "end_date_time", "cdr_token", "cdr_location"):
		return Version221, nil
	case hasAny(m, "stop_date_time", "auth_id", "location"):
		return Version211, nil
	}
	if tc := bytes.TrimSpace(m["total_cost"]); len(tc) > 0 && tc[0] != '{' && string(tc) != "null" {
		return Version211, nil
	}
	return Version221, nil
}

// DetectTariffVersion tells a 2.2.1 tariff by a field 2.1.1 does not have
// (country_code, party_id, type, min_price, max_price, start_date_time,
// end_date_time, a price component's vat, a min_current, max_current or
// reservation restriction); otherwise the tariff is read as 2.1.1, which
// prices the same (its fields are a subset of 2.2.1's with the same names
// and meaning), but whose numbers may be strings.
func DetectTariffVersion(raw []byte) (VersionNumber, error) {
	var probe struct {
		CountryCode   *json.RawMessage `json:"country_code"`
		PartyID       *json.RawMessage `json:"party_id"`
		Type          *json.RawMessage `json:"type"`
		MinPrice      *json.RawMessage `json:"min_price"`
		MaxPrice      *json.RawMessage `json:"max_price"`
		StartDateTime *json.RawMessage `json:"start_date_time"`
		EndDateTime   *json.RawMessage `json:"end_date_time"`
		Elements      []struct {
			PriceComponents []struct {
				VAT *json.RawMessage `json:"vat"`
			} `json:"price_components"`
			Restrictions *struct {
				MinCurrent  *json.RawMessage `json:"min_current"`
				MaxCurrent  *json.RawMessage `json:"max_current"`
				Reservation *json.RawMessage `json:"reservation"`
			} `json:"restrictions"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return "", err
	}
	if probe.CountryCode != nil || probe.PartyID != nil || probe.Type != nil || probe.MinPrice != nil ||
		probe.MaxPrice != nil || probe.StartDateTime != nil || probe.EndDateTime != nil {
		return Version221, nil
	}
	for _, e := range probe.Elements {
		for _, c := range e.PriceComponents {
			if c.VAT != nil {
				return Version221, nil
			}
		}
		if r := e.Restrictions; r != nil && (r.MinCurrent != nil || r.MaxCurrent != nil || r.Reservation != nil) {
			return Version221, nil
		}
	}
	return Version211, nil
}

func checkVersion(version VersionNumber) error {
	switch version {
	case "", Version211, Version221:
		return nil
	}
	return fmt.Errorf("ocpi: unsupported OCPI version %q (2.1.1 or 2.2.1)", version)
}

// ReadTariff decodes an OCPI tariff of version 2.1.1 or 2.2.1 into its
// 2.2.1 form; version "" detects it (DetectTariffVersion).
func ReadTariff(raw []byte, version VersionNumber) (TariffInput, error) {
	if err := checkVersion(version); err != nil {
		return TariffInput{}, err
	}
	if version == "" {
		v, err := DetectTariffVersion(raw)
		if err != nil {
			return TariffInput{}, err
		}
		version = v
	}
	if version == Version211 {
		var t TariffV211
		if err := json.Unmarshal(raw, &t); err != nil {
			return TariffInput{}, err
		}
		return TariffInput{Tariff: t.ToV221("", ""), Version: version}, nil
	}
	var t Tariff
	if err := json.Unmarshal(raw, &t); err != nil {
		return TariffInput{}, err
	}
	return TariffInput{Tariff: t, Version: version}, nil
}

// ReadCDR decodes an OCPI CDR of version 2.1.1 or 2.2.1 into its 2.2.1
// form; version "" detects it (DetectCDRVersion).
func ReadCDR(raw []byte, version VersionNumber) (CDRInput, error) {
	if err := checkVersion(version); err != nil {
		return CDRInput{}, err
	}
	if version == "" {
		v, err := DetectCDRVersion(raw)
		if err != nil {
			return CDRInput{}, err
		}
		version = v
	}
	if version == Version211 {
		var c CDRV211
		if err := json.Unmarshal(raw, &c); err != nil {
			return CDRInput{}, err
		}
		out, tz := c.ToV221("", "")
		return CDRInput{CDR: out, Version: version, TimeZone: tz}, nil
	}
	var c CDR
	if err := json.Unmarshal(raw, &c); err != nil {
		return CDRInput{}, err
	}
	var zone struct {
		CdrLocation struct {
			TimeZone string `json:"time_zone"`
		} `json:"cdr_location"`
	}
	if err := json.Unmarshal(raw, &zone); err != nil {
		return CDRInput{}, err
	}
	return CDRInput{CDR: c, Version: version, TimeZone: zone.CdrLocation.TimeZone}, nil
}
