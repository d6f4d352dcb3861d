package orders

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"overkill/arena/go-twin/internal/httpx"
	"overkill/arena/go-twin/internal/products"
)

// ErrNotFound: no order with that id.
var ErrNotFound = errors.New("order not found")

// Schema is the orders' part of the service schema, applied with the
// products' (products.NewStore) under one advisory lock. order_lines has
// no foreign key to products: a line is a snapshot that outlives its
// product, and a product with orders can still be deleted.
var Schema = []string{
	`CREATE TABLE IF NOT EXISTS orders (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  status TEXT NOT NULL CONSTRAINT orders_status_check CHECK (status IN ('placed', 'cancelled')),
  customer_ref TEXT,
  currency TEXT NOT NULL,
  total_minor BIGINT NOT NULL,
  version BIGINT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
)`,
	`CREATE INDEX IF NOT EXISTS orders_created_at_id ON orders (created_at, id)`,
	`CREATE INDEX IF NOT EXISTS orders_status_created_at_id ON orders (status, created_at, id)`,
	`CREATE INDEX IF NOT EXISTS orders_customer_ref_created_at_id ON orders (customer_ref, created_at, id)`,
	`CREATE TABLE IF NOT EXISTS order_lines (
  order_id BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  line_no INTEGER NOT NULL,
  product_id BIGINT NOT NULL,
  sku TEXT NOT NULL,
  name TEXT NOT NULL,
  unit_price_minor BIGINT NOT NULL,
  quantity BIGINT NOT NULL,
  PRIMARY KEY (order_id, line_no)
)`,
	`CREATE TABLE IF NOT EXISTS idempotency_keys (
  key TEXT COLLATE "C" PRIMARY KEY,
  fingerprint BYTEA NOT NULL,
  token BIGINT NOT NULL,
  claimed_at TIMESTAMPTZ NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  status INTEGER,
  location TEXT,
  etag TEXT,
  content_type TEXT,
  body BYTEA
)`,
	`CREATE INDEX IF NOT EXISTS idempotency_keys_expires_at ON idempotency_keys (expires_at)`,
}

// Store is the PostgreSQL persistence of orders and idempotency keys.
type Store struct {
	pool          *pgxpool.Pool
	products      *products.Store // owns the schema (and its once-only creation)
	ttl           time.Duration   // how long a key is kept
	takeoverAfter time.Duration   // a claim older than this (the request timeout) is abandoned
}

func NewStore(pool *pgxpool.Pool, ps *products.Store, ttl, takeoverAfter time.Duration) *Store {
	return &Store{pool: pool, products: ps, ttl: ttl, takeoverAfter: takeoverAfter}
}

// outcome is what an order transaction decided: an order (status 201 or
// 200) or a problem (a 4xx decided against the data).
type outcome struct {
	status  int
	order   *Order
	problem *httpx.Problem
}

// finishFunc runs inside the transaction once the outcome is known, before
// the commit: it renders the answer and records it under the request's
// idempotency key, so the key is answered exactly when the work commits.
type finishFunc func(ctx context.Context, tx pgx.Tx, out outcome) error

// txAttempts: a lost serialization race or a deadlock is retried twice.
const txAttempts = 3

// inTx runs fn in a READ COMMITTED transaction, again on a serialization
// failure or deadlock, at most txAttempts times in all.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	if err := s.products.EnsureSchema(ctx); err != nil {
		return err
	}
	var err error
	for range txAttempts {
		if err = pgx.BeginFunc(ctx, s.pool, fn); !retryable(err) {
			return err
		}
	}
	return err
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// lockProducts locks the products ids name, in ascending id order (no two
// orders deadlock), and returns their rows sorted by id; a missing one has
// no row. With full = false only id and stock are read.
func lockProducts(ctx context.Context, tx pgx.Tx, ids []int64, full bool) ([]StockRow, error) {
	q := `SELECT id, stock FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE`
	if full {
		q = `SELECT id, stock, sku, name, price_minor, currency FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE`
	}
	rows, err := tx.Query(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]StockRow, 0, len(ids))
	var r StockRow
	dest := []any{&r.ID, &r.Stock, &r.SKU, &r.Name, &r.PriceMinor, &r.Currency}
	if !full {
		dest = dest[:2]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Place runs the order transaction: lock the products, decide (reserve),
// then decrement stock (bumping each product's version), insert the order
// and its lines, and finish, all in one transaction.
func (s *Store) Place(ctx context.Context, no *NewOrder, now time.Time, finish finishFunc) error {
	n := len(no.Lines)
	ids, qtys := make([]int64, n), make([]int64, n)
	for i, l := range no.Lines {
		ids[i], qtys[i] = l.ProductID, l.Quantity
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := lockProducts(ctx, tx, ids, true)
		if err != nil {
			return err
		}
		lines, total, currency, prob := reserve(no.Lines, rows)
		if prob != nil {
			return finish(ctx, tx, outcome{problem: prob})
		}
		skus, names, prices := make([]string, n), make([]string, n), make([]int64, n)
		for i := range lines {
			skus[i], names[i], prices[i] = lines[i].SKU, lines[i].Name, lines[i].UnitPriceMinor
		}
		o := &Order{Status: StatusPlaced, CustomerRef: no.CustomerRef, Lines: lines, TotalMinor: total,
			Currency: currency, Version: 1, CreatedAt: products.Timestamp(now), UpdatedAt: products.Timestamp(now)}
		err = tx.QueryRow(ctx, `WITH stock AS (
  UPDATE products p SET stock = p.stock - v.q, version = p.version + 1, updated_at = $1
  FROM unnest($2::bigint[], $3::bigint[]) AS v(id, q) WHERE p.id = v.id
), o AS (
  INSERT INTO orders (status, customer_ref, currency, total_minor, version, created_at, updated_at)
  VALUES ('placed', $4, $5, $6, 1, $1, $1) RETURNING id
), l AS (
  INSERT INTO order_lines (order_id, line_no, product_id, sku, name, unit_price_minor, quantity)
  SELECT o.id, (t.n - 1)::integer, t.pid, t.sku, t.name, t.price, t.q
  FROM o, unnest($2::bigint[], $7::text[], $8::text[], $9::bigint[], $3::bigint[]) WITH ORDINALITY AS t(pid, sku, name, price, q, n)
)
SELECT id FROM o`, now, ids, qtys, no.CustomerRef, currency, total, skus, names, prices).Scan(&o.ID)
		if err != nil {
			return err
		}
		return finish(ctx, tx, outcome{status: 201, order: o})
	})
}

// Cancel runs the cancel transaction: lock the order (404 when there is
// none), check If-Match (412), and for a placed order lock its products in
// id order, refuse (409) if any would pass the stock limit, add every
// line's quantity back (skipping products deleted since), mark it
// cancelled, and finish. A cancelled order is answered as it is.
func (s *Store) Cancel(ctx context.Context, id int64, ifMatch string, conditional bool, now time.Time, finish finishFunc) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		o, err := getOrder(ctx, tx, id, true)
		if errors.Is(err, ErrNotFound) {
			return finish(ctx, tx, outcome{problem: notFound(id)})
		}
		if err != nil {
			return err
		}
		if conditional && !products.ETagMatches(ifMatch, o.ETag(), false) {
			return finish(ctx, tx, outcome{problem: stale(o)})
		}
		if o.Status == StatusCancelled {
			return finish(ctx, tx, outcome{status: 200, order: o})
		}
		n := len(o.Lines)
		ids, qtys := make([]int64, n), make([]int64, n)
		for i := range o.Lines {
			ids[i], qtys[i] = o.Lines[i].ProductID, o.Lines[i].Quantity
		}
		rows, err := lockProducts(ctx, tx, ids, false)
		if err != nil {
			return err
		}
		if p := restock(o.Lines, rows); p != nil {
			return finish(ctx, tx, outcome{problem: p})
		}
		_, err = tx.Exec(ctx, `WITH stock AS (
  UPDATE products p SET stock = p.stock + v.q, version = p.version + 1, updated_at = $1
  FROM unnest($2::bigint[], $3::bigint[]) AS v(id, q) WHERE p.id = v.id
)
UPDATE orders SET status = 'cancelled', version = version + 1, updated_at = $1 WHERE id = $4`, now, ids, qtys, id)
		if err != nil {
			return err
		}
		o.Status, o.Version, o.UpdatedAt = StatusCancelled, o.Version+1, products.Timestamp(now)
		return finish(ctx, tx, outcome{status: 200, order: o})
	})
}

func notFound(id int64) *httpx.Problem {
	return httpx.NotFound("there is no order with id " + strconv.FormatInt(id, 10))
}

func stale(o *Order) *httpx.Problem {
	return httpx.PreconditionFailed("the order is at ETag " + o.ETag() + "; fetch it and retry")
}

// orderColumns: an order joined with its lines, one row per line.
const orderColumns = `o.id, o.status, o.customer_ref, o.currency, o.total_minor, o.version, o.created_at, o.updated_at,
  l.product_id, l.sku, l.name, l.unit_price_minor, l.quantity`

// Get returns the order with its lines.
func (s *Store) Get(ctx context.Context, id int64) (*Order, error) {
	if err := s.products.EnsureSchema(ctx); err != nil {
		return nil, err
	}
	return getOrder(ctx, s.pool, id, false)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func getOrder(ctx context.Context, q querier, id int64, forUpdate bool) (*Order, error) {
	sql := `SELECT ` + orderColumns + ` FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.id = $1 ORDER BY l.line_no`
	if forUpdate {
		sql += ` FOR UPDATE OF o`
	}
	rows, err := q.Query(ctx, sql, id)
	if err != nil {
		return nil, err
	}
	items, err := scanOrders(rows, 1)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, ErrNotFound
	}
	return &items[0], nil
}

// scanOrders reads rows of orderColumns, grouped by order in row order,
// through scan targets built once.
func scanOrders(rows pgx.Rows, capacity int) ([]Order, error) {
	defer rows.Close()
	var (
		o    Order
		ref  pgtype.Text
		l    Line
		refs []string
	)
	dest := [...]any{&o.ID, &o.Status, &ref, &o.Currency, &o.TotalMinor, &o.Version, &o.CreatedAt, &o.UpdatedAt,
		&l.ProductID, &l.SKU, &l.Name, &l.UnitPriceMinor, &l.Quantity}
	items := make([]Order, 0, capacity)
	for rows.Next() {
		if err := rows.Scan(dest[:]...); err != nil {
			return nil, err
		}
		if n := len(items); n == 0 || items[n-1].ID != o.ID {
			o.CustomerRef = nil
			if ref.Valid {
				refs = append(refs, ref.String)
				o.CustomerRef = &refs[len(refs)-1]
			}
			o.Lines = nil
			items = append(items, o)
		}
		last := &items[len(items)-1]
		last.Lines = append(last.Lines, l)
	}
	return items, rows.Err()
}

// List returns up to limit orders after pos (nil = first page), newest
// first when desc, with their lines: one statement, the page of orders
// joined with its lines.
func (s *Store) List(ctx context.Context, desc bool, f Filter, after *position, limit int) ([]Order, error) {
	if err := s.products.EnsureSchema(ctx); err != nil {
		return nil, err
	}
	dir, op := "", ">"
	if desc {
		dir, op = " DESC", "<"
	}
	args := make([]any, 0, 5)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := ""
	and := func(cond string) {
		if where == "" {
			where = " WHERE " + cond
		} else {
			where += " AND " + cond
		}
	}
	if f.Status != "" {
		and("status = " + arg(f.Status))
	}
	if f.CustomerRef != "" {
		and("customer_ref = " + arg(f.CustomerRef))
	}
	if after != nil {
		and("(created_at, id) " + op + " (" + arg(time.UnixMicro(after.CreatedAt).UTC()) + ", " + arg(after.ID) + ")")
	}
	order := "created_at" + dir + ", id" + dir
	sql := `SELECT ` + orderColumns + ` FROM (SELECT * FROM orders` + where + ` ORDER BY ` + order + ` LIMIT ` + arg(limit) +
		`) o JOIN order_lines l ON l.order_id = o.id ORDER BY o.` + "created_at" + dir + `, o.id` + dir + `, l.line_no`
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return scanOrders(rows, limit)
}
