"""Command line and the run plan (durations and repeat counts per mode)."""
import argparse
from dataclasses import dataclass, field

ALL_STEPS = ("build", "size", "cold_start", "memory", "get_one", "list", "create",
             "ballast", "code")
LOAD_SCENARIOS = ("get_one", "list", "create")
SERVICE_CORE, LOAD_CORE = "1", "0"


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
                   "target/release/overkill with --skip-build)")
    p.add_argument("--go-bin", help="Go twin binary (default: arena/go-twin/go-twin)")
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
    """A rough forecast of the run, shown at the start (builds not included)."""
    loads = sum(plan.wants(s) for s in LOAD_SCENARIOS)
    per_load = plan.load_s + plan.warmup_s
    seconds = loads * 2 * plan.repeats * 2 * (protocols * per_load + 1)
    if plan.wants("ballast"):
        seconds += plan.repeats * 2 * (per_load + 1)
    seconds += 10 + plan.cold_starts * 0.3 + plan.repeats * 3
    return seconds / 60
