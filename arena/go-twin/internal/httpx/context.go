// Package httpx holds the HTTP plumbing shared by every feature: request
// metadata carried in the context, RFC 9457 problem responses and JSON output.
package httpx

import (
	"context"
	"errors"
	"time"
)

// ErrRequestTimeout is the cause attached to a request context whose
// configured request timeout elapsed.
var ErrRequestTimeout = errors.New("request timeout")

// RequestTimeoutOf returns the configured timeout of the request ctx belongs to.
func RequestTimeoutOf(ctx context.Context) time.Duration {
	if info := InfoFrom(ctx); info != nil {
		return info.Timeout
	}
	return 0
}

// Info is per-request metadata shared between middleware and handlers. It is
// mutable so that the router can record the matched route for the outer
// logging/metrics middleware.
type Info struct {
	RequestID string
	Route     string
	Timeout   time.Duration // the request timeout in force, for the timeout problem
	// ProxyRoute and ProxyUpstream name the proxy route (its index and
	// prefix) and the upstream (as configured) of a proxied request, for its
	// access log line; never client text.
	ProxyRoute    string
	ProxyUpstream string
}

type infoKey struct{}

// WithInfo returns a context carrying info.
func WithInfo(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// InfoFrom returns the request Info stored in ctx, or nil.
func InfoFrom(ctx context.Context) *Info {
	info, _ := ctx.Value(infoKey{}).(*Info)
	return info
}

// RequestID returns the request id stored in ctx ("" if none).
func RequestID(ctx context.Context) string {
	if info := InfoFrom(ctx); info != nil {
		return info.RequestID
	}
	return ""
}

// TimedOut reports whether ctx ended because the request timeout elapsed.
func TimedOut(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), ErrRequestTimeout)
}
