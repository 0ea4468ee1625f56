package adminapi_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/network"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/node"
	"github.com/roamnode/roamnode/roaming"
)

// TestPartnerNetworkAdmin runs the partner location, tariff and sync
// operations on their own (the OpenAPI contract test runs them too).
func TestPartnerNetworkAdmin(t *testing.T) {
	t.Parallel()
	spec := loadOASpec(t)
	user, secret := oaBootstrap(t)
	c := &oaClient{t: t, spec: spec, app: oaApp(t, node.Deps{PublicURL: oaPublicURL}), user: user, secret: secret, cov: &oaCoverage{seen: map[string]bool{}}}
	oaPartnerNetwork(t, c, uuid.NewString()[:8])
}

// seedNetwork stores, as the receivers would, two locations of a partner
// party (one in Utrecht, one in Amsterdam, 35 km apart) and a tariff, for
// a registered connection with a Locations sender. It returns the party,
// the connection id and the location record ids.
func seedNetwork(t *testing.T, tag string) (partner.PartyRef, uuid.UUID, []uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	party := partner.PartyRef{CountryCode: "NL", PartyID: strings.ToUpper(tag[:3])}
	conn := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "cpo " + tag, Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	conn.Registered(partner.NewToken(), "their", "https://cpo.example.com/versions", "2.2.1",
		[]partner.Endpoint{{Identifier: "locations", Role: "SENDER", URL: "https://cpo.example.com/ocpi/2.2.1/locations"}}, nil, "us", now)
	require.NoError(t, db.SaveConnection(ctx, testDB.Pool, conn, true))
	require.NoError(t, db.RoamingStore{Pool: testDB.Pool}.InTx(ctx, func(tx roaming.Tx) error {
		return tx.LinkParties(ctx, conn.ID, []partner.CredentialsRole{{Role: partner.RoleCPO, CountryCode: party.CountryCode, PartyID: party.PartyID, Name: "CPO " + tag}})
	}))
	mk := func(id, lat, lng, evseID string) network.Location {
		lu := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
		body := fmt.Sprintf(`{"country_code":%q,"party_id":%q,"id":%q,"publish":true,"address":"Street 1","city":"City","country":"NLD",
			"coordinates":{"latitude":%q,"longitude":%q},"time_zone":"Europe/Amsterdam","last_updated":"2024-05-01T10:00:00Z",
			"evses":[{"uid":"%s-1","evse_id":%q,"status":"AVAILABLE","last_updated":"2024-05-01T10:00:00Z",
			"connectors":[{"id":"1","standard":"IEC_62196_T2","format":"SOCKET","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":16,"last_updated":"2024-05-01T10:00:00Z"}]}]}`,
			party.CountryCode, party.PartyID, id, lat, lng, id, evseID)
		l, err := decodeNetworkLocation([]byte(body))
		require.NoError(t, err)
		require.Equal(t, lu, l.LastUpdated)
		return l
	}
	locs := []network.Location{
		mk("UTR-"+tag, "52.090737", "5.121420", party.CountryCode+"*"+party.PartyID+"*E"+tag+"1"),
		mk("AMS-"+tag, "52.370216", "4.895168", party.CountryCode+"*"+party.PartyID+"*E"+tag+"2"),
	}
	tx, err := testDB.Pool.Begin(ctx)
	require.NoError(t, err)
	n, err := db.SavePartnerLocations(ctx, tx, &conn.ID, locs, now)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	tariff := network.Tariff{CountryCode: party.CountryCode, PartyID: party.PartyID, ID: "T-" + tag, Currency: "EUR", LastUpdated: now,
		Data: []byte(fmt.Sprintf(`{"country_code":%q,"party_id":%q,"id":"T-%s","currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":0.3,"step_size":1}]}],"last_updated":"2024-05-01T10:00:00Z"}`, party.CountryCode, party.PartyID, tag))}
	_, err = db.SavePartnerTariffs(ctx, tx, &conn.ID, []network.Tariff{tariff}, now)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	var ids []uuid.UUID
	for _, l := range locs {
		pl, err := db.PartnerLocationByKey(ctx, testDB.Pool, l.CountryCode, l.PartyID, l.ID, false)
		require.NoError(t, err)
		ids = append(ids, pl.Ref)
	}
	return party, conn.ID, ids
}

// oaPartnerNetwork exercises every partner location, partner tariff and
// pull-sync operation (each answer validated against the document).
func oaPartnerNetwork(t *testing.T, c *oaClient, tag string) {
	t.Helper()
	tag = strings.ToUpper(strings.ReplaceAll(tag, "-", "0"))
	party, connID, ids := seedNetwork(t, tag)
	base := "/main/v1/partner-evse-location?party=" + party.CountryCode + party.PartyID
	items := func(r oaResp) []map[string]any {
		var out []map[string]any
		for _, it := range r.JSON["items"].([]any) {
			out = append(out, it.(map[string]any))
		}
		return out
	}
	// By party, in id order, with the OCPI object inside.
	all := items(c.do(200, "GET", base, nil))
	require.Len(t, all, 2)
	require.Equal(t, "UTR-"+tag, all[0]["location_id"])
	require.Equal(t, party.String(), all[0]["party"])
	require.Equal(t, "52.090737", all[0]["latitude"])
	loc := all[0]["location"].(map[string]any)
	require.Len(t, loc["evses"], 1)
	// Seek pagination: page_size 1 then link_next.
	p1 := c.do(200, "GET", base+"&page_size=1", nil)
	require.Len(t, items(p1), 1)
	p2 := c.do(200, "GET", p1.str("link_next"), nil)
	require.Equal(t, "AMS-"+tag, items(p2)[0]["location_id"])
	// By EVSE id, with or without separators, any case.
	for _, q := range []string{party.CountryCode + "*" + party.PartyID + "*E" + tag + "2", strings.ToLower(party.CountryCode + party.PartyID + "E" + tag + "2")} {
		got := items(c.do(200, "GET", base+"&evse_id="+url.QueryEscape(q), nil))
		require.Len(t, got, 1, q)
		require.Equal(t, "AMS-"+tag, got[0]["location_id"])
	}
	// Near a point: Utrecht centre, 5 km finds Utrecht only; 40 km both,
	// each with its distance (these points are about 34.7 km apart).
	near := func(radius int) []map[string]any {
		return items(c.do(200, "GET", fmt.Sprintf("%s&lat=52.0907&lng=5.1214&radius_m=%d", base, radius), nil))
	}
	got := near(5000)
	require.Len(t, got, 1)
	require.Equal(t, "UTR-"+tag, got[0]["location_id"])
	require.Less(t, got[0]["distance_m"].(float64), 10.0)
	got = near(40000)
	require.Len(t, got, 2)
	d := got[1]["distance_m"].(float64)
	require.InDelta(t, network.Distance(52.0907, 5.1214, 52.370216, 4.895168), d, 1)
	require.InDelta(t, 34690, d, 100)
	require.Len(t, near(int(d)-1), 1, "the radius is exact, not the bounding box")
	// Bad filters.
	c.do(400, "GET", base+"&lat=52&lng=5", nil)
	c.do(400, "GET", base+"&lat=95&lng=5&radius_m=10", nil)
	c.do(400, "GET", base+"&lat=52&lng=5&radius_m=2000000", nil)
	c.do(400, "GET", "/main/v1/partner-evse-location?party=X", nil)
	c.do(400, "GET", "/main/v1/partner-evse-location?colour=red", nil)
	// Get one.
	one := c.do(200, "GET", "/main/v1/partner-evse-location/"+ids[1].String(), nil)
	require.Equal(t, "AMS-"+tag, one.str("location_id"))
	c.do(400, "GET", "/main/v1/partner-evse-location/"+uuid.NewString(), nil)
	c.do(400, "GET", "/main/v1/partner-evse-location/ext_ref.X", nil)

	// Tariffs.
	tl := items(c.do(200, "GET", "/main/v1/partner-tariff?party="+party.String()+"&tariff_id=t-"+strings.ToLower(tag), nil))
	require.Len(t, tl, 1)
	require.Equal(t, "EUR", tl[0]["currency"])
	tid := tl[0]["id"].(string)
	tr := c.do(200, "GET", "/main/v1/partner-tariff/"+tid, nil)
	require.Equal(t, "T-"+tag, tr.JSON["tariff"].(map[string]any)["id"])

	// Pull sync: request (202), then the state.
	cp := "/main/v1/roaming-connection/" + connID.String() + "/sync"
	r := c.do(202, "POST", cp+"?module=locations", nil)
	st := items(r)
	require.Len(t, st, 1)
	require.Equal(t, "locations", st[0]["module"])
	require.NotNil(t, st[0]["requested_at"])
	c.do(400, "POST", cp+"?module=tariffs", nil) // no tariffs sender
	c.do(400, "POST", cp+"?module=cdrs", nil)
	c.do(202, "POST", cp+"?full=true", nil)
	s := c.do(200, "GET", cp, nil)
	require.Len(t, s.JSON["items"], 1)
	require.Equal(t, true, items(s)[0]["requested_full"])
}
