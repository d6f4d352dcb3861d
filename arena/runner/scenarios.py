"""What is measured on a running twin: cold start, idle memory, loads.

Every block starts a fresh service (so VmHWM is the peak of that block alone),
warms it up, and runs its loads; the twins alternate block by block (A/B/A/B)
so that drift of the machine hits both.
"""
import os
import random
import statistics
import time

from .load import measured_load
from .util import http_request

SEED_PRODUCTS = 1000
LOAD_SKU_PREFIX = "ld-"
# The order scenarios order from their own products, stocked so that no order
# is ever short during a run (an order takes 1 unit per line; the stock is
# reset after each load), spread over ORDER_PRODUCTS rows so that the loads
# measure the services, not 64 requests queueing for one row lock.
ORDER_PRODUCTS = 100
ORDER_SKU_PREFIX = "ord-"
ORDER_STOCK = 1_000_000_000
ORDER_SCENARIOS = {"order1": 1, "order5": 5}  # scenario -> lines per order
ORDER_BODY_LINES = 50_000  # distinct draws of products per body file


def seed(service, count=SEED_PRODUCTS):
    """Creates `count` products through the API; returns their ids."""
    ids = []
    for i in range(count):
        body = {"sku": f"seed-{i:05d}", "name": f"Seed product {i}",
                "description": "seeded by the arena" if i % 2 else None,
                "price_minor": 500 + (i * 37) % 100000, "currency": "EUR",
                "stock": i % 20}
        status, doc = http_request(service.port, "POST", "/v1/products", body)
        if status != 201 or not doc or "id" not in doc:
            raise RuntimeError(f"{service.name}: seeding failed with HTTP {status}: {doc}")
        ids.append(doc["id"])
    return ids


def seed_order_products(service, count=ORDER_PRODUCTS):
    """Creates the products the order scenarios order; returns their ids."""
    ids = []
    for i in range(count):
        body = {"sku": f"{ORDER_SKU_PREFIX}{i:03d}", "name": f"Order product {i}",
                "price_minor": 100 + i, "currency": "EUR", "stock": ORDER_STOCK}
        status, doc = http_request(service.port, "POST", "/v1/products", body)
        if status != 201 or not doc or "id" not in doc:
            raise RuntimeError(f"{service.name}: seeding failed with HTTP {status}: {doc}")
        ids.append(doc["id"])
    return ids


def write_order_bodies(path, count, product_ids, lines, seed=1):
    """`count` POST /v1/orders bodies, one JSON object per line, each ordering
    1 unit of `lines` distinct products drawn at random from product_ids (the
    same draw for every twin: a fixed seed)."""
    rng = random.Random(seed)
    with open(path + ".part", "w") as f:
        for i in range(count):
            picks = rng.sample(product_ids, lines)
            items = ",".join('{"product_id":%d,"quantity":1}' % p for p in picks)
            f.write('{"lines":[%s],"customer_ref":"load-%d"}\n' % (items, i % 1000))
    os.replace(path + ".part", path)
    return path


def clean_order_rows(pg, db):
    """Removes the orders a load placed and puts the order products' stock back,
    so each load sees the same tables. Any twin's order tables: every table of
    the public schema whose name starts with "order" (orders, order_lines, …)."""
    tables = [t for t in pg.psql(
        "SELECT quote_ident(table_name) FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' "
        "AND table_name LIKE 'order%'", db).splitlines() if t]
    if tables:
        pg.psql(f"TRUNCATE {', '.join(tables)} CASCADE", db)
    stocked = [t for t in pg.psql(
        "SELECT quote_ident(c.table_schema) || '.' || quote_ident(c.table_name) "
        "FROM information_schema.columns c JOIN information_schema.columns s "
        "ON s.table_schema = c.table_schema AND s.table_name = c.table_name "
        "AND s.column_name = 'stock' WHERE c.column_name = 'sku' "
        "AND c.table_schema NOT IN ('pg_catalog', 'information_schema')", db).splitlines() if t]
    for table in stocked:
        pg.psql(f"UPDATE {table} SET stock = {ORDER_STOCK} "
                f"WHERE sku LIKE '{ORDER_SKU_PREFIX}%'", db)
        # Every order rewrote its products' rows: FULL, as after a create load.
        pg.psql(f"VACUUM FULL ANALYZE {table}", db)


def clean_load_rows(pg, db):
    """Removes products created by a POST load, so each block sees the same table."""
    tables = pg.psql("SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) "
                     "FROM information_schema.columns WHERE column_name = 'sku' "
                     "AND table_schema NOT IN ('pg_catalog', 'information_schema')", db)
    for table in filter(None, tables.splitlines()):
        pg.psql(f"DELETE FROM {table} WHERE sku LIKE '{LOAD_SKU_PREFIX}%'", db)
        # FULL rewrites the table and its indexes: a plain VACUUM left them
        # bloated after a saturation POST load, and the next fixed-rate list
        # load ran hundreds of times slower on both twins.
        pg.psql(f"VACUUM FULL ANALYZE {table}", db)


def cold_start(make_service):
    """exec → first 200 on /readyz, in seconds."""
    svc = make_service()
    try:
        return svc.start()
    finally:
        svc.stop()


def idle_rss_kb(service):
    """RSS after start and a few requests of each kind, once things settle."""
    for _ in range(20):
        http_request(service.port, "GET", "/v1/products?limit=50")
        http_request(service.port, "GET", "/v1/products/1")
    time.sleep(1.0)
    return service.rss_kb()


class Targets:
    """URLs and request options per scenario, for one running service."""

    def __init__(self, product_id, body_file, order_bodies=None):
        self.product_id = product_id
        self.body_file = body_file
        self.order_bodies = order_bodies or {}  # scenario -> body file

    def request(self, scenario, port):
        base = f"http://127.0.0.1:{port}"
        if scenario == "get_one_tls":  # port: the TLS port
            return {"url": f"https://127.0.0.1:{port}/v1/products/{self.product_id}"}
        if scenario == "get_one":
            return {"url": f"{base}/v1/products/{self.product_id}"}
        if scenario == "list":
            return {"url": f"{base}/v1/products?limit=50"}
        if scenario == "create":
            return {"url": f"{base}/v1/products", "method": "POST",
                    "body_file": self.body_file}
        if scenario in ORDER_SCENARIOS:
            return {"url": f"{base}/v1/orders", "method": "POST",
                    "body_file": self.order_bodies[scenario]}
        if scenario in ("fx_hit", "fx_miss"):
            # A seeded product is priced in EUR.
            return {"url": f"{base}/v1/products/{self.product_id}?currency=USD"}
        raise ValueError(scenario)


def run_block(oha, service, targets, scenario, protocols, seconds, warmup_s, rates=None,
              reset=lambda: None):
    """All protocols of one scenario on one fresh service.

    rates None: saturation; else {protocol: req/s} for the fixed-rate runs.
    reset() runs after every load (it removes created rows, so each load starts
    from the seeded table and repeats no SKU of an earlier load).
    Returns {protocol: result} plus the peak RSS of the block.
    """
    req = targets.request(scenario, service.tls_port or service.port)
    results = {}
    for proto in protocols:
        kw = {"http2": proto in ("h2", "h2s"), "http3": proto == "h3"}
        oha.run(seconds=warmup_s, **kw, **req)
        reset()
        rate = rates.get(proto) if rates else None
        results[proto] = measured_load(oha, service, seconds=seconds, rate=rate, **kw, **req)
        reset()
    return results, service.hwm_kb()


def half_of_slower(saturation):
    """Fixed rate per (scenario, protocol): half the slower twin's median req/s."""
    rates = {}
    for key, per_twin in saturation.items():
        medians = [statistics.median(v) for v in per_twin.values() if v]
        if medians:
            rates[key] = max(1.0, min(medians) / 2.0)
    return rates
