"""The run itself: tools, builds, then the measurements, twin after twin.

The twins take turns block by block; the order of each round (one repeat of
one step) is rotated by the round's number, so that no twin always runs first,
and is recorded in raw["order"].
"""
import os
import subprocess

from . import build, codesize, edit, fxsim, proxies, scenarios, secure
from .config import (DISTURBED_FOREIGN, DISTURBED_STEAL, GC_TUNED, GC_TUNED_ENV, GO_TWINS,
                     FX_SCENARIOS, LOAD_CORE, LOAD_SCENARIOS, MAX_REPEATS, SERVICE_CORE,
                     TLS_PROTOCOLS, TLS_SCENARIOS, TWINS, base_twin, order)
from .load import LoadError, Oha, write_bodies
from .pg import Postgres
from .progress import say, step, warn
from .service import Service, ServiceError
from .tools import ensure_all

WITH_TUNED = TWINS + tuple(GC_TUNED)
SERVICE_STEPS = ("cold_start", "memory", "ballast", "proxy", "handshake") + LOAD_SCENARIOS
TLS_STEPS = TLS_SCENARIOS + ("handshake",)


class Arena:
    def __init__(self, repo, args, plan, tmp):
        self.repo, self.args, self.plan, self.tmp = repo, args, plan, tmp
        self.raw = {"build": {}, "size": {}, "cold_start_s": {}, "idle_rss_kb": {},
                    "saturation": {}, "fixed": {}, "peak_rss_kb": {}, "ballast": {},
                    "order": [], "repeated_blocks": []}
        self.rounds = 0
        self.bins = {}
        self.pg = None
        self.oha = None
        self.protocols = ("h1", "h2")
        self.tls_protocols = TLS_PROTOCOLS
        self.tls_pair = None  # (cert, key), made when a TLS step runs
        self.product_id = {}
        self.order_product_ids = {}  # twin -> ids of the products orders are placed for
        self.order_bodies = {}  # twin -> {order scenario: body file}
        self.tools = {}
        self.pg_version = None
        self.fx_sim = None

    # ---- setup -------------------------------------------------------------
    def run(self):
        self._repair_edits()
        needs_service = any(self.plan.wants(s) for s in SERVICE_STEPS)
        needs_load = any(self.plan.wants(s) for s in LOAD_SCENARIOS + ("ballast", "proxy"))
        needs_tls = any(self.plan.wants(s) for s in TLS_STEPS)
        self.tools = ensure_all(need_load=needs_load, need_tls=needs_tls, tmp=self.tmp)
        self._binaries()
        if self.plan.wants("size"):
            self._sizes()
        if self.plan.wants("code"):
            self.raw["code"] = codesize.count(self.repo)
        if needs_service:
            try:
                self._with_services()
            finally:
                if self.fx_sim:
                    self.fx_sim.stop()
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
        rust = build.RustBuild(self.repo, self.tmp)
        gos = {"go124": build.GoBuild(self.repo, self.tmp),
               "go126": build.GoBuild(self.repo, self.tmp, go=self.args.go_new, tag="go126")}
        given = {"go124": self.args.go_bin, "go126": self.args.go_new_bin}
        measure = self.plan.wants("build") and not self.plan.quick
        if measure:
            for twin in GO_TWINS:
                self.raw["build"][twin] = gos[twin].measure()
            self.raw["build"]["rust"] = rust.measure()
        self.bins["rust"] = self.args.rust_bin or (
            rust.measured_binary() if measure else self._default_rust_bin())
        for twin in GO_TWINS:
            if given[twin]:
                self.bins[twin] = given[twin]
            elif self.args.skip_build:
                self.bins[twin] = gos[twin].binary()
            else:
                self.bins[twin] = gos[twin].build_release()
        self.bins = {twin: os.path.abspath(path) for twin, path in self.bins.items()}
        for twin, path in self.bins.items():
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                hint = (" (build it once without --skip-build, or GO_BIN=… OUT=… "
                        "arena/go-twin/build.sh)" if twin != "rust" else "")
                raise build.BuildError(f"{twin} binary {path} is missing or not "
                                       f"executable{hint}")
            say(f"{twin} binary: {path}")

    def _fx_sim_binary(self):
        path = os.path.join(self.repo, "target", "release", "fx-sim")
        if not self.args.skip_build or not os.path.isfile(path):
            with step("FX simulator: cargo build --release -p fx-sim"):
                r = subprocess.run(["cargo", "build", "--release", "-p", "fx-sim"],
                                   cwd=self.repo)
            if r.returncode != 0:
                raise build.BuildError("cargo build --release -p fx-sim failed")
        return path

    def _default_rust_bin(self):
        # the shipped binary: the `dist` profile (fat LTO), not `release`
        path = os.path.join(self.repo, "target", "dist", "overkill")
        if not self.args.skip_build:
            with step("Rust: cargo build --profile dist -p overkill"):
                r = subprocess.run(["cargo", "build", "--profile", "dist", "-p", "overkill"],
                                   cwd=self.repo)
            if r.returncode != 0:
                raise build.BuildError("cargo build --profile dist -p overkill failed")
        return path

    def _sizes(self):
        for twin, path in self.bins.items():
            desc = subprocess.run([self.tools["file"], "-b", path], capture_output=True,
                                  text=True).stdout.strip()
            self.raw["size"][twin] = {"bytes": os.path.getsize(path), "file": _short(desc),
                                      "static": "static" in desc,
                                      "stripped": "not stripped" not in desc}

    # ---- services ----------------------------------------------------------
    def _service(self, twin, ballast_mb=0, scenario=None):
        base = base_twin(twin)
        env = dict(GC_TUNED_ENV) if twin in GC_TUNED else {}
        # Every service knows the simulator (none calls it without `currency`).
        env["OVERKILL_FX_URL"] = self.fx_sim.url() if self.fx_sim else "off"
        env.update(fxsim.FX_ENV)
        env.update(fxsim.SCENARIO_ENV.get(scenario, {}))
        tls = self.tls_pair if scenario in TLS_STEPS else None
        return Service(twin, self.bins[base], self.pg.dsn(f"arena_{base}"), SERVICE_CORE,
                       self.tools["taskset"], self.tmp, ballast_mb=ballast_mb, extra_env=env,
                       tls=tls)

    def _round(self, what, twins=TWINS):
        """The order of the next round of blocks, recorded."""
        chosen = order(twins, self.rounds)
        self.rounds += 1
        self.raw["order"].append({"step": what, "order": list(chosen)})
        return chosen

    def _with_services(self):
        if "oha" in self.tools:
            self.oha = Oha(self.tools["oha"], LOAD_CORE, self.tools["taskset"], self.tmp,
                           h3_path=self.tools.get("oha_h3"))
        if "openssl" in self.tools:
            self.tls_pair = secure.make_pair(self.tools["openssl"], self.tmp)
        self.pg = Postgres(self.tools["pg_bindir"], LOAD_CORE, self.tools["taskset"])
        with step("starting a throwaway PostgreSQL"):
            self.pg.start()
            self.pg_version = self.pg.version()
        if any(self.plan.wants(s) for s in FX_SCENARIOS):
            with step("starting the FX provider simulator"):
                self.fx_sim = fxsim.FxSim(self._fx_sim_binary(), LOAD_CORE,
                                          self.tools["taskset"], self.tmp)
                self.fx_sim.start()
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
        self._write_order_bodies()
        loads = [s for s in LOAD_SCENARIOS if self.plan.wants(s)]
        if loads:
            self._loads(loads)
        if self.plan.wants("handshake"):
            self._handshakes()
        if self.plan.wants("ballast"):
            self._ballast()
        if self.plan.wants("proxy"):
            self.raw["proxy"] = proxies.Section(self).run(self.plan, order)

    def _prepare(self, twin):
        svc = self._service(twin)
        try:
            svc.start()
            ids = scenarios.seed(svc)
            self.product_id[twin] = ids[len(ids) // 2]
            self.order_product_ids[twin] = scenarios.seed_order_products(svc)
            self._probe_h2(svc)
        finally:
            svc.stop()
        if any(self.plan.wants(s) for s in TLS_SCENARIOS):
            self._probe_h3(twin)

    def _probe_h3(self, twin):
        """HTTP/3 rows only if oha gets answers over HTTP/3 from every twin."""
        if "h3" not in self.tls_protocols or not self.oha:
            return
        svc = self._service(twin, scenario=TLS_SCENARIOS[0])
        try:
            svc.start()
            res = self.oha.run(f"https://127.0.0.1:{svc.tls_port}/v1/products?limit=1", 1,
                               http3=True)
            speaks = res["ok"] > 0
        except (LoadError, ServiceError):
            speaks = False
        finally:
            svc.stop()
        if not speaks:
            warn(f"{twin} does not answer oha over HTTP/3: no HTTP/3 rows")
            self.tls_protocols = tuple(p for p in self.tls_protocols if p != "h3")

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
                for twin in self._round("cold_start"):
                    s = scenarios.cold_start(lambda: self._service(twin))
                    self.raw["cold_start_s"].setdefault(twin, []).append(s)

    def _idle_memory(self):
        with step("idle RSS (Go also GC-tuned)"):
            for _ in range(self.plan.repeats):
                for twin in self._round("memory", WITH_TUNED):
                    svc = self._service(twin)
                    try:
                        svc.start()
                        kb = scenarios.idle_rss_kb(svc)
                    finally:
                        svc.stop()
                    self.raw["idle_rss_kb"].setdefault(twin, []).append(kb)

    # ---- loads -------------------------------------------------------------
    def _write_order_bodies(self):
        """Per twin (its own product ids), per order scenario, a file of bodies."""
        for twin in TWINS:
            ids = self.order_product_ids.get(twin)
            if not ids:
                continue
            for scenario, lines in scenarios.ORDER_SCENARIOS.items():
                if self.plan.wants(scenario):
                    path = os.path.join(self.tmp, f"{scenario}-{twin}.txt")
                    self.order_bodies.setdefault(twin, {})[scenario] = \
                        scenarios.write_order_bodies(path, scenarios.ORDER_BODY_LINES, ids, lines)

    def _targets(self, twin):
        base = base_twin(twin)
        return scenarios.Targets(self.product_id[base], self.bodies,
                                 self.order_bodies.get(base))

    def _block(self, twin, scenario, rates, ballast_mb=0):
        """One fresh service, one scenario, every protocol (ballast: HTTP/1.1 only).

        Returns ({protocol: result}, peak RSS, RSS at start). A disturbed block
        (see config.DISTURBED_*) is run once more, within the run's MAX_REPEATS.
        """
        first = self._block_once(twin, scenario, rates, ballast_mb)
        why = _disturbed(first[0])
        if not why:
            return first
        if len(self.raw["repeated_blocks"]) >= MAX_REPEATS:
            warn(f"{twin} {scenario}: disturbed ({why}), not repeated: the run's "
                 f"{MAX_REPEATS} repeats are used up")
            _mark(first[0], why)
            return first
        say(f"  {twin} {scenario}: disturbed ({why}); running the block once more")
        second = self._block_once(twin, scenario, rates, ballast_mb)
        again = _disturbed(second[0])
        self.raw["repeated_blocks"].append({
            "twin": twin, "scenario": scenario, "kind": _kind(rates, ballast_mb),
            "why": why, "first": first[0], "still_disturbed": again or None})
        for res in second[0].values():
            res["repeated"] = True
        if again:
            warn(f"{twin} {scenario}: still disturbed after a repeat ({again})")
            _mark(second[0], again)
        return second

    def _block_once(self, twin, scenario, rates, ballast_mb):
        svc = self._service(twin, ballast_mb=ballast_mb, scenario=scenario)
        calls_before = self.fx_sim.calls() if self.fx_sim and scenario in FX_SCENARIOS else None
        db = f"arena_{base_twin(twin)}"
        if scenario == "create":
            reset = lambda: scenarios.clean_load_rows(self.pg, db)  # noqa: E731
        elif scenario in scenarios.ORDER_SCENARIOS:
            reset = lambda: scenarios.clean_order_rows(self.pg, db)  # noqa: E731
        else:
            reset = lambda: None  # noqa: E731
        protocols = ("h1",) if ballast_mb else (
            self.tls_protocols if scenario in TLS_SCENARIOS else self.protocols)
        try:
            svc.start()
            rss = svc.rss_kb()
            results, hwm = scenarios.run_block(self.oha, svc, self._targets(twin), scenario,
                                               protocols, self.plan.load_s,
                                               self.plan.warmup_s, rates, reset)
            if calls_before is not None:
                self._record_provider_calls(twin, scenario, rates, results, calls_before)
            return results, hwm, rss
        except LoadError as e:
            warn(f"{twin} {scenario}: load failed, run dropped: {e}")
            return {}, None, None
        finally:
            svc.stop()
            reset()

    def _record_provider_calls(self, twin, scenario, rates, results, calls_before):
        """How many of the block's lookups reached the provider (warm-ups included)."""
        calls = self.fx_sim.calls()
        if calls is None:
            return
        self.raw.setdefault("fx_provider_calls", []).append({
            "twin": twin, "scenario": scenario, "kind": _kind(rates, 0),
            "provider_calls": calls - calls_before,
            "measured_requests": sum(r.get("ok", 0) for r in results.values())})

    def _loads(self, loads):
        sat = {}
        for scenario in loads:
            protos = self.tls_protocols if scenario in TLS_SCENARIOS else self.protocols
            with step(f"{scenario}: saturation x{self.plan.repeats}, {protos}"):
                for _ in range(self.plan.repeats):
                    for twin in self._round(f"{scenario} saturation"):
                        results, hwm, _ = self._block(twin, scenario, None)
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
            rates = {p: self.rates[(scenario, p)]
                     for p in self.protocols + self.tls_protocols if (scenario, p) in self.rates}
            with step(f"{scenario}: fixed rate {_fmt_rates(rates)} x{self.plan.repeats}"):
                for _ in range(self.plan.repeats):
                    for twin in self._round(f"{scenario} fixed rate"):
                        results, _, _ = self._block(twin, scenario, rates)
                        _report_block(twin, scenario, results)
                        for proto, res in results.items():
                            res["rate"] = rates[proto]
                            self.raw["fixed"].setdefault(scenario, {}).setdefault(
                                proto, {}).setdefault(twin, []).append(res)

    def _handshakes(self):
        """New TLS connections: saturation, then half the slower twin's rate."""
        h2load = secure.H2load(self.tools["h2load"], LOAD_CORE, self.tools["taskset"])
        raw = self.raw.setdefault("handshake", {"saturation": {}, "fixed": {}})
        with step(f"new TLS connections: saturation x{self.plan.repeats}"):
            for _ in range(self.plan.repeats):
                for twin in self._round("handshake saturation"):
                    res = self._handshake_block(h2load, twin, None)
                    if res:
                        raw["saturation"].setdefault(twin, []).append(res)
        sat = {("handshake", "h1s"): {t: [r["ok_rps"] for r in rs]
                                      for t, rs in raw["saturation"].items()}}
        rate = scenarios.half_of_slower(sat).get(("handshake", "h1s"))
        if not rate:
            return
        with step(f"new TLS connections: {rate:.0f}/s x{self.plan.repeats}"):
            for _ in range(self.plan.repeats):
                for twin in self._round("handshake fixed rate"):
                    res = self._handshake_block(h2load, twin, rate)
                    if res:
                        raw["fixed"].setdefault(twin, []).append(res)

    def _handshake_block(self, h2load, twin, rate):
        """One fresh service; a warm-up burst, then the measured load. A
        disturbed block is run once more, as _block does."""
        path = f"/v1/products/{self.product_id[base_twin(twin)]}"
        for attempt in (1, 2):
            svc = self._service(twin, scenario="handshake")
            try:
                svc.start()
                secure.measure(h2load, svc, path, self.plan.warmup_s)
                res = secure.measure(h2load, svc, path, self.plan.load_s, rate)
            except LoadError as e:
                warn(f"{twin} handshake: load failed, run dropped: {e}")
                return None
            finally:
                svc.stop()
            say(f"  {twin:8} handshake: {res['ok_rps']:,.0f} conn/s, {res['failed']} failed, "
                f"{(res['cpu_s_per_1k'] or 0) * 1000:.0f} µs CPU/conn")
            why = _disturbed({"h1s": res})
            if not why:
                return res
            if attempt == 2 or len(self.raw["repeated_blocks"]) >= MAX_REPEATS:
                res["disturbed"] = why
                warn(f"{twin} handshake: disturbed ({why}), kept")
                return res
            self.raw["repeated_blocks"].append({"twin": twin, "scenario": "handshake",
                                                "kind": "fixed" if rate else "saturation",
                                                "why": why, "first": {"h1s": res}})
        return None

    def _ballast(self):
        rate = getattr(self, "rates", {}).get(("get_one", "h1"))
        if rate is None:
            with step("GET one saturation, to set the ballast run's rate"):
                rate = self._ballast_rate()
        mb = self.plan.ballast_mb
        with step(f"GET one at {rate:.0f} req/s with {mb} MB of live heap "
                  f"x{self.plan.repeats} (Go also GC-tuned)"):
            for _ in range(self.plan.repeats):
                for twin in self._round("ballast", WITH_TUNED):
                    res, hwm, rss = self._block(twin, "get_one", {"h1": rate}, ballast_mb=mb)
                    if "h1" not in res:
                        continue
                    entry = dict(res["h1"], rate=rate, rss_at_start_kb=rss, peak_rss_kb=hwm,
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
        for twin in self._round("ballast rate"):
            results, _, _ = self._block(twin, "get_one", None)
            if "h1" in results:
                sat.setdefault(("get_one", "h1"), {})[twin] = [results["h1"]["ok_rps"]]
        return scenarios.half_of_slower(sat).get(("get_one", "h1"), 100.0)


def _kind(rates, ballast_mb):
    return "ballast" if ballast_mb else ("fixed" if rates else "saturation")


def _mark(results, why):
    """Kept figures that were disturbed: the report flags their cells."""
    for res in results.values():
        res["disturbed"] = why


def _disturbed(results):
    """Why a block's figures are not worth keeping, or None."""
    foreign = max((r.get("foreign_cpu_share", 0.0) for r in results.values()), default=0.0)
    steal = max((r.get("steal_share", 0.0) for r in results.values()), default=0.0)
    why = []
    if foreign > DISTURBED_FOREIGN:
        why.append(f"other processes took {foreign:.0%} of the service core")
    if steal > DISTURBED_STEAL:
        why.append(f"steal {steal:.0%}")
    return ", ".join(why) or None


def _report_block(twin, scenario, results):
    for proto, r in results.items():
        say(f"  {twin:8} {scenario} {proto}: {r['ok_rps']:,.0f} ok/s, "
            f"p99 {r['p99_ms'] or 0:.2f} ms, "
            f"{r['cpu_s_per_1k'] * 1000 if r['cpu_s_per_1k'] else 0:.1f} µs CPU/req")


def _fmt_rates(rates):
    return ", ".join(f"{p}={r:.0f}/s" for p, r in rates.items())


def _short(file_output):
    """`file` output without build ids and interpreter path."""
    keep = [p.strip() for p in file_output.split(",")
            if not p.strip().startswith(("BuildID", "Go BuildID", "interpreter", "version 1"))]
    return ", ".join(keep)
