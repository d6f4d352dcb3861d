"""Entry point: parse flags, run the arena, write the results, clean up always."""
import datetime
import os
import signal
import sys
import time

from . import build, machine, report
from .arena import Arena
from .config import LOAD_CORE, SERVICE_CORE, estimate_minutes, parse_args, plan_for
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
        f"results to {out}; measurements take about {estimate_minutes(plan):.0f} min"
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
                                     arena.pg_version, arena.bins.get("go")),
        "binaries": arena.bins,
        "protocols": list(arena.protocols),
        "plan": {"repeats": plan.repeats, "load_s": plan.load_s, "warmup_s": plan.warmup_s,
                 "cold_starts": plan.cold_starts, "steps": list(plan.steps),
                 "post_body_lines": plan.body_lines, "ballast_mb": plan.ballast_mb},
        "method": _method(plan),
        "load_average": {"start": arena.loadavg_at_start, "end": loadavg()},
        "busy_share_at_start": arena.busy_at_start,
        "interference": _interference(arena.raw),
        "warnings": list(WARNINGS),
    }


def _interference(raw):
    """How much of the service's core other processes took during the loads."""
    shares = [r["foreign_cpu_share"]
              for kind in ("saturation", "fixed")
              for per_proto in raw.get(kind, {}).values()
              for per_twin in per_proto.values()
              for results in per_twin.values() for r in results]
    shares += [r["foreign_cpu_share"] for rs in raw.get("ballast", {}).values() for r in rs]
    if not shares:
        return None
    out = {"mean": sum(shares) / len(shares), "max": max(shares), "loads": len(shares)}
    if out["max"] > 0.05:
        warn(f"other processes took up to {out['max']:.0%} (mean {out['mean']:.0%}) of the "
             "service core during loads: the load figures are disturbed")
    return out


def _method(plan):
    return [
        f"Cores: the service on core {SERVICE_CORE} (taskset); the load generator (oha) "
        f"and PostgreSQL on core {LOAD_CORE}. The same for both twins.",
        "One throwaway PostgreSQL cluster, fsync=off and synchronous_commit=off "
        "(the disk is not what is measured); each twin has its own database, seeded "
        "with 1000 products through the API. Pool size 16, log level warn, for both.",
        "Twins alternate block by block (A/B/A/B). Each block starts a fresh service "
        "(so VmHWM is the peak of that block), warms it up, then runs the load "
        "over HTTP/1.1 and then HTTP/2 (h2c, prior knowledge) when both twins speak it.",
        f"Saturation: oha, {H1_CONNECTIONS} connections on HTTP/1.1, {H2_CONNECTIONS} "
        f"connections x {H2_STREAMS} streams on HTTP/2; throughput counts 2xx "
        "responses; CPU is utime+stime of the service from /proc/PID/stat per "
        "1000 responses.",
        "Fixed rate: half the slower twin's median saturation throughput, per scenario "
        "and protocol; oha -q RATE --latency-correction (coordinated omission corrected).",
        f"POST create: oha -Z sends a random line of a file of {plan.body_lines:,} bodies "
        "with distinct SKUs; a repeated SKU gets 409 (share in latest.json, "
        "conflict_share). Rows created by a load are deleted after each block.",
        "GET one: the same seeded product each time. List: GET /v1/products?limit=50.",
        f"Ballast: OVERKILL_BALLAST_MB={plan.ballast_mb}, GET one over HTTP/1.1 at the "
        "GET-one fixed rate.",
        "Cold start: from exec to the first 200 on the admin /readyz (polled every ms).",
        "Idle RSS: VmRSS one second after start and 40 requests.",
        "Build: clean release build in a separate CARGO_TARGET_DIR / GOCACHE, "
        "dependencies downloaded beforehand; rebuilds after appending a character "
        "after ARENA-EDIT-MARKER (or a comment line), restored afterwards. Go debug = "
        "`go build`, Go release = build.sh. Timed once each.",
    ]
