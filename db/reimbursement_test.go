package db_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/reimbursement"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/domain/vat"
)

// reimbursementDB is a database with an NL seller (VAT: standard 21 % on
// reimbursements), an administration in EUR, two site owners (one VAT
// exempt), one of our locations with two EVSEs (the second with
// reimbursement mandatory), and a CPO pipeline whose only pricer is the
// reimbursement pricer.
type reimbursementDB struct {
	t                   *testing.T
	d                   *dbtest.Database
	admin, loc          uuid.UUID
	owner, exemptOwner  uuid.UUID
	evse, mandatoryEVSE uuid.UUID
	pipeline            session.Pipeline
	now                 time.Time
}

func newReimbursementDB(t *testing.T) *reimbursementDB {
	t.Helper()
	ctx := context.Background()
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	r := &reimbursementDB{t: t, d: d, admin: uuid.Must(uuid.NewV7()), loc: uuid.Must(uuid.NewV7()), owner: uuid.Must(uuid.NewV7()),
		exemptOwner: uuid.Must(uuid.NewV7()), evse: uuid.Must(uuid.NewV7()), mandatoryEVSE: uuid.Must(uuid.NewV7()),
		now: time.Now().UTC().Truncate(time.Microsecond)}
	seller := uuid.Must(uuid.NewV7())
	for _, s := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO seller (id, name, country, created_at, updated_at) VALUES ($1, 'S', 'NL', now(), now())", []any{seller}},
		{"INSERT INTO administration (id, seller_id, name, currency, created_at, updated_at) VALUES ($1, $2, 'A', 'EUR', now(), now())", []any{r.admin, seller}},
		{"INSERT INTO party (id, role, administration_id, name, country, entity_type, reimbursement_vat, created_at, updated_at) VALUES ($1, 'customer', $2, 'Owner', 'NL', 'organisation', 'applies', now(), now())", []any{r.owner, r.admin}},
		{"INSERT INTO party (id, role, administration_id, name, country, entity_type, reimbursement_vat, created_at, updated_at) VALUES ($1, 'customer', $2, 'Exempt owner', 'NL', 'person', 'exempt', now(), now())", []any{r.exemptOwner, r.admin}},
		{`INSERT INTO cpo_location (id, location_id, location_key, country_code, party_id, doc, last_updated, created_at, updated_at)
			VALUES ($1, 'LOC1', 'LOC1', 'NL', 'RNC', '{}', now(), now(), now())`, []any{r.loc}},
		{`INSERT INTO cpo_evse (id, evse_uid, evse_key, location_uuid, location_id, status, status_updated_at, doc, last_updated, created_at, updated_at)
			VALUES ($1, 'E1', 'E1', $2, 'LOC1', 'AVAILABLE', now(), '{}', now(), now(), now())`, []any{r.evse, r.loc}},
		{`INSERT INTO cpo_evse (id, evse_uid, evse_key, location_uuid, location_id, status, status_updated_at, doc, reimbursement_mandatory, last_updated, created_at, updated_at)
			VALUES ($1, 'E2', 'E2', $2, 'LOC1', 'AVAILABLE', now(), '{}', true, now(), now(), now())`, []any{r.mandatoryEVSE, r.loc}},
	} {
		_, err := d.Pool.Exec(ctx, s.sql, s.args...)
		require.NoError(t, err, s.sql)
	}
	require.NoError(t, db.SaveSellerVATPolicy(ctx, d.Pool, db.SellerVATPolicy{SellerID: seller, Policy: vat.SellerPolicy{Fallback: vat.FallbackError},
		CreatedAt: &r.now, UpdatedAt: &r.now}))
	require.NoError(t, db.SaveVATRule(ctx, d.Pool, gen.VatRule{ID: uuid.Must(uuid.NewV7()), ProductCategory: string(vat.CategoryCPOReimbursement),
		Kind: "standard", CreatedAt: r.now, UpdatedAt: r.now}, true))
	require.NoError(t, db.SaveVATRate(ctx, d.Pool, gen.VatRate{ID: uuid.Must(uuid.NewV7()), Country: "NL", Kind: "standard",
		Percentage: decimal.NewFromInt(21), CreatedAt: r.now, UpdatedAt: r.now}, true))
	r.pipeline = session.Pipeline{Pricers: map[session.Side][]session.Pricer{
		session.CPO: {db.ReimbursementPricer{Pool: d.Pool, VAT: db.NewVATCache(time.Minute)}}}}
	return r
}

func (r *reimbursementDB) plan(calc reimbursement.Calculation, comps ...string) uuid.UUID {
	r.t.Helper()
	id := uuid.Must(uuid.NewV7())
	require.NoError(r.t, db.SaveReimbursementPlan(context.Background(), r.d.Pool, gen.CpoReimbursementPlan{ID: id, AdministrationID: r.admin,
		Name: "P", Calculation: string(calc), CostComponents: comps, CreatedAt: r.now, UpdatedAt: r.now}, true))
	return id
}

func (r *reimbursementDB) input(o db.ReimbursementInputOwner, c reimbursement.Component, from time.Time, v string) {
	r.t.Helper()
	_, err := db.SetReimbursementInput(context.Background(), r.d.Pool, o, reimbursement.Input{Component: c, ValidFrom: from,
		Value: decimal.RequireFromString(v)}, false, r.now)
	require.NoError(r.t, err)
}

// arrangement gives customer plan from from on, linked to evse from from on.
func (r *reimbursementDB) arrangement(customer, plan, evse uuid.UUID, from time.Time) uuid.UUID {
	r.t.Helper()
	ctx := context.Background()
	id := uuid.Must(uuid.NewV7())
	require.NoError(r.t, db.SaveReimbursementArrangement(ctx, r.d.Pool, gen.CpoReimbursementArrangement{ID: id, AdministrationID: r.admin,
		CustomerID: customer, PlanID: plan, ValidFrom: &from, CreatedAt: r.now, UpdatedAt: r.now}, true))
	require.NoError(r.t, db.SaveReimbursementLink(ctx, r.d.Pool, db.ReimbursementLink{ID: uuid.Must(uuid.NewV7()), ArrangementID: id,
		EvseID: evse, ValidFrom: &from, CreatedAt: r.now, UpdatedAt: r.now}, true))
	return id
}

// session stores a CPO session at evse starting at start, brought to
// ready_for_pricing with its match (the earlier steps have their own tests),
// and runs the pricing step through the pipeline and the store.
func (r *reimbursementDB) price(cdrID string, evse uuid.UUID, start time.Time, cms *decimal.Decimal) db.ChargeSessionRecord {
	r.t.Helper()
	ctx := context.Background()
	uid := map[uuid.UUID]string{r.evse: "E1", r.mandatoryEVSE: "E2"}[evse]
	rec, created, err := db.ReceiveChargeSession(ctx, r.d.Pool, db.Intake{Channel: db.ChannelOCPIPush, Payload: []byte(`{}`),
		Session: session.ChargeSession{Side: session.CPO, CountryCode: "NL", PartyID: "RNC", CdrID: cdrID, Start: start, End: start.Add(2 * time.Hour),
			Token:    session.Token{CountryCode: "DE", PartyID: "EMP", UID: "T1", Type: "RFID", ContractID: "DE-EMP-C00000001"},
			Location: session.Place{LocationID: "LOC1", EvseUID: uid, ConnectorID: "1", Country: "NLD"}, Currency: "EUR",
			TotalEnergy: decimal.RequireFromString("12.5"), TotalTime: decimal.NewFromInt(2)}})
	require.NoError(r.t, err)
	require.True(r.t, created)
	_, err = r.d.Pool.Exec(ctx, `UPDATE charge_session SET state = 'ready_for_pricing', match_location_id = $2, match_evse_id = $3,
		match_evse_uid = $4, match_connector_id = '1', cms_reimbursement_excl_vat = $5 WHERE id = $1`, rec.ID, r.loc, evse, uid, cms)
	require.NoError(r.t, err)
	rec, err = db.ChargeSession(ctx, r.d.Pool, rec.ID)
	require.NoError(r.t, err)
	o, err := r.pipeline.Step(ctx, rec.ChargeSession, time.Now())
	require.NoError(r.t, err)
	next, committed, err := db.CommitRecordStep(ctx, r.d.Pool, rec, o, time.Now())
	require.NoError(r.t, err)
	require.True(r.t, committed)
	return next
}

// TestReimbursementPricer: a priced CPO session gets one reimbursement
// result per arrangement valid at its start (calculated with the
// arrangement's input over the plan's, or CMS provided), with the
// customer's reimbursement VAT, an outbox event per result, and the read
// model shows them; a session at a reimbursement-mandatory EVSE without an
// arrangement drops out.
func TestReimbursementPricer(t *testing.T) {
	ctx := context.Background()
	r := newReimbursementDB(t)
	jan := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

	calc := r.plan(reimbursement.Calculated, "energy", "flat")
	r.input(db.ReimbursementInputOwner{PlanID: &calc}, reimbursement.Energy, jan, "0.10")
	r.input(db.ReimbursementInputOwner{PlanID: &calc}, reimbursement.Flat, jan, "1.00")
	cms := r.plan(reimbursement.CMSProvided)
	a1 := r.arrangement(r.owner, calc, r.evse, jan)
	r.input(db.ReimbursementInputOwner{ArrangementID: &a1}, reimbursement.Energy, jan, "0.20") // overrides the plan's
	a2 := r.arrangement(r.owner, cms, r.evse, jan)
	// Not valid at the session start: an arrangement starting later, and
	// an exempt owner's arrangement whose link starts later.
	r.arrangement(r.owner, calc, r.evse, start.Add(time.Minute))
	r.arrangement(r.exemptOwner, calc, r.evse, start.Add(time.Hour))

	amount := decimal.RequireFromString("3.30")
	rec := r.price("C-1", r.evse, start, &amount)
	require.Equal(t, session.Priced, rec.State)
	vs, err := db.ChargeSessionPrices(ctx, r.d.Pool, rec.ID)
	require.NoError(t, err)
	require.Len(t, vs, 2)
	byArr := map[uuid.UUID]db.PriceView{}
	for _, v := range vs {
		require.Equal(t, session.KindReimbursement, v.Kind)
		byArr[*v.SubjectID] = v
	}
	v1 := byArr[a1] // 12.5 kWh × 0.20 + 1.00 = 3.50; VAT 21 %: 0.525 → 0.53, 0.21
	require.Equal(t, "3.5", v1.ExclVAT.String())
	require.Equal(t, "0.74", v1.VAT.String())
	require.Equal(t, "4.24", v1.InclVAT.String())
	require.Equal(t, "EUR", v1.Currency)
	v2 := byArr[a2] // CMS provided 3.30; VAT 0.693 → 0.69
	require.Equal(t, "3.3", v2.ExclVAT.String())
	require.Equal(t, "0.69", v2.VAT.String())
	var d reimbursement.Detail
	require.NoError(t, json.Unmarshal(v1.Detail, &d))
	require.Equal(t, "arrangement", d.Inputs[0].Source)
	require.Equal(t, "NL", d.VAT.Country)

	var events int
	require.NoError(t, r.d.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox_event WHERE kind = 'cpo-charge-session-reimbursement'
		AND data->>'charge_session_id' = $1`, rec.ID.String()).Scan(&events))
	require.Equal(t, 2, events, "one event per result")

	// The read model: filters by arrangement, customer, EVSE and period.
	list := func(p gen.ListCPOChargeSessionReimbursementsParams) []db.CPOChargeSessionReimbursement {
		p.AllAdmins, p.AdminIds, p.PageLimit = true, []uuid.UUID{}, 100
		rows, err := db.ListCPOChargeSessionReimbursements(ctx, r.d.Pool, p)
		require.NoError(t, err)
		return rows
	}
	require.Len(t, list(gen.ListCPOChargeSessionReimbursementsParams{}), 2)
	rows := list(gen.ListCPOChargeSessionReimbursementsParams{ArrangementID: &a1})
	require.Len(t, rows, 1)
	require.Equal(t, r.owner, rows[0].CustomerID)
	require.Equal(t, "C-1", rows[0].CdrID)
	require.Len(t, list(gen.ListCPOChargeSessionReimbursementsParams{CustomerID: &r.exemptOwner}), 0)
	e1, e2 := "e1", "E2"
	require.Len(t, list(gen.ListCPOChargeSessionReimbursementsParams{EvseUid: &e1}), 2, "EVSE uids compare case-insensitively")
	require.Len(t, list(gen.ListCPOChargeSessionReimbursementsParams{EvseUid: &e2}), 0)
	after := start.Add(time.Second)
	require.Len(t, list(gen.ListCPOChargeSessionReimbursementsParams{StartGte: &start, StartLt: &after}), 2)
	require.Len(t, list(gen.ListCPOChargeSessionReimbursementsParams{StartGte: &after}), 0)
	one, err := db.CPOChargeSessionReimbursementByID(ctx, r.d.Pool, v1.ID)
	require.NoError(t, err)
	require.Equal(t, a1, *one.SubjectID)

	// Repricing appends a version per arrangement.
	_, requested, err := db.Reprice(ctx, r.d.Pool, rec.ID, "reimbursement plan corrected", time.Now())
	require.NoError(t, err)
	require.True(t, requested)
	rec, err = db.ChargeSession(ctx, r.d.Pool, rec.ID)
	require.NoError(t, err)
	o, err := r.pipeline.Step(ctx, rec.ChargeSession, time.Now())
	require.NoError(t, err)
	_, committed, err := db.CommitRecordStep(ctx, r.d.Pool, rec, o, time.Now())
	require.NoError(t, err)
	require.True(t, committed)
	require.Len(t, list(gen.ListCPOChargeSessionReimbursementsParams{ArrangementID: &a1}), 2)

	// No arrangement at a reimbursement-mandatory EVSE: drop-out.
	dropped := r.price("C-2", r.mandatoryEVSE, start, nil)
	require.Equal(t, session.DroppedOut, dropped.State)
	require.Equal(t, reimbursement.ReasonArrangementMissing, *dropped.DropoutReason)
	require.Equal(t, string(session.CheckPricingConfigured), *dropped.DropoutCheck)

	// A CMS-provided arrangement without a CMS amount: drop-out.
	missing := r.price("C-3", r.evse, start, nil)
	require.Equal(t, session.DroppedOut, missing.State)
	require.Equal(t, reimbursement.ReasonCMSMissing, *missing.DropoutReason)

	// An exempt owner's arrangement together with an applies one: drop-out
	// on VAT; the exempt owner's alone: exempt.
	later := start.Add(2 * time.Hour)
	conflict := r.price("C-4", r.evse, later, &amount)
	require.Equal(t, session.DroppedOut, conflict.State)
	require.Equal(t, reimbursement.ReasonVATConflict, *conflict.DropoutReason)
	a5 := r.arrangement(r.exemptOwner, calc, r.mandatoryEVSE, jan)
	ex := r.price("C-5", r.mandatoryEVSE, start, nil)
	require.Equal(t, session.Priced, ex.State)
	vs, err = db.ChargeSessionPrices(ctx, r.d.Pool, ex.ID)
	require.NoError(t, err)
	require.Len(t, vs, 1)
	require.Equal(t, a5, *vs[0].SubjectID)
	require.Equal(t, "2.25", vs[0].ExclVAT.String()) // the plan's 0.10/kWh: 1.25 + 1.00
	require.True(t, vs[0].VAT.IsZero())
}

// TestLocalEVSEForVAT: the MSP side finds our EVSE by CPO party and uid
// with its arrangements (validity = arrangement within link), and the
// guide's "use customer reimbursement VAT" rule decides on it.
func TestLocalEVSEForVAT(t *testing.T) {
	ctx := context.Background()
	r := newReimbursementDB(t)
	jan := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	none, err := db.LocalEVSEForVAT(ctx, r.d.Pool, "NL", "XXX", "E1")
	require.NoError(t, err)
	require.Nil(t, none, "another party's EVSE is not ours")

	e, err := db.LocalEVSEForVAT(ctx, r.d.Pool, "nl", "rnc", "e2")
	require.NoError(t, err)
	require.NotNil(t, e)
	require.True(t, e.ReimbursementMandatory)
	_, _, err = vat.SessionReimbursementVAT(*e, start)
	require.Error(t, err, "mandatory without an arrangement")

	plan := r.plan(reimbursement.CMSProvided)
	r.arrangement(r.exemptOwner, plan, r.mandatoryEVSE, jan)
	e, err = db.LocalEVSEForVAT(ctx, r.d.Pool, "NL", "RNC", "E2")
	require.NoError(t, err)
	require.Len(t, e.Arrangements, 1)
	exempt, _, err := vat.SessionReimbursementVAT(*e, start)
	require.NoError(t, err)
	require.True(t, exempt)
	exempt, _, err = vat.SessionReimbursementVAT(*e, jan.Add(-time.Hour))
	require.Error(t, err, "before the arrangement: none valid, and reimbursement is mandatory")
	require.False(t, exempt)
}
