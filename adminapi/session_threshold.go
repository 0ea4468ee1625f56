package adminapi

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/session"
)

// Validity-check thresholds overridden per administration and per roaming
// partner (issue 5 → Validity checks: "thresholds configurable per
// administration and per roaming partner"). Each owner has one set of
// overrides, a sub-resource of the owner:
//
//	GET/POST /main/v1/administration/{id}/session-thresholds
//	GET/POST /main/v1/roaming-partner/{id}/session-thresholds
//
// A field left null inherits: the node's defaults, then the
// administration's overrides, then the partner's (session.Resolve). POST
// is a merge-update (RFC 7396). A partner's overrides apply to sessions of
// every administration, so changing them needs an account that sees all
// administrations.

// sessionThresholdsView is an owner's overrides.
type sessionThresholdsView struct {
	AdministrationID  *uuid.UUID `json:"administration_id"`
	PartnerID         *uuid.UUID `json:"partner_id"`
	MaxAge            *string    `json:"max_age"`
	FutureTolerance   *string    `json:"future_tolerance"`
	DefaultMaxPowerKW *Decimal   `json:"default_max_power_kw"`
	EnergyTolerance   *Decimal   `json:"energy_tolerance"`
	UpdatedAt         *time.Time `json:"updated_at"`
}

// sessionThresholdsInput is the merged input; durations are Go durations
// such as "72h" or "5m" (the form of the node's own settings).
type sessionThresholdsInput struct {
	MaxAge            *string  `json:"max_age"`
	FutureTolerance   *string  `json:"future_tolerance"`
	DefaultMaxPowerKW *Decimal `json:"default_max_power_kw"`
	EnergyTolerance   *Decimal `json:"energy_tolerance"`
}

func sessionThresholdsViewOf(st db.StoredThresholds) sessionThresholdsView {
	dur := func(d *time.Duration) *string {
		if d == nil {
			return nil
		}
		s := d.String()
		return &s
	}
	o := st.Overrides
	return sessionThresholdsView{AdministrationID: st.AdministrationID, PartnerID: st.PartnerID, MaxAge: dur(o.MaxAge),
		FutureTolerance: dur(o.FutureTolerance), DefaultMaxPowerKW: apiDec(o.DefaultMaxPowerKW), EnergyTolerance: apiDec(o.EnergyTolerance),
		UpdatedAt: utcPtr(st.UpdatedAt)}
}

// Bounds of the overrides: beyond them a value is a mistake (a unit
// slip), not a policy.
var (
	maxAgeMin, maxAgeMax = time.Hour, 10 * 365 * 24 * time.Hour
	futureToleranceMax   = 24 * time.Hour
	powerMax             = decimal.NewFromInt(10_000) // kW
	toleranceMax         = decimal.NewFromInt(10)
)

// overridesOf validates the input, reporting every problem with its path.
func overridesOf(in sessionThresholdsInput) (session.Overrides, error) {
	var o session.Overrides
	var fs fault.Fields
	dur := func(name string, s *string, min, max time.Duration) *time.Duration {
		if s == nil {
			return nil
		}
		d, err := time.ParseDuration(*s)
		if err != nil || d < min || d > max {
			fs.Add(name, "must be a duration such as 72h or 30m, from %s to %s", min, max)
			return nil
		}
		return &d
	}
	o.MaxAge = dur("max_age", in.MaxAge, maxAgeMin, maxAgeMax)
	o.FutureTolerance = dur("future_tolerance", in.FutureTolerance, 0, futureToleranceMax)
	if p := decPtr(in.DefaultMaxPowerKW); p != nil {
		if !p.IsPositive() || p.GreaterThan(powerMax) {
			fs.Add("default_max_power_kw", "must be more than 0 and at most %s (kW)", powerMax)
		}
		o.DefaultMaxPowerKW = p
	}
	if t := decPtr(in.EnergyTolerance); t != nil {
		if t.LessThan(decimal.NewFromInt(1)) || t.GreaterThan(toleranceMax) {
			fs.Add("energy_tolerance", "must be a factor from 1 to %s (1.1 allows 10%% more energy than power × duration)", toleranceMax)
		}
		o.EnergyTolerance = t
	}
	return o, fs.Err()
}

// mountSessionThresholds registers the threshold routes.
func (a *API) mountSessionThresholds(v1 fiber.Router) {
	for _, owner := range []string{"administration", "roaming-partner"} {
		path := "/" + owner + "/:key/session-thresholds"
		v1.Get(path, a.handle(sessionFamily, access.Read, func(c *fiber.Ctx, rq *request) error {
			o, err := thresholdOwner(c, rq, owner, false)
			if err != nil {
				return err
			}
			st, err := db.ThresholdsOf(c.UserContext(), rq.api.pool, o)
			if err != nil {
				return err
			}
			return c.JSON(sessionThresholdsViewOf(st))
		}))
		v1.Post(path, a.handle(sessionFamily, access.Write, func(c *fiber.Ctx, rq *request) error {
			o, err := thresholdOwner(c, rq, owner, true)
			if err != nil {
				return err
			}
			return mergeThresholds(c, rq, o)
		}))
	}
}

// thresholdOwner resolves the owner in the path (id or ext_ref.) and
// checks the account may read (or, with write, change) its overrides.
func thresholdOwner(c *fiber.Ctx, rq *request, owner string, write bool) (db.ThresholdOwner, error) {
	k, err := parseKey(c.Params("key"))
	if err != nil {
		return db.ThresholdOwner{}, err
	}
	ctx := c.UserContext()
	if owner == "administration" {
		adm, err := db.Administration(ctx, rq.api.pool, k.ID, k.Ref, false)
		if err != nil {
			return db.ThresholdOwner{}, err
		}
		if !rq.account.Sees(adm.ID) {
			return db.ThresholdOwner{}, forbidden("the API account has no access to this administration")
		}
		return db.ThresholdOwner{AdministrationID: &adm.ID}, nil
	}
	p, err := db.Partner(ctx, rq.api.pool, k.ID, k.Ref, false)
	if err != nil {
		return db.ThresholdOwner{}, err
	}
	if write && !rq.account.AllAdministrations {
		return db.ThresholdOwner{}, forbidden("a roaming partner's thresholds apply to every administration; changing them needs an API account that sees all administrations")
	}
	return db.ThresholdOwner{PartnerID: &p.ID}, nil
}

// mergeThresholds applies a merge-patch body to the owner's overrides. A
// change that leaves them as they are writes nothing (and emits no event).
func mergeThresholds(c *fiber.Ctx, rq *request, o db.ThresholdOwner) error {
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	var in sessionThresholdsInput
	var v sessionThresholdsView
	if unknown := unknownFields(b, jsonNames(in), jsonNames(v)); len(unknown) > 0 {
		c.Set("X-RN-Unknown-Fields", strings.Join(unknown, ","))
	}
	ctx := c.UserContext()
	cur, err := db.ThresholdsOf(ctx, rq.api.pool, o)
	if err != nil {
		return err
	}
	before, err := json.Marshal(sessionThresholdsViewOf(cur))
	if err != nil {
		return err
	}
	merged, err := mergeDoc(before, b, []string{"administration_id", "partner_id", "updated_at"})
	if err != nil {
		return err
	}
	if err := decodeInto(merged, &in); err != nil {
		return err
	}
	ov, err := overridesOf(in)
	if err != nil {
		return err
	}
	if cur.UpdatedAt != nil && sameOverrides(ov, cur.Overrides) {
		return c.JSON(sessionThresholdsViewOf(cur))
	}
	st, err := db.SaveThresholds(ctx, rq.api.pool, o, ov, func(st db.StoredThresholds) any { return sessionThresholdsViewOf(st) })
	if err != nil {
		return err
	}
	return c.JSON(sessionThresholdsViewOf(st))
}

// sameOverrides compares overrides by value (decimals by their JSON form,
// so that 1.10 equals 1.1).
func sameOverrides(a, b session.Overrides) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
