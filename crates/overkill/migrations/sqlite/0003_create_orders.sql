-- The same tables as PostgreSQL's migration 2; times are microseconds since
-- the Unix epoch, UTC.
CREATE TABLE orders (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    status       TEXT NOT NULL CONSTRAINT orders_status_check CHECK (status IN ('placed', 'cancelled')),
    customer_ref TEXT,
    currency     TEXT NOT NULL CONSTRAINT orders_currency_check CHECK (length(currency) = 3),
    total_minor  INTEGER NOT NULL CONSTRAINT orders_total_minor_check CHECK (total_minor BETWEEN 0 AND 9007199254740991),
    version      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE INDEX orders_created_at_id ON orders (created_at, id);
CREATE INDEX orders_status_created_at_id ON orders (status, created_at, id);
CREATE INDEX orders_customer_ref_created_at_id ON orders (customer_ref, created_at, id);

CREATE TABLE order_lines (
    order_id         INTEGER NOT NULL REFERENCES orders (id),
    line_no          INTEGER NOT NULL,
    product_id       INTEGER NOT NULL,
    sku              TEXT NOT NULL,
    name             TEXT NOT NULL,
    unit_price_minor INTEGER NOT NULL,
    quantity         INTEGER NOT NULL CONSTRAINT order_lines_quantity_check CHECK (quantity BETWEEN 1 AND 1000),
    PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;

CREATE TABLE idempotency_keys (
    key          TEXT PRIMARY KEY,
    fingerprint  BLOB NOT NULL,
    claimed_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    status       INTEGER,
    location     TEXT,
    etag         TEXT,
    content_type TEXT,
    body         BLOB
) WITHOUT ROWID;

CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
