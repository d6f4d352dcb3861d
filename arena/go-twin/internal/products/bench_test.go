package products

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"overkill/arena/go-twin/internal/fx"
	"overkill/arena/go-twin/internal/httpx"
)

// Per-scenario benchmarks of the real handler paths (routing, body read and
// parse, store, encoding, headers) on a recorder, without the middleware
// stack (see BenchmarkObservedRequest in the main package). With
// OVERKILL_BENCH_DATABASE_URL set they run against that PostgreSQL
// database (a throwaway one: it creates and fills the products table);
// without it, only the database-free benchmarks further down run.

func benchHandler(b *testing.B) (http.Handler, int64) { return benchHandlerFX(b, nil) }

func benchHandlerFX(b *testing.B, rates *fx.Client) (http.Handler, int64) {
	url := os.Getenv("OVERKILL_BENCH_DATABASE_URL")
	if url == "" {
		b.Skip("OVERKILL_BENCH_DATABASE_URL not set")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	store := NewStore(pool)
	if err := store.EnsureSchema(ctx); err != nil {
		b.Fatal(err)
	}
	var n int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM products").Scan(&n); err != nil {
		b.Fatal(err)
	}
	for i := n; i < 200; i++ {
		desc := "A mug <for> tea & coffee"
		_, err := store.Create(ctx, NewProduct{SKU: fmt.Sprintf("SEED-%d", i), Name: fmt.Sprintf("Mug %d", i),
			Description: &desc, PriceMinor: 1299 + i, Currency: "EUR", Stock: 10}, Now())
		if err != nil {
			b.Fatal(err)
		}
	}
	var first int64
	if err := pool.QueryRow(ctx, "SELECT min(id) FROM products").Scan(&first); err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	NewHandler(store, httpx.BodyLimits{MaxBytes: 1 << 20, ReadTimeout: 10 * time.Second}, slog.New(slog.DiscardHandler), rates).Register(mux)
	return mux, first
}

func serveOK(b *testing.B, h http.Handler, req *http.Request, want int) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s", req.Method, req.URL, rec.Code, rec.Body)
	}
}

func BenchmarkHandlerGetOne(b *testing.B) {
	h, id := benchHandler(b)
	req := httptest.NewRequest("GET", fmt.Sprintf("/v1/products/%d", id), nil)
	b.ReportAllocs()
	for b.Loop() {
		serveOK(b, h, req, 200)
	}
}

func BenchmarkHandlerList50(b *testing.B) {
	h, _ := benchHandler(b)
	req := httptest.NewRequest("GET", "/v1/products?limit=50", nil)
	b.ReportAllocs()
	for b.Loop() {
		serveOK(b, h, req, 200)
	}
}

var benchSKU atomic.Int64

func BenchmarkHandlerCreate(b *testing.B) {
	h, _ := benchHandler(b)
	prefix := fmt.Sprintf("B%d-", time.Now().UnixNano())
	b.ReportAllocs()
	for b.Loop() {
		body := `{"sku":"` + prefix + fmt.Sprint(benchSKU.Add(1)) +
			`","name":"Blue mug","description":"330 ml, dishwasher-safe","price_minor":1299,"currency":"EUR","stock":42}`
		req := httptest.NewRequest("POST", "/v1/products", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		serveOK(b, h, req, 201)
	}
}

// Database-free parts of the same paths.

func benchProduct(i int) Product {
	desc := "330 ml, dishwasher-safe <b>& \"quoted\"</b>"
	ts := Timestamp(time.Date(2026, 11, 29, 1, 2, 3, 456789000, time.UTC))
	return Product{ID: int64(i + 1), SKU: fmt.Sprintf("MUG-BLUE-%d", i), Name: "Blue mug ☕",
		Description: &desc, PriceMinor: 1299, Currency: "EUR", Stock: 42, Version: 3, CreatedAt: ts, UpdatedAt: ts}
}

func BenchmarkWriteProduct(b *testing.B) {
	p := benchProduct(0)
	b.ReportAllocs()
	for b.Loop() {
		writeProduct(httptest.NewRecorder(), 200, &p)
	}
}

func BenchmarkWriteList50(b *testing.B) {
	items := make([]Product, 50)
	for i := range items {
		items[i] = benchProduct(i)
	}
	next := encodeCursor(SortCreatedAt, Filter{}, positionOf(SortCreatedAt, &items[49]))
	req := httptest.NewRequest("GET", "/v1/products?limit=50", nil)
	b.ReportAllocs()
	for b.Loop() {
		writeList(httptest.NewRecorder(), req, items, &next)
	}
}

func BenchmarkParseCreateBody(b *testing.B) {
	body := []byte(`{"sku":"MUG-BLUE-330","name":"Blue mug","description":"330 ml, dishwasher-safe","price_minor":1299,"currency":"EUR","stock":42}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, p := parseCreateBody(body); p != nil {
			b.Fatal(p)
		}
	}
}

func BenchmarkWriteProblem(b *testing.B) {
	req := httptest.NewRequest("POST", "/v1/products", nil)
	errs := []httpx.FieldError{{Field: "sku", Message: msgSKU}, {Field: "name", Message: msgName}}
	b.ReportAllocs()
	for b.Loop() {
		httpx.WriteProblem(httptest.NewRecorder(), req, httpx.Validation(errs))
	}
}
