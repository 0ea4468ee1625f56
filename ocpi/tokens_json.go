package ocpi

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
)

// OKAuthorizationInfo writes the success envelope of a real-time
// authorization (mod_tokens → Sender "POST Method") as OK(c, info) would,
// with an encoder written for AuthorizationInfo: the answer is on the
// hottest path of the node, where the generic encoder (reflection-free
// goccy, but still the any-typed envelope, a DateTime MarshalJSON call
// and its re-validation, a copy) was 5 % of the node's CPU
// (docs/performance.md, "Round 5"). The fields, their order and their
// omitempty rules are those of the struct tags; a test compares the
// decoded result with the generic encoder's for every Allowed value, with
// and without location. The rare optional object this encoder does not
// write (info) goes through the generic encoder.
func OKAuthorizationInfo(c *fiber.Ctx, info AuthorizationInfo) error {
	if info.Info != nil {
		return OK(c, info)
	}
	b := make([]byte, 0, 512)
	b = append(b, `{"data":`...)
	b = info.appendJSON(b)
	b = append(b, `,"status_code":`...)
	b = strconv.AppendInt(b, StatusSuccess, 10)
	b = append(b, `,"timestamp":`...)
	b = appendDateTime(b, time.Now())
	b = append(b, '}')
	c.Status(fiber.StatusOK)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	c.Response().SetBodyRaw(b)
	return nil
}

// appendJSON appends the JSON object of a (without info, see
// OKAuthorizationInfo).
func (a *AuthorizationInfo) appendJSON(b []byte) []byte {
	b = append(b, `{"allowed":`...)
	b = appendJSONString(b, string(a.Allowed))
	b = append(b, `,"token":`...)
	t := &a.Token
	b = append(b, `{"country_code":`...)
	b = appendJSONString(b, t.CountryCode)
	b = append(b, `,"party_id":`...)
	b = appendJSONString(b, t.PartyID)
	b = append(b, `,"uid":`...)
	b = appendJSONString(b, t.UID)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, string(t.Type))
	b = append(b, `,"contract_id":`...)
	b = appendJSONString(b, t.ContractID)
	if t.VisualNumber != "" {
		b = append(b, `,"visual_number":`...)
		b = appendJSONString(b, t.VisualNumber)
	}
	b = append(b, `,"issuer":`...)
	b = appendJSONString(b, t.Issuer)
	if t.GroupID != "" {
		b = append(b, `,"group_id":`...)
		b = appendJSONString(b, t.GroupID)
	}
	b = append(b, `,"valid":`...)
	b = strconv.AppendBool(b, t.Valid)
	b = append(b, `,"whitelist":`...)
	b = appendJSONString(b, string(t.Whitelist))
	if t.Language != "" {
		b = append(b, `,"language":`...)
		b = appendJSONString(b, t.Language)
	}
	if t.DefaultProfileType != "" {
		b = append(b, `,"default_profile_type":`...)
		b = appendJSONString(b, t.DefaultProfileType)
	}
	if ec := t.EnergyContract; ec != nil {
		b = append(b, `,"energy_contract":{"supplier_name":`...)
		b = appendJSONString(b, ec.SupplierName)
		if ec.ContractID != "" {
			b = append(b, `,"contract_id":`...)
			b = appendJSONString(b, ec.ContractID)
		}
		b = append(b, '}')
	}
	b = append(b, `,"last_updated":`...)
	b = appendDateTime(b, t.LastUpdated.Time)
	b = append(b, '}')
	if l := a.Location; l != nil {
		b = append(b, `,"location":{"location_id":`...)
		b = appendJSONString(b, l.LocationID)
		if len(l.EVSEUIDs) > 0 {
			b = append(b, `,"evse_uids":[`...)
			for i, e := range l.EVSEUIDs {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, e)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	if a.AuthorizationReference != "" {
		b = append(b, `,"authorization_reference":`...)
		b = appendJSONString(b, a.AuthorizationReference)
	}
	return append(b, '}')
}

// appendDateTime appends t as DateTime.MarshalJSON writes it.
func appendDateTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
	return append(b, '"')
}

// appendJSONString appends s as a JSON string. Printable ASCII without
// quote or backslash, which is every value of this path in practice
// (CiStrings, enums, UUIDs), is copied as is; anything else goes through
// encoding/json, which escapes it correctly.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
