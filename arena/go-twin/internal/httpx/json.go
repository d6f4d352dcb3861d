package httpx

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Buffer is a pooled response body. The hot responses (a product, a page of
// products, a problem) append their JSON to it by hand (AppendString and
// friends) instead of going through encoding/json's reflection: the same
// bytes, a fraction of the allocations.
type Buffer struct{ B []byte }

// maxPooledBuffer: larger buffers (a page of long descriptions) are left
// to the garbage collector rather than pinned in the pool.
const maxPooledBuffer = 64 << 10

var bufPool = sync.Pool{New: func() any { return &Buffer{B: make([]byte, 0, 1024)} }}

// GetBuffer returns an empty buffer from the pool; Write returns it.
func GetBuffer() *Buffer {
	b := bufPool.Get().(*Buffer)
	b.B = b.B[:0]
	return b
}

// Shared header values, never modified (net/http only reads them).
var (
	contentTypeJSON    = []string{"application/json"}
	contentTypeProblem = []string{"application/problem+json"}
)

// Write sends the buffer as the response body with the given status and
// content type ("application/json" or "application/problem+json" are
// shared slices; any other is allocated), then returns it to the pool.
func (b *Buffer) Write(w http.ResponseWriter, status int, contentType string) {
	h := w.Header()
	switch contentType {
	case contentTypeJSON[0]:
		h["Content-Type"] = contentTypeJSON
	case contentTypeProblem[0]:
		h["Content-Type"] = contentTypeProblem
	default:
		h.Set("Content-Type", contentType)
	}
	h["Content-Length"] = []string{strconv.Itoa(len(b.B))}
	w.WriteHeader(status)
	_, _ = w.Write(b.B)
	if cap(b.B) <= maxPooledBuffer {
		bufPool.Put(b)
	}
}

// Marshal encodes v as compact JSON without HTML escaping and without the
// trailing newline json.Encoder adds, matching serde_json's output. For the
// cold responses; hot ones append their JSON to a Buffer.
func Marshal(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // drop '\n'
	return nil
}

// WriteJSONType writes v as a JSON response with the given status and content type.
func WriteJSONType(w http.ResponseWriter, status int, contentType string, v any) {
	var buf bytes.Buffer
	if err := Marshal(&buf, v); err != nil {
		// Only reachable through a programming error; never leak details.
		buf.Reset()
		buf.WriteString(`{"status":"error"}`)
		status = http.StatusInternalServerError
	}
	b := GetBuffer()
	b.B = append(b.B, buf.Bytes()...)
	b.Write(w, status, contentType)
}

// WriteJSON writes v as an application/json response.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	WriteJSONType(w, status, "application/json", v)
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string exactly as encoding/json does with
// SetEscapeHTML(false): '"', '\\' and control characters escaped (\b, \f,
// \n, \r, \t by name, the rest as \u00XX), '<', '>' and '&' left alone,
// U+2028 and U+2029 escaped (encoding/json always does, for JSONP), and
// invalid UTF-8 replaced by \ufffd. serde_json differs only in leaving
// U+2028/U+2029 unescaped: the same string once parsed.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// appendEscaped appends the inside of AppendString's quotes.
func appendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

// AppendNullableString appends s as a JSON string, or null when s is nil.
func AppendNullableString(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	return AppendString(dst, *s)
}
