package products

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	ErrNotFound     = errors.New("product not found")
	ErrDuplicateSKU = errors.New("duplicate sku")
	ErrStale        = errors.New("version changed")
)

// schemaLockKey serialises schema creation across replicas (and with the Rust
// service when both share a database).
const schemaLockKey int64 = 0x6f7665726b696c6c // "overkill", the Rust service's migration lock

var schemaStatements = []string{
	`CREATE TABLE IF NOT EXISTS products (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sku TEXT NOT NULL UNIQUE,
  name TEXT COLLATE "C" NOT NULL,
  name_folded TEXT NOT NULL,
  description TEXT,
  price_minor BIGINT NOT NULL,
  currency TEXT NOT NULL,
  stock BIGINT NOT NULL,
  version BIGINT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
)`,
	`CREATE INDEX IF NOT EXISTS products_created_at_id ON products (created_at, id)`,
	`CREATE INDEX IF NOT EXISTS products_price_id ON products (price_minor, id)`,
	`CREATE INDEX IF NOT EXISTS products_name_id ON products (name, id)`,
}

// Store is the PostgreSQL persistence of products.
type Store struct {
	pool        *pgxpool.Pool
	schemaReady atomic.Bool
	schemaLock  chan struct{} // a mutex that honours contexts
	schema      []string      // the service's whole schema: products', then what other features add
}

// NewStore returns the products store; more are schema statements of the
// features built on products (orders), applied after the products table,
// in the same transaction.
func NewStore(pool *pgxpool.Pool, more ...string) *Store {
	schema := append(append([]string(nil), schemaStatements...), more...)
	return &Store{pool: pool, schemaLock: make(chan struct{}, 1), schema: schema}
}

// EnsureSchema creates the table and indexes once per process, under a
// transaction-scoped advisory lock. It is retried lazily until it succeeds so
// that the service can start while the database is still unreachable.
func (s *Store) EnsureSchema(ctx context.Context) error {
	if s.schemaReady.Load() {
		return nil
	}
	select {
	case s.schemaLock <- struct{}{}:
		defer func() { <-s.schemaLock }()
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	if s.schemaReady.Load() {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", schemaLockKey); err != nil {
			return err
		}
		for _, stmt := range s.schema {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.schemaReady.Store(true)
	return nil
}

// Ping runs SELECT 1.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, "SELECT 1")
	return err
}

const columns = `id, sku, name, description, price_minor, currency, stock, version, created_at, updated_at`

// rowScanner scans rows of columns into one Product through scan targets
// built once: per row, only the text columns allocate (pgx copies them out
// of its read buffer), not the targets, and no time.Time is boxed.
type rowScanner struct {
	p     Product
	desc  pgtype.Text
	dest  [10]any
	descs []string // backing store of the descriptions scanned: one allocation per page, not one per row
}

// newRowScanner returns a scanner for up to rows rows.
func newRowScanner(rows int) *rowScanner {
	s := &rowScanner{descs: make([]string, 0, rows)}
	p := &s.p
	s.dest = [...]any{&p.ID, &p.SKU, &p.Name, &s.desc, &p.PriceMinor, &p.Currency, &p.Stock, &p.Version,
		&p.CreatedAt, &p.UpdatedAt}
	return s
}

// scan reads one row into *out.
func (s *rowScanner) scan(row pgx.Row, out *Product) error {
	if err := row.Scan(s.dest[:]...); err != nil {
		return err
	}
	*out = s.p
	out.Description = nil
	if s.desc.Valid {
		// Earlier rows keep pointing into the old array if this one grows it.
		s.descs = append(s.descs, s.desc.String)
		out.Description = &s.descs[len(s.descs)-1]
	}
	return nil
}

func scanProduct(row pgx.Row) (Product, error) {
	var p Product
	err := newRowScanner(1).scan(row, &p)
	return p, err
}

func (s *Store) Create(ctx context.Context, np NewProduct, now time.Time) (Product, error) {
	if err := s.EnsureSchema(ctx); err != nil {
		return Product{}, err
	}
	row := s.pool.QueryRow(ctx, `INSERT INTO products
  (sku, name, name_folded, description, price_minor, currency, stock, version, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)
RETURNING `+columns,
		np.SKU, np.Name, foldLower(np.Name), np.Description, np.PriceMinor, np.Currency, np.Stock, now)
	p, err := scanProduct(row)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return Product{}, ErrDuplicateSKU
		}
		return Product{}, err
	}
	return p, nil
}

func (s *Store) Get(ctx context.Context, id int64) (Product, error) {
	if err := s.EnsureSchema(ctx); err != nil {
		return Product{}, err
	}
	p, err := scanProduct(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM products WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Product{}, ErrNotFound
	}
	return p, err
}

// Update writes p's mutable fields if the stored version is still
// expectedVersion, bumping the version. ErrStale when it is not.
func (s *Store) Update(ctx context.Context, p *Product, expectedVersion int64, now time.Time) (Product, error) {
	row := s.pool.QueryRow(ctx, `UPDATE products
SET name = $3, name_folded = $4, description = $5, price_minor = $6, currency = $7, stock = $8,
    updated_at = $9, version = version + 1
WHERE id = $1 AND version = $2
RETURNING `+columns,
		p.ID, expectedVersion, p.Name, foldLower(p.Name), p.Description, p.PriceMinor, p.Currency, p.Stock, now)
	out, err := scanProduct(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Product{}, ErrStale
	}
	return out, err
}

// Delete removes the product; with versions non-nil only if its version is
// one of them. ErrNotFound when nothing was deleted.
func (s *Store) Delete(ctx context.Context, id int64, versions []int64) error {
	if err := s.EnsureSchema(ctx); err != nil {
		return err
	}
	var tag pgconn.CommandTag
	var err error
	if versions == nil {
		tag, err = s.pool.Exec(ctx, `DELETE FROM products WHERE id = $1`, id)
	} else {
		tag, err = s.pool.Exec(ctx, `DELETE FROM products WHERE id = $1 AND version = ANY($2)`, id, versions)
	}
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// List returns up to limit rows after pos (nil = first page) in sort order.
func (s *Store) List(ctx context.Context, sort Sort, f Filter, after *position, limit int) ([]Product, error) {
	if err := s.EnsureSchema(ctx); err != nil {
		return nil, err
	}
	var sb strings.Builder
	args := make([]any, 0, 6)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	sb.WriteString(`SELECT ` + columns + ` FROM products`)
	var conds []string
	if f.Q != "" {
		conds = append(conds, `name_folded LIKE `+arg("%"+likeEscaper.Replace(f.Q)+"%")+` ESCAPE '\'`)
	}
	if f.MinPrice != nil {
		conds = append(conds, `price_minor >= `+arg(*f.MinPrice))
	}
	if f.MaxPrice != nil {
		conds = append(conds, `price_minor <= `+arg(*f.MaxPrice))
	}
	if f.InStock {
		conds = append(conds, `stock > 0`)
	}
	var key, dir, op string
	switch sort {
	case SortCreatedAt, SortCreatedAtDesc:
		key = "created_at"
	case SortPrice, SortPriceDesc:
		key = "price_minor"
	case SortName:
		key = "name"
	}
	if strings.HasPrefix(string(sort), "-") {
		dir, op = " DESC", "<"
	} else {
		dir, op = "", ">"
	}
	if after != nil {
		var k any
		switch key {
		case "created_at":
			k = time.UnixMicro(after.Int).UTC()
		case "price_minor":
			k = after.Int
		default:
			k = after.Str
		}
		conds = append(conds, "("+key+", id) "+op+" ("+arg(k)+", "+arg(after.ID)+")")
	}
	if len(conds) > 0 {
		sb.WriteString(" WHERE ")
		sb.WriteString(strings.Join(conds, " AND "))
	}
	sb.WriteString(" ORDER BY " + key + dir + ", id" + dir + " LIMIT " + arg(limit))

	rows, err := s.pool.Query(ctx, sb.String(), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	items := make([]Product, 0, limit)
	sc := newRowScanner(limit)
	for rows.Next() {
		items = append(items, Product{})
		if err := sc.scan(rows, &items[len(items)-1]); err != nil {
			return nil, err
		}
	}
	return items, rows.Err()
}

// positionOf is the keyset position of p under sort.
func positionOf(sort Sort, p *Product) position {
	switch sort {
	case SortPrice, SortPriceDesc:
		return position{Int: p.PriceMinor, ID: p.ID}
	case SortName:
		return position{Str: p.Name, ID: p.ID}
	default:
		return position{Int: time.Time(p.CreatedAt).UnixMicro(), ID: p.ID}
	}
}
