CREATE TABLE products (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sku         TEXT NOT NULL UNIQUE,
    -- SQLite's default BINARY collation orders by code point, like PostgreSQL's "C".
    name        TEXT NOT NULL,
    -- Lower-cased name (Unicode rules, computed by the service) for `q`.
    name_folded TEXT NOT NULL,
    description TEXT,
    price_minor INTEGER NOT NULL CHECK (price_minor BETWEEN 0 AND 1000000000000),
    currency    TEXT NOT NULL CHECK (length(currency) = 3),
    stock       INTEGER NOT NULL CHECK (stock BETWEEN 0 AND 1000000000),
    version     INTEGER NOT NULL,
    -- Microseconds since the Unix epoch, UTC.
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE INDEX products_created_at_id ON products (created_at, id);
CREATE INDEX products_price_id ON products (price_minor, id);
CREATE INDEX products_name_id ON products (name, id);
