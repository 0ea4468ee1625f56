package token

// This file implements the check digit of an eMA-ID (EVCO ID / contract ID)
// as described in the eMI3 / ISO 15118-2 Annex H paper "Check Digit
// Calculation for Contract-IDs" (the algorithm IDACS refers to).
//
// The scheme works over the 36 alphanumeric characters. 36 = 2²·3², so each
// character is written as a pair of row vectors: q = (q1, q2) over GF(2) and
// r = (r1, r2) over GF(3). With the characters numbered 0..9 → 0..9 and
// A..Z → 10..35, a character number n is
//
//	n = 9·(2·q1 + q2) + 3·r1 + r2
//
// (this reproduces the paper's lookup table: '9' is q=(0,1), r=(0,0); 'I' is
// q=(1,0), r=(0,0); 'Z' is q=(1,1), r=(2,2)).
//
// The character at position i (1-based, i = 1..15, the check digit at 15) is
// weighted with the i-th power of
//
//	P1 = |0 1|  over GF(2)      P2 = |0 1|  over GF(3)
//	     |1 1|                        |1 2|
//
// and a complete 15-character eMA-ID satisfies the check equations
//
//	Σ q_i · P1^i = (0, 0) (mod 2)   and   Σ r_i · P2^i = (0, 0) (mod 3).
//
// The check digit is the unique character that makes both sums zero; P1^15
// and P2^15 are invertible, so exactly one of the 36 characters fits.

// emaCheckedLen is the number of characters the check digit protects.
const emaCheckedLen = 14

// mat2 is a 2×2 matrix of small integers, row-major.
type mat2 [2][2]int

// mul returns a·b reduced modulo m.
func (a mat2) mul(b mat2, m int) mat2 {
	var c mat2
	for i := 0; i < 2; i++ {
		for j := 0; j < 2; j++ {
			c[i][j] = (a[i][0]*b[0][j] + a[i][1]*b[1][j]) % m
		}
	}
	return c
}

// vec2 is a row vector of two small integers.
type vec2 [2]int

// mul returns the row vector v·a reduced modulo m.
func (v vec2) mul(a mat2, m int) vec2 {
	return vec2{(v[0]*a[0][0] + v[1]*a[1][0]) % m, (v[0]*a[0][1] + v[1]*a[1][1]) % m}
}

// add returns v+w reduced modulo m.
func (v vec2) add(w vec2, m int) vec2 {
	return vec2{(v[0] + w[0]) % m, (v[1] + w[1]) % m}
}

var (
	p1 = mat2{{0, 1}, {1, 1}}
	p2 = mat2{{0, 1}, {1, 2}}
	// p1Pow[i] = P1^i mod 2 and p2Pow[i] = P2^i mod 3 for i = 0..15.
	p1Pow, p2Pow = powers(p1, 2), powers(p2, 3)
)

// powers returns a^0 .. a^15 modulo m.
func powers(a mat2, m int) [emaCheckedLen + 2]mat2 {
	var ps [emaCheckedLen + 2]mat2
	ps[0] = mat2{{1, 0}, {0, 1}}
	for i := 1; i < len(ps); i++ {
		ps[i] = ps[i-1].mul(a, m)
	}
	return ps
}

// alnumValue returns the character number of an upper-case ASCII letter or
// digit (0..9 → 0..9, A..Z → 10..35), or -1 for anything else.
func alnumValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return -1
}

// alnumChar is the inverse of alnumValue.
func alnumChar(n int) byte {
	if n < 10 {
		return byte('0' + n)
	}
	return byte('A' + n - 10)
}

// qr splits a character number into its GF(2) and GF(3) vectors.
func qr(n int) (q, r vec2) {
	k, m := n/9, n%9
	return vec2{k >> 1, k & 1}, vec2{m / 3, m % 3}
}

// emaCheckDigit returns the check digit for the first 14 characters of an
// upper-case, separator-free eMA-ID. ok is false when s is not 14 upper-case
// letters and digits.
func emaCheckDigit(s string) (digit byte, ok bool) {
	if len(s) != emaCheckedLen {
		return 0, false
	}
	var t1, t2 vec2
	for i := 0; i < emaCheckedLen; i++ {
		n := alnumValue(s[i])
		if n < 0 {
			return 0, false
		}
		q, r := qr(n)
		t1 = t1.add(q.mul(p1Pow[i+1], 2), 2)
		t2 = t2.add(r.mul(p2Pow[i+1], 3), 3)
	}
	// Find the one character whose weighted vectors cancel the sums.
	for n := 0; n < 36; n++ {
		q, r := qr(n)
		if t1.add(q.mul(p1Pow[emaCheckedLen+1], 2), 2) == (vec2{}) &&
			t2.add(r.mul(p2Pow[emaCheckedLen+1], 3), 3) == (vec2{}) {
			return alnumChar(n), true
		}
	}
	// Unreachable: P1^15 and P2^15 are invertible (checked by a test).
	return 0, false
}

// EMAIDCheckDigit returns the eMA-ID check digit for the first 14 characters
// of an eMA-ID (country, provider, 'C' and instance), given without
// separators. Lower case is accepted. ok is false when s is not exactly 14
// ASCII letters and digits.
func EMAIDCheckDigit(s string) (digit byte, ok bool) {
	return emaCheckDigit(upperASCII(s))
}

// upperASCII upper-cases ASCII letters and leaves every other byte alone.
func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
