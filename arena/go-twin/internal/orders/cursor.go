package orders

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
)

// Filter holds the list filters a cursor is bound to ("" = no filter).
type Filter struct {
	Status      string
	CustomerRef string
}

// position is the keyset position after which the next page starts.
type position struct {
	CreatedAt int64 // µs since the Unix epoch
	ID        int64
}

// cursorWire is a cursor's contents: base64url JSON with an HMAC, as for
// products (see deviations.toml: cursors are opaque by contract).
type cursorWire struct {
	Desc        bool   `json:"d"`
	CreatedAt   int64  `json:"k"`
	ID          int64  `json:"i"`
	Status      string `json:"s"`
	CustomerRef string `json:"r"`
	Sum         string `json:"c"`
}

// cursorKey authenticates cursors against tampering; they are opaque, not
// confidential.
var cursorKey = []byte("overkill/orders/cursor/v1")

func (c *cursorWire) checksum() string {
	m := hmac.New(sha256.New, cursorKey)
	b, _ := json.Marshal([]any{c.Desc, c.CreatedAt, c.ID, c.Status, c.CustomerRef})
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func encodeCursor(desc bool, f Filter, pos position) string {
	c := cursorWire{Desc: desc, CreatedAt: pos.CreatedAt, ID: pos.ID, Status: f.Status, CustomerRef: f.CustomerRef}
	c.Sum = c.checksum()
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errCursor = errors.New("not a cursor of this query")

// maxCreatedAtMicros is 9999-12-31T23:59:59.999999Z in µs since the epoch.
const maxCreatedAtMicros = 253_402_300_799_999_999

// decodeCursor checks a cursor against the query's sort and filters; its
// key is range-checked too (a 400, never a driver error at query time).
func decodeCursor(s string, desc bool, f Filter) (position, error) {
	var c cursorWire
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || !hmac.Equal([]byte(c.Sum), []byte(c.checksum())) {
		return position{}, errCursor
	}
	if c.Desc != desc || c.Status != f.Status || c.CustomerRef != f.CustomerRef ||
		c.ID < 1 || c.CreatedAt < 0 || c.CreatedAt > maxCreatedAtMicros {
		return position{}, errCursor
	}
	return position{CreatedAt: c.CreatedAt, ID: c.ID}, nil
}
