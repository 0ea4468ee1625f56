package ocpi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/token"
)

// The official Token examples decode, validate and encode back to the same
// JSON: the wire type carries every field of the Token object.
func TestTokenOfficialExamplesRoundTrip(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "ocpi-2.2.1", "examples")
	for _, name := range []string{"token_example_1_app_user.json", "token_example_2_full_rfid.json", "token_put_example.json"} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		var tok Token
		require.NoError(t, Decode(raw, &tok), name)
		out, err := json.Marshal(tok)
		require.NoError(t, err)
		require.JSONEq(t, string(raw), string(out), name)
	}
	var env struct{ Data []Token }
	raw, err := os.ReadFile(filepath.Join(dir, "transport_and_format_get_token_list_example.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &env))
	require.Len(t, env.Data, 3)
	require.False(t, env.Data[2].Valid)
	require.NoError(t, Validate(&env.Data[0]))
}

func TestTokenValidation(t *testing.T) {
	bad := []string{
		`{"country_code":"NLD","party_id":"TNM","uid":"1","type":"RFID","contract_id":"X","issuer":"I","valid":true,"whitelist":"ALWAYS","last_updated":"2015-06-29T22:39:09Z"}`,
		`{"country_code":"NL","party_id":"TNM","uid":"1","type":"RFID","contract_id":"X","issuer":"I","valid":true,"whitelist":"SOMETIMES","last_updated":"2015-06-29T22:39:09Z"}`,
		`{"country_code":"NL","party_id":"TNM","uid":"0123456789012345678901234567890123456","type":"RFID","contract_id":"X","issuer":"I","valid":true,"whitelist":"ALWAYS","last_updated":"2015-06-29T22:39:09Z"}`,
	}
	for _, b := range bad {
		require.Error(t, Decode([]byte(b), new(Token)), b)
	}
	require.Error(t, Decode([]byte(`{"evse_uids":["a"]}`), new(LocationReferences)), "location_id is required")
	require.NoError(t, Decode([]byte(`{"location_id":"LOC1","evse_uids":["a","b"]}`), new(LocationReferences)))
}

func TestTokenOf(t *testing.T) {
	vn := "DF000-2001-8999-1"
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	iss := token.Issued{CountryCode: "NL", PartyID: "RNE", UID: "12345678905880", Type: token.TypeRFID, ContractID: "NLRNEC12345678X",
		Issuer: "Demo", VisualNumber: &vn, UpdatedAt: at.Add(-time.Hour)}
	tok := TokenOf(iss, at)
	require.False(t, tok.Valid, "no link")
	require.Equal(t, token.WhitelistAllowed, tok.Whitelist)
	require.Equal(t, vn, tok.VisualNumber)
	require.Empty(t, tok.GroupID)
	require.Equal(t, "2024-05-01T11:00:00Z", tok.LastUpdated.String())
	require.NoError(t, Validate(&tok))
}
