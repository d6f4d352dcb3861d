// Package currency is the list of ISO 4217 currencies the service prices in,
// with their minor-unit exponents: the same list, in the same order, as the
// Rust service's money::CODES (currencies.txt).
package currency

import (
	_ "embed"
	"strconv"
	"strings"
)

// Currency is a listed currency: an index into the list, so it is one byte,
// comparable, and cannot name a code that is not listed. The zero value is
// not a currency; use Parse.
type Currency uint8

//go:embed currencies.txt
var list string

type entry struct {
	code     string
	exponent uint8
}

// table[i-1] describes Currency(i).
var table, index = load(list)

// Count is how many currencies are listed: the most keys anything keyed by
// Currency (the FX cache) can hold.
var Count = len(table)

// load reads "CODE EXPONENT" pairs. index maps the 26³ three-letter
// uppercase codes to Currency (0: not listed), so Parse neither hashes nor
// allocates.
func load(text string) ([]entry, *[26 * 26 * 26]Currency) {
	var t []entry
	idx := new([26 * 26 * 26]Currency)
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i += 2 {
			e, err := strconv.ParseUint(f[i+1], 10, 8)
			if err != nil || slot(f[i]) < 0 || len(t) >= 255 {
				panic("currencies.txt: bad entry " + f[i] + " " + f[i+1])
			}
			t = append(t, entry{f[i], uint8(e)})
			idx[slot(f[i])] = Currency(len(t))
		}
	}
	return t, idx
}

// slot is the index of a three-uppercase-letter code, or -1.
func slot(code string) int {
	if len(code) != 3 {
		return -1
	}
	n := 0
	for i := 0; i < 3; i++ {
		c := code[i]
		if c < 'A' || c > 'Z' {
			return -1
		}
		n = n*26 + int(c-'A')
	}
	return n
}

// Parse returns the currency for code, which must be exactly a listed code
// (three uppercase letters; "eur" is not accepted).
func Parse(code string) (Currency, bool) {
	s := slot(code)
	if s < 0 {
		return 0, false
	}
	c := index[s]
	return c, c != 0
}

// Valid reports whether code is a listed currency code.
func Valid(code string) bool {
	_, ok := Parse(code)
	return ok
}

// Code is the three-letter code ("" for the zero value).
func (c Currency) Code() string {
	if c == 0 || int(c) > len(table) {
		return ""
	}
	return table[c-1].code
}

// Exponent is the ISO 4217 minor-unit exponent: 2 for EUR (cents), 0 for
// JPY, 3 for KWD; 0 for the codes ISO gives none.
func (c Currency) Exponent() int {
	if c == 0 || int(c) > len(table) {
		return 0
	}
	return int(table[c-1].exponent)
}

// Index is c's position in the list, 0..Count-1, for arrays keyed by currency.
func (c Currency) Index() int { return int(c) - 1 }

// All returns every listed currency, in list (alphabetical) order.
func All() []Currency {
	all := make([]Currency, len(table))
	for i := range all {
		all[i] = Currency(i + 1)
	}
	return all
}
