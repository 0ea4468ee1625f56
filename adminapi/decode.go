package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"

	"github.com/roamnode/roamnode/domain/fault"
)

// body is a request body split into its top-level fields, so that unknown
// fields can be reported, field errors carry their path, and merge-update
// can apply RFC 7396 on the raw document.
type body map[string]json.RawMessage

// parseBody reads a JSON object; anything else is a 400 naming the problem.
func parseBody(raw []byte) (body, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, badRequest("malformed_json", "the request body must be a JSON object")
	}
	var b body
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&b); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, badRequest("malformed_json", "the request body must be a JSON object")
		}
		return nil, badRequest("malformed_json", "the request body is not valid JSON: "+err.Error())
	}
	if dec.More() {
		return nil, badRequest("malformed_json", "the request body has data after the JSON object")
	}
	if b == nil {
		return nil, badRequest("malformed_json", "the request body must be a JSON object")
	}
	return b, nil
}

func (b body) has(name string) bool { _, ok := b[name]; return ok }

// isNull reports whether the field is present with the JSON value null.
func (b body) isNull(name string) bool { return string(b[name]) == "null" }

// structInfo is what the decoder knows about an input struct type.
type structInfo struct {
	index     map[string]int // json name → field index
	multiline map[string]bool
}

var infoCache sync.Map // reflect.Type → *structInfo

func infoOf(t reflect.Type) *structInfo {
	if v, ok := infoCache.Load(t); ok {
		return v.(*structInfo)
	}
	si := &structInfo{index: map[string]int{}, multiline: map[string]bool{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		si.index[name] = i
		if f.Tag.Get("rn") == "multiline" {
			si.multiline[name] = true
		}
	}
	infoCache.Store(t, si)
	return si
}

// jsonNames lists the json names of a struct type's fields.
func jsonNames(v any) []string {
	si := infoOf(reflect.TypeOf(v))
	names := make([]string, 0, len(si.index))
	for n := range si.index {
		names = append(names, n)
	}
	return names
}

// unknownFields returns the body's fields that none of the known names
// match, sorted, for the X-RN-Unknown-Fields header (003 → Unknown fields).
func unknownFields(b body, known ...[]string) []string {
	var out []string
	for k := range b {
		found := false
		for _, ks := range known {
			if slices.Contains(ks, k) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// decodeInto decodes each known field of doc into dst (a pointer to a
// struct), collecting every problem with its field path. Fields not in dst
// are skipped (they were reported as unknown). Strings are then trimmed and
// refused when they hold control characters (003 → Data types → Strings);
// an optional string that is empty after trimming becomes null.
func decodeInto(doc body, dst any) error {
	v := reflect.ValueOf(dst).Elem()
	si := infoOf(v.Type())
	var fs fault.Fields
	names := make([]string, 0, len(doc))
	for k := range doc {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		i, ok := si.index[name]
		if !ok {
			continue
		}
		fv := v.Field(i)
		if err := json.Unmarshal(doc[name], fv.Addr().Interface()); err != nil {
			fs.Add(name, "%s", typeMessage(err, fv.Type()))
			continue
		}
		normalizeStrings(&fs, name, fv, si.multiline[name])
	}
	return fs.Err()
}

// typeMessage turns a JSON decoding error into a message for the field.
func typeMessage(err error, t reflect.Type) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("must be %s, not %s", describe(t), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "is not valid JSON"
	}
	return err.Error()
}

func describe(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Slice:
		return "an array of " + strings.TrimPrefix(describe(t.Elem()), "a ")
	case reflect.Struct:
		if t.Name() == "Time" {
			return "an RFC 3339 date-time string"
		}
		return "an object"
	}
	return t.String()
}

// normalizeStrings trims and checks string values in place.
func normalizeStrings(fs *fault.Fields, path string, v reflect.Value, multiline bool) {
	switch v.Kind() {
	case reflect.String:
		s := strings.TrimSpace(v.String())
		if bad, found := controlChar(s, multiline); found {
			fs.Add(path, "must not contain control characters (found U+%04X)", bad)
		}
		v.SetString(s)
	case reflect.Pointer:
		if v.IsNil() || v.Elem().Kind() != reflect.String {
			return
		}
		normalizeStrings(fs, path, v.Elem(), multiline)
		if v.Elem().String() == "" {
			v.Set(reflect.Zero(v.Type()))
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return
		}
		for i := 0; i < v.Len(); i++ {
			normalizeStrings(fs, fmt.Sprintf("%s[%d]", path, i), v.Index(i), multiline)
		}
	}
}

// controlChar returns the first control character in s (tab and newline
// are allowed in multiline fields); found is false when there is none.
func controlChar(s string, multiline bool) (r rune, found bool) {
	for _, r := range s {
		if multiline && (r == '\t' || r == '\n') {
			continue
		}
		if unicode.IsControl(r) {
			return r, true
		}
	}
	return 0, false
}
