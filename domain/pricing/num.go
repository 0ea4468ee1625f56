package pricing

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/bits"

	"github.com/shopspring/decimal"
)

// num is the engine's working number: an exact decimal
// (-1)^neg × m × 10^exp with a 128-bit coefficient (or, beyond 128 bits,
// big). Its operations give exactly the coefficient and exponent that the
// corresponding decimal.Decimal operation gives (so results do not depend
// on which representation computed them), without allocating:
// shopspring/decimal allocates a big.Int per operation, which dominated
// pricing time. A num becomes a decimal.Decimal only when a Result is
// built (materialize), and one that came from a decimal keeps that
// decimal's coefficient (c), so unchanged inputs are not copied.
type num struct {
	m   u128
	exp int32
	neg bool
	// big: the coefficient needs more than 128 bits; it is c.
	big bool
	// zv: the value is the zero Decimal{} (whose coefficient is nil).
	zv bool
	// c is the coefficient of a decimal.Decimal with exponent exp that
	// holds this value (an input, or one already materialized); nil when
	// there is none yet. Never modified.
	c *big.Int
}

// u128 is an unsigned 128-bit integer.
type u128 struct{ hi, lo uint64 }

func (a u128) isZero() bool { return a.hi == 0 && a.lo == 0 }

func cmpU(a, b u128) int {
	switch {
	case a.hi != b.hi:
		if a.hi < b.hi {
			return -1
		}
		return 1
	case a.lo != b.lo:
		if a.lo < b.lo {
			return -1
		}
		return 1
	}
	return 0
}

func addU(a, b u128) (u128, bool) {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, c2 := bits.Add64(a.hi, b.hi, c)
	return u128{hi, lo}, c2 == 0
}

// subU returns a - b for a >= b.
func subU(a, b u128) u128 {
	lo, c := bits.Sub64(a.lo, b.lo, 0)
	hi, _ := bits.Sub64(a.hi, b.hi, c)
	return u128{hi, lo}
}

func mulU64(a u128, m uint64) (u128, bool) {
	h1, l1 := bits.Mul64(a.lo, m)
	h2, l2 := bits.Mul64(a.hi, m)
	if h2 != 0 {
		return u128{}, false
	}
	hi, c := bits.Add64(h1, l2, 0)
	return u128{hi, l1}, c == 0
}

func mulU(a, b u128) (u128, bool) {
	switch {
	case a.hi != 0 && b.hi != 0:
		return u128{}, false
	case a.hi == 0:
		return mulU64(b, a.lo)
	default:
		return mulU64(a, b.lo)
	}
}

// divU64 returns a / d and a % d.
func divU64(a u128, d uint64) (u128, uint64) {
	qh, r := a.hi/d, a.hi%d
	ql, r := bits.Div64(r, a.lo, d)
	return u128{qh, ql}, r
}

// scaleU returns a × 10^k (k >= 0).
func scaleU(a u128, k int64) (u128, bool) {
	for k > 0 {
		s := min(k, 18)
		var ok bool
		if a, ok = mulU64(a, uint64(pow10i[s])); !ok {
			return u128{}, false
		}
		k -= s
	}
	return a, true
}

// numOf converts a decimal; the result keeps d's coefficient.
func numOf(d decimal.Decimal) num {
	n := num{exp: d.Exponent()}
	if !rawOK {
		if d.Sign() == 0 {
			return n
		}
		n.c = d.Coefficient() // a copy: slow, but only when the layout is unknown
	} else if n.c = rawCoefficient(&d); n.c == nil {
		n.zv = true
		return n
	}
	switch ws := n.c.Bits(); {
	case len(ws) == 0:
		return n
	case len(ws) == 1 && bits.UintSize == 64:
		n.m.lo = uint64(ws[0])
	case len(ws) == 2 && bits.UintSize == 64:
		n.m = u128{uint64(ws[1]), uint64(ws[0])}
	case n.c.BitLen() <= 128:
		var buf [16]byte
		new(big.Int).Abs(n.c).FillBytes(buf[:])
		n.m = u128{binary.BigEndian.Uint64(buf[:8]), binary.BigEndian.Uint64(buf[8:])}
	default:
		n.big = true
		return n
	}
	n.neg = n.c.Sign() < 0
	return n
}

// numInt is the integer v with exponent exp.
func numInt(v int64, exp int32) num {
	n := num{exp: exp}
	if v < 0 {
		n.neg = true
		n.m.lo = uint64(-v) // also right for math.MinInt64
	} else {
		n.m.lo = uint64(v)
	}
	return n
}

// decimal returns the value as a decimal.Decimal, allocating only when the
// num has no decimal yet (for the rare computations done with decimals).
func (n *num) decimal() decimal.Decimal {
	switch {
	case n.zv:
		return decimal.Decimal{}
	case n.c != nil:
		return fromCoefficient(n.c, n.exp)
	case n.m.hi == 0 && n.m.lo <= math.MaxInt64:
		c := int64(n.m.lo)
		if n.neg {
			c = -c
		}
		return decimal.New(c, n.exp)
	}
	var b big.Int
	if bits.UintSize == 64 {
		// NewFromBigInt copies b, so b's words can live on the stack.
		w := [2]big.Word{big.Word(n.m.lo), big.Word(n.m.hi)}
		b.SetBits(w[:])
	} else {
		var buf [16]byte
		binary.BigEndian.PutUint64(buf[:8], n.m.hi)
		binary.BigEndian.PutUint64(buf[8:], n.m.lo)
		b.SetBytes(buf[:])
	}
	if n.neg {
		b.Neg(&b)
	}
	return decimal.NewFromBigInt(&b, n.exp)
}

// materialize returns n as a decimal, made once (in slab s) and kept, so
// that every copy of n made afterwards shares it.
func (n *num) materialize(s *decimalSlab) decimal.Decimal {
	if n.zv || n.c != nil || !rawOK {
		return n.decimal()
	}
	d := s.make(n.m, n.neg, n.exp)
	n.c = rawCoefficient(&d)
	return d
}

func (n *num) isZero() bool {
	return !n.big && n.m.isZero()
}

func (n *num) sign() int {
	switch {
	case n.big:
		return n.c.Sign()
	case n.m.isZero():
		return 0
	case n.neg:
		return -1
	}
	return 1
}

// nNeg is decimal.Neg.
func nNeg(a num) num {
	if a.big {
		return numOf(a.decimal().Neg())
	}
	r := num{m: a.m, exp: a.exp, neg: !a.neg && !a.m.isZero()}
	return r
}

// nAdd is the engine's add: decimal.Add, except that a zero operand
// returns the other operand unchanged (exponent included).
func nAdd(a, b num) num {
	switch {
	case b.isZero():
		return a
	case a.isZero():
		return b
	}
	return nAddExact(a, b)
}

// nSub is the engine's sub: a when b is zero, else nAdd(a, -b).
func nSub(a, b num) num {
	if b.isZero() {
		return a
	}
	return nAdd(a, nNeg(b))
}

// nAddExact is decimal.Add: the sum at the smaller exponent.
func nAddExact(a, b num) num {
	if a.big || b.big {
		return numOf(a.decimal().Add(b.decimal()))
	}
	am, bm, exp := a.m, b.m, a.exp
	ok := true
	switch {
	case a.exp > b.exp:
		am, ok = scaleU(am, int64(a.exp)-int64(b.exp))
		exp = b.exp
	case b.exp > a.exp:
		bm, ok = scaleU(bm, int64(b.exp)-int64(a.exp))
	}
	if !ok {
		return numOf(a.decimal().Add(b.decimal()))
	}
	r := num{exp: exp}
	if a.neg == b.neg {
		if r.m, ok = addU(am, bm); !ok {
			return numOf(a.decimal().Add(b.decimal()))
		}
		r.neg = a.neg && !r.m.isZero()
		return r
	}
	if cmpU(am, bm) >= 0 {
		r.m, r.neg = subU(am, bm), a.neg
	} else {
		r.m, r.neg = subU(bm, am), b.neg
	}
	r.neg = r.neg && !r.m.isZero()
	return r
}

// nSubExact is decimal.Sub.
func nSubExact(a, b num) num { return nAddExact(a, nNeg(b)) }

// nMul is decimal.Mul: the product with the sum of the exponents.
func nMul(a, b num) num {
	e := int64(a.exp) + int64(b.exp)
	if a.big || b.big || e > math.MaxInt32 || e < math.MinInt32 {
		return numOf(a.decimal().Mul(b.decimal()))
	}
	m, ok := mulU(a.m, b.m)
	if !ok {
		return numOf(a.decimal().Mul(b.decimal()))
	}
	return num{m: m, exp: int32(e), neg: a.neg != b.neg && !m.isZero()}
}

// nCmp is decimal.Cmp.
func nCmp(a, b num) int {
	if a.big || b.big {
		return a.decimal().Cmp(b.decimal())
	}
	sa, sb := a.sign(), b.sign()
	if sa != sb || sa == 0 {
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return 0
	}
	am, bm := a.m, b.m
	ok := true
	switch {
	case a.exp > b.exp:
		am, ok = scaleU(am, int64(a.exp)-int64(b.exp))
	case b.exp > a.exp:
		bm, ok = scaleU(bm, int64(b.exp)-int64(a.exp))
	}
	if !ok {
		return a.decimal().Cmp(b.decimal())
	}
	c := cmpU(am, bm)
	if sa < 0 {
		c = -c
	}
	return c
}

// nRound is decimal.Round(places): half away from zero, exponent -places.
func nRound(a num, places int32) num {
	if a.exp == -places {
		return a
	}
	if a.big {
		return numOf(a.decimal().Round(places))
	}
	// Truncate to places+1 digits (rescale), then add 5 and drop a digit.
	target := int64(-places) - 1
	m, ok := a.m, true
	if int64(a.exp) > target {
		m, ok = scaleU(m, int64(a.exp)-target)
	} else {
		for k := target - int64(a.exp); k > 0 && !m.isZero(); {
			s := min(k, 18)
			m, _ = divU64(m, uint64(pow10i[s]))
			k -= s
		}
	}
	if ok {
		m, ok = addU(m, u128{0, 5})
	}
	if !ok {
		return numOf(a.decimal().Round(places))
	}
	m, _ = divU64(m, 10)
	return num{m: m, exp: -places, neg: a.neg && !m.isZero()}
}

// hoursOf returns x × mul / 3600 s as decimal hours rounded half up to
// divPrecision digits, exactly as decimal's DivRound(3600, 20) of x × mul
// × 10^-20; mul is 10^18 for x in seconds and 10^9 for x in nanoseconds
// (x × 10^18 / 36 = x × 10^20 / 3600). ok is false when x is negative or
// the result exceeds 128 bits.
func hoursOf(x uint64, mul uint64) (num, bool) {
	hi, lo := bits.Mul64(x, mul)
	q, r := divU64(u128{hi, lo}, 36)
	if 2*r >= 36 {
		var ok bool
		if q, ok = addU(q, u128{0, 1}); !ok {
			return num{}, false
		}
	}
	return num{m: q, exp: -divPrecision}, true
}
