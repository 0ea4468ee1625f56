package module_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/partner"
)

// TestAuthorizationReferenceMatched: the reference of a real-time
// authorization (mod_tokens AuthorizationInfo.authorization_reference)
// comes back in the CPO's CDR and session report, and the Admin API
// matches them: GET /msp-token-authorization/{reference} shows the stored
// decision with the charge session and the session report carrying it
// (compared ignoring case: a CiString), the charge-session list filters on
// it, another token's CDR with the same reference is not matched, a
// reference we did not issue is not found, and an account of another
// administration is refused.
func TestAuthorizationReferenceMatched(t *testing.T) {
	a := start(t, "NL", "RNE", "EMSP")
	tok := partner.NewToken()
	a.cpoPartner(tok, "BE-BEC")
	f := newMSPFixture(a)
	sub := f.subscription("2024-01-01T00:00:00Z", "")
	uid := "R" + strings.ToUpper(uuid.NewString()[:8])
	f.link(f.token(uid, nil), sub, "2024-01-01T00:00:00Z", "", nil)

	allowed, d := authorizeFrom(t, a, tok, uid, "BE", "BEC", map[string]any{"location_id": "LOC1", "evse_uids": []string{"3256"}})
	require.Equal(t, "ALLOWED", allowed)
	ref := d["authorization_reference"].(string)
	other, _ := authorizeFrom(t, a, tok, uid, "BE", "BEC", map[string]any{"location_id": "LOC2"})
	require.Equal(t, "ALLOWED", other)

	// The CPO reports the session and sends the CDR with the reference,
	// in upper case.
	s := readExample(t, "session_example_1_simple_start.json")
	s["country_code"], s["party_id"], s["id"] = "BE", "BEC", "S-"+uid
	s["cdr_token"] = map[string]any{"country_code": "NL", "party_id": "RNE", "uid": uid, "type": "RFID", "contract_id": "NL-RNE-C00000001"}
	s["authorization_reference"] = strings.ToUpper(ref)
	s["last_updated"] = time.Now().UTC().Format(time.RFC3339)
	st, env := a.ocpi(tok, true, "PUT", sessionURL("BE", "BEC", "S-"+uid), s)
	require.Equal(t, 201, st, "%v", env)
	st, env = a.rawOCPI(tok, "POST", "/ocpi/2.2.1/emsp/cdrs", cdr("CDR-"+uid, func(m map[string]any) {
		m["cdr_token"] = map[string]any{"country_code": "NL", "party_id": "RNE", "uid": uid, "type": "RFID", "contract_id": "NL-RNE-C00000001"}
		m["authorization_reference"] = strings.ToUpper(ref)
	}))
	require.Equal(t, 201, st, "%v", env)
	// Another token's CDR carrying the same reference (a CPO's mistake) is
	// not this authorization's.
	uid2 := "R" + strings.ToUpper(uuid.NewString()[:8])
	f.link(f.token(uid2, nil), f.subscription("2024-01-01T00:00:00Z", ""), "2024-01-01T00:00:00Z", "", nil)
	st, env = a.rawOCPI(tok, "POST", "/ocpi/2.2.1/emsp/cdrs", cdr("CDR-OTHER-"+uid, func(m map[string]any) {
		m["cdr_token"] = map[string]any{"country_code": "NL", "party_id": "RNE", "uid": uid2, "type": "RFID", "contract_id": "NL-RNE-C00000002"}
		m["authorization_reference"] = ref
	}))
	require.Equal(t, 201, st, "%v", env)
	// A CDR without a reference is matched to nothing.
	st, env = a.rawOCPI(tok, "POST", "/ocpi/2.2.1/emsp/cdrs", cdr("CDR-NOREF-"+uid, func(m map[string]any) {
		m["cdr_token"] = map[string]any{"country_code": "NL", "party_id": "RNE", "uid": uid, "type": "RFID", "contract_id": "NL-RNE-C00000001"}
		delete(m, "authorization_reference")
	}))
	require.Equal(t, 201, st, "%v", env)

	// The list filter is on the CDR's field: both CDRs carrying it.
	page := a.admin(200, "GET", "/main/v1/msp-charge-session?authorization_reference="+ref, nil)
	require.Len(t, page["items"], 2)
	page = a.admin(200, "GET", "/main/v1/msp-charge-session?token_uid="+uid+"&authorization_reference="+ref, nil)
	items := page["items"].([]any)
	require.Len(t, items, 1)
	cs := items[0].(map[string]any)
	require.Equal(t, "CDR-"+uid, cs["cdr_id"])
	require.Equal(t, strings.ToUpper(ref), cs["authorization_reference"], "kept as the CDR gave it")

	got := a.admin(200, "GET", "/main/v1/msp-token-authorization/"+strings.ToUpper(ref), nil)
	require.Equal(t, ref, got["authorization_reference"])
	require.Equal(t, "ALLOWED", got["allowed"])
	require.Equal(t, "valid", got["reason"])
	require.Equal(t, uid, got["token"].(map[string]any)["uid"])
	require.Equal(t, "BE", got["country_code"])
	require.Equal(t, map[string]any{"location_id": "LOC1", "evse_uids": []any{"3256"}}, got["location"])
	sessions := got["charge_sessions"].([]any)
	require.Len(t, sessions, 1)
	require.Equal(t, cs["id"], sessions[0].(map[string]any)["id"])
	progress := got["charge_session_progress"].([]any)
	require.Len(t, progress, 1)
	require.Equal(t, "S-"+uid, progress[0].(map[string]any)["session_id"])

	page = a.admin(200, "GET", "/main/v1/msp-charge-session?authorization_reference="+uuid.NewString(), nil)
	require.Empty(t, page["items"])

	// An account of another administration does not see it.
	g := newMSPFixture(a)
	admins := a.admin(200, "GET", "/main/v1/administration?external_reference="+g.adminRef, nil)["items"].([]any)
	acct := a.admin(201, "POST", "/main/v1/api-account", map[string]any{"name": "other", "permissions": []string{"token:read"},
		"administration_ids": []string{admins[0].(map[string]any)["id"].(string)}})
	b := *a
	b.user, b.secret = acct["public_id"].(string), acct["secret"].(string)
	b.admin(403, "GET", "/main/v1/msp-token-authorization/"+ref, nil)

	// Not ours: not a UUID, or unknown.
	e := a.admin(400, "GET", "/main/v1/msp-token-authorization/CPO-REF-1", nil)
	require.Equal(t, "not_found", e["error"].(map[string]any)["code"])
	e = a.admin(400, "GET", "/main/v1/msp-token-authorization/"+uuid.NewString(), nil)
	require.Equal(t, "not_found", e["error"].(map[string]any)["code"])
}
