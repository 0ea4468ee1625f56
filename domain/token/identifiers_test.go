package token

import (
	"strings"
	"testing"
	"unicode"

	"pgregory.net/rapid"

	"github.com/roamnode/roamnode/domain/fault"
)

// requireInvalid asserts err is a fault.Invalid at path whose message
// contains want.
func requireInvalid(t *testing.T, err error, path, want string) {
	t.Helper()
	must.Error(t, err)
	must.True(t, fault.Is(err, fault.KindInvalid), "want KindInvalid, got %v", err)
	fe, _ := fault.As(err)
	must.Len(t, fe.Fields, 1)
	must.Equal(t, path, fe.Fields[0].Path)
	must.Contains(t, fe.Fields[0].Message, want)
}

// Published check digit vectors. The first two are the guide's examples of
// syntactically valid eMA-IDs ("EVCO ID"); DE83DUIEN83QGZD is the example of
// the eMI3 "Check Digit Calculation for Contract-IDs" paper and
// DE-8AA-CA2B3C4D5-L the example of eMI3 v1.0 part 2 section 1.2.2.1.
var checkDigitVectors = []string{
	"NLABCC11222344X",
	"NLTDRCA1B2C3D4E",
	"DE83DUIEN83QGZD",
	"DE8AACA2B3C4D5L",
}

func TestEMAIDCheckDigitVectors(t *testing.T) {
	for _, v := range checkDigitVectors {
		d, ok := EMAIDCheckDigit(v[:14])
		must.True(t, ok, v)
		must.Equal(t, string(v[14]), string(d), v)
		d, ok = EMAIDCheckDigit(strings.ToLower(v[:14]))
		must.True(t, ok, v)
		must.Equal(t, string(v[14]), string(d), "lower case %s", v)
	}
	for _, bad := range []string{"", "NLABCC1122234", "NLABCC11222344X", "NLABCC1122234*", "NLABCC1122234é"} {
		_, ok := EMAIDCheckDigit(bad)
		must.False(t, ok, bad)
	}
}

// The check equations need P1^15 (mod 2) and P2^15 (mod 3) invertible so that
// exactly one check character fits every 14-character prefix.
func TestEMAIDCheckDigitMatricesInvertible(t *testing.T) {
	det := func(m mat2, mod int) int { return ((m[0][0]*m[1][1]-m[0][1]*m[1][0])%mod + mod) % mod }
	for i := 1; i <= 15; i++ {
		must.NotZero(t, det(p1Pow[i], 2), "P1^%d", i)
		must.NotZero(t, det(p2Pow[i], 3), "P2^%d", i)
	}
	// The character encoding is a bijection of 0..35 onto GF(2)²×GF(3)².
	seen := map[[4]int]bool{}
	for n := 0; n < 36; n++ {
		q, r := qr(n)
		must.True(t, q[0] < 2 && q[1] < 2 && r[0] < 3 && r[1] < 3)
		seen[[4]int{q[0], q[1], r[0], r[1]}] = true
		must.Equal(t, n, alnumValue(alnumChar(n)))
	}
	must.Len(t, seen, 36)
}

func TestParseEVCOIDValid(t *testing.T) {
	tests := []struct {
		in, normalized, formatted string
		hasCheck                  bool
	}{
		{"NLABCC11222344X", "NLABCC11222344X", "NL-ABC-C11222344-X", true},
		{"NL-TDR-CA1B2C3D4-E", "NLTDRCA1B2C3D4E", "NL-TDR-CA1B2C3D4-E", true},
		{"nl-tdr-ca1b2c3d4-e", "NLTDRCA1B2C3D4E", "NL-TDR-CA1B2C3D4-E", true},
		{"NLTDRCA1B2C3D4E", "NLTDRCA1B2C3D4E", "NL-TDR-CA1B2C3D4-E", true},
		{"NL-TDRCA1B2C3D4E", "NLTDRCA1B2C3D4E", "NL-TDR-CA1B2C3D4-E", true},
		{"NLTDR-CA1B2C3D4-e", "NLTDRCA1B2C3D4E", "NL-TDR-CA1B2C3D4-E", true},
		{"NL-TDR-CA1B2C3D4", "NLTDRCA1B2C3D4", "NL-TDR-CA1B2C3D4", false},
		{"nlabcc11222344", "NLABCC11222344", "NL-ABC-C11222344", false},
		{"DE-8AA-CA2B3C4D5-L", "DE8AACA2B3C4D5L", "DE-8AA-CA2B3C4D5-L", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			id, err := ParseEVCOID(tc.in)
			must.NoError(t, err)
			must.Equal(t, tc.normalized, id.Normalized())
			must.Equal(t, tc.normalized, id.String())
			must.Equal(t, tc.formatted, id.Formatted())
			must.Equal(t, tc.hasCheck, id.HasCheckDigit())
			must.Equal(t, tc.normalized[:2], id.Country())
			must.Equal(t, tc.normalized[2:5], id.Provider())
			must.Equal(t, tc.normalized[6:14], id.Instance())
			full := id.WithCheckDigit()
			must.True(t, full.HasCheckDigit())
			must.Len(t, full.Normalized(), 15)
			// The computed digit of the short form is the published one.
			if tc.hasCheck {
				must.Equal(t, tc.normalized[14], id.CheckDigit())
			}
			again, err := ParseEVCOID(full.Formatted())
			must.NoError(t, err)
			must.Equal(t, full, again)
		})
	}
}

func TestParseEVCOIDWithoutCheckDigitComputesIt(t *testing.T) {
	id, err := ParseEVCOID("NL-TDR-CA1B2C3D4")
	must.NoError(t, err)
	must.Equal(t, byte('E'), id.CheckDigit())
	must.Equal(t, "NLTDRCA1B2C3D4E", id.WithCheckDigit().Normalized())
}

func TestParseEVCOIDInvalid(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "is required"},
		{"NLABCC11222344Y", "check digit 'Y' is wrong, expected 'X'"},
		{"NL-TDR-CA1B2C3D4-F", "check digit 'F' is wrong, expected 'E'"},
		{"nl-tdr-ca1b2c3d4-x", "check digit 'X' is wrong, expected 'E'"},
		{"DE83DUIEN83QGZD", "ID type (character 6 without separators) must be 'C', got 'U'"},
		{"NLABCC1122234", "must have 14 letters and digits, or 15 with the check digit (got 13)"},
		{"NLABCC11222344XX", "got 16"},
		{"NL-ABC-C112223", "got 12"},
		{"N1ABCC11222344X", "country code \"N1\" must be 2 letters"},
		{"NL*TDR*CA1B2C3D4*E", "'*' is not an eMA-ID separator"},
		{"NL-TDR-CA1B-2C3D4-E", "separator '-' at position 12"},
		{"-NLTDRCA1B2C3D4E", "separator '-' at position 1"},
		{"NL--TDRCA1B2C3D4E", "separator '-' repeated at position 4"},
		{"NL-TDR-CA1B2C3D4-", "must not end with a separator"},
		{"NL TDR CA1B2C3D4 E", "character ' ' at position 3"},
		{"NL-TDR-CA1B2C3D4-É", "non-ASCII character at position 18"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseEVCOID(tc.in)
			requireInvalid(t, err, PathEVCOID, tc.want)
		})
	}
}

// Every single-character substitution of a valid eMA-ID is detected (the
// paper's first error class), and so is every adjacent transposition of
// distinct characters (its second).
func TestEMAIDCheckDigitDetectsErrors(t *testing.T) {
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for _, v := range checkDigitVectors {
		for i := 0; i < 15; i++ {
			for _, c := range []byte(alnum) {
				if c == v[i] {
					continue
				}
				b := []byte(v)
				b[i] = c
				d, _ := emaCheckDigit(string(b[:14]))
				must.NotEqual(t, b[14], d, "substitution %s", b)
			}
		}
		for i := 0; i < 14; i++ {
			if v[i] == v[i+1] {
				continue
			}
			b := []byte(v)
			b[i], b[i+1] = b[i+1], b[i]
			d, _ := emaCheckDigit(string(b[:14]))
			must.NotEqual(t, b[14], d, "transposition %s", b)
		}
	}
}

func TestNormalizeContractID(t *testing.T) {
	n, err := NormalizeContractID("nl-tdr-ca1b2c3d4-e")
	must.NoError(t, err)
	must.Equal(t, "NLTDRCA1B2C3D4E", n)
	n, err = NormalizeContractID("FR*ABC*12345")
	must.NoError(t, err)
	must.Equal(t, "FR*ABC*12345", n)
	_, err = NormalizeContractID("---")
	requireInvalid(t, err, PathEVCOID, "more than separators")
	_, err = NormalizeContractID("NL TDR")
	requireInvalid(t, err, PathEVCOID, "spaces")
	_, err = NormalizeContractID(strings.Repeat("A", 37))
	requireInvalid(t, err, PathEVCOID, "at most 36")
}

func TestParseEVSEID(t *testing.T) {
	valid := []struct{ in, normalized, formatted, outlet string }{
		{"NLABCE987ABC654DEF", "NLABCE987ABC654DEF", "NL*ABC*E987ABC654DEF", "987ABC654DEF"},
		{"NL*TDR*E1234567*890", "NLTDRE1234567890", "NL*TDR*E1234567890", "1234567890"},
		{"nl*tdr*e1234567*890", "NLTDRE1234567890", "NL*TDR*E1234567890", "1234567890"},
		{"NL*TDRE1", "NLTDRE1", "NL*TDR*E1", "1"},
		{"DE*A1B*E" + strings.Repeat("9", 31), "DEA1BE" + strings.Repeat("9", 31), "DE*A1B*E" + strings.Repeat("9", 31), strings.Repeat("9", 31)},
	}
	for _, tc := range valid {
		t.Run(tc.in, func(t *testing.T) {
			id, err := ParseEVSEID(tc.in)
			must.NoError(t, err)
			must.Equal(t, tc.normalized, id.Normalized())
			must.Equal(t, tc.normalized, id.String())
			must.Equal(t, tc.formatted, id.Formatted())
			must.Equal(t, tc.outlet, id.Outlet())
			must.Equal(t, tc.normalized[:2], id.Country())
			must.Equal(t, tc.normalized[2:5], id.Operator())
			again, err := ParseEVSEID(id.Formatted())
			must.NoError(t, err)
			must.Equal(t, id, again)
		})
	}
	invalid := []struct{ in, want string }{
		{"", "is required"},
		{"N1*TDR*E123", "2-letter country code"},
		{"NL*TD*E123", "operator ID must be 3 letters or digits"},
		{"NL*TDR*X123", "ID type after the operator ID must be 'E'"},
		{"NL*TDR*E", "power outlet ID after 'E' is missing"},
		{"NL*TDR*E*123", "must start with a letter or digit"},
		{"NL-TDR-E123", "character '-' at position 3"},
		{"NL*TDR*E123 4", "character ' ' at position 12"},
		{"NL*TDR*E12ü", "non-ASCII character at position 11"},
		{"DE*A1B*E" + strings.Repeat("9", 32), "at most 31 characters (got 32)"},
	}
	for _, tc := range invalid {
		t.Run("invalid "+tc.in, func(t *testing.T) {
			_, err := ParseEVSEID(tc.in)
			requireInvalid(t, err, PathEVSEID, tc.want)
		})
	}
}

func TestUID(t *testing.T) {
	u, err := ParseUID("012345678aBc")
	must.NoError(t, err)
	must.Equal(t, "012345678aBc", u.String(), "original casing kept")
	must.Equal(t, "012345678ABC", u.Key())
	must.True(t, u.EqualFold("012345678ABC"))
	must.True(t, u.EqualFold("012345678abc"))
	must.False(t, u.EqualFold("012345678abd"))
	// Non-ASCII look-alikes never fold onto ASCII letters (U+212A KELVIN SIGN).
	must.False(t, UID("k").EqualFold(UID("\u212a")))

	_, err = ParseUID("!~" + strings.Repeat("x", 34))
	must.NoError(t, err, "U+0021 and U+007E and 36 characters are allowed")

	invalid := []struct{ in, want string }{
		{"", "is required"},
		{"abc def", "must not contain spaces (position 4)"},
		{"abc\tdef", "not printable ASCII"},
		{"abc\x7f", "not printable ASCII"},
		{"abcé", "not printable ASCII"},
		{strings.Repeat("x", 37), "at most 36 characters (got 37)"},
	}
	for _, tc := range invalid {
		_, err := ParseUID(tc.in)
		requireInvalid(t, err, PathUID, tc.want)
	}
}

// genEVCOID generates valid eMA-IDs in any accepted spelling.
func genEVCOID(t *rapid.T) string {
	letters := rapid.SampledFrom([]rune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
	alnum := rapid.SampledFrom([]rune("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
	str := func(g *rapid.Generator[rune], n int, label string) string {
		return string(rapid.SliceOfN(g, n, n).Draw(t, label))
	}
	sep := func(label string) string {
		if rapid.Bool().Draw(t, label) {
			return "-"
		}
		return ""
	}
	body := str(letters, 2, "country") + sep("sep1") + str(alnum, 3, "provider") + sep("sep2") +
		rapid.SampledFrom([]string{"C", "c"}).Draw(t, "type") + str(alnum, 8, "instance")
	if rapid.Bool().Draw(t, "withCheck") {
		compact := upperASCII(strings.ReplaceAll(body, "-", ""))
		d, ok := EMAIDCheckDigit(compact)
		if !ok {
			t.Fatalf("no check digit for %q", compact)
		}
		c := string(d)
		if rapid.Bool().Draw(t, "lowerCheck") {
			c = strings.ToLower(c)
		}
		body += sep("sep3") + c
	}
	return body
}

func TestEVCOIDProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genEVCOID(t)
		id, err := ParseEVCOID(in)
		if err != nil {
			t.Fatalf("ParseEVCOID(%q): %v", in, err)
		}
		// Normalize(Format(x)) == Normalize(x).
		f, err := ParseEVCOID(id.Formatted())
		if err != nil || f.Normalized() != id.Normalized() {
			t.Fatalf("Formatted %q does not round-trip: %v", id.Formatted(), err)
		}
		n, err := ParseEVCOID(id.Normalized())
		if err != nil || n != id {
			t.Fatalf("Normalized %q does not round-trip: %v", id.Normalized(), err)
		}
		if want := upperASCII(strings.ReplaceAll(in, "-", "")); id.Normalized() != want {
			t.Fatalf("Normalized %q, want %q", id.Normalized(), want)
		}
		if c, _ := NormalizeContractID(in); c != id.Normalized() {
			t.Fatalf("NormalizeContractID %q, want %q", c, id.Normalized())
		}
		// Any other final character is rejected.
		full := id.WithCheckDigit().Normalized()
		other := rapid.SampledFrom([]byte("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")).Filter(func(b byte) bool { return b != full[14] }).Draw(t, "wrong")
		if _, err := ParseEVCOID(full[:14] + string(other)); !fault.Is(err, fault.KindInvalid) {
			t.Fatalf("wrong check digit %q accepted for %s", other, full)
		}
	})
}

func TestEVSEIDProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		alnum := rapid.SampledFrom([]byte("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
		letter := rapid.SampledFrom([]byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
		outletTail := rapid.SliceOfN(rapid.SampledFrom([]byte("0123456789ABCXYZabcxyz*")), 0, 30).Draw(t, "outlet")
		s := string(rapid.SliceOfN(letter, 2, 2).Draw(t, "country")) +
			rapid.SampledFrom([]string{"", "*"}).Draw(t, "sep1") +
			string(rapid.SliceOfN(alnum, 3, 3).Draw(t, "operator")) +
			rapid.SampledFrom([]string{"", "*"}).Draw(t, "sep2") +
			rapid.SampledFrom([]string{"E", "e"}).Draw(t, "type") +
			string(alnum.Draw(t, "outlet0")) + string(outletTail)
		id, err := ParseEVSEID(s)
		if err != nil {
			t.Fatalf("ParseEVSEID(%q): %v", s, err)
		}
		if want := upperASCII(strings.ReplaceAll(s, "*", "")); id.Normalized() != want {
			t.Fatalf("Normalized %q, want %q", id.Normalized(), want)
		}
		f, err := ParseEVSEID(id.Formatted())
		if err != nil || f.Normalized() != id.Normalized() {
			t.Fatalf("Formatted %q does not round-trip: %v", id.Formatted(), err)
		}
	})
}

func TestUIDProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.StringOfN(rapid.RuneFrom(nil, &unicode0x21to0x7e), 1, 36, -1).Draw(t, "uid")
		u, err := ParseUID(s)
		if err != nil {
			t.Fatalf("ParseUID(%q): %v", s, err)
		}
		if !u.EqualFold(UID(strings.ToLower(s))) || !u.EqualFold(UID(strings.ToUpper(s))) {
			t.Fatalf("%q does not equal its case variants", s)
		}
		if u.Key() != strings.ToUpper(s) || u.String() != s {
			t.Fatalf("Key %q / String %q for %q", u.Key(), u.String(), s)
		}
	})
}

// unicode0x21to0x7e is printable ASCII without space.
var unicode0x21to0x7e = unicode.RangeTable{R16: []unicode.Range16{{Lo: 0x21, Hi: 0x7e, Stride: 1}}}

// The parsers never panic, and whatever they accept re-parses from its
// normalised and formatted forms to the same value.
func FuzzParseEVCOID(f *testing.F) {
	for _, s := range []string{"NLABCC11222344X", "NL-TDR-CA1B2C3D4-E", "nl-tdr-ca1b2c3d4", "NL*TDR", "-", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseEVCOID(s)
		if err != nil {
			if !fault.Is(err, fault.KindInvalid) {
				t.Fatalf("error of wrong kind: %v", err)
			}
			return
		}
		for _, form := range []string{id.Normalized(), id.Formatted()} {
			again, err := ParseEVCOID(form)
			if err != nil || again != id {
				t.Fatalf("%q → %q does not re-parse: %v", s, form, err)
			}
		}
	})
}

func FuzzParseEVSEID(f *testing.F) {
	for _, s := range []string{"NLABCE987ABC654DEF", "NL*TDR*E1234567*890", "nl*tdr*e1", "NL*TDR*E*", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseEVSEID(s)
		if err != nil {
			if !fault.Is(err, fault.KindInvalid) {
				t.Fatalf("error of wrong kind: %v", err)
			}
			return
		}
		again, err := ParseEVSEID(id.Normalized())
		if err != nil || again != id {
			t.Fatalf("%q → %q does not re-parse: %v", s, id.Normalized(), err)
		}
		if strings.ContainsAny(id.Normalized(), "*abcdefghijklmnopqrstuvwxyz") {
			t.Fatalf("%q normalised to %q", s, id.Normalized())
		}
	})
}

func FuzzParseUID(f *testing.F) {
	for _, s := range []string{"012345678", "a b", "é", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUID(s)
		if err != nil {
			return
		}
		if u.String() != s || len(s) == 0 || len(s) > 36 || !u.EqualFold(UID(strings.ToLower(s))) {
			t.Fatalf("accepted %q as %q", s, u)
		}
	})
}
