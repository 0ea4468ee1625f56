package module_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/roaming"
)

// emspConnection gives in a registered connection whose partner uses
// token and holds the eMSP parties ("NL-TNM", …).
func (in *instance) emspConnection(token string, parties ...string) uuid.UUID {
	in.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	var roles []partner.CredentialsRole
	for _, p := range parties {
		ref, ok := partner.ParsePartyRef(p)
		require.True(in.t, ok, p)
		roles = append(roles, partner.CredentialsRole{Role: partner.RoleEMSP, CountryCode: ref.CountryCode, PartyID: ref.PartyID, Name: "eMSP " + p})
	}
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "emsp", Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	c.Registered(token, "their-token", "http://127.0.0.1:1/versions", "2.2.1", nil, roles, "partner", now)
	require.NoError(in.t, db.SaveConnection(ctx, in.db.Pool, c, true))
	require.NoError(in.t, db.RoamingStore{Pool: in.db.Pool}.InTx(ctx, func(tx roaming.Tx) error { return tx.LinkParties(ctx, c.ID, roles) }))
	return c.ID
}

// example reads an official OCPI example as a JSON object.
func example(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "ocpi-2.2.1", "examples", name))
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(raw, &v))
	return v
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func jsonOf(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestCPOTokensReceiverExamples(t *testing.T) {
	a := start(t, "NL", "RNC", "CPO")
	token := partner.NewToken()
	a.emspConnection(token, "NL-TNM", "DE-TNM")

	// The versions details announce the receiver.
	_, env := a.ocpi(token, true, "GET", "/ocpi/2.2.1", nil)
	found := false
	for _, e := range env["data"].(map[string]any)["endpoints"].([]any) {
		ep := e.(map[string]any)
		found = found || ep["identifier"] == "tokens" && ep["role"] == "RECEIVER" && ep["url"] == a.base+"/ocpi/2.2.1/cpo/tokens"
	}
	require.True(t, found, "version details list the tokens RECEIVER")

	// Every official token example is pushed and read back identical.
	for _, ex := range []struct{ file, path string }{
		{"token_put_example.json", "/ocpi/2.2.1/cpo/tokens/NL/TNM/012345678"},
		{"token_example_1_app_user.json", "/ocpi/2.2.1/cpo/tokens/DE/TNM/bdf21bce-fc97-11e8-8eb2-f2801f1b9fd1?type=APP_USER"},
		{"token_example_2_full_rfid.json", "/ocpi/2.2.1/cpo/tokens/DE/TNM/12345678905880?type=RFID"},
	} {
		obj := example(t, ex.file)
		st, env := a.ocpi(token, true, "PUT", ex.path, obj)
		require.Equal(t, 201, st, "%s: %v", ex.file, env)
		require.Equal(t, float64(1000), env["status_code"])
		st, env = a.ocpi(token, true, "GET", ex.path, nil)
		require.Equal(t, 200, st)
		require.JSONEq(t, jsonOf(t, obj), jsonOf(t, env["data"]), ex.file)
		// Pushing it again is an update (200), not a creation.
		st, _ = a.ocpi(token, true, "PUT", ex.path, obj)
		require.Equal(t, 200, st)
	}
	// The token list examples too (without ?type=: the object's type).
	for _, obj := range example(t, "transport_and_format_get_token_list_example.json")["data"].([]any) {
		o := obj.(map[string]any)
		path := "/ocpi/2.2.1/cpo/tokens/NL/TNM/" + o["uid"].(string)
		st, _ := a.ocpi(token, true, "PUT", path, o)
		require.Equal(t, 201, st)
		_, env := a.ocpi(token, true, "GET", path, nil)
		require.JSONEq(t, jsonOf(t, o), jsonOf(t, env["data"]))
	}

	// The PATCH example invalidates the token; the other fields stay.
	put := example(t, "token_put_example.json")
	patch := example(t, "token_patch_example.json")
	st, env := a.ocpi(token, true, "PATCH", "/ocpi/2.2.1/cpo/tokens/NL/TNM/012345678", patch)
	require.Equal(t, 200, st, "%v", env)
	require.Equal(t, float64(1000), env["status_code"])
	_, env = a.ocpi(token, true, "GET", "/ocpi/2.2.1/cpo/tokens/NL/TNM/012345678", nil)
	require.JSONEq(t, jsonOf(t, with(put, "valid", false, "last_updated", "2019-06-19T02:11:11Z")), jsonOf(t, env["data"]))
}

func TestCPOTokensReceiverRules(t *testing.T) {
	a := start(t, "NL", "RNC", "CPO")
	token, other := partner.NewToken(), partner.NewToken()
	a.emspConnection(token, "NL-TNM")
	a.emspConnection(other, "BE-OTH")
	base := "/ocpi/2.2.1/cpo/tokens/NL/TNM/"
	tok := with(example(t, "token_put_example.json"), "uid", "AbC123", "last_updated", "2024-05-01T10:00:00Z")
	get := func(path string) (int, map[string]any) {
		st, env := a.ocpi(token, true, "GET", path, nil)
		data, _ := env["data"].(map[string]any)
		return st, data
	}
	code := func(env map[string]any) float64 { return env["status_code"].(float64) }

	st, _ := a.ocpi(token, true, "PUT", base+"AbC123", tok)
	require.Equal(t, 201, st)
	// uids compare case-insensitively and keep their casing.
	st, data := get(base + "abc123")
	require.Equal(t, 200, st)
	require.Equal(t, "AbC123", data["uid"])
	// The type defaults to RFID; another type is another token.
	st, _ = get(base + "AbC123?type=APP_USER")
	require.Equal(t, 404, st)
	_, env := a.ocpi(token, true, "GET", base+"AbC123?type=BADGE", nil)
	require.Equal(t, float64(2001), code(env))

	// last_updated ordering: an older PUT or PATCH never overwrites.
	st, env = a.ocpi(token, true, "PUT", base+"AbC123", with(tok, "valid", false, "last_updated", "2024-04-30T10:00:00Z"))
	require.Equal(t, 200, st)
	require.Equal(t, float64(1000), code(env), "an outdated push is acknowledged")
	_, data = get(base + "abc123")
	require.Equal(t, true, data["valid"])
	_, env = a.ocpi(token, true, "PATCH", base+"abc123", map[string]any{"valid": false, "last_updated": "2024-04-30T11:00:00"})
	require.Equal(t, float64(1000), code(env))
	_, data = get(base + "abc123")
	require.Equal(t, true, data["valid"])
	require.Equal(t, "2024-05-01T10:00:00Z", data["last_updated"])
	// A newer PATCH applies; null removes an optional field.
	_, env = a.ocpi(token, true, "PATCH", base+"abc123", map[string]any{"whitelist": "NEVER", "group_id": nil, "last_updated": "2024-05-02T10:00:00Z"})
	require.Equal(t, float64(1000), code(env))
	_, data = get(base + "abc123")
	require.Equal(t, "NEVER", data["whitelist"])
	require.NotContains(t, data, "group_id")
	require.Equal(t, "AbC123", data["uid"])
	// A newer PUT replaces the whole token.
	a.ocpi(token, true, "PUT", base+"AbC123", with(tok, "visual_number", nil, "last_updated", "2024-05-03T10:00:00Z"))
	_, data = get(base + "abc123")
	require.NotContains(t, data, "visual_number")
	require.Equal(t, "ALWAYS", data["whitelist"])

	// Wrong party: another connection's party, or one nobody has.
	for _, p := range []string{"/ocpi/2.2.1/cpo/tokens/BE/OTH/AbC123", "/ocpi/2.2.1/cpo/tokens/NL/XXX/AbC123"} {
		_, env = a.ocpi(token, true, "PUT", p, with(tok, "country_code", p[24:26], "party_id", p[27:30]))
		require.Equal(t, float64(2001), code(env), p)
		st, _ = a.ocpi(token, true, "GET", p, nil)
		require.Equal(t, 404, st, p)
		st, _ = a.ocpi(token, true, "PATCH", p, map[string]any{"valid": false, "last_updated": "2030-01-01T00:00:00Z"})
		require.Equal(t, 404, st, p)
	}
	// The other connection cannot read or change NL-TNM's tokens either.
	st, _ = a.ocpi(other, true, "GET", base+"AbC123", nil)
	require.Equal(t, 404, st)
	_, env = a.ocpi(other, true, "PUT", base+"AbC123", tok)
	require.Equal(t, float64(2001), code(env))
	// The object must be the one of the URL.
	for _, bad := range []map[string]any{
		with(tok, "party_id", "TNX"),
		with(tok, "country_code", "DE"),
		with(tok, "uid", "other"),
	} {
		_, env = a.ocpi(token, true, "PUT", base+"AbC123", bad)
		require.Equal(t, float64(2001), code(env), "%v", bad)
	}
	_, env = a.ocpi(token, true, "PUT", base+"AbC123?type=APP_USER", tok)
	require.Equal(t, float64(2001), code(env), "type of the URL and of the object differ")
	_, env = a.ocpi(token, true, "PATCH", base+"AbC123", map[string]any{"uid": "changed", "last_updated": "2030-01-01T00:00:00Z"})
	require.Equal(t, float64(2001), code(env), "a PATCH cannot change the key")
	// Required fields and types (2001 naming the field).
	for field, bad := range map[string]map[string]any{
		"valid":        with(tok, "valid", nil),
		"whitelist":    with(tok, "whitelist", "SOMETIMES"),
		"contract_id":  with(tok, "contract_id", nil),
		"last_updated": with(tok, "last_updated", "yesterday"),
	} {
		_, env = a.ocpi(token, true, "PUT", base+"AbC123", bad)
		require.Equal(t, float64(2001), code(env), field)
		require.Contains(t, env["status_message"], field)
	}
	st, env = a.ocpi(token, true, "PATCH", base+"AbC123", map[string]any{"valid": false})
	require.Equal(t, float64(2001), code(env), "PATCH without last_updated: %d", st)
	_, env = a.ocpi(token, true, "PATCH", base+"AbC123", map[string]any{"valid": "no", "last_updated": "2030-01-01T00:00:00Z"})
	require.Equal(t, float64(2001), code(env))
	_, env = a.ocpi(token, true, "PATCH", base+"AbC123", map[string]any{"whitelist": nil, "last_updated": "2030-01-01T00:00:00Z"})
	require.Equal(t, float64(2001), code(env), "a PATCH cannot remove a required field")
	st, _ = a.ocpi(token, true, "PATCH", base+"unknown", map[string]any{"valid": false, "last_updated": "2030-01-01T00:00:00Z"})
	require.Equal(t, 404, st)
	_, env = a.ocpi(token, true, "PUT", base+"0123456789012345678901234567890123456", with(tok, "uid", "0123456789012345678901234567890123456"))
	require.Equal(t, float64(2001), code(env), "uid longer than 36")
	// Nothing of the refused requests was stored.
	_, data = get(base + "abc123")
	require.Equal(t, "2024-05-03T10:00:00Z", data["last_updated"])
}
