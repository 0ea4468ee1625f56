// Package iso validates the ISO codes the back office stores: ISO 3166-1
// alpha-2 country codes and ISO 4217 currency codes with their minor units.
package iso

import "strings"

// countries is the ISO 3166-1 alpha-2 list (officially assigned codes).
var countries = setOf(`AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL
GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR
LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK
PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR
TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW`)

// minorUnits maps active ISO 4217 currency codes to their number of minor
// units (decimal places of the smallest coin), the rounding unit for totals.
var minorUnits = map[string]int32{
	"EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2,
	"RON": 2, "BGN": 2, "ISK": 0, "JPY": 0, "CAD": 2, "AUD": 2, "NZD": 2, "CNY": 2, "HKD": 2, "SGD": 2,
	"INR": 2, "KRW": 0, "TRY": 2, "ZAR": 2, "BRL": 2, "MXN": 2, "AED": 2, "SAR": 2, "ILS": 2, "RSD": 2,
	"UAH": 2, "MAD": 2, "THB": 2, "MYR": 2, "IDR": 2, "PHP": 2, "CLP": 0, "COP": 2, "ARS": 2, "TWD": 2,
	"KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3,
}

func setOf(s string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(s) {
		m[f] = true
	}
	return m
}

// Country reports whether c is an assigned ISO 3166-1 alpha-2 code
// (upper case).
func Country(c string) bool { return countries[c] }

// Currency reports whether c is a supported ISO 4217 code (upper case).
func Currency(c string) bool { _, ok := minorUnits[c]; return ok }

// MinorUnits returns the currency's number of decimal places (2 when unknown).
func MinorUnits(c string) int32 {
	if n, ok := minorUnits[c]; ok {
		return n
	}
	return 2
}
