package session

import (
	"strings"

	"github.com/roamnode/roamnode/domain/fault"
)

func errNotDropped(s State) error {
	return fault.Conflict("not_dropped_out", "only dropped-out sessions can be reprocessed; this one is %s", s)
}

func errUnknownCheck(c Check) error {
	var names []string
	for _, k := range append(append([]Check(nil), Checks...), PricingChecks...) {
		names = append(names, string(k))
	}
	return fault.Invalid("check", "%q is not a validity or pricing check (one of %s)", c, strings.Join(names, ", "))
}

func errInstruction(in Instruction) error {
	return fault.Invalid("instruction", "%q is not retry, bypass or discard", in)
}
