package httpx

import (
	"strings"
	"unicode/utf8"
)

// ParseQuery decodes a raw query string the way the Rust service does:
// pairs split on '&' only, names and values form-decoded ('+' is a space; a
// '%' not followed by two hex digits stays as it is), the last of repeated
// names wins. A value that is not UTF-8 once decoded, or that holds NUL
// (U+0000), is a 400 invalid-parameter naming every such parameter: text no
// parameter can legitimately hold never reaches a handler or SQL.
//
// Unlike url.ParseQuery it neither drops malformed pairs silently nor
// allocates for a value without escapes (it is a substring of raw).
func ParseQuery(raw string) (map[string]string, *Problem) {
	params := make(map[string]string, strings.Count(raw, "&")+1)
	if p := EachQuery(raw, func(name, value string) { params[name] = value }); p != nil {
		return nil, p
	}
	return params, nil
}

// EachQuery calls fn with every parameter of raw, in order, repeats
// included, decoded and checked as ParseQuery does: if any value is not
// UTF-8 or holds NUL, it returns the 400 naming every such parameter (fn
// may have seen the others). It allocates only for values with escapes.
func EachQuery(raw string, fn func(name, value string)) *Problem {
	var errs []FieldError
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		name, value = formDecode(name), formDecode(value)
		switch {
		case !utf8.ValidString(value):
			errs = append(errs, FieldError{Field: name, Message: "must be UTF-8 text once percent-decoded"})
		case strings.IndexByte(value, 0) >= 0:
			errs = append(errs, FieldError{Field: name, Message: "must not contain NUL (U+0000)"})
		default:
			fn(name, value)
		}
	}
	if errs != nil {
		return InvalidParameter(errs)
	}
	return nil
}

// QueryValue is the value of the parameter name in raw (the last of
// repeats) and whether it is there, every parameter checked as ParseQuery
// checks them: for a handler that reads one parameter without building a
// map.
func QueryValue(raw, name string) (value string, found bool, p *Problem) {
	p = EachQuery(raw, func(n, v string) {
		if n == name {
			value, found = v, true
		}
	})
	if p != nil {
		return "", false, p
	}
	return value, found, nil
}

// formDecode percent-decodes s with '+' as a space.
func formDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
