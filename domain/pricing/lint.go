package pricing

// Warning is a problem Lint found in a tariff.
type Warning struct {
	// Path is the JSON path of the offending part ("elements[2].restrictions").
	Path    string
	Message string
}

// Lint reports tariff problems that make pricing surprising.
func Lint(t Tariff) []Warning { return nil }
