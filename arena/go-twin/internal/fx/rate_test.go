package fx

import (
	"math"
	"testing"

	"overkill/arena/go-twin/internal/currency"
)

func code(t *testing.T, s string) currency.Currency {
	t.Helper()
	c, ok := currency.Parse(s)
	if !ok {
		t.Fatalf("no currency %s", s)
	}
	return c
}

func TestRatesParseExactlyAndPrintPlainly(t *testing.T) {
	for text, printed := range map[string]string{
		"0.9234": "0.9234", "161.45": "161.45", "1.2e-5": "0.000012", "1E3": "1000", "1e+2": "100",
		"0.0000194094": "0.0000194094", "2.50": "2.5", "007.1": "7.1", "1": "1", "1e-40": "0." + zeros(39) + "1",
		"123456789012345678": "123456789012345678", "0.1000": "0.1", "100": "100", "12.5e1": "125",
	} {
		r, ok := ParseRate(text)
		if !ok || r.String() != printed {
			t.Errorf("%q: got %q, %v; want %q", text, r.String(), ok, printed)
		}
	}
	for _, bad := range []string{
		"", "0", "0.000", "-1.2", "+1", "1.", ".5", "NaN", "inf", "Infinity", "1e", "1e99", "1e-41", "1.2.3",
		"0x10", "1234567890123456789", "\"0.9\"", "null", "1 ", " 1", "0e5", "1e2147483648",
	} {
		if r, ok := ParseRate(bad); ok {
			t.Errorf("%q accepted as %s", bad, r)
		}
	}
}

func zeros(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}

func TestConversionsRoundHalfEvenToTheTargetsMinorUnits(t *testing.T) {
	at := func(s string) Rate {
		r, ok := ParseRate(s)
		if !ok {
			t.Fatalf("rate %q", s)
		}
		return r
	}
	eur, usd, jpy, kwd := code(t, "EUR"), code(t, "USD"), code(t, "JPY"), code(t, "KWD")
	cases := []struct {
		rate     Rate
		amount   int64
		from, to currency.Currency
		want     int64
		ok       bool
	}{
		{at("1.0842"), 1999, eur, usd, 2167, true},  // 21.673158
		{at("161.45"), 1999, eur, jpy, 3227, true},  // 3227.3855 (no minor units)
		{at("0.33312"), 1999, eur, kwd, 6659, true}, // 6.6590688 (three decimals)
		{at("0.0062"), 500, jpy, eur, 310, true},    // 3.1 EUR
		{at("3.3312"), 1000, kwd, jpy, 3, true},     // 1 KWD = 3.3312 JPY
		{at("0.1"), 5, eur, usd, 0, true},           // exact halves go to the even neighbour
		{at("0.1"), 15, eur, usd, 2, true},
		{at("0.1"), 25, eur, usd, 2, true},
		{at("0.1"), 35, eur, usd, 4, true},
		{at("0.1"), -25, eur, usd, -2, true},
		{at("0.15"), 10, eur, usd, 2, true},      // 1.5 → 2
		{at("0.25"), 10, eur, usd, 2, true},      // 2.5 → 2
		{at("0.2500001"), 10, eur, usd, 3, true}, // just past the half
		{one, 1999, eur, eur, 1999, true},
		{at("161.45"), 1_000_000_000_000, eur, jpy, 1_614_500_000_000, true},
		{at("1e9"), math.MaxInt64, eur, usd, 0, false},
		{at("1e-40"), math.MaxInt64, eur, usd, 0, true},
		{at("1e40"), 0, eur, usd, 0, false}, // 10^40 does not fit 128 bits, as in the Rust service
		{at("1e38"), 0, eur, usd, 0, true},
		{at("9.99999999999999999"), math.MaxInt64, eur, usd, 0, false},
		{at("1"), math.MaxInt64, eur, usd, math.MaxInt64, true},
		{at("1"), math.MaxInt64, jpy, kwd, 0, false},
		{at("0.5"), math.MaxInt64, eur, usd, 4611686018427387904, true}, // …903.5 → even
	}
	for _, c := range cases {
		got, ok := c.rate.Convert(c.amount, c.from, c.to)
		if got != c.want || ok != c.ok {
			t.Errorf("%d %s × %s → %s: got %d, %v; want %d, %v", c.amount, c.from.Code(), c.rate, c.to.Code(), got, ok, c.want, c.ok)
		}
	}
}

func TestTheHotPathDoesNotAllocate(t *testing.T) {
	r, _ := ParseRate("0.9234")
	eur, usd := code(t, "EUR"), code(t, "USD")
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() {
		_, _ = r.Convert(1999, eur, usd)
		buf = r.AppendText(buf[:0])
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
