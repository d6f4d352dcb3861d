"""Command line and the run plan (durations and repeat counts per mode)."""
import argparse
from dataclasses import dataclass, field

ALL_STEPS = ("build", "size", "cold_start", "memory", "get_one", "list", "create",
             "order1", "order5", "fx_hit", "fx_miss", "get_one_tls", "handshake", "proxy",
             "ballast", "code")
LOAD_SCENARIOS = ("get_one", "list", "create", "order1", "order5", "fx_hit", "fx_miss",
                  "get_one_tls")
# The scenarios served over TLS (each twin with OVERKILL_TLS_* and its own TLS
# port beside the cleartext one), and their protocols: HTTP/1.1 and HTTP/2
# over TLS (oha), HTTP/3 (oha built with its http3 feature).
TLS_SCENARIOS = ("get_one_tls",)
TLS_PROTOCOLS = ("h1s", "h2s", "h3")
# The scenarios that convert prices through the FX provider simulator.
FX_SCENARIOS = ("fx_hit", "fx_miss")
# The scenarios that write rows, which are removed after each load (about 2 s).
WRITE_SCENARIOS = ("create", "order1", "order5")
SERVICE_CORE, LOAD_CORE = "1", "0"

# The columns: the Rust service, the Go twin built by Go 1.24 (the essay's
# comparison, pinned in arena/go-twin/build.sh) and the same source built by
# a current Go (the machine's /usr/local/go, or --go-new).
TWINS = ("rust", "go124", "go126")
GO_TWINS = ("go124", "go126")
# GC-tuned Go, for the memory and large-heap rows only: a service with a known
# memory budget of 512 MiB, tuned the way the Go GC guide advises: a soft limit
# below the budget (headroom for non-heap memory) and GOGC raised so that the
# collector runs less often while the heap is far from the limit.
GC_TUNED = {"go124_gc": "go124", "go126_gc": "go126"}
GC_TUNED_ENV = {"GOGC": "400", "GOMEMLIMIT": "450MiB"}
GC_TUNED_LABEL = "GOGC=400, GOMEMLIMIT=450MiB of a 512 MiB budget"
LABELS = {"rust": "Rust", "go124": "Go 1.24", "go126": "Go 1.26",
          "go124_gc": "Go 1.24 GC-tuned", "go126_gc": "Go 1.26 GC-tuned"}
DEFAULT_GO_NEW = "/usr/local/go/bin/go"

# A load block is disturbed when, during any of its loads, other processes took
# more than DISTURBED_FOREIGN of the service's core or the hypervisor stole
# more than DISTURBED_STEAL of it. A disturbed block is run once more (its
# first figures are kept in latest.json); at most MAX_REPEATS repeats per run.
DISTURBED_FOREIGN, DISTURBED_STEAL = 0.05, 0.02
MAX_REPEATS = 8


def base_twin(twin):
    """The binary a (possibly GC-tuned) twin runs: go124_gc -> go124."""
    return GC_TUNED.get(twin, twin)


def order(twins, repeat):
    """The twins of one repeat, rotated by the repeat's number: over as many
    repeats as twins, each twin runs once in each position."""
    k = repeat % len(twins)
    return tuple(twins[k:] + twins[:k])


@dataclass
class Plan:
    quick: bool
    repeats: int
    cold_starts: int
    load_s: int
    warmup_s: int
    body_lines: int
    ballast_mb: int = 200
    steps: tuple = field(default_factory=lambda: ALL_STEPS)

    def wants(self, step):
        return step in self.steps


def plan_for(args):
    steps = ALL_STEPS if not args.only else tuple(s for s in ALL_STEPS if s in args.only)
    if args.skip_build:
        steps = tuple(s for s in steps if s != "build")
    if args.quick:
        return Plan(True, repeats=1, cold_starts=5, load_s=3, warmup_s=1,
                    body_lines=500_000, steps=steps)
    return Plan(False, repeats=3, cold_starts=20, load_s=8, warmup_s=1,
                body_lines=1_500_000, steps=steps)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="arena/run",
        description="Build the Rust service and its Go twin and measure them side by side.")
    p.add_argument("--quick", action="store_true",
                   help="development run: 1 repeat, 3 s loads, 5 cold starts, no build timings")
    p.add_argument("--skip-build", action="store_true",
                   help="use existing binaries; no build timings")
    p.add_argument("--rust-bin", help="Rust service binary (default: build it, or "
                   "target/dist/overkill with --skip-build)")
    p.add_argument("--go-bin", help="Go twin binary built by Go 1.24 "
                   "(default: arena/go-twin/go-twin from build.sh)")
    p.add_argument("--go-new", default=DEFAULT_GO_NEW,
                   help=f"the current Go toolchain for the second Go column (default: "
                   f"{DEFAULT_GO_NEW})")
    p.add_argument("--go-new-bin", help="Go twin binary built by the current Go "
                   "(default: build it with --go-new into arena/results/tmp/bin/)")
    p.add_argument("--only", type=_steps,
                   help=f"comma-separated subset of: {','.join(ALL_STEPS)}")
    p.add_argument("--out", default=None, help="output directory (default: arena/results)")
    return p.parse_args(argv)


def _steps(text):
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [n for n in names if n not in ALL_STEPS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown step(s) {unknown}; known: {ALL_STEPS}")
    return names


def estimate_minutes(plan, protocols=2):
    """A rough forecast of the measurements, shown at the start (builds not included).

    Per load block: a service start, per protocol a warm-up and the load, the
    stop (about 2 s together); POST blocks add a VACUUM FULL (about 2 s).
    """
    twins, tuned = len(TWINS), len(TWINS) + len(GC_TUNED)
    per_load = plan.load_s + plan.warmup_s
    seconds = 0.0
    for s in LOAD_SCENARIOS:
        if plan.wants(s):
            n = len(TLS_PROTOCOLS) if s in TLS_SCENARIOS else protocols
            block = n * per_load + 2 + (2 * n if s in WRITE_SCENARIOS else 0)
            seconds += 2 * plan.repeats * twins * block  # saturation and fixed rate
    if plan.wants("handshake"):
        seconds += 2 * plan.repeats * twins * (per_load + 3)
    if plan.wants("ballast"):
        seconds += plan.repeats * tuned * (per_load + 3)
    if plan.wants("memory"):
        seconds += plan.repeats * tuned * 2
    if plan.wants("cold_start"):
        seconds += plan.cold_starts * twins * 0.3
    seconds += 15 + twins * 9  # PostgreSQL, seeding 1000 + 100 products per twin
    return seconds / 60


def repeat_allowance_minutes(plan, protocols=2):
    """The most that repeats of disturbed blocks can add to the forecast."""
    return MAX_REPEATS * (protocols * (plan.load_s + plan.warmup_s) + 4) / 60
