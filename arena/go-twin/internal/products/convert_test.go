package products

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"overkill/arena/go-twin/internal/currency"
	"overkill/arena/go-twin/internal/fx"
	"overkill/arena/go-twin/internal/httpx"
)

// ratesFor is an FX client whose provider quotes every base at EUR 0.9234,
// USD 1.0842, JPY 161.45 and KWD 0.33312; EUR's table is already cached.
func ratesFor(tb testing.TB) *fx.Client {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := r.URL.Query().Get("base")
		fmt.Fprint(w, "[")
		for i, q := range []string{"EUR:0.9234", "USD:1.0842", "JPY:161.45", "KWD:0.33312"} {
			if i > 0 {
				fmt.Fprint(w, ",")
			}
			fmt.Fprintf(w, `{"date":"2026-11-27","base":"%s","quote":"%s","rate":%s}`, base, q[:3], q[4:])
		}
		fmt.Fprint(w, "]")
	}))
	tb.Cleanup(srv.Close)
	c := fx.New(fx.Settings{URL: srv.URL, ConnectTimeout: time.Second, AttemptTimeout: time.Second,
		Deadline: time.Second, QuotaPerSecond: 100, QuotaBurst: 100, MaxInFlight: 4, MaxAttempts: 1,
		BreakerFailureRate: 0.5, BreakerMinCalls: 10, BreakerWindow: time.Minute, BreakerOpen: time.Second,
		CacheTTL: time.Hour}, nil, slog.New(slog.DiscardHandler))
	eur, _ := currency.Parse("EUR")
	usd, _ := currency.Parse("USD")
	if _, err := c.Rate(context.Background(), eur, usd); err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestAConvertedProductCarriesItsPriceInTheTargetCurrencyAndNoETag(t *testing.T) {
	h := NewHandler(nil, httpx.BodyLimits{}, slog.New(slog.DiscardHandler), ratesFor(t))
	p := benchProduct(0) // 12.99 EUR
	for target, want := range map[string]int64{"USD": 1408, "JPY": 2097, "KWD": 4327, "EUR": 1299} {
		req := httptest.NewRequest("GET", "/v1/products/1?currency="+target, nil)
		rec := httptest.NewRecorder()
		c, _ := currency.Parse(target)
		h.writeConverted(rec, req, &p, c)
		var got struct {
			Converted struct {
				Currency    string `json:"currency"`
				AmountMinor int64  `json:"amount_minor"`
				Rate        string `json:"rate"`
				RateDate    string `json:"rate_date"`
				Source      string `json:"source"`
			} `json:"converted"`
			PriceMinor int64 `json:"price_minor"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
			t.Fatalf("%s: %d %s", target, rec.Code, rec.Body)
		}
		if got.Converted.Currency != target || got.Converted.AmountMinor != want || got.PriceMinor != 1299 {
			t.Errorf("%s: %+v", target, got)
		}
		if rec.Header().Get("ETag") != "" {
			t.Errorf("%s: a converted view has no ETag", target)
		}
	}
}

func TestTheCurrencyParameterIsCheckedAndConversionOffIsA422(t *testing.T) {
	on := NewHandler(nil, httpx.BodyLimits{}, slog.New(slog.DiscardHandler), ratesFor(t))
	off := NewHandler(nil, httpx.BodyLimits{}, slog.New(slog.DiscardHandler), nil)
	for _, tc := range []struct {
		h     *Handler
		query string
		slug  string
	}{
		{on, "currency=usd", "invalid-parameter"},
		{on, "currency=XXX", "invalid-parameter"},
		{on, "currency=", "invalid-parameter"},
		{on, "currency=%FF", "invalid-parameter"},
		{on, "currency=US%00", "invalid-parameter"},
		{on, "other=1", ""},
		{on, "currency=USD", ""},
		{off, "currency=USD", "fx-disabled"},
		{off, "other=1", ""},
	} {
		req := httptest.NewRequest("GET", "/v1/products/1?"+tc.query, nil)
		_, p := tc.h.target(req)
		if got := ""; p != nil {
			got = p.Slug
			if got != tc.slug {
				t.Errorf("%q: %s, want %q", tc.query, got, tc.slug)
			}
		} else if tc.slug != "" {
			t.Errorf("%q: accepted, want %s", tc.query, tc.slug)
		}
	}
}

// The hot path of GET /v1/products/{id}?currency=USD after the database:
// the parameter, a cached rate, the conversion and the response.
func BenchmarkWriteConverted(b *testing.B) {
	h := NewHandler(nil, httpx.BodyLimits{}, slog.New(slog.DiscardHandler), ratesFor(b))
	p := benchProduct(0)
	req := httptest.NewRequest("GET", "/v1/products/1?currency=USD", nil)
	rec := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		target, prob := h.target(req)
		if prob != nil {
			b.Fatal(prob)
		}
		rec.Body.Reset()
		h.writeConverted(rec, req, &p, target)
	}
}

func BenchmarkHandlerGetOneConverted(b *testing.B) {
	h, id := benchHandlerFX(b, ratesFor(b))
	req := httptest.NewRequest("GET", fmt.Sprintf("/v1/products/%d?currency=USD", id), nil)
	b.ReportAllocs()
	for b.Loop() {
		serveOK(b, h, req, 200)
	}
}
