package roaming_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/token"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

// TestAuthorizeCall checks the real-time authorization request and how
// answers are read (mod_tokens → Sender interface, POST).
func TestAuthorizeCall(t *testing.T) {
	var gotURI, gotBody string
	reply := ""
	status := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotURI, gotBody = r.RequestURI, string(b)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(reply))
	}))
	defer srv.Close()
	c := roaming.NewClient(roaming.Options{MaxRetries: -1}, nil)
	ctx := context.Background()
	tg := roaming.Target{Token: "t"}
	tok := `{"country_code":"NL","party_id":"TNM","uid":"A/B","type":"APP_USER","contract_id":"NLTNMC1","issuer":"x","valid":true,"whitelist":"NEVER","last_updated":"2024-05-01T10:00:00Z"}`

	// The endpoint may end with a slash; the uid is one path segment.
	reply = `{"status_code":1000,"timestamp":"2024-05-01T10:00:00Z","data":{"allowed":"ALLOWED","token":` + tok + `,"authorization_reference":"R1"}}`
	info, err := c.Authorize(ctx, tg, srv.URL+"/tokens/", "A/B", token.TypeAppUser, &ocpi.LocationReferences{LocationID: "L1", EVSEUIDs: []string{"E1"}})
	require.NoError(t, err)
	require.Equal(t, "/tokens/A%2FB/authorize?type=APP_USER", gotURI)
	require.JSONEq(t, `{"location_id":"L1","evse_uids":["E1"]}`, gotBody)
	require.Equal(t, token.AllowedAllowed, info.Allowed)
	require.Equal(t, "R1", info.AuthorizationReference)
	require.Equal(t, "A/B", info.Token.UID)

	// Unknown token: HTTP 404, or 2004 in the envelope.
	status, reply = 404, `{"status_code":2004,"timestamp":"2024-05-01T10:00:00Z"}`
	_, err = c.Authorize(ctx, tg, srv.URL+"/tokens", "X", token.TypeRFID, nil)
	require.ErrorIs(t, err, roaming.ErrUnknownToken)
	require.Empty(t, gotBody, "no LocationReferences: no body")
	status = 200
	_, err = c.Authorize(ctx, tg, srv.URL+"/tokens", "X", token.TypeRFID, nil)
	require.ErrorIs(t, err, roaming.ErrUnknownToken)

	// An answer that is not a valid AuthorizationInfo is no answer.
	for _, bad := range []string{
		`{"status_code":1000,"timestamp":"2024-05-01T10:00:00Z","data":{"allowed":"MAYBE","token":` + tok + `}}`,
		`{"status_code":1000,"timestamp":"2024-05-01T10:00:00Z","data":{"allowed":"ALLOWED"}}`,
		`{"status_code":1000,"timestamp":"2024-05-01T10:00:00Z"}`,
		`{"status_code":2002,"timestamp":"2024-05-01T10:00:00Z"}`,
	} {
		reply = bad
		_, err = c.Authorize(ctx, tg, srv.URL+"/tokens", "X", token.TypeRFID, nil)
		var re *roaming.Error
		require.True(t, errors.As(err, &re), "%s: %v", bad, err)
		require.False(t, errors.Is(err, roaming.ErrUnknownToken))
	}
}
