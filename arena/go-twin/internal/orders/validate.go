package orders

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"

	"overkill/arena/go-twin/internal/httpx"
	"overkill/arena/go-twin/internal/products"
)

const (
	maxLines       = 50
	maxQuantity    = 1_000
	maxCustomerRef = 64
	// maxTotalMinor is 2^53 − 1, the largest integer every JSON client
	// reads exactly.
	maxTotalMinor = 1<<53 - 1
)

const (
	msgRequired    = "is required"
	msgLines       = "must be an array of 1–50 lines"
	msgLine        = "must be an object with product_id and quantity"
	msgProductID   = "must be a product id, an integer of at least 1"
	msgQuantity    = "must be an integer from 1 to 1000"
	msgCustomerRef = "must be 1–64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'"
)

// NewOrder is a validated create request.
type NewOrder struct {
	Lines       []LineRequest
	CustomerRef *string
}

// LineRequest is one requested line: a product at most once per order.
type LineRequest struct {
	ProductID int64
	Quantity  int64
}

// body is the decoded top-level object: the raw value of each known member,
// nil when absent (a JSON null is "null").
type body struct {
	Lines       json.RawMessage `json:"lines"`
	CustomerRef json.RawMessage `json:"customer_ref"`
}

type lineBody struct {
	ProductID json.RawMessage `json:"product_id"`
	Quantity  json.RawMessage `json:"quantity"`
}

// ParseCreate parses and validates a POST /v1/orders body: 400
// malformed-json for anything but a JSON object, 400 unknown-field for the
// first unknown member (top level first, then line by line, each in key
// order as the Rust service's sorted map finds it), else 422 listing every
// invalid field by path.
func ParseCreate(raw []byte) (NewOrder, *httpx.Problem) {
	var b body
	if p := httpx.DecodeObject(raw, &b); p != nil {
		return NewOrder{}, p
	}
	if p := rejectUnknown(raw, "", knownTop); p != nil {
		return NewOrder{}, p
	}
	var c collector
	var no NewOrder
	// Errors in the Rust service's order: customer_ref, then the lines.
	if raw := b.CustomerRef; raw != nil && !products.IsNull(raw) {
		if s, ok := checkCustomerRef(raw); ok {
			no.CustomerRef = &s
		} else {
			c.add("customer_ref", msgCustomerRef)
		}
	}
	elems, linesOK := splitLines(b.Lines, &c)
	if linesOK {
		for i, el := range elems {
			if p := rejectUnknown(el, linePath(i)+".", knownLine); p != nil {
				return NewOrder{}, p
			}
		}
		no.Lines = parseLines(elems, &c)
	}
	if p := c.problem(); p != nil {
		return NewOrder{}, p
	}
	return no, nil
}

// splitLines checks the lines member's shape and returns its elements.
func splitLines(raw json.RawMessage, c *collector) ([]json.RawMessage, bool) {
	if raw == nil || products.IsNull(raw) {
		c.add("lines", msgRequired)
		return nil, false
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] != '[' {
		c.add("lines", msgLines)
		return nil, false
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil { // unreachable: the body parsed
		c.add("lines", msgLines)
		return nil, false
	}
	if len(elems) < 1 || len(elems) > maxLines {
		c.add("lines", msgLines)
		return nil, false
	}
	return elems, true
}

// parseLines validates each line. A line whose product an earlier valid
// line already orders names that line ("repeats the product of lines[0]");
// as in the Rust service, only a line valid in both members is compared.
func parseLines(elems []json.RawMessage, c *collector) []LineRequest {
	lines := make([]LineRequest, len(elems)) // by index; zero where invalid
	for i, el := range elems {
		path := linePath(i)
		var lb lineBody
		if el = bytes.TrimSpace(el); el[0] != '{' || json.Unmarshal(el, &lb) != nil {
			c.add(path, msgLine)
			continue
		}
		id, idOK := products.CheckInt(lb.ProductID, math.MaxInt64)
		switch {
		case lb.ProductID == nil || products.IsNull(lb.ProductID):
			c.add(path+".product_id", msgRequired)
			idOK = false
		case !idOK || id < 1:
			c.add(path+".product_id", msgProductID)
			idOK = false
		}
		q, qOK := products.CheckInt(lb.Quantity, maxQuantity)
		switch {
		case lb.Quantity == nil || products.IsNull(lb.Quantity):
			c.add(path+".quantity", msgRequired)
			qOK = false
		case !qOK || q < 1:
			c.add(path+".quantity", msgQuantity)
			qOK = false
		}
		if !idOK || !qOK {
			continue
		}
		if first := firstLineOf(lines[:i], id); first >= 0 {
			c.add(path+".product_id", "repeats the product of "+linePath(first))
			continue
		}
		lines[i] = LineRequest{ProductID: id, Quantity: q}
	}
	return lines
}

// firstLineOf returns the index of the line ordering id, or -1: a linear
// scan, no map, for at most 50 lines (invalid lines are zero: never a match).
func firstLineOf(lines []LineRequest, id int64) int {
	for j := range lines {
		if lines[j].ProductID == id {
			return j
		}
	}
	return -1
}

func linePath(i int) string { return "lines[" + strconv.Itoa(i) + "]" }

func knownTop(k []byte) bool { return string(k) == "lines" || string(k) == "customer_ref" }

func knownLine(k []byte) bool { return string(k) == "product_id" || string(k) == "quantity" }

// rejectUnknown names the first unknown member of obj in key order
// (byte-wise), prefixed with the object's path. Only exact names are known
// (encoding/json also matched "Lines" or "ſines"). A non-object is left to
// the shape checks.
func rejectUnknown(obj []byte, prefix string, known func([]byte) bool) *httpx.Problem {
	if t := bytes.TrimSpace(obj); len(t) == 0 || t[0] != '{' {
		return nil
	}
	var unknown []byte
	found := false
	httpx.EachKey(bytes.TrimLeft(obj, " \t\r\n"), func(k []byte) {
		if !known(k) && (!found || bytes.Compare(k, unknown) < 0) {
			unknown, found = append(unknown[:0], k...), true
		}
	})
	if found {
		return httpx.UnknownField(prefix + string(unknown))
	}
	return nil
}

// checkCustomerRef: 1–64 characters of [A-Za-z0-9._:-].
func checkCustomerRef(raw json.RawMessage) (string, bool) {
	s, ok := products.AsString(raw)
	return s, ok && validCustomerRef(s)
}

func validCustomerRef(s string) bool {
	if len(s) < 1 || len(s) > maxCustomerRef {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' ||
			ch == '.' || ch == '_' || ch == ':' || ch == '-') {
			return false
		}
	}
	return true
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
