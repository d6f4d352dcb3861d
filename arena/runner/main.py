"""Entry point: parse flags, run the arena, write the results, clean up always."""
import datetime
import os
import signal
import sys
import time

from . import build, machine, report, scenarios, secure
from .arena import Arena
from .config import (DISTURBED_FOREIGN, DISTURBED_STEAL, GC_TUNED_ENV, GO_TWINS, LOAD_CORE,
                     MAX_REPEATS, SERVICE_CORE, estimate_minutes, parse_args, plan_for,
                     repeat_allowance_minutes)
from .load import H1_CONNECTIONS, H2_CONNECTIONS, H2_STREAMS
from .pg import PostgresError
from .progress import WARNINGS, say, warn
from .service import ServiceError
from .tools import ToolMissing
from .util import loadavg, machine_busy_share

ARENA_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(ARENA_DIR)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    plan = plan_for(args)
    out = os.path.abspath(args.out or os.path.join(ARENA_DIR, "results"))
    tmp = os.path.join(ARENA_DIR, "results", "tmp")
    os.makedirs(tmp, exist_ok=True)
    # SIGTERM unwinds like Ctrl-C, so that every finally: (services, PostgreSQL,
    # the edited source file) runs.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.time()
    say(f"arena: {'quick' if plan.quick else 'full'} mode, steps {','.join(plan.steps)}, "
        f"results to {out}; measurements take about {estimate_minutes(plan):.0f} min "
        f"(+ at most {repeat_allowance_minutes(plan):.0f} min if blocks are disturbed)"
        + (" after the builds (Rust: several minutes)" if plan.wants("build") else ""))
    arena = Arena(REPO, args, plan, tmp)
    arena.loadavg_at_start = loadavg()
    busy = machine_busy_share()
    arena.busy_at_start = busy
    if busy > 0.10:
        warn(f"other processes keep {busy:.0%} of the machine busy at the start: "
             "expect noisy figures")
    try:
        raw = arena.run()
    except (ToolMissing, ServiceError, PostgresError, build.BuildError) as e:
        say(f"FAILED: {e}")
        return 2
    except KeyboardInterrupt:
        say("interrupted; services and PostgreSQL stopped, edits restored")
        return 130
    meta = _meta(arena, plan, started)
    rows = report.write_all(out, meta, raw)
    say(f"wrote {len(rows)} rows to {out}/latest.json, latest.md, README-table.md, *.svg "
        f"in {meta['duration_s']:.0f}s")
    # Only a full run of every step speaks for the project in its README.
    if not plan.quick and not args.only and out == os.path.join(ARENA_DIR, "results"):
        report.update_readme(os.path.join(REPO, "README.md"), os.path.join(out, "README-table.md"))
        say("updated the Rust-vs-Go table in README.md")
    return 0


def _meta(arena, plan, started):
    return {
        "mode": "quick" if plan.quick else "full",
        "finished_at": datetime.datetime.now(datetime.timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": time.time() - started,
        "machine": machine.machine(),
        "git": machine.git_revision(REPO),
        "versions": machine.versions(arena.tools, arena.oha.version() if arena.oha else None,
                                     arena.pg_version,
                                     {t: arena.bins.get(t) for t in GO_TWINS}),
        "rust_build": machine.rust_build(REPO, arena.bins.get("rust")),
        "gc_tuned_env": GC_TUNED_ENV,
        "binaries": arena.bins,
        "protocols": list(arena.protocols),
        "tls_protocols": list(arena.tls_protocols),
        "plan": {"repeats": plan.repeats, "load_s": plan.load_s, "warmup_s": plan.warmup_s,
                 "cold_starts": plan.cold_starts, "steps": list(plan.steps),
                 "post_body_lines": plan.body_lines, "ballast_mb": plan.ballast_mb},
        "method": _method(plan),
        "load_average": {"start": arena.loadavg_at_start, "end": loadavg()},
        "busy_share_at_start": arena.busy_at_start,
        "interference": _interference(arena.raw),
        "order": arena.raw.get("order"),
        "warnings": list(WARNINGS),
    }


def _loads_of(raw):
    """Every load result of the run (the repeats of disturbed blocks included once)."""
    out = [r for kind in ("saturation", "fixed")
           for per_proto in raw.get(kind, {}).values()
           for per_twin in per_proto.values()
           for results in per_twin.values() for r in results]
    return out + [r for rs in raw.get("ballast", {}).values() for r in rs]


def _interference(raw):
    """How much of the service's core other processes and the hypervisor took."""
    loads = _loads_of(raw)
    if not loads:
        return None
    shares = [r["foreign_cpu_share"] for r in loads]
    steal = [r.get("steal_share", 0.0) for r in loads]
    out = {"mean": sum(shares) / len(shares), "max": max(shares), "loads": len(shares),
           "steal_mean": sum(steal) / len(steal), "steal_max": max(steal),
           "thresholds": {"foreign_cpu_share": DISTURBED_FOREIGN,
                          "steal_share": DISTURBED_STEAL, "max_repeats": MAX_REPEATS},
           "repeated": [{k: v for k, v in r.items() if k != "first"}
                        for r in raw.get("repeated_blocks", [])]}
    if out["max"] > DISTURBED_FOREIGN or out["steal_max"] > DISTURBED_STEAL:
        warn(f"other processes took up to {out['max']:.0%} (mean {out['mean']:.0%}) and steal "
             f"up to {out['steal_max']:.0%} of the service core during kept loads: "
             "those figures are disturbed")
    return out


def _method(plan):
    tuned = " ".join(f"{k}={v}" for k, v in GC_TUNED_ENV.items())
    return [
        "Columns: Rust; the Go twin built by Go 1.24 (build.sh's pinned toolchain); the "
        "same twin source built by Go 1.26 (GO_BIN=… build.sh: the same flags, the same "
        "default.pgo profile when committed). Exact versions and -pgo below.",
        f"Cores: the service on core {SERVICE_CORE} (taskset); the load generator (oha) "
        f"and PostgreSQL on core {LOAD_CORE}. The same for every twin.",
        "Headline: service CPU per request (µs of utime+stime from /proc/PID/stat per "
        "response) at a fixed rate, then p99/p99.9 at that rate, then RSS; throughput at "
        "saturation comes after them, because core 0 (oha and PostgreSQL) caps it for "
        "every twin on this 2-core machine.",
        "One throwaway PostgreSQL cluster, fsync=off and synchronous_commit=off "
        "(the disk is not what is measured); each twin has its own database, seeded "
        "with 1000 products (and 100 for the order scenarios) through the API. Pool "
        "size 16, log level warn, for all.",
        "Order: the twins take turns block by block; each round (one repeat of one step) "
        "rotates the order by one (Rust, Go 1.24, Go 1.26; then Go 1.24, Go 1.26, Rust; "
        "...), so over three rounds every twin runs once in every position. The order of "
        "every round is in latest.json (meta.order).",
        "Each block starts a fresh service (so VmHWM is the peak of that block), warms it "
        "up, then runs the load over HTTP/1.1 and then HTTP/2 (h2c, prior knowledge) "
        "when every twin speaks it.",
        f"Saturation: oha, {H1_CONNECTIONS} connections on HTTP/1.1, {H2_CONNECTIONS} "
        f"connections x {H2_STREAMS} streams on HTTP/2; throughput counts 2xx "
        "responses; CPU per request at saturation is in the throughput rows.",
        "Fixed rate: half the slowest twin's median saturation throughput, per scenario "
        "and protocol; oha -q RATE --latency-correction (coordinated omission corrected).",
        f"POST create: oha -Z sends a random line of a file of {plan.body_lines:,} bodies "
        "with distinct SKUs; a repeated SKU gets 409 (share in latest.json, "
        "conflict_share). Rows created by a load are deleted after each block.",
        "GET one: the same seeded product each time. List: GET /v1/products?limit=50.",
        "Over TLS (get_one_tls): each twin serves TLS and HTTP/3 on a port of its own beside "
        "the cleartext one (OVERKILL_TLS_CERT/KEY/LISTEN), one self-signed ECDSA P-256 pair "
        "(openssl) for every twin; GET one over HTTP/1.1+TLS and HTTP/2+TLS (oha) and HTTP/3 "
        "(oha built with its http3 feature), with the connection and stream counts above.",
        f"New TLS connections (handshake): h2load, each connection from a fresh client (a "
        f"full handshake, no resumption) with one GET one over HTTP/1.1; saturation: bursts "
        f"of {secure.BURST} at once for the load time; fixed rate: h2load -r at half the "
        "slower twin's saturation rate. CPU per connection = service CPU / connections.",
        f"POST order, 1 and 5 lines: oha -Z sends a random line of a file of "
        f"{scenarios.ORDER_BODY_LINES:,} bodies, each ordering 1 unit of 1 (or 5 distinct) "
        f"of {scenarios.ORDER_PRODUCTS} products seeded with stock "
        f"{scenarios.ORDER_STOCK:,} (no order is ever short), no Idempotency-Key (oha "
        "cannot vary a header per request). After each load the orders are removed and "
        "the stock put back.",
        f"Ballast: OVERKILL_BALLAST_MB={plan.ballast_mb}, GET one over HTTP/1.1 at the "
        "GET-one fixed rate.",
        f"GC-tuned Go (memory and large-heap rows only, labelled): {tuned}, as for a "
        "service with a 512 MiB memory budget (a soft limit below it leaves room for "
        "non-heap memory; GOGC raised so the collector runs less often while the heap is "
        "far from the limit). Default rows run Go with no GOGC/GOMEMLIMIT set.",
        "Interference: per load, the share of the service core other processes used "
        "(core busy time from /proc/stat minus the service's own CPU) and the steal time "
        f"of that core. A block is disturbed above {DISTURBED_FOREIGN:.0%} foreign CPU or "
        f"{DISTURBED_STEAL:.0%} steal in any of its loads; it is run once more "
        f"automatically (at most {MAX_REPEATS} repeats per run), the second figures are "
        "kept, and the repeat is recorded (raw.repeated_blocks, with the first figures).",
        "Cold start: from exec to the first 200 on the admin /readyz (polled every ms).",
        "Idle RSS: VmRSS one second after start and 40 requests.",
        "Build: clean release build in a separate CARGO_TARGET_DIR / GOCACHE, "
        "dependencies downloaded beforehand; rebuilds after appending a character "
        "after ARENA-EDIT-MARKER (or a comment line), restored afterwards. Go debug = "
        "`go build`, Go release = build.sh, with each Go version. Timed once each.",
    ]
