package adminapi

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Seek pagination (003 → Implementation guide → Pagination): after is
// strict ">", created_gt is for the first request only and exclusive with
// every other parameter, page_size defaults to 500.
const (
	defaultPageSize = 500
	maxPageSize     = 1000
)

// page is a parsed pagination request.
type page struct {
	After     *uuid.UUID
	Size      int32
	CreatedGT *time.Time
}

// parsePage reads after, page_size and created_gt, and refuses query
// parameters that are neither these nor one of the resource's filters: a
// misspelt filter must not silently return everything.
func parsePage(q url.Values, filters []string) (page, error) {
	p := page{Size: defaultPageSize}
	for k := range q {
		if k != "after" && k != "page_size" && k != "created_gt" && !contains(filters, k) {
			known := append([]string{"after", "page_size", "created_gt"}, filters...)
			return p, badRequest("unknown_parameter", "unknown query parameter", field(k, "is not a parameter of this endpoint; known: "+strings.Join(known, ", ")))
		}
	}
	if v := q.Get("created_gt"); v != "" {
		if len(q) > 1 {
			return p, badRequest("invalid_parameter", "created_gt cannot be combined with other parameters", field("created_gt", "is only allowed on its own, for the first request"))
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return p, badRequest("invalid_parameter", "invalid query parameter", field("created_gt", "must be an RFC 3339 date-time"))
		}
		p.CreatedGT = &t
		return p, nil
	}
	if v := q.Get("after"); v != "" {
		id, err := parseID(v)
		if err != nil {
			return p, badRequest("invalid_parameter", "invalid query parameter", field("after", "must be the id of an item"))
		}
		p.After = &id
	}
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return p, badRequest("invalid_parameter", "invalid query parameter", field("page_size", "must be an integer from 1 to "+strconv.Itoa(maxPageSize)))
		}
		p.Size = int32(n)
	}
	return p, nil
}

// nextLink builds the relative URI of the next page: the same path and
// filters with after set to the last item seen.
func nextLink(path string, q url.Values, after *uuid.UUID) string {
	out := url.Values{}
	for k, v := range q {
		if k != "after" && k != "created_gt" {
			out[k] = v
		}
	}
	if after != nil {
		out.Set("after", after.String())
	}
	if len(out) == 0 {
		return path
	}
	return path + "?" + out.Encode()
}

// v7Ceiling is the greatest UUIDv7 whose timestamp is t's millisecond: every
// record created (id minted) after t sorts above it, every other below.
func v7Ceiling(t time.Time) uuid.UUID {
	var u uuid.UUID
	ms := uint64(t.UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6], u[7], u[8] = 0x7f, 0xff, 0xbf
	for i := 9; i < 16; i++ {
		u[i] = 0xff
	}
	return u
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// filterUUID, filterString and filterTime parse optional filter values.
func filterUUID(q url.Values, name string) (*uuid.UUID, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	id, err := parseID(v)
	if err != nil {
		return nil, badRequest("invalid_parameter", "invalid query parameter", field(name, "must be a UUID"))
	}
	return &id, nil
}

func filterString(q url.Values, name string) *string {
	if v := q.Get(name); v != "" {
		return &v
	}
	return nil
}

// filterChecked parses an optional filter whose values follow a rule (a
// country code, an enum): a value that can never match is a 400, not an
// empty page.
func filterChecked(q url.Values, name string, ok func(string) bool, want string) (*string, error) {
	v := filterString(q, name)
	if v != nil && !ok(*v) {
		return nil, badRequest("invalid_parameter", "invalid query parameter", field(name, "must be "+want))
	}
	return v, nil
}

// parseID accepts only the canonical 36-character UUID form.
func parseID(s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.UUID{}, errors.New("not a canonical UUID")
	}
	return uuid.Parse(s)
}

func filterTime(q url.Values, name string) (*time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, badRequest("invalid_parameter", "invalid query parameter", field(name, "must be an RFC 3339 date-time"))
	}
	return &t, nil
}

// idSet remembers ids known to exist, so that a page request whose after
// names one skips the existence query: ids are UUIDs of records the API
// never deletes, so once seen they stay valid. It is bounded; when full it
// starts over, which only costs a query.
type idSet struct {
	mu  sync.RWMutex
	max int
	m   map[tableID]struct{}
}

// tableID keys the set by table: an id is a valid after only for the
// resource it belongs to.
type tableID struct {
	table string
	id    uuid.UUID
}

func newIDSet(max int) *idSet { return &idSet{max: max, m: make(map[tableID]struct{})} }

func (s *idSet) has(table string, id uuid.UUID) bool {
	s.mu.RLock()
	_, ok := s.m[tableID{table, id}]
	s.mu.RUnlock()
	return ok
}

func (s *idSet) add(table string, id uuid.UUID) { s.addAll(table, []uuid.UUID{id}) }

// addAll adds a page's ids. It checks under the read lock first: after
// warm-up almost every listed id is already known, and concurrent pages
// then never contend on the write lock.
func (s *idSet) addAll(table string, ids []uuid.UUID) {
	s.mu.RLock()
	missing := false
	for _, id := range ids {
		if _, ok := s.m[tableID{table, id}]; !ok {
			missing = true
			break
		}
	}
	s.mu.RUnlock()
	if !missing {
		return
	}
	s.mu.Lock()
	if len(s.m)+len(ids) > s.max {
		s.m = make(map[tableID]struct{})
	}
	for _, id := range ids {
		s.m[tableID{table, id}] = struct{}{}
	}
	s.mu.Unlock()
}

// seek is the lower bound of a page: the after id, or the nil UUID (below
// every id) for the first page. List queries compare "id > bound" without
// an "IS NULL OR", so that Postgres can use the primary key in a cached
// generic plan instead of planning every request.
func seek(after *uuid.UUID) uuid.UUID {
	if after == nil {
		return uuid.Nil
	}
	return *after
}
