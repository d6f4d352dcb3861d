"""The load generator (oha), pinned to its own core, with JSON output parsed.

POST bodies: oha cannot number its requests, but `-Z FILE` sends a random line
of FILE per request. A large file of distinct SKUs makes duplicates rare; the
few that happen get a 409 and are reported (`conflict_share`), the same way for
both twins.
"""
import json
import os
import subprocess

from .util import core_times, proc_cpu_seconds

H1_CONNECTIONS = 64
H2_CONNECTIONS, H2_STREAMS = 4, 16  # 64 requests in flight, as over HTTP/1.1


class LoadError(RuntimeError):
    pass


class Oha:
    """h3_path: an oha built with its http3 feature, for HTTP/3 loads (the
    other protocols use path, so that every TCP row uses the same build)."""

    def __init__(self, path, cpu, taskset, tmp_dir, h3_path=None):
        self.path = path
        self.h3_path = h3_path
        self.cpu = cpu
        self.taskset = taskset
        self.tmp_dir = tmp_dir
        help_text = subprocess.run([path, "--help"], capture_output=True, text=True).stdout
        self.json_flags = (["--output-format", "json"] if "--output-format" in help_text
                           else ["-j"])
        self.has_body_lines = "-Z" in help_text

    def version(self):
        r = subprocess.run([self.path, "--version"], capture_output=True, text=True)
        return r.stdout.strip()

    def run(self, url, seconds, http2=False, rate=None, method="GET", body_file=None,
            http3=False):
        binary = self.h3_path if http3 else self.path
        if not binary:
            raise LoadError("no oha with HTTP/3 (cargo install oha --features http3)")
        cmd = [self.taskset, "-c", self.cpu, binary, "--no-tui", *self.json_flags,
               "-z", f"{seconds}s", "-m", method, "--disable-compression"]
        if url.startswith("https:"):
            cmd.append("--insecure")  # the arena's self-signed pair
        if http3:
            # As over HTTP/2: 4 connections x 16 streams.
            cmd += ["--http-version", "3", "-c", str(H2_CONNECTIONS), "-p", str(H2_STREAMS)]
        elif http2:
            cmd += ["--http2", "-c", str(H2_CONNECTIONS), "-p", str(H2_STREAMS)]
        else:
            cmd += ["-c", str(H1_CONNECTIONS)]
        if rate:
            cmd += ["-q", f"{rate:.0f}", "--latency-correction"]
        if body_file:
            cmd += ["-Z", body_file, "-T", "application/json"]
        cmd.append(url)
        # Bounded twice: oha stops itself after -z, and we kill it well after that.
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
        if r.returncode != 0:
            raise LoadError(f"oha failed ({r.returncode}): {r.stderr[-1500:]}")
        res = parse(json.loads(r.stdout))
        if http3 and res["duration_s"] > seconds:
            # oha's total includes its wait for the server to close the
            # connection after the load (the idle timeout, see service.py);
            # the load itself lasted `seconds`.
            res["duration_s"] = float(seconds)
            res["ok_rps"] = res["ok"] / res["duration_s"]
        return res


def parse(doc):
    """The figures the arena uses from one oha JSON result."""
    codes = {k: int(v) for k, v in (doc.get("statusCodeDistribution") or {}).items()}
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    total = sum(codes.values())
    duration = doc["summary"]["total"]
    pct = doc.get("latencyPercentiles") or {}

    def ms(key):
        v = pct.get(key)
        return None if v is None else v * 1000.0

    return {
        "duration_s": duration,
        "responses": total,
        "ok": ok,
        "ok_rps": ok / duration if duration else 0.0,
        "status_codes": codes,
        "errors": doc.get("errorDistribution") or {},
        "conflict_share": (codes.get("409", 0) / total) if total else 0.0,
        "p50_ms": ms("p50"), "p99_ms": ms("p99"), "p99_9_ms": ms("p99.9"),
    }


def measured_load(oha, service, url, seconds, **kw):
    """Runs one load; adds the service's CPU seconds per 1000 responses (= µs per
    request), and what disturbed the service's core meanwhile: the CPU time other
    processes took from it and the time the hypervisor stole from it."""
    (busy0, steal0), cpu0 = core_times(service.cpu), proc_cpu_seconds(service.pid)
    result = oha.run(url, seconds, **kw)
    (busy1, steal1), cpu1 = core_times(service.cpu), proc_cpu_seconds(service.pid)
    result["service_cpu_s"] = cpu1 - cpu0
    result["foreign_cpu_share"] = max(0.0, (busy1 - busy0) - (cpu1 - cpu0)) / seconds
    result["steal_share"] = max(0.0, steal1 - steal0) / seconds
    result["rss_after_kb"] = service.rss_kb()
    result["cpu_s_per_1k"] = ((cpu1 - cpu0) / result["responses"] * 1000.0
                              if result["responses"] else None)
    return result


def write_bodies(path, count, tag):
    """`count` create-product bodies with distinct SKUs, one JSON object per line."""
    if os.path.exists(path):
        return path
    with open(path + ".part", "w") as f:
        for i in range(count):
            f.write('{"sku":"ld-%s-%d","name":"Load item %d","description":null,'
                    '"price_minor":%d,"currency":"EUR","stock":%d}\n'
                    % (tag, i, i, 100 + i % 100000, i % 50))
    os.replace(path + ".part", path)
    return path
