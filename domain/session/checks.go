package session

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/iso"
)

// Problem is one reason a CDR cannot be processed at all: a field path in
// the CDR and what is wrong with it. Through the OCPI API such a CDR is
// refused with 2001; through a channel that cannot refuse (pull sync, a push
// that must be acknowledged) it is stored as an invalid charge session with
// these problems as its technical reason.
type Problem struct {
	Field  string
	Reason string
}

func (p Problem) String() string { return p.Field + ": " + p.Reason }

// Basic returns the problems that make s unusable: the identifying and
// critical facts the pipeline cannot do without (guide 003 → Charge
// Sessions → "Basic checks"). Checks that a plausible but wrong session
// fails are validity checks, not basic ones.
func Basic(s ChargeSession) []Problem {
	var ps []Problem
	need := func(field, v string) {
		if strings.TrimSpace(v) == "" {
			ps = append(ps, Problem{field, "is required"})
		}
	}
	need("country_code", s.CountryCode)
	need("party_id", s.PartyID)
	need("id", s.CdrID)
	need("cdr_token.uid", s.Token.UID)
	need("cdr_location.id", s.Location.LocationID)
	need("cdr_location.evse_uid", s.Location.EvseUID)
	need("cdr_location.connector_id", s.Location.ConnectorID)
	need("currency", s.Currency)
	if s.Start.IsZero() {
		ps = append(ps, Problem{"start_date_time", "is required"})
	}
	if s.End.IsZero() {
		ps = append(ps, Problem{"end_date_time", "is required"})
	}
	neg := func(field string, d decimal.Decimal) {
		if d.IsNegative() {
			ps = append(ps, Problem{field, "must not be negative"})
		}
	}
	neg("total_energy", s.TotalEnergy)
	neg("total_time", s.TotalTime)
	neg("total_parking_time", s.TotalParkingTime)
	if s.Credit && s.CreditReferenceID == "" {
		// mod_cdrs: credit_reference_id is required when credit is true.
		ps = append(ps, Problem{"credit_reference_id", "is required when credit is true"})
	}
	return ps
}

// Check names a validity check. Operators name them when they reprocess a
// drop-out with "bypass this check".
type Check string

// The validity checks (guide 003 → Charge Sessions → "Validity checks").
const (
	CheckStartBeforeEnd  Check = "start_before_end"
	CheckEnergyPlausible Check = "energy_plausible"
	CheckEndNotInFuture  Check = "end_not_in_future"
	CheckNotTooOld       Check = "not_too_old"
	CheckCurrencyKnown   Check = "currency_known"
	CheckTokenKnown      Check = "token_known"
)

// Checks lists every validity check in the order they run.
var Checks = []Check{CheckStartBeforeEnd, CheckEndNotInFuture, CheckNotTooOld, CheckCurrencyKnown, CheckEnergyPlausible, CheckTokenKnown}

// Valid reports whether c names a validity check or a pricing check.
func (c Check) Valid() bool {
	for _, k := range Checks {
		if c == k {
			return true
		}
	}
	for _, k := range PricingChecks {
		if c == k {
			return true
		}
	}
	return false
}

// Thresholds tune the validity checks. Defaults apply unless an
// administration overrides them, and a roaming partner's overrides win
// over the administration's (Resolve).
type Thresholds struct {
	// MaxAge is how long after its end a session is still accepted.
	MaxAge time.Duration
	// FutureTolerance absorbs clock skew between the CPO and us.
	FutureTolerance time.Duration
	// DefaultMaxPowerKW bounds the energy when the connector's power is
	// unknown.
	DefaultMaxPowerKW decimal.Decimal
	// EnergyTolerance is the factor by which energy may exceed power ×
	// duration (meter rounding, periods reported coarsely).
	EnergyTolerance decimal.Decimal
}

// DefaultThresholds are used where nothing overrides them: CDRs may arrive
// months late (mod_cdrs allows sending them after invoicing), so the age
// limit is generous; 400 kW covers today's fastest public chargers.
var DefaultThresholds = Thresholds{
	MaxAge:            180 * 24 * time.Hour,
	FutureTolerance:   5 * time.Minute,
	DefaultMaxPowerKW: decimal.NewFromInt(400),
	EnergyTolerance:   decimal.RequireFromString("1.10"),
}

// Overrides are thresholds set for an administration or a partner; nil
// fields inherit.
type Overrides struct {
	MaxAge            *time.Duration   `json:"max_age,omitempty"`
	FutureTolerance   *time.Duration   `json:"future_tolerance,omitempty"`
	DefaultMaxPowerKW *decimal.Decimal `json:"default_max_power_kw,omitempty"`
	EnergyTolerance   *decimal.Decimal `json:"energy_tolerance,omitempty"`
}

// Resolve applies the overrides in order (administration, then partner)
// on top of base.
func Resolve(base Thresholds, layers ...Overrides) Thresholds {
	t := base
	for _, o := range layers {
		if o.MaxAge != nil {
			t.MaxAge = *o.MaxAge
		}
		if o.FutureTolerance != nil {
			t.FutureTolerance = *o.FutureTolerance
		}
		if o.DefaultMaxPowerKW != nil {
			t.DefaultMaxPowerKW = *o.DefaultMaxPowerKW
		}
		if o.EnergyTolerance != nil {
			t.EnergyTolerance = *o.EnergyTolerance
		}
	}
	return t
}

// Failure is a validity check a session did not pass.
type Failure struct {
	Check  Check
	Reason string // the drop-out reason: short, the same for similar sessions
	Detail string // the session's own figures, for the operator
}

// Facts are what the validity checks need beyond the session: things only
// a store can tell.
type Facts struct {
	// TokenKnown: the MSP token exists (MSP side only; a CPO session's token
	// belongs to a partner and is checked when it is authorized).
	TokenKnown bool
	// AdministrationID is the administration of our token's owner (MSP
	// side), which the session is billed in; nil when unknown.
	AdministrationID *uuid.UUID
}

// Validate runs the validity checks that s does not bypass and returns the
// failures, in check order. now is the processing time.
func Validate(s ChargeSession, th Thresholds, f Facts, now time.Time) []Failure {
	var out []Failure
	fail := func(c Check, reason, detail string, args ...any) {
		if !s.bypasses(c) {
			out = append(out, Failure{c, reason, fmt.Sprintf(detail, args...)})
		}
	}
	if !s.Start.Before(s.End) {
		fail(CheckStartBeforeEnd, "Start not before end", "start %s, end %s", s.Start.UTC().Format(time.RFC3339), s.End.UTC().Format(time.RFC3339))
	}
	if s.End.After(now.Add(th.FutureTolerance)) {
		fail(CheckEndNotInFuture, "End in the future", "end %s, processed at %s", s.End.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.Sub(s.End) > th.MaxAge {
		fail(CheckNotTooOld, "Session too old", "ended %s, older than the limit of %s", s.End.UTC().Format(time.RFC3339), th.MaxAge)
	}
	if !iso.Currency(s.Currency) {
		fail(CheckCurrencyKnown, "Unknown currency", "currency %q is not an ISO 4217 code", s.Currency)
	}
	if max, ok := s.maxEnergy(th); ok && s.TotalEnergy.GreaterThan(max) {
		fail(CheckEnergyPlausible, "Implausible energy", "%s kWh in %s at most %s kW (limit %s kWh)",
			s.TotalEnergy, s.End.Sub(s.Start), s.powerKW(th), max.StringFixed(3))
	}
	if s.Side == MSP && !f.TokenKnown {
		fail(CheckTokenKnown, "Unknown token", "token %s (%s) is not one of ours", s.Token.UID, s.Token.Type)
	}
	return out
}

// powerKW is the connector's power when the match knows it, else the
// threshold's default.
func (s ChargeSession) powerKW(th Thresholds) decimal.Decimal {
	if s.Match != nil && s.Match.MaxPowerKW.IsPositive() {
		return s.Match.MaxPowerKW
	}
	return th.DefaultMaxPowerKW
}

// maxEnergy is the most energy a session of this duration can take at the
// connector's power, with the tolerance; ok is false when the duration is
// not positive (CheckStartBeforeEnd reports that).
func (s ChargeSession) maxEnergy(th Thresholds) (decimal.Decimal, bool) {
	d := s.End.Sub(s.Start)
	if d <= 0 {
		return decimal.Zero, false
	}
	hours := decimal.NewFromInt(int64(d)).Div(decimal.NewFromInt(int64(time.Hour)))
	return s.powerKW(th).Mul(hours).Mul(th.EnergyTolerance), true
}

func (s ChargeSession) bypasses(c Check) bool {
	for _, b := range s.Bypass {
		if b == c {
			return true
		}
	}
	return false
}
