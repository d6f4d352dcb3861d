CREATE TABLE orders (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    status       TEXT NOT NULL CONSTRAINT orders_status_check CHECK (status IN ('placed', 'cancelled')),
    customer_ref TEXT,
    currency     TEXT NOT NULL CHECK (length(currency) = 3),
    total_minor  BIGINT NOT NULL CHECK (total_minor BETWEEN 0 AND 9007199254740991),
    version      BIGINT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- Keyset pagination on (created_at, id), with and without the filters.
CREATE INDEX orders_created_at_id ON orders (created_at, id);
CREATE INDEX orders_status_created_at_id ON orders (status, created_at, id);
CREATE INDEX orders_customer_ref_created_at_id ON orders (customer_ref, created_at, id);

-- Snapshots of the products as they were when the order was placed. No
-- foreign key to products: a product with orders can still be deleted.
CREATE TABLE order_lines (
    order_id         BIGINT NOT NULL REFERENCES orders (id),
    line_no          INTEGER NOT NULL,
    product_id       BIGINT NOT NULL,
    sku              TEXT NOT NULL,
    name             TEXT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    quantity         BIGINT NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    PRIMARY KEY (order_id, line_no)
);

-- One row per Idempotency-Key: claimed (status NULL) while its request
-- runs, then the answer the client saw, written in the same transaction as
-- the work it answers.
CREATE TABLE idempotency_keys (
    key          TEXT PRIMARY KEY,
    fingerprint  BYTEA NOT NULL,
    claimed_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    status       INTEGER,
    location     TEXT,
    etag         TEXT,
    content_type TEXT,
    body         BYTEA
);

CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
