package ocpi

import (
	"encoding/json"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/roamnode/roamnode/domain/token"
)

// The hand-written AuthorizationInfo answer means exactly what OK(c, info)
// writes (same members, same values, same omissions), for every Allowed
// value, with and without location, with and without EVSEs and optional
// token fields (energy_contract with and without contract_id included),
// and with strings that need escaping; the HTTP status and
// content type are the same too.
func TestOKAuthorizationInfoMatchesOK(t *testing.T) {
	app := fiber.New()
	encode := func(f func(c *fiber.Ctx) error) (int, string, map[string]any) {
		c := app.AcquireCtx(&fasthttp.RequestCtx{})
		defer app.ReleaseCtx(c)
		require.NoError(t, f(c))
		var m map[string]any
		body := c.Response().Body()
		require.NoError(t, json.Unmarshal(body, &m), "%s", body)
		ts, ok := m["timestamp"].(string)
		require.True(t, ok, "%s", body)
		_, err := time.Parse("2006-01-02T15:04:05Z", ts)
		require.NoError(t, err, "timestamp %q", ts)
		delete(m, "timestamp") // the two calls may straddle a second
		return c.Response().StatusCode(), string(c.Response().Header.ContentType()), m
	}
	last := NewDateTime(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	tokens := []Token{
		{CountryCode: "NL", PartyID: "RNE", UID: "TOK000001", Type: token.TypeRFID, ContractID: "NLRNEC000001", Issuer: "RoamNode",
			Whitelist: token.WhitelistAllowed, LastUpdated: last},
		{CountryCode: "NL", PartyID: "RNE", UID: "tok-2", Type: token.TypeAppUser, ContractID: "NLRNEC000002", VisualNumber: "12 34",
			Issuer: `Roam "Node" <&> \ é`, GroupID: "G1", Valid: true, Whitelist: token.WhitelistAllowed, Language: "nl",
			DefaultProfileType: "FAST", LastUpdated: last},
		{CountryCode: "DE", PartyID: "TNM", UID: "12345678905880", Type: token.TypeRFID, ContractID: "DE8ACC12E46L89", Issuer: "TheNewMotion",
			Valid: true, Whitelist: token.WhitelistAllowed, DefaultProfileType: "GREEN",
			EnergyContract: &EnergyContract{SupplierName: "Greenpeace Energy eG", ContractID: "0123456789"}, LastUpdated: last},
		{CountryCode: "NL", PartyID: "RNE", UID: "tok-4", Type: token.TypeOther, ContractID: "NLRNEC000004", Issuer: "RoamNode",
			Whitelist: token.WhitelistNever, EnergyContract: &EnergyContract{SupplierName: `Grün "Strom" \ eG`}, LastUpdated: last},
	}
	locs := []*LocationReferences{nil, {LocationID: "LOC1"}, {LocationID: "LOC1", EVSEUIDs: []string{}},
		{LocationID: "LOC\t1", EVSEUIDs: []string{"E1", "E\"2"}}}
	for _, allowed := range []token.Allowed{token.AllowedAllowed, token.AllowedBlocked, token.AllowedExpired, token.AllowedNoCredit,
		token.AllowedNotAllowed} {
		for _, tok := range tokens {
			for _, loc := range locs {
				for _, ref := range []string{"", "0190a0b0-0000-7000-8000-000000000001"} {
					info := AuthorizationInfo{Allowed: allowed, Token: tok, Location: loc, AuthorizationReference: ref}
					gs, gct, generic := encode(func(c *fiber.Ctx) error { return OK(c, info) })
					hs, hct, hand := encode(func(c *fiber.Ctx) error { return OKAuthorizationInfo(c, info) })
					require.Equal(t, generic, hand, "%+v %+v", info, loc)
					require.Equal(t, gs, hs)
					require.Equal(t, gct, hct)
				}
			}
		}
	}
	// The objects it does not write itself go through OK.
	info := AuthorizationInfo{Allowed: token.AllowedAllowed, Token: tokens[0], Info: &DisplayText{Language: "en", Text: "hi"}}
	_, _, generic := encode(func(c *fiber.Ctx) error { return OK(c, info) })
	_, _, hand := encode(func(c *fiber.Ctx) error { return OKAuthorizationInfo(c, info) })
	require.Equal(t, generic, hand)
	require.Contains(t, hand["data"], "info")
}

// The routing headers are read once per request: a second call returns
// the first call's result, an error included.
func TestRoutingFromOncePerRequest(t *testing.T) {
	app := fiber.New()
	c := app.AcquireCtx(&fasthttp.RequestCtx{})
	defer app.ReleaseCtx(c)
	c.Request().Header.Set(HeaderFromCountry, "NL")
	c.Request().Header.Set(HeaderFromParty, "EXA")
	r, err := RoutingFrom(c)
	require.NoError(t, err)
	require.Equal(t, "EXA", r.FromParty)
	c.Request().Header.Set(HeaderFromParty, "x") // not read again
	r2, err := RoutingFrom(c)
	require.NoError(t, err)
	require.Equal(t, r, r2)

	c2 := app.AcquireCtx(&fasthttp.RequestCtx{})
	defer app.ReleaseCtx(c2)
	c2.Request().Header.Set(HeaderToParty, "EXA") // a party id without its country
	_, err = RoutingFrom(c2)
	require.Error(t, err)
	_, err2 := RoutingFrom(c2)
	require.Equal(t, err, err2)
}

// The generic side uses the node's encoder (goccy/go-json, node.marshalJSON).
func BenchmarkAuthorizationInfoEncode(b *testing.B) {
	app := fiber.New(fiber.Config{JSONEncoder: func(v any) ([]byte, error) {
		return gojson.MarshalWithOption(v, gojson.DisableHTMLEscape())
	}})
	info := AuthorizationInfo{Allowed: token.AllowedAllowed, Token: Token{CountryCode: "NL", PartyID: "RNE", UID: "TOK000001",
		Type: token.TypeRFID, ContractID: "NLRNEC000001", Issuer: "RoamNode", Valid: true, Whitelist: token.WhitelistAllowed,
		LastUpdated: NewDateTime(time.Now())}, Location: &LocationReferences{LocationID: "LOC1", EVSEUIDs: []string{"E1"}},
		AuthorizationReference: "0190a0b0-0000-7000-8000-000000000001"}
	for _, bc := range []struct {
		name string
		f    func(c *fiber.Ctx) error
	}{
		{"generic", func(c *fiber.Ctx) error { return OK(c, info) }},
		{"hand", func(c *fiber.Ctx) error { return OKAuthorizationInfo(c, info) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := app.AcquireCtx(&fasthttp.RequestCtx{})
			defer app.ReleaseCtx(c)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = bc.f(c)
			}
		})
	}
}
