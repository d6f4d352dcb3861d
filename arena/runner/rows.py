"""Turns the raw measurements into report rows: one figure per row, one column per twin.

Columns: Rust, Go 1.24, Go 1.26 (config.TWINS). The GC-tuned Go variant gets
rows of its own beside the default ones (memory and large-heap rows only): in
those rows the Go columns hold the GC-tuned figures and the Rust column the
same Rust figures as the default row.

Row order is the report's order: service CPU per request first, then latency
at the fixed rate, then memory; throughput at saturation and the build rows
after them (see report.HEADLINE for why).
"""
from .config import GC_TUNED, GC_TUNED_LABEL, GO_TWINS, TWINS
from .stats import summarize

SCENARIO_LABEL = {"get_one": "GET one product", "list": "GET list of 50",
                  "create": "POST create", "order1": "POST order, 1 line",
                  "order5": "POST order, 5 lines",
                  "fx_hit": "GET one in USD, rate cached",
                  "fx_miss": "GET one in USD, rate asked every time",
                  "get_one_tls": "GET one product"}
PROTO_LABEL = {"h1": "HTTP/1.1", "h2": "HTTP/2", "h1s": "HTTP/1.1+TLS", "h2s": "HTTP/2+TLS",
               "h3": "HTTP/3"}
HANDSHAKE_LABEL = "New TLS connection (full TLS 1.3 handshake, one GET one over HTTP/1.1)"
GROUP_ORDER = ("cpu", "latency", "memory", "throughput", "build")
TUNED_OF = {base: tuned for tuned, base in GC_TUNED.items()}


def _row(rid, group, label, unit, better, values_by_twin, scale=1.0, note=None,
         disturbed=None):
    """disturbed: {twin: True} when a kept figure came from a disturbed block."""
    def scaled(vals):
        return summarize([None if v is None else v * scale for v in vals])
    row = {"id": rid, "group": group, "label": label, "unit": unit, "better": better}
    for twin in TWINS:
        row[twin] = scaled(values_by_twin.get(twin, []))
        if row[twin] and (disturbed or {}).get(twin):
            row[twin]["disturbed"] = True
    if note:
        row["note"] = note
    row["rust_advantage"] = {go: advantage(row, go) for go in GO_TWINS}
    return row


def _tuned_row(rid, group, label, unit, better, values_by_twin, scale=1.0, disturbed=None):
    """The same figure with the Go columns taken from the GC-tuned variant."""
    def tuned(by_twin):
        out = {"rust": by_twin.get("rust")}
        out.update({go: by_twin.get(TUNED_OF[go]) for go in GO_TWINS})
        return out
    values = {k: v or [] for k, v in tuned(values_by_twin).items()}
    if not any(values[go] for go in GO_TWINS):
        return []
    row = _row(rid + ".gc_tuned", group, f"{label}; Go GC-tuned ({GC_TUNED_LABEL})", unit,
               better, values, scale, disturbed=tuned(disturbed or {}))
    row["gc_tuned"] = True
    return [row]


def advantage(row, go):
    """>1 means Rust is better than `go` by that factor, whichever direction is better."""
    r, g = row.get("rust"), row.get(go)
    if not r or not g or not r["median"] or not g["median"]:
        return None
    if row["better"] == "lower":
        return g["median"] / r["median"]
    return r["median"] / g["median"]


def _field(results, key, twins=TWINS):
    return {t: [res.get(key) for res in results.get(t, [])] for t in twins}


def _disturbed(results, twins=TWINS):
    return {t: any(res.get("disturbed") for res in results.get(t, [])) for t in twins}


def build_rows(raw):
    rows = []
    rows += _build_rows(raw)
    rows += _start_and_memory_rows(raw)
    rows += _load_rows(raw)
    rows += _handshake_rows(raw)
    rows += _ballast_rows(raw)
    # stable: within a group, the order in which the rows were made
    return sorted(rows, key=lambda r: GROUP_ORDER.index(r["group"]))


def _build_rows(raw):
    rows = []
    b = raw.get("build") or {}
    if b:
        for key, label in (("clean_release_s", "Clean release build"),
                           ("clean_dist_s", "Clean build of the shipped binary (Rust: dist profile)"),
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
        # one Go source for both Go columns
        lines = {"rust": [code["rust"]["lines"]]}
        lines.update({go: [code["go"]["lines"]] for go in GO_TWINS})
        rows.append(_row("code.lines", "build", "Code lines, same features", "lines",
                         "lower", lines))
    if raw.get("cold_start_s"):
        rows.append(_row("start.cold", "build", "Cold start, exec to ready", "ms", "lower",
                         raw["cold_start_s"], scale=1000.0))
    return rows


def _start_and_memory_rows(raw):
    rows = []
    idle = raw.get("idle_rss_kb")
    if idle:
        rows.append(_row("mem.idle", "memory", "Idle RSS", "MiB", "lower", idle,
                         scale=1 / 1024))
        rows += _tuned_row("mem.idle", "memory", "Idle RSS", "MiB", "lower", idle,
                           scale=1 / 1024)
    for scenario, per_twin in (raw.get("peak_rss_kb") or {}).items():
        rows.append(_row(f"mem.peak.{scenario}", "memory",
                         f"Peak RSS, {SCENARIO_LABEL[scenario]} at saturation", "MiB",
                         "lower", per_twin, scale=1 / 1024))
    return rows


def _load_rows(raw):
    rows = []
    for scenario, per_proto in (raw.get("fixed") or {}).items():
        for proto, results in per_proto.items():
            rate = next((r["rate"] for t in TWINS for r in results.get(t, [])), 0)
            name = f"{SCENARIO_LABEL[scenario]}, {PROTO_LABEL[proto]} at {rate:.0f} req/s"
            bad = _disturbed(results)
            rows.append(_row(f"cpu.fixed.{scenario}.{proto}", "cpu",
                             f"{name}: service CPU per request", "µs", "lower",
                             _field(results, "cpu_s_per_1k"), scale=1000.0, disturbed=bad))
            for key, pct in (("p99_ms", "p99"), ("p99_9_ms", "p99.9"), ("p50_ms", "p50")):
                rows.append(_row(f"lat.{scenario}.{proto}.{pct}", "latency",
                                 f"{name}: {pct}", "ms", "lower", _field(results, key),
                                 disturbed=bad))
    for scenario, per_proto in (raw.get("saturation") or {}).items():
        for proto, results in per_proto.items():
            name = f"{SCENARIO_LABEL[scenario]}, {PROTO_LABEL[proto]}"
            bad = _disturbed(results)
            rows.append(_row(f"rps.{scenario}.{proto}", "throughput",
                             f"{name}: throughput at saturation", "req/s", "higher",
                             _field(results, "ok_rps"), disturbed=bad))
            rows.append(_row(f"cpu.{scenario}.{proto}", "throughput",
                             f"{name}: service CPU per request at saturation", "µs",
                             "lower", _field(results, "cpu_s_per_1k"), scale=1000.0,
                             disturbed=bad))
    return rows


def _handshake_rows(raw):
    h = raw.get("handshake") or {}
    rows = []
    fixed = h.get("fixed") or {}
    if fixed:
        rate = next((r["rate"] for t in TWINS for r in fixed.get(t, [])), 0)
        rows.append(_row("cpu.handshake.fixed", "cpu",
                         f"{HANDSHAKE_LABEL} at {rate:.0f}/s: service CPU per connection", "µs",
                         "lower", _field(fixed, "cpu_s_per_1k"), scale=1000.0,
                         disturbed=_disturbed(fixed)))
        rows.append(_row("lat.handshake.connect_mean", "latency",
                         f"{HANDSHAKE_LABEL} at {rate:.0f}/s: mean time to connect (h2load)",
                         "ms", "lower", _field(fixed, "connect_mean_ms"),
                         disturbed=_disturbed(fixed)))
    sat = h.get("saturation") or {}
    if sat:
        rows.append(_row("rps.handshake", "throughput",
                         f"{HANDSHAKE_LABEL}: connections per second at saturation", "conn/s",
                         "higher", _field(sat, "ok_rps"), disturbed=_disturbed(sat)))
        rows.append(_row("cpu.handshake", "throughput",
                         f"{HANDSHAKE_LABEL}: service CPU per connection at saturation", "µs",
                         "lower", _field(sat, "cpu_s_per_1k"), scale=1000.0,
                         disturbed=_disturbed(sat)))
    return rows


def _ballast_rows(raw):
    b = raw.get("ballast") or {}
    if not b:
        return []
    mb = raw.get("ballast_mb", 200)
    rate = next((r["rate"] for t in b for r in b.get(t, [])), 0)
    name = f"GET one, HTTP/1.1 at {rate:.0f} req/s, {mb} MB live heap"
    everyone = TWINS + tuple(GC_TUNED)
    rows = []
    for rid, group, label, key, unit, scale in (
            ("ballast.cpu", "cpu", f"{name}: service CPU per request", "cpu_s_per_1k", "µs",
             1000.0),
            ("ballast.p99", "latency", f"{name}: p99", "p99_ms", "ms", 1.0),
            ("ballast.p99_9", "latency", f"{name}: p99.9", "p99_9_ms", "ms", 1.0),
            ("ballast.rss", "memory", f"RSS with {mb} MB ballast, at start", "rss_at_start_kb",
             "MiB", 1 / 1024),
            ("ballast.peak", "memory", f"Peak RSS with {mb} MB ballast, under load",
             "peak_rss_kb", "MiB", 1 / 1024)):
        values, bad = _field(b, key, everyone), _disturbed(b, everyone)
        rows.append(_row(rid, group, label, unit, "lower", values, scale, disturbed=bad))
        rows += _tuned_row(rid, group, label, unit, "lower", values, scale, disturbed=bad)
    return rows
