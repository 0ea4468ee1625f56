package roaming

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	model "github.com/roamnode/roamnode/domain/partner"
)

// Push: every change to an object we own (a location, an EVSE, a tariff, a
// token, a session, a CDR) is sent to each partner connection whose
// version details list a RECEIVER endpoint for the object's module
// (transport_and_format → Client Owned Object Push). The pieces:
//
//   - A capability records a Change in the transaction that makes the
//     change (db.EnqueuePush). Postgres keeps, per connection and ordering
//     group, the coalesced list of items still to send (table ocpi_push).
//   - After the commit the capability kicks the worker (worker.KickPush);
//     Redis only carries that wake-up. A sweeper re-enqueues due groups, so
//     a lost kick or a crashed worker delays a push, never loses it.
//   - The worker runs Pusher.Run for a group: it leases the group (one
//     sender per group at a time, across workers and nodes), renders each
//     item from the current state with the module's Renderer, sends it with
//     the Client (which records every attempt in the exchange log), and
//     removes it once the partner accepted it. A failure stops the group
//     (order per object) and schedules a retry with exponential backoff; a
//     partner that is down catches up when it returns.
//
// Items are rendered when they are sent, never when they are enqueued, so
// several pending changes to one object collapse into one request carrying
// the latest state (Coalesce).

// Push methods (OCPI receiver interfaces).
const (
	PushPut    = http.MethodPut
	PushPatch  = http.MethodPatch
	PushPost   = http.MethodPost
	PushDelete = http.MethodDelete
)

// Change is one change to push.
type Change struct {
	// Module is the OCPI module identifier of the receiver endpoint
	// ("locations", "tariffs", "tokens", "sessions", "cdrs").
	Module string
	// Group orders pushes: the items of one group are sent one at a time,
	// in order. A location and its EVSEs share a group (an EVSE PATCH must
	// not overtake the PUT that creates its location); a tariff, a token,
	// a session each are their own group.
	Group string
	// Object is the path of the object below the partner's endpoint URL,
	// as the receiver interface spells it ("NL/TNM/LOC1",
	// "NL/TNM/LOC1/EVSE1" for mod_locations; "" for a POST to the endpoint
	// itself, as CDRs are sent).
	Object string
	// Method is PushPut for a new or replaced object, PushPatch for
	// changed fields, PushPost, PushDelete.
	Method string
	// Fields are the top-level fields a PATCH changed (the renderer sends
	// their current values and last_updated).
	Fields []string
	// FromCountry and FromParty are our party that owns the object (the
	// OCPI-from routing headers).
	FromCountry, FromParty string
	// ToCountry and ToParty, when set, address the change to one party
	// only: the connection that reaches it (directly, else through a hub)
	// receives it, with OCPI-to routing headers naming that party (a
	// session or CDR goes to the eMSP that owns its token, mod_sessions and
	// mod_cdrs; transport_and_format → Message Routing Headers). Empty: every
	// connection with a receiver of the module, as for locations and tariffs.
	ToCountry, ToParty string
}

// Validate reports a programming error in a change.
func (c Change) Validate() error {
	switch {
	case c.Module == "" || c.Group == "":
		return errors.New("roaming: push change needs a module and a group")
	case c.Method != PushPut && c.Method != PushPatch && c.Method != PushPost && c.Method != PushDelete:
		return fmt.Errorf("roaming: push method %q", c.Method)
	case c.Method == PushPatch && len(c.Fields) == 0:
		return errors.New("roaming: a PATCH push names the changed fields")
	case (c.ToCountry == "") != (c.ToParty == ""):
		return errors.New("roaming: a push addressed to a party names its country code and party id")
	}
	return nil
}

// PushItem is one pending request of a group, as stored.
type PushItem struct {
	Object string   `json:"object"`
	Method string   `json:"method"`
	Fields []string `json:"fields,omitempty"`
	// V is the group's change counter when this item last changed: a send
	// removes the item only if nothing changed it meanwhile.
	V int64 `json:"v"`
	// ToCountry and ToParty are the party the item is addressed to (see
	// Change.ToCountry); empty for a broadcast.
	ToCountry string `json:"to_country,omitempty"`
	ToParty   string `json:"to_party,omitempty"`
}

// covers reports whether a PUT of parent replaces the state of object: the
// object itself or one below it (a location PUT carries its EVSEs).
func covers(parent, object string) bool {
	return parent == object || strings.HasPrefix(object, parent+"/")
}

// Coalesce adds a change (as item n, with n.V the group's new change
// counter) to the pending items of its group and returns the new list:
//   - a pending PUT that covers the object already sends its latest state:
//     it is only marked changed (so that a send in flight, which may have
//     read older state, does not remove it);
//   - a PUT drops pending items it covers and is appended;
//   - a change to an object with a pending item merges into it in place
//     (PATCH + PATCH = PATCH of both field sets; a PUT or DELETE wins
//     over a PATCH; the later of PUT and DELETE wins);
//   - anything else is appended.
func Coalesce(items []PushItem, n PushItem) []PushItem {
	out := slices.Clone(items)
	for i := range out {
		if out[i].Method == PushPut && covers(out[i].Object, n.Object) && n.Method != PushDelete && n.Method != PushPost {
			out[i].V = n.V
			return out
		}
	}
	if n.Method == PushPut {
		out = slices.DeleteFunc(out, func(it PushItem) bool { return covers(n.Object, it.Object) && it.Method != PushPost })
		return append(out, n)
	}
	for i := range out {
		if out[i].Object != n.Object || out[i].Method == PushPost || n.Method == PushPost {
			continue
		}
		switch {
		case n.Method == PushPatch && out[i].Method == PushPatch:
			out[i].Fields = union(out[i].Fields, n.Fields)
		case n.Method == PushPatch:
			// PUT or DELETE pending: it already sends the latest state.
		default:
			out[i].Method, out[i].Fields = n.Method, nil
		}
		out[i].V = n.V
		return out
	}
	return append(out, n)
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// Completed removes a sent item from the group's items, unless the item
// changed since it was read (its V differs): then it stays and is sent
// again with the newer state.
func Completed(items []PushItem, sent PushItem) []PushItem {
	return slices.DeleteFunc(slices.Clone(items), func(it PushItem) bool {
		return it.Object == sent.Object && it.Method == sent.Method && it.V == sent.V
	})
}

// PushRef names a group of one connection.
type PushRef struct {
	ConnectionID uuid.UUID `json:"connection_id"`
	Module       string    `json:"module"`
	Group        string    `json:"group"`
	// Seq and Attempts make a task id unique per state of the group, so a
	// kick after each change is a new task and a duplicate kick is not.
	Seq      int64 `json:"seq"`
	Attempts int32 `json:"attempts"`
}

// TaskID is the worker task id of a kick for this state of the group.
func (r PushRef) TaskID() string {
	return fmt.Sprintf("ocpi:push:%s:%s:%s:%d:%d", r.ConnectionID, r.Module, r.Group, r.Seq, r.Attempts)
}

// PushGroup is a leased group as the store returns it.
type PushGroup struct {
	PushRef
	FromCountry, FromParty string
	Items                  []PushItem
}

// PushStore is what the pusher needs from storage (db implements it).
type PushStore interface {
	// Claim takes the group's lease until leaseUntil when it has due items
	// and nobody holds it; ok is false otherwise.
	Claim(ctx context.Context, ref PushRef, leaseUntil time.Time) (g PushGroup, ok bool, err error)
	// Complete removes the sent item (see Completed), keeps the lease until
	// leaseUntil, resets the attempts and returns the group as it is now.
	Complete(ctx context.Context, ref PushRef, sent PushItem, leaseUntil time.Time) (PushGroup, error)
	// Release gives the lease up when the group's change counter is still
	// seq (nothing was added since the caller last looked). Otherwise the
	// lease is extended to leaseUntil and the group as it is now returned,
	// for the caller to go on.
	Release(ctx context.Context, ref PushRef, seq int64, leaseUntil time.Time) (g PushGroup, released bool, err error)
	// Fail records a failed send and releases the lease: the group is due
	// again at retryAt.
	Fail(ctx context.Context, ref PushRef, retryAt time.Time, msg string) error
	// Receiver returns how to reach the connection's receiver endpoint of
	// the module: the target (token, routing) and the endpoint URL. ok is
	// false when the connection is no longer registered or lost the
	// endpoint: its pending items are then dropped.
	Receiver(ctx context.Context, connID uuid.UUID, module string) (t Target, endpoint string, ok bool, err error)
	// Drop forgets the group's items (the receiver is gone).
	Drop(ctx context.Context, ref PushRef) error
}

// Request is what a Renderer produces for one item.
type Request struct {
	// Method and Path (below the endpoint URL; "" for the endpoint itself).
	Method string
	Path   string
	Body   any
	// Skip: nothing to send any more (the object is gone); the item is
	// dropped as if sent.
	Skip bool
}

// Renderer builds the request for an item from the current state of the
// object. from is our party that owns it.
type Renderer func(ctx context.Context, item PushItem, fromCountry, fromParty string) (Request, error)

// PushOptions tune a Pusher.
type PushOptions struct {
	// Lease is how long one send may take before another worker may take
	// the group over (default 2 min; longer than the client's retries).
	Lease time.Duration
	// BackoffMin and BackoffMax bound the wait after a failed send
	// (defaults 1 s and 5 min), doubling per attempt, jittered.
	BackoffMin, BackoffMax time.Duration
}

// Pusher sends pending pushes.
type Pusher struct {
	store     PushStore
	client    *Client
	renderers map[string]Renderer
	opts      PushOptions
}

// NewPusher returns a pusher with a renderer per module.
func NewPusher(store PushStore, client *Client, renderers map[string]Renderer, o PushOptions) *Pusher {
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = time.Second
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = max(o.BackoffMin, 5*time.Minute)
	}
	return &Pusher{store: store, client: client, renderers: renderers, opts: o}
}

// Backoff is the wait after the given number of failed attempts (≥ 1).
func (p *Pusher) Backoff(attempts int32) time.Duration {
	d := p.opts.BackoffMin
	for i := int32(1); i < attempts && d < p.opts.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, p.opts.BackoffMax)
	// ±20 % jitter so that groups failing together do not retry together.
	return d - d/5 + time.Duration(rand.Int64N(int64(d/5)*2+1))
}

// Run sends the group's items in order until none is left, a send fails
// or the context ends. It returns the time of the next attempt when a send
// failed (nil otherwise); a group someone else holds is left alone (the
// holder picks up what was added). Safe to run twice at once: the lease
// makes one of the runs a no-op.
func (p *Pusher) Run(ctx context.Context, ref PushRef) (retryAt *time.Time, err error) {
	g, ok, err := p.store.Claim(ctx, ref, time.Now().Add(p.opts.Lease))
	if err != nil || !ok {
		return nil, err
	}
	target, endpoint, ok, err := p.store.Receiver(ctx, ref.ConnectionID, ref.Module)
	if err != nil {
		return p.fail(ctx, g, err)
	}
	if !ok {
		return nil, p.store.Drop(ctx, ref)
	}
	target.FromCountry, target.FromParty = g.FromCountry, g.FromParty
	for {
		if len(g.Items) == 0 {
			next, released, err := p.store.Release(ctx, ref, g.Seq, time.Now().Add(p.opts.Lease))
			if err != nil || released {
				return nil, err
			}
			g = next
			continue
		}
		if ctx.Err() != nil {
			return p.fail(ctx, g, ctx.Err())
		}
		item := g.Items[0]
		if err := p.send(ctx, target, endpoint, g, item); err != nil {
			return p.fail(ctx, g, err)
		}
		if g, err = p.store.Complete(ctx, ref, item, time.Now().Add(p.opts.Lease)); err != nil {
			return nil, err
		}
	}
}

func (p *Pusher) send(ctx context.Context, t Target, endpoint string, g PushGroup, item PushItem) error {
	render, ok := p.renderers[g.Module]
	if !ok {
		return fmt.Errorf("no push renderer for module %q", g.Module)
	}
	req, err := render(ctx, item, g.FromCountry, g.FromParty)
	if err != nil {
		return fmt.Errorf("render %s %s: %w", item.Method, item.Object, err)
	}
	if req.Skip {
		return nil
	}
	if item.ToCountry != "" {
		// Addressed to one party: through a hub the routing headers carry
		// it to that party (transport_and_format → Message Routing Headers).
		t.ToCountry, t.ToParty, t.CountryCode, t.PartyID = item.ToCountry, item.ToParty, item.ToCountry, item.ToParty
	}
	url := strings.TrimRight(endpoint, "/")
	if req.Path != "" {
		url += "/" + req.Path
	}
	_, err = p.client.Do(ctx, t, req.Method, url, req.Body)
	return err
}

func (p *Pusher) fail(ctx context.Context, g PushGroup, cause error) (*time.Time, error) {
	at := time.Now().Add(p.Backoff(g.Attempts + 1))
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	// The lease must be given up even when the run's context has ended.
	if err := p.store.Fail(context.WithoutCancel(ctx), g.PushRef, at, msg); err != nil {
		return nil, err
	}
	return &at, nil
}

// ReceiverRole is the role whose endpoint receives pushes of a module: the
// eMSP receives locations, tariffs, sessions and CDRs; the CPO receives
// tokens (OCPI 2.2.1, the modules' receiver interfaces).
func ReceiverRole(module string) model.Role {
	if module == "tokens" {
		return model.RoleCPO
	}
	return model.RoleEMSP
}

// ReceiverParty picks the partner party a push addresses (the OCPI-to
// routing headers): the partner's role that receives the module, else its
// hub role (a broadcast through a hub is addressed to the hub,
// transport_and_format → Broadcast Push), else its first role.
func ReceiverParty(roles []model.CredentialsRole, module string) (country, party string) {
	want := ReceiverRole(module)
	for _, pick := range []model.Role{want, model.RoleHub} {
		for _, r := range roles {
			if r.Role == pick {
				return r.CountryCode, r.PartyID
			}
		}
	}
	if len(roles) > 0 {
		return roles[0].CountryCode, roles[0].PartyID
	}
	return "", ""
}
