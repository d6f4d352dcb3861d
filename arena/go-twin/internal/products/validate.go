package products

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"overkill/arena/go-twin/internal/httpx"
)

const (
	maxSKULen         = 64
	maxNameLen        = 200
	maxDescriptionLen = 2000
	maxPriceMinor     = 1_000_000_000_000
	maxStock          = 1_000_000_000
)

// Mutable fields, in the order their errors are reported.
var mutableFields = []string{"name", "description", "price_minor", "currency", "stock"}

// Fields a patch may not touch (a 422 each), in the order they are reported.
// On create, all but sku are unknown fields.
var readOnlyFields = []string{"id", "sku", "version", "created_at", "updated_at"}

func isOneOf(key string, set []string) bool {
	for _, s := range set {
		if s == key {
			return true
		}
	}
	return false
}

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

// fieldSet is the last value of each member (duplicate keys: last wins).
type fieldSet = httpx.Object

// rejectUnknown names the first unknown member in key order (byte-wise), as
// the Rust service's sorted JSON map finds it.
func rejectUnknown(fs fieldSet, known func(string) bool) *httpx.Problem {
	unknown, found := "", false
	for k := range fs {
		if !known(k) && (!found || k < unknown) {
			unknown, found = k, true
		}
	}
	if found {
		return httpx.UnknownField(unknown)
	}
	return nil
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
func ParseCreate(fs fieldSet) (NewProduct, *httpx.Problem) {
	var np NewProduct
	if p := rejectUnknown(fs, func(k string) bool { return k == "sku" || isOneOf(k, mutableFields) }); p != nil {
		return np, p
	}
	var c collector
	required := func(field string) (json.RawMessage, bool) {
		raw, ok := fs[field]
		if !ok || isNull(raw) {
			c.add(field, msgRequired)
			return nil, false
		}
		return raw, true
	}
	if raw, ok := required("sku"); ok {
		if s, ok := checkSKU(raw); ok {
			np.SKU = s
		} else {
			c.add("sku", msgSKU)
		}
	}
	if raw, ok := required("name"); ok {
		if s, msg := checkName(raw); msg == "" {
			np.Name = s
		} else {
			c.add("name", msg)
		}
	}
	if raw, ok := fs["description"]; ok {
		if d, msg := checkDescription(raw); msg == "" {
			np.Description = d
		} else {
			c.add("description", msg)
		}
	}
	if raw, ok := required("price_minor"); ok {
		if v, ok := checkInt(raw, maxPriceMinor); ok {
			np.PriceMinor = v
		} else {
			c.add("price_minor", msgPrice)
		}
	}
	if raw, ok := required("currency"); ok {
		if s, ok := checkCurrency(raw); ok {
			np.Currency = s
		} else {
			c.add("currency", msgCurrency)
		}
	}
	if raw, ok := required("stock"); ok {
		if v, ok := checkInt(raw, maxStock); ok {
			np.Stock = v
		} else {
			c.add("stock", msgStock)
		}
	}
	return np, c.problem()
}

// ParsePatch validates a PATCH (merge patch) body.
func ParsePatch(fs fieldSet) (Patch, *httpx.Problem) {
	var pt Patch
	if p := rejectUnknown(fs, func(k string) bool { return isOneOf(k, mutableFields) || isOneOf(k, readOnlyFields) }); p != nil {
		return pt, p
	}
	var c collector
	for _, f := range readOnlyFields {
		if _, ok := fs[f]; ok {
			c.add(f, msgReadOnly)
		}
	}
	if raw, ok := fs["name"]; ok {
		if s, msg := checkName(raw); msg == "" {
			pt.Name = &s
		} else {
			c.add("name", msg)
		}
	}
	if raw, ok := fs["description"]; ok {
		if d, msg := checkDescription(raw); msg == "" {
			pt.SetDescription, pt.Description = true, d
		} else {
			c.add("description", msg)
		}
	}
	if raw, ok := fs["price_minor"]; ok {
		if v, ok := checkInt(raw, maxPriceMinor); ok {
			pt.PriceMinor = &v
		} else {
			c.add("price_minor", msgPrice)
		}
	}
	if raw, ok := fs["currency"]; ok {
		if s, ok := checkCurrency(raw); ok {
			pt.Currency = &s
		} else {
			c.add("currency", msgCurrency)
		}
	}
	if raw, ok := fs["stock"]; ok {
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
	if !ok || !validCurrency(s) {
		return "", false
	}
	return s, true
}

// checkInt accepts a JSON integer (no fraction or exponent) in 0..=max.
func checkInt(raw json.RawMessage, max int64) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	// Digits only: negative numbers are out of range anyway, and rejecting
	// the sign also rejects -0, which serde_json reads as a float; a
	// fraction or an exponent (even 1.0, 1e2) is not an integer.
	if len(raw) == 0 {
		return 0, false
	}
	var v int64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (max-int64(c-'0'))/10 {
			return 0, false // out of range, before it could overflow
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}
