package ocpi

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Query parameters of paginated GETs (transport_and_format → "Paginated
// Request").
const (
	ParamOffset   = "offset"
	ParamLimit    = "limit"
	ParamDateFrom = "date_from"
	ParamDateTo   = "date_to"
)

// Page is the pagination of one list request (transport_and_format →
// "Paginated Request"). The caller selects the objects with
// DateFrom <= last_updated < DateTo (either bound absent when nil), orders
// them oldest first (spec: "best practice to return the oldest objects
// first") and returns at most Limit of them starting at Offset.
type Page struct {
	// Offset of the first object returned; 0 when absent.
	Offset int
	// Limit is the number of objects the server will return at most: the
	// client's limit clamped to the server maximum, or the maximum when the
	// client gave none. It is the X-Limit header value.
	Limit int
	// DateFrom is the inclusive lower bound on last_updated, or nil.
	DateFrom *DateTime
	// DateTo is the exclusive upper bound on last_updated, or nil.
	DateTo *DateTime
}

// ParsePage reads offset, limit, date_from and date_to from the query of c.
// offset and limit are non-negative decimal integers; a limit above maxLimit
// (or no limit) becomes maxLimit, since the server may "limit the maximum
// number of objects to return" and reports that limit in X-Limit. A limit of
// 0 asks for no objects (only X-Total-Count). Dates are OCPI DateTimes
// (RFC 3339; no zone means UTC). A malformed value is an InvalidParam
// error (2001) naming the parameter.
func ParsePage(c *fiber.Ctx, maxLimit int) (Page, error) {
	if maxLimit < 1 {
		maxLimit = 1
	}
	p := Page{Limit: maxLimit}
	args := c.Request().URI().QueryArgs()
	if args.Has(ParamOffset) {
		n, err := parseNonNegative(string(args.Peek(ParamOffset)))
		if err != nil {
			return Page{}, InvalidParam(ParamOffset, err.Error())
		}
		p.Offset = n
	}
	if args.Has(ParamLimit) {
		n, err := parseNonNegative(string(args.Peek(ParamLimit)))
		if err != nil {
			return Page{}, InvalidParam(ParamLimit, err.Error())
		}
		p.Limit = min(n, maxLimit)
	}
	for _, d := range [...]struct {
		name string
		dst  **DateTime
	}{{ParamDateFrom, &p.DateFrom}, {ParamDateTo, &p.DateTo}} {
		if !args.Has(d.name) {
			continue
		}
		t, err := parseQueryDateTime(string(args.Peek(d.name)))
		if err != nil {
			return Page{}, InvalidParam(d.name, "must be an RFC 3339 date-time such as 2019-01-28T12:00:00Z")
		}
		*d.dst = &t
	}
	return p, nil
}

// parseNonNegative parses a non-negative decimal int ("+" signs, spaces and
// values beyond int32 are refused).
func parseNonNegative(s string) (int, error) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, errNotNonNegative
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, errNotNonNegative
	}
	return int(n), nil
}

// errNotNonNegative is the message of a bad offset or limit.
var errNotNonNegative = pageError("must be a non-negative integer")

type pageError string

func (e pageError) Error() string { return string(e) }

// parseQueryDateTime parses a date-time query value. A client that did not
// percent-encode the "+" of a zone offset sends it as a space (form
// encoding); it is put back before giving up.
func parseQueryDateTime(s string) (DateTime, error) {
	t, err := ParseDateTime(s)
	if err != nil && strings.Contains(s, " ") {
		return ParseDateTime(strings.ReplaceAll(s, " ", "+"))
	}
	return t, err
}

// Within reports whether last_updated t is inside the page's date window:
// DateFrom <= t < DateTo (transport_and_format: date_from inclusive,
// date_to exclusive). For callers that filter in memory.
func (p Page) Within(t DateTime) bool {
	if p.DateFrom != nil && t.Before(p.DateFrom.Time) {
		return false
	}
	if p.DateTo != nil && !t.Before(p.DateTo.Time) {
		return false
	}
	return true
}

// WritePage writes the success envelope (1000) of a paginated GET with
// data (the objects of this page) and the headers of transport_and_format
// → "Paginated Response":
//   - X-Total-Count: total, the number of objects matching the query
//     (date filters included, offset and limit excluded);
//   - X-Limit: p.Limit;
//   - Link: <next>; rel="next" when objects remain after this page
//     (p.Offset+p.Limit < total), where next is the absolute URL of the
//     request with offset = p.Offset+p.Limit, limit = p.Limit, and every
//     other query parameter kept as the client sent it.
//
// publicBase is the node's public base URL ("https://node.example.com",
// possibly with a path prefix), because behind a proxy only the configured
// public URL is right; when empty, the request's own scheme and host are
// used.
func WritePage(c *fiber.Ctx, publicBase string, p Page, total int, data any) error {
	c.Set(HeaderTotalCount, strconv.Itoa(total))
	c.Set(HeaderLimit, strconv.Itoa(p.Limit))
	if p.Limit > 0 && p.Offset < total-p.Limit {
		c.Set(HeaderLink, "<"+nextURL(c, publicBase, p.Offset+p.Limit, p.Limit)+`>; rel="next"`)
	} else {
		c.Response().Header.Del(HeaderLink)
	}
	if data == nil {
		// A list endpoint's data is an array (card. *), never absent.
		data = []any{}
	}
	return OK(c, data)
}

// nextURL builds the next page URL: base + the request path as received +
// "?offset=…&limit=…" + the other query parameters in their original order
// and encoding, re-escaping only bytes that may not appear in a URI query.
func nextURL(c *fiber.Ctx, publicBase string, offset, limit int) string {
	base := strings.TrimRight(publicBase, "/")
	if base == "" {
		base = c.BaseURL()
	}
	uri := c.OriginalURL()
	path, query, _ := strings.Cut(uri, "?")
	var b strings.Builder
	b.WriteString(base)
	b.WriteString(path)
	b.WriteString("?offset=")
	b.WriteString(strconv.Itoa(offset))
	b.WriteString("&limit=")
	b.WriteString(strconv.Itoa(limit))
	for _, seg := range strings.Split(query, "&") {
		if seg == "" {
			continue
		}
		key, _, _ := strings.Cut(seg, "=")
		if key == ParamOffset || key == ParamLimit {
			continue
		}
		b.WriteByte('&')
		writeQuerySafe(&b, seg)
	}
	return b.String()
}

// writeQuerySafe writes s, percent-encoding every byte that RFC 3986 does
// not allow in a query (so that the URL can sit between "<" and ">" in a
// Link header). Existing %XX escapes are kept.
func writeQuerySafe(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if isQueryByte(ch) {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[ch>>4])
		b.WriteByte(hex[ch&15])
	}
}

// isQueryByte reports whether ch may appear unescaped in a URI query
// (RFC 3986: unreserved, sub-delims, ":", "@", "/", "?", and "%" of an
// existing escape).
func isQueryByte(ch byte) bool {
	switch {
	case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/?%", ch) >= 0
}

// NextLink returns the target of the rel="next" link in a Link header
// value (RFC 8288), as a paginating client needs it (transport_and_format
// → "Pagination Examples"). It accepts several comma-separated links (join
// repeated Link headers with ", " first), optional spaces, quoted or bare
// rel values, several relation types in one rel ("next last"), any case,
// and commas inside the URI. It returns false when there is no next link.
func NextLink(header string) (string, bool) {
	s := header
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			return "", false
		}
		s = s[i+1:]
		j := strings.IndexByte(s, '>')
		if j < 0 {
			return "", false
		}
		target := strings.TrimSpace(s[:j])
		s = s[j+1:]
		// Parameters run up to the next "," outside quotes.
		params, rest := splitLinkParams(s)
		s = rest
		for _, prm := range params {
			name, val, ok := strings.Cut(prm, "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(name), "rel") {
				continue
			}
			val = strings.Trim(strings.TrimSpace(val), `"`)
			for _, rel := range strings.Fields(val) {
				if strings.EqualFold(rel, "next") && target != "" {
					return target, true
				}
			}
		}
	}
}

// splitLinkParams splits the ";"-separated parameters after a link target
// up to the "," that ends the link-value, honouring quoted strings. It
// returns the parameters and the rest of the header after that ",".
func splitLinkParams(s string) (params []string, rest string) {
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '"':
			inQuote = !inQuote
		case ch == '\\' && inQuote:
			i++
		case ch == ';' && !inQuote:
			if p := strings.TrimSpace(s[start:i]); p != "" {
				params = append(params, p)
			}
			start = i + 1
		case ch == ',' && !inQuote:
			if p := strings.TrimSpace(s[start:i]); p != "" {
				params = append(params, p)
			}
			return params, s[i+1:]
		}
	}
	if p := strings.TrimSpace(s[start:]); p != "" {
		params = append(params, p)
	}
	return params, ""
}
