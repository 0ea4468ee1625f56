package module

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/roamnode/roamnode/ocpi"
)

// envelopeStatus must read the envelope's own status_code, never one in
// data or in the status_message text, and report bodies that are not
// envelopes.
func TestEnvelopeStatus(t *testing.T) {
	env := func(data any, code int, msg string) []byte {
		b, err := json.Marshal(ocpi.Response{Data: data, StatusCode: code, StatusMessage: msg, Timestamp: ocpi.NewDateTime(time.Now())})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name string
		body []byte
		code int
		ok   bool
	}{
		{"success", env(map[string]any{"allowed": "ALLOWED"}, 1000, ""), 1000, true},
		{"status_code inside data", env(map[string]any{"status_code": 3000}, 1000, ""), 1000, true},
		{"status_code quoted in the message", env(nil, 2004, `unknown token "status_code": 1000`), 2004, true},
		{"spaces after the colon", []byte(`{"status_code":  2001 ,"timestamp":"x"}`), 2001, true},
		{"not an object", []byte(`[{"status_code":1000}]`), 0, false},
		{"no status code", []byte(`{"data":1}`), 0, false},
		{"not a number", []byte(`{"status_code":"1000"}`), 0, false},
		{"empty", nil, 0, false},
	}
	for _, c := range cases {
		code, ok := envelopeStatus(c.body)
		if code != c.code || ok != c.ok {
			t.Errorf("%s: envelopeStatus(%s) = %d, %v; want %d, %v", c.name, c.body, code, ok, c.code, c.ok)
		}
	}
}
