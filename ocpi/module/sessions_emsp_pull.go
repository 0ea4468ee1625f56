package module

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/ocpi"
	"github.com/roamnode/roamnode/roaming"
)

var _ roaming.CDRCheck = CheckPulledCDR

// CheckPulledCDR implements roaming.CDRCheck with the checks of our CDRs
// receiver (decodeCDR): a pulled CDR becomes the charge session the
// receiver would make of it, or is kept as an invalid charge session with
// these problems, since a pull cannot refuse it (issue 5, basic checks:
// "when it comes by a channel where rejection is not possible (pull sync
// …) it is stored as an invalid charge session with its technical
// reason").
func CheckPulledCDR(raw []byte) (session.ChargeSession, []session.Problem) {
	if !utf8.Valid(raw) {
		return session.ChargeSession{}, []session.Problem{{Field: "body", Reason: "is not valid UTF-8"}}
	}
	var cdr ocpi.CDR
	if err := ocpi.Decode(raw, &cdr); err != nil {
		return session.ChargeSession{}, problemsOf(err)
	}
	if ps := CDRProblems(cdr); len(ps) > 0 {
		return session.ChargeSession{}, ps
	}
	return SessionOfCDR(cdr), nil
}

// problemsOf turns a decoding error ("path: reason", or "invalid or
// missing parameters: a: x; b: y") into problems by field.
func problemsOf(err error) []session.Problem {
	var oe *ocpi.Error
	if !errors.As(err, &oe) {
		return []session.Problem{{Field: "body", Reason: err.Error()}}
	}
	msg := strings.TrimPrefix(oe.Message, "invalid or missing parameters: ")
	var ps []session.Problem
	for _, part := range strings.Split(msg, "; ") {
		field, reason, ok := strings.Cut(part, ": ")
		if !ok || field == "" || strings.ContainsAny(field, " ") {
			field, reason = "body", part
		}
		ps = append(ps, session.Problem{Field: field, Reason: reason})
	}
	return ps
}
