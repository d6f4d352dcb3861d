package products

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"overkill/arena/go-twin/internal/currency"
	"overkill/arena/go-twin/internal/httpx"
)

const (
	maxSKULen         = 64
	maxNameLen        = 200
	maxDescriptionLen = 2000
	maxPriceMinor     = 1_000_000_000_000
	maxStock          = 1_000_000_000
)

// Fields a patch may not touch (a 422 each), in the order they are reported.
// On create, all but sku are unknown fields.
var readOnlyFields = []string{"id", "sku", "version", "created_at", "updated_at"}

const (
	msgRequired    = "is required"
	msgReadOnly    = "is read-only"
	msgSKU         = "must be 1–64 characters of A-Z, a-z, 0-9, '.', '_' or '-'"
	msgName        = "must be a string of 1–200 characters, not blank"
	msgDescription = "must be a string of at most 2000 characters, or null"
	msgPrice       = "must be an integer from 0 to 1000000000000"
	msgStock       = "must be an integer from 0 to 1000000000"
	msgCurrency    = "must be an ISO 4217 currency code such as EUR"
	msgNUL         = "must not contain NUL (U+0000)"
)

// hasNUL reports a U+0000, which PostgreSQL text cannot store: one rule on
// every engine, so it is rejected at the edge.
func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

// NewProduct is a validated create request.
type NewProduct struct {
	SKU         string
	Name        string
	Description *string
	PriceMinor  int64
	Currency    string
	Stock       int64
}

// Patch is a validated JSON merge patch; nil pointers are absent fields.
type Patch struct {
	Name           *string
	SetDescription bool    // description present in the patch
	Description    *string // nil with SetDescription = clear
	PriceMinor     *int64
	Currency       *string
	Stock          *int64
}

// Apply merges the patch into p.
func (pt *Patch) Apply(p *Product) {
	if pt.Name != nil {
		p.Name = *pt.Name
	}
	if pt.SetDescription {
		p.Description = pt.Description
	}
	if pt.PriceMinor != nil {
		p.PriceMinor = *pt.PriceMinor
	}
	if pt.Currency != nil {
		p.Currency = *pt.Currency
	}
	if pt.Stock != nil {
		p.Stock = *pt.Stock
	}
}

// Body is a decoded product body (POST or PATCH): the raw value of each
// member a product has, nil when absent (a JSON null is "null"); of a
// repeated member the last value counts.
type Body struct {
	raw         []byte          // the whole object, to name unknown members exactly
	ID          json.RawMessage `json:"id"`
	SKU         json.RawMessage `json:"sku"`
	Name        json.RawMessage `json:"name"`
	Description json.RawMessage `json:"description"`
	PriceMinor  json.RawMessage `json:"price_minor"`
	Currency    json.RawMessage `json:"currency"`
	Stock       json.RawMessage `json:"stock"`
	Version     json.RawMessage `json:"version"`
	CreatedAt   json.RawMessage `json:"created_at"`
	UpdatedAt   json.RawMessage `json:"updated_at"`
}

// DecodeBody parses a request body as a JSON object (400 malformed-json
// otherwise); its members are checked by ParseCreate or ParsePatch.
func DecodeBody(raw []byte) (*Body, *httpx.Problem) {
	b := &Body{raw: raw}
	if p := httpx.DecodeObject(raw, b); p != nil {
		return nil, p
	}
	return b, nil
}

// readOnly returns the members a patch may not touch, in the order their
// errors are reported.
func (b *Body) readOnly() [5]json.RawMessage {
	return [...]json.RawMessage{b.ID, b.SKU, b.Version, b.CreatedAt, b.UpdatedAt}
}

// rejectUnknown names the first unknown member in key order (byte-wise), as
// the Rust service's sorted JSON map finds it. Only exact names are known
// (encoding/json also filled b's fields from "SKU" or "ſku").
func (b *Body) rejectUnknown(known func(key []byte) bool) *httpx.Problem {
	var unknown []byte
	found := false
	httpx.EachKey(b.raw, func(k []byte) {
		if !known(k) && (!found || bytes.Compare(k, unknown) < 0) {
			unknown, found = append(unknown[:0], k...), true
		}
	})
	if found {
		return httpx.UnknownField(string(unknown))
	}
	return nil
}

func isMutable(k []byte) bool {
	switch string(k) {
	case "name", "description", "price_minor", "currency", "stock":
		return true
	}
	return false
}

func knownOnCreate(k []byte) bool { return string(k) == "sku" || isMutable(k) }

func knownOnPatch(k []byte) bool {
	switch string(k) {
	case "id", "sku", "version", "created_at", "updated_at":
		return true
	}
	return isMutable(k)
}

type collector struct{ errs []httpx.FieldError }

func (c *collector) add(field, msg string) {
	c.errs = append(c.errs, httpx.FieldError{Field: field, Message: msg})
}

func (c *collector) problem() *httpx.Problem {
	if len(c.errs) == 0 {
		return nil
	}
	return httpx.Validation(c.errs)
}

// ParseCreate validates a POST body.
func ParseCreate(b *Body) (NewProduct, *httpx.Problem) {
	var np NewProduct
	if p := b.rejectUnknown(knownOnCreate); p != nil {
		return np, p
	}
	var c collector
	required := func(field string, raw json.RawMessage) (json.RawMessage, bool) {
		if raw == nil || isNull(raw) {
			c.add(field, msgRequired)
			return nil, false
		}
		return raw, true
	}
	if raw, ok := required("sku", b.SKU); ok {
		if s, ok := checkSKU(raw); ok {
			np.SKU = s
		} else {
			c.add("sku", msgSKU)
		}
	}
	if raw, ok := required("name", b.Name); ok {
		if s, msg := checkName(raw); msg == "" {
			np.Name = s
		} else {
			c.add("name", msg)
		}
	}
	if raw := b.Description; raw != nil {
		if d, msg := checkDescription(raw); msg == "" {
			np.Description = d
		} else {
			c.add("description", msg)
		}
	}
	if raw, ok := required("price_minor", b.PriceMinor); ok {
		if v, ok := checkInt(raw, maxPriceMinor); ok {
			np.PriceMinor = v
		} else {
			c.add("price_minor", msgPrice)
		}
	}
	if raw, ok := required("currency", b.Currency); ok {
		if s, ok := checkCurrency(raw); ok {
			np.Currency = s
		} else {
			c.add("currency", msgCurrency)
		}
	}
	if raw, ok := required("stock", b.Stock); ok {
		if v, ok := checkInt(raw, maxStock); ok {
			np.Stock = v
		} else {
			c.add("stock", msgStock)
		}
	}
	return np, c.problem()
}

// ParsePatch validates a PATCH (merge patch) body.
func ParsePatch(b *Body) (Patch, *httpx.Problem) {
	var pt Patch
	if p := b.rejectUnknown(knownOnPatch); p != nil {
		return pt, p
	}
	var c collector
	for i, raw := range b.readOnly() {
		if raw != nil {
			c.add(readOnlyFields[i], msgReadOnly)
		}
	}
	if raw := b.Name; raw != nil {
		if s, msg := checkName(raw); msg == "" {
			pt.Name = &s
		} else {
			c.add("name", msg)
		}
	}
	if raw := b.Description; raw != nil {
		if d, msg := checkDescription(raw); msg == "" {
			pt.SetDescription, pt.Description = true, d
		} else {
			c.add("description", msg)
		}
	}
	if raw := b.PriceMinor; raw != nil {
		if v, ok := checkInt(raw, maxPriceMinor); ok {
			pt.PriceMinor = &v
		} else {
			c.add("price_minor", msgPrice)
		}
	}
	if raw := b.Currency; raw != nil {
		if s, ok := checkCurrency(raw); ok {
			pt.Currency = &s
		} else {
			c.add("currency", msgCurrency)
		}
	}
	if raw := b.Stock; raw != nil {
		if v, ok := checkInt(raw, maxStock); ok {
			pt.Stock = &v
		} else {
			c.add("stock", msgStock)
		}
	}
	return pt, c.problem()
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// asString decodes a JSON string member. The whole body already parsed as
// JSON, so a string without escapes is its bytes between the quotes; one
// with escapes goes through encoding/json.
func asString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func checkSKU(raw json.RawMessage) (string, bool) {
	s, ok := asString(raw)
	if !ok || len(s) < 1 || len(s) > maxSKULen {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
			return "", false
		}
	}
	return s, true
}

// checkName: 1–200 Unicode scalar values, not only whitespace, no NUL. The
// message is "" when valid.
func checkName(raw json.RawMessage) (string, string) {
	s, ok := asString(raw)
	switch {
	case !ok || utf8.RuneCountInString(s) > maxNameLen || strings.TrimFunc(s, unicode.IsSpace) == "":
		return "", msgName
	case hasNUL(s):
		return "", msgNUL
	}
	return s, ""
}

// checkDescription: null (clears) or a string of at most 2000 characters
// without NUL. The message is "" when valid.
func checkDescription(raw json.RawMessage) (*string, string) {
	if isNull(raw) {
		return nil, ""
	}
	s, ok := asString(raw)
	switch {
	case !ok || utf8.RuneCountInString(s) > maxDescriptionLen:
		return nil, msgDescription
	case hasNUL(s):
		return nil, msgNUL
	}
	return &s, ""
}

func checkCurrency(raw json.RawMessage) (string, bool) {
	s, ok := asString(raw)
	if !ok || !currency.Valid(s) {
		return "", false
	}
	return s, true
}

// checkInt accepts a JSON number whose value is a whole number in 0..=max,
// however it is spelled: 2, 2.0, 2e0 and -0 are integers, as JSON Schema
// counts them; 2.5 is not. Plain digits are read exactly; any other
// spelling is read as a correctly rounded double, as the Rust service does
// (every whole double up to max, at most 10^12 < 2^53, is exact).
func checkInt(raw json.RawMessage, max int64) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, false
	}
	var v int64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return wholeFloat(raw, max)
		}
		if v > (max-int64(c-'0'))/10 {
			return 0, false // out of range, before it could overflow
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// wholeFloat reads a JSON number with a sign, fraction or exponent.
func wholeFloat(raw json.RawMessage, max int64) (int64, bool) {
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, false // a string, bool, null, object or array
	}
	x, err := strconv.ParseFloat(string(raw), 64)
	// Past 2^53 a double is not the integer its text spells (an id written
	// 9007199254740993.0 reads as ...992): only plain digits are exact
	// there, as in the Rust service. This also keeps float64(max), which
	// rounds up for a max past 2^53, out of the range check.
	if err != nil || x != math.Trunc(x) || x < 0 || x > float64(max) || x >= 0x1p53 {
		return 0, false
	}
	return int64(x), true
}
