package module

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
)

func TestPickOwnPartyByRoutingHeaders(t *testing.T) {
	parties := []partner.OwnParty{
		{CountryCode: "NL", PartyID: "AAA", Role: partner.RoleCPO},
		{CountryCode: "NL", PartyID: "BBB", Role: partner.RoleCPO},
		{CountryCode: "DE", PartyID: "EEE", Role: partner.RoleEMSP},
	}
	code := func(err error) int {
		var oe *ocpi.Error
		require.True(t, errors.As(err, &oe), "%v", err)
		return oe.Code
	}
	// Two CPOs: the to-headers choose (case-insensitively)…
	p, err := pickOwnParty(parties, partner.RoleCPO, ocpi.Routing{ToCountry: "nl", ToParty: "bbb"})
	require.NoError(t, err)
	require.Equal(t, "BBB", p.PartyID)
	p, err = pickOwnParty(parties, partner.RoleCPO, ocpi.Routing{ToCountry: "NL", ToParty: "AAA"})
	require.NoError(t, err)
	require.Equal(t, "AAA", p.PartyID)
	// …and without them the request is ambiguous: 2001.
	_, err = pickOwnParty(parties, partner.RoleCPO, ocpi.Routing{})
	require.Equal(t, ocpi.StatusInvalidParams, code(err))
	// One eMSP: no headers needed.
	p, err = pickOwnParty(parties, partner.RoleEMSP, ocpi.Routing{})
	require.NoError(t, err)
	require.Equal(t, "EEE", p.PartyID)
	// A party we do not host: 4001 unknown receiver.
	_, err = pickOwnParty(parties, partner.RoleCPO, ocpi.Routing{ToCountry: "BE", ToParty: "XXX"})
	require.Equal(t, 4001, code(err))
	// A role we do not play.
	_, err = pickOwnParty(parties[:2], partner.RoleEMSP, ocpi.Routing{})
	require.Equal(t, ocpi.StatusServerError, code(err))
}
