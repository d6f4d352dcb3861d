// Package products implements the /v1/products resource: HTTP handlers,
// validation, keyset cursors and the PostgreSQL store.
package products

import (
	"strconv"
	"strings"
	"time"
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

func (t Timestamp) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(timestampLayout)+2)
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, timestampLayout)
	return append(b, '"'), nil
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
