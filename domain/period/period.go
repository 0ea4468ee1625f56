// Package period implements the guide's validity periods (003 → Data types →
// Validity periods): half-open [valid_from, valid_until), either end may be
// open (nil), in whole minutes — seconds and fractions are truncated.
package period

import (
	"time"

	"github.com/roamnode/roamnode/domain/fault"
)

// Truncate drops seconds and fractions, as the guide requires for every
// validity bound; nil stays nil.
func Truncate(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC().Truncate(time.Minute)
	return &v
}

// Check validates a period after truncation: valid_until must be later than
// valid_from (an empty period is refused). prefix is the field path prefix.
func Check(fs *fault.Fields, prefix string, from, until *time.Time) {
	if from != nil && until != nil && !until.After(*from) {
		fs.Add(prefix+"valid_until", "must be later than valid_from (periods are whole minutes, half-open)")
	}
}

// Contains reports whether t lies in [from, until).
func Contains(from, until *time.Time, t time.Time) bool {
	return (from == nil || !t.Before(*from)) && (until == nil || t.Before(*until))
}
