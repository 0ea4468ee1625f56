package db

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/session"
)

// Credit CDRs we receive as eMSP (mod_cdrs → Credit CDRs): intake links a
// credit CDR to the CDR it credits (ReceiveChargeSession) and refuses a
// second credit of the same CDR; pricing reverses the credited session's
// latest results (session.Reverse) through CreditLookup, and the pricing
// commit gives back the charge credits the credited session consumed
// (commitCredits). The CPO side (credit and replacement CDRs we publish)
// is in cpo_session_cdr.go.

// CreditLookup implements session.CreditLookup on Postgres.
type CreditLookup struct{ Pool *pgxpool.Pool }

var _ session.CreditLookup = CreditLookup{}

// Credited implements session.CreditLookup: the credited session's state
// and the latest version of each of its results.
func (l CreditLookup) Credited(ctx context.Context, s session.ChargeSession) (session.Credited, error) {
	row, err := Q(l.Pool).CreditedSessionOf(ctx, s.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return session.Credited{}, fmt.Errorf("credit CDR %s of session %s is linked to no credited session", s.CdrID, s.ID)
	}
	if err != nil {
		return session.Credited{}, err
	}
	c := session.Credited{SessionID: row.ID, CdrID: row.CdrID, State: session.State(row.State)}
	if c.State != session.Priced {
		return c, nil
	}
	latest, err := LatestChargeSessionPrices(ctx, l.Pool, []uuid.UUID{row.ID})
	if err != nil {
		return c, err
	}
	for _, v := range latest[row.ID] {
		c.Latest = append(c.Latest, session.CreditedPrice{ID: v.ID, Version: v.Version, Result: session.PriceResult{Kind: v.Kind,
			SubjectID: v.SubjectID, Currency: v.Currency, Components: v.DomainComponents(), ExclVAT: v.ExclVAT, VAT: v.VAT,
			InclVAT: v.InclVAT, Detail: v.Detail}})
	}
	return c, nil
}

// creditOnce refuses a credit CDR (of cdr id cdrKey, upper case) for a
// session another credit CDR credits already (mod_cdrs: the credit
// cancels the CDR; a further correction credits the replacement CDR).
// The same credit CDR again is not refused: intake answers it as a
// duplicate. The unique index charge_session_credited_once keeps this
// under concurrent posts.
func creditOnce(ctx context.Context, q Querier, credited uuid.UUID, ref, cdrKey string) error {
	other, err := Q(q).CreditOfSession(ctx, &credited)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if strings.ToUpper(other.CdrID) == cdrKey {
		return nil
	}
	return fault.Invalid("credit_reference_id", "CDR %q is credited already by credit CDR %q; a CDR is credited once (credit its replacement instead)",
		ref, other.CdrID)
}

// constraintCreditedOnce is the unique index behind creditOnce.
const constraintCreditedOnce = "charge_session_credited_once"

// creditedTwice maps the loss of a race between two credit CDRs of one
// CDR onto creditOnce's refusal.
func creditedTwice(err error, ref string) error {
	if code, constraint := pgCode(err); code == codeUniqueViolation && constraint == constraintCreditedOnce {
		return fault.Invalid("credit_reference_id", "CDR %q is credited already by another credit CDR; a CDR is credited once", ref)
	}
	return err
}
