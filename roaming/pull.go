package roaming

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Errors a Pages walk ends with, inside a *PageError.
var (
	// ErrPageLoop: a next-page link points to a page already fetched in
	// this walk.
	ErrPageLoop = errors.New("roaming: pagination loops: next page was already fetched")
	// ErrTooManyPages: the walk reached Options.MaxPages.
	ErrTooManyPages = errors.New("roaming: pagination exceeds the maximum number of pages")
	// ErrForeignLink: a next-page link points to another scheme or host
	// than the first page; following it would send our token there.
	ErrForeignLink = errors.New("roaming: next page link points to another host")
)

// PageError ends a Pages walk that did not reach the last page. NextURL is
// the page to resume from: the page whose fetch or processing failed (so a
// resumed walk processes it again, and each must be idempotent), or, for
// ErrTooManyPages, the first page not fetched.
type PageError struct {
	NextURL string
	// Page is the 1-based number of that page in the walk that failed.
	Page int
	Err  error
}

// Error implements error.
func (e *PageError) Error() string {
	return fmt.Sprintf("roaming: page %d (%s): %v", e.Page, e.NextURL, e.Err)
}

// Unwrap returns the cause: an *Error, the error each returned,
// ErrPageLoop, ErrTooManyPages, ErrForeignLink or the context's error.
func (e *PageError) Unwrap() error { return e.Err }

// Pages GETs url and then each next page (transport_and_format,
// Pagination: the Link header with rel="next" is present when the page is
// not the last), calling each with the envelope's data and the response of
// every page, one page at a time: a page is released before the next is
// fetched. The walk stops at the last page (nil), when each fails, when a
// request fails (after Do's retries), when ctx ends, when a link points to a
// page already fetched or to another host, or after Options.MaxPages pages;
// it then returns a *PageError saying where to resume. A relative link is
// resolved against the page that carried it.
//
// A page may hold no objects and still have a next page: a server may leave
// out objects that do not belong to the client (transport_and_format, GET).
func (c *Client) Pages(ctx context.Context, t Target, url string, each func(data json.RawMessage, resp *Response) error) error {
	origin, err := parseAbsolute(url)
	if err != nil {
		return &PageError{NextURL: url, Page: 1, Err: err}
	}
	cur := origin.String()
	seen := map[string]struct{}{}
	for page := 1; ; page++ {
		if page > c.opts.MaxPages {
			return &PageError{NextURL: cur, Page: page, Err: ErrTooManyPages}
		}
		if err := ctx.Err(); err != nil {
			return &PageError{NextURL: cur, Page: page, Err: err}
		}
		seen[cur] = struct{}{}
		resp, err := c.Do(ctx, t, http.MethodGet, cur, nil)
		if err != nil {
			return &PageError{NextURL: cur, Page: page, Err: err}
		}
		if err := each(resp.Envelope.Data, resp); err != nil {
			return &PageError{NextURL: cur, Page: page, Err: err}
		}
		link, ok := nextLink(resp.Header)
		if !ok {
			return nil
		}
		next, err := resolveLink(origin, cur, link)
		if err != nil {
			return &PageError{NextURL: link, Page: page + 1, Err: err}
		}
		if _, dup := seen[next]; dup {
			return &PageError{NextURL: next, Page: page + 1, Err: ErrPageLoop}
		}
		cur = next
	}
}

// parseAbsolute parses an absolute http(s) URL.
func parseAbsolute(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("roaming: invalid URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("roaming: URL %q is not an absolute http(s) URL", raw)
	}
	return u, nil
}

// resolveLink resolves link against the current page and checks that it
// stays on the origin of the walk.
func resolveLink(origin *url.URL, cur, link string) (string, error) {
	base, err := url.Parse(cur)
	if err != nil {
		return "", err
	}
	ref, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("roaming: invalid next page link: %w", err)
	}
	next := base.ResolveReference(ref)
	if !strings.EqualFold(next.Scheme, origin.Scheme) || !strings.EqualFold(next.Host, origin.Host) {
		return "", ErrForeignLink
	}
	next.Fragment, next.RawFragment = "", ""
	return next.String(), nil
}

// nextLink returns the target of the first link with relation "next" in
// the Link headers of h (RFC 8288 section 3: link-value = "<" URI-Reference
// ">" *( OWS ";" OWS link-param ); several link-values per header separated
// by commas, several headers; rel may be quoted and may list several
// space-separated relation types, compared case-insensitively).
func nextLink(h http.Header) (string, bool) {
	for _, v := range h.Values("Link") {
		if u, ok := nextInLinkValue(v); ok {
			return u, true
		}
	}
	return "", false
}

// nextInLinkValue scans one Link header value.
func nextInLinkValue(s string) (string, bool) {
	i := 0
	for i < len(s) {
		// Start of a link-value: skip separators up to '<'.
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
			i++
		}
		if i >= len(s) {
			break
		}
		if s[i] != '<' {
			i = skipToComma(s, i)
			continue
		}
		end := strings.IndexByte(s[i:], '>')
		if end < 0 {
			break // unterminated URI: nothing usable follows
		}
		target := strings.TrimSpace(s[i+1 : i+end])
		i += end + 1
		isNext := false
		// Parameters up to the next comma outside quotes.
		for i < len(s) && s[i] != ',' {
			if s[i] != ';' {
				i++
				continue
			}
			i = skipOWS(s, i+1)
			nameStart := i
			for i < len(s) && s[i] != '=' && s[i] != ';' && s[i] != ',' && s[i] != ' ' && s[i] != '\t' {
				i++
			}
			name := s[nameStart:i]
			i = skipOWS(s, i)
			if i >= len(s) || s[i] != '=' {
				continue
			}
			i = skipOWS(s, i+1)
			var val string
			val, i = paramValue(s, i)
			if strings.EqualFold(name, "rel") {
				for _, rel := range strings.Fields(val) {
					if strings.EqualFold(rel, "next") {
						isNext = true
					}
				}
			}
		}
		if isNext && target != "" {
			return target, true
		}
	}
	return "", false
}

// paramValue reads a link-param value at s[i]: a quoted-string (with
// backslash escapes) or a token; it returns the value and the index after it.
func paramValue(s string, i int) (string, int) {
	if i < len(s) && s[i] == '"' {
		var b strings.Builder
		for i++; i < len(s); i++ {
			switch s[i] {
			case '\\':
				if i+1 < len(s) {
					i++
					b.WriteByte(s[i])
				}
			case '"':
				return b.String(), i + 1
			default:
				b.WriteByte(s[i])
			}
		}
		return b.String(), i
	}
	start := i
	for i < len(s) && s[i] != ';' && s[i] != ',' && s[i] != ' ' && s[i] != '\t' {
		i++
	}
	return s[start:i], i
}

// skipOWS skips spaces and tabs.
func skipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// skipToComma returns the index of the next comma at or after i outside
// quotes, or len(s).
func skipToComma(s string, i int) int {
	inQuote := false
	for ; i < len(s); i++ {
		switch {
		case inQuote && s[i] == '\\':
			i++
		case s[i] == '"':
			inQuote = !inQuote
		case !inQuote && s[i] == ',':
			return i
		}
	}
	return i
}
