package token

import (
	"testing"

	"github.com/roamnode/roamnode/domain/fault"
)

// allReasons lists every Reason Evaluate can return.
var allReasons = []Reason{
	ReasonValid, ReasonNoLink, ReasonLinkNotYetValid, ReasonLinkExpired,
	ReasonLinkDefunct, ReasonLinksOverlap, ReasonSubscriptionNotYetValid,
	ReasonSubscriptionExpired, ReasonSubscriptionDefunct, ReasonBlocked,
	ReasonNotAllowedHere, ReasonNoCredit,
}

func TestOCPIAllowedAndValid(t *testing.T) {
	tests := []struct {
		reason  Reason
		allowed Allowed
		valid   bool
	}{
		{ReasonValid, AllowedAllowed, true},
		{ReasonNoLink, AllowedBlocked, false},
		{ReasonLinkNotYetValid, AllowedBlocked, false},
		{ReasonLinkExpired, AllowedExpired, false},
		{ReasonLinkDefunct, AllowedBlocked, false},
		{ReasonLinksOverlap, AllowedBlocked, false},
		{ReasonSubscriptionNotYetValid, AllowedBlocked, false},
		{ReasonSubscriptionExpired, AllowedExpired, false},
		{ReasonSubscriptionDefunct, AllowedBlocked, false},
		{ReasonBlocked, AllowedBlocked, false},
		{ReasonNotAllowedHere, AllowedNotAllowed, true},
		{ReasonNoCredit, AllowedNoCredit, true},
		{Reason("something_new"), AllowedBlocked, false},
	}
	must.Equal(t, len(allReasons)+1, len(tests), "every reason is mapped")
	for _, tc := range tests {
		must.Equal(t, tc.allowed, OCPIAllowed(tc.reason), string(tc.reason))
		must.Equal(t, tc.valid, OCPIValid(tc.reason), string(tc.reason))
	}
	// Only a valid token is ALLOWED to charge.
	for _, r := range allReasons {
		must.Equal(t, r == ReasonValid, OCPIAllowed(r) == AllowedAllowed, string(r))
	}
}

func TestOCPIWhitelist(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want Whitelist
	}{
		{"RFID default", Config{Type: TypeRFID}, WhitelistAllowed},
		{"OTHER default", Config{Type: TypeOther}, WhitelistAllowed},
		{"APP_USER default", Config{Type: TypeAppUser}, WhitelistNever},
		{"AD_HOC_USER default", Config{Type: TypeAdHocUser}, WhitelistNever},
		{"configured ALWAYS", Config{Type: TypeRFID, Whitelist: WhitelistAlways}, WhitelistAlways},
		{"configured ALLOWED_OFFLINE", Config{Type: TypeRFID, Whitelist: WhitelistAllowedOffline}, WhitelistAllowedOffline},
		{"configured on app user", Config{Type: TypeAppUser, Whitelist: WhitelistAllowed}, WhitelistAllowed},
		{"restricted RFID", Config{Type: TypeRFID, Restricted: true}, WhitelistNever},
		{"restricted overrides ALWAYS", Config{Type: TypeRFID, Whitelist: WhitelistAlways, Restricted: true}, WhitelistNever},
	}
	for _, tc := range tests {
		must.Equal(t, tc.want, tc.cfg.OCPIWhitelist(), tc.name)
	}
}

func TestParseTypeAndWhitelist(t *testing.T) {
	for _, s := range []string{"AD_HOC_USER", "APP_USER", "OTHER", "RFID"} {
		ty, err := ParseType(s)
		must.NoError(t, err)
		must.Equal(t, Type(s), ty)
	}
	ty, err := ParseType("")
	must.NoError(t, err)
	must.Equal(t, TypeRFID, ty, "OCPI default type")
	_, err = ParseType("rfid")
	requireInvalid(t, err, PathType, "unknown token type")

	for _, s := range []string{"", "ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"} {
		w, err := ParseWhitelist(s)
		must.NoError(t, err)
		must.Equal(t, Whitelist(s), w)
	}
	_, err = ParseWhitelist("SOMETIMES")
	requireInvalid(t, err, PathWhitelist, "unknown whitelist type")
	must.True(t, fault.Is(err, fault.KindInvalid))
}
