"""What is measured on a running twin: cold start, idle memory, loads.

Every block starts a fresh service (so VmHWM is the peak of that block alone),
warms it up, and runs its loads; the twins alternate block by block (A/B/A/B)
so that drift of the machine hits both.
"""
import statistics
import time

from .load import measured_load
from .util import http_request

SEED_PRODUCTS = 1000
LOAD_SKU_PREFIX = "ld-"


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

    def __init__(self, product_id, body_file):
        self.product_id = product_id
        self.body_file = body_file

    def request(self, scenario, port):
        base = f"http://127.0.0.1:{port}"
        if scenario == "get_one":
            return {"url": f"{base}/v1/products/{self.product_id}"}
        if scenario == "list":
            return {"url": f"{base}/v1/products?limit=50"}
        if scenario == "create":
            return {"url": f"{base}/v1/products", "method": "POST",
                    "body_file": self.body_file}
        raise ValueError(scenario)


def run_block(oha, service, targets, scenario, protocols, seconds, warmup_s, rates=None,
              reset=lambda: None):
    """All protocols of one scenario on one fresh service.

    rates None: saturation; else {protocol: req/s} for the fixed-rate runs.
    reset() runs after every load (it removes created rows, so each load starts
    from the seeded table and repeats no SKU of an earlier load).
    Returns {protocol: result} plus the peak RSS of the block.
    """
    req = targets.request(scenario, service.port)
    results = {}
    for proto in protocols:
        h2 = proto == "h2"
        oha.run(seconds=warmup_s, http2=h2, **req)
        reset()
        rate = rates.get(proto) if rates else None
        results[proto] = measured_load(oha, service, seconds=seconds, http2=h2,
                                       rate=rate, **req)
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
