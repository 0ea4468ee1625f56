package ocpi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/session"
)

// SessionStatus is the status of a Session (mod_sessions "SessionStatus
// enum"): ACTIVE, COMPLETED, INVALID, PENDING or RESERVATION; the values
// are domain/session's ProgressStatus constants.
type SessionStatus string

// Session is the OCPI 2.2.1 Session object (mod_sessions "Session
// Object"): one charging session as the CPO reports it while it runs. The
// CPO owns it (Client Owned Object); an eMSP receives it through its
// Sessions receiver (PUT, PATCH) or pulls it from the CPO's sender.
type Session struct {
	CountryCode   string    `json:"country_code" validate:"required,ocpi_country"`
	PartyID       string    `json:"party_id" validate:"required,ocpi_party"`
	ID            string    `json:"id" validate:"required,max=36,cistring"`
	StartDateTime DateTime  `json:"start_date_time" validate:"required"`
	EndDateTime   *DateTime `json:"end_date_time,omitempty"`
	// Kwh is the energy charged so far, in kWh.
	Kwh                    Number     `json:"kwh" validate:"required"`
	CdrToken               CdrToken   `json:"cdr_token" validate:"required"`
	AuthMethod             AuthMethod `json:"auth_method" validate:"required,oneof=AUTH_REQUEST COMMAND WHITELIST"`
	AuthorizationReference string     `json:"authorization_reference,omitempty" validate:"omitempty,max=36,cistring"`
	LocationID             string     `json:"location_id" validate:"required,max=36,cistring"`
	// EvseUID and ConnectorID may be "#NA" for a reservation without an
	// EVSE assigned yet (transport_and_format → Not available).
	EvseUID         string           `json:"evse_uid" validate:"required,max=36,cistring"`
	ConnectorID     string           `json:"connector_id" validate:"required,max=36,cistring"`
	MeterID         string           `json:"meter_id,omitempty" validate:"omitempty,max=255,ocpi_string"`
	Currency        string           `json:"currency" validate:"required,len=3"`
	ChargingPeriods []ChargingPeriod `json:"charging_periods,omitempty"`
	TotalCost       *Price           `json:"total_cost,omitempty"`
	Status          SessionStatus    `json:"status" validate:"required,oneof=ACTIVE COMPLETED INVALID PENDING RESERVATION"`
	LastUpdated     DateTime         `json:"last_updated" validate:"required"`
}

// DecodeSession decodes and fully validates a pushed or pulled Session:
// JSON types (a malformed value is 2001 naming its path), the field rules,
// and the rules of Check. Unknown fields are ignored; timestamps without a
// zone are UTC (DateTime).
func DecodeSession(body []byte) (Session, error) {
	var s Session
	if err := Decode(body, &s); err != nil {
		return Session{}, err
	}
	return s, s.Check()
}

// Check applies the rules the field tags cannot express: the CdrToken's
// required fields (mod_cdrs → CdrToken class), the charging periods
// (mod_cdrs → ChargingPeriod and CdrDimension), the Price's excl_vat
// (types → Price class), a currency of three letters (ISO 4217), an energy
// that is not negative and an end not before the start. Every problem is
// reported by its JSON path (fault.KindInvalid, 2001 on the wire).
func (s *Session) Check() error {
	var fs fault.Fields
	t := s.CdrToken
	if !IsCountryCode(t.CountryCode) {
		fs.Add("cdr_token.country_code", "must be a 2-letter ISO 3166 country code")
	}
	if !IsPartyID(t.PartyID) {
		fs.Add("cdr_token.party_id", "must be 3 letters or digits (ISO 15118 party id)")
	}
	if strings.TrimSpace(t.UID) == "" || len(t.UID) > 36 || !IsCiString(t.UID) {
		fs.Add("cdr_token.uid", "is required: printable ASCII, at most 36 characters")
	}
	switch t.Type {
	case "AD_HOC_USER", "APP_USER", "OTHER", "RFID":
	default:
		fs.Add("cdr_token.type", "must be one of AD_HOC_USER, APP_USER, OTHER, RFID")
	}
	if strings.TrimSpace(t.ContractID) == "" || len(t.ContractID) > 36 || !IsCiString(t.ContractID) {
		fs.Add("cdr_token.contract_id", "is required: printable ASCII, at most 36 characters")
	}
	if !isLetters(s.Currency, 3) {
		fs.Add("currency", "must be an ISO 4217 currency code of 3 letters")
	}
	if s.Kwh.IsNegative() {
		fs.Add("kwh", "must not be negative")
	}
	if s.EndDateTime != nil && !s.StartDateTime.IsZero() && s.EndDateTime.Before(s.StartDateTime.Time) {
		fs.Add("end_date_time", "must not be before start_date_time")
	}
	if s.TotalCost != nil && isZero(s.TotalCost.ExclVAT) {
		fs.Add("total_cost.excl_vat", "is required")
	}
	checkPeriods("charging_periods", s.ChargingPeriods, &fs)
	return fs.Err()
}

// checkPeriods applies mod_cdrs → ChargingPeriod class: a start, at least
// one dimension, each of a known CdrDimensionType and with a volume.
func checkPeriods(path string, ps []ChargingPeriod, fs *fault.Fields) {
	for i, p := range ps {
		at := fmt.Sprintf("%s[%d]", path, i)
		if p.StartDateTime.IsZero() {
			fs.Add(at+".start_date_time", "is required")
		}
		if len(p.Dimensions) == 0 {
			fs.Add(at+".dimensions", "must have at least 1 element(s)")
		}
		if len(p.TariffID) > 36 || !IsCiString(p.TariffID) {
			fs.Add(at+".tariff_id", "must be printable ASCII, at most 36 characters")
		}
		for j, d := range p.Dimensions {
			if !knownDimension(d.Type) {
				fs.Add(fmt.Sprintf("%s.dimensions[%d].type", at, j), "must be a CdrDimensionType (mod_cdrs)")
			}
			if isZero(d.Volume) {
				fs.Add(fmt.Sprintf("%s.dimensions[%d].volume", at, j), "is required")
			}
		}
	}
}

func knownDimension(t CdrDimensionType) bool {
	switch t {
	case CdrDimensionCurrent, CdrDimensionEnergy, CdrDimensionEnergyExport, CdrDimensionEnergyImport, CdrDimensionMaxCurrent,
		CdrDimensionMinCurrent, CdrDimensionMaxPower, CdrDimensionMinPower, CdrDimensionParkingTime, CdrDimensionPower,
		CdrDimensionReservationTime, CdrDimensionStateOfCharge, CdrDimensionTime:
		return true
	}
	return false
}

// isZero reports whether a Number was absent (or null) on the wire: a
// decoded 0 is not the zero value.
func isZero(n Number) bool { return reflect.ValueOf(n).IsZero() }

func isLetters(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isASCIILetter(s[i]) {
			return false
		}
	}
	return true
}

// MergeSessionPatch applies a PATCH body to the stored Session
// (mod_sessions → PATCH method): the fields present replace the stored
// ones, "Any request to the PATCH method SHALL contain the last_updated
// field", and "When a PATCH request contains the charging_periods field …
// this SHALL be processed as a request to add all the ChargingPeriod
// objects to the existing Session object. If the request charging_periods
// list is omitted (or contains an empty list), no changes SHALL be made to
// the existing list". A period equal to one already stored (same start,
// dimensions and tariff) is a retransmission of the same PATCH and is not
// added twice, so a PATCH sent again changes nothing. The merged Session is
// validated as a whole.
func MergeSessionPatch(stored Session, patch []byte) (Session, error) {
	var p map[string]json.RawMessage
	if err := Unmarshal(patch, &p); err != nil {
		return Session{}, err
	}
	if p == nil {
		return Session{}, InvalidParam("body", "must be a JSON object")
	}
	if lu, ok := p["last_updated"]; !ok || bytes.Equal(bytes.TrimSpace(lu), []byte("null")) {
		return Session{}, InvalidParam("last_updated", "is required in every PATCH (mod_sessions, PATCH method)")
	}
	cur, err := json.Marshal(stored)
	if err != nil {
		return Session{}, err
	}
	var s map[string]json.RawMessage
	if err := json.Unmarshal(cur, &s); err != nil {
		return Session{}, err
	}
	for k, v := range p {
		if k != "charging_periods" {
			s[k] = v
			continue
		}
		var add []ChargingPeriod
		if err := Unmarshal(v, &add); err != nil {
			return Session{}, prefixed("charging_periods", err)
		}
		var fs fault.Fields
		checkPeriods("charging_periods", add, &fs)
		if err := fs.Err(); err != nil {
			return Session{}, err
		}
		periods := append([]ChargingPeriod(nil), stored.ChargingPeriods...)
		for _, a := range add {
			if !containsPeriod(periods, a) {
				periods = append(periods, a)
			}
		}
		raw, err := json.Marshal(periods)
		if err != nil {
			return Session{}, err
		}
		s[k] = raw
	}
	merged, err := json.Marshal(s)
	if err != nil {
		return Session{}, err
	}
	return DecodeSession(merged)
}

// prefixed puts a field path of a decoding error of part of a body under
// its key.
func prefixed(key string, err error) error {
	if oe, ok := err.(*Error); ok && oe.Code == StatusInvalidParams {
		if strings.HasPrefix(oe.Message, "body:") {
			return InvalidParam(key, strings.TrimSpace(strings.TrimPrefix(oe.Message, "body:")))
		}
		if strings.HasPrefix(oe.Message, "[") {
			return Fail(oe.HTTP, oe.Code, key+oe.Message)
		}
	}
	return err
}

// containsPeriod reports whether ps holds a period equal to p: same start,
// same tariff and the same dimensions with equal volumes, in order.
func containsPeriod(ps []ChargingPeriod, p ChargingPeriod) bool {
	for _, q := range ps {
		if q.StartDateTime.Equal(p.StartDateTime.Time) && q.TariffID == p.TariffID && len(q.Dimensions) == len(p.Dimensions) {
			same := true
			for i := range q.Dimensions {
				if q.Dimensions[i].Type != p.Dimensions[i].Type || !q.Dimensions[i].Volume.Equal(p.Dimensions[i].Volume.Decimal) {
					same = false
					break
				}
			}
			if same {
				return true
			}
		}
	}
	return false
}

// Progress is what a change of the session is judged on
// (session.ChangeOf, session.AcceptsReport).
func (s Session) Progress() session.Progress {
	return session.Progress{Status: session.ProgressStatus(s.Status), Kwh: s.Kwh.Decimal, Periods: len(s.ChargingPeriods),
		LastUpdated: s.LastUpdated.Time}
}

// SameSession reports whether a and b are the same report (JSON values
// equal after normalisation by these types): storing b over a would
// change nothing.
func SameSession(a, b Session) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
