package products

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Sort is a supported list ordering.
type Sort string

const (
	SortCreatedAt     Sort = "created_at"
	SortCreatedAtDesc Sort = "-created_at"
	SortPrice         Sort = "price"
	SortPriceDesc     Sort = "-price"
	SortName          Sort = "name"
)

func parseSort(s string) (Sort, bool) {
	switch Sort(s) {
	case SortCreatedAt, SortCreatedAtDesc, SortPrice, SortPriceDesc, SortName:
		return Sort(s), true
	}
	return "", false
}

// Filter holds the list filters that a cursor is bound to.
type Filter struct {
	Q        string // already folded to lower case; "" = no filter
	MinPrice *int64
	MaxPrice *int64
	InStock  bool
}

// fingerprint identifies a filter set; a cursor only works with the same one.
func (f Filter) fingerprint() string {
	h := sha256.New()
	writeField := func(tag byte, s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write([]byte{tag})
		h.Write(n[:])
		h.Write([]byte(s))
	}
	writeField('q', f.Q)
	opt := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatInt(*p, 10)
	}
	writeField('l', opt(f.MinPrice))
	writeField('h', opt(f.MaxPrice))
	writeField('s', strconv.FormatBool(f.InStock))
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// position is the keyset position after which the next page starts.
type position struct {
	Int int64  // created_at (µs since epoch) or price_minor
	Str string // name
	ID  int64
}

type cursorWire struct {
	Sort   Sort   `json:"s"`
	Int    int64  `json:"k,omitempty"`
	Str    string `json:"t,omitempty"`
	ID     int64  `json:"i"`
	Filter string `json:"f"`
	Sum    string `json:"c"`
}

// cursorKey authenticates cursors against tampering. It is not a secret in
// any strong sense: cursors are opaque, not confidential.
var cursorKey = []byte("overkill/products/cursor/v1")

func (c *cursorWire) checksum() string {
	m := hmac.New(sha256.New, cursorKey)
	b, _ := json.Marshal([]any{c.Sort, c.Int, c.Str, c.ID, c.Filter})
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func encodeCursor(sort Sort, f Filter, pos position) string {
	c := cursorWire{Sort: sort, Int: pos.Int, Str: pos.Str, ID: pos.ID, Filter: f.fingerprint()}
	c.Sum = c.checksum()
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

var (
	errCursorInvalid  = errors.New("cursor is invalid")
	errCursorMismatch = errors.New("cursor was issued for a different sort or filter set")
)

func decodeCursor(s string) (cursorWire, error) {
	var c cursorWire
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil {
		return c, errCursorInvalid
	}
	if !hmac.Equal([]byte(c.Sum), []byte(c.checksum())) {
		return c, errCursorInvalid
	}
	if _, ok := parseSort(string(c.Sort)); !ok || !c.inRange() {
		return c, errCursorInvalid
	}
	return c, nil
}

// maxCreatedAtMicros is 9999-12-31T23:59:59.999999Z, the last instant both
// engines store, in microseconds since the Unix epoch.
const maxCreatedAtMicros = 253_402_300_799_999_999

// inRange checks the decoded key against what the sort's column can hold. The
// checksum proves the cursor was built with the key, not by this service
// (the key is not secret), so an out-of-range key is a 400, never a driver
// error at query time.
func (c *cursorWire) inRange() bool {
	if c.ID < 1 {
		return false
	}
	switch c.Sort {
	case SortPrice, SortPriceDesc:
		return c.Str == "" && c.Int >= 0 && c.Int <= maxPriceMinor
	case SortCreatedAt, SortCreatedAtDesc:
		return c.Str == "" && c.Int >= 0 && c.Int <= maxCreatedAtMicros
	case SortName:
		n := utf8.RuneCountInString(c.Str)
		return c.Int == 0 && n >= 1 && n <= maxNameLen && !hasNUL(c.Str)
	}
	return false
}

func (c cursorWire) position(sort Sort, f Filter) (position, error) {
	if c.Sort != sort || c.Filter != f.fingerprint() {
		return position{}, errCursorMismatch
	}
	return position{Int: c.Int, Str: c.Str, ID: c.ID}, nil
}
