// Package fault defines the typed errors that domain packages return. Each
// API surface maps them to its own wire form in exactly one place (the Admin
// API to a 400 with field paths, OCPI to a status code), so domain code never
// knows about HTTP.
package fault

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies a domain error for the surface mappers.
type Kind int

// The kinds of domain error.
const (
	// KindInvalid: the input breaks a rule; Fields says where.
	KindInvalid Kind = iota + 1
	// KindNotFound: a referenced record does not exist (or is not visible).
	KindNotFound
	// KindConflict: the request clashes with stored state (unique keys,
	// overlapping validity, wrong state for the operation).
	KindConflict
	// KindForbidden: the caller may not do this.
	KindForbidden
)

// Field is one problem with one input field. Path uses JSON-pointer-like
// dotted notation as the Admin API reports it ("billing.email", "items[2].uid").
type Field struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Error is a domain error with a kind, a stable machine code and optional
// per-field problems.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Fields  []Field
}

// Error implements error.
func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Path + ": " + f.Message
	}
	return e.Message + " (" + strings.Join(parts, "; ") + ")"
}

// Invalid returns a KindInvalid error for one field.
func Invalid(path, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Kind: KindInvalid, Code: "invalid", Message: "invalid input", Fields: []Field{{Path: path, Message: msg}}}
}

// NotFound returns a KindNotFound error; what names the missing thing.
func NotFound(code, format string, args ...any) *Error {
	return &Error{Kind: KindNotFound, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Conflict returns a KindConflict error.
func Conflict(code, format string, args ...any) *Error {
	return &Error{Kind: KindConflict, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Forbidden returns a KindForbidden error.
func Forbidden(format string, args ...any) *Error {
	return &Error{Kind: KindForbidden, Code: "forbidden", Message: fmt.Sprintf(format, args...)}
}

// Fields collects field problems while validating a whole input, so that a
// caller sees every problem at once instead of one per round trip.
type Fields []Field

// Add records a problem at path.
func (fs *Fields) Add(path, format string, args ...any) {
	*fs = append(*fs, Field{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Err returns nil when nothing was added, else a KindInvalid error.
func (fs Fields) Err() error {
	if len(fs) == 0 {
		return nil
	}
	return &Error{Kind: KindInvalid, Code: "invalid", Message: "invalid input", Fields: fs}
}

// As extracts a *Error from err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Is reports whether err is a domain error of kind k.
func Is(err error, k Kind) bool {
	e, ok := As(err)
	return ok && e.Kind == k
}
