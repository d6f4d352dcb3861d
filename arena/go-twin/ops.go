package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"overkill/arena/go-twin/internal/fx"
	"overkill/arena/go-twin/internal/httpx"
	"overkill/arena/go-twin/internal/products"
)

// ops serves the admin listener: liveness, readiness and metrics.
type ops struct {
	store    *products.Store
	draining *atomic.Bool
	reg      *prometheus.Registry
	log      *slog.Logger
	fx       *fx.Client // nil: conversion off
}

type statusBody struct {
	Status string `json:"status"`
}

// readyBody is /readyz's answer: the status, and the FX provider's state,
// which never makes the service unready (it can answer without it).
type readyBody struct {
	Status string  `json:"status"`
	FX     fxState `json:"fx"`
}

type fxState struct {
	Enabled bool   `json:"enabled"`
	Breaker string `json:"breaker,omitempty"` // closed, open, half_open
}

func (o *ops) ready(status string) readyBody {
	return readyBody{Status: status, FX: fxState{Enabled: o.fx.Enabled(), Breaker: o.fx.BreakerState()}}
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
		httpx.WriteJSON(w, http.StatusServiceUnavailable, o.ready("draining"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if err := o.store.Ping(ctx); err != nil {
		httpx.WriteJSON(w, http.StatusServiceUnavailable, o.ready("unavailable"))
		return
	}
	if err := o.store.EnsureSchema(ctx); err != nil {
		httpx.WriteJSON(w, http.StatusServiceUnavailable, o.ready("unavailable"))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, o.ready("ready"))
}
