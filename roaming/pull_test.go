package roaming

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// cdrPartner serves total CDR ids in pages of limit, linking pages with
// Link headers in assorted but valid forms; fail, when set, may answer
// instead for a given offset.
func cdrPartner(t *testing.T, total, limit int, fail func(offset int, w http.ResponseWriter) bool) *partner {
	return newPartner(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		if fail != nil && fail(offset, w) {
			return
		}
		var ids []string
		for i := offset; i < min(offset+limit, total); i++ {
			ids = append(ids, fmt.Sprintf("CDR%d", i))
		}
		w.Header().Set("X-Total-Count", strconv.Itoa(total))
		w.Header().Set("X-Limit", strconv.Itoa(limit))
		if next := offset + limit; next < total {
			q := fmt.Sprintf("offset=%d&limit=%d", next, limit)
			switch (offset / limit) % 3 {
			case 0: // absolute, plain
				w.Header().Set("Link", fmt.Sprintf(`<http://%s/cdrs?%s>; rel="next"`, r.Host, q))
			case 1: // relative, after another link, unquoted rel
				w.Header().Set("Link", fmt.Sprintf(`</cdrs?offset=0&limit=%d>; rel="first",</cdrs?%s> ;rel=next`, limit, q))
			case 2: // second header line, rel list
				w.Header().Add("Link", `<http://`+r.Host+`/cdrs?offset=0>; rel=prev`)
				w.Header().Add("Link", fmt.Sprintf(`<http://%s/cdrs?%s>; title="a, b; c"; REL="last next"`, r.Host, q))
			}
		}
		writeEnv(w, 200, 1000, ids)
	})
}

func collect(ids *[]string) func(json.RawMessage, *Response) error {
	return func(data json.RawMessage, _ *Response) error {
		var page []string
		if err := json.Unmarshal(data, &page); err != nil {
			return err
		}
		*ids = append(*ids, page...)
		return nil
	}
}

func TestPagesFollowsLinks(t *testing.T) {
	p := cdrPartner(t, 7, 2, nil)
	var ids []string
	var totals []string
	err := NewClient(fastOpts(), nil).Pages(context.Background(), Target{Token: "t"}, p.URL+"/cdrs?offset=0&limit=2",
		func(data json.RawMessage, resp *Response) error {
			totals = append(totals, resp.Header.Get("X-Total-Count"))
			return collect(&ids)(data, resp)
		})
	require.NoError(t, err)
	require.Equal(t, []string{"CDR0", "CDR1", "CDR2", "CDR3", "CDR4", "CDR5", "CDR6"}, ids)
	require.EqualValues(t, 4, p.hits.Load())
	require.Equal(t, []string{"7", "7", "7", "7"}, totals)
	for i, want := range []string{"offset=0&limit=2", "offset=2&limit=2", "offset=4&limit=2", "offset=6&limit=2"} {
		r, _, _ := p.request(i)
		require.Equal(t, want, r.URL.RawQuery)
		require.Equal(t, "Token t", r.Header.Get("Authorization"))
	}
}

func TestPagesThreePagesStopsOnErrorAndResumes(t *testing.T) {
	p := cdrPartner(t, 6, 2, nil)
	c := NewClient(fastOpts(), nil)
	boom := errors.New("store down")
	var ids []string
	err := c.Pages(context.Background(), Target{Token: "t"}, p.URL+"/cdrs?offset=0&limit=2", func(data json.RawMessage, resp *Response) error {
		if len(ids) == 2 {
			return boom
		}
		return collect(&ids)(data, resp)
	})
	var pe *PageError
	require.ErrorAs(t, err, &pe)
	require.ErrorIs(t, err, boom)
	require.Equal(t, 2, pe.Page)
	require.Equal(t, p.URL+"/cdrs?offset=2&limit=2", pe.NextURL)
	require.Equal(t, []string{"CDR0", "CDR1"}, ids)
	require.EqualValues(t, 2, p.hits.Load())

	// Resuming from NextURL processes the failed page and the rest.
	require.NoError(t, c.Pages(context.Background(), Target{Token: "t"}, pe.NextURL, collect(&ids)))
	require.Equal(t, []string{"CDR0", "CDR1", "CDR2", "CDR3", "CDR4", "CDR5"}, ids)
	require.EqualValues(t, 4, p.hits.Load())
}

func TestPagesStopsOnFailedRequest(t *testing.T) {
	p := cdrPartner(t, 6, 2, func(offset int, w http.ResponseWriter) bool {
		if offset == 4 {
			writeEnv(w, 200, 2001, nil)
			return true
		}
		return false
	})
	var ids []string
	err := NewClient(fastOpts(), nil).Pages(context.Background(), Target{Token: "t"}, p.URL+"/cdrs?offset=0&limit=2", collect(&ids))
	var pe *PageError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 3, pe.Page)
	require.Equal(t, p.URL+"/cdrs?offset=4&limit=2", pe.NextURL)
	var oe *Error
	require.ErrorAs(t, err, &oe)
	require.Equal(t, KindOCPI, oe.Kind)
	require.Equal(t, 2001, oe.OCPIStatus)
	require.Len(t, ids, 4)
}

func TestPagesLoopGuard(t *testing.T) {
	p := newPartner(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("offset") == "1" {
			// Back to the first page, spelled relatively.
			w.Header().Set("Link", `</cdrs?offset=0>; rel="next"`)
		} else {
			w.Header().Set("Link", `</cdrs?offset=1>; rel="next"`)
		}
		writeEnv(w, 200, 1000, []string{})
	})
	pages := 0
	err := NewClient(fastOpts(), nil).Pages(context.Background(), Target{Token: "t"}, p.URL+"/cdrs?offset=0",
		func(json.RawMessage, *Response) error { pages++; return nil })
	require.ErrorIs(t, err, ErrPageLoop)
	var pe *PageError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, p.URL+"/cdrs?offset=0", pe.NextURL)
	require.Equal(t, 2, pages)
	require.EqualValues(t, 2, p.hits.Load())
}

func TestPagesMaxPages(t *testing.T) {
	p := newPartner(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		o, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		w.Header().Set("Link", fmt.Sprintf(`</cdrs?offset=%d>; rel="next"`, o+1))
		writeEnv(w, 200, 1000, []string{}) // empty pages still have next pages
	})
	opts := fastOpts()
	opts.MaxPages = 5
	err := NewClient(opts, nil).Pages(context.Background(), Target{Token: "t"}, p.URL+"/cdrs?offset=0",
		func(json.RawMessage, *Response) error { return nil })
	require.ErrorIs(t, err, ErrTooManyPages)
	var pe *PageError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, p.URL+"/cdrs?offset=5", pe.NextURL)
	require.Equal(t, 6, pe.Page)
	require.EqualValues(t, 5, p.hits.Load())
}

func TestPagesRefusesForeignLink(t *testing.T) {
	other := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) { writeEnv(w, 200, 1000, []string{}) })
	p := newPartner(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Link", `<`+other.URL+`/steal?offset=1>; rel="next"`)
		writeEnv(w, 200, 1000, []string{})
	})
	err := NewClient(fastOpts(), nil).Pages(context.Background(), Target{Token: "secret"}, p.URL+"/cdrs",
		func(json.RawMessage, *Response) error { return nil })
	require.ErrorIs(t, err, ErrForeignLink)
	require.Zero(t, other.hits.Load())
}

func TestPagesStopsOnCancel(t *testing.T) {
	p := cdrPartner(t, 6, 2, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := NewClient(fastOpts(), nil).Pages(ctx, Target{Token: "t"}, p.URL+"/cdrs?offset=0&limit=2",
		func(json.RawMessage, *Response) error { cancel(); return nil })
	require.ErrorIs(t, err, context.Canceled)
	var pe *PageError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, p.URL+"/cdrs?offset=2&limit=2", pe.NextURL)
	require.EqualValues(t, 1, p.hits.Load())
}

func TestPagesInvalidURL(t *testing.T) {
	err := NewClient(fastOpts(), nil).Pages(context.Background(), Target{}, "cdrs", func(json.RawMessage, *Response) error { return nil })
	var pe *PageError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "cdrs", pe.NextURL)
}

func TestNextLink(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   string
	}{
		{"spec example", []string{`<https://www.server.com/ocpi/cpo/2.2.1/cdrs/?offset=150&limit=50>; rel="next"`},
			"https://www.server.com/ocpi/cpo/2.2.1/cdrs/?offset=150&limit=50"},
		{"unquoted, no spaces", []string{`<https://a/x?o=1>;rel=next`}, "https://a/x?o=1"},
		{"lots of spaces", []string{`  < https://a/x?o=1 >  ;   rel = "next"  `}, "https://a/x?o=1"},
		{"several links", []string{`<https://a/first>; rel="first", <https://a/next>; rel="next", <https://a/last>; rel="last"`}, "https://a/next"},
		{"several headers", []string{`<https://a/prev>; rel="prev"`, `<https://a/next>; rel="next"`}, "https://a/next"},
		{"rel list, any case", []string{`<https://a/n>; rel="last NEXT"`}, "https://a/n"},
		{"comma in URL", []string{`<https://a/x?ids=1,2>; rel="next"`}, "https://a/x?ids=1,2"},
		{"quoted comma in other param", []string{`<https://a/p>; title="x, <https://evil/>; rel=next"; rel="prev", <https://a/n>; rel=next`}, "https://a/n"},
		{"escaped quote", []string{`<https://a/p>; title="a\"b, c"; rel=prev, <https://a/n>; rel="next"`}, "https://a/n"},
		{"nextpage is not next", []string{`<https://a/p>; rel="nextpage"`}, ""},
		{"rev is not rel", []string{`<https://a/p>; rev="next"`}, ""},
		{"no next", []string{`<https://a/p>; rel="prev"`}, ""},
		{"garbage then link", []string{`garbage; rel=next, <https://a/n>; rel=next`}, "https://a/n"},
		{"unterminated", []string{`<https://a/n; rel=next`}, ""},
		{"empty", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.values {
				h.Add("Link", v)
			}
			got, ok := nextLink(h)
			require.Equal(t, tc.want != "", ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func FuzzNextLink(f *testing.F) {
	for _, s := range []string{`<https://a/n>; rel="next"`, `<a>;rel=next,<b>;rel=prev`, `<x>; t="\"", <y>; rel=next`, `<`, `;=`, `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{"Link": {v}}
		got, ok := nextLink(h)
		if ok && (got == "" || len(got) >= len(v)) {
			t.Fatalf("%q gave %q", v, got)
		}
		// A next link appended after a well-formed separator is always found
		// when v itself has no next link.
		if !ok {
			h = http.Header{"Link": {v, `<https://a/n>; rel="next"`}}
			if got, ok := nextLink(h); !ok || got != "https://a/n" {
				t.Fatalf("%q then a next link gave %q", v, got)
			}
		}
	})
}
