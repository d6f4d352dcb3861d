package fx

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"overkill/arena/go-twin/internal/currency"
)

// provider is Frankfurter v2 over HTTP: one attempt at a base currency's
// table, GET {url}/v2/rates?base=SRC, its answer read strictly.
type provider struct {
	client *http.Client
	url    string // without a trailing slash
}

func newProvider(url string, connectTimeout time.Duration, maxInFlight int) *provider {
	dialer := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		// No proxy (Proxy nil): the provider is reached directly, as the
		// Rust service's hyper client does.
		DialContext: dialer.DialContext,
		// TLS (crypto/tls) is part of connecting: the same bound.
		TLSHandshakeTimeout: connectTimeout,
		ForceAttemptHTTP2:   true,
		// Every call in flight can keep its connection for the next one.
		MaxIdleConns:        max(maxInFlight, 2),
		MaxIdleConnsPerHost: max(maxInFlight, 2),
		MaxConnsPerHost:     maxInFlight, // the bulkhead's bound, on sockets too
		IdleConnTimeout:     90 * time.Second,
		// The attempt's context bounds the whole exchange; these are
		// backstops for a provider that stalls between phases.
		ResponseHeaderTimeout:  0,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &provider{
		client: &http.Client{
			Transport: transport,
			// A redirect is an answer we did not ask for: not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		url: trimSlash(url),
	}
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// rates makes one attempt at base's table; ctx bounds it (the policy gives
// each attempt its deadline). A 422 means the provider does not quote the
// base: an answer, cached like one.
func (p *provider) rates(ctx context.Context, base currency.Currency) (*Table, *attemptError) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/v2/rates?base="+base.Code(), nil)
	if err != nil { // the URL was validated at start
		return nil, &attemptError{fault: fault{kind: faultConnect, reason: err.Error()}}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "overkill-go-twin")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer func() {
		// Drain a little so a small unread body does not cost the connection.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
	}()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnprocessableEntity:
		return unsupportedTable, nil
	default:
		wait, asked := requestedWait(resp.Header, time.Now())
		return nil, &attemptError{fault: fault{kind: faultStatus, status: resp.StatusCode}, wait: wait, asked: asked}
	}
	if resp.ContentLength > maxAnswerBytes {
		return nil, malformed("answer too large")
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if len(body) > maxAnswerBytes {
		return nil, malformed("answer too large")
	}
	table, reason := parseTable(base, body)
	if reason != "" {
		return nil, malformed(reason)
	}
	return table, nil
}

func malformed(reason string) *attemptError {
	return &attemptError{fault: fault{kind: faultMalformed, reason: reason}}
}

// transportError classifies a failure to get a whole answer: a timeout (the
// attempt's deadline, or the connect timeout) or a connection that could
// not be made or broke.
func transportError(ctx context.Context, err error) *attemptError {
	var ne net.Error
	if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &attemptError{fault: fault{kind: faultTimeout, reason: err.Error()}}
	}
	return &attemptError{fault: fault{kind: faultConnect, reason: err.Error()}}
}
