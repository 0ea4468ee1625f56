package pricing

// Explain describes the tariff in plain English.
func Explain(t Tariff) string { return "tariff " + t.ID }
