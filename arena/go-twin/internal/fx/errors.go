package fx

import (
	"math"
	"net/http"
	"time"

	"overkill/arena/go-twin/internal/currency"
	"overkill/arena/go-twin/internal/httpx"
)

// Error is why a rate or a conversion could not be given; Problem renders it.
type Error struct {
	problem *httpx.Problem
}

func (e *Error) Error() string { return e.problem.Error() }

// Problem is the RFC 9457 problem for e (a fresh copy: the caller may not
// share it).
func (e *Error) Problem() *httpx.Problem {
	p := *e.problem
	return &p
}

var (
	errDisabled = &Error{&httpx.Problem{Slug: "fx-disabled", Title: "Currency conversion is disabled",
		Status: http.StatusUnprocessableEntity,
		Detail: "this service converts no prices: its fx.url setting is off"}}
	// ErrOutOfRange: the converted amount does not fit an int64.
	ErrOutOfRange = &Error{&httpx.Problem{Slug: "fx-out-of-range", Title: "Converted amount out of range",
		Status: http.StatusUnprocessableEntity,
		Detail: "the converted amount does not fit a signed 64-bit integer of minor units"}}
)

// ErrDisabled is the error every lookup gets while conversion is off.
func ErrDisabled() *Error { return errDisabled }

// unsupported: the provider does not quote c.
func unsupported(c currency.Currency) *Error {
	return &Error{&httpx.Problem{Slug: "fx-unsupported-currency", Title: "Currency not supported",
		Status: http.StatusUnprocessableEntity,
		Detail: "the exchange-rate provider does not quote " + c.Code()}}
}

// unavailable: the provider cannot answer now and nothing usable is
// cached; Retry-After is the whole seconds until retryAt (rounded up, at
// least 1; 1 when nobody knows).
func unavailable(retryAt time.Time) *Error {
	secs := 1
	if !retryAt.IsZero() {
		secs = max(int(math.Ceil(time.Until(retryAt).Seconds())), 1)
	}
	return &Error{&httpx.Problem{Slug: "fx-unavailable", Title: "Exchange rates unavailable",
		Status: http.StatusServiceUnavailable, RetryAfter: secs,
		Detail: "the exchange-rate provider cannot answer now and no usable rate is cached; retry later"}}
}
