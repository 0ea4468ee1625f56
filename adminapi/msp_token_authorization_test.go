package adminapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// oaTokenAuthorization exercises GET /msp-token-authorization/{reference}
// against the document: a stored decision for one of the administration's
// tokens (as real-time authorization stores it; the whole flow through
// OCPI is TestAuthorizationReferenceMatched in ocpi/module), and
// references we did not issue.
func oaTokenAuthorization(t *testing.T, c *oaClient, adminID string) {
	t.Helper()
	ctx := context.Background()
	var tokenID uuid.UUID
	require.NoError(t, testDB.Pool.QueryRow(ctx, `SELECT id FROM msp_token WHERE administration_id = $1 LIMIT 1`, adminID).Scan(&tokenID))
	ref := uuid.Must(uuid.NewV7())
	_, err := testDB.Pool.Exec(ctx, `INSERT INTO msp_token_authorization (id, token_id, country_code, party_id, location_id, evse_uids, allowed, reason, at)
		VALUES ($1, $2, 'BE', 'BEC', 'LOC1', '{3256}', 'ALLOWED', 'valid', $3)`, ref, tokenID, time.Now())
	require.NoError(t, err)
	got := c.do(200, "GET", "/main/v1/msp-token-authorization/"+ref.String(), nil)
	require.Equal(t, ref.String(), got.str("authorization_reference"))
	require.Equal(t, "ALLOWED", got.str("allowed"))
	require.Equal(t, "not_found", c.do(400, "GET", "/main/v1/msp-token-authorization/"+uuid.NewString(), nil).errCode())
	require.Equal(t, "not_found", c.do(400, "GET", "/main/v1/msp-token-authorization/CPO-REF", nil).errCode())
}
