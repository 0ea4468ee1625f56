package pricing

import (
	"math/big"
	"math/bits"
	"reflect"
	"unsafe"

	"github.com/shopspring/decimal"
)

// Raw access to decimal.Decimal. shopspring/decimal has no way to read a
// coefficient without copying it, or to build a Decimal without two
// allocations (the big.Int and its words); with ~30 decimals per priced
// session those allocations, and the garbage collection they cause, were
// most of the engine's time. decimalLayout mirrors decimal.Decimal's
// fields (shopspring/decimal v1.4: value *big.Int, exp int32); rawOK
// verifies at start-up, by reflection and by a round trip, that the layout
// really is that, and every function here falls back to the public API
// when it is not (a future decimal version), so the worst case is the old
// speed, never a wrong value.
//
// Decimals never modify the big.Int of a Decimal (every operation makes a
// new one, and decimal.Zero is shared by all its users), so Decimals made
// here may share one array of big.Ints and one array of words.
type decimalLayout struct {
	value *big.Int
	exp   int32
}

var rawOK = func() bool {
	t := reflect.TypeOf(decimal.Decimal{})
	if t.Size() != unsafe.Sizeof(decimalLayout{}) || t.NumField() != 2 || bits.UintSize != 64 {
		return false
	}
	v, e := t.Field(0), t.Field(1)
	if v.Name != "value" || v.Type != reflect.TypeOf((*big.Int)(nil)) || v.Offset != unsafe.Offsetof(decimalLayout{}.value) ||
		e.Name != "exp" || e.Type != reflect.TypeOf(int32(0)) || e.Offset != unsafe.Offsetof(decimalLayout{}.exp) {
		return false
	}
	// Round trip: read a decimal's coefficient, build one from words.
	d := decimal.New(-12345, -3)
	if c := rawCoefficient(&d); c == nil || c.Int64() != -12345 {
		return false
	}
	var s decimalSlab
	x := s.make(u128{hi: 1, lo: 5}, true, -7)
	want := decimal.NewFromBigInt(new(big.Int).Neg(new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 64), big.NewInt(5))), -7)
	return x.Exponent() == -7 && x.Coefficient().Cmp(want.Coefficient()) == 0 && x.String() == want.String()
}()

// rawCoefficient returns d's coefficient itself (not a copy: read only),
// nil for the zero Decimal{}. Only valid when rawOK.
func rawCoefficient(d *decimal.Decimal) *big.Int {
	return (*decimalLayout)(unsafe.Pointer(d)).value
}

// fromCoefficient is the decimal with coefficient c (not copied under
// rawOK: c must never be modified) and exponent exp.
func fromCoefficient(c *big.Int, exp int32) decimal.Decimal {
	if !rawOK {
		return decimal.NewFromBigInt(c, exp)
	}
	var d decimal.Decimal
	*(*decimalLayout)(unsafe.Pointer(&d)) = decimalLayout{value: c, exp: exp}
	return d
}

// decimalSlab builds the decimals of one Result. Its array belongs to that
// Result (a new slab for every pricing call).
type decimalSlab struct {
	ints []slabInt
	// chunk is the number of entries to allocate when ints is full.
	chunk int
}

// slabInt is a coefficient with room for its words (at most 128 bits).
type slabInt struct {
	i big.Int
	w [2]big.Word
}

// make returns (-1)^neg × m × 10^exp.
func (s *decimalSlab) make(m u128, neg bool, exp int32) decimal.Decimal {
	if len(s.ints) == cap(s.ints) {
		s.ints = make([]slabInt, 0, max(s.chunk, 8))
	}
	s.ints = s.ints[:len(s.ints)+1]
	e := &s.ints[len(s.ints)-1]
	e.w = [2]big.Word{big.Word(m.lo), big.Word(m.hi)}
	switch {
	case m.hi != 0:
		e.i.SetBits(e.w[:2:2])
	case m.lo != 0:
		e.i.SetBits(e.w[:1:1])
	}
	if neg {
		e.i.Neg(&e.i)
	}
	var d decimal.Decimal
	*(*decimalLayout)(unsafe.Pointer(&d)) = decimalLayout{value: &e.i, exp: exp}
	return d
}
