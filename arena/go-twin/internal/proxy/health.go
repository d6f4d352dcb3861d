package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Run starts the active health checks of every route that has a
// health.path: one goroutine per route, checking all its upstreams every
// interval, until ctx ends. It returns at once.
func (p *Proxy) Run(ctx context.Context) {
	if p == nil {
		return
	}
	for _, rt := range p.routes {
		if h := rt.cfg.Health; h != nil && h.Path != "" {
			go rt.checkLoop(ctx, h)
		}
	}
}

func (rt *route) checkLoop(ctx context.Context, h *HealthConfig) {
	// Checks have their own connections: they say whether a new connection
	// can be made and answered, and never take one a request could use.
	dialer := &net.Dialer{Timeout: min(rt.cfg.ConnectTimeout, h.Timeout)}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		DisableCompression:     true,
		MaxIdleConnsPerHost:    1,
		IdleConnTimeout:        h.Interval + time.Second,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ticker := time.NewTicker(h.Interval)
	defer ticker.Stop()
	for {
		rt.checkAll(ctx, client, h)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// checkAll checks every upstream of rt at once and records the results.
func (rt *route) checkAll(ctx context.Context, client *http.Client, h *HealthConfig) {
	var wg sync.WaitGroup
	for _, u := range rt.pool.ups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pass := check(ctx, client, u, h)
			if ctx.Err() == nil { // a check cut by shutdown says nothing
				rt.pool.check(u, pass)
			}
		}()
	}
	wg.Wait()
}

// check passes when u answers GET health.path with a 2xx head within
// health.timeout_ms.
func check(ctx context.Context, client *http.Client, u *upstream, h *HealthConfig) bool {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+u.Target+h.Path, nil)
	if err != nil {
		return false
	}
	req.Header["User-Agent"] = []string{"overkill-health-check"}
	req.Header["Via"] = []string{via}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	// A little of the body is read so that a small answer keeps the
	// connection for the next check.
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode <= 299
}

// logHealth logs an upstream leaving or rejoining the rotation.
func (rt *route) logHealth(u *upstream, healthy bool) {
	if healthy {
		rt.log.LogAttrs(context.Background(), slog.LevelInfo, "proxy upstream healthy",
			slog.String("proxy_route", rt.label), slog.String("proxy_upstream", u.Addr))
		return
	}
	rt.log.LogAttrs(context.Background(), slog.LevelWarn, "proxy upstream ejected",
		slog.String("proxy_route", rt.label), slog.String("proxy_upstream", u.Addr),
		slog.Int("consecutive_failures", int(u.fails.Load())))
}
