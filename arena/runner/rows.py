"""Turns the raw measurements into report rows: one figure, Rust vs Go, per row."""
from .stats import summarize

SCENARIO_LABEL = {"get_one": "GET one product", "list": "GET list of 50",
                  "create": "POST create"}
PROTO_LABEL = {"h1": "HTTP/1.1", "h2": "HTTP/2"}
TWINS = ("rust", "go")


def _row(rid, group, label, unit, better, values_by_twin, scale=1.0, note=None):
    def scaled(vals):
        return summarize([None if v is None else v * scale for v in vals])
    row = {"id": rid, "group": group, "label": label, "unit": unit, "better": better,
           "rust": scaled(values_by_twin.get("rust", [])),
           "go": scaled(values_by_twin.get("go", []))}
    if note:
        row["note"] = note
    row["rust_advantage"] = advantage(row)
    return row


def advantage(row):
    """>1 means Rust is better by that factor, whichever direction is better."""
    r, g = row["rust"], row["go"]
    if not r or not g or not r["median"] or not g["median"]:
        return None
    if row["better"] == "lower":
        return g["median"] / r["median"]
    return r["median"] / g["median"]


def _field(results, key):
    return {t: [res.get(key) for res in results.get(t, [])] for t in TWINS}


def build_rows(raw):
    rows = []
    rows += _build_rows(raw)
    rows += _start_and_memory_rows(raw)
    rows += _load_rows(raw)
    rows += _ballast_rows(raw)
    return rows


def _build_rows(raw):
    rows = []
    b = raw.get("build") or {}
    if b:
        for key, label in (("clean_release_s", "Clean release build"),
                           ("rebuild_debug_s", "Rebuild after a one-line edit, debug"),
                           ("rebuild_release_s", "Rebuild after a one-line edit, release")):
            rows.append(_row(f"build.{key}", "build", label, "s", "lower",
                             {t: [b.get(t, {}).get(key)] for t in TWINS}))
    size = raw.get("size") or {}
    if size:
        note = "; ".join(f"{t}: {size[t]['file']}" for t in TWINS if t in size)
        rows.append(_row("size.binary", "build", "Binary size", "MiB", "lower",
                         {t: [size.get(t, {}).get("bytes")] for t in TWINS},
                         scale=1 / 1048576, note=note))
    code = raw.get("code")
    if code:
        rows.append(_row("code.lines", "build", "Code lines, same features", "lines",
                         "lower", {t: [code[t]["lines"]] for t in TWINS}))
    return rows


def _start_and_memory_rows(raw):
    rows = []
    if raw.get("cold_start_s"):
        rows.append(_row("start.cold", "build", "Cold start, exec to ready", "ms", "lower",
                         raw["cold_start_s"], scale=1000.0))
    if raw.get("idle_rss_kb"):
        rows.append(_row("mem.idle", "memory", "Idle RSS", "MiB", "lower",
                         raw["idle_rss_kb"], scale=1 / 1024))
    for scenario, per_twin in (raw.get("peak_rss_kb") or {}).items():
        rows.append(_row(f"mem.peak.{scenario}", "memory",
                         f"Peak RSS, {SCENARIO_LABEL[scenario]} at saturation", "MiB",
                         "lower", per_twin, scale=1 / 1024))
    return rows


def _load_rows(raw):
    rows = []
    for scenario, per_proto in (raw.get("saturation") or {}).items():
        for proto, results in per_proto.items():
            name = f"{SCENARIO_LABEL[scenario]}, {PROTO_LABEL[proto]}"
            rows.append(_row(f"rps.{scenario}.{proto}", "throughput",
                             f"{name}: throughput at saturation", "req/s", "higher",
                             _field(results, "ok_rps")))
            rows.append(_row(f"cpu.{scenario}.{proto}", "cpu",
                             f"{name}: service CPU per 1000 requests", "CPU-ms", "lower",
                             _field(results, "cpu_s_per_1k"), scale=1000.0))
    for scenario, per_proto in (raw.get("fixed") or {}).items():
        for proto, results in per_proto.items():
            rate = next((r["rate"] for t in TWINS for r in results.get(t, [])), 0)
            name = f"{SCENARIO_LABEL[scenario]}, {PROTO_LABEL[proto]} at {rate:.0f} req/s"
            for key, pct in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p99_9_ms", "p99.9")):
                rows.append(_row(f"lat.{scenario}.{proto}.{pct}", "latency",
                                 f"{name}: {pct}", "ms", "lower", _field(results, key)))
    return rows


def _ballast_rows(raw):
    b = raw.get("ballast") or {}
    if not b:
        return []
    mb = raw.get("ballast_mb", 200)
    rate = next((r["rate"] for t in TWINS for r in b.get(t, [])), 0)
    name = f"GET one, HTTP/1.1 at {rate:.0f} req/s, {mb} MB live heap"
    return [_row("ballast.p99", "latency", f"{name}: p99", "ms", "lower",
                 _field(b, "p99_ms")),
            _row("ballast.p99_9", "latency", f"{name}: p99.9", "ms", "lower",
                 _field(b, "p99_9_ms")),
            _row("ballast.rss", "memory", f"RSS with {mb} MB ballast, at start", "MiB",
                 "lower", _field(b, "rss_at_start_kb"), scale=1 / 1024)]
