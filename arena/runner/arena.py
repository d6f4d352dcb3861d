"""The run itself: tools, builds, then the measurements, twin after twin (A/B/A/B)."""
import os
import subprocess

from . import build, codesize, edit, scenarios
from .config import LOAD_CORE, LOAD_SCENARIOS, SERVICE_CORE
from .load import LoadError, Oha, write_bodies
from .pg import Postgres
from .progress import say, step, warn
from .service import Service, ServiceError
from .tools import ensure_all

TWINS = ("rust", "go")
SERVICE_STEPS = ("cold_start", "memory", "ballast") + LOAD_SCENARIOS


class Arena:
    def __init__(self, repo, args, plan, tmp):
        self.repo, self.args, self.plan, self.tmp = repo, args, plan, tmp
        self.raw = {"build": {}, "size": {}, "cold_start_s": {}, "idle_rss_kb": {},
                    "saturation": {}, "fixed": {}, "peak_rss_kb": {}, "ballast": {}}
        self.bins = {}
        self.pg = None
        self.oha = None
        self.protocols = ("h1", "h2")
        self.product_id = {}
        self.tools = {}
        self.pg_version = None

    # ---- setup -------------------------------------------------------------
    def run(self):
        self._repair_edits()
        needs_service = any(self.plan.wants(s) for s in SERVICE_STEPS)
        needs_load = any(self.plan.wants(s) for s in LOAD_SCENARIOS + ("ballast",))
        self.tools = ensure_all(need_load=needs_load)
        self._binaries()
        if self.plan.wants("size"):
            self._sizes()
        if self.plan.wants("code"):
            self.raw["code"] = codesize.count(self.repo)
        if needs_service:
            try:
                self._with_services()
            finally:
                if self.pg:
                    with step("stopping PostgreSQL"):
                        self.pg.stop()
        return self.raw

    def _repair_edits(self):
        """A run killed hard may have left the rebuild edit in place: undo it."""
        for name in ("edit-backup-rust.json", "edit-backup-go.json"):
            path = edit.restore_pending(os.path.join(self.tmp, name))
            if path:
                warn(f"restored {path}, left edited by an interrupted run")

    def _binaries(self):
        rust, go = build.RustBuild(self.repo, self.tmp), build.GoBuild(self.repo, self.tmp)
        measure = self.plan.wants("build") and not self.plan.quick
        if measure:
            self.raw["build"]["go"] = go.measure()
            self.raw["build"]["rust"] = rust.measure()
        self.bins["rust"] = self.args.rust_bin or (
            rust.measured_binary() if measure else self._default_rust_bin())
        if self.args.go_bin:
            self.bins["go"] = self.args.go_bin
        elif self.args.skip_build:
            self.bins["go"] = go.binary()
        else:
            self.bins["go"] = go.build_release()
        for twin, path in self.bins.items():
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                raise build.BuildError(f"{twin} binary {path} is missing or not executable")
            say(f"{twin} binary: {path}")

    def _default_rust_bin(self):
        path = os.path.join(self.repo, "target", "release", "overkill")
        if not self.args.skip_build:
            with step("Rust: cargo build --release -p overkill"):
                r = subprocess.run(["cargo", "build", "--release", "-p", "overkill"],
                                   cwd=self.repo)
            if r.returncode != 0:
                raise build.BuildError("cargo build --release -p overkill failed")
        return path

    def _sizes(self):
        for twin, path in self.bins.items():
            desc = subprocess.run([self.tools["file"], "-b", path], capture_output=True,
                                  text=True).stdout.strip()
            self.raw["size"][twin] = {"bytes": os.path.getsize(path), "file": _short(desc),
                                      "static": "static" in desc,
                                      "stripped": "not stripped" not in desc}

    # ---- services ----------------------------------------------------------
    def _service(self, twin, ballast_mb=0):
        return Service(twin, self.bins[twin], self.pg.dsn(f"arena_{twin}"), SERVICE_CORE,
                       self.tools["taskset"], self.tmp, ballast_mb=ballast_mb)

    def _with_services(self):
        if "oha" in self.tools:
            self.oha = Oha(self.tools["oha"], LOAD_CORE, self.tools["taskset"], self.tmp)
        self.pg = Postgres(self.tools["pg_bindir"], LOAD_CORE, self.tools["taskset"])
        with step("starting a throwaway PostgreSQL"):
            self.pg.start()
            self.pg_version = self.pg.version()
        for twin in TWINS:
            self.pg.recreate_db(f"arena_{twin}")
            with step(f"{twin}: first start, seeding {scenarios.SEED_PRODUCTS} products"):
                self._prepare(twin)
        if self.plan.wants("cold_start"):
            self._cold_starts()
        if self.plan.wants("memory"):
            self._idle_memory()
        self.bodies = write_bodies(os.path.join(self.tmp, f"bodies-{self.plan.body_lines}.txt"),
                                   self.plan.body_lines, "x")
        loads = [s for s in LOAD_SCENARIOS if self.plan.wants(s)]
        if loads:
            self._loads(loads)
        if self.plan.wants("ballast"):
            self._ballast()

    def _prepare(self, twin):
        svc = self._service(twin)
        try:
            svc.start()
            ids = scenarios.seed(svc)
            self.product_id[twin] = ids[len(ids) // 2]
            self._probe_h2(svc)
        finally:
            svc.stop()

    def _probe_h2(self, svc):
        if "h2" not in self.protocols or not self.oha:
            return
        try:
            res = self.oha.run(f"http://127.0.0.1:{svc.port}/v1/products?limit=1", 1,
                               http2=True)
            speaks = res["ok"] > 0
        except LoadError:
            speaks = False
        if not speaks:
            warn(f"{svc.name} does not answer HTTP/2 prior knowledge: HTTP/1.1 only")
            self.protocols = ("h1",)

    def _cold_starts(self):
        with step(f"cold start x{self.plan.cold_starts} per twin, interleaved"):
            for _ in range(self.plan.cold_starts):
                for twin in TWINS:
                    s = scenarios.cold_start(lambda: self._service(twin))
                    self.raw["cold_start_s"].setdefault(twin, []).append(s)

    def _idle_memory(self):
        with step("idle RSS"):
            for _ in range(self.plan.repeats):
                for twin in TWINS:
                    svc = self._service(twin)
                    try:
                        svc.start()
                        kb = scenarios.idle_rss_kb(svc)
                    finally:
                        svc.stop()
                    self.raw["idle_rss_kb"].setdefault(twin, []).append(kb)

    # ---- loads -------------------------------------------------------------
    def _targets(self, twin):
        return scenarios.Targets(self.product_id[twin], self.bodies)

    def _block(self, twin, scenario, rates):
        """One fresh service, one scenario, every protocol."""
        svc = self._service(twin)
        db = f"arena_{twin}"
        reset = ((lambda: scenarios.clean_load_rows(self.pg, db)) if scenario == "create"
                 else (lambda: None))
        try:
            svc.start()
            return scenarios.run_block(self.oha, svc, self._targets(twin), scenario,
                                       self.protocols, self.plan.load_s,
                                       self.plan.warmup_s, rates, reset)
        except LoadError as e:
            warn(f"{twin} {scenario}: load failed, run dropped: {e}")
            return {}, None
        finally:
            svc.stop()
            reset()

    def _loads(self, loads):
        sat = {}
        for scenario in loads:
            with step(f"{scenario}: saturation x{self.plan.repeats}, {self.protocols}"):
                for _ in range(self.plan.repeats):
                    for twin in TWINS:
                        results, hwm = self._block(twin, scenario, None)
                        _report_block(twin, scenario, results)
                        self.raw["peak_rss_kb"].setdefault(scenario, {}).setdefault(
                            twin, []).append(hwm)
                        for proto, res in results.items():
                            self.raw["saturation"].setdefault(scenario, {}).setdefault(
                                proto, {}).setdefault(twin, []).append(res)
                            sat.setdefault((scenario, proto), {}).setdefault(
                                twin, []).append(res["ok_rps"])
        self.rates = scenarios.half_of_slower(sat)
        for scenario in loads:
            rates = {p: self.rates[(scenario, p)] for p in self.protocols
                     if (scenario, p) in self.rates}
            with step(f"{scenario}: fixed rate {_fmt_rates(rates)} x{self.plan.repeats}"):
                for _ in range(self.plan.repeats):
                    for twin in TWINS:
                        results, _ = self._block(twin, scenario, rates)
                        _report_block(twin, scenario, results)
                        for proto, res in results.items():
                            res["rate"] = rates[proto]
                            self.raw["fixed"].setdefault(scenario, {}).setdefault(
                                proto, {}).setdefault(twin, []).append(res)

    def _ballast(self):
        rate = getattr(self, "rates", {}).get(("get_one", "h1"))
        if rate is None:
            with step("GET one saturation, to set the ballast run's rate"):
                rate = self._ballast_rate()
        mb = self.plan.ballast_mb
        with step(f"GET one at {rate:.0f} req/s with {mb} MB of live heap "
                  f"x{self.plan.repeats}"):
            for _ in range(self.plan.repeats):
                for twin in TWINS:
                    svc = self._service(twin, ballast_mb=mb)
                    try:
                        svc.start()
                        rss = svc.rss_kb()
                        res, _ = scenarios.run_block(
                            self.oha, svc, self._targets(twin), "get_one", ("h1",),
                            self.plan.load_s, self.plan.warmup_s, {"h1": rate})
                    except LoadError as e:
                        warn(f"{twin} ballast: load failed, run dropped: {e}")
                        continue
                    finally:
                        svc.stop()
                    entry = dict(res["h1"], rate=rate, rss_at_start_kb=rss,
                                 rss_after_kb=res["h1"].get("rss_after_kb"))
                    self._check_ballast(twin, entry, mb)
                    _report_block(twin, "get_one+ballast", res)
                    self.raw["ballast"].setdefault(twin, []).append(entry)
        self.raw["ballast_mb"] = mb

    def _check_ballast(self, twin, entry, mb):
        held = max(entry["rss_at_start_kb"] or 0, entry["rss_after_kb"] or 0) / 1024
        if held < 0.8 * mb:
            warn(f"{twin} holds only {held:.0f} MiB with OVERKILL_BALLAST_MB={mb}: "
                 "it may not implement the ballast")

    def _ballast_rate(self):
        """Without a get_one run: a short saturation run per twin sets the rate."""
        sat = {}
        for twin in TWINS:
            results, _ = self._block(twin, "get_one", None)
            if "h1" in results:
                sat.setdefault(("get_one", "h1"), {})[twin] = [results["h1"]["ok_rps"]]
        return scenarios.half_of_slower(sat).get(("get_one", "h1"), 100.0)


def _report_block(twin, scenario, results):
    for proto, r in results.items():
        say(f"  {twin:4} {scenario} {proto}: {r['ok_rps']:,.0f} ok/s, p99 {r['p99_ms']:.2f} ms, "
            f"{r['cpu_s_per_1k'] * 1000 if r['cpu_s_per_1k'] else 0:.1f} CPU-ms/1k")


def _fmt_rates(rates):
    return ", ".join(f"{p}={r:.0f}/s" for p, r in rates.items())


def _short(file_output):
    """`file` output without build ids and interpreter path."""
    keep = [p.strip() for p in file_output.split(",")
            if not p.strip().startswith(("BuildID", "Go BuildID", "interpreter", "version 1"))]
    return ", ".join(keep)
