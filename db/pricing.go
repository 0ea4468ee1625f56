package db

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/session"
)

// PriceEventKind is the outbox kind of the results of a price kind: one
// event (modification create) per stored version, its data the PriceView.
// msp-charge-session-priced is what our customer pays;
// cpo-charge-session-roaming-cost what we charge the eMSP;
// cpo-charge-session-reimbursement what we owe a site owner.
func PriceEventKind(k session.PriceKind) string {
	switch k {
	case session.KindMSP:
		return "msp-charge-session-priced"
	case session.KindRoamingCost:
		return "cpo-charge-session-roaming-cost"
	case session.KindReimbursement:
		return "cpo-charge-session-reimbursement"
	}
	return "msp-charge-session-priced" // unreachable: Pipeline.Price refuses unknown kinds
}

// PriceView is a stored pricing result as the Admin API returns it and as
// its outbox event carries it. Decimals are strings.
type PriceView struct {
	ID               uuid.UUID         `json:"id"`
	ChargeSessionID  uuid.UUID         `json:"charge_session_id"`
	Kind             session.PriceKind `json:"kind"`
	SubjectID        *uuid.UUID        `json:"subject_id"`
	Version          int               `json:"version"`
	Reason           string            `json:"reason"`
	AdministrationID *uuid.UUID        `json:"administration_id"`
	Currency         string            `json:"currency"`
	ExclVAT          decimal.Decimal   `json:"excl_vat"`
	VAT              decimal.Decimal   `json:"vat"`
	InclVAT          decimal.Decimal   `json:"incl_vat"`
	Components       []ComponentView   `json:"components"`
	Detail           json.RawMessage   `json:"detail"`
	// CreditOf links a credit CDR's result to the result it reverses (the
	// credited session's latest, mod_cdrs → Credit CDRs); null otherwise.
	CreditOf  *session.CreditRef `json:"credit_of"`
	CreatedAt time.Time          `json:"created_at"`
}

// ComponentView is a subtotal of a result (session.PriceComponent), the
// form it is stored in (charge_session_price.components) and shown.
type ComponentView struct {
	Component string          `json:"component"`
	Volume    decimal.Decimal `json:"volume"`
	Unit      string          `json:"unit"`
	ExclVAT   decimal.Decimal `json:"excl_vat"`
	VATRate   decimal.Decimal `json:"vat_rate"`
	VAT       decimal.Decimal `json:"vat"`
	InclVAT   decimal.Decimal `json:"incl_vat"`
}

func componentViews(cs []session.PriceComponent) []ComponentView {
	out := make([]ComponentView, len(cs))
	for i, c := range cs {
		out[i] = ComponentView{Component: c.Component, Volume: c.Volume, Unit: c.Unit, ExclVAT: c.ExclVAT, VATRate: c.VATRate, VAT: c.VAT, InclVAT: c.InclVAT}
	}
	return out
}

// DomainComponents returns the view's components as domain values (what
// credits and corrections work on).
func (v PriceView) DomainComponents() []session.PriceComponent {
	out := make([]session.PriceComponent, len(v.Components))
	for i, c := range v.Components {
		out[i] = session.PriceComponent{Component: c.Component, Volume: c.Volume, Unit: c.Unit, ExclVAT: c.ExclVAT, VATRate: c.VATRate, VAT: c.VAT, InclVAT: c.InclVAT}
	}
	return out
}

// priceRow is one element of CommitChargeSessionPriced's @prices.
type priceRow struct {
	ID         uuid.UUID          `json:"id"`
	Kind       string             `json:"kind"`
	SubjectID  *uuid.UUID         `json:"subject_id"`
	Currency   string             `json:"currency"`
	ExclVAT    decimal.Decimal    `json:"excl_vat"`
	VAT        decimal.Decimal    `json:"vat"`
	InclVAT    decimal.Decimal    `json:"incl_vat"`
	Components json.RawMessage    `json:"components"`
	Detail     json.RawMessage    `json:"detail"`
	EventID    uuid.UUID          `json:"event_id"`
	EventKind  string             `json:"event_kind"`
	EventData  json.RawMessage    `json:"event_data"`
	CreditOf   *session.CreditRef `json:"credit_of"`
	// EventAdministrationID: the result's event's administration when not
	// the session's (session.PriceResult.AdministrationID).
	EventAdministrationID *uuid.UUID `json:"event_administration_id,omitempty"`
}

// CommitPriced commits a pricing step computed from rec (o.State Priced):
// the session moves to priced and every result is stored as the next
// version of its (kind, subject), with the session's outbox event and one
// event per result, in one statement. The version's reason is the pending
// reprice request's, else "initial" for version 1 and "repriced" after.
// Like CommitRecordStep it applies only if the session is still in the
// state and attempt count rec has; committed says whether this call did.
func CommitPriced(ctx context.Context, pool Conn, rec ChargeSessionRecord, o session.Outcome, now time.Time) (ChargeSessionRecord, bool, error) {
	now = now.UTC().Truncate(time.Microsecond)
	next := rec
	next.State, next.UpdatedAt, next.Attempts, next.NextAttemptAt = session.Priced, now, o.Attempts, nil
	if o.AdministrationID != nil {
		next.AdministrationID = o.AdministrationID
	}
	if o.Match != nil {
		m := *o.Match
		next.Match = &m
	}
	rows := make([]priceRow, len(o.Prices))
	for i, r := range o.Prices {
		id := uuid.Must(uuid.NewV7())
		comps, err := json.Marshal(componentViews(r.Components))
		if err != nil {
			return rec, false, err
		}
		detail := r.Detail
		if len(detail) == 0 {
			detail = json.RawMessage(`{}`)
		}
		// The event's data is the result's view; its components and detail
		// (the bulk: ~2.7 kB for an MSP result) are sent once, in the row,
		// and the statement puts them into the event: encoding/json
		// compacts a RawMessage each time it is marshalled, and the detail
		// was compacted three times per result (docs/performance.md,
		// "Pipeline with pricing", round 5).
		admin := next.AdministrationID
		if r.AdministrationID != nil {
			admin = r.AdministrationID // a reimbursement's arrangement's
		}
		v := PriceView{ID: id, ChargeSessionID: rec.ID, Kind: r.Kind, SubjectID: r.SubjectID, AdministrationID: admin,
			Currency: r.Currency, ExclVAT: r.ExclVAT, VAT: r.VAT, InclVAT: r.InclVAT, CreditOf: r.CreditOf, CreatedAt: now}
		data, err := json.Marshal(v)
		if err != nil {
			return rec, false, err
		}
		pev := event.New(PriceEventKind(r.Kind), event.Create, admin, nil) // data: v with the version and reason the statement assigns
		rows[i] = priceRow{ID: id, Kind: string(r.Kind), SubjectID: r.SubjectID, Currency: r.Currency, ExclVAT: r.ExclVAT, VAT: r.VAT,
			InclVAT: r.InclVAT, Components: comps, Detail: detail, EventID: pev.ID, EventKind: pev.Kind, EventData: data, CreditOf: r.CreditOf,
			EventAdministrationID: r.AdministrationID}
	}
	prices, err := json.Marshal(rows)
	if err != nil {
		return rec, false, err
	}
	ev := event.New(EventKind(rec.Side), event.Update, next.AdministrationID, ChargeSessionViewOf(next))
	data, err := json.Marshal(ev.Data)
	if err != nil {
		return rec, false, err
	}
	sp := stepParams(rec.ChargeSession, o, now)
	p := gen.CommitChargeSessionPricedParams{ID: rec.ID, UpdatedAt: now, Attempts: int32(o.Attempts),
		AdministrationID: o.AdministrationID, FromState: string(rec.State), FromAttempts: int32(rec.Attempts), Prices: prices,
		EventID: ev.ID, EventKind: ev.Kind, EventData: data, MatchLocationID: sp.MatchLocationID, MatchEvseID: sp.MatchEvseID,
		MatchEvseUid: sp.MatchEvseUid, MatchConnectorID: sp.MatchConnectorID, MatchMaxPowerKw: sp.MatchMaxPowerKw,
		MatchDropoutAll: sp.MatchDropoutAll, MatchTimeZone: sp.MatchTimeZone}
	var n int64
	if usesCredits(o) {
		// Charge credits are consumed in the same transaction (credit.go);
		// a lost race for a balance commits nothing: the step is looked up
		// and priced again against the balance the winner left.
		if n, err = commitPricedWithCredits(ctx, pool, p, rec, o, rows, now); IsCreditRace(err) {
			return rec, false, nil
		}
	} else if publishesCDR(rec.ChargeSession, o) {
		// A CPO session's roaming cost publishes its CDR in the same
		// transaction (cpo_session_cdr.go).
		err = InTx(ctx, pool, func(tx pgx.Tx) error {
			var err error
			if n, err = Q(tx).CommitChargeSessionPriced(ctx, p); err != nil || n == 0 {
				return err
			}
			return publishPriced(ctx, tx, next.ChargeSession, o, now)
		})
	} else {
		n, err = Q(pool).CommitChargeSessionPriced(ctx, p)
	}
	if err != nil || n == 0 {
		return rec, false, Translate(err)
	}
	return next, true, nil
}

// RequestReprice sends a priced session back to pricing with the reason
// its next versions will carry ("correction of subscription …", an
// operator's note), with the session's outbox event, in q's transaction
// (a correction reprices the sessions it affects in its own transaction).
// The worker prices it again through the same pricers (its lanes claim
// it: ready_for_pricing is due on a side with pricers) and appends
// version n+1 of each result;
// older versions are kept. A session that is not priced yet is left
// alone (requested false): it will be priced from the data of its time.
func RequestReprice(ctx context.Context, q Querier, id uuid.UUID, reason string, now time.Time) (rec ChargeSessionRecord, requested bool, err error) {
	now = now.UTC().Truncate(time.Microsecond)
	r, err := Q(q).RequestReprice(ctx, gen.RequestRepriceParams{ID: id, Reason: &reason, UpdatedAt: now})
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			rec, err := ChargeSession(ctx, q, id)
			return rec, false, err
		}
		return rec, false, err
	}
	rec = recordOf(r)
	return rec, true, AppendEvent(ctx, q, event.New(EventKind(rec.Side), event.Update, rec.AdministrationID, ChargeSessionViewOf(rec)))
}

// Reprice is RequestReprice in a transaction of its own: the session is
// back in ready_for_pricing with reason when requested is true, and the
// pipeline (worker.SessionProcessor.Reprice, or the worker's lanes)
// appends the next versions.
func Reprice(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID, reason string, now time.Time) (rec ChargeSessionRecord, requested bool, err error) {
	err = InTx(ctx, pool, func(tx pgx.Tx) error {
		rec, requested, err = RequestReprice(ctx, tx, id, reason, now)
		return err
	})
	return rec, requested, err
}

// PriceViewOf renders a stored result (its components and credit_of
// decoded); the error is a stored JSON value that does not decode.
func PriceViewOf(r gen.ChargeSessionPrice) (PriceView, error) {
	v := PriceView{ID: r.ID, ChargeSessionID: r.ChargeSessionID, Kind: session.PriceKind(r.Kind), SubjectID: r.SubjectID,
		Version: int(r.Version), Reason: r.Reason, AdministrationID: r.AdministrationID, Currency: r.Currency, ExclVAT: r.ExclVat,
		VAT: r.Vat, InclVAT: r.InclVat, Detail: json.RawMessage(r.Detail), CreatedAt: r.CreatedAt.UTC()}
	if err := json.Unmarshal(r.Components, &v.Components); err != nil {
		return v, err
	}
	if len(r.CreditOf) > 0 {
		v.CreditOf = &session.CreditRef{}
		if err := json.Unmarshal(r.CreditOf, v.CreditOf); err != nil {
			return v, err
		}
	}
	return v, nil
}

// ChargeSessionPrices returns every stored version of a session's results
// in (kind, subject, version) order.
func ChargeSessionPrices(ctx context.Context, q Querier, sessionID uuid.UUID) ([]PriceView, error) {
	rows, err := Q(q).ChargeSessionPrices(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	return pricesOf(rows)
}

// LatestChargeSessionPrices returns the latest version of each (kind,
// subject) of the given sessions, by session.
func LatestChargeSessionPrices(ctx context.Context, q Querier, ids []uuid.UUID) (map[uuid.UUID][]PriceView, error) {
	rows, err := Q(q).LatestChargeSessionPrices(ctx, ids)
	if err != nil {
		return nil, err
	}
	vs, err := pricesOf(rows)
	out := make(map[uuid.UUID][]PriceView, len(ids))
	for _, v := range vs {
		out[v.ChargeSessionID] = append(out[v.ChargeSessionID], v)
	}
	return out, err
}

func pricesOf(rows []gen.ChargeSessionPrice) ([]PriceView, error) {
	out := make([]PriceView, 0, len(rows))
	for _, r := range rows {
		v, err := PriceViewOf(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// PricesOfSessions returns every version of kind's results of the given
// sessions, by session, in (subject, version) order.
func PricesOfSessions(ctx context.Context, q Querier, kind session.PriceKind, ids []uuid.UUID) (map[uuid.UUID][]PriceView, error) {
	rows, err := Q(q).PricesOfSessions(ctx, gen.PricesOfSessionsParams{Ids: ids, Kind: string(kind)})
	if err != nil {
		return nil, err
	}
	vs, err := pricesOf(rows)
	out := make(map[uuid.UUID][]PriceView, len(ids))
	for _, v := range vs {
		out[v.ChargeSessionID] = append(out[v.ChargeSessionID], v)
	}
	return out, err
}

// MSPPricedParams are the filters of the msp-charge-session-priced list.
type MSPPricedParams = gen.ListMSPPricedSessionsParams

// ListMSPPricedSessions returns a page of MSP sessions that have a pricing
// result.
func ListMSPPricedSessions(ctx context.Context, q Querier, p MSPPricedParams) ([]ChargeSessionRecord, error) {
	if p.AdminIds == nil {
		p.AdminIds = []uuid.UUID{}
	}
	rows, err := Q(q).ListMSPPricedSessions(ctx, p)
	return mapAll(rows, recordOf), err
}
