package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"overkill/arena/go-twin/internal/httpx"
	"overkill/arena/go-twin/internal/products"
)

// ops serves the admin listener: liveness, readiness and metrics.
type ops struct {
	store    *products.Store
	draining *atomic.Bool
	reg      *prometheus.Registry
	log      *slog.Logger
}

type statusBody struct {
	Status string `json:"status"`
}

func (o *ops) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, statusBody{"ok"})
	})
	mux.HandleFunc("GET /readyz", o.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(o.log.Handler(), slog.LevelWarn)}))
	return observe(router{mux}, o.log, nil, slog.LevelDebug)
}

func (o *ops) readyz(w http.ResponseWriter, r *http.Request) {
	if o.draining.Load() {
		httpx.WriteJSON(w, http.StatusServiceUnavailable, statusBody{"draining"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if err := o.store.Ping(ctx); err != nil {
		httpx.WriteJSON(w, http.StatusServiceUnavailable, statusBody{"unavailable"})
		return
	}
	if err := o.store.EnsureSchema(ctx); err != nil {
		httpx.WriteJSON(w, http.StatusServiceUnavailable, statusBody{"unavailable"})
		return
	}
	httpx.WriteJSON(w, http.StatusOK, statusBody{"ready"})
}
