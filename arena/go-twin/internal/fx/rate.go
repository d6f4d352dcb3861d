package fx

import (
	"math"
	"math/bits"
	"strconv"
	"strings"

	"overkill/arena/go-twin/internal/currency"
)

// Rate is an exchange rate as an exact decimal, mantissa × 10^-scale,
// positive: read from the provider's number text, never through a float64,
// so a rate is exactly what the provider said (the Rust service's
// money::Rate).
type Rate struct {
	mantissa uint64 // at most maxRateDigits digits, never 0
	scale    int32
}

const (
	// maxRateDigits: providers give six to ten significant digits; eighteen
	// keep every price × mantissa inside 128 bits.
	maxRateDigits = 18
	// maxRateExponent bounds the written exponent: far past any real rate.
	maxRateExponent = 40
)

// one is the rate of a currency to itself.
var one = Rate{mantissa: 1}

// ParseRate reads a JSON number's text ("0.9234", "161.45", "1.2e-5",
// "1E3") as a rate if it is positive and finite with at most 18 significant
// digits and a written exponent within ±40. Anything else (a sign, zero,
// NaN, a string, "1.", ".5") is no rate.
func ParseRate(text string) (Rate, bool) {
	number, exponent := text, int64(0)
	if at := strings.IndexAny(text, "eE"); at >= 0 {
		number = text[:at]
		// The text is a JSON number already, so the exponent is [+-]digits.
		e, err := strconv.ParseInt(strings.TrimPrefix(text[at+1:], "+"), 10, 32)
		if err != nil {
			return Rate{}, false
		}
		exponent = e
	}
	whole, fraction, dotted := strings.Cut(number, ".")
	if whole == "" || !allDigits(whole) || !allDigits(fraction) || dotted && fraction == "" {
		return Rate{}, false
	}
	digits := whole + fraction
	trimmedEnd := strings.TrimRight(digits, "0")
	significant := strings.TrimLeft(trimmedEnd, "0")
	if significant == "" || len(significant) > maxRateDigits || exponent < -maxRateExponent || exponent > maxRateExponent {
		return Rate{}, false
	}
	mantissa, err := strconv.ParseUint(significant, 10, 64)
	if err != nil {
		return Rate{}, false
	}
	trailingZeros := len(digits) - len(trimmedEnd)
	scale := int64(len(fraction)) - exponent - int64(trailingZeros)
	if scale > math.MaxInt32/2 || scale < math.MinInt32/2 { // beyond any answer under 1 MiB
		return Rate{}, false
	}
	return Rate{mantissa: mantissa, scale: int32(scale)}, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String is the rate in plain decimal notation: no exponent, no sign, no
// trailing zeros, no point when whole ("0.9234", "161.45", "1000",
// "0.000012").
func (r Rate) String() string { return string(r.AppendText(nil)) }

// AppendText appends r's plain decimal notation to b.
func (r Rate) AppendText(b []byte) []byte {
	var buf [20]byte
	digits := strconv.AppendUint(buf[:0], r.mantissa, 10)
	switch scale := int(r.scale); {
	case scale <= 0:
		b = append(b, digits...)
		for i := 0; i < -scale; i++ {
			b = append(b, '0')
		}
	case len(digits) > scale:
		b = append(b, digits[:len(digits)-scale]...)
		b = append(b, '.')
		b = append(b, digits[len(digits)-scale:]...)
	default:
		b = append(b, '0', '.')
		for i := 0; i < scale-len(digits); i++ {
			b = append(b, '0')
		}
		b = append(b, digits...)
	}
	return b
}

// maxPow10 is the largest power of ten in 128 bits (10^38).
const maxPow10 = 38

// Convert converts amountMinor minor units of from into to at r (1 from =
// r to), rounded half to even to to's minor units:
// amount × mantissa × 10^(e_to − e_from − scale), in exact integers. It
// reports false when the result does not fit an int64 (the Rust service's
// Rate::convert, case for case).
func (r Rate) Convert(amountMinor int64, from, to currency.Currency) (int64, bool) {
	shift := int64(to.Exponent()) - int64(from.Exponent()) - int64(r.scale)
	magnitude := uint64(amountMinor)
	if amountMinor < 0 {
		magnitude = -magnitude
	}
	n := u128{}
	n.hi, n.lo = bits.Mul64(magnitude, r.mantissa) // < 2^63 × 10^18 < 2^123
	if shift >= 0 {
		if shift > maxPow10 { // 10^shift does not fit 128 bits
			return 0, false
		}
		for i := int64(0); i < shift; i++ {
			if !n.fitsInt64() { // only grows from here
				return 0, false
			}
			n = n.mul10()
		}
	} else if -shift > maxPow10 {
		n = u128{} // n < 10^37, under half of any larger divisor
	} else {
		n = n.divPow10HalfEven(int(-shift))
	}
	if !n.fitsInt64() {
		return 0, false
	}
	if amountMinor < 0 {
		return -int64(n.lo), true
	}
	return int64(n.lo), true
}

// u128 is an unsigned 128-bit integer, for exact conversions without
// math/big's allocations.
type u128 struct{ hi, lo uint64 }

func (n u128) fitsInt64() bool { return n.hi == 0 && n.lo <= math.MaxInt64 }

func (n u128) mul10() u128 {
	hi, lo := bits.Mul64(n.lo, 10)
	return u128{hi: n.hi*10 + hi, lo: lo} // callers keep n below 2^64
}

// divmod10 is n / 10 and n % 10.
func (n u128) divmod10() (u128, uint64) {
	qhi, r := n.hi/10, n.hi%10
	qlo, r := bits.Div64(r, n.lo, 10)
	return u128{qhi, qlo}, r
}

// divPow10HalfEven is n / 10^p rounded half to even, digit by digit: the
// first digit dropped decides, the ones after it break a tie.
func (n u128) divPow10HalfEven(p int) u128 {
	var first uint64 // the most significant digit dropped so far
	sticky := false  // a non-zero digit below it
	for i := 0; i < p; i++ {
		if n == (u128{}) {
			return n // every further digit dropped is 0: rounds down to 0
		}
		var d uint64
		n, d = n.divmod10()
		sticky = sticky || first != 0
		first = d
	}
	if first > 5 || first == 5 && (sticky || n.lo&1 == 1) {
		n.lo++
		if n.lo == 0 {
			n.hi++
		}
	}
	return n
}
