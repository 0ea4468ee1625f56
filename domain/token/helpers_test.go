package token

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// must holds the assertion helpers of this package's tests. They stop the
// test on the first failure, like testify/require, which this package does
// not import because the module's go.sum lacks testify's own dependencies.
var must asserts

// asserts is the type behind must.
type asserts struct{}

// msg renders optional message arguments (a format string and its args).
func msg(args []any) string {
	if len(args) == 0 {
		return ""
	}
	if f, ok := args[0].(string); ok {
		return ": " + fmt.Sprintf(f, args[1:]...)
	}
	return ": " + fmt.Sprint(args...)
}

// Equal fails unless want and got are deeply equal.
func (asserts) Equal(t testing.TB, want, got any, args ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("not equal%s\nwant: %#v\n got: %#v", msg(args), want, got)
	}
}

// NotEqual fails when a and b are deeply equal.
func (asserts) NotEqual(t testing.TB, a, b any, args ...any) {
	t.Helper()
	if reflect.DeepEqual(a, b) {
		t.Fatalf("unexpectedly equal%s: %#v", msg(args), a)
	}
}

// True fails unless cond holds.
func (asserts) True(t testing.TB, cond bool, args ...any) {
	t.Helper()
	if !cond {
		t.Fatalf("want true%s", msg(args))
	}
}

// False fails when cond holds.
func (asserts) False(t testing.TB, cond bool, args ...any) {
	t.Helper()
	if cond {
		t.Fatalf("want false%s", msg(args))
	}
}

// NoError fails when err is not nil.
func (asserts) NoError(t testing.TB, err error, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error%s: %v", msg(args), err)
	}
}

// Error fails when err is nil.
func (asserts) Error(t testing.TB, err error, args ...any) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error%s", msg(args))
	}
}

// Contains fails unless s contains sub.
func (asserts) Contains(t testing.TB, s, sub string, args ...any) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q%s", s, sub, msg(args))
	}
}

// Len fails unless v (slice, map or string) has length n.
func (asserts) Len(t testing.TB, v any, n int, args ...any) {
	t.Helper()
	if l := reflect.ValueOf(v).Len(); l != n {
		t.Fatalf("length %d, want %d%s", l, n, msg(args))
	}
}

// NotZero fails when v is its type's zero value.
func (asserts) NotZero(t testing.TB, v any, args ...any) {
	t.Helper()
	if reflect.ValueOf(v).IsZero() {
		t.Fatalf("want non-zero%s", msg(args))
	}
}
