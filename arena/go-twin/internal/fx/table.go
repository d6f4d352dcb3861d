package fx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"time"

	"overkill/arena/go-twin/internal/currency"
)

// Table is what the provider says about one base currency: its rates by
// quote currency, or that it does not quote the base at all. Immutable once
// built; shared by every reader of the cache.
type Table struct {
	// unsupported: the provider answered 422 for the base.
	unsupported bool
	// quotes[c.Index()]; text is "" where the provider gave no rate.
	quotes []quote
}

type quote struct {
	rate Rate
	text string // rate rendered once, for every response that shows it
	date string // the provider's YYYY-MM-DD
}

var unsupportedTable = &Table{unsupported: true}

func (t *Table) lookup(c currency.Currency) (quote, bool) {
	if t.unsupported || c == 0 {
		return quote{}, false
	}
	q := t.quotes[c.Index()]
	return q, q.text != ""
}

// maxAnswerBytes: a larger answer is malformed. Frankfurter's whole table
// for one base is about 3 KiB.
const maxAnswerBytes = 1 << 20

var errMalformed = errors.New("malformed")

// parseTable reads the answer to /v2/rates?base={base} strictly: a
// non-empty JSON array of objects with exactly the members date (a valid
// YYYY-MM-DD), base (equal to base), quote (a string) and rate (a JSON
// number read as a decimal, see ParseRate), each once; other members are
// ignored, as serde does. A row whose quote is not a listed currency is
// skipped (we cannot price in it); any other defect rejects the whole
// answer: the reason says which, for the log.
func parseTable(base currency.Currency, body []byte) (*Table, string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // a number stays its text: never a float64
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, "not a JSON array"
	}
	t := &Table{quotes: make([]quote, currency.Count)}
	rows := 0
	for dec.More() {
		r, reason := readRow(dec)
		if reason != "" {
			return nil, reason
		}
		rows++
		if r.base != base.Code() {
			return nil, "a row for another base"
		}
		if _, err := time.Parse(time.DateOnly, r.date); err != nil || len(r.date) != len(time.DateOnly) {
			return nil, "a date that is not YYYY-MM-DD"
		}
		rate, ok := ParseRate(r.rate)
		if !ok {
			return nil, "a rate that is not a positive decimal number within bounds"
		}
		if c, known := currency.Parse(r.quote); known {
			t.quotes[c.Index()] = quote{rate: rate, text: rate.String(), date: r.date}
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
		return nil, "not a JSON array"
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "data after the array"
	}
	if rows == 0 {
		return nil, "no rates"
	}
	return t, ""
}

type row struct{ date, base, quote, rate string }

// readRow reads one {date, base, quote, rate} object.
func readRow(dec *json.Decoder) (row, string) {
	const shape = "not an array of {date, base, quote, rate}"
	var r row
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return r, shape
	}
	var seen [4]bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return r, shape
		}
		key, _ := tok.(string)
		i := memberIndex(key)
		if i < 0 {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return r, shape
			}
			continue
		}
		if seen[i] {
			return r, "a member given twice"
		}
		seen[i] = true
		val, err := dec.Token()
		if err != nil {
			return r, shape
		}
		switch v := val.(type) {
		case string:
			if i == 3 {
				return r, "a rate that is not a JSON number"
			}
			*[...]*string{&r.date, &r.base, &r.quote}[i] = v
		case json.Number:
			if i != 3 {
				return r, shape
			}
			r.rate = v.String()
		default: // null, a bool, or the start of an object or array
			return r, shape
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return r, shape
	}
	if seen != [4]bool{true, true, true, true} {
		return r, shape
	}
	return r, ""
}

// memberIndex numbers the members of a row (names match exactly, unlike
// encoding/json's case-insensitive struct fields); -1 for any other.
func memberIndex(key string) int {
	switch key {
	case "date":
		return 0
	case "base":
		return 1
	case "quote":
		return 2
	case "rate":
		return 3
	}
	return -1
}
