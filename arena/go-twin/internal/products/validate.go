package products

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
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

// Writable fields in the order errors are reported.
var writableFields = []string{"sku", "name", "description", "price_minor", "currency", "stock"}

// Server-managed fields: unknown on create, a 422 on patch.
var readOnlyFields = []string{"id", "version", "created_at", "updated_at"}

func isOneOf(key string, set []string) bool {
	for _, s := range set {
		if s == key {
			return true
		}
	}
	return false
}

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
type fieldSet map[string]json.RawMessage

func toFieldSet(members []httpx.Member, known func(string) bool) (fieldSet, *httpx.Problem) {
	fs := make(fieldSet, len(members))
	for _, m := range members {
		if !known(m.Key) {
			return nil, httpx.UnknownField(m.Key)
		}
		fs[m.Key] = m.Value
	}
	return fs, nil
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
func ParseCreate(members []httpx.Member) (NewProduct, *httpx.Problem) {
	var np NewProduct
	fs, p := toFieldSet(members, func(k string) bool { return isOneOf(k, writableFields) })
	if p != nil {
		return np, p
	}
	var c collector
	for _, f := range writableFields {
		raw, ok := fs[f]
		if !ok || (isNull(raw) && f != "description") {
			if f != "description" {
				if ok {
					c.add(f, "must not be null")
				} else {
					c.add(f, "is required")
				}
			}
			continue
		}
		switch f {
		case "sku":
			if s, msg := checkSKU(raw); msg != "" {
				c.add(f, msg)
			} else {
				np.SKU = s
			}
		case "name":
			if s, msg := checkName(raw); msg != "" {
				c.add(f, msg)
			} else {
				np.Name = s
			}
		case "description":
			if d, msg := checkDescription(raw); msg != "" {
				c.add(f, msg)
			} else {
				np.Description = d
			}
		case "price_minor":
			if v, msg := checkInt(raw, maxPriceMinor); msg != "" {
				c.add(f, msg)
			} else {
				np.PriceMinor = v
			}
		case "currency":
			if s, msg := checkCurrency(raw); msg != "" {
				c.add(f, msg)
			} else {
				np.Currency = s
			}
		case "stock":
			if v, msg := checkInt(raw, maxStock); msg != "" {
				c.add(f, msg)
			} else {
				np.Stock = v
			}
		}
	}
	return np, c.problem()
}

// ParsePatch validates a PATCH (merge patch) body.
func ParsePatch(members []httpx.Member) (Patch, *httpx.Problem) {
	var pt Patch
	fs, p := toFieldSet(members, func(k string) bool {
		return isOneOf(k, writableFields) || isOneOf(k, readOnlyFields)
	})
	if p != nil {
		return pt, p
	}
	var c collector
	for _, f := range writableFields {
		raw, ok := fs[f]
		if !ok {
			continue
		}
		if f == "sku" {
			c.add(f, "is immutable and cannot be changed")
			continue
		}
		if f == "description" {
			if d, msg := checkDescription(raw); msg != "" {
				c.add(f, msg)
			} else {
				pt.SetDescription, pt.Description = true, d
			}
			continue
		}
		if isNull(raw) {
			c.add(f, "must not be null")
			continue
		}
		switch f {
		case "name":
			if s, msg := checkName(raw); msg != "" {
				c.add(f, msg)
			} else {
				pt.Name = &s
			}
		case "price_minor":
			if v, msg := checkInt(raw, maxPriceMinor); msg != "" {
				c.add(f, msg)
			} else {
				pt.PriceMinor = &v
			}
		case "currency":
			if s, msg := checkCurrency(raw); msg != "" {
				c.add(f, msg)
			} else {
				pt.Currency = &s
			}
		case "stock":
			if v, msg := checkInt(raw, maxStock); msg != "" {
				c.add(f, msg)
			} else {
				pt.Stock = &v
			}
		}
	}
	for _, f := range readOnlyFields {
		if _, ok := fs[f]; ok {
			c.add(f, "is read-only")
		}
	}
	return pt, c.problem()
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func asString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func checkSKU(raw json.RawMessage) (string, string) {
	s, ok := asString(raw)
	if !ok {
		return "", "must be a string"
	}
	const msg = "must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-'"
	if len(s) < 1 || len(s) > maxSKULen {
		return "", msg
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
			return "", msg
		}
	}
	return s, ""
}

func checkName(raw json.RawMessage) (string, string) {
	s, ok := asString(raw)
	if !ok {
		return "", "must be a string"
	}
	if n := utf8.RuneCountInString(s); n < 1 || n > maxNameLen {
		return "", fmt.Sprintf("must be 1-%d characters", maxNameLen)
	}
	if strings.TrimFunc(s, unicode.IsSpace) == "" {
		return "", "must not be only whitespace"
	}
	return s, ""
}

func checkDescription(raw json.RawMessage) (*string, string) {
	if isNull(raw) {
		return nil, ""
	}
	s, ok := asString(raw)
	if !ok {
		return nil, "must be a string or null"
	}
	if utf8.RuneCountInString(s) > maxDescriptionLen {
		return nil, fmt.Sprintf("must be at most %d characters", maxDescriptionLen)
	}
	return &s, ""
}

func checkCurrency(raw json.RawMessage) (string, string) {
	s, ok := asString(raw)
	if !ok {
		return "", "must be a string"
	}
	if !validCurrency(s) {
		return "", "must be a current ISO 4217 currency code"
	}
	return s, ""
}

// checkInt accepts a JSON integer (no fraction or exponent) in 0..=max.
func checkInt(raw json.RawMessage, max int64) (int64, string) {
	raw = bytes.TrimSpace(raw)
	rangeMsg := fmt.Sprintf("must be an integer between 0 and %d", max)
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return 0, "must be an integer"
	}
	if bytes.ContainsAny(raw, ".eE") {
		return 0, "must be an integer"
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || v < 0 || v > max {
		return 0, rangeMsg
	}
	return v, ""
}
