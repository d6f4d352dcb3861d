-- Names the check constraints as PostgreSQL names them by default
-- (products_<column>_check), so a violation is classified by the same name
-- on both engines (see db/sqlite/classify.rs). The unique constraint on sku
-- keeps its default, which the classifier derives as products_sku_key.
-- SQLite cannot add names to existing constraints: the table is rebuilt.
CREATE TABLE products_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sku         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    name_folded TEXT NOT NULL,
    description TEXT,
    price_minor INTEGER NOT NULL
        CONSTRAINT products_price_minor_check CHECK (price_minor BETWEEN 0 AND 1000000000000),
    currency    TEXT NOT NULL CONSTRAINT products_currency_check CHECK (length(currency) = 3),
    stock       INTEGER NOT NULL CONSTRAINT products_stock_check CHECK (stock BETWEEN 0 AND 1000000000),
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

INSERT INTO products_new (id, sku, name, name_folded, description, price_minor, currency, stock, version,
                          created_at, updated_at)
SELECT id, sku, name, name_folded, description, price_minor, currency, stock, version, created_at, updated_at
FROM products;

-- Carry AUTOINCREMENT's high-water mark over, so the ids of deleted products
-- are never handed out again: the rename below moves this row along.
DELETE FROM sqlite_sequence WHERE name = 'products_new';
UPDATE sqlite_sequence SET name = 'products_new' WHERE name = 'products';

DROP TABLE products;
ALTER TABLE products_new RENAME TO products;

CREATE INDEX products_created_at_id ON products (created_at, id);
CREATE INDEX products_price_id ON products (price_minor, id);
CREATE INDEX products_name_id ON products (name, id);
