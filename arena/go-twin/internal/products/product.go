// Package products implements the /v1/products resource: HTTP handlers,
// validation, keyset cursors and the PostgreSQL store.
package products

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"overkill/arena/go-twin/internal/httpx"
)

// Product is the resource as stored and as serialised.
type Product struct {
	ID          int64     `json:"id"`
	SKU         string    `json:"sku"`
	Name        string    `json:"name"`
	Description *string   `json:"description"`
	PriceMinor  int64     `json:"price_minor"`
	Currency    string    `json:"currency"`
	Stock       int64     `json:"stock"`
	Version     int64     `json:"version"`
	CreatedAt   Timestamp `json:"created_at"`
	UpdatedAt   Timestamp `json:"updated_at"`
}

// ETag is the strong entity tag "<id>-<version>".
func (p *Product) ETag() string {
	return `"` + strconv.FormatInt(p.ID, 10) + "-" + strconv.FormatInt(p.Version, 10) + `"`
}

// Timestamp is a UTC instant serialised as RFC 3339 with exactly six
// fractional digits and a Z suffix.
type Timestamp time.Time

const timestampLayout = "2006-01-02T15:04:05.000000Z"

// Now returns the current time truncated to microseconds, in UTC.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// ScanTimestamptz lets pgx scan a timestamptz column straight into t, in
// UTC (pgx.TimestamptzScanner): no boxed time.Time per row.
func (t *Timestamp) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid || v.InfinityModifier != pgtype.Finite {
		return fmt.Errorf("cannot scan %v timestamptz into a Timestamp", v.InfinityModifier)
	}
	*t = Timestamp(v.Time.UTC())
	return nil
}

// timestampJSONCap is the room AppendFormat needs for a quoted timestamp:
// it writes all nine fractional digits before cutting them to six.
const timestampJSONCap = len(timestampLayout) + 2 + 3

func (t Timestamp) MarshalJSON() ([]byte, error) {
	return t.AppendJSON(make([]byte, 0, timestampJSONCap)), nil
}

// AppendJSON appends t as a quoted RFC 3339 string, six fractional digits, Z.
func (t Timestamp) AppendJSON(b []byte) []byte {
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, timestampLayout)
	return append(b, '"')
}

// AppendJSON appends p's JSON object: the bytes encoding/json produced from
// the struct tags above (TestProductJSONMatchesEncodingJSON), without
// reflection.
func (p *Product) AppendJSON(b []byte) []byte {
	return append(p.appendMembers(b), '}')
}

// appendMembers appends p's object without its closing brace.
func (p *Product) appendMembers(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, p.ID, 10)
	b = append(b, `,"sku":`...)
	b = httpx.AppendString(b, p.SKU)
	b = append(b, `,"name":`...)
	b = httpx.AppendString(b, p.Name)
	b = append(b, `,"description":`...)
	b = httpx.AppendNullableString(b, p.Description)
	b = append(b, `,"price_minor":`...)
	b = strconv.AppendInt(b, p.PriceMinor, 10)
	b = append(b, `,"currency":`...)
	b = httpx.AppendString(b, p.Currency)
	b = append(b, `,"stock":`...)
	b = strconv.AppendInt(b, p.Stock, 10)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, p.Version, 10)
	b = append(b, `,"created_at":`...)
	b = p.CreatedAt.AppendJSON(b)
	b = append(b, `,"updated_at":`...)
	return p.UpdatedAt.AppendJSON(b)
}

// appendPage appends a page of the list response: {"items":[…],"next_cursor":…}.
func appendPage(b []byte, items []Product, next *string) []byte {
	b = append(b, `{"items":[`...)
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = items[i].AppendJSON(b)
	}
	b = append(b, `],"next_cursor":`...)
	b = httpx.AppendNullableString(b, next)
	return append(b, '}')
}

// etagMatches evaluates an If-Match / If-None-Match header value against etag.
// weak selects weak comparison (W/ prefixes ignored); with strong comparison a
// weak tag never matches. "*" matches any existing representation.
func etagMatches(header, etag string, weak bool) bool {
	for _, part := range strings.Split(header, ",") {
		tag := strings.TrimSpace(part)
		if tag == "*" {
			return true
		}
		if strings.HasPrefix(tag, "W/") {
			if !weak {
				continue
			}
			tag = tag[2:]
		}
		if tag == etag {
			return true
		}
	}
	return false
}
