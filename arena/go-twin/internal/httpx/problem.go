package httpx

import (
	"fmt"
	"net/http"
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
}

func (p *Problem) Error() string { return p.Slug + ": " + p.Detail }

type problemBody struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	Instance  string       `json:"instance"`
	RequestID string       `json:"request_id"`
	Errors    []FieldError `json:"errors,omitempty"`
	Field     *string      `json:"field,omitempty"`
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	body := problemBody{
		Type:      "/problems/" + p.Slug,
		Title:     p.Title,
		Status:    p.Status,
		Detail:    p.Detail,
		Instance:  r.URL.Path,
		RequestID: RequestID(r.Context()),
		Errors:    p.Errors,
	}
	if p.Field != "" {
		f := p.Field
		body.Field = &f
	}
	if p.Status == http.StatusServiceUnavailable {
		w.Header()["Retry-After"] = retryAfter
	}
	WriteJSONType(w, p.Status, "application/problem+json", body)
}

// retryAfter is shared by every 503 response (never modified): overload,
// outage and timeout are all worth retrying after a second.
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

// summary is "field: message" for one error, "N <noun>s are invalid" for more.
func summary(errs []FieldError, noun string) string {
	if len(errs) == 1 {
		return errs[0].Field + ": " + errs[0].Message
	}
	return fmt.Sprintf("%d %ss are invalid", len(errs), noun)
}
