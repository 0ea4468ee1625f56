package db

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/roaming"
)

// EnqueuePush records a change to push (see roaming.Change) for every
// registered connection whose partner listed a RECEIVER endpoint for the
// module (for a change addressed to a party, ch.ToCountry and ch.ToParty:
// only the connection that reaches it), in the caller's transaction q, so that the push exists exactly
// when the change does. It returns the groups to kick after the commit
// (worker.KickPush); a lost kick only delays the push until the sweeper.
//
// Groups are locked in connection id order (PushReceivers), so concurrent
// writers cannot deadlock on them.
func EnqueuePush(ctx context.Context, q Querier, ch roaming.Change) ([]roaming.PushRef, error) {
	if err := ch.Validate(); err != nil {
		return nil, err
	}
	g := Q(q)
	recv, err := pushReceivers(ctx, g, ch)
	if err != nil {
		return nil, err
	}
	var refs []roaming.PushRef
	for _, r := range recv {
		key := gen.EnsurePushGroupParams{ConnectionID: r, Module: ch.Module, Grp: ch.Group, FromCountry: ch.FromCountry, FromParty: ch.FromParty}
		if err := g.EnsurePushGroup(ctx, key); err != nil {
			return nil, err
		}
		row, err := g.LockPushGroup(ctx, gen.LockPushGroupParams{ConnectionID: r, Module: ch.Module, Grp: ch.Group})
		if err != nil {
			return nil, err
		}
		items, err := pushItems(row.Items)
		if err != nil {
			return nil, err
		}
		seq := row.Seq + 1
		items = roaming.Coalesce(items, pushItemOf(ch, seq))
		raw, _ := json.Marshal(items)
		err = g.SetPushItems(ctx, gen.SetPushItemsParams{ConnectionID: r, Module: ch.Module, Grp: ch.Group, Items: raw,
			Seq: seq, FromCountry: ch.FromCountry, FromParty: ch.FromParty})
		if err != nil {
			return nil, err
		}
		refs = append(refs, roaming.PushRef{ConnectionID: r, Module: ch.Module, Group: ch.Group, Seq: seq, Attempts: row.Attempts})
	}
	return refs, nil
}

// EnqueuePushes is EnqueuePush for many changes of one module that go to
// every receiver (no ToCountry; bulk token pushes after a rule change):
// the receivers are read once, and per receiver the groups are created,
// locked and updated with one statement each instead of three per change.
// A change addressed to a party, or of another module than the first, is
// enqueued one by one. Groups are locked per connection in connection id
// order and, within one, in grp order (LockPushGroups); EnqueuePush locks
// one group per connection in the same connection order, so the two cannot
// deadlock.
func EnqueuePushes(ctx context.Context, q Querier, chs []roaming.Change) ([]roaming.PushRef, error) {
	for _, ch := range chs {
		if err := ch.Validate(); err != nil {
			return nil, err
		}
	}
	var bulk []roaming.Change
	var refs []roaming.PushRef
	for _, ch := range chs {
		if ch.ToCountry != "" || ch.Module != chs[0].Module {
			r, err := EnqueuePush(ctx, q, ch)
			if err != nil {
				return nil, err
			}
			refs = append(refs, r...)
			continue
		}
		bulk = append(bulk, ch)
	}
	if len(bulk) == 0 {
		return refs, nil
	}
	g := Q(q)
	recv, err := pushReceivers(ctx, g, bulk[0])
	if err != nil {
		return nil, err
	}
	// One item per group: later changes of the same group coalesce with it.
	byGroup := map[string][]roaming.Change{}
	var grps, countries, parties []string
	for _, ch := range bulk {
		if _, ok := byGroup[ch.Group]; !ok {
			grps, countries, parties = append(grps, ch.Group), append(countries, ch.FromCountry), append(parties, ch.FromParty)
		}
		byGroup[ch.Group] = append(byGroup[ch.Group], ch)
	}
	module := bulk[0].Module
	for _, r := range recv {
		if err := g.EnsurePushGroups(ctx, gen.EnsurePushGroupsParams{ConnectionID: r, Module: module, Grps: grps,
			FromCountries: countries, FromParties: parties}); err != nil {
			return nil, err
		}
		rows, err := g.LockPushGroups(ctx, gen.LockPushGroupsParams{ConnectionID: r, Module: module, Grps: grps})
		if err != nil {
			return nil, err
		}
		set := gen.SetPushItemsManyParams{ConnectionID: r, Module: module}
		for _, row := range rows {
			items, err := pushItems(row.Items)
			if err != nil {
				return nil, err
			}
			seq := row.Seq
			last := roaming.Change{FromCountry: row.FromCountry, FromParty: row.FromParty}
			for _, ch := range byGroup[row.Grp] {
				seq++
				items = roaming.Coalesce(items, pushItemOf(ch, seq))
				last = ch
			}
			raw, _ := json.Marshal(items)
			set.Grps, set.Items, set.Seqs = append(set.Grps, row.Grp), append(set.Items, string(raw)), append(set.Seqs, seq)
			set.FromCountries, set.FromParties = append(set.FromCountries, last.FromCountry), append(set.FromParties, last.FromParty)
			refs = append(refs, roaming.PushRef{ConnectionID: r, Module: module, Group: row.Grp, Seq: seq, Attempts: row.Attempts})
		}
		if err := g.SetPushItemsMany(ctx, set); err != nil {
			return nil, err
		}
	}
	return refs, nil
}

// pushItemOf is the queued item of change ch under sequence number seq.
func pushItemOf(ch roaming.Change, seq int64) roaming.PushItem {
	fields := slices.Clone(ch.Fields)
	slices.Sort(fields)
	return roaming.PushItem{Object: ch.Object, Method: ch.Method, Fields: fields, V: seq, ToCountry: ch.ToCountry, ToParty: ch.ToParty}
}

// pushReceivers are the connections a change goes to: every registered
// connection with a receiver of the module, or, for a change addressed to
// a party (ch.ToCountry), the one connection that reaches that party.
func pushReceivers(ctx context.Context, g *gen.Queries, ch roaming.Change) ([]uuid.UUID, error) {
	if ch.ToCountry != "" {
		rows, err := g.PushReceiverOfParty(ctx, gen.PushReceiverOfPartyParams{Module: ch.Module,
			CountryCode: strings.ToUpper(ch.ToCountry), PartyID: strings.ToUpper(ch.ToParty)})
		return mapAll(rows, func(r gen.PushReceiverOfPartyRow) uuid.UUID { return r.ID }), err
	}
	rows, err := g.PushReceivers(ctx, ch.Module)
	return mapAll(rows, func(r gen.PushReceiversRow) uuid.UUID { return r.ID }), err
}

func pushItems(raw []byte) ([]roaming.PushItem, error) {
	var items []roaming.PushItem
	if len(raw) == 0 {
		return nil, nil
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	return items, nil
}

func pushGroupOf(r gen.OcpiPush) (roaming.PushGroup, error) {
	items, err := pushItems(r.Items)
	return roaming.PushGroup{
		PushRef:     roaming.PushRef{ConnectionID: r.ConnectionID, Module: r.Module, Group: r.Grp, Seq: r.Seq, Attempts: r.Attempts},
		FromCountry: r.FromCountry, FromParty: r.FromParty, Items: items,
	}, err
}

// DuePushGroups lists up to limit groups with due work that nobody holds
// (the sweeper re-enqueues them).
func DuePushGroups(ctx context.Context, q Querier, limit int32) ([]roaming.PushRef, error) {
	rows, err := Q(q).DuePushGroups(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]roaming.PushRef, len(rows))
	for i, r := range rows {
		out[i] = roaming.PushRef{ConnectionID: r.ConnectionID, Module: r.Module, Group: r.Grp}
	}
	return out, nil
}

// PendingPushes lists up to limit groups with items still to send, oldest
// due first (for operators and tests).
func PendingPushes(ctx context.Context, q Querier, limit int32) ([]roaming.PushGroup, error) {
	return convert(pushGroupOf)(Q(q).ListPushGroups(ctx, limit))
}

// PushStore is the Postgres implementation of roaming.PushStore.
type PushStore struct{ Pool *pgxpool.Pool }

var _ roaming.PushStore = PushStore{}

// Claim implements roaming.PushStore.
func (s PushStore) Claim(ctx context.Context, ref roaming.PushRef, leaseUntil time.Time) (roaming.PushGroup, bool, error) {
	row, err := Q(s.Pool).ClaimPushGroup(ctx, gen.ClaimPushGroupParams{ConnectionID: ref.ConnectionID, Module: ref.Module,
		Grp: ref.Group, LeaseUntil: leaseUntil})
	if errors.Is(err, pgx.ErrNoRows) {
		return roaming.PushGroup{}, false, nil
	}
	if err != nil {
		return roaming.PushGroup{}, false, err
	}
	g, err := pushGroupOf(row)
	return g, err == nil, err
}

// locked runs fn on the group's row, locked, in one transaction.
func (s PushStore) locked(ctx context.Context, ref roaming.PushRef, fn func(q *gen.Queries, g roaming.PushGroup) error) error {
	return InTx(ctx, s.Pool, func(tx pgx.Tx) error {
		q := Q(tx)
		row, err := q.LockPushGroup(ctx, gen.LockPushGroupParams{ConnectionID: ref.ConnectionID, Module: ref.Module, Grp: ref.Group})
		if err != nil {
			return err
		}
		g, err := pushGroupOf(row)
		if err != nil {
			return err
		}
		return fn(q, g)
	})
}

// Complete implements roaming.PushStore.
func (s PushStore) Complete(ctx context.Context, ref roaming.PushRef, sent roaming.PushItem, leaseUntil time.Time) (roaming.PushGroup, error) {
	var out roaming.PushGroup
	err := s.locked(ctx, ref, func(q *gen.Queries, g roaming.PushGroup) error {
		g.Items = roaming.Completed(g.Items, sent)
		raw, _ := json.Marshal(g.Items)
		g.Attempts = 0
		out = g
		return q.CompletePushItem(ctx, gen.CompletePushItemParams{ConnectionID: ref.ConnectionID, Module: ref.Module,
			Grp: ref.Group, Items: raw, LeaseUntil: &leaseUntil})
	})
	return out, err
}

// Release implements roaming.PushStore.
func (s PushStore) Release(ctx context.Context, ref roaming.PushRef, seq int64, leaseUntil time.Time) (roaming.PushGroup, bool, error) {
	var (
		out      roaming.PushGroup
		released bool
	)
	err := s.locked(ctx, ref, func(q *gen.Queries, g roaming.PushGroup) error {
		if g.Seq == seq {
			released = true
			return q.ReleasePushGroup(ctx, gen.ReleasePushGroupParams{ConnectionID: ref.ConnectionID, Module: ref.Module, Grp: ref.Group})
		}
		out = g
		return q.ExtendPushLease(ctx, gen.ExtendPushLeaseParams{ConnectionID: ref.ConnectionID, Module: ref.Module, Grp: ref.Group, LeaseUntil: &leaseUntil})
	})
	return out, released, err
}

// Fail implements roaming.PushStore.
func (s PushStore) Fail(ctx context.Context, ref roaming.PushRef, retryAt time.Time, msg string) error {
	return Q(s.Pool).FailPushGroup(ctx, gen.FailPushGroupParams{ConnectionID: ref.ConnectionID, Module: ref.Module,
		Grp: ref.Group, NextAttemptAt: retryAt, LastError: &msg})
}

// Drop implements roaming.PushStore.
func (s PushStore) Drop(ctx context.Context, ref roaming.PushRef) error {
	msg := "dropped: the connection is no longer registered or has no " + ref.Module + " receiver"
	return Q(s.Pool).DropPushItems(ctx, gen.DropPushItemsParams{ConnectionID: ref.ConnectionID, Module: ref.Module,
		Grp: ref.Group, LastError: &msg})
}

// Receiver implements roaming.PushStore.
func (s PushStore) Receiver(ctx context.Context, connID uuid.UUID, module string) (roaming.Target, string, bool, error) {
	c, err := Connection(ctx, s.Pool, &connID, "", false)
	if err != nil {
		return roaming.Target{}, "", false, err
	}
	url, ok := c.Endpoint(module, "RECEIVER")
	if c.Status != partner.StatusRegistered || c.TheirToken == nil || !ok {
		return roaming.Target{}, "", false, nil
	}
	cc, pid := roaming.ReceiverParty(c.TheirRoles, module)
	id := c.ID
	return roaming.Target{ConnectionID: &id, Token: *c.TheirToken, Base64Token: c.TokenBase64,
		ToCountry: cc, ToParty: pid, CountryCode: cc, PartyID: pid}, url, true, nil
}
