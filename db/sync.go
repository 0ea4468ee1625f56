package db

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/network"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/roaming"
)

// SyncStore is the Postgres implementation of roaming.SyncStore: the state
// of each pull synchronisation (roaming_sync) and the partner locations and
// tariffs it stores.
type SyncStore struct {
	Pool *pgxpool.Pool
}

var _ roaming.SyncStore = SyncStore{}

// Connection implements roaming.SyncStore.
func (s SyncStore) Connection(ctx context.Context, id uuid.UUID) (partner.Connection, error) {
	return Connection(ctx, s.Pool, &id, "", false)
}

// OwnParties implements roaming.SyncStore.
func (s SyncStore) OwnParties(ctx context.Context) ([]partner.OwnParty, error) {
	return AllOwnParties(ctx, s.Pool)
}

// Parties implements roaming.SyncStore: the connection's CPO parties, the
// owners of locations and tariffs.
func (s SyncStore) Parties(ctx context.Context, connID uuid.UUID) ([]partner.PartyRef, error) {
	rows, err := Q(s.Pool).PartiesOfConnection(ctx, gen.PartiesOfConnectionParams{ConnectionID: &connID, Roles: []string{string(partner.RoleCPO)}})
	out := make([]partner.PartyRef, len(rows))
	for i, r := range rows {
		out[i] = partner.PartyRef{CountryCode: r.CountryCode, PartyID: r.PartyID}
	}
	return out, err
}

// Claim implements roaming.SyncStore.
func (s SyncStore) Claim(ctx context.Context, run roaming.SyncRun, staleBefore, now time.Time) (network.SyncState, bool, error) {
	q := Q(s.Pool)
	if err := q.EnsureSync(ctx, gen.EnsureSyncParams{ConnectionID: run.ConnectionID, Module: string(run.Module)}); err != nil {
		return network.SyncState{}, false, err
	}
	r, err := q.ClaimSync(ctx, gen.ClaimSyncParams{RunID: &run.RunID, Now: &now, ConnectionID: run.ConnectionID,
		Module: string(run.Module), StaleBefore: &staleBefore})
	if errors.Is(err, pgx.ErrNoRows) {
		return network.SyncState{}, false, nil
	}
	if err != nil {
		return network.SyncState{}, false, err
	}
	st := network.SyncState{NextURL: r.NextUrl, DateFrom: r.DateFrom, LastSuccessStartedAt: r.LastSuccessStartedAt, RequestedFull: r.RequestedFull}
	if r.Mode != nil {
		st.Mode = *r.Mode
	}
	return st, true, nil
}

// Start implements roaming.SyncStore.
func (s SyncStore) Start(ctx context.Context, run roaming.SyncRun, plan network.Plan, firstURL string, now time.Time) error {
	n, err := Q(s.Pool).StartSyncRun(ctx, gen.StartSyncRunParams{Mode: &plan.Mode, DateFrom: plan.DateFrom, NextUrl: &firstURL,
		Now: &now, ConnectionID: run.ConnectionID, Module: string(run.Module), RunID: &run.RunID})
	if err == nil && n == 0 {
		err = roaming.ErrSyncLost
	}
	return err
}

// SavePage implements roaming.SyncStore: the page's objects and the cursor
// in one transaction, so a crash between pages loses nothing and stores
// nothing twice.
func (s SyncStore) SavePage(ctx context.Context, run roaming.SyncRun, page roaming.SyncPage, next *string, now time.Time) (int, error) {
	var applied int
	err := InTx(ctx, s.Pool, func(tx pgx.Tx) error {
		var err error
		var objects int
		switch run.Module {
		case network.ModuleLocations:
			objects = len(page.Locations)
			applied, err = SavePartnerLocations(ctx, tx, &run.ConnectionID, page.Locations, now)
		case network.ModuleTariffs:
			objects = len(page.Tariffs)
			applied, err = SavePartnerTariffs(ctx, tx, &run.ConnectionID, page.Tariffs, now)
		}
		if err != nil {
			return err
		}
		var rej *string
		if page.LastRejection != "" {
			rej = &page.LastRejection
		}
		n, err := Q(tx).SaveSyncPage(ctx, gen.SaveSyncPageParams{NextUrl: next, Objects: int32(applied),
			Ignored: int32(page.Ignored + objects - applied), Rejected: int32(page.Rejected), LastRejection: rej, Now: &now,
			ConnectionID: run.ConnectionID, Module: string(run.Module), RunID: &run.RunID})
		if err == nil && n == 0 {
			err = roaming.ErrSyncLost
		}
		return err
	})
	return applied, err
}

// Finish implements roaming.SyncStore.
func (s SyncStore) Finish(ctx context.Context, run roaming.SyncRun, now time.Time) error {
	n, err := Q(s.Pool).FinishSync(ctx, gen.FinishSyncParams{Now: &now, ConnectionID: run.ConnectionID, Module: string(run.Module), RunID: &run.RunID})
	if err == nil && n == 0 {
		err = roaming.ErrSyncLost
	}
	return err
}

// Fail implements roaming.SyncStore.
func (s SyncStore) Fail(ctx context.Context, run roaming.SyncRun, reason string, now time.Time) error {
	_, err := Q(s.Pool).FailSync(ctx, gen.FailSyncParams{LastError: &reason, Now: &now, ConnectionID: run.ConnectionID,
		Module: string(run.Module), RunID: &run.RunID})
	return err
}

// SyncState is a sync as the Admin API shows it.
type SyncState = gen.RoamingSync

// Syncs returns the sync states of a connection (modules never synced are absent).
func Syncs(ctx context.Context, q Querier, connID uuid.UUID) ([]SyncState, error) {
	return Q(q).SyncsOf(ctx, connID)
}

// RequestSync records an on-demand sync of a module (full: ignore the
// cursor and date_from); the worker's sweep starts it.
func RequestSync(ctx context.Context, q Querier, connID uuid.UUID, module network.Module, full bool, now time.Time) (SyncState, error) {
	return Q(q).RequestSync(ctx, gen.RequestSyncParams{ConnectionID: connID, Module: string(module), Now: &now, WantFull: full})
}

// DueSync is a sync the sweep should start.
type DueSync struct {
	ConnectionID uuid.UUID
	Module       network.Module
}

// DueSyncs lists the syncs to start now: requested ones, dead runs
// (heartbeat before staleBefore), scheduled ones (last finished before
// dueBefore, or never run) and failed ones to retry (failed before
// retryBefore), for registered connections with a Sender.
func DueSyncs(ctx context.Context, q Querier, staleBefore, dueBefore, retryBefore time.Time) ([]DueSync, error) {
	rows, err := Q(q).DueSyncs(ctx, gen.DueSyncsParams{StaleBefore: &staleBefore, DueBefore: &dueBefore, RetryBefore: &retryBefore})
	out := make([]DueSync, len(rows))
	for i, r := range rows {
		out[i] = DueSync{ConnectionID: r.ConnectionID, Module: network.Module(r.Module)}
	}
	return out, err
}
