package orders

import (
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"strconv"

	"overkill/arena/go-twin/internal/httpx"
)

// The parts of Idempotency-Key (IETF httpapi draft "The Idempotency-Key
// HTTP Header Field") that do not touch the database: the header, the
// request fingerprint, the stored answer and its replay, the problems.
// keystore.go keeps the keys.

const maxKeyLen = 255

// ParseKey reads the Idempotency-Key header: present reports whether one
// was sent. The key is the value's characters, or the contents of the
// draft's Structured Field string form ("…" with \" and \\ escapes); it
// must be 1–255 characters of 0x20–0x7E, and the header sent once, else a
// 400 invalid-idempotency-key. (net/http has trimmed the value's
// surrounding spaces and tabs, as RFC 9110 says.)
func ParseKey(h http.Header) (key string, present bool, p *httpx.Problem) {
	vals, present := h["Idempotency-Key"]
	if !present {
		return "", false, nil
	}
	if len(vals) != 1 {
		return "", true, invalidKey()
	}
	key, ok := parseKeyValue(vals[0])
	if !ok {
		return "", true, invalidKey()
	}
	return key, true, nil
}

// parseKeyValue is ParseKey for one header value.
func parseKeyValue(v string) (string, bool) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var ok bool
		if v, ok = unescapeSF(v[1 : len(v)-1]); !ok {
			return "", false
		}
	}
	if len(v) < 1 || len(v) > maxKeyLen {
		return "", false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return "", false
		}
	}
	return v, true
}

// unescapeSF returns the contents of a Structured Field string (RFC 8941
// §3.3.3) between its quotes: '\' escapes only '"' and '\'; an unescaped
// '"' inside is malformed.
func unescapeSF(in string) (string, bool) {
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); i++ {
		switch c := in[i]; c {
		case '\\':
			if i+1 == len(in) || in[i+1] != '"' && in[i+1] != '\\' {
				return "", false
			}
			i++
			out = append(out, in[i])
		case '"':
			return "", false
		default:
			out = append(out, c)
		}
	}
	return string(out), true
}

// fingerprint identifies a request under one key: SHA-256 of the method,
// the path and the body bytes, each length-prefixed so that no part can
// spell the one after it (the Rust service's Fingerprint::of).
func fingerprint(method, path string, body []byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, part := range [...][]byte{[]byte(method), []byte(path), body} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// Response is an answer as the client first saw it, kept to be replayed
// byte for byte. The body is a pooled buffer until written.
type Response struct {
	Status      int
	Location    string // "" = none
	ETag        string // "" = none
	ContentType string
	Body        *httpx.Buffer
}

// write sends the answer; replayed adds Idempotent-Replayed: true. The
// body buffer goes back to its pool.
func (resp *Response) write(w http.ResponseWriter, replayed bool) {
	h := w.Header()
	if resp.Location != "" {
		h["Location"] = []string{resp.Location}
	}
	if resp.ETag != "" {
		h["ETag"] = []string{resp.ETag}
	}
	if replayed {
		h["Idempotent-Replayed"] = replayedTrue
	}
	resp.Body.Write(w, resp.Status, resp.ContentType)
	resp.Body = nil
}

var replayedTrue = []string{"true"}

// orderResponse renders o as the answer with status (201 with Location on
// create, 200 on cancel) into resp, reusing its buffer.
func orderResponse(resp *Response, status int, o *Order) {
	*resp = Response{Status: status, ETag: o.ETag(), ContentType: "application/json", Body: reuse(resp.Body)}
	if status == http.StatusCreated {
		resp.Location = o.Location()
	}
	resp.Body.B = o.AppendJSON(resp.Body.B)
}

// problemResponse renders p as the problem middleware would for the
// request at instance with id requestID.
func problemResponse(resp *Response, p *httpx.Problem, instance, requestID string) {
	*resp = Response{Status: p.Status, ContentType: "application/problem+json", Body: reuse(resp.Body)}
	resp.Body.B = p.AppendJSON(resp.Body.B, instance, requestID)
}

func reuse(b *httpx.Buffer) *httpx.Buffer {
	if b == nil {
		return httpx.GetBuffer()
	}
	b.B = b.B[:0]
	return b
}

func invalidKey() *httpx.Problem {
	return &httpx.Problem{Slug: "invalid-idempotency-key", Title: "Invalid Idempotency-Key", Status: http.StatusBadRequest,
		Detail: "Idempotency-Key must be one header of 1–" + strconv.Itoa(maxKeyLen) + " printable ASCII characters"}
}

func keyReused() *httpx.Problem {
	return &httpx.Problem{Slug: "idempotency-key-reused", Title: "Idempotency-Key reused", Status: http.StatusUnprocessableEntity,
		Detail: "this Idempotency-Key was used for a different request; use a new key for a new request"}
}

func keyInFlight() *httpx.Problem {
	return &httpx.Problem{Slug: "idempotency-key-in-flight", Title: "Idempotency-Key in flight", Status: http.StatusConflict,
		Detail: "a request with this Idempotency-Key is still running; retry shortly"}
}
