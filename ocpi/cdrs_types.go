package ocpi

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/pricing"
)

// AuthMethod is how a session was authorized (mod_cdrs "AuthMethod enum").
type AuthMethod string

// The authorization methods.
const (
	AuthMethodAuthRequest AuthMethod = "AUTH_REQUEST"
	AuthMethodCommand     AuthMethod = "COMMAND"
	AuthMethodWhitelist   AuthMethod = "WHITELIST"
)

// CdrDimensionType is the type of a charging period value (mod_cdrs
// "CdrDimensionType enum").
type CdrDimensionType string

// The CDR dimension types; CURRENT, ENERGY_EXPORT, ENERGY_IMPORT, POWER and
// STATE_OF_CHARGE are for Sessions only.
const (
	CdrDimensionCurrent         CdrDimensionType = "CURRENT"
	CdrDimensionEnergy          CdrDimensionType = "ENERGY"
	CdrDimensionEnergyExport    CdrDimensionType = "ENERGY_EXPORT"
	CdrDimensionEnergyImport    CdrDimensionType = "ENERGY_IMPORT"
	CdrDimensionMaxCurrent      CdrDimensionType = "MAX_CURRENT"
	CdrDimensionMinCurrent      CdrDimensionType = "MIN_CURRENT"
	CdrDimensionMaxPower        CdrDimensionType = "MAX_POWER"
	CdrDimensionMinPower        CdrDimensionType = "MIN_POWER"
	CdrDimensionParkingTime     CdrDimensionType = "PARKING_TIME"
	CdrDimensionPower           CdrDimensionType = "POWER"
	CdrDimensionReservationTime CdrDimensionType = "RESERVATION_TIME"
	CdrDimensionStateOfCharge   CdrDimensionType = "STATE_OF_CHARGE"
	CdrDimensionTime            CdrDimensionType = "TIME"
)

// CDR is the OCPI 2.2.1 CDR object (mod_cdrs "CDR Object").
type CDR struct {
	CountryCode              string           `json:"country_code"`
	PartyID                  string           `json:"party_id"`
	ID                       string           `json:"id"`
	StartDateTime            DateTime         `json:"start_date_time"`
	EndDateTime              DateTime         `json:"end_date_time"`
	SessionID                string           `json:"session_id,omitempty"`
	CdrToken                 CdrToken         `json:"cdr_token"`
	AuthMethod               AuthMethod       `json:"auth_method"`
	AuthorizationReference   string           `json:"authorization_reference,omitempty"`
	CdrLocation              CdrLocation      `json:"cdr_location"`
	MeterID                  string           `json:"meter_id,omitempty"`
	Currency                 string           `json:"currency"`
	Tariffs                  []Tariff         `json:"tariffs,omitempty"`
	ChargingPeriods          []ChargingPeriod `json:"charging_periods"`
	SignedData               *SignedData      `json:"signed_data,omitempty"`
	TotalCost                Price            `json:"total_cost"`
	TotalFixedCost           *Price           `json:"total_fixed_cost,omitempty"`
	TotalEnergy              Number           `json:"total_energy"`
	TotalEnergyCost          *Price           `json:"total_energy_cost,omitempty"`
	TotalTime                Number           `json:"total_time"`
	TotalTimeCost            *Price           `json:"total_time_cost,omitempty"`
	TotalParkingTime         *Number          `json:"total_parking_time,omitempty"`
	TotalParkingCost         *Price           `json:"total_parking_cost,omitempty"`
	TotalReservationCost     *Price           `json:"total_reservation_cost,omitempty"`
	Remark                   string           `json:"remark,omitempty"`
	InvoiceReferenceID       string           `json:"invoice_reference_id,omitempty"`
	Credit                   *bool            `json:"credit,omitempty"`
	CreditReferenceID        string           `json:"credit_reference_id,omitempty"`
	HomeChargingCompensation *bool            `json:"home_charging_compensation,omitempty"`
	LastUpdated              DateTime         `json:"last_updated"`
}

// CdrToken identifies the token used (mod_cdrs "CdrToken class").
type CdrToken struct {
	CountryCode string `json:"country_code"`
	PartyID     string `json:"party_id"`
	UID         string `json:"uid"`
	// Type is a TokenType (AD_HOC_USER, APP_USER, OTHER, RFID).
	Type       string `json:"type"`
	ContractID string `json:"contract_id"`
}

// CdrLocation is the part of a Location a CDR carries (mod_cdrs
// "CdrLocation class").
type CdrLocation struct {
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`
	Address    string `json:"address"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code,omitempty"`
	State      string `json:"state,omitempty"`
	// Country is an ISO 3166-1 alpha-3 code.
	Country     string      `json:"country"`
	Coordinates GeoLocation `json:"coordinates"`
	EvseUID     string      `json:"evse_uid"`
	EvseID      string      `json:"evse_id"`
	ConnectorID string      `json:"connector_id"`
	// ConnectorStandard is a ConnectorType, ConnectorFormat SOCKET or CABLE,
	// ConnectorPowerType a PowerType (mod_locations).
	ConnectorStandard  string `json:"connector_standard"`
	ConnectorFormat    string `json:"connector_format"`
	ConnectorPowerType string `json:"connector_power_type"`
}

// CdrDimension is one value of a charging period (mod_cdrs "CdrDimension class").
type CdrDimension struct {
	Type   CdrDimensionType `json:"type"`
	Volume Number           `json:"volume"`
}

// ChargingPeriod is a period of a CDR or Session (mod_cdrs "ChargingPeriod class").
type ChargingPeriod struct {
	StartDateTime DateTime       `json:"start_date_time"`
	Dimensions    []CdrDimension `json:"dimensions"`
	TariffID      string         `json:"tariff_id,omitempty"`
}

// SignedData holds signed meter values (mod_cdrs "SignedData class").
type SignedData struct {
	EncodingMethod        string        `json:"encoding_method"`
	EncodingMethodVersion *int          `json:"encoding_method_version,omitempty"`
	PublicKey             string        `json:"public_key,omitempty"`
	SignedValues          []SignedValue `json:"signed_values"`
	URL                   string        `json:"url,omitempty"`
}

// SignedValue is one signed value (mod_cdrs "SignedValue class").
type SignedValue struct {
	Nature     string `json:"nature"`
	PlainData  string `json:"plain_data"`
	SignedData string `json:"signed_data"`
}

// ToPricing maps the charging period to the pricing engine's period.
// ENERGY, TIME, PARKING_TIME and RESERVATION_TIME are summed when a type
// occurs more than once; MIN/MAX current and power keep the last value. The
// Session-only types (CURRENT, POWER, ENERGY_IMPORT, ...) do not take part
// in CDR pricing and are ignored.
func (p ChargingPeriod) ToPricing() pricing.Period {
	out := pricing.Period{Start: p.StartDateTime.Time}
	for _, d := range p.Dimensions {
		v := d.Volume.Decimal
		switch d.Type {
		case CdrDimensionEnergy:
			out.Energy = out.Energy.Add(v)
		case CdrDimensionTime:
			out.Time = out.Time.Add(v)
		case CdrDimensionParkingTime:
			out.ParkingTime = out.ParkingTime.Add(v)
		case CdrDimensionReservationTime:
			out.ReservationTime = out.ReservationTime.Add(v)
		case CdrDimensionMinCurrent:
			out.MinCurrent = decPtr(v)
		case CdrDimensionMaxCurrent:
			out.MaxCurrent = decPtr(v)
		case CdrDimensionMinPower:
			out.MinPower = decPtr(v)
		case CdrDimensionMaxPower:
			out.MaxPower = decPtr(v)
		}
	}
	return out
}

func decPtr(d decimal.Decimal) *decimal.Decimal { return &d }

// ToSession maps the CDR's start, end and charging periods to the session
// the pricing engine prices. It fails with fault.KindInvalid when the
// timestamps are missing.
func (c CDR) ToSession() (pricing.Session, error) {
	var fs fault.Fields
	if c.StartDateTime.IsZero() {
		fs.Add("start_date_time", "is required")
	}
	if c.EndDateTime.IsZero() {
		fs.Add("end_date_time", "is required")
	}
	s := pricing.Session{Start: c.StartDateTime.Time, End: c.EndDateTime.Time, Periods: make([]pricing.Period, len(c.ChargingPeriods))}
	for i, p := range c.ChargingPeriods {
		if p.StartDateTime.IsZero() {
			fs.Add(fmt.Sprintf("charging_periods[%d].start_date_time", i), "is required")
		}
		s.Periods[i] = p.ToPricing()
	}
	if err := fs.Err(); err != nil {
		return pricing.Session{}, err
	}
	return s, nil
}

// Totals is the set of total_* fields of a CDR, each nil when absent, in
// the engine's decimal form (for comparing a CDR with a computed result).
type Totals struct {
	TotalCost            *pricing.Amount
	TotalFixedCost       *pricing.Amount
	TotalEnergy          *decimal.Decimal
	TotalEnergyCost      *pricing.Amount
	TotalTime            *decimal.Decimal
	TotalTimeCost        *pricing.Amount
	TotalParkingTime     *decimal.Decimal
	TotalParkingCost     *pricing.Amount
	TotalReservationCost *pricing.Amount
}

// Totals returns the CDR's stated totals. A Price without incl_vat reports
// incl_vat equal to excl_vat.
func (c CDR) Totals() Totals {
	total := amount(&c.TotalCost)
	return Totals{
		TotalCost:            total,
		TotalFixedCost:       amount(c.TotalFixedCost),
		TotalEnergy:          decPtr(c.TotalEnergy.Decimal),
		TotalEnergyCost:      amount(c.TotalEnergyCost),
		TotalTime:            decPtr(c.TotalTime.Decimal),
		TotalTimeCost:        amount(c.TotalTimeCost),
		TotalParkingTime:     c.TotalParkingTime.Dec(),
		TotalParkingCost:     amount(c.TotalParkingCost),
		TotalReservationCost: amount(c.TotalReservationCost),
	}
}

func amount(p *Price) *pricing.Amount {
	if p == nil {
		return nil
	}
	a := pricing.Amount{ExclVAT: p.ExclVAT.Decimal, InclVAT: p.ExclVAT.Decimal}
	if p.InclVAT != nil {
		a.InclVAT = p.InclVAT.Decimal
	}
	return &a
}

// PriceOf converts an engine amount to a wire Price.
func PriceOf(a pricing.Amount) Price {
	in := Number{a.InclVAT}
	return Price{ExclVAT: Number{a.ExclVAT}, InclVAT: &in}
}
