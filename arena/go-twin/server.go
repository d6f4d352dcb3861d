package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"overkill/arena/go-twin/internal/fx"
	"overkill/arena/go-twin/internal/httpx"
	"overkill/arena/go-twin/internal/orders"
	"overkill/arena/go-twin/internal/products"
	"overkill/arena/go-twin/internal/proxy"
)

// run wires the service together and blocks until shutdown; it returns the
// process exit status.
func run() int {
	// Like the Rust service: "serve" (the default) or "migrate" (apply the
	// schema and exit).
	command := "serve"
	if len(os.Args) > 1 {
		command = os.Args[1]
	}
	if len(os.Args) > 2 || (command != "serve" && command != "migrate") {
		fmt.Fprintln(os.Stderr, "usage: go-twin [serve|migrate]  (configuration comes from the environment; see README.md)")
		return exitConfig
	}
	cfg, err := loadConfigEnv(os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitConfig
	}
	var logger *slog.Logger
	if cfg.LogOff {
		logger = slog.New(slog.DiscardHandler)
	} else {
		logger = slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	}
	slog.SetDefault(logger)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil { // already validated by loadConfig
		fmt.Fprintln(os.Stderr, "invalid configuration: DATABASE_URL:", err)
		return exitConfig
	}
	poolCfg.MaxConns = cfg.DBPoolSize
	if poolCfg.ConnConfig.ConnectTimeout == 0 {
		poolCfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	poolCfg.ShouldPing = pingIfIdle
	// Prepared statements are cached per connection (pgx's default
	// QueryExecModeCacheStatement).
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		logger.Error("cannot create database pool", "error", err)
		return 1
	}
	defer pool.Close()

	store := products.NewStore(pool, orders.Schema...)
	orderStore := orders.NewStore(pool, store, cfg.IdempotencyTTL, cfg.RequestTimeout)
	if command == "migrate" {
		if err := store.EnsureSchema(ctx); err != nil {
			logger.Error("failed to apply the schema", "error", err)
			return 1
		}
		logger.Info("schema up to date")
		return 0
	}
	holdBallast(cfg.BallastMB)

	migrateCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := store.EnsureSchema(migrateCtx); err != nil {
		logger.Warn("database schema not applied yet; will retry on demand", "error", err)
	} else {
		logger.Info("database schema ready")
	}
	cancel()

	reg, metrics := newRegistry(pool)
	var draining atomic.Bool

	api := http.NewServeMux()
	bodyLimits := httpx.BodyLimits{MaxBytes: cfg.MaxBodyBytes, ReadTimeout: cfg.BodyReadTimeout}
	rates := fx.New(cfg.FX, reg, logger) // nil: conversion off
	products.NewHandler(store, bodyLimits, logger, rates).Register(api)
	rates.Register(api)
	orders.NewHandler(orderStore, bodyLimits, logger).Register(api)
	// Expired idempotency keys: at most 1000 a minute, until shutdown.
	go orderStore.SweepEvery(ctx, time.Minute, func(err error) {
		logger.Warn("idempotency key sweep failed", "error", err)
	})
	// Proxy routes: their health checks run until the API server has
	// drained (stopProxy below), not only until the signal.
	px := proxy.New(cfg.Proxy, reg, logger)
	proxyCtx, stopProxy := context.WithCancel(context.Background())
	defer stopProxy()
	defer px.Close()
	px.Run(proxyCtx)
	apiHandler := apiStack(api, cfg, logger, metrics, px)

	adminHandler := (&ops{store: store, draining: &draining, reg: reg, log: logger, fx: rates}).handler()

	errLog := slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	var certs *certStore
	var tlsM *tlsMetrics
	if cfg.TLS.Enabled() {
		tlsM = newTLSMetrics(reg)
		certs = newCertStore(&cfg.TLS, logger, tlsM)
	}
	endpoints, err := listenAPI(cfg, apiHandler, certs, tlsM, errLog, &draining)
	if err != nil {
		logger.Error("cannot listen", "error", err)
		return 1
	}
	adminLn, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		endpoints.close()
		logger.Error("cannot listen", "admin_listen", cfg.AdminListen, "error", err)
		return 1
	}
	adminSrv := newServer(adminHandler, cfg, errLog, nil)

	serveErr := make(chan error, 4)
	endpoints.serve(serveErr)
	go func() { serveErr <- adminSrv.Serve(newListener(adminLn, 0, cfg.HeaderReadTimeout)) }()
	logger.Info("listening", append(endpoints.logAttrs(), "admin_listen", adminLn.Addr().String())...)
	if certs != nil {
		watchCerts(certs, cfg.TLS.ReloadInterval)
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		logger.Error("server failed", "error", err)
		return 1
	}
	stop() // a second signal ends the process at once

	if !drain(endpoints.servers(), endpoints.h3, &draining, cfg.DrainGrace, cfg.ShutdownTimeout, serveErr, logger) {
		return 1
	}
	adminCtx, cancelAdmin := context.WithTimeout(context.Background(), time.Second)
	defer cancelAdmin()
	if err := adminSrv.Shutdown(adminCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("admin shutdown", "error", err)
	}
	adminSrv.Close()
	logger.Info("stopped")
	return 0
}

// pingIdleAfter: a pooled connection idle for longer is pinged (one round
// trip) before it is handed out.
const pingIdleAfter = time.Second

// pingIfIdle is the pool's liveness check before handout, stated here
// rather than left to pgx's default (which it equals). The guarantee is the
// Rust service's: a connection the server has closed (a restart, a
// failover, pg_terminate_backend) is not handed to a request. The Rust pool
// (deadpool, RecyclingMethod::Fast) gets it for free: tokio-postgres reads
// every connection in a background task, so a closed one is already marked
// closed. pgx reads only during a query, so it needs a round trip; it pays
// it only after a second idle, not on a connection in steady use (measured
// under load: 14 pings in 230,000 requests). See arena/deviations.toml.
func pingIfIdle(_ context.Context, p pgxpool.ShouldPingParams) bool {
	return p.IdleDuration > pingIdleAfter
}

// apiStack is the API listener's middleware, outermost first: observe (request
// id, panics, one log line and the metrics for every answer, shed ones
// included), limitConcurrency (sheds before any work or body read; a
// proxied request holds a slot too), split (CONNECT refused; a request a
// proxy route matches goes to the proxy, outside the request timeout: a
// stream is bounded by the proxy's own response and idle timeouts),
// withTimeout (the request deadline covers only admitted API work), router
// (problem 404/405, route label). newServer adds connHandler around it.
// px may be nil (no proxy routes).
func apiStack(mux *http.ServeMux, cfg *Config, logger *slog.Logger, m *httpMetrics, px *proxy.Proxy) http.Handler {
	var h http.Handler = router{mux}
	h = withTimeout(h, cfg.RequestTimeout)
	h = split{proxy: px, api: h}
	h = limitConcurrency(h, cfg.MaxConcurrentRequests)
	return observe(h, logger, m, slog.LevelInfo)
}

func newServer(h http.Handler, cfg *Config, errLog *log.Logger, draining *atomic.Bool) *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge
	return &http.Server{
		Handler:           connHandler{next: h, draining: draining},
		ReadHeaderTimeout: cfg.HeaderReadTimeout,
		// Also HTTP/2's idle timeout: net/http copies it to the bundled
		// HTTP/2 server, which sends GOAWAY and closes after it.
		IdleTimeout: cfg.IdleTimeout,
		// A client that stops reading its responses must not hold a
		// connection forever: from the end of a request head, the handler
		// (bounded by the request timeout) and the response together get
		// the request timeout plus the idle timeout (HTTP/1.1: the
		// connection is closed; HTTP/2: the stream is reset).
		WriteTimeout: cfg.RequestTimeout + cfg.IdleTimeout,
		// HTTP/2: a connection on which no byte can be written for the
		// idle timeout is closed.
		HTTP2: &http.HTTP2Config{
			WriteByteTimeout:     cfg.IdleTimeout,
			MaxConcurrentStreams: maxStreams(cfg),
		},
		Protocols:   &protocols,
		ErrorLog:    errLog,
		ConnContext: withConn,
	}
}

// maxStreams is the number of HTTP/2 and HTTP/3 streams one connection may
// have open: max_streams_per_connection, capped by the service-wide request
// limit, so that one connection cannot take every request slot.
func maxStreams(cfg *Config) int {
	return min(cfg.MaxStreamsPerConnection, cfg.MaxConcurrentRequests)
}

// drain stops the API in three steps. Readiness turns off at once (load
// balancers stop sending) and HTTP/3 connections get GOAWAY (h3, nil when
// off: it refuses new connections from then on, and its streams get the grace
// and the timeout to finish); for grace the TCP servers keep accepting and
// serving, each response asking its client to reconnect elsewhere
// (connHandler); then Shutdown stops accepting, closes idle connections,
// sends GOAWAY on HTTP/2 and waits up to timeout for in-flight requests;
// whatever is left after that is closed. It reports false if a server
// failed meanwhile.
func drain(srvs []*http.Server, h3 *h3Server, draining *atomic.Bool, grace, timeout time.Duration, serveErr <-chan error, logger *slog.Logger) bool {
	draining.Store(true)
	logger.Info("draining", "grace_ms", grace.Milliseconds(), "timeout_ms", timeout.Milliseconds())
	var h3Done chan error
	if h3 != nil {
		h3Done = make(chan error, 1)
		ctx, cancel := context.WithTimeout(context.Background(), grace+timeout)
		go func() {
			defer cancel()
			h3Done <- h3.shutdown(ctx)
		}()
	}
	if grace > 0 {
		t := time.NewTimer(grace)
		select {
		case <-t.C:
		case err := <-serveErr:
			t.Stop()
			logger.Error("server failed", "error", err)
			return false
		}
	}
	logger.Info("shutting down", "timeout_ms", timeout.Milliseconds())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range srvs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(ctx); err != nil {
				logger.Warn("drain timeout elapsed; closing remaining connections", "error", err)
				srv.Close()
			}
		}()
	}
	wg.Wait()
	if h3Done != nil {
		if err := <-h3Done; err != nil {
			logger.Warn("HTTP/3 drain timeout elapsed; connections closed", "error", err)
		}
	}
	return true
}
