// Package authz decides, as CPO, whether a partner's token may charge at
// one of our EVSEs now (mod_tokens → "Real-time authorization" and the
// WhitelistType enum). It is the rule only: the caller looks the token up
// in the cache of received tokens, asks the owning eMSP in real time when
// the rule says so, and hands both outcomes here. No I/O, no clock.
//
// The rule, from the cached token's whitelist (mod_tokens, WhitelistType):
//
//	ALWAYS           "realtime authorization is not possible/allowed. CPO shall
//	                 always allow any use": decided from the cache, never asked.
//	ALLOWED          "The CPO may choose": we ask in real time when the eMSP
//	                 answers (it is the current truth) and use the cache when
//	                 it does not, unless the fallback policy is deny.
//	ALLOWED_OFFLINE  "realtime authorization shall be used. But when the CPO
//	                 cannot get a response from the eMSP … the CPO shall allow":
//	                 asked; allowed from the cache when there is no answer,
//	                 whatever the policy.
//	NEVER            "Whitelisting is forbidden": asked; no answer is a denial
//	                 unless the operator chose the allow policy.
//
// valid = false does not skip the real-time request ("If a Token is: valid
// = false, when the whitelist field requires real-time authorization, the
// CPO SHALL do a real-time authorization, the state of the Token might have
// changed"); when the eMSP does not answer, the cached valid = false is the
// last word and the token is denied, also for ALLOWED_OFFLINE (the offline
// permission lets a known-good token through, not a known-bad one).
//
// A token not in the cache is asked about in real time (mod_tokens: "When
// an eMSP does not want to Push the full list of tokens to CPOs, the CPOs
// will need to call the POST Authorize request to check if a Token is known
// by the eMSP"); with no eMSP to ask it is unknown, and when no eMSP
// answers the fallback policy decides.
//
// A cached token whose eMSP has no roaming agreement letting its customers
// charge at our charge points (agreement role cpo, 003 → Roaming
// Agreement) is denied without asking: the agreement is what allows them.
package authz

import (
	"fmt"
	"strings"

	"github.com/roamnode/roamnode/domain/token"
)

// Source says what a decision rests on.
type Source string

// Decision sources.
const (
	// SourceCache: the cached token (or its absence) decided; nobody was asked.
	SourceCache Source = "cache"
	// SourceRealtime: the eMSP answered a real-time authorization request.
	SourceRealtime Source = "realtime"
	// SourceFallback: the eMSP was asked but gave no usable answer; the
	// whitelist and the fallback policy decided.
	SourceFallback Source = "fallback"
)

// Policy is what to do when the eMSP cannot be reached (or does not answer
// in time) and the whitelist leaves the choice to the CPO.
type Policy string

// Fallback policies.
const (
	// PolicyDeny: deny, except a valid ALLOWED_OFFLINE token (the spec
	// obliges the CPO to allow it).
	PolicyDeny Policy = "deny"
	// PolicyAllowIfWhitelisted: allow a valid token whose whitelist permits
	// whitelisting (ALLOWED, ALLOWED_OFFLINE); deny NEVER and unknown tokens.
	// The default: it is exactly what the whitelist types permit.
	PolicyAllowIfWhitelisted Policy = "allow_if_whitelisted"
	// PolicyAllow: also allow unknown tokens and valid NEVER tokens, so
	// that drivers keep charging while an eMSP is down. The CPO takes the
	// risk of sessions the eMSP will not pay for; NEVER tokens are then
	// whitelisted against the eMSP's wish, so choose it knowingly.
	PolicyAllow Policy = "allow"
)

// ParsePolicy reads a policy name; "-" may stand for "_".
func ParsePolicy(s string) (Policy, error) {
	p := Policy(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_"))
	switch p {
	case PolicyDeny, PolicyAllowIfWhitelisted, PolicyAllow:
		return p, nil
	}
	return "", fmt.Errorf("unknown fallback policy %q (deny, allow_if_whitelisted, allow)", s)
}

// Reason explains a decision in one stable word.
type Reason string

// Reasons.
const (
	ReasonWhitelisted    Reason = "whitelisted"          // allowed from the cache (ALWAYS, or ALLOWED without an answer)
	ReasonAuthorized     Reason = "authorized"           // the eMSP answered ALLOWED
	ReasonAllowedOffline Reason = "allowed_offline"      // ALLOWED_OFFLINE and the eMSP did not answer
	ReasonFallbackAllow  Reason = "fallback_allow"       // the allow policy let it through without an answer
	ReasonInvalid        Reason = "token_invalid"        // the cached token has valid = false
	ReasonBlocked        Reason = "blocked"              // the eMSP answered BLOCKED
	ReasonExpired        Reason = "expired"              // the eMSP answered EXPIRED
	ReasonNoCredit       Reason = "no_credit"            // the eMSP answered NO_CREDIT
	ReasonNotAllowed     Reason = "not_allowed"          // the eMSP answered NOT_ALLOWED (not at this location)
	ReasonEVSENotAllowed Reason = "evse_not_allowed"     // the eMSP allowed the token but none of the asked EVSEs / elsewhere
	ReasonUnknown        Reason = "unknown_token"        // neither the cache nor any eMSP knows the token
	ReasonUnreachable    Reason = "partner_unreachable"  // no answer and the whitelist/policy does not allow
	ReasonNoAgreement    Reason = "no_roaming_agreement" // the token's eMSP has no valid cpo agreement
)

// Cached is what the rule needs of the cached token.
type Cached struct {
	Valid     bool
	Whitelist token.Whitelist
	// Agreement: the owning eMSP's roaming partner has a cpo agreement
	// valid now.
	Agreement bool
}

// Where is the place the authorization is for (LocationReferences).
type Where struct {
	LocationID string
	// EVSEUIDs are the EVSEs asked for; empty means the whole location.
	EVSEUIDs []string
}

// Outcome classifies a real-time authorization attempt.
type Outcome int

// Outcomes.
const (
	// OutcomeNotAsked: nobody was asked (the cache decided, or there was
	// nobody to ask).
	OutcomeNotAsked Outcome = iota
	// OutcomeAnswered: the eMSP answered with an AuthorizationInfo.
	OutcomeAnswered
	// OutcomeUnknown: the eMSP answered that it does not know the token
	// (HTTP 404 / 2004).
	OutcomeUnknown
	// OutcomeNoAnswer: no usable answer (unreachable, timeout, error).
	OutcomeNoAnswer
)

// Answer is the result of the real-time authorization request.
type Answer struct {
	Outcome Outcome
	// Allowed is AuthorizationInfo.allowed (OutcomeAnswered).
	Allowed token.Allowed
	// Location is AuthorizationInfo.location: the location and the EVSEs
	// the driver may use there, nil when the eMSP sent none.
	Location *Where
}

// Decision is the answer to "may this token charge here now?".
type Decision struct {
	Allowed bool
	Reason  Reason
	Source  Source
	// EVSEUIDs are the EVSEs the token may use: the asked ones, narrowed
	// by the eMSP's restriction; empty when denied, and when the whole
	// location was asked and allowed without restriction.
	EVSEUIDs []string
}

// FromCache decides from the cached token alone when the rule allows it:
// no agreement (denied) or ALWAYS (valid decides). ok is false when the
// eMSP must be asked; c nil (not cached) always needs asking.
func FromCache(c *Cached, w Where) (d Decision, ok bool) {
	switch {
	case c == nil:
		return Decision{}, false
	case !c.Agreement:
		return deny(ReasonNoAgreement, SourceCache), true
	case c.Whitelist == token.WhitelistAlways && c.Valid:
		return Decision{Allowed: true, Reason: ReasonWhitelisted, Source: SourceCache, EVSEUIDs: w.EVSEUIDs}, true
	case c.Whitelist == token.WhitelistAlways:
		return deny(ReasonInvalid, SourceCache), true
	}
	return Decision{}, false
}

// Decide is the whole rule: FromCache when it decides, else the eMSP's
// answer, else the fallback for the whitelist and policy. An unknown
// whitelist value is treated as NEVER (the strictest).
func Decide(c *Cached, w Where, a Answer, p Policy) Decision {
	if d, ok := FromCache(c, w); ok {
		return d
	}
	switch a.Outcome {
	case OutcomeAnswered:
		return answered(w, a)
	case OutcomeUnknown:
		return deny(ReasonUnknown, SourceRealtime)
	case OutcomeNotAsked:
		if c == nil {
			return deny(ReasonUnknown, SourceCache)
		}
	}
	return fallback(c, w, p)
}

// answered applies the eMSP's AllowedType and its location restriction.
func answered(w Where, a Answer) Decision {
	switch a.Allowed {
	case token.AllowedAllowed:
		evses, ok := Restrict(w, a.Location)
		if !ok {
			return deny(ReasonEVSENotAllowed, SourceRealtime)
		}
		return Decision{Allowed: true, Reason: ReasonAuthorized, Source: SourceRealtime, EVSEUIDs: evses}
	case token.AllowedExpired:
		return deny(ReasonExpired, SourceRealtime)
	case token.AllowedNoCredit:
		return deny(ReasonNoCredit, SourceRealtime)
	case token.AllowedNotAllowed:
		return deny(ReasonNotAllowed, SourceRealtime)
	}
	// BLOCKED, and any value a later OCPI version adds: fail closed.
	return deny(ReasonBlocked, SourceRealtime)
}

// fallback decides without an answer from the eMSP.
func fallback(c *Cached, w Where, p Policy) Decision {
	allow := func(r Reason) Decision {
		return Decision{Allowed: true, Reason: r, Source: SourceFallback, EVSEUIDs: w.EVSEUIDs}
	}
	switch {
	case c == nil && p == PolicyAllow:
		return allow(ReasonFallbackAllow)
	case c == nil:
		return deny(ReasonUnreachable, SourceFallback)
	case !c.Valid:
		return deny(ReasonInvalid, SourceFallback)
	}
	switch c.Whitelist {
	case token.WhitelistAllowedOffline:
		return allow(ReasonAllowedOffline)
	case token.WhitelistAllowed:
		if p != PolicyDeny {
			return allow(ReasonWhitelisted)
		}
	default: // NEVER and unknown values
		if p == PolicyAllow {
			return allow(ReasonFallbackAllow)
		}
	}
	return deny(ReasonUnreachable, SourceFallback)
}

func deny(r Reason, s Source) Decision { return Decision{Reason: r, Source: s} }

// Restrict applies AuthorizationInfo.location ("Only the EVSEs the EV
// driver is allowed to charge at are returned") to the place asked for:
//   - no location in the answer: no restriction, the asked EVSEs;
//   - another location than asked: not allowed here;
//   - no EVSEs in the answer: the whole location, the asked EVSEs;
//   - the whole location asked: the EVSEs the eMSP lists;
//   - else the asked EVSEs the eMSP lists (ids compared as CiStrings,
//     keeping the casing asked with); none left: not allowed.
func Restrict(w Where, loc *Where) (evses []string, ok bool) {
	switch {
	case loc == nil:
		return w.EVSEUIDs, true
	case !equalCI(loc.LocationID, w.LocationID):
		return nil, false
	case len(loc.EVSEUIDs) == 0:
		return w.EVSEUIDs, true
	case len(w.EVSEUIDs) == 0:
		return loc.EVSEUIDs, true
	}
	for _, e := range w.EVSEUIDs {
		for _, a := range loc.EVSEUIDs {
			if equalCI(e, a) {
				evses = append(evses, e)
				break
			}
		}
	}
	return evses, len(evses) > 0
}

// equalCI compares CiStrings: ASCII letters case-insensitively, nothing
// else folded.
func equalCI(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
