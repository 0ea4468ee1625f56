package vat

// euMembers are the 27 EU member states by ISO 3166-1 alpha-2 code (since
// the United Kingdom left on 2020-01-31), the territory the EU reverse
// charge applies in. Greece is "GR" here; its VAT-number prefix is "EL".
var euMembers = map[string]bool{
	"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true,
	"DK": true, "EE": true, "FI": true, "FR": true, "DE": true, "GR": true,
	"HU": true, "IE": true, "IT": true, "LV": true, "LT": true, "LU": true,
	"MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SK": true,
	"SI": true, "ES": true, "SE": true,
}

// IsEUMember reports whether the alpha-2 country code is an EU member state.
func IsEUMember(country string) bool {
	c, _ := NormalizeCountry(country)
	return euMembers[c]
}
