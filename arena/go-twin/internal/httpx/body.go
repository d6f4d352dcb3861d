package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// RequireContentType returns a 415 problem unless the request's media type
// (the part before any ';' parameters, case-insensitive) is one of allowed.
func RequireContentType(r *http.Request, allowed ...string) *Problem {
	if ct, ok := r.Header["Content-Type"]; ok && len(ct) > 0 {
		essence, _, _ := strings.Cut(ct[0], ";")
		essence = strings.TrimSpace(essence)
		for _, a := range allowed {
			if strings.EqualFold(essence, a) {
				return nil
			}
		}
	}
	return UnsupportedMediaType("send the body as " + strings.Join(allowed, " or "))
}

// BodyLimits bound how much of a request body is read and for how long.
type BodyLimits struct {
	MaxBytes    int64         // larger bodies get 413
	ReadTimeout time.Duration // from the first read to the last byte; then 408
}

// ReadBody reads the whole request body. A declared Content-Length over the
// limit is a 413 before any byte is read (so no 100 Continue is sent); a
// body still arriving after lim.ReadTimeout is a 408, or a 503 timeout when
// the request deadline comes first. Either way the handler, and the
// load-shedding slot it holds, is released at that deadline.
func ReadBody(w http.ResponseWriter, r *http.Request, lim BodyLimits) ([]byte, *Problem) {
	if r.ContentLength > lim.MaxBytes {
		CloseAfter(w, r)
		return nil, PayloadTooLarge()
	}
	deadline, requestDeadline := time.Now().Add(lim.ReadTimeout), false
	if dl, ok := r.Context().Deadline(); ok && dl.Before(deadline) {
		deadline, requestDeadline = dl, true
	}
	if r.ProtoMajor == 2 {
		defer startBodyTimer(w, deadline).stop()
	} else if rc := http.NewResponseController(w); rc.SetReadDeadline(deadline) == nil {
		defer rc.SetReadDeadline(time.Time{})
	}
	var body []byte
	var err error
	if r.ContentLength >= 0 {
		// Declared and within the limit: one exact allocation. The server
		// enforces the framing, so the body cannot run past it.
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, lim.MaxBytes))
	}
	if err == nil {
		return body, nil
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, PayloadTooLarge()
	case TimedOut(r.Context()), requestDeadline && isTimeout(err):
		return nil, Timeout(RequestTimeoutOf(r.Context()))
	case isTimeout(err):
		// The rest of the body is still on the wire: do not wait for it.
		CloseAfter(w, r)
		return nil, RequestTimeout(lim.ReadTimeout)
	default:
		return nil, MalformedJSON("the request body could not be read")
	}
}

// On HTTP/1.x the body-read deadline is a read deadline on the connection
// (the poller's own timer; no allocation). On HTTP/2 a read deadline on the
// stream costs a message to the connection's serve goroutine and a timer
// there, twice per request (set and clear); a bodyTimer costs one timer,
// started and stopped here, and talks to the server only if it fires.
// bodyTimer interrupts an HTTP/2 body read at its deadline, never after
// stop (when the handler may be gone and its stream reused).
type bodyTimer struct {
	w       http.ResponseWriter
	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

// startBodyTimer makes reads of the request body fail with a timeout error
// from deadline on, until stop: on firing it sets a read deadline in the
// past, which the HTTP/2 server applies at once, without a message (it
// closes the stream's body with os.ErrDeadlineExceeded).
func startBodyTimer(w http.ResponseWriter, deadline time.Time) *bodyTimer {
	t := &bodyTimer{w: w}
	t.mu.Lock() // t.timer is set before fire can look at it
	defer t.mu.Unlock()
	t.timer = time.AfterFunc(time.Until(deadline), t.fire)
	return t
}

// longAgo is a deadline in the past: reads fail at once.
var longAgo = time.Unix(1, 0)

func (t *bodyTimer) fire() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		_ = http.NewResponseController(t.w).SetReadDeadline(longAgo)
	}
}

func (t *bodyTimer) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	t.timer.Stop()
}

// CloseAfter asks an HTTP/1.x server to close the connection after this
// response instead of draining an unread body. (On HTTP/2 the header would
// mean GOAWAY for every stream; resetting the one stream is enough there.)
func CloseAfter(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// DecodeObject parses body, a single JSON object, into dst (a pointer to a
// struct of the members the caller knows, typically json.RawMessage
// fields) in one json.Unmarshal: of a repeated member the last value
// counts, as in serde_json's map, the Rust service's parse. Anything else
// (invalid UTF-8, a lone surrogate escape, a syntax error, trailing data, a
// non-object) is a malformed-json problem. encoding/json matches member
// names case-insensitively and ignores unknown ones: callers name unknown
// members exactly with EachKey before they use dst.
func DecodeObject(body []byte, dst any) *Problem {
	if !utf8.Valid(body) {
		return MalformedJSON("the body is not valid JSON: invalid UTF-8")
	}
	if hasLoneSurrogate(body) {
		return MalformedJSON("the body is not valid JSON: lone surrogate in a \\u escape")
	}
	// Unmarshal would take null for an empty object and reports any other
	// non-object as a type error: look at the first token ourselves.
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		if json.Valid(body) {
			return MalformedJSON("the body must be a JSON object")
		}
		return MalformedJSON("the body is not valid JSON")
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return MalformedJSON("the body is not valid JSON")
	}
	return nil
}

// EachKey calls fn with the name of every member of obj, a JSON object
// that DecodeObject accepted, in document order, unescaped. key is only
// valid during the call.
func EachKey(obj []byte, fn func(key []byte)) {
	i := skipSpace(obj, 0) + 1 // past '{'
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return // '}': the end
		}
		end := stringEnd(obj, i)
		key := obj[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var s string
			_ = json.Unmarshal(obj[i:end], &s) // valid: DecodeObject parsed it
			key = []byte(s)
		}
		fn(key)
		i = skipValue(obj, skipSpace(obj, end)+1) // past ':' and the value
		i = skipSpace(obj, i) + 1                 // past ',' or '}'
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at b[i] == '"'.
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the (valid) value at or after i.
func skipValue(b []byte, i int) int {
	i = skipSpace(b, i)
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i = stringEnd(b, i)
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return i
}

// hasLoneSurrogate reports a \uD800–\uDFFF escape that is not a proper
// high+low pair. encoding/json would silently turn it into U+FFFD; strict
// parsers (serde_json) reject the document, and so do we.
func hasLoneSurrogate(b []byte) bool {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		var r rune
		for _, c := range b[i+2 : i+6] {
			switch {
			case c >= '0' && c <= '9':
				r = r<<4 | rune(c-'0')
			case c >= 'a' && c <= 'f':
				r = r<<4 | rune(c-'a'+10)
			case c >= 'A' && c <= 'F':
				r = r<<4 | rune(c-'A'+10)
			default:
				return 0, false
			}
		}
		return r, true
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r, ok := hex4(i)
		if !ok {
			i++ // skip the escaped character
			continue
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := hex4(i + 6)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		default:
			i += 5
		}
	}
	return false
}
