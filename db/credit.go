package db

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/credit"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/session"
)

// Charge credits of MSP token subscriptions (guide 003 → Charge credits):
// a grant is a charge_credit row whose balance the database keeps at or
// above zero (CHECK charge_credit_balance_not_negative); every change of a
// balance is a charge_credit_movement (grant, consumption, reversal,
// expiry). A pricing result consumes in the transaction that stores it
// (commitCredits, called by CommitPriced), so two sessions racing for the
// last of a credit cannot both have it: the second decrement violates the
// CHECK, its transaction rolls back, and the pipeline prices it again
// against the balance the first one left.

// The outbox kinds of charge credits: a credit (created by its grant,
// updated when its balance changes) and each movement of the ledger.
const (
	ChargeCreditEventKind         = "charge-credit"
	ChargeCreditMovementEventKind = "charge-credit-movement"
)

// The movement kinds.
const (
	MovementGrant       = "grant"
	MovementConsumption = "consumption"
	MovementReversal    = "reversal"
	MovementExpiry      = "expiry"
)

// constraintCreditBalance is the CHECK that keeps a balance at or above
// zero; its violation is a lost race for the credit, not a failure.
const constraintCreditBalance = "charge_credit_balance_not_negative"

// ChargeCreditView is a credit as the Admin API shows it and its events
// carry it. Decimals are strings.
type ChargeCreditView struct {
	ID                uuid.UUID       `json:"id"`
	SubscriptionID    uuid.UUID       `json:"subscription_id"`
	AdministrationID  uuid.UUID       `json:"administration_id"`
	ExternalReference *string         `json:"external_reference"`
	Kind              credit.Kind     `json:"kind"`
	Currency          *string         `json:"currency"`
	Unit              string          `json:"unit"`
	Granted           decimal.Decimal `json:"granted"`
	Balance           decimal.Decimal `json:"balance"`
	ValidFrom         time.Time       `json:"valid_from"`
	ValidUntil        *time.Time      `json:"valid_until"`
	Description       *string         `json:"description"`
	CreatedAt         time.Time       `json:"created_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
}

// ChargeCreditViewOf renders a stored credit.
func ChargeCreditViewOf(c gen.ChargeCredit) ChargeCreditView {
	unit := "kWh"
	if c.Currency != nil {
		unit = *c.Currency
	}
	return ChargeCreditView{ID: c.ID, SubscriptionID: c.SubscriptionID, AdministrationID: c.AdministrationID, ExternalReference: c.ExternalReference,
		Kind: credit.Kind(c.Kind), Currency: c.Currency, Unit: unit, Granted: c.Granted, Balance: c.Balance, ValidFrom: c.ValidFrom.UTC(),
		ValidUntil: utc(c.ValidUntil), Description: c.Description, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
}

// ChargeCreditMovementView is a movement of the ledger as shown and sent.
type ChargeCreditMovementView struct {
	ID               uuid.UUID        `json:"id"`
	CreditID         uuid.UUID        `json:"credit_id"`
	SubscriptionID   uuid.UUID        `json:"subscription_id"`
	AdministrationID uuid.UUID        `json:"administration_id"`
	Kind             string           `json:"kind"`
	Amount           decimal.Decimal  `json:"amount"`
	BalanceAfter     decimal.Decimal  `json:"balance_after"`
	ChargeSessionID  *uuid.UUID       `json:"charge_session_id"`
	PriceID          *uuid.UUID       `json:"price_id"`
	Component        *string          `json:"component"`
	CoveredExclVAT   *decimal.Decimal `json:"covered_excl_vat"`
	CreatedAt        time.Time        `json:"created_at"`
}

// ChargeCreditMovementViewOf renders a stored movement.
func ChargeCreditMovementViewOf(m gen.ChargeCreditMovement) ChargeCreditMovementView {
	return ChargeCreditMovementView{ID: m.ID, CreditID: m.CreditID, SubscriptionID: m.SubscriptionID, AdministrationID: m.AdministrationID,
		Kind: m.Kind, Amount: m.Amount, BalanceAfter: m.BalanceAfter, ChargeSessionID: m.ChargeSessionID, PriceID: m.PriceID,
		Component: m.Component, CoveredExclVAT: m.CoveredExclVat, CreatedAt: m.CreatedAt.UTC()}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// GrantChargeCredit grants a credit to subscription sub (in q's
// transaction): the credit with its whole amount as balance, the grant's
// movement, and their outbox events. ref and description are optional.
func GrantChargeCredit(ctx context.Context, q Querier, sub gen.MspTokenSubscription, g credit.Grant, ref, description *string, now time.Time) (ChargeCreditView, error) {
	if err := g.Validate(); err != nil {
		return ChargeCreditView{}, err
	}
	now = now.UTC().Truncate(time.Microsecond)
	id, mid := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	var cur *string
	if g.Kind == credit.Monetary {
		cur = &g.Currency
	}
	err := Q(q).InsertChargeCredit(ctx, gen.InsertChargeCreditParams{MovementID: mid, ID: id, SubscriptionID: sub.ID, AdministrationID: sub.AdministrationID,
		ExternalReference: ref, Kind: string(g.Kind), Currency: cur, Granted: g.Amount, ValidFrom: g.ValidFrom.UTC(), ValidUntil: utc(g.ValidUntil),
		Description: description, CreatedAt: now})
	if err != nil {
		return ChargeCreditView{}, Translate(err)
	}
	c := gen.ChargeCredit{ID: id, SubscriptionID: sub.ID, AdministrationID: sub.AdministrationID, ExternalReference: ref, Kind: string(g.Kind),
		Currency: cur, Granted: g.Amount, Balance: g.Amount, ValidFrom: g.ValidFrom.UTC(), ValidUntil: utc(g.ValidUntil), Description: description,
		CreatedAt: now, UpdatedAt: now}
	v := ChargeCreditViewOf(c)
	admin := sub.AdministrationID
	if err := AppendEvent(ctx, q, event.New(ChargeCreditEventKind, event.Create, &admin, v)); err != nil {
		return v, err
	}
	mv := ChargeCreditMovementViewOf(gen.ChargeCreditMovement{ID: mid, CreditID: id, SubscriptionID: sub.ID, AdministrationID: admin,
		Kind: MovementGrant, Amount: g.Amount, BalanceAfter: g.Amount, CreatedAt: now})
	return v, AppendEvent(ctx, q, event.New(ChargeCreditMovementEventKind, event.Create, &admin, mv))
}

// ChargeCredit loads a credit by id or external reference.
func ChargeCredit(ctx context.Context, q Querier, id *uuid.UUID, ref string) (gen.ChargeCredit, error) {
	get := func(ctx context.Context, id uuid.UUID) (gen.ChargeCredit, error) {
		return Q(q).GetChargeCredit(ctx, id)
	}
	byRef := func(ctx context.Context, ref *string) (gen.ChargeCredit, error) {
		return Q(q).GetChargeCreditByRef(ctx, ref)
	}
	return lookup(ctx, "charge credit", id, ref, false, get, get, byRef, byRef)
}

// ChargeCreditListParams are the filters of the credit list.
type ChargeCreditListParams = gen.ListChargeCreditsParams

// ListChargeCredits returns a page of credits.
func ListChargeCredits(ctx context.Context, q Querier, p ChargeCreditListParams) ([]gen.ChargeCredit, error) {
	if p.AdminIds == nil {
		p.AdminIds = []uuid.UUID{}
	}
	return Q(q).ListChargeCredits(ctx, p)
}

// ChargeCreditMovementListParams are the filters of the ledger.
type ChargeCreditMovementListParams = gen.ListChargeCreditMovementsParams

// ListChargeCreditMovements returns a page of the ledger.
func ListChargeCreditMovements(ctx context.Context, q Querier, p ChargeCreditMovementListParams) ([]gen.ChargeCreditMovement, error) {
	if p.AdminIds == nil {
		p.AdminIds = []uuid.UUID{}
	}
	return Q(q).ListChargeCreditMovements(ctx, p)
}

// CreditBalance is the balance of a subscription's credits of one kind
// (and currency) usable at a moment.
type CreditBalance struct {
	Kind     credit.Kind     `json:"kind"`
	Currency *string         `json:"currency"`
	Unit     string          `json:"unit"`
	Balance  decimal.Decimal `json:"balance"`
	Credits  int             `json:"credits"`
}

// SubscriptionCreditBalances returns the balances of subscription's
// credits valid at at, per kind and currency.
func SubscriptionCreditBalances(ctx context.Context, q Querier, subscription uuid.UUID, at time.Time) ([]CreditBalance, error) {
	rows, err := Q(q).SubscriptionCreditBalances(ctx, gen.SubscriptionCreditBalancesParams{SubscriptionID: subscription, At: at})
	return mapAll(rows, func(r gen.SubscriptionCreditBalancesRow) CreditBalance {
		b := CreditBalance{Kind: credit.Kind(r.Kind), Unit: "kWh", Balance: r.Balance, Credits: int(r.Credits)}
		if r.Currency != "" {
			c := r.Currency
			b.Currency, b.Unit = &c, c
		}
		return b
	}), err
}

// CreditStore implements credit.Store on Postgres.
type CreditStore struct{ Pool *pgxpool.Pool }

var _ credit.Store = CreditStore{}

// SessionCredits implements credit.Store in one query.
func (s CreditStore) SessionCredits(ctx context.Context, subscription, sessionID uuid.UUID, start time.Time) ([]credit.Credit, bool, error) {
	rows, err := Q(s.Pool).SessionChargeCredits(ctx, gen.SessionChargeCreditsParams{SessionID: sessionID, SubscriptionID: subscription, StartAt: start.UTC()})
	if err != nil {
		return nil, false, err
	}
	var out []credit.Credit
	before := false
	for _, r := range rows {
		if r.Consumed.IsPositive() {
			before = true
		}
		if !r.Eligible {
			continue
		}
		out = append(out, credit.Credit{ID: r.ID, Kind: credit.Kind(r.Kind), Currency: deref(r.Currency), Available: r.Balance.Add(r.Consumed),
			ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil})
	}
	return out, before, nil
}

// errCreditRace is a pricing commit that lost the race for a credit's
// balance (the CHECK refused a negative balance).
var errCreditRace = errors.New("charge credit balance changed")

// IsCreditRace reports whether err is a lost race for a credit's balance.
func IsCreditRace(err error) bool {
	if errors.Is(err, errCreditRace) {
		return true
	}
	code, constraint := pgCode(err)
	return code == codeCheckViolation && constraint == constraintCreditBalance
}

// usesCredits reports whether a pricing outcome touches charge credits.
func usesCredits(o session.Outcome) bool {
	for _, r := range o.Prices {
		if r.Credits != nil {
			return true
		}
	}
	return false
}

// creditMove is a movement to apply.
type creditMove struct {
	credit    uuid.UUID
	kind      string
	amount    decimal.Decimal // signed change of the balance
	covered   decimal.Decimal
	component string
	priceID   uuid.UUID
	// session is the session the movement is recorded against; zero:
	// the session being priced.
	session uuid.UUID
}

// creditGiveBack is a session whose unreturned consumption a result gives
// back: the session being priced (repricing), or the session a credit CDR
// credits (session.CreditUse.GiveBack).
type creditGiveBack struct {
	session uuid.UUID
	priceID uuid.UUID
}

// commitCredits records, in the pricing transaction tx that just stored
// the session's results (priceIDs[i] is the id of prices[i]), the credit
// movements of the results that carry Credits: what the session consumed
// before and has not been given back is reversed (per credit and
// component), and so is what a credited session consumed when the result
// is a credit CDR's (CreditUse.GiveBack), then the new consumptions are
// applied. Movements are applied
// in credit order, reversals first, so that concurrent transactions lock
// credits in the same order (no deadlock) and a reversal never needs the
// balance a consumption takes. A balance that would go negative fails the
// transaction (IsCreditRace).
func commitCredits(ctx context.Context, tx pgx.Tx, rec ChargeSessionRecord, prices []session.PriceResult, priceIDs []uuid.UUID, now time.Time) error {
	var moves []creditMove
	priceID := uuid.Nil
	var giveBack []creditGiveBack
	for i, r := range prices {
		if r.Credits == nil {
			continue
		}
		priceID = priceIDs[i]
		if g := r.Credits.GiveBack; g != nil {
			giveBack = append(giveBack, creditGiveBack{session: *g, priceID: priceIDs[i]})
		}
		for _, m := range r.Credits.Movements {
			if !m.Amount.IsPositive() {
				continue
			}
			moves = append(moves, creditMove{credit: m.CreditID, kind: MovementConsumption, amount: m.Amount.Neg(), covered: m.Covered,
				component: m.Component, priceID: priceIDs[i]})
		}
	}
	if priceID == uuid.Nil {
		return nil
	}
	// What the session itself consumed before is reversed (repricing);
	// a credit CDR's result also gives back what the credited session
	// consumed, recorded against that session (so its consumption nets
	// to zero) and the credit's result (price_id).
	giveBack = append(giveBack, creditGiveBack{session: rec.ID, priceID: priceID})
	for _, g := range giveBack {
		sid := g.session
		net, err := Q(tx).SessionCreditNet(ctx, &sid)
		if err != nil {
			return err
		}
		for _, n := range net {
			moves = append(moves, creditMove{credit: n.CreditID, kind: MovementReversal, amount: n.Consumed, covered: n.Covered.Neg(),
				component: n.Component, priceID: g.priceID, session: g.session})
		}
	}
	sort.SliceStable(moves, func(i, j int) bool {
		if moves[i].credit != moves[j].credit {
			return moves[i].credit.String() < moves[j].credit.String()
		}
		return moves[i].kind == MovementReversal && moves[j].kind != MovementReversal
	})
	touched := map[uuid.UUID]bool{}
	var order []uuid.UUID
	for _, m := range moves {
		comp, cov, pid, sid := m.component, m.covered, m.priceID, rec.ID
		if m.session != uuid.Nil {
			sid = m.session
		}
		row, err := Q(tx).ApplyChargeCreditMovement(ctx, gen.ApplyChargeCreditMovementParams{ID: uuid.Must(uuid.NewV7()), Kind: m.kind, Amount: m.amount,
			ChargeSessionID: &sid, PriceID: &pid, Component: &comp, CoveredExclVat: &cov, CreatedAt: now, CreditID: m.credit})
		if err != nil {
			if IsCreditRace(err) {
				return errCreditRace
			}
			return err
		}
		admin := row.AdministrationID
		if err := AppendEvent(ctx, tx, event.New(ChargeCreditMovementEventKind, event.Create, &admin, ChargeCreditMovementViewOf(row))); err != nil {
			return err
		}
		if !touched[m.credit] {
			touched[m.credit] = true
			order = append(order, m.credit)
		}
	}
	return creditUpdated(ctx, tx, order)
}

// creditUpdated appends the update event of each credit whose balance
// changed, with its balance as the transaction leaves it.
func creditUpdated(ctx context.Context, q Querier, ids []uuid.UUID) error {
	for _, id := range ids {
		c, err := Q(q).GetChargeCredit(ctx, id)
		if err != nil {
			return err
		}
		admin := c.AdministrationID
		if err := AppendEvent(ctx, q, event.New(ChargeCreditEventKind, event.Update, &admin, ChargeCreditViewOf(c))); err != nil {
			return err
		}
	}
	return nil
}

// ExpireChargeCredits records the expiry of every credit whose validity
// ended by now and that still holds a balance: the balance goes to zero
// with an expiry movement and the events, up to batch credits per
// transaction, until none is left. It says how many credits expired. A
// session that started within a credit's validity and is repriced later
// still finds what it consumed before (its own consumption is given back
// and consumed again), but no longer what expired.
func ExpireChargeCredits(ctx context.Context, pool *pgxpool.Pool, now time.Time, batch int) (int, error) {
	now = now.UTC().Truncate(time.Microsecond)
	total := 0
	for {
		n := 0
		err := InTx(ctx, pool, func(tx pgx.Tx) error {
			n = 0
			cs, err := Q(tx).ExpiringChargeCredits(ctx, gen.ExpiringChargeCreditsParams{Now: &now, Lim: int32(batch)})
			if err != nil {
				return err
			}
			var ids []uuid.UUID
			for _, c := range cs {
				row, err := Q(tx).ApplyChargeCreditMovement(ctx, gen.ApplyChargeCreditMovementParams{ID: uuid.Must(uuid.NewV7()), Kind: MovementExpiry,
					Amount: c.Balance.Neg(), CreatedAt: now, CreditID: c.ID})
				if err != nil {
					return err
				}
				admin := row.AdministrationID
				if err := AppendEvent(ctx, tx, event.New(ChargeCreditMovementEventKind, event.Create, &admin, ChargeCreditMovementViewOf(row))); err != nil {
					return err
				}
				ids = append(ids, c.ID)
			}
			n = len(cs)
			return creditUpdated(ctx, tx, ids)
		})
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

// commitPricedWithCredits is CommitPriced's statement p and the credit
// movements of o's results in one transaction.
func commitPricedWithCredits(ctx context.Context, pool Conn, p gen.CommitChargeSessionPricedParams, rec ChargeSessionRecord,
	o session.Outcome, rows []priceRow, now time.Time) (int64, error) {
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	var n int64
	err := InTx(ctx, pool, func(tx pgx.Tx) error {
		var err error
		if n, err = Q(tx).CommitChargeSessionPriced(ctx, p); err != nil || n == 0 {
			return err
		}
		return commitCredits(ctx, tx, rec, o.Prices, ids, now)
	})
	return n, err
}
