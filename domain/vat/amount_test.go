package vat

import (
	"math/big"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/roamnode/roamnode/domain/fault"
)

func TestMinorUnits(t *testing.T) {
	want := map[string]int32{
		"EUR": 2, "GBP": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2,
		"PLN": 2, "CZK": 2, "HUF": 2, "JPY": 0, "USD": 2,
	}
	for cur, n := range want {
		got, ok := MinorUnits(cur)
		require.True(t, ok, cur)
		require.Equal(t, n, got, cur)
	}
	got, ok := MinorUnits(" eur ")
	require.True(t, ok)
	require.Equal(t, int32(2), got)
	_, ok = MinorUnits("XXX")
	require.False(t, ok)
}

func TestApplyPercentage(t *testing.T) {
	cases := []struct {
		excl, pct, cur       string
		unrounded, vat, incl string
	}{
		{"100", "21", "EUR", "21", "21", "121"},
		{"18.00", "21", "EUR", "3.78", "3.78", "21.78"},
		{"0.05", "10", "EUR", "0.005", "0.01", "0.06"},      // half rounds away from zero
		{"0.0499", "10", "EUR", "0.00499", "0", "0.0499"},   // below half rounds down
		{"-0.05", "10", "EUR", "-0.005", "-0.01", "-0.06"},  // negative half rounds away from zero
		{"-18.00", "21", "EUR", "-3.78", "-3.78", "-21.78"}, // reversal mirrors the original
		{"12.3456", "5.5", "EUR", "0.679008", "0.68", "13.0256"},
		{"105", "10", "JPY", "10.5", "11", "116"},
		{"104", "10", "JPY", "10.4", "10", "114"},
		{"1000", "27", "HUF", "270", "270", "1270"},
		{"50", "0", "EUR", "0", "0", "50"},
	}
	for _, c := range cases {
		a, err := ApplyPercentage(dec(c.excl), dec(c.pct), c.cur)
		require.NoError(t, err)
		require.True(t, dec(c.unrounded).Equal(a.VATUnrounded), "%v unrounded: got %s", c, a.VATUnrounded)
		require.True(t, dec(c.vat).Equal(a.VAT), "%v vat: got %s", c, a.VAT)
		require.True(t, dec(c.incl).Equal(a.InclVAT), "%v incl: got %s", c, a.InclVAT)
		require.True(t, dec(c.excl).Equal(a.ExclVAT))
	}

	_, err := ApplyPercentage(dec("1"), dec("21"), "XYZ")
	e := requireFault(t, err, fault.KindInvalid, "invalid")
	require.Equal(t, []string{"currency"}, fieldPaths(e))
}

func TestApplyResult(t *testing.T) {
	std := Result{Country: "NL", Kind: KindStandard, Percentage: dec("21")}
	a, err := Apply(dec("10"), std, "EUR")
	require.NoError(t, err)
	require.True(t, dec("2.1").Equal(a.VAT))

	// Exempt and reverse-charged lines carry no VAT, even if a percentage
	// was set by a misconfigured rate.
	for _, r := range []Result{
		{Country: "NL", Kind: KindExempt, Exempt: true, Percentage: dec("21")},
		{Country: "NL", Kind: KindReverseCharge, ReverseCharged: true, Percentage: dec("21")},
	} {
		a, err := Apply(dec("10"), r, "EUR")
		require.NoError(t, err)
		require.True(t, a.VAT.IsZero())
		require.True(t, dec("10").Equal(a.InclVAT))
	}
}

// TestApplyGuideExampleAmounts applies the determined results of the
// guide's VAT examples to an 18.00 EUR session (the guide's billing example).
func TestApplyGuideExampleAmounts(t *testing.T) {
	for origin, wantVAT := range map[string]string{"NO": "4.5", "BE": "3.78", "DE": "3.78"} {
		res, err := Determine(Input{Category: CategoryMSPChargeSession, OriginCountry: origin, Moment: moment}, guideConfig())
		require.NoError(t, err)
		a, err := Apply(dec("18.00"), res, "EUR")
		require.NoError(t, err)
		require.True(t, dec(wantVAT).Equal(a.VAT), "%s: got %s", origin, a.VAT)
	}
}

// roundHalfAwayOracle computes round(n·10^-s × p·10^-2 / 100) to m places,
// half away from zero, in integer arithmetic, independent of shopspring.
// It returns the result as an integer count of 10^-m units.
func roundHalfAwayOracle(n int64, s int32, p int64, m int32) *big.Int {
	num := new(big.Int).Mul(big.NewInt(n), big.NewInt(p))
	num.Mul(num, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(m)), nil))
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)+4), nil)
	neg := num.Sign() < 0
	num.Abs(num)
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Mul(r, big.NewInt(2)).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	return q
}

var currencies = []string{"EUR", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "JPY", "USD"}

// TestVATAmountProperties: for non-negative amounts incl. VAT ≥ excl. VAT
// (DESIGN.md, "Tests"), and for any amount VAT = round(excl × rate) to the
// currency's minor unit, half away from zero, checked against an integer
// oracle.
func TestVATAmountProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.Int64Range(-1_000_000_000, 1_000_000_000).Draw(t, "units")
		s := rapid.Int32Range(0, 6).Draw(t, "scale")
		p := rapid.Int64Range(0, 10_000).Draw(t, "pct_hundredths")
		cur := rapid.SampledFrom(currencies).Draw(t, "currency")
		excl := decimal.New(n, -s)
		pct := decimal.New(p, -2)

		a, err := ApplyPercentage(excl, pct, cur)
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		m, _ := MinorUnits(cur)
		want := decimal.NewFromBigInt(roundHalfAwayOracle(n, s, p, m), -m)
		if !a.VAT.Equal(want) {
			t.Fatalf("VAT of %s at %s%% in %s: got %s, want %s", excl, pct, cur, a.VAT, want)
		}
		if !a.VATUnrounded.Equal(excl.Mul(pct).Div(decimal.NewFromInt(100))) {
			t.Fatalf("unrounded VAT %s is not excl × pct / 100", a.VATUnrounded)
		}
		if !a.InclVAT.Equal(excl.Add(a.VAT)) {
			t.Fatalf("incl %s != excl %s + VAT %s", a.InclVAT, excl, a.VAT)
		}
		if n >= 0 && a.InclVAT.LessThan(a.ExclVAT) {
			t.Fatalf("incl %s < excl %s for non-negative amount", a.InclVAT, a.ExclVAT)
		}
		// Symmetry: a reversal's VAT is exactly the negated VAT.
		r, err := ApplyPercentage(excl.Neg(), pct, cur)
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		if !r.VAT.Equal(a.VAT.Neg()) {
			t.Fatalf("VAT of -%s is %s, want %s", excl, r.VAT, a.VAT.Neg())
		}
	})
}

// TestVATRoundingTiesProperty: exact halves of the minor unit always round
// away from zero (never to even). At 50 %, an odd number of minor units
// gives a VAT of exactly k + ½ units.
func TestVATRoundingTiesProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		k := rapid.Int64Range(-1_000_000, 1_000_000).Draw(t, "k")
		cur := rapid.SampledFrom(currencies).Draw(t, "currency")
		m, _ := MinorUnits(cur)
		odd := 2*k + 1
		a, err := ApplyPercentage(decimal.New(odd, -m), decimal.NewFromInt(50), cur)
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		want := roundHalfAwayOracle(odd, m, 5000, m)
		// Independent of the oracle: |VAT| in units is (|odd|+1)/2.
		abs := odd
		if abs < 0 {
			abs = -abs
		}
		if want.CmpAbs(big.NewInt((abs+1)/2)) != 0 {
			t.Fatalf("oracle %s disagrees with (|%d|+1)/2", want, odd)
		}
		if !a.VAT.Equal(decimal.NewFromBigInt(want, -m)) {
			t.Fatalf("VAT of %s at 50%% in %s: got %s, want %s", a.ExclVAT, cur, a.VAT, decimal.NewFromBigInt(want, -m))
		}
	})
}
