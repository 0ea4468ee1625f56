package ocpi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
	"github.com/gofiber/fiber/v2"
)

// Validation tags registered on the validator, for the OCPI string types
// (types.asciidoc) and identifiers. Use them in `validate:"…"` struct tags
// next to validator's own (required, max=n, oneof=…, dive, omitempty).
//
//	cistring      CiString: printable ASCII only, U+0020–U+007E (types → "CiString type")
//	ocpi_string   string: printable UTF-8, no control characters (types → "string type")
//	ocpi_country  country code, CiString(2): two ASCII letters, any case
//	ocpi_party    party id, CiString(3): three ASCII letters or digits
//	ocpi_token    credentials token: printable ASCII without whitespace, U+0021–U+007E
//	ocpi_url      URL (types → "URL type"): an absolute http or https URL with a host
//
// String lengths (CiString(n), string(n), URL = string(255)) are written as
// max=n; validator counts characters, which for ASCII equals bytes.
const (
	TagCiString = "cistring"
	TagString   = "ocpi_string"
	TagCountry  = "ocpi_country"
	TagParty    = "ocpi_party"
	TagToken    = "ocpi_token"
	TagURL      = "ocpi_url"
)

var (
	validateOnce sync.Once
	validate     *validator.Validate
)

// Validator returns the shared validator with the OCPI tags registered and
// JSON field names in error paths. Module type files may register their own
// struct-level rules on it at init time.
func Validator() *validator.Validate {
	validateOnce.Do(func() {
		// A required struct (business_details) fails when it is absent.
		v := validator.New(validator.WithRequiredStructEnabled())
		v.RegisterTagNameFunc(func(f reflect.StructField) string {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				return ""
			}
			if name == "" {
				return f.Name
			}
			return name
		})
		must := func(tag string, fn func(string) bool) {
			if err := v.RegisterValidation(tag, func(fl validator.FieldLevel) bool {
				return fl.Field().Kind() == reflect.String && fn(fl.Field().String())
			}); err != nil {
				panic(err)
			}
		}
		must(TagCiString, IsCiString)
		must(TagString, IsPrintableString)
		must(TagCountry, IsCountryCode)
		must(TagParty, IsPartyID)
		must(TagToken, isTokenString)
		must(TagURL, IsURL)
		v.RegisterStructValidation(credentialsRolesUnique, Credentials{})
		validate = v
	})
	return validate
}

// IsCiString reports whether s is a valid CiString: printable ASCII only
// (types → "CiString type": carriage returns, tabs, line breaks are not
// allowed).
func IsCiString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// IsPrintableString reports whether s is a valid OCPI string: printable
// UTF-8 (types → "string type": carriage returns, tabs, line breaks etc.
// are not allowed).
func IsPrintableString(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

// IsURL reports whether s is an absolute http(s) URL with a host, the only
// kind of URL an OCPI peer can call (types → "URL type").
func IsURL(s string) bool {
	if !IsCiString(s) || strings.Contains(s, " ") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	return strings.EqualFold(u.Scheme, "https") || strings.EqualFold(u.Scheme, "http")
}

// Decode decodes a request body into v (a pointer) and validates it; it is
// Unmarshal followed by Validate.
func Decode(body []byte, v any) error {
	if err := Unmarshal(body, v); err != nil {
		return err
	}
	return Validate(v)
}

// Unmarshal decodes JSON into v (a pointer) the way OCPI wants it:
//   - a body that is not JSON is HTTP 400 (status_codes: "When a message
//     does not contain a valid JSON string, the HTTP error 400 - Bad request
//     MUST be returned") with status 2001;
//   - a JSON value of the wrong type for a field (a number for a string, a
//     malformed DateTime, a quoted number) is 2001 with HTTP 200 (the request
//     reached the OCPI layer), naming the field by its JSON path
//     ("roles[0].business_details.name");
//   - unknown fields are ignored: a receiver must tolerate fields added by
//     later versions or custom modules.
//
// Like encoding/json it decodes on top of what v holds (fields absent from
// the body keep their value, slice elements are reused), so pass a zero
// value unless that merge is intended.
func Unmarshal(body []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("ocpi: Unmarshal needs a non-nil pointer, got %T", v)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return Fail(fiber.StatusBadRequest, StatusInvalidParams, "request body is empty, a JSON value is required")
	}
	if !json.Valid(body) {
		var se *json.SyntaxError
		msg := "request body is not valid JSON"
		if err := json.Unmarshal(body, new(any)); errors.As(err, &se) {
			msg += fmt.Sprintf(" (at byte %d: %s)", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
		}
		return Fail(fiber.StatusBadRequest, StatusInvalidParams, msg)
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	path, cause := locate(rv.Type().Elem(), body, "")
	if cause == nil {
		cause = err
	}
	if path == "" {
		path = "body"
	}
	return InvalidParam(path, describe(cause))
}

// locate finds the first JSON path at which raw fails to decode into a
// value of type t, descending into objects, arrays and maps. It returns
// ("", nil) when raw decodes. encoding/json reports neither array indices
// nor the field of an error returned by a json.Unmarshaler (DateTime,
// Number), so the path is found by decoding the parts one by one.
func locate(t reflect.Type, raw []byte, path string) (string, error) {
	err := json.Unmarshal(raw, reflect.New(t).Interface())
	if err == nil {
		return "", nil
	}
	if implementsUnmarshaler(t) {
		return path, err
	}
	et := t
	for et.Kind() == reflect.Pointer {
		et = et.Elem()
	}
	switch et.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return path, err
		}
		for _, f := range jsonFields(et) {
			fr, ok := lookupKey(obj, f.name)
			if !ok {
				continue
			}
			if p, e := locate(f.typ, fr, joinPath(path, f.name)); e != nil {
				return p, e
			}
		}
	case reflect.Slice, reflect.Array:
		var arr []json.RawMessage
		if json.Unmarshal(raw, &arr) != nil {
			return path, err
		}
		for i, er := range arr {
			if p, e := locate(et.Elem(), er, path+"["+strconv.Itoa(i)+"]"); e != nil {
				return p, e
			}
		}
	case reflect.Map:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return path, err
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			if p, e := locate(et.Elem(), obj[k], joinPath(path, k)); e != nil {
				return p, e
			}
		}
	}
	return path, err
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func implementsUnmarshaler(t reflect.Type) bool {
	return t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)
}

type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields lists the JSON-visible fields of struct type t, with embedded
// structs without a json name flattened, as encoding/json does.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, jsonFields(ft)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, typ: f.Type})
	}
	return out
}

// lookupKey finds key in obj, preferring an exact match and falling back to
// a case-insensitive one, as encoding/json matches keys to fields.
func lookupKey(obj map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	if v, ok := obj[key]; ok {
		return v, true
	}
	for k, v := range obj {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// describe turns a decoding error into a message without Go type names.
func describe(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "must be " + jsonKind(te.Type) + ", not " + te.Value
	}
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "json: "), "ocpi: ")
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}

// Validate checks v (a struct, a pointer to one, or a slice of them)
// against its validate tags and returns an InvalidParam-style error (2001,
// HTTP 200) listing every violation by JSON path, in field order:
// "invalid or missing parameters: roles[0].party_id: must be 3 letters or
// digits; url: is required".
func Validate(v any) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return InvalidParam("body", "is required")
		}
		rv = rv.Elem()
	}
	var msgs []string
	switch rv.Kind() {
	case reflect.Struct:
		m, err := violations(rv, "")
		if err != nil {
			return fmt.Errorf("ocpi: validate %T: %w", v, err)
		}
		msgs = m
	case reflect.Slice, reflect.Array:
		// validator's Var(…, "dive") does not validate struct elements, so
		// each element is validated on its own under its index.
		for i := 0; i < rv.Len(); i++ {
			ev := rv.Index(i)
			for ev.Kind() == reflect.Pointer && !ev.IsNil() {
				ev = ev.Elem()
			}
			if ev.Kind() != reflect.Struct {
				continue
			}
			m, err := violations(ev, "["+strconv.Itoa(i)+"]")
			if err != nil {
				return fmt.Errorf("ocpi: validate %T: %w", v, err)
			}
			msgs = append(msgs, m...)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return Fail(fiber.StatusOK, StatusInvalidParams, "invalid or missing parameters: "+strings.Join(msgs, "; "))
}

// violations validates the struct value rv and renders each violation as
// "path: message", with path prefixed by prefix.
func violations(rv reflect.Value, prefix string) ([]string, error) {
	err := Validator().Struct(rv.Interface())
	if err == nil {
		return nil, nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return nil, err
	}
	msgs := make([]string, 0, len(ves))
	for _, fe := range ves {
		p := fieldPath(fe)
		switch {
		case prefix == "":
		case p == "body":
			p = prefix
		default:
			p = prefix + "." + p
		}
		msgs = append(msgs, p+": "+violation(fe))
	}
	return msgs, nil
}

// fieldPath is the JSON path of a violation: the namespace without the
// name of the top-level struct.
func fieldPath(fe validator.FieldError) string {
	ns := fe.Namespace()
	if i := strings.IndexByte(ns, '.'); i >= 0 && !strings.HasPrefix(ns, "[") {
		ns = ns[i+1:]
	}
	if ns == "" {
		return "body"
	}
	return ns
}

// violation says what is wrong, in the words of the spec's types.
func violation(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "max":
		if fe.Kind() == reflect.Slice || fe.Kind() == reflect.Array || fe.Kind() == reflect.Map {
			return "must have at most " + fe.Param() + " elements"
		}
		if fe.Kind() == reflect.String {
			return "must be at most " + fe.Param() + " characters"
		}
		return "must be at most " + fe.Param()
	case "min":
		if fe.Kind() == reflect.Slice || fe.Kind() == reflect.Array || fe.Kind() == reflect.Map {
			return "must have at least " + fe.Param() + " element(s)"
		}
		if fe.Kind() == reflect.String {
			return "must be at least " + fe.Param() + " characters"
		}
		return "must be at least " + fe.Param()
	case "len":
		return "must be exactly " + fe.Param() + " characters"
	case "oneof":
		return "must be one of " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case TagCiString:
		return "must be printable ASCII (CiString)"
	case TagString:
		return "must be printable text without control characters"
	case TagCountry:
		return "must be a 2-letter ISO 3166 country code"
	case TagParty:
		return "must be 3 letters or digits (ISO 15118 party id)"
	case TagToken:
		return "must be printable ASCII without whitespace"
	case TagURL:
		return "must be an absolute http(s) URL"
	case "unique_role":
		return "duplicates another role with the same role, party_id and country_code"
	default:
		return "fails " + fe.Tag()
	}
}
