"""The Frankfurter simulator (crates/fx-sim) the FX scenarios convert through.

It runs on the load generator's core, like PostgreSQL: the services' core
measures the services alone. Both twins talk to the same simulator, with
the same settings; `calls()` reads its counter, so a block can report how
many lookups reached the provider.
"""
import json
import os
import subprocess
import time

from .util import http_request

# Both twins: a quota no run reaches (the scenarios measure conversion, not
# refusals), and the simulator's own latency on every call it answers.
FX_ENV = {"OVERKILL_FX_QUOTA_PER_SECOND": "100000", "OVERKILL_FX_QUOTA_BURST": "100000"}
# Per scenario, on top: the hit path keeps rates an hour; on the miss path
# every lookup asks the provider (concurrent lookups still share a call, in
# both twins: that is the feature).
SCENARIO_ENV = {
    "fx_hit": {},
    "fx_miss": {"OVERKILL_FX_CACHE_TTL_SECS": "0", "OVERKILL_FX_STALE_LIMIT_SECS": "0"},
}
LATENCY_MS = 1


class FxSim:
    def __init__(self, binary, cpu, taskset, log_dir):
        self.binary, self.cpu, self.taskset = binary, cpu, taskset
        self.log_path = os.path.join(log_dir, "fx-sim.log")
        self.proc = None
        self.port = None

    def start(self, timeout=10):
        log = open(self.log_path, "w")
        cmd = [self.taskset, "-c", self.cpu, self.binary, "--listen", "127.0.0.1:0",
               "--latency-ms", str(LATENCY_MS)]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fx-sim exited with {self.proc.returncode}: "
                                   f"{open(self.log_path).read()[-2000:]}")
            for line in open(self.log_path):
                if '"listening"' in line:
                    self.port = int(json.loads(line)["listen"].rsplit(":", 1)[1])
                    return
            time.sleep(0.01)  # polling its log for readiness, bounded above
        self.stop()
        raise RuntimeError(f"fx-sim did not listen within {timeout} s")

    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def calls(self):
        status, doc = http_request(self.port, "GET", "/_stats")
        return doc["calls"] if status == 200 and doc else None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
