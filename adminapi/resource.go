package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/roaming"
)

// key addresses a record in a path: its id, or "ext_ref.<reference>", or
// for resources addressed by a domain identifier (an OCPI location id, EVSE
// uid, tariff id) that identifier.
type key struct {
	ID     *uuid.UUID
	Ref    string
	Domain string
}

// upsert reports whether a write to k creates the record when it is
// missing: external references and domain identifiers name records the
// client owns (003 → Update endpoints → External References).
func (k key) upsert() bool { return k.Ref != "" || k.Domain != "" }

const extRefPrefix = "ext_ref."

func parseKey(raw string) (key, error) {
	s, err := url.PathUnescape(raw)
	if err != nil {
		s = raw
	}
	if strings.HasPrefix(s, extRefPrefix) {
		ref := s[len(extRefPrefix):]
		if _, bad := controlChar(ref, false); bad || strings.TrimSpace(ref) == "" {
			return key{}, badRequest("invalid_parameter", "invalid path parameter", field("id", "ext_ref. must be followed by an external reference"))
		}
		return key{Ref: ref}, nil
	}
	id, err := parseID(s)
	if err != nil {
		return key{}, badRequest("invalid_parameter", "invalid path parameter", field("id", "must be a UUID or ext_ref.<external reference>"))
	}
	return key{ID: &id}, nil
}

// meta points at the bookkeeping fields every user-created record has.
type meta struct {
	ID                *uuid.UUID
	ExternalReference **string
	ExternalUpdatedAt **time.Time
	CreatedAt         *time.Time
	UpdatedAt         *time.Time
}

// listArgs is what a resource's list function gets.
type listArgs struct {
	Account access.Account
	After   *uuid.UUID
	Limit   int32
	Filters url.Values
}

// writeCtx is what a resource's build function gets.
type writeCtx struct {
	Ctx     context.Context
	Tx      pgx.Tx
	Account access.Account
	Body    body // the raw request body (not merged), for reference fields
	// onCommit collects what to do once the transaction committed (kick
	// the worker for an OCPI push).
	onCommit *[]func()
	kicker   func(context.Context, ...roaming.PushRef)
}

// OnCommit runs f after the write's transaction committed (never when it
// fails).
func (w writeCtx) OnCommit(f func()) {
	if w.onCommit != nil {
		*w.onCommit = append(*w.onCommit, f)
	}
}

// resource describes one Admin API resource to the shared machinery, which
// implements the guide's conventions once: seek pagination, ext_ref keys,
// create, merge-update (RFC 7396), create-or-update by external reference,
// stale-update prevention, unknown and implicit fields, scoping, and an
// outbox event for every change in the same transaction.
//
// R is the stored record, V its API representation, I its input shape.
type resource[R, V, I any] struct {
	name      string   // path segment and event kind, e.g. "customer"
	table     string   // table holding the ids (pagination)
	family    string   // permission family
	filters   []string // list filters (query parameters)
	implicit  []string // should-be-required fields: reported when left out on create
	immutable []string // fields that keep their value after creation

	load  func(ctx context.Context, q db.Querier, k key, lock bool) (R, error)
	list  func(ctx context.Context, q db.Querier, a listArgs) ([]R, error)
	view  func(R) V
	build func(w writeCtx, in I, cur *R) (R, error) // input onto current (nil on create), validated
	save  func(ctx context.Context, q db.Querier, rec R, isNew bool) error
	meta  func(*R) meta
	scope func(R) *uuid.UUID // the administration the record belongs to; nil when global
	// created optionally adds one-time fields (such as a generated secret)
	// to the create response.
	created func(R, V) any
	// domainKey, when set, is the input field holding the domain
	// identifier that addresses records in paths instead of their id
	// ("location_id"): a path segment is that identifier (or ext_ref.X),
	// and a write to an unknown one creates the record.
	domainKey string
	// after optionally runs in the write's transaction once a change is
	// saved (prev is nil on create): follow-up writes such as OCPI pushes.
	after func(w writeCtx, prev *R, rec R) error
}

// parseKey parses a path key the way the resource is addressed.
func (r *resource[R, V, I]) parseKey(raw string) (key, error) {
	if r.domainKey == "" {
		return parseKey(raw)
	}
	s, err := url.PathUnescape(raw)
	if err != nil {
		s = raw
	}
	if strings.HasPrefix(s, extRefPrefix) {
		return parseKey(s)
	}
	if _, bad := controlChar(s, false); bad || strings.TrimSpace(s) != s || s == "" {
		return key{}, badRequest("invalid_parameter", "invalid path parameter", field(r.domainKey, "must be printable without surrounding spaces"))
	}
	return key{Domain: s}, nil
}

// mount registers the resource's routes.
func (r *resource[R, V, I]) mount(api *API, g fiber.Router) {
	g.Get("/"+r.name, api.handle(r.family, access.Read, r.getList))
	g.Get("/"+r.name+"/:key", api.handle(r.family, access.Read, r.getOne))
	if r.domainKey == "" { // domain-keyed records are created through their key
		g.Post("/"+r.name, api.handle(r.family, access.Write, r.create))
	}
	g.Post("/"+r.name+"/:key", api.handle(r.family, access.Write, r.merge))
}

// visible enforces administration scoping on a loaded record.
func (r *resource[R, V, I]) visible(acct access.Account, rec R) error {
	if adm := r.scope(rec); adm != nil && !acct.Sees(*adm) {
		return forbidden("the API account has no access to the administration of this " + r.name)
	}
	return nil
}

func (r *resource[R, V, I]) getOne(c *fiber.Ctx, rq *request) error {
	k, err := r.parseKey(c.Params("key"))
	if err != nil {
		return err
	}
	rec, err := r.load(c.UserContext(), rq.api.pool, k, false)
	if err != nil {
		return err
	}
	if err := r.visible(rq.account, rec); err != nil {
		return err
	}
	return c.JSON(r.view(rec))
}

// listBody is the seek pagination response.
type listBody[V any] struct {
	Items    []V    `json:"items"`
	PageSize int32  `json:"page_size"`
	LinkNext string `json:"link_next,omitempty"`
}

func (r *resource[R, V, I]) getList(c *fiber.Ctx, rq *request) error {
	q, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return badRequest("invalid_parameter", "the query string is malformed")
	}
	p, err := parsePage(q, r.filters)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	path := "/main/v1/" + r.name
	if p.CreatedGT != nil {
		return r.firstCreatedAfter(c, rq, path, *p.CreatedGT)
	}
	if p.After != nil && !rq.api.known.has(r.table, *p.After) {
		ok, err := db.Exists(ctx, rq.api.pool, r.table, *p.After)
		if err != nil {
			return err
		}
		if !ok {
			return badRequest("invalid_parameter", "invalid query parameter", field("after", "no item has this id"))
		}
		rq.api.known.add(r.table, *p.After)
	}
	recs, err := r.list(ctx, rq.api.pool, listArgs{Account: rq.account, After: p.After, Limit: p.Size, Filters: q})
	if err != nil {
		return err
	}
	out := listBody[V]{Items: make([]V, len(recs)), PageSize: p.Size}
	for i, rec := range recs {
		out.Items[i] = r.view(rec)
	}
	last := p.After
	ids := make([]uuid.UUID, len(recs))
	for i := range recs { // any of them may be a later request's after
		last = r.meta(&recs[i]).ID
		ids[i] = *last
	}
	rq.api.known.addAll(r.table, ids)
	if last != nil {
		out.LinkNext = nextLink(path, q, last)
		c.Set("Link", "<"+out.LinkNext+`>; rel="next"`)
	}
	return c.JSON(out)
}

// firstCreatedAfter answers a created_gt request: no items, and a link_next
// whose after is the record just before the first one created after t.
func (r *resource[R, V, I]) firstCreatedAfter(c *fiber.Ctx, rq *request, path string, t time.Time) error {
	ctx := c.UserContext()
	bound := v7Ceiling(t)
	first, err := r.list(ctx, rq.api.pool, listArgs{Account: rq.account, After: &bound, Limit: 1, Filters: url.Values{}})
	if err != nil {
		return err
	}
	if len(first) == 0 {
		return badRequest("no_items", "no items were created after created_gt", field("created_gt", "no "+r.name+" was created after this moment"))
	}
	prev, err := db.PrevID(ctx, rq.api.pool, r.table, *r.meta(&first[0]).ID)
	if err != nil {
		return err
	}
	link := nextLink(path, url.Values{}, prev)
	c.Set("Link", "<"+link+`>; rel="next"`)
	return c.JSON(listBody[V]{Items: []V{}, PageSize: defaultPageSize, LinkNext: link})
}

// create is POST /<resource>.
func (r *resource[R, V, I]) create(c *fiber.Ctx, rq *request) error {
	b, err := r.readBody(c)
	if err != nil {
		return err
	}
	return r.write(c, rq, b, nil)
}

// merge is POST /<resource>/{key}: merge-update of an existing record, or
// create-or-update when the key is an external reference (003 → Update
// endpoints → External References vs TandemDrive IDs).
func (r *resource[R, V, I]) merge(c *fiber.Ctx, rq *request) error {
	k, err := r.parseKey(c.Params("key"))
	if err != nil {
		return err
	}
	b, err := r.readBody(c)
	if err != nil {
		return err
	}
	return r.write(c, rq, b, &k)
}

func (r *resource[R, V, I]) readBody(c *fiber.Ctx) (body, error) {
	b, err := parseBody(c.Body())
	if err != nil {
		return nil, err
	}
	var in I
	var v V
	if unknown := unknownFields(b, jsonNames(in), jsonNames(v)); len(unknown) > 0 {
		c.Set("X-RN-Unknown-Fields", strings.Join(unknown, ","))
	}
	for _, name := range referencePairs(jsonNames(in)) {
		if b.has(name+"_id") && b.has(name+"_external_reference") && !b.isNull(name+"_id") && !b.isNull(name+"_external_reference") {
			return nil, badRequest("invalid", "give exactly one of "+name+"_id and "+name+"_external_reference",
				field(name+"_id", "cannot be combined with "+name+"_external_reference"))
		}
	}
	return b, nil
}

// referencePairs finds the x of every x_id / x_external_reference pair.
func referencePairs(names []string) []string {
	var out []string
	for _, n := range names {
		if base, ok := strings.CutSuffix(n, "_external_reference"); ok && contains(names, base+"_id") {
			out = append(out, base)
		}
	}
	return out
}

// staleFuture is how far ahead of our clock external_updated_at may be
// before it counts as "in the future" (clock skew between systems).
const staleFuture = 5 * time.Second

// write runs one write. A create-or-update by external reference that
// races another request creating the same reference loses on the unique
// constraint; it is then retried once, finds the record, and updates it,
// so that neither client sees a spurious "duplicate".
func (r *resource[R, V, I]) write(c *fiber.Ctx, rq *request, b body, k *key) error {
	err := r.writeOnce(c, rq, b, k)
	if k != nil && k.upsert() && r.isDuplicateKey(err) {
		err = r.writeOnce(c, rq, b, k)
	}
	return err
}

func (r *resource[R, V, I]) isDuplicateKey(err error) bool {
	f, ok := fault.As(err)
	return ok && f.Code == "duplicate" && len(f.Fields) == 1 &&
		(f.Fields[0].Path == "external_reference" || (r.domainKey != "" && f.Fields[0].Path == r.domainKey))
}

func (r *resource[R, V, I]) writeOnce(c *fiber.Ctx, rq *request, b body, k *key) error {
	ctx := c.UserContext()
	var eua *time.Time
	if raw, ok := b["external_updated_at"]; ok && string(raw) != "null" {
		var t time.Time
		if err := json.Unmarshal(raw, &t); err != nil {
			return badRequest("invalid", "invalid input", field("external_updated_at", "must be an RFC 3339 date-time"))
		}
		if t.After(time.Now().Add(staleFuture)) {
			return badRequest("invalid", "invalid input", field("external_updated_at", "must not be in the future"))
		}
		eua = &t
	}
	var (
		out      any
		status   = fiber.StatusOK
		stale    bool
		onCommit []func()
	)
	err := db.InTx(ctx, rq.api.pool, func(tx pgx.Tx) error {
		onCommit = nil // a retried transaction starts over
		w := writeCtx{Ctx: ctx, Tx: tx, Account: rq.account, Body: b, onCommit: &onCommit, kicker: rq.api.kick}
		var cur *R
		if k != nil {
			rec, err := r.load(ctx, tx, *k, true)
			switch {
			case err == nil:
				if err := r.visible(rq.account, rec); err != nil {
					return err
				}
				cur = &rec
			case fault.Is(err, fault.KindNotFound) && k.upsert():
				// create-or-update: the path's key wins over the body's.
			default:
				return err
			}
			if k.Ref != "" {
				b["external_reference"], _ = json.Marshal(k.Ref)
			}
			if k.Domain != "" {
				b[r.domainKey], _ = json.Marshal(k.Domain)
			}
		}
		if cur == nil {
			r.reportImplicit(c, b)
			var in I
			if err := decodeInto(b, &in); err != nil {
				return err
			}
			rec, err := r.build(w, in, nil)
			if err != nil {
				return err
			}
			m := r.meta(&rec)
			*m.ID = uuid.Must(uuid.NewV7())
			// created_at is the id's own timestamp, so that id order is
			// creation order (created_gt relies on it).
			sec, nsec := m.ID.Time().UnixTime()
			*m.CreatedAt = time.Unix(sec, nsec).UTC()
			*m.UpdatedAt = *m.CreatedAt
			*m.ExternalUpdatedAt = eua
			if err := r.save(ctx, tx, rec, true); err != nil {
				return err
			}
			// Known to exist once committed; a failed commit only leaves
			// an id that no request will ever name.
			rq.api.known.add(r.table, *m.ID)
			v := r.view(rec)
			out, status = any(v), fiber.StatusCreated
			if r.created != nil {
				out = r.created(rec, v)
			}
			if r.after != nil {
				if err := r.after(w, nil, rec); err != nil {
					return err
				}
			}
			return db.AppendEvent(ctx, tx, event.New(r.name, event.Create, r.scope(rec), v))
		}
		m := r.meta(cur)
		if eua != nil && *m.ExternalUpdatedAt != nil && eua.Before(**m.ExternalUpdatedAt) {
			stale = true // 003 → Stale update prevention: older than stored → ignored
			return nil
		}
		// Each representation is marshalled once: before (the merge base
		// and the no-op check), after (the no-op check), and the saved
		// record (response and outbox event).
		before, err := json.Marshal(r.view(*cur))
		if err != nil {
			return err
		}
		merged, err := mergeDoc(before, b, r.immutable)
		if err != nil {
			return err
		}
		var in I
		if err := decodeInto(merged, &in); err != nil {
			return err
		}
		rec, err := r.build(w, in, cur)
		if err != nil {
			return err
		}
		nm := r.meta(&rec)
		*nm.ID, *nm.CreatedAt, *nm.UpdatedAt = *m.ID, *m.CreatedAt, *m.UpdatedAt
		if eua != nil {
			*nm.ExternalUpdatedAt = eua
		} else {
			*nm.ExternalUpdatedAt = *m.ExternalUpdatedAt
		}
		after, err := json.Marshal(r.view(rec))
		if err != nil {
			return err
		}
		if bytes.Equal(before, after) && !r.hidden(*cur, rec) {
			out = withStale(after, false) // nothing changed: no write, no event
			return nil
		}
		*nm.UpdatedAt = time.Now().UTC()
		if err := r.save(ctx, tx, rec, false); err != nil {
			return err
		}
		saved, err := json.Marshal(r.view(rec))
		if err != nil {
			return err
		}
		out = withStale(saved, false)
		if r.after != nil {
			if err := r.after(w, cur, rec); err != nil {
				return err
			}
		}
		return db.AppendEvent(ctx, tx, event.New(r.name, event.Update, r.scope(rec), json.RawMessage(saved)))
	})
	if err != nil {
		return err
	}
	for _, f := range onCommit {
		f()
	}
	if stale {
		c.Set("X-RN-Stale-Update", "true")
		return c.SendStatus(fiber.StatusNoContent)
	}
	if raw, ok := out.(json.RawMessage); ok { // already encoded: send as is
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Status(status).Send(raw)
	}
	return c.Status(status).JSON(out)
}

// hidden reports a change in state the view does not show (a new secret
// hash, say), which must still be saved.
func (r *resource[R, V, I]) hidden(a, b R) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return !bytes.Equal(ja, jb)
}

// reportImplicit sets X-RN-Implicit-Fields for should-be-required fields the
// body left out (003 → Implicit fields).
func (r *resource[R, V, I]) reportImplicit(c *fiber.Ctx, b body) {
	var missing []string
	for _, f := range r.implicit {
		if !b.has(f) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		c.Set("X-RN-Implicit-Fields", strings.Join(missing, ","))
	}
}

// mergeDoc applies the body to the current representation per RFC 7396;
// immutable fields keep their current value whatever the body says.
func mergeDoc(cur []byte, b body, immutable []string) (body, error) {
	patch := body{}
	for k, v := range b {
		if !contains(immutable, k) {
			patch[k] = v
		}
	}
	p, _ := json.Marshal(patch)
	merged, err := jsonpatch.MergePatch(cur, p)
	if err != nil {
		return nil, badRequest("malformed_json", "the request body cannot be merged: "+err.Error())
	}
	var out body
	if err := json.Unmarshal(merged, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// withStale adds "stale_update" to a merge response's JSON object (003 →
// Merge endpoints).
func withStale(b []byte, stale bool) json.RawMessage {
	s := "false"
	if stale {
		s = "true"
	}
	if len(b) > 1 && b[len(b)-1] == '}' {
		sep := ","
		if len(b) == 2 {
			sep = ""
		}
		b = append(append(b[:len(b)-1:len(b)-1], []byte(sep+`"stale_update":`+s)...), '}')
	}
	return b
}
