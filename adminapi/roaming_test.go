package adminapi_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestOwnParties(t *testing.T) {
	t.Parallel()
	h := setup(t)
	code := "X" + string(rune('A'+len(t.Name())%26))
	pid := uuid.NewString()[:3]
	r := h.must(201, h.do("POST", "/main/v1/own-party", map[string]any{"country_code": code, "party_id": pid, "role": "emsp", "name": "Our eMSP", "website": "https://example.com"}))
	require.Equal(t, "EMSP", r.str("role"), "stored normalised")
	require.Equal(t, code, r.str("country_code"))
	// Identity is immutable; the name is not.
	u := h.must(200, h.do("POST", "/main/v1/own-party/"+r.str("id"), map[string]any{"party_id": "ZZZ", "name": "Renamed"}))
	require.Equal(t, r.str("party_id"), u.str("party_id"))
	require.Equal(t, "Renamed", u.str("name"))
	bad := h.must(400, h.do("POST", "/main/v1/own-party", map[string]any{"country_code": "NLD", "party_id": "T", "role": "HUB", "name": "", "website": "ftp://x"}))
	require.ElementsMatch(t, []string{"party_id", "role", "name", "website"}, bad.fields())
	// The same identity twice is a duplicate.
	h.must(400, h.do("POST", "/main/v1/own-party", map[string]any{"country_code": code, "party_id": pid, "role": "EMSP", "name": "again"}))
}

func TestRoamingPartnersAndAgreements(t *testing.T) {
	t.Parallel()
	h := setup(t)
	p1 := "Q" + uuid.NewString()[:2]
	r := h.must(201, h.do("POST", "/main/v1/roaming-partner", map[string]any{"name": "TandemDrive", "country": "NL",
		"party_ids": []map[string]any{{"party": "nl-" + p1, "role": "cpo"}, {"party": "NL*" + p1, "role": "EMSP"}}}))
	ids := r.JSON["party_ids"].([]any)
	require.Len(t, ids, 2)
	first := ids[0].(map[string]any)
	require.Equal(t, "NL-"+strings.ToUpper(p1), first["party"], "normalised, separator optional on input")
	// Lookup by party, with or without separator.
	l := h.must(200, h.do("GET", "/main/v1/roaming-partner?party=NL"+p1, nil))
	require.Len(t, l.items(), 1)
	// A party id belongs to one partner only.
	dup := h.must(400, h.do("POST", "/main/v1/roaming-partner", map[string]any{"name": "Other", "country": "NL",
		"party_ids": []map[string]any{{"party": "NL-" + p1, "role": "CPO"}}}))
	require.Equal(t, []string{"party_ids"}, dup.fields())
	bad := h.must(400, h.do("POST", "/main/v1/roaming-partner", map[string]any{"name": "x", "country": "NL",
		"party_ids": []map[string]any{{"party": "NL-TOOLONG", "role": "CPO"}, {"party": "DE-ABC", "role": "KING"}}}))
	require.ElementsMatch(t, []string{"party_ids[0].party", "party_ids[1].role"}, bad.fields())

	// Agreements: one per partner and role at a time.
	a := h.must(201, h.do("POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": r.str("id"), "role": "msp", "valid_from": "2024-01-01T00:00:30Z", "valid_until": "2025-01-01T00:00:00Z"}))
	require.Equal(t, "2024-01-01T00:00:00Z", a.str("valid_from"))
	h.must(201, h.do("POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": r.str("id"), "role": "msp", "valid_from": "2025-01-01T00:00:00Z"}))
	h.must(201, h.do("POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": r.str("id"), "role": "cpo", "valid_from": "2024-06-01T00:00:00Z"}))
	ov := h.must(400, h.do("POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": r.str("id"), "role": "msp", "valid_from": "2024-12-01T00:00:00Z", "valid_until": "2025-02-01T00:00:00Z"}))
	require.Equal(t, "overlapping_validity", ov.code())
	l = h.must(200, h.do("GET", "/main/v1/roaming-agreement?partner_id="+r.str("id")+"&valid_at=2025-01-01T00:00:00Z", nil))
	require.Len(t, l.items(), 2)
	h.must(400, h.do("POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": uuid.NewString(), "role": "msp"}))
}

func TestRoamingConnectionTokens(t *testing.T) {
	t.Parallel()
	h := setup(t)
	r := h.must(201, h.do("POST", "/main/v1/roaming-connection", map[string]any{"name": "Partner X", "kind": "peer_to_peer"}))
	tokenA := r.str("token_a")
	require.Len(t, tokenA, 43)
	require.Equal(t, "pending", r.str("status"))
	require.Equal(t, true, r.JSON["our_token_is_a"])
	require.Contains(t, r.str("versions_url"), "/ocpi/versions")
	// Never readable back.
	g := h.must(200, h.do("GET", "/main/v1/roaming-connection/"+r.str("id"), nil))
	require.NotContains(t, string(g.Raw), tokenA)
	require.Equal(t, "…"+tokenA[len(tokenA)-4:], g.str("our_token_hint"))
	// The base64 setting is an operator's switch.
	u := h.must(200, h.do("POST", "/main/v1/roaming-connection/"+r.str("id"), map[string]any{"token_base64": false}))
	require.Equal(t, false, u.JSON["token_base64"])
	// A new token A replaces the old one.
	n := h.must(200, h.do("POST", "/main/v1/roaming-connection/"+r.str("id")+"/token-a", nil))
	require.NotEqual(t, tokenA, n.str("token_a"))
	bad := h.must(400, h.do("POST", "/main/v1/roaming-connection", map[string]any{"name": "", "kind": "mesh"}))
	require.ElementsMatch(t, []string{"name", "kind"}, bad.fields())
	// The exchange log answers (empty for this connection).
	l := h.must(200, h.do("GET", "/main/v1/roaming-exchange?connection_id="+r.str("id")+"&errors_only=true", nil))
	require.Empty(t, l.items())
	h.must(400, h.do("GET", "/main/v1/roaming-exchange?party=nope", nil))
	h.must(400, h.do("GET", "/main/v1/roaming-exchange?direction=sideways", nil))
}
