// Package token holds the eMobility identifiers (EVCO ID / eMA-ID, EVSE ID,
// token UID, EVSE UID) and the MSP token validity rule, and maps validity to
// the OCPI 2.2.1 Tokens module values (valid, whitelist, AuthorizationInfo
// allowed). It is pure: no I/O, no clock (callers pass the instant).
//
// Guide references are to shared/seeds/003 ("eMobility Identifiers",
// "Token Validity", "Validity periods"); OCPI references are to
// shared/ocpi-2.2.1/mod_tokens.asciidoc.
package token

import (
	"fmt"
	"strings"

	"github.com/roamnode/roamnode/domain/fault"
)

// Field paths used in the fault.Invalid errors of this file. Surfaces that
// name the field differently may rewrite fault.Field.Path.
const (
	PathEVCOID = "evco_id"
	PathEVSEID = "evse_id"
	PathUID    = "uid"
)

// isUpperAlnum reports whether c is an ASCII digit or upper-case letter.
func isUpperAlnum(c byte) bool { return alnumValue(c) >= 0 }

// isUpperAlpha reports whether c is an upper-case ASCII letter.
func isUpperAlpha(c byte) bool { return c >= 'A' && c <= 'Z' }

// ---------------------------------------------------------------------------
// EVCO ID / eMA-ID

// eMA-ID layout (IDACS e-Mobility Identifiers; ISO 15118-2 Annex H; eMI3
// part 2): <country 2 letters> [-] <provider 3 alnum> [-] 'C' <instance
// 8 alnum> [[-] <check digit>]. Without separators that is 14 characters, or
// 15 with the check digit.
const (
	emaCountryLen  = 2
	emaProviderLen = 3
	emaInstanceLen = 8
	// emaIDType is the ID type character that marks a contract (eMA) ID.
	emaIDType = 'C'
	// emaSep is the only separator IDACS allows in an eMA-ID.
	emaSep = '-'
)

// EVCOID is a syntactically valid EVCO ID (EV contract ID, also known as
// eMA-ID), held in upper case without separators. The zero value is not a
// valid ID; obtain one from ParseEVCOID.
type EVCOID struct {
	country    string // 2 letters
	provider   string // 3 letters or digits
	instance   string // 8 letters or digits, after the 'C' ID type
	checkDigit byte   // 0 when the ID was given without check digit
}

// ParseEVCOID parses an EVCO ID / eMA-ID per the IDACS e-Mobility Identifiers
// syntax (guide, "EVCO ID"). Input is case-insensitive and may carry the '-'
// separator after the country code, after the provider ID and before the
// check digit, each one optional; '*' is not an eMA-ID separator. The check
// digit is optional, but when present it must be the one computed by the
// eMI3 "Check Digit Calculation for Contract-IDs" algorithm. Errors are
// fault.Invalid at PathEVCOID and say what is wrong.
func ParseEVCOID(s string) (EVCOID, error) {
	bad := func(format string, args ...any) (EVCOID, error) {
		return EVCOID{}, fault.Invalid(PathEVCOID, format, args...)
	}
	if s == "" {
		return bad("is required")
	}
	up := upperASCII(s)
	compact := make([]byte, 0, len(up))
	for i := 0; i < len(up); i++ {
		c := up[i]
		switch {
		case isUpperAlnum(c):
			compact = append(compact, c)
		case c == emaSep:
			// A separator may only follow the country code (2), the
			// provider ID (5) or the instance (14), once each.
			n := len(compact)
			if n != emaCountryLen && n != emaCountryLen+emaProviderLen && n != emaCheckedLen {
				return bad("separator '-' at position %d is not between country code, provider ID, instance and check digit", i+1)
			}
			if i > 0 && up[i-1] == emaSep {
				return bad("separator '-' repeated at position %d", i+1)
			}
			if i == len(up)-1 {
				return bad("must not end with a separator")
			}
		case c == '*':
			return bad("'*' is not an eMA-ID separator; use '-' or no separator")
		case c >= 0x80:
			return bad("non-ASCII character at position %d", i+1)
		default:
			return bad("character %q at position %d is not a letter, digit or '-'", rune(s[i]), i+1)
		}
	}
	if len(compact) != emaCheckedLen && len(compact) != emaCheckedLen+1 {
		return bad("must have 14 letters and digits, or 15 with the check digit (got %d)", len(compact))
	}
	id := EVCOID{
		country:  string(compact[:emaCountryLen]),
		provider: string(compact[emaCountryLen : emaCountryLen+emaProviderLen]),
		instance: string(compact[emaCountryLen+emaProviderLen+1 : emaCheckedLen]),
	}
	for i := 0; i < emaCountryLen; i++ {
		if !isUpperAlpha(compact[i]) {
			return bad("country code %q must be 2 letters", id.country)
		}
	}
	if t := compact[emaCountryLen+emaProviderLen]; t != emaIDType {
		return bad("ID type (character 6 without separators) must be 'C', got %q", rune(t))
	}
	if len(compact) == emaCheckedLen+1 {
		want, _ := emaCheckDigit(string(compact[:emaCheckedLen]))
		if got := compact[emaCheckedLen]; got != want {
			return bad("check digit %q is wrong, expected %q", rune(got), rune(want))
		}
		id.checkDigit = compact[emaCheckedLen]
	}
	return id, nil
}

// Country returns the ISO 3166-1 alpha-2 country code (upper case).
func (e EVCOID) Country() string { return e.country }

// Provider returns the 3-character provider (eMSP) ID (upper case).
func (e EVCOID) Provider() string { return e.provider }

// Instance returns the 8-character contract instance, without the 'C' ID type.
func (e EVCOID) Instance() string { return e.instance }

// HasCheckDigit reports whether the ID was given with its check digit.
func (e EVCOID) HasCheckDigit() bool { return e.checkDigit != 0 }

// CheckDigit returns the eMA-ID check digit: the given one when present,
// otherwise the computed one.
func (e EVCOID) CheckDigit() byte {
	if e.checkDigit != 0 {
		return e.checkDigit
	}
	d, _ := emaCheckDigit(e.country + e.provider + string(emaIDType) + e.instance)
	return d
}

// WithCheckDigit returns the ID with its computed check digit added (guide:
// IDs issued by roamnode always carry the check digit).
func (e EVCOID) WithCheckDigit() EVCOID {
	e.checkDigit = e.CheckDigit()
	return e
}

// Normalized returns the machine form: upper case, no separators, with the
// check digit when the ID has one ("NLTDRCA1B2C3D4E"). IDACS advises this
// form for machine-to-machine use (guide, "eMobility Identifiers").
func (e EVCOID) Normalized() string {
	s := e.country + e.provider + string(emaIDType) + e.instance
	if e.checkDigit != 0 {
		s += string(e.checkDigit)
	}
	return s
}

// Formatted returns the human-readable form CC-PPP-CIIIIIIII-D, or
// CC-PPP-CIIIIIIII without a check digit.
func (e EVCOID) Formatted() string {
	s := e.country + "-" + e.provider + "-" + string(emaIDType) + e.instance
	if e.checkDigit != 0 {
		s += "-" + string(e.checkDigit)
	}
	return s
}

// String returns Normalized.
func (e EVCOID) String() string { return e.Normalized() }

// NormalizeContractID normalises a contract ID that need not follow eMA-ID
// (guide: "For EVCO IDs issued by external platforms, these requirements may
// not apply"): it must be an OCPI CiString(36) of printable ASCII without
// spaces (as UIDs, guide "Token UID"); '-' separators are removed and letters
// upper-cased. A valid eMA-ID normalises to the same string as
// EVCOID.Normalized.
func NormalizeContractID(s string) (string, error) {
	if err := checkPrintable(PathEVCOID, s, maxUIDLen); err != nil {
		return "", err
	}
	n := upperASCII(strings.ReplaceAll(s, "-", ""))
	if n == "" {
		return "", fault.Invalid(PathEVCOID, "must contain more than separators")
	}
	return n, nil
}

// ---------------------------------------------------------------------------
// EVSE ID

// EVSE ID layout (IDACS e-Mobility Identifiers; ISO 15118-2 Annex H):
// <country 2 letters> [*] <operator 3 alnum> [*] 'E' <power outlet ID>, where
// the power outlet ID is one letter or digit followed by up to 30 letters,
// digits or '*' separators.
const (
	evseCountryLen = 2
	evseOperator   = 3
	evseIDType     = 'E'
	evseSep        = '*'
	// evseOutletMax is the maximum length of the power outlet ID as given,
	// separators included.
	evseOutletMax = 31
)

// EVSEID is a syntactically valid EVSE ID, held in upper case without
// separators. Obtain one from ParseEVSEID.
type EVSEID struct {
	country  string // 2 letters
	operator string // 3 letters or digits
	outlet   string // power outlet ID without separators
}

// ParseEVSEID parses an EVSE ID per the IDACS syntax (guide, "EVSE ID";
// examples NLABCE987ABC654DEF and NL*TDR*E1234567*890). Input is
// case-insensitive; the '*' separators are optional. Errors are
// fault.Invalid at PathEVSEID.
func ParseEVSEID(s string) (EVSEID, error) {
	bad := func(format string, args ...any) (EVSEID, error) {
		return EVSEID{}, fault.Invalid(PathEVSEID, format, args...)
	}
	if s == "" {
		return bad("is required")
	}
	up := upperASCII(s)
	for i := 0; i < len(up); i++ {
		if c := up[i]; c >= 0x80 {
			return bad("non-ASCII character at position %d", i+1)
		} else if !isUpperAlnum(c) && c != evseSep {
			return bad("character %q at position %d is not a letter, digit or '*'", rune(s[i]), i+1)
		}
	}
	rest := up
	take := func(n int) (string, bool) {
		if len(rest) < n {
			return "", false
		}
		part := rest[:n]
		rest = rest[n:]
		return part, true
	}
	skipSep := func() { rest = strings.TrimPrefix(rest, string(evseSep)) }

	country, ok := take(evseCountryLen)
	if !ok || !isUpperAlpha(country[0]) || !isUpperAlpha(country[1]) {
		return bad("must start with a 2-letter country code")
	}
	skipSep()
	operator, ok := take(evseOperator)
	if !ok || strings.IndexByte(operator, evseSep) >= 0 {
		return bad("operator ID must be 3 letters or digits after the country code")
	}
	skipSep()
	if t, ok := take(1); !ok || t[0] != evseIDType {
		return bad("ID type after the operator ID must be 'E'")
	}
	if rest == "" {
		return bad("power outlet ID after 'E' is missing")
	}
	if rest[0] == evseSep {
		return bad("power outlet ID must start with a letter or digit")
	}
	if len(rest) > evseOutletMax {
		return bad("power outlet ID must be at most %d characters (got %d)", evseOutletMax, len(rest))
	}
	return EVSEID{country: country, operator: operator, outlet: strings.ReplaceAll(rest, string(evseSep), "")}, nil
}

// Country returns the ISO 3166-1 alpha-2 country code (upper case).
func (e EVSEID) Country() string { return e.country }

// Operator returns the 3-character operator (CPO) ID (upper case).
func (e EVSEID) Operator() string { return e.operator }

// Outlet returns the power outlet ID without separators.
func (e EVSEID) Outlet() string { return e.outlet }

// Normalized returns the machine form: upper case, no separators
// ("NLTDRE1234567890").
func (e EVSEID) Normalized() string {
	return e.country + e.operator + string(evseIDType) + e.outlet
}

// Formatted returns CC*OOO*E<outlet>. Separators inside the outlet ID are not
// kept by normalisation, so they are not reproduced.
func (e EVSEID) Formatted() string {
	return e.country + "*" + e.operator + "*" + string(evseIDType) + e.outlet
}

// String returns Normalized.
func (e EVSEID) String() string { return e.Normalized() }

// ---------------------------------------------------------------------------
// UIDs

// maxUIDLen is the OCPI CiString(36) limit of Token.uid and EVSE.uid.
const maxUIDLen = 36

// UID is a token UID or EVSE UID (OCPI CiString(36)): 1..36 printable ASCII
// characters U+0021..U+007E, no spaces (guide, "Token UID", "EVSE UID"). It
// keeps its original casing; compare with EqualFold or Key, never with ==.
type UID string

// ParseUID validates a token or EVSE UID. Errors are fault.Invalid at PathUID.
func ParseUID(s string) (UID, error) {
	if err := checkPrintable(PathUID, s, maxUIDLen); err != nil {
		return "", err
	}
	return UID(s), nil
}

// Key returns the comparison key: the UID with ASCII letters upper-cased.
// Two UIDs denote the same token (or EVSE) exactly when their keys are equal;
// store and index the key where uniqueness is enforced.
func (u UID) Key() string { return upperASCII(string(u)) }

// EqualFold reports whether u and v are the same UID, ignoring ASCII case.
func (u UID) EqualFold(v UID) bool { return u.Key() == v.Key() }

// String returns the UID with its original casing.
func (u UID) String() string { return string(u) }

// checkPrintable checks 1..max characters, each in U+0021..U+007E.
func checkPrintable(path, s string, max int) error {
	if s == "" {
		return fault.Invalid(path, "is required")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e {
			if c == ' ' {
				return fault.Invalid(path, "must not contain spaces (position %d)", i+1)
			}
			return fault.Invalid(path, "character at position %d is not printable ASCII (U+0021..U+007E)", i+1)
		}
	}
	if len(s) > max {
		return fault.Invalid(path, "must be at most %d characters (got %d)", max, len(s))
	}
	return nil
}

// The identifier types implement fmt.Stringer (IDs normalised, UIDs as given).
var (
	_ fmt.Stringer = EVCOID{}
	_ fmt.Stringer = EVSEID{}
	_ fmt.Stringer = UID("")
)
