package httpx

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// FieldError names one invalid field or query parameter.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem. It implements error so handlers can return
// it through ordinary error paths.
type Problem struct {
	Slug   string
	Title  string
	Status int
	Detail string
	Errors []FieldError
	Field  string // unknown-field extension; empty when absent
	// RetryAfter is the Retry-After header in seconds, when the problem
	// knows when to retry (fx-unavailable: the provider's reopening); a 503
	// without one gets 1.
	RetryAfter int
	// Ext holds further members a kind of problem defines (RFC 9457 §3.2),
	// rendered: `"short_lines":[…]`, appended after the standard ones.
	Ext []byte
}

func (p *Problem) Error() string { return p.Slug + ": " + p.Detail }

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	switch {
	case p.RetryAfter > 0:
		w.Header()["Retry-After"] = []string{strconv.Itoa(p.RetryAfter)}
	case p.Status == http.StatusServiceUnavailable:
		w.Header()["Retry-After"] = retryAfter
	}
	buf := GetBuffer()
	buf.B = p.AppendJSON(buf.B, r.URL.Path, RequestID(r.Context()))
	buf.Write(w, p.Status, "application/problem+json")
}

// AppendJSON appends the RFC 9457 body of p for the request at instance:
// type, title, status, detail, instance, request_id, then errors when
// there are any and field when set (the bytes encoding/json produced for
// the struct this replaced; see TestProblemJSONMatchesEncodingJSON).
func (p *Problem) AppendJSON(b []byte, instance, requestID string) []byte {
	b = append(b, `{"type":"/problems/`...)
	b = appendEscaped(b, p.Slug)
	b = append(b, `","title":`...)
	b = AppendString(b, p.Title)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(p.Status), 10)
	b = append(b, `,"detail":`...)
	b = AppendString(b, p.Detail)
	b = append(b, `,"instance":`...)
	b = AppendString(b, instance)
	b = append(b, `,"request_id":`...)
	b = AppendString(b, requestID)
	if len(p.Errors) > 0 {
		b = append(b, `,"errors":[`...)
		for i, e := range p.Errors {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"field":`...)
			b = AppendString(b, e.Field)
			b = append(b, `,"message":`...)
			b = AppendString(b, e.Message)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if p.Field != "" {
		b = append(b, `,"field":`...)
		b = AppendString(b, p.Field)
	}
	if len(p.Ext) > 0 {
		b = append(b, ',')
		b = append(b, p.Ext...)
	}
	return append(b, '}')
}

// retryAfter is shared by every 503 response that does not know better
// (never modified): overload, outage and timeout are all worth retrying
// after a second.
var retryAfter = []string{"1"}

// Constructors, one per slug of the contract.

func MalformedJSON(detail string) *Problem {
	return &Problem{Slug: "malformed-json", Title: "Malformed JSON", Status: http.StatusBadRequest, Detail: detail}
}

func UnknownField(field string) *Problem {
	return &Problem{Slug: "unknown-field", Title: "Unknown field", Status: http.StatusBadRequest,
		Detail: fmt.Sprintf("unknown field `%s`", field), Field: field}
}

func InvalidParameter(errs []FieldError) *Problem {
	return &Problem{Slug: "invalid-parameter", Title: "Invalid parameter", Status: http.StatusBadRequest,
		Detail: summary(errs, "parameter"), Errors: errs}
}

func NotFound(detail string) *Problem {
	return &Problem{Slug: "not-found", Title: "Not found", Status: http.StatusNotFound, Detail: detail}
}

func MethodNotAllowed(path string) *Problem {
	return &Problem{Slug: "method-not-allowed", Title: "Method not allowed", Status: http.StatusMethodNotAllowed,
		Detail: path + " does not support this method; see the Allow header"}
}

func Conflict(detail string) *Problem {
	return &Problem{Slug: "conflict", Title: "Conflict", Status: http.StatusConflict, Detail: detail}
}

func PreconditionFailed(detail string) *Problem {
	return &Problem{Slug: "precondition-failed", Title: "Precondition failed", Status: http.StatusPreconditionFailed,
		Detail: detail}
}

func PayloadTooLarge() *Problem {
	return &Problem{Slug: "payload-too-large", Title: "Payload too large", Status: http.StatusRequestEntityTooLarge,
		Detail: "the request body is larger than the service accepts"}
}

func UnsupportedMediaType(detail string) *Problem {
	return &Problem{Slug: "unsupported-media-type", Title: "Unsupported media type", Status: http.StatusUnsupportedMediaType,
		Detail: detail}
}

func Validation(errs []FieldError) *Problem {
	return &Problem{Slug: "validation-error", Title: "Validation failed", Status: http.StatusUnprocessableEntity,
		Detail: summary(errs, "field"), Errors: errs}
}

func Internal() *Problem {
	return &Problem{Slug: "internal", Title: "Internal server error", Status: http.StatusInternalServerError,
		Detail: "the server failed to handle the request; quote the request id when reporting it"}
}

// BadRequest: a request the service refuses as framed (an absolute-form
// target for another host, on a proxied route).
func BadRequest(detail string) *Problem {
	return &Problem{Slug: "bad-request", Title: "Bad request", Status: http.StatusBadRequest, Detail: detail}
}

// BadGateway: a proxied request reached no upstream (refused, reset or
// timed out connecting, after the retries allowed) or got no answer from it.
func BadGateway(detail string) *Problem {
	return &Problem{Slug: "bad-gateway", Title: "Bad gateway", Status: http.StatusBadGateway, Detail: detail}
}

// GatewayTimeout: an upstream sent no response head in time.
func GatewayTimeout(detail string) *Problem {
	return &Problem{Slug: "gateway-timeout", Title: "Gateway timeout", Status: http.StatusGatewayTimeout, Detail: detail}
}

func Unavailable(detail string) *Problem {
	return &Problem{Slug: "unavailable", Title: "Service unavailable", Status: http.StatusServiceUnavailable, Detail: detail}
}

// RequestTimeout: the client did not send its body within limit.
func RequestTimeout(limit time.Duration) *Problem {
	return &Problem{Slug: "request-timeout", Title: "Request timeout", Status: http.StatusRequestTimeout,
		Detail: fmt.Sprintf("the request body did not arrive within %d ms", limit.Milliseconds())}
}

func Timeout(limit time.Duration) *Problem {
	return &Problem{Slug: "timeout", Title: "Request timed out", Status: http.StatusServiceUnavailable,
		Detail: fmt.Sprintf("the request took longer than %d ms", limit.Milliseconds())}
}

// RetryAfterOne sets Retry-After: 1 (every 503 has it; WriteProblem adds
// it there), for the other answers that invite a retry.
func RetryAfterOne(h http.Header) { h["Retry-After"] = retryAfter }

// summary is "field: message" for one error, "N <noun>s are invalid" for more.
func summary(errs []FieldError, noun string) string {
	if len(errs) == 1 {
		return errs[0].Field + ": " + errs[0].Message
	}
	return fmt.Sprintf("%d %ss are invalid", len(errs), noun)
}
