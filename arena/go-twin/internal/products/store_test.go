package products

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Rows scanned through one rowScanner keep their own descriptions (null
// ones included) and UTC timestamps. Needs OVERKILL_BENCH_DATABASE_URL, a
// throwaway database.
func TestListScansEachRowsOwnValues(t *testing.T) {
	url := os.Getenv("OVERKILL_BENCH_DATABASE_URL")
	if url == "" {
		t.Skip("OVERKILL_BENCH_DATABASE_URL not set")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := NewStore(pool)
	tag := fmt.Sprintf("scan%d", time.Now().UnixNano())
	want := map[string]*string{}
	for i := range 7 {
		var desc *string
		if i%3 != 1 {
			d := fmt.Sprintf("description %d", i)
			desc = &d
		}
		sku := fmt.Sprintf("%s-%d", tag, i)
		want[sku] = desc
		if _, err := store.Create(ctx, NewProduct{SKU: sku, Name: tag + " mug", Description: desc, Currency: "EUR"}, Now()); err != nil {
			t.Fatal(err)
		}
	}
	items, err := store.List(ctx, SortCreatedAt, Filter{Q: tag}, nil, 5)
	if err != nil || len(items) != 5 {
		t.Fatalf("%d items, %v", len(items), err)
	}
	for _, p := range items {
		w := want[p.SKU]
		if (w == nil) != (p.Description == nil) || w != nil && *w != *p.Description {
			t.Errorf("%s: description %v, want %v", p.SKU, p.Description, w)
		}
		if time.Time(p.CreatedAt).Location() != time.UTC {
			t.Errorf("%s: created_at in %v", p.SKU, time.Time(p.CreatedAt).Location())
		}
	}
}
