CREATE TABLE products (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku         TEXT NOT NULL UNIQUE,
    -- Binary collation, so `sort=name` orders by code point as SQLite does.
    name        TEXT COLLATE "C" NOT NULL,
    -- Lower-cased name (Unicode rules, computed by the service) for `q`.
    name_folded TEXT NOT NULL,
    description TEXT,
    price_minor BIGINT NOT NULL CHECK (price_minor BETWEEN 0 AND 1000000000000),
    currency    TEXT NOT NULL CHECK (length(currency) = 3),
    stock       BIGINT NOT NULL CHECK (stock BETWEEN 0 AND 1000000000),
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- One index per sort order, each ending in id: the keyset pagination key.
CREATE INDEX products_created_at_id ON products (created_at, id);
CREATE INDEX products_price_id ON products (price_minor, id);
CREATE INDEX products_name_id ON products (name, id);
