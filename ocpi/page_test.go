package ocpi

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
)

func parsePage(t *testing.T, query string, maxLimit int) (Page, *Error) {
	t.Helper()
	app := testApp()
	var p Page
	var perr error
	app.Get("/p", func(c *fiber.Ctx) error {
		p, perr = ParsePage(c, maxLimit)
		return nil
	})
	_, err := app.Test(httptest.NewRequest("GET", "/p?"+query, nil), -1)
	require.NoError(t, err)
	if perr != nil {
		oe, ok := perr.(*Error)
		require.True(t, ok, "%T", perr)
		return p, oe
	}
	return p, nil
}

func dt(s string) *DateTime {
	d, err := ParseDateTime(s)
	if err != nil {
		panic(err)
	}
	return &d
}

func TestParsePage(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  Page
	}{
		{"", Page{Offset: 0, Limit: 100}},
		{"offset=150&limit=50", Page{Offset: 150, Limit: 50}},
		{"limit=2000", Page{Limit: 100}}, // clamped: the server uses its maximum
		{"limit=100", Page{Limit: 100}},
		{"limit=0", Page{Limit: 0}},
		{"offset=0", Page{Limit: 100}},
		{"date_from=2016-01-01T00:00:00Z&date_to=2016-12-31T23:59:59Z",
			Page{Limit: 100, DateFrom: dt("2016-01-01T00:00:00Z"), DateTo: dt("2016-12-31T23:59:59Z")}},
		// No zone means UTC; an offset is converted to UTC.
		{"date_from=2019-01-28T12:00:00", Page{Limit: 100, DateFrom: dt("2019-01-28T12:00:00Z")}},
		{"date_to=2019-01-28T13:00:00%2B01:00", Page{Limit: 100, DateTo: dt("2019-01-28T12:00:00Z")}},
		// An unencoded "+" arrives as a space.
		{"date_to=2019-01-28T13:00:00+01:00", Page{Limit: 100, DateTo: dt("2019-01-28T12:00:00Z")}},
		{"date_from=2016-12-29T17:45:09.2Z", Page{Limit: 100, DateFrom: dt("2016-12-29T17:45:09.2Z")}},
		{"unrelated=1&offset=3", Page{Offset: 3, Limit: 100}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			p, err := parsePage(t, tc.query, 100)
			require.Nil(t, err)
			require.Equal(t, tc.want.Offset, p.Offset)
			require.Equal(t, tc.want.Limit, p.Limit)
			eqDT(t, tc.want.DateFrom, p.DateFrom)
			eqDT(t, tc.want.DateTo, p.DateTo)
		})
	}
}

func eqDT(t *testing.T, want, got *DateTime) {
	t.Helper()
	if want == nil {
		require.Nil(t, got)
		return
	}
	require.NotNil(t, got)
	require.True(t, want.Equal(got.Time), "want %s, got %s", want, got)
	require.Equal(t, time.UTC, got.Location())
}

func TestParsePageErrors(t *testing.T) {
	for _, tc := range []struct{ query, param string }{
		{"offset=-1", "offset"},
		{"offset=abc", "offset"},
		{"offset=", "offset"},
		{"offset=1.5", "offset"},
		{"offset=%2B1", "offset"},
		{"offset=99999999999999999999", "offset"},
		{"limit=-5", "limit"},
		{"limit=ten", "limit"},
		{"date_from=yesterday", "date_from"},
		{"date_to=2016-13-01T00:00:00Z", "date_to"},
		{"date_to=2016-01-01", "date_to"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			_, err := parsePage(t, tc.query, 100)
			require.NotNil(t, err)
			require.Equal(t, StatusInvalidParams, err.Code)
			require.Equal(t, 200, err.HTTP)
			require.Regexp(t, "^"+tc.param+": ", err.Message)
		})
	}
}

func TestPageWithin(t *testing.T) {
	p, err := parsePage(t, "date_from=2016-01-01T00:00:00Z&date_to=2016-02-01T00:00:00Z", 10)
	require.Nil(t, err)
	require.True(t, p.Within(*dt("2016-01-01T00:00:00Z")), "date_from is inclusive")
	require.True(t, p.Within(*dt("2016-01-31T23:59:59.999Z")))
	require.False(t, p.Within(*dt("2016-02-01T00:00:00Z")), "date_to is exclusive")
	require.False(t, p.Within(*dt("2015-12-31T23:59:59Z")))
	require.True(t, Page{}.Within(*dt("1999-01-01T00:00:00Z")))
}

// listApp serves /ocpi/2.2.1/cpo/cdrs from a list of n items.
func listApp(n, maxLimit int, publicBase string) *fiber.App {
	app := testApp()
	app.Get("/ocpi/2.2.1/cpo/cdrs", func(c *fiber.Ctx) error {
		p, err := ParsePage(c, maxLimit)
		if err != nil {
			return err
		}
		items := []string{}
		for i := p.Offset; i < n && i < p.Offset+p.Limit; i++ {
			items = append(items, "cdr-"+strconv.Itoa(i))
		}
		return WritePage(c, publicBase, p, n, items)
	})
	return app
}

func TestWritePage(t *testing.T) {
	const base = "https://www.server.com"
	for _, tc := range []struct {
		name             string
		n, max           int
		path             string
		link             string // "" = none
		limit, first, nb int
	}{
		{"first page", 250, 50, "/ocpi/2.2.1/cpo/cdrs/?offset=100&limit=50", "https://www.server.com/ocpi/2.2.1/cpo/cdrs/?offset=150&limit=50", 50, 100, 50},
		{"filters kept", 250, 100, "/ocpi/2.2.1/cpo/cdrs/?date_from=2016-01-01T00:00:00Z&date_to=2016-12-31T23:59:59Z",
			"https://www.server.com/ocpi/2.2.1/cpo/cdrs/?offset=100&limit=100&date_from=2016-01-01T00:00:00Z&date_to=2016-12-31T23:59:59Z", 100, 0, 100},
		{"limit clamped", 250, 100, "/ocpi/2.2.1/cpo/cdrs/?limit=2000", "https://www.server.com/ocpi/2.2.1/cpo/cdrs/?offset=100&limit=100", 100, 0, 100},
		{"last page", 250, 100, "/ocpi/2.2.1/cpo/cdrs?offset=200", "", 100, 200, 50},
		{"exactly full last page", 200, 100, "/ocpi/2.2.1/cpo/cdrs?offset=100", "", 100, 100, 100},
		{"empty", 0, 100, "/ocpi/2.2.1/cpo/cdrs", "", 100, 0, 0},
		{"beyond the end", 10, 100, "/ocpi/2.2.1/cpo/cdrs?offset=50", "", 100, 0, 0},
		{"limit zero counts only", 10, 100, "/ocpi/2.2.1/cpo/cdrs?limit=0", "", 0, 0, 0},
		{"escaped filter kept, odd byte escaped", 3, 1, "/ocpi/2.2.1/cpo/cdrs?date_to=2019-01-28T13:00:00%2B01:00&x=a%3Eb&offset=1",
			"https://www.server.com/ocpi/2.2.1/cpo/cdrs?offset=2&limit=1&date_to=2019-01-28T13:00:00%2B01:00&x=a%3Eb", 1, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := listApp(tc.n, tc.max, base+"/")
			res, env, body := do(t, app, httptest.NewRequest("GET", tc.path, nil))
			require.Equal(t, 200, res.StatusCode)
			require.Equal(t, StatusSuccess, env.StatusCode)
			require.Equal(t, strconv.Itoa(tc.n), res.Header.Get("X-Total-Count"))
			require.Equal(t, strconv.Itoa(tc.limit), res.Header.Get("X-Limit"))
			if tc.link == "" {
				require.Empty(t, res.Header.Values("Link"))
			} else {
				require.Equal(t, "<"+tc.link+`>; rel="next"`, res.Header.Get("Link"))
				got, ok := NextLink(res.Header.Get("Link"))
				require.True(t, ok)
				require.Equal(t, tc.link, got)
			}
			var items []string
			require.NoError(t, json.Unmarshal(mustRaw(t, body, "data"), &items), "%s", body)
			require.Len(t, items, tc.nb)
			if tc.nb > 0 {
				require.Equal(t, fmt.Sprintf("cdr-%d", tc.first), items[0])
			}
		})
	}
}

// TestWritePageCrawl follows the Link headers like a client does and checks
// that every object is seen exactly once.
func TestWritePageCrawl(t *testing.T) {
	app := listApp(23, 5, "")
	seen := map[string]int{}
	next := "/ocpi/2.2.1/cpo/cdrs?date_from=2016-01-01T00:00:00Z"
	pages := 0
	for next != "" {
		res, _, body := do(t, app, httptest.NewRequest("GET", next, nil))
		var items []string
		require.NoError(t, json.Unmarshal(mustRaw(t, body, "data"), &items))
		for _, it := range items {
			seen[it]++
		}
		pages++
		link, ok := NextLink(res.Header.Get("Link"))
		if !ok {
			break
		}
		// Without a public URL the request's base is used.
		require.Regexp(t, `^http://example\.com/ocpi/2\.2\.1/cpo/cdrs\?offset=\d+&limit=5&date_from=2016-01-01T00:00:00Z$`, link)
		next = link[len("http://example.com"):]
	}
	require.Equal(t, 5, pages)
	require.Len(t, seen, 23)
	for k, v := range seen {
		require.Equal(t, 1, v, k)
	}
}

func TestNextLink(t *testing.T) {
	for _, tc := range []struct {
		header, want string
	}{
		{`<https://www.server.com/ocpi/cpo/2.2.1/cdrs/?offset=150&limit=50>; rel="next"`, "https://www.server.com/ocpi/cpo/2.2.1/cdrs/?offset=150&limit=50"},
		{`<https://a.example/x?offset=1>;rel=next`, "https://a.example/x?offset=1"},
		{`  < https://a.example/x >  ;  REL = "Next"  `, "https://a.example/x"},
		{`<https://a.example/first>; rel="first", <https://a.example/n?a=1,2>; rel="next"`, "https://a.example/n?a=1,2"},
		{`<https://a.example/prev>; rel="prev"; title="a, b; c", <https://a.example/n>; rel="next last"`, "https://a.example/n"},
		{`<https://a.example/n>; title="x"; rel="next"`, "https://a.example/n"},
		{`<https://a.example/p>; rel="prev"`, ""},
		{`<https://a.example/p>; rel="nextpage"`, ""},
		{`https://a.example/n; rel="next"`, ""},
		{`<https://a.example/n; rel="next"`, ""},
		{`<>; rel="next"`, ""},
		{``, ""},
	} {
		got, ok := NextLink(tc.header)
		require.Equal(t, tc.want != "", ok, tc.header)
		require.Equal(t, tc.want, got, tc.header)
	}
}

func FuzzNextLink(f *testing.F) {
	f.Add(`<https://a.example/n?a=1>; rel="next"`)
	f.Add(`<a>; rel="prev", <b>; rel=next`)
	f.Fuzz(func(t *testing.T, h string) {
		got, ok := NextLink(h)
		if ok {
			require.NotEmpty(t, got)
			require.NotContains(t, got, ">")
		}
	})
}
