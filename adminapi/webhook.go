package adminapi

import (
	"context"

	"net"
	"net/netip"
	"net/url"
	"reflect"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/webhook"
)

// Webhook subscriptions (issue 7; 003 → Webhooks). A subscription belongs
// to the API account that created it and receives the events of the
// administrations and permission families that account may read. Pausing
// and resuming are merge-updates of "state"; skip, replay and secret
// rotation are actions; the delivery log is read-only. Delivery is the
// worker's (worker/webhook.go).

type webhookInput struct {
	ExternalReference *string           `json:"external_reference"`
	Name              *string           `json:"name"`
	URL               string            `json:"url"`
	Kinds             []string          `json:"kinds"`
	Headers           map[string]string `json:"headers"`
	BatchSize         *int              `json:"batch_size"`
	BatchLingerMs     *int              `json:"batch_linger_ms"`
	State             *string           `json:"state"`
	ExternalUpdatedAt *time.Time        `json:"external_updated_at"`
}

// newSubscription carries a freshly generated secret to the create response.
type newSubscription struct {
	webhook.Subscription
	secret string
}

const webhookDefaultOverlap = 24 * time.Hour

func (a *API) webhookResource() *resource[newSubscription, webhook.View, webhookInput] {
	return &resource[newSubscription, webhook.View, webhookInput]{
		name: "webhook-subscription", table: "webhook_subscription", family: "webhook",
		filters:   []string{"state", "external_reference"},
		implicit:  []string{"external_reference"},
		immutable: []string{"owner_account_id"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (newSubscription, error) {
			s, err := db.WebhookSubscription(ctx, q, k.ID, k.Ref, lock)
			return newSubscription{Subscription: s}, err
		},
		list: func(ctx context.Context, q db.Querier, la listArgs) ([]newSubscription, error) {
			state, err := filterChecked(la.Filters, "state", func(v string) bool {
				return v == string(webhook.Active) || v == string(webhook.Paused) || v == string(webhook.Failing)
			}, "active, paused or failing")
			if err != nil {
				return nil, err
			}
			subs, err := db.ListWebhookSubscriptions(ctx, q, gen.ListWebhookSubscriptionsParams{After: seek(la.After), State: state,
				ExternalReference: filterString(la.Filters, "external_reference"), AllAdmins: la.Account.AllAdministrations,
				AdminIds: nonNil(la.Account.AdministrationIDs), PageLimit: la.Limit})
			out := make([]newSubscription, len(subs))
			for i, s := range subs {
				out[i] = newSubscription{Subscription: s}
			}
			return out, err
		},
		view:  func(s newSubscription) webhook.View { return webhook.ViewOf(s.Subscription) },
		build: a.buildWebhook,
		save: func(ctx context.Context, q db.Querier, s newSubscription, isNew bool) error {
			return db.SaveWebhookSubscription(ctx, q, s.Subscription, isNew)
		},
		meta: func(s *newSubscription) meta {
			return meta{&s.ID, &s.ExternalReference, &s.ExternalUpdatedAt, &s.CreatedAt, &s.UpdatedAt}
		},
		scope: func(newSubscription) *uuid.UUID { return nil },
		created: func(s newSubscription, v webhook.View) any {
			return struct {
				webhook.View
				Secret string `json:"secret"`
			}{v, s.secret}
		},
	}
}

// buildWebhook applies input onto a subscription (nil on create).
func (a *API) buildWebhook(w writeCtx, in webhookInput, cur *newSubscription) (newSubscription, error) {
	var s newSubscription
	if cur != nil {
		s = *cur
		if err := webhookOwnerCovered(w.Ctx, w.Tx, w.Account, s.Subscription); err != nil {
			return s, err
		}
	} else {
		// A new subscription receives what is committed from now on.
		seq, err := db.Q(w.Tx).MaxOutboxSeq(w.Ctx)
		if err != nil {
			return s, err
		}
		s.secret = access.NewSecret()
		s.Secret, s.OwnerAccountID, s.State, s.Cursor, s.BatchSize = s.secret, w.Account.ID, webhook.Active, seq, 1
	}
	urlChanged := cur == nil || in.URL != cur.URL
	s.ExternalReference, s.Name, s.URL, s.Kinds = in.ExternalReference, in.Name, in.URL, nonNilStrings(in.Kinds)
	if cur == nil || w.Body.has("headers") {
		// Values given back as GET shows them (masked) keep the stored value.
		h := map[string]string{}
		for k, v := range in.Headers {
			if old, ok := s.Headers[k]; ok && cur != nil && v == webhook.Mask(old) {
				v = old
			}
			h[k] = v
		}
		s.Headers = h
	}
	if in.BatchSize != nil {
		s.BatchSize = *in.BatchSize
	}
	if in.BatchLingerMs != nil {
		s.BatchLingerMs = *in.BatchLingerMs
	}
	if in.State != nil && *in.State != string(s.State) {
		switch webhook.State(*in.State) {
		case webhook.Active: // resume: retry the head message now
			s.State, s.Attempts, s.FailingSince, s.NextAttemptAt = webhook.Active, 0, nil, nil
		case webhook.Paused:
			s.State = webhook.Paused
		default:
			return s, badRequest("invalid", "invalid input", field("state", "must be active or paused (failing is set by the node)"))
		}
	}
	if err := s.Validate(); err != nil {
		return s, err
	}
	if urlChanged && !a.opts.WebhookAllowPrivate {
		if msg := publicTarget(w.Ctx, s.URL); msg != "" {
			return s, badRequest("invalid", "invalid input", field("url", msg))
		}
	}
	return s, nil
}

// webhookOwnerCovered refuses changes by an account holding less than the
// subscription's owner: otherwise it could point the owner's events (which
// it may not see) at itself.
func webhookOwnerCovered(ctx context.Context, q db.Querier, acct access.Account, s webhook.Subscription) error {
	owner, err := db.APIAccount(ctx, q, &s.OwnerAccountID, "", false)
	if err != nil {
		return err
	}
	if !acct.Covers(owner) {
		return forbidden("the API account cannot change a webhook subscription whose owner holds permissions or administrations it does not")
	}
	return nil
}

// publicTarget resolves the URL's host and says why it is refused ("" when
// every address is public). The worker checks again at connect time.
func publicTarget(ctx context.Context, raw string) string {
	u, _ := url.Parse(raw) // CheckURL passed
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		c, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		addrs, err = net.DefaultResolver.LookupNetIP(c, "ip", host)
		if err != nil || len(addrs) == 0 {
			return "the host name does not resolve"
		}
	}
	for _, a := range addrs {
		if !webhook.PublicAddr(a) {
			return "resolves to a loopback, link-local or private address (" + a.String() + "); an operator can allow these with ROAMNODE_WEBHOOK_ALLOW_PRIVATE"
		}
	}
	return ""
}

func nonNilStrings(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// webhookVisible refuses a subscription whose owner holds an
// administration the account does not see (webhook.OwnerVisible).
func webhookVisible(ctx context.Context, q db.Querier, acct access.Account, s webhook.Subscription) error {
	owner, err := db.APIAccount(ctx, q, &s.OwnerAccountID, "", false)
	if err != nil {
		return err
	}
	if !webhook.OwnerVisible(acct, owner) {
		return forbidden("the webhook subscription belongs to an API account with administrations this account cannot see")
	}
	return nil
}

// getWebhook is GET /webhook-subscription/{id}: the generic GET with the
// owner's administrations as its scope.
func getWebhook(c *fiber.Ctx, rq *request) error {
	k, err := parseKey(c.Params("key"))
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	s, err := db.WebhookSubscription(ctx, rq.api.pool, k.ID, k.Ref, false)
	if err != nil {
		return err
	}
	if err := webhookVisible(ctx, rq.api.pool, rq.account, s); err != nil {
		return err
	}
	return c.JSON(webhook.ViewOf(s))
}

// deleteWebhook is DELETE /webhook-subscription/{id}: deliveries stop (a
// request already in flight may still arrive; its outcome is not logged)
// and the subscription is removed together with its delivery log, which
// is addressed through the subscription and has nothing to say without
// it. The outbox events stay (they are the node's record, shared by every
// subscription); a "webhook-subscription" delete event with the id and
// external reference records the removal. Only an account covering the
// owner may delete it, as for every change. The answer is 204.
func deleteWebhook(c *fiber.Ctx, rq *request) error {
	k, err := parseKey(c.Params("key"))
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	err = db.InTx(ctx, rq.api.pool, func(tx pgx.Tx) error {
		s, err := db.WebhookSubscription(ctx, tx, k.ID, k.Ref, true)
		if err != nil {
			return err
		}
		if err := webhookOwnerCovered(ctx, tx, rq.account, s); err != nil {
			return err
		}
		if err := db.DeleteWebhookSubscription(ctx, tx, s.ID); err != nil {
			return err
		}
		return db.AppendEvent(ctx, tx, event.New("webhook-subscription", event.Delete, nil, webhookKey{ID: s.ID, ExternalReference: s.ExternalReference}))
	})
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// webhookKey is what a deletion event carries: the identifying properties
// (003 → Webhooks → Deletions).
type webhookKey struct {
	ID                uuid.UUID `json:"id"`
	ExternalReference *string   `json:"external_reference"`
}

// mountWebhooks registers the subscription resource, its actions and the
// delivery log. GET of one subscription is registered before the
// resource's so that it is scoped by the owner's administrations.
func (a *API) mountWebhooks(v1 fiber.Router) {
	v1.Get("/webhook-subscription/:key", a.handle("webhook", access.Read, getWebhook))
	v1.Delete("/webhook-subscription/:key", a.handle("webhook", access.Write, deleteWebhook))
	a.webhookResource().mount(a, v1)
	v1.Post("/webhook-subscription/:key/rotate-secret", a.handle("webhook", access.Write, rotateWebhookSecret))
	v1.Post("/webhook-subscription/:key/skip", a.handle("webhook", access.Write, skipWebhookEvents))
	v1.Post("/webhook-subscription/:key/replay", a.handle("webhook", access.Write, replayWebhookEvents))
	v1.Get("/webhook-subscription/:key/delivery", a.handle("webhook", access.Read, listWebhookDeliveries))
}

// webhookAction runs change on the locked subscription in a transaction,
// saves it, records an update event and answers with the view (or with
// what change returns).
func webhookAction(c *fiber.Ctx, rq *request, change func(ctx context.Context, tx pgx.Tx, s *webhook.Subscription) (any, error)) error {
	k, err := parseKey(c.Params("key"))
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	var out any
	err = db.InTx(ctx, rq.api.pool, func(tx pgx.Tx) error {
		s, err := db.WebhookSubscription(ctx, tx, k.ID, k.Ref, true)
		if err != nil {
			return err
		}
		if err := webhookOwnerCovered(ctx, tx, rq.account, s); err != nil {
			return err
		}
		extra, err := change(ctx, tx, &s)
		if err != nil {
			return err
		}
		s.UpdatedAt = time.Now().UTC()
		if err := db.SaveWebhookSubscription(ctx, tx, s, false); err != nil {
			return err
		}
		v := webhook.ViewOf(s)
		out = v
		if extra != nil {
			out = extra
		}
		return db.AppendEvent(ctx, tx, event.New("webhook-subscription", event.Update, nil, v))
	})
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// rotateWebhookSecret is POST /webhook-subscription/{id}/rotate-secret: a
// new secret signs from now on; the old one also signs for overlap_seconds
// (default one day), so receivers can switch without losing messages.
func rotateWebhookSecret(c *fiber.Ctx, rq *request) error {
	var in struct {
		OverlapSeconds *int `json:"overlap_seconds"`
	}
	if err := decodeAction(c, &in); err != nil {
		return err
	}
	overlap := webhookDefaultOverlap
	if in.OverlapSeconds != nil {
		if *in.OverlapSeconds < 0 || *in.OverlapSeconds > 30*24*3600 {
			return badRequest("invalid", "invalid input", field("overlap_seconds", "must be between 0 and 2592000 (30 days)"))
		}
		overlap = time.Duration(*in.OverlapSeconds) * time.Second
	}
	return webhookAction(c, rq, func(_ context.Context, _ pgx.Tx, s *webhook.Subscription) (any, error) {
		old := s.Secret
		until := time.Now().UTC().Add(overlap)
		s.Secret, s.PreviousSecret, s.PreviousSecretExpiresAt = access.NewSecret(), &old, &until
		return struct {
			webhook.View
			Secret string `json:"secret"`
		}{webhook.ViewOf(*s), s.Secret}, nil
	})
}

// skipWebhookEvents is POST /webhook-subscription/{id}/skip: the operator's
// explicit skip (nothing is skipped otherwise). Without a body it skips the
// next event owed; with through_event_id, every owed event up to and
// including that one. The delivery log records it.
func skipWebhookEvents(c *fiber.Ctx, rq *request) error {
	var in struct {
		ThroughEventID *uuid.UUID `json:"through_event_id"`
	}
	if err := decodeAction(c, &in); err != nil {
		return err
	}
	return webhookAction(c, rq, func(ctx context.Context, tx pgx.Tx, s *webhook.Subscription) (any, error) {
		owner, err := db.APIAccount(ctx, tx, &s.OwnerAccountID, "", false)
		if err != nil {
			return nil, err
		}
		q := db.Q(tx)
		horizon, err := q.WebhookHorizon(ctx)
		if err != nil {
			return nil, err
		}
		through := horizon
		if in.ThroughEventID != nil {
			ev, err := q.OutboxEventByID(ctx, *in.ThroughEventID)
			if err != nil {
				return nil, badRequest("reference_not_found", "a referenced record does not exist", field("through_event_id", "no event has this id"))
			}
			if ev.Seq <= s.Cursor {
				return nil, badRequest("invalid", "invalid input", field("through_event_id", "this event was already handled; use replay to go back"))
			}
			through = max(ev.Seq, s.Cursor)
		}
		filter := gen.WebhookEventsParams{CursorSeq: s.Cursor, Horizon: through, Kinds: s.Kinds, AllAdmins: owner.AllAdministrations,
			AdminIds: nonNil(owner.AdministrationIDs), ScopedKinds: webhook.ScopedKinds(), MaxRows: 1}
		first, err := q.WebhookEvents(ctx, filter)
		if err != nil {
			return nil, err
		}
		if in.ThroughEventID == nil {
			if len(first) == 0 {
				return nil, badRequest("nothing_to_skip", "the subscription owes no event", field("through_event_id", "nothing to skip"))
			}
			through = first[0].Seq
		}
		n, err := q.CountWebhookEvents(ctx, gen.CountWebhookEventsParams{CursorSeq: s.Cursor, Through: through, Kinds: s.Kinds,
			AllAdmins: owner.AllAdministrations, AdminIds: nonNil(owner.AdministrationIDs), ScopedKinds: webhook.ScopedKinds()})
		if err != nil {
			return nil, err
		}
		firstID, lastID := uuid.Nil, uuid.Nil
		if len(first) > 0 {
			firstID = first[0].ID
		}
		if in.ThroughEventID != nil {
			lastID = *in.ThroughEventID
		} else {
			lastID = firstID
		}
		if firstID == uuid.Nil {
			firstID = lastID
		}
		s.Cursor = through
		resetHead(s)
		return nil, q.InsertWebhookDelivery(ctx, gen.InsertWebhookDeliveryParams{ID: uuid.Must(uuid.NewV7()), SubscriptionID: s.ID,
			At: time.Now().UTC(), Outcome: "skipped", FirstEventID: firstID, LastEventID: lastID, EventCount: int32(n), Attempt: 0})
	})
}

// replayWebhookEvents is POST /webhook-subscription/{id}/replay: delivery
// goes back to an event (inclusive) or to the first event that occurred at
// or after a time, and everything from there is sent again, with the same
// ids. Replay only goes back; going forward is a skip.
func replayWebhookEvents(c *fiber.Ctx, rq *request) error {
	var in struct {
		FromEventID *uuid.UUID `json:"from_event_id"`
		From        *time.Time `json:"from"`
	}
	if err := decodeAction(c, &in); err != nil {
		return err
	}
	if (in.FromEventID == nil) == (in.From == nil) {
		return badRequest("invalid", "give exactly one of from_event_id and from", field("from_event_id", "give exactly one of from_event_id and from"))
	}
	return webhookAction(c, rq, func(ctx context.Context, tx pgx.Tx, s *webhook.Subscription) (any, error) {
		q := db.Q(tx)
		var seq int64
		if in.FromEventID != nil {
			ev, err := q.OutboxEventByID(ctx, *in.FromEventID)
			if err != nil {
				return nil, badRequest("reference_not_found", "a referenced record does not exist", field("from_event_id", "no event has this id"))
			}
			seq = ev.Seq
		} else {
			floor := v7Floor(in.From.Add(-time.Minute))
			var err error
			seq, err = q.FirstOutboxSeqAt(ctx, gen.FirstOutboxSeqAtParams{IDFloor: floor, At: *in.From})
			if err != nil {
				return nil, badRequest("invalid", "invalid input", field("from", "no event occurred at or after this time"))
			}
		}
		if seq-1 > s.Cursor {
			return nil, badRequest("invalid", "invalid input", field(map[bool]string{true: "from_event_id", false: "from"}[in.FromEventID != nil],
				"is after the subscription's position; replay goes back only (use skip to go forward)"))
		}
		s.Cursor = seq - 1
		resetHead(s)
		return nil, nil
	})
}

// resetHead forgets the failures of the old head message: the next attempt
// is now, and a failing subscription is active again until it fails anew.
func resetHead(s *webhook.Subscription) {
	s.Attempts, s.FailingSince, s.NextAttemptAt, s.LastError = 0, nil, nil, nil
	if s.State == webhook.Failing {
		s.State = webhook.Active
	}
}

// v7Floor is the smallest UUIDv7 of the millisecond t.
func v7Floor(t time.Time) uuid.UUID {
	var u uuid.UUID
	ms := uint64(t.UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6] = 0x70
	return u
}

// decodeAction decodes an optional action body (empty = all defaults) into
// the struct dst points at,
// refusing unknown fields so a misspelt option is not silently ignored.
func decodeAction(c *fiber.Ctx, dst any) error {
	raw := c.Body()
	if len(raw) == 0 {
		return nil
	}
	b, err := parseBody(raw)
	if err != nil {
		return err
	}
	if unknown := unknownFields(b, jsonNames(reflect.ValueOf(dst).Elem().Interface())); len(unknown) > 0 {
		return badRequest("invalid", "invalid input", field(unknown[0], "is not a field of this action"))
	}
	return decodeInto(b, dst)
}

// webhookDeliveryView is one delivery-log entry.
type webhookDeliveryView struct {
	ID             uuid.UUID `json:"id"`
	SubscriptionID uuid.UUID `json:"subscription_id"`
	At             time.Time `json:"at"`
	Outcome        string    `json:"outcome"`
	FirstEventID   uuid.UUID `json:"first_event_id"`
	LastEventID    uuid.UUID `json:"last_event_id"`
	EventCount     int32     `json:"event_count"`
	Attempt        int32     `json:"attempt"`
	HTTPStatus     *int32    `json:"http_status"`
	DurationMs     int32     `json:"duration_ms"`
	Error          *string   `json:"error"`
}

// listWebhookDeliveries is GET /webhook-subscription/{id}/delivery: the
// delivery log of one subscription, oldest first, seek-paginated.
func listWebhookDeliveries(c *fiber.Ctx, rq *request) error {
	k, err := parseKey(c.Params("key"))
	if err != nil {
		return err
	}
	q, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return badRequest("invalid_parameter", "the query string is malformed")
	}
	p, err := parsePage(q, []string{"outcome"})
	if err != nil {
		return err
	}
	if p.CreatedGT != nil {
		return badRequest("invalid_parameter", "created_gt is not supported on the delivery log", field("created_gt", "is not supported here"))
	}
	outcome, err := filterChecked(q, "outcome", func(v string) bool { return v == "delivered" || v == "failed" || v == "skipped" }, "delivered, failed or skipped")
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	s, err := db.WebhookSubscription(ctx, rq.api.pool, k.ID, k.Ref, false)
	if err != nil {
		return err
	}
	if err := webhookVisible(ctx, rq.api.pool, rq.account, s); err != nil {
		return err
	}
	if p.After != nil {
		ok, err := db.Exists(ctx, rq.api.pool, "webhook_delivery", *p.After)
		if err != nil {
			return err
		}
		if !ok {
			return badRequest("invalid_parameter", "invalid query parameter", field("after", "no item has this id"))
		}
	}
	rows, err := db.Q(rq.api.pool).ListWebhookDeliveries(ctx, gen.ListWebhookDeliveriesParams{SubscriptionID: s.ID, After: seek(p.After),
		Outcome: outcome, PageLimit: p.Size})
	if err != nil {
		return err
	}
	out := listBody[webhookDeliveryView]{Items: make([]webhookDeliveryView, len(rows)), PageSize: p.Size}
	for i, r := range rows {
		out.Items[i] = webhookDeliveryView{ID: r.ID, SubscriptionID: r.SubscriptionID, At: r.At.UTC(), Outcome: r.Outcome,
			FirstEventID: r.FirstEventID, LastEventID: r.LastEventID, EventCount: r.EventCount, Attempt: r.Attempt,
			HTTPStatus: r.HttpStatus, DurationMs: r.DurationMs, Error: r.Error}
	}
	last := p.After
	if n := len(rows); n > 0 {
		last = &rows[n-1].ID
	}
	if last != nil {
		path := "/main/v1/webhook-subscription/" + s.ID.String() + "/delivery"
		out.LinkNext = nextLink(path, q, last)
		c.Set("Link", "<"+out.LinkNext+`>; rel="next"`)
	}
	return c.JSON(out)
}
