package module_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi/ocpitest"
)

// TestEMSPTokenProfileAndEnergyContract: default_profile_type and
// energy_contract of the official full RFID example
// (token_example_2_full_rfid.json) are set on an MSP token through the
// Admin API (validated, with field paths), read back, and published as in
// the example by our Tokens sender (list), the real-time authorization's
// AuthorizationInfo.token and the push to a CPO's Tokens receiver, every
// answer and the pushed body validated against the official OpenAPI
// files; a merge changes or clears them, and the change is published.
func TestEMSPTokenProfileAndEnergyContract(t *testing.T) {
	a := start(t, "NL", "RNE", "EMSP")
	token := partner.NewToken()
	a.registered(token)
	cpo := newFakeCPO(t)
	a.cpoTokenReceiver(cpo)
	f := newMSPFixture(a)
	sub := f.subscription("2024-01-01T00:00:00Z", "")
	ex := readExample(t, "token_example_2_full_rfid.json")
	const uid = "12345678905880"

	// Validation: every bad value named by its path; nothing is created.
	base := map[string]any{"administration_external_reference": f.adminRef, "evco_id": evcoFor(uid), "uid": uid}
	with := func(kv map[string]any) map[string]any {
		b := map[string]any{}
		for k, v := range base {
			b[k] = v
		}
		for k, v := range kv {
			b[k] = v
		}
		return b
	}
	paths := func(body map[string]any) []string {
		t.Helper()
		e := a.admin(400, "POST", "/main/v1/msp-token", body)["error"].(map[string]any)
		var out []string
		for _, x := range e["fields"].([]any) {
			out = append(out, x.(map[string]any)["path"].(string))
		}
		return out
	}
	require.ElementsMatch(t, []string{"default_profile_type", "energy_contract.supplier_name"},
		paths(with(map[string]any{"default_profile_type": "green", "energy_contract": map[string]any{"contract_id": "C1"}})))
	require.ElementsMatch(t, []string{"energy_contract.supplier_name", "energy_contract.contract_id"},
		paths(with(map[string]any{"energy_contract": map[string]any{"supplier_name": strings.Repeat("s", 65), "contract_id": strings.Repeat("c", 65)}})))
	require.ElementsMatch(t, []string{"energy_contract.supplier_name", "energy_contract.colour"},
		paths(with(map[string]any{"energy_contract": map[string]any{"supplier_name": 5, "colour": "green"}})))
	require.ElementsMatch(t, []string{"energy_contract.supplier_name"},
		paths(with(map[string]any{"energy_contract": map[string]any{"supplier_name": "  "}})))
	require.ElementsMatch(t, []string{"energy_contract"}, paths(with(map[string]any{"energy_contract": "Greenpeace"})))
	require.Empty(t, a.admin(200, "GET", "/main/v1/msp-token?uid="+uid, nil)["items"])

	// Created with the example's values.
	tok := f.token(uid, map[string]any{"type": "RFID", "issuer": "TheNewMotion", "default_profile_type": ex["default_profile_type"],
		"energy_contract": ex["energy_contract"]})
	f.link(tok, sub, "2024-01-01T00:00:00Z", "", nil)
	r := a.admin(200, "GET", "/main/v1/msp-token/"+tok, nil)
	require.Equal(t, "GREEN", r["default_profile_type"])
	sameJSON(t, ex["energy_contract"], r["energy_contract"])

	// published gives the token as the Tokens sender lists it and as the
	// real-time authorization answers it (both validated by in.ocpi).
	published := func() (map[string]any, map[string]any) {
		t.Helper()
		_, env := a.ocpi(token, true, "GET", "/ocpi/2.2.1/emsp/tokens?limit=100", nil)
		var listed map[string]any
		for _, x := range env["data"].([]any) {
			if m := x.(map[string]any); m["uid"] == uid {
				listed = m
			}
		}
		require.NotNil(t, listed)
		st, env := authorize(a, token, uid, "RFID", nil)
		require.Equal(t, 200, st)
		_, info := allowedOf(t, env)
		return listed, info["token"].(map[string]any)
	}
	// pushed is the latest PUT to the CPO, checked against the official
	// request schema of the Tokens receiver.
	const pushPath = "/ocpi/cpo/2.2.1/tokens/NL/RNE/" + uid
	pushed := func() map[string]any {
		t.Helper()
		drainPushes(t, a)
		p := cpo.last(pushPath)
		require.Equal(t, "PUT", p.Method, "%+v", cpo.pushes())
		raw, err := json.Marshal(p.Body)
		require.NoError(t, err)
		h := http.Header{}
		h.Set("Authorization", "Token x")
		h.Set("Content-Type", "application/json")
		h.Set("X-Request-ID", uuid.NewString())
		h.Set("X-Correlation-ID", uuid.NewString())
		ocpitest.ValidateRequest(t, "PUT", "/ocpi/2.2.1/cpo/tokens/NL/RNE/"+uid+"?type=RFID", h, raw)
		return p.Body
	}
	listed, authorized := published()
	for _, got := range []map[string]any{listed, authorized, pushed()} {
		require.Equal(t, "GREEN", got["default_profile_type"])
		sameJSON(t, ex["energy_contract"], got["energy_contract"])
		// The rest as in the example (our party and EVCO ID aside).
		for _, k := range []string{"uid", "type", "issuer", "valid", "whitelist"} {
			require.Equal(t, ex[k], got[k], k)
		}
	}

	// A merge inside energy_contract keeps the supplier and drops the
	// contract id; the sender and the push follow.
	time.Sleep(1100 * time.Millisecond) // last_updated has whole seconds
	before := listed["last_updated"].(string)
	m := a.admin(200, "POST", "/main/v1/msp-token/"+tok, map[string]any{"energy_contract": map[string]any{"contract_id": nil},
		"default_profile_type": "CHEAP"})
	require.Equal(t, map[string]any{"supplier_name": "Greenpeace Energy eG", "contract_id": nil}, m["energy_contract"])
	listed, authorized = published()
	for _, got := range []map[string]any{listed, authorized, pushed()} {
		require.Equal(t, "CHEAP", got["default_profile_type"])
		require.Equal(t, map[string]any{"supplier_name": "Greenpeace Energy eG"}, got["energy_contract"])
	}
	require.Greater(t, listed["last_updated"].(string), before, "a change of the published token moves last_updated")

	// Cleared: left out of the OCPI Token.
	m = a.admin(200, "POST", "/main/v1/msp-token/"+tok, map[string]any{"energy_contract": nil, "default_profile_type": nil})
	require.Nil(t, m["energy_contract"])
	require.Nil(t, m["default_profile_type"])
	listed, authorized = published()
	for _, got := range []map[string]any{listed, authorized, pushed()} {
		require.NotContains(t, got, "default_profile_type")
		require.NotContains(t, got, "energy_contract")
	}
}
