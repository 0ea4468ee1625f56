package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/fault"
)

// Plan-or-customer corrections of MSP token subscriptions (guide 003 →
// Token validity: "For corrections, including retroactive changes, use the
// /msp-token-subscription/{id}/plan-or-customer-correction endpoint. This
// handles subscription corrections, including moving tokens and repricing
// charge sessions, with minimal manual intervention"; changelog v3.41.0:
// new_plan_external_reference in its body).
//
// A correction applies from a moment (From, whole minutes) and does one of:
//
//   - in place: a new plan and/or customer for the whole subscription (From
//     at or before its start, all its tokens): the subscription itself
//     changes;
//   - split: a new plan and/or customer from From: a new subscription
//     [From, old end) takes the tokens (all, or the listed ones), the old
//     subscription ends at From when all its tokens leave;
//   - move: the tokens (all, or the listed ones) belong to another existing
//     subscription from From.
//
// Moving a token's link at From: a link ending at or before From stays; a
// link starting at or after From is moved whole; a link running across
// From ends there and a new link of the same token continues it from From
// in the other subscription, so that the token is in exactly one
// subscription at every instant (the exclusion constraint on live links
// holds after each statement). Everything is one transaction, with the
// repricing requests of the affected MSP sessions: those whose latest
// result was priced for the subscription, starting at or after From, and
// (unless in place) through a moved link. They are priced again by the
// pipeline (version n+1 with the correction's reason; older versions are
// kept; charge credits are given back and consumed again, from the
// credits of the subscription they now belong to). Charge credits stay
// with the subscription they were granted to.

// Correction is a plan-or-customer correction of one subscription.
type Correction struct {
	SubscriptionID uuid.UUID
	// From is when the correction applies (truncated to the minute).
	From time.Time
	// Plan and CustomerID are the new plan and customer (nil: unchanged).
	Plan       *gen.MspTokenSubscriptionPlan
	CustomerID *uuid.UUID
	// Target is the existing subscription the tokens move to (a move; no
	// plan or customer then).
	Target *gen.MspTokenSubscription
	// TokenIDs limits the correction to these tokens (nil: all of the
	// subscription's).
	TokenIDs []uuid.UUID
	// NewSubscriptionRef is the external reference of a split's new
	// subscription.
	NewSubscriptionRef *string
	// Note is the operator's reason, added to the versions' reason.
	Note string
}

// CorrectionResult is what a correction changed.
type CorrectionResult struct {
	Mode string // in_place, split or move
	// Subscription is the corrected subscription as it is now.
	Subscription gen.MspTokenSubscription
	// NewSubscription is a split's new subscription; Target a move's.
	NewSubscription *gen.MspTokenSubscription
	Target          *gen.MspTokenSubscription
	// Links are the links changed (Updated) and created (Created).
	Updated []gen.MspTokenLink
	Created []gen.MspTokenLink
	// Tokens are the tokens whose links changed (their OCPI view may too).
	Tokens []uuid.UUID
	// Repriced are the sessions sent back to pricing, with Reason.
	Repriced []ChargeSessionRecord
	Reason   string
}

// The correction modes.
const (
	CorrectionInPlace = "in_place"
	CorrectionSplit   = "split"
	CorrectionMove    = "move"
)

// CorrectSubscription applies c in tx (see the rules above) and requests
// the repricing of the affected sessions in the same transaction. Broken
// rules are fault.Invalid with the body's field paths; nothing is written
// then (the caller's transaction rolls back).
func CorrectSubscription(ctx context.Context, tx pgx.Tx, c Correction, now time.Time) (CorrectionResult, error) {
	now = now.UTC().Truncate(time.Microsecond)
	from := c.From.UTC().Truncate(time.Minute)
	var out CorrectionResult
	sub, err := MSPTokenSubscription(ctx, tx, &c.SubscriptionID, "", true)
	if err != nil {
		return out, err
	}
	out.Subscription = sub
	var fs fault.Fields
	if sub.Defunct {
		fs.Add("id", "the subscription is defunct; defunct subscriptions are not corrected")
	}
	if sub.ValidUntil != nil && !from.Before(*sub.ValidUntil) {
		fs.Add("valid_from", "must be before the subscription's end (%s)", sub.ValidUntil.UTC().Format(time.RFC3339))
	}
	plan, customer := sub.PlanID, sub.CustomerID
	admin := sub.AdministrationID
	if c.Plan != nil {
		plan, admin = c.Plan.ID, c.Plan.AdministrationID
	}
	if c.CustomerID != nil {
		customer = *c.CustomerID
	}
	if c.Target != nil {
		switch {
		case c.Plan != nil || c.CustomerID != nil:
			fs.Add("target_subscription_id", "a move to another subscription takes that subscription's plan and customer; give no new plan or customer")
		case c.Target.ID == sub.ID:
			fs.Add("target_subscription_id", "is the subscription being corrected")
		case c.Target.Defunct:
			fs.Add("target_subscription_id", "the subscription is defunct")
		}
	} else if plan == sub.PlanID && customer == sub.CustomerID {
		fs.Add("new_plan_id", "nothing to correct: give a new plan, a new customer, or a target subscription")
	}
	links, err := Q(tx).LockLiveLinksOfSubscription(ctx, sub.ID)
	if err != nil {
		return out, err
	}
	moving := links
	if c.TokenIDs != nil {
		moving = nil
		for i, t := range c.TokenIDs {
			found := false
			for _, l := range links {
				if l.TokenID == t {
					found = true
					moving = append(moving, l)
				}
			}
			if !found {
				fs.Add(fmt.Sprintf("token_ids[%d]", i), "the token has no live link to this subscription")
			}
		}
	}
	if err := fs.Err(); err != nil {
		return out, err
	}

	var steps []string
	switch {
	case c.Target == nil && c.TokenIDs == nil && !from.After(sub.ValidFrom):
		out.Mode = CorrectionInPlace
		from = sub.ValidFrom
		if out.Subscription, err = Q(tx).CorrectSubscriptionParties(ctx, gen.CorrectSubscriptionPartiesParams{ID: sub.ID, PlanID: plan,
			CustomerID: customer, AdministrationID: admin, UpdatedAt: now}); err != nil {
			return out, Translate(err)
		}
	case c.Target == nil:
		out.Mode = CorrectionSplit
		if from.Before(sub.ValidFrom) {
			from = sub.ValidFrom
		}
		ns := gen.MspTokenSubscription{ID: uuid.Must(uuid.NewV7()), AdministrationID: admin, ExternalReference: c.NewSubscriptionRef,
			CustomerID: customer, PlanID: plan, BuyerReference: sub.BuyerReference, ValidFrom: from, ValidUntil: sub.ValidUntil,
			CreatedAt: now, UpdatedAt: now}
		if c.TokenIDs == nil && from.After(sub.ValidFrom) {
			f := from
			if out.Subscription, err = Q(tx).EndSubscriptionAt(ctx, gen.EndSubscriptionAtParams{ID: sub.ID, ValidUntil: &f, UpdatedAt: now}); err != nil {
				return out, Translate(err)
			}
		}
		if err := SaveMSPTokenSubscription(ctx, tx, ns, true); err != nil {
			if f, ok := fault.As(err); ok && len(f.Fields) == 1 && f.Fields[0].Path == "external_reference" {
				f.Fields[0].Path = "new_subscription_external_reference"
			}
			return out, err
		}
		out.NewSubscription = &ns
		out.Target = &ns
	default:
		out.Mode = CorrectionMove
		out.Target = c.Target
	}
	if plan != sub.PlanID {
		steps = append(steps, fmt.Sprintf("plan %s → %s", sub.PlanID, plan))
	}
	if customer != sub.CustomerID {
		steps = append(steps, fmt.Sprintf("customer %s → %s", sub.CustomerID, customer))
	}
	if out.Mode == CorrectionMove {
		steps = append(steps, fmt.Sprintf("tokens moved to subscription %s", c.Target.ID))
	}

	var moved []uuid.UUID
	if out.Target != nil {
		tokens := map[uuid.UUID]bool{}
		for _, l := range moving {
			upd, created, changed, err := moveLink(ctx, tx, l, out.Target.ID, from, now)
			if err != nil {
				return out, err
			}
			if !changed {
				continue
			}
			moved = append(moved, l.ID)
			out.Updated = append(out.Updated, upd)
			if created != nil {
				out.Created = append(out.Created, *created)
			}
			if !tokens[l.TokenID] {
				tokens[l.TokenID] = true
				out.Tokens = append(out.Tokens, l.TokenID)
			}
		}
	}

	out.Reason = fmt.Sprintf("correction of subscription %s from %s: %s", sub.ID, from.Format(time.RFC3339), strings.Join(steps, ", "))
	if n := strings.TrimSpace(c.Note); n != "" {
		out.Reason += " (" + n + ")"
	}
	subID := sub.ID
	ids, err := Q(tx).SessionsToReprice(ctx, gen.SessionsToRepriceParams{SubscriptionID: &subID, FromAt: from, AllLinks: out.Mode == CorrectionInPlace,
		LinkIds: nonNilIDs(moved)})
	if err != nil {
		return out, err
	}
	for _, id := range ids {
		rec, requested, err := RequestReprice(ctx, tx, id, out.Reason, now)
		if err != nil {
			return out, err
		}
		if requested {
			out.Repriced = append(out.Repriced, rec)
		}
	}
	return out, nil
}

// moveLink moves link l to subscription to from at (see CorrectSubscription):
// it returns the link as updated, the continuation created (if any), and
// whether anything changed.
func moveLink(ctx context.Context, tx pgx.Tx, l gen.MspTokenLink, to uuid.UUID, at, now time.Time) (gen.MspTokenLink, *gen.MspTokenLink, bool, error) {
	switch {
	case l.ValidUntil != nil && !l.ValidUntil.After(at):
		return l, nil, false, nil // over before the correction
	case l.ValidFrom != nil && !l.ValidFrom.Before(at):
		u, err := Q(tx).MoveLinkToSubscription(ctx, gen.MoveLinkToSubscriptionParams{ID: l.ID, SubscriptionID: to, UpdatedAt: now})
		return u, nil, true, linkErr(err)
	}
	end := at
	u, err := Q(tx).EndLinkAt(ctx, gen.EndLinkAtParams{ID: l.ID, ValidUntil: &end, UpdatedAt: now})
	if err != nil {
		return l, nil, false, linkErr(err)
	}
	start := at
	n := gen.MspTokenLink{ID: uuid.Must(uuid.NewV7()), TokenID: l.TokenID, SubscriptionID: to, ValidFrom: &start, ValidUntil: l.ValidUntil,
		CreatedAt: now, UpdatedAt: now}
	if err := SaveMSPTokenLink(ctx, tx, n, true); err != nil {
		return l, nil, false, err
	}
	return u, &n, true, nil
}

// linkErr reports an exclusion violation of a link write as the
// correction's conflict.
func linkErr(err error) error {
	if code, _ := pgCode(err); code == codeExclusionViolation {
		return &fault.Error{Kind: fault.KindConflict, Code: "overlapping_validity", Message: "a token can belong to only one subscription at a time",
			Fields: []fault.Field{{Path: "valid_from", Message: "the moved token has another live link from this moment"}}}
	}
	return Translate(err)
}

func nonNilIDs(ids []uuid.UUID) []uuid.UUID {
	if ids == nil {
		return []uuid.UUID{}
	}
	return ids
}
