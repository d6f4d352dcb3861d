// Package orders implements the /v1/orders resource: multi-line orders that
// reserve stock atomically, cancellation that restores it exactly once, and
// Idempotency-Key on both writes. Validation, reservation and idempotency
// are pure and tested alone; store.go holds the PostgreSQL transactions.
package orders

import (
	"strconv"

	"overkill/arena/go-twin/internal/httpx"
	"overkill/arena/go-twin/internal/products"
)

// Status of an order.
const (
	StatusPlaced    = "placed"
	StatusCancelled = "cancelled"
)

// Order is the resource as stored and as serialised.
type Order struct {
	ID          int64
	Status      string
	CustomerRef *string
	Lines       []Line
	TotalMinor  int64
	Currency    string
	Version     int64 // 1 placed, 2 cancelled; only in the ETag
	CreatedAt   products.Timestamp
	UpdatedAt   products.Timestamp
}

// Line is one line of an order; sku, name and unit price are snapshots of
// the product when the order was placed.
type Line struct {
	ProductID      int64
	SKU            string
	Name           string
	UnitPriceMinor int64
	Quantity       int64
}

// Total is the line's total: unit price × quantity.
func (l *Line) Total() int64 { return l.UnitPriceMinor * l.Quantity }

// ETag is the strong entity tag "<id>-<version>".
func (o *Order) ETag() string {
	return `"` + strconv.FormatInt(o.ID, 10) + "-" + strconv.FormatInt(o.Version, 10) + `"`
}

// Location is the order's path.
func (o *Order) Location() string { return "/v1/orders/" + strconv.FormatInt(o.ID, 10) }

// AppendJSON appends the order's JSON object, members in the contract's
// order (docs/API.md), without reflection.
func (o *Order) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, o.ID, 10)
	b = append(b, `,"status":`...)
	b = httpx.AppendString(b, o.Status)
	b = append(b, `,"customer_ref":`...)
	b = httpx.AppendNullableString(b, o.CustomerRef)
	b = append(b, `,"lines":[`...)
	for i := range o.Lines {
		l := &o.Lines[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"product_id":`...)
		b = strconv.AppendInt(b, l.ProductID, 10)
		b = append(b, `,"sku":`...)
		b = httpx.AppendString(b, l.SKU)
		b = append(b, `,"name":`...)
		b = httpx.AppendString(b, l.Name)
		b = append(b, `,"unit_price_minor":`...)
		b = strconv.AppendInt(b, l.UnitPriceMinor, 10)
		b = append(b, `,"quantity":`...)
		b = strconv.AppendInt(b, l.Quantity, 10)
		b = append(b, `,"line_total_minor":`...)
		b = strconv.AppendInt(b, l.Total(), 10)
		b = append(b, '}')
	}
	b = append(b, `],"total_minor":`...)
	b = strconv.AppendInt(b, o.TotalMinor, 10)
	b = append(b, `,"currency":`...)
	b = httpx.AppendString(b, o.Currency)
	b = append(b, `,"created_at":`...)
	b = o.CreatedAt.AppendJSON(b)
	b = append(b, `,"updated_at":`...)
	b = o.UpdatedAt.AppendJSON(b)
	return append(b, '}')
}

// appendPage appends a page of the list response: {"items":[…],"next_cursor":…}.
func appendPage(b []byte, items []Order, next *string) []byte {
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
