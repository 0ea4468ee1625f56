package token

import "github.com/roamnode/roamnode/domain/fault"

// This file maps token validity to the values of the OCPI 2.2.1 Tokens
// module (mod_tokens.asciidoc): Token.type, Token.valid, Token.whitelist and
// AuthorizationInfo.allowed. The ocpi package marshals these strings as they
// are.

// Type is the OCPI TokenType (mod_tokens "TokenType enum").
type Type string

// The OCPI token types.
const (
	TypeAdHocUser Type = "AD_HOC_USER"
	TypeAppUser   Type = "APP_USER"
	TypeOther     Type = "OTHER"
	TypeRFID      Type = "RFID"
)

// PathType is the field path of a token type in fault.Invalid errors.
const PathType = "type"

// ParseType parses an OCPI TokenType. The empty string is RFID, the default
// OCPI gives the `type` parameter when it is omitted.
func ParseType(s string) (Type, error) {
	switch t := Type(s); t {
	case "":
		return TypeRFID, nil
	case TypeAdHocUser, TypeAppUser, TypeOther, TypeRFID:
		return t, nil
	}
	return "", fault.Invalid(PathType, "unknown token type %q (AD_HOC_USER, APP_USER, OTHER, RFID)", s)
}

// Whitelist is the OCPI WhitelistType (mod_tokens "WhitelistType enum").
type Whitelist string

// The OCPI whitelist types.
const (
	// WhitelistAlways: the CPO always allows the token; no real-time authorization.
	WhitelistAlways Whitelist = "ALWAYS"
	// WhitelistAllowed: the CPO may whitelist or ask in real time.
	WhitelistAllowed Whitelist = "ALLOWED"
	// WhitelistAllowedOffline: real-time authorization, whitelist only when the eMSP is unreachable.
	WhitelistAllowedOffline Whitelist = "ALLOWED_OFFLINE"
	// WhitelistNever: real-time authorization only.
	WhitelistNever Whitelist = "NEVER"
)

// PathWhitelist is the field path of a whitelist type in fault.Invalid errors.
const PathWhitelist = "whitelist"

// ParseWhitelist parses an OCPI WhitelistType; the empty string means "not
// configured" and is returned as is (Config then uses the type's default).
func ParseWhitelist(s string) (Whitelist, error) {
	switch w := Whitelist(s); w {
	case "", WhitelistAlways, WhitelistAllowed, WhitelistAllowedOffline, WhitelistNever:
		return w, nil
	}
	return "", fault.Invalid(PathWhitelist, "unknown whitelist type %q (ALWAYS, ALLOWED, ALLOWED_OFFLINE, NEVER)", s)
}

// Config is a token's own configuration that decides its OCPI whitelist.
type Config struct {
	Type Type
	// Whitelist is the configured whitelist type; "" uses the type's default.
	Whitelist Whitelist
	// Restricted is set when charge authorization rules that depend on the
	// location or on credit apply to the token (seed 001, "Charging
	// Authorization Restrictions"): only the eMSP can evaluate those.
	Restricted bool
}

// OCPIWhitelist derives Token.whitelist. OCPI: "The validity of a Token has
// no influence on this", so it depends on configuration only:
//
//   - A Restricted token is NEVER: a CPO whitelist would "always allow any
//     use" (ALWAYS) or may skip asking (ALLOWED, and ALLOWED_OFFLINE when
//     offline), bypassing location-tied and credit rules.
//   - Otherwise the configured Whitelist, when set.
//   - Otherwise by type: AD_HOC_USER and APP_USER are NEVER (OCPI: "The eMSP
//     is RECOMMENDED to push Tokens with type: AD_HOC_USER or APP_USER with
//     whitelist set to NEVER"); RFID and OTHER are ALLOWED (whitelisting
//     keeps RFID fast at the charger, real-time authorization stays possible).
func (c Config) OCPIWhitelist() Whitelist {
	switch {
	case c.Restricted:
		return WhitelistNever
	case c.Whitelist != "":
		return c.Whitelist
	case c.Type == TypeAdHocUser || c.Type == TypeAppUser:
		return WhitelistNever
	default:
		return WhitelistAllowed
	}
}

// Allowed is the OCPI AllowedType of AuthorizationInfo.allowed (mod_tokens
// "AllowedType enum").
type Allowed string

// The OCPI AllowedType values.
const (
	AllowedAllowed    Allowed = "ALLOWED"
	AllowedBlocked    Allowed = "BLOCKED"
	AllowedExpired    Allowed = "EXPIRED"
	AllowedNoCredit   Allowed = "NO_CREDIT"
	AllowedNotAllowed Allowed = "NOT_ALLOWED"
)

// OCPIAllowed maps a validity reason to AuthorizationInfo.allowed for a
// real-time authorization (mod_tokens "POST Method"):
//
//	valid                                   → ALLOWED
//	link_expired, subscription_expired      → EXPIRED   ("This Token has expired")
//	not_allowed_here                        → NOT_ALLOWED ("valid, but is not allowed to charge at the given location")
//	no_credit                               → NO_CREDIT
//	no_link, link_not_yet_valid,
//	link_defunct, links_overlap,
//	subscription_not_yet_valid,
//	subscription_defunct, blocked           → BLOCKED   (no other value fits a token
//	                                          that is known but not (yet) usable;
//	                                          unknown reasons fail closed here too)
//
// An unknown token is not a reason: OCPI answers it with 2004 Unknown Token.
func OCPIAllowed(r Reason) Allowed {
	switch r {
	case ReasonValid:
		return AllowedAllowed
	case ReasonLinkExpired, ReasonSubscriptionExpired:
		return AllowedExpired
	case ReasonNotAllowedHere:
		return AllowedNotAllowed
	case ReasonNoCredit:
		return AllowedNoCredit
	default:
		return AllowedBlocked
	}
}

// OCPIValid maps a validity reason to Token.valid, the location-independent
// flag pushed to CPOs. The token is valid when it is valid by the guide's
// rule, and also when only location- or credit-dependent rules decline it
// (not_allowed_here, no_credit): OCPI's NOT_ALLOWED reads "Token is valid,
// but is not allowed to charge at the given location", and such tokens are
// whitelisted NEVER (Config.Restricted) so the CPO asks in real time. Every
// other reason makes the token invalid.
func OCPIValid(r Reason) bool {
	switch r {
	case ReasonValid, ReasonNotAllowedHere, ReasonNoCredit:
		return true
	}
	return false
}
