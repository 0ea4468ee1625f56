package adminapi_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestSeekPagination(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, adm := h.tenant()
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, h.customer(adm, map[string]any{"country": []string{"NL", "BE"}[i%2]}).str("id"))
	}
	base := "/main/v1/customer?administration_id=" + adm

	// Walk every page via link_next; items come in id order, none repeat.
	var seen []string
	link := base + "&page_size=3"
	for pages := 0; pages < 10; pages++ {
		r := h.must(200, h.do("GET", link, nil))
		require.Equal(t, float64(3), r.JSON["page_size"])
		for _, it := range r.items() {
			seen = append(seen, it["id"].(string))
		}
		next := r.str("link_next")
		require.Contains(t, string(r.Raw), `&page_size=3`, "links keep a literal & (no HTML escaping)")
		require.Equal(t, "<"+next+`>; rel="next"`, r.Header.Get("Link"))
		u, err := url.Parse(next)
		require.NoError(t, err)
		require.Equal(t, "/main/v1/customer", u.Path)
		require.Equal(t, adm, u.Query().Get("administration_id"), "filters carry over")
		require.Equal(t, "3", u.Query().Get("page_size"))
		if len(r.items()) < 3 {
			// Polling: an empty or short page still links to "after the last seen".
			break
		}
		link = next
	}
	require.Equal(t, ids, seen)
	// after is strict: after the last id the page is empty, and links to itself.
	r := h.must(200, h.do("GET", base+"&after="+ids[6], nil))
	require.Empty(t, r.items())
	require.Contains(t, r.str("link_next"), "after="+ids[6])
	r = h.must(200, h.do("GET", base+"&after="+ids[2], nil))
	require.Len(t, r.items(), 4)
	require.Equal(t, ids[3], r.items()[0]["id"])

	// Filters combine with AND.
	r = h.must(200, h.do("GET", base+"&country=BE", nil))
	require.Len(t, r.items(), 3)
	r = h.must(200, h.do("GET", base+"&country=BE&entity_type=organisation", nil))
	require.Empty(t, r.items())

	// Default and bounds of page_size.
	r = h.must(200, h.do("GET", base, nil))
	require.Equal(t, float64(500), r.JSON["page_size"])
	for _, ps := range []string{"0", "1001", "x", "-1"} {
		bad := h.must(400, h.do("GET", base+"&page_size="+ps, nil))
		require.Equal(t, []string{"page_size"}, bad.fields())
	}
	// An id of another resource is not a valid after, even one this node
	// has seen.
	h.must(400, h.do("GET", "/main/v1/seller?after="+ids[0], nil))
	// Unknown after: 400, as is a malformed one.
	bad := h.must(400, h.do("GET", base+"&after="+uuid.NewString(), nil))
	require.Equal(t, []string{"after"}, bad.fields())
	h.must(400, h.do("GET", base+"&after=nope", nil))
	// A misspelt filter is refused instead of silently returning everything.
	bad = h.must(400, h.do("GET", "/main/v1/customer?contry=NL", nil))
	require.Equal(t, []string{"contry"}, bad.fields())
	h.must(400, h.do("GET", "/main/v1/customer?administration_id=nope", nil))
	// Filter values that can never match are refused, not answered with an empty page.
	for _, q := range []string{"country=Netherlands", "entity_type=robot", "after={" + ids[0] + "}", "administration_id=urn:uuid:" + adm} {
		h.must(400, h.do("GET", "/main/v1/customer?"+q, nil))
	}
	h.must(400, h.do("GET", "/main/v1/administration?currency=EURO", nil))
	h.must(400, h.do("GET", "/main/v1/customer/"+strings.ReplaceAll(ids[0], "-", ""), nil))
	// created_gte / created_lt.
	c0 := h.must(200, h.do("GET", "/main/v1/customer/"+ids[0], nil)).str("created_at")
	r = h.must(200, h.do("GET", base+"&created_lt="+url.QueryEscape(c0), nil))
	require.Empty(t, r.items())
}

func TestCreatedGT(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, adm := h.tenant()
	first := h.customer(adm, nil).str("id")
	time.Sleep(5 * time.Millisecond) // distinct milliseconds: created_at is the id's timestamp
	mid := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	second := h.customer(adm, nil).str("id")
	third := h.customer(adm, nil).str("id")

	r := h.must(200, h.do("GET", "/main/v1/customer?created_gt="+url.QueryEscape(mid.Format(time.RFC3339Nano)), nil))
	require.Empty(t, r.items(), "created_gt returns no items, only a link")
	link := r.str("link_next")
	require.Equal(t, "<"+link+`>; rel="next"`, r.Header.Get("Link"))
	// Following the link (with the administration filter appended, as the
	// guide suggests) yields exactly the customers created after mid.
	r = h.must(200, h.do("GET", link+"&administration_id="+adm, nil))
	var got []string
	for _, it := range r.items() {
		got = append(got, it["id"].(string))
	}
	require.Equal(t, []string{second, third}, got)
	require.NotContains(t, got, first)

	// Nothing created after: 400. Combined with other parameters: 400.
	h.must(400, h.do("GET", "/main/v1/customer?created_gt="+url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), nil))
	bad := h.must(400, h.do("GET", "/main/v1/customer?created_gt="+url.QueryEscape(mid.Format(time.RFC3339))+"&page_size=10", nil))
	require.Equal(t, []string{"created_gt"}, bad.fields())
	h.must(400, h.do("GET", "/main/v1/customer?created_gt=yesterday", nil))
}
