package orders

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"overkill/arena/go-twin/internal/httpx"
	"overkill/arena/go-twin/internal/products"
)

// The key's life: claim, in flight, answered, replayed, reused, released,
// taken over when stale, treated as absent and swept when expired. Needs
// OVERKILL_BENCH_DATABASE_URL, a throwaway database.
func TestKeyLifecycle(t *testing.T) {
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
	s := NewStore(pool, products.NewStore(pool, Schema...), time.Hour, 30*time.Second)
	key := fmt.Sprintf("key-%d", time.Now().UnixNano())
	fp, other := fingerprint("POST", "/v1/orders", []byte("{}")), fingerprint("POST", "/v1/orders", []byte("{ }"))
	claimAs := func(fp [32]byte, want claimKind) claimOutcome {
		t.Helper()
		out, err := s.Claim(ctx, key, fp)
		if err != nil || out.kind != want {
			t.Fatalf("claim: %v %v, want %v", out.kind, err, want)
		}
		return out
	}
	first := claimAs(fp, claimed)
	claimAs(fp, inFlight)
	claimAs(other, reused)
	// A 5xx releases the claim: a retry runs again.
	if err := s.Release(ctx, &first.claim); err != nil {
		t.Fatal(err)
	}
	first = claimAs(fp, claimed)
	resp := Response{Status: 201, Location: "/v1/orders/1", ETag: `"1-1"`, ContentType: "application/json", Body: httpx.GetBuffer()}
	resp.Body.B = append(resp.Body.B, `{"id":1}`...)
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return s.complete(ctx, tx, &first.claim, &resp) }); err != nil {
		t.Fatal(err)
	}
	got := claimAs(fp, replay)
	if got.resp.Status != 201 || got.resp.Location != "/v1/orders/1" || got.resp.ETag != `"1-1"` || string(got.resp.Body.B) != `{"id":1}` {
		t.Fatalf("replay %+v %s", got.resp, got.resp.Body.B)
	}
	claimAs(other, reused)

	// A claim older than the request timeout is taken over, and its first
	// holder can no longer record an answer.
	stale := fmt.Sprintf("stale-%d", time.Now().UnixNano())
	old, err := s.Claim(ctx, stale, fp)
	if err != nil || old.kind != claimed {
		t.Fatal(old.kind, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE idempotency_keys SET claimed_at = claimed_at - interval '1 minute' WHERE key = $1`, stale); err != nil {
		t.Fatal(err)
	}
	if out, err := s.Claim(ctx, stale, fp); err != nil || out.kind != claimed {
		t.Fatal("not taken over", out.kind, err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return s.complete(ctx, tx, &old.claim, &resp) })
	if err != errClaimLost {
		t.Fatalf("the old claim recorded an answer: %v", err)
	}

	// Expired: absent to a new request (even a different one), and swept.
	if _, err := pool.Exec(ctx, `UPDATE idempotency_keys SET expires_at = clock_timestamp() - interval '1 second' WHERE key = $1`, key); err != nil {
		t.Fatal(err)
	}
	claimAs(other, claimed)
	if _, err := pool.Exec(ctx, `UPDATE idempotency_keys SET expires_at = clock_timestamp() - interval '1 second',
  status = 201 WHERE key = $1`, key); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Sweep(ctx); err != nil || n < 1 {
		t.Fatalf("swept %d, %v", n, err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM idempotency_keys WHERE key = $1`, key).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d left, %v", left, err)
	}
}
