package adminapi_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/node"
)

// TestMSPTokenProfileContract: default_profile_type and energy_contract of
// msp-token through every operation that carries them, each request and
// answer validated against the Admin API's OpenAPI document: create, get,
// list, a merge inside energy_contract, clearing, and refusals (the ones
// the document can express refused by it too).
func TestMSPTokenProfileContract(t *testing.T) {
	t.Parallel()
	spec := loadOASpec(t)
	user, secret := oaBootstrap(t)
	c := &oaClient{t: t, spec: spec, app: oaApp(t, node.Deps{PublicURL: oaPublicURL}), user: user, secret: secret, cov: &oaCoverage{seen: map[string]bool{}}}
	s := c.do(201, "POST", "/main/v1/seller", map[string]any{"name": "Seller " + uuid.NewString(), "country": "NL"})
	adm := c.do(201, "POST", "/main/v1/administration", map[string]any{"name": "Adm", "currency": "EUR", "seller_id": s.str("id")}).str("id")
	given, _ := evco(t)
	uid := "PRF-" + uuid.NewString()[:8]
	body := func(kv ...any) map[string]any {
		b := map[string]any{"administration_id": adm, "evco_id": given, "uid": uid}
		for i := 0; i < len(kv); i += 2 {
			b[kv[i].(string)] = kv[i+1]
		}
		return b
	}

	// Refusals, each naming its path.
	r := c.do(400, "POST", "/main/v1/msp-token", body("default_profile_type", "ECO"), oaDocRejects())
	require.Equal(t, []string{"default_profile_type"}, r.errPaths())
	r = c.do(400, "POST", "/main/v1/msp-token", body("energy_contract", map[string]any{"supplier_name": strings.Repeat("é", 65)}), oaDocRejects())
	require.Equal(t, []string{"energy_contract.supplier_name"}, r.errPaths())
	r = c.do(400, "POST", "/main/v1/msp-token", body("energy_contract", map[string]any{"contract_id": "C-1"}))
	require.Equal(t, []string{"energy_contract.supplier_name"}, r.errPaths(), "supplier_name is required")
	r = c.do(400, "POST", "/main/v1/msp-token", body("energy_contract", []any{"Greenpeace"}), oaDocRejects())
	require.Equal(t, []string{"energy_contract"}, r.errPaths())

	// Create with both (64 characters, not bytes, are allowed), read back.
	supplier := strings.Repeat("é", 64)
	tok := c.do(201, "POST", "/main/v1/msp-token", body("default_profile_type", "FAST",
		"energy_contract", map[string]any{"supplier_name": supplier, "contract_id": " 0123456789 "}))
	require.Equal(t, "FAST", tok.str("default_profile_type"))
	require.Equal(t, map[string]any{"supplier_name": supplier, "contract_id": "0123456789"}, tok.JSON["energy_contract"], "trimmed")
	id := tok.str("id")
	require.Equal(t, tok.JSON["energy_contract"], c.do(200, "GET", "/main/v1/msp-token/"+id, nil).JSON["energy_contract"])
	l := c.do(200, "GET", "/main/v1/msp-token?uid="+uid, nil).items()
	require.Len(t, l, 1)
	require.Equal(t, "FAST", l[0]["default_profile_type"])

	// Merge inside the object (RFC 7396), then clear.
	m := c.do(200, "POST", "/main/v1/msp-token/"+id, map[string]any{"energy_contract": map[string]any{"supplier_name": "Greenpeace Energy eG"}})
	require.Equal(t, map[string]any{"supplier_name": "Greenpeace Energy eG", "contract_id": "0123456789"}, m.JSON["energy_contract"])
	require.Equal(t, "FAST", m.str("default_profile_type"), "left out, kept")
	m = c.do(200, "POST", "/main/v1/msp-token/"+id, map[string]any{"energy_contract": map[string]any{"contract_id": nil}, "default_profile_type": "REGULAR"})
	require.Equal(t, map[string]any{"supplier_name": "Greenpeace Energy eG", "contract_id": nil}, m.JSON["energy_contract"])
	require.Equal(t, "REGULAR", m.str("default_profile_type"))
	m = c.do(200, "POST", "/main/v1/msp-token/"+id, map[string]any{"energy_contract": nil, "default_profile_type": ""})
	require.Nil(t, m.JSON["energy_contract"])
	require.Nil(t, m.JSON["default_profile_type"], "an empty string is null")
	c.do(400, "POST", "/main/v1/msp-token/"+id, map[string]any{"energy_contract": map[string]any{"contract_id": "C-2"}})
}
