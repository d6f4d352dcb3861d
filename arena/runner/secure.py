"""TLS for the arena: the certificate pair, and the cost of new TLS connections.

The pair: one self-signed ECDSA P-256 certificate for 127.0.0.1 and localhost
(what `overkill dev-cert` writes), made with openssl, the same for every twin.

New connections (`handshake`): h2load (Debian's nghttp2-client) opens each
connection from a fresh client, so every handshake is a full one (h2load
resumes a session only when one client reconnects; oha's rustls client
resumes, which would measure resumption), negotiates HTTP/1.1 by ALPN and
sends one GET of a product on it. At saturation: bursts of BURST clients at
once (one connection and one request each) until the load time is up; at a
fixed rate: `h2load -r N --rate-period Pms` opens N connections every P ms. The figure
is the service's CPU per connection: a full TLS 1.3 handshake (X25519,
ECDSA P-256), one GET one product over HTTP/1.1, and the close.
"""
import os
import re
import subprocess
import time

from .load import LoadError
from .util import core_times, proc_cpu_seconds

BURST = 256  # clients per h2load run at saturation


def make_pair(openssl, tmp):
    """(cert, key) paths of a fresh 30-day pair under tmp."""
    d = os.path.join(tmp, "tls")
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    r = subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "30", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise LoadError(f"openssl could not make the arena's pair: {r.stderr[-800:]}")
    return cert, key


class H2load:
    def __init__(self, path, cpu, taskset):
        self.path, self.cpu, self.taskset = path, cpu, taskset

    def version(self):
        r = subprocess.run([self.path, "--version"], capture_output=True, text=True)
        return r.stdout.strip()

    def _run(self, args, timeout):
        cmd = [self.taskset, "-c", self.cpu, self.path, "--h1", *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise LoadError(f"h2load failed ({r.returncode}): {r.stderr[-800:]}")
        return parse(r.stdout)

    def burst(self, url, clients):
        """clients new connections at once, one request each."""
        return self._run(["-c", str(clients), "-n", str(clients), url], timeout=120)

    def at_rate(self, url, rate, seconds):
        """About rate new connections per second for seconds, one request
        each, started a few every few ms: h2load's default period (1 s)
        starts a whole second's connections at once, a burst that queues
        (and, past max_concurrent_requests, sheds) rather than a rate."""
        per, period_ms = rate_steps(rate)
        n = max(1, int(per * 1000 / period_ms * seconds))
        res = self._run(["-r", str(per), "--rate-period", f"{period_ms}ms",
                         "-c", str(n), "-n", str(n), url], timeout=seconds + 60)
        res["rate"] = per * 1000 / period_ms
        return res


def rate_steps(rate):
    """(connections per period, period in ms) for about rate per second: the
    shortest period from 5 ms whose rate is within 2 %, else the closest."""
    best = None
    for period_ms in range(5, 1001):
        per = max(1, round(rate * period_ms / 1000))
        err = abs(per * 1000 / period_ms - rate) / rate
        if err <= 0.02:
            return per, period_ms
        if best is None or err < best[0]:
            best = (err, per, period_ms)
    return best[1], best[2]


_FINISHED = re.compile(r"finished in ([\d.]+)(us|ms|s),")
_REQUESTS = re.compile(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                       r"(\d+) failed, (\d+) errored, (\d+) timeout")
_CODES = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
_TIMING = re.compile(r"^time (?:for|to) (connect|1st byte|request):?\s+([\d.]+)(us|ms|s)\s+"
                     r"([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)", re.M)
_TO_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse(text):
    m = _FINISHED.search(text)
    req = _REQUESTS.search(text)
    codes = _CODES.search(text)
    if not (m and req and codes):
        raise LoadError(f"unexpected h2load output: {text[-800:]}")
    out = {"duration_s": float(m.group(1)) * _TO_S[m.group(2)],
           "connections": int(req.group(1)), "succeeded": int(req.group(4)),
           "failed": int(req.group(5)) + int(req.group(6)) + int(req.group(7)),
           "ok": int(codes.group(1))}
    for t in _TIMING.finditer(text):
        key = {"connect": "connect", "1st byte": "ttfb", "request": "request"}[t.group(1)]
        out[f"{key}_mean_ms"] = float(t.group(6)) * _TO_S[t.group(7)] * 1000
        out[f"{key}_max_ms"] = float(t.group(4)) * _TO_S[t.group(5)] * 1000
    return out


def measure(h2load, service, path, seconds, rate=None):
    """One load of new connections, each with one GET path; the service's CPU
    per connection (cpu_s_per_1k: ms per 1000 = µs per connection) and what
    disturbed its core meanwhile."""
    url = f"https://127.0.0.1:{service.tls_port}{path}"
    (busy0, steal0), cpu0, t0 = core_times(service.cpu), proc_cpu_seconds(service.pid), \
        time.monotonic()
    if rate:
        runs = [h2load.at_rate(url, rate, seconds)]
    else:
        runs = []
        while time.monotonic() - t0 < seconds:
            runs.append(h2load.burst(url, BURST))
    (busy1, steal1), cpu1 = core_times(service.cpu), proc_cpu_seconds(service.pid)
    wall = time.monotonic() - t0
    ok = sum(r["ok"] for r in runs)
    in_h2load = sum(r["duration_s"] for r in runs)
    res = {"connections": sum(r["connections"] for r in runs), "ok": ok,
           "failed": sum(r["failed"] for r in runs), "runs": len(runs),
           "ok_rps": ok / in_h2load if in_h2load else 0.0,
           "service_cpu_s": cpu1 - cpu0,
           "cpu_s_per_1k": (cpu1 - cpu0) / ok * 1000.0 if ok else None,
           "foreign_cpu_share": max(0.0, (busy1 - busy0) - (cpu1 - cpu0)) / wall,
           "steal_share": max(0.0, steal1 - steal0) / wall,
           "rss_after_kb": service.rss_kb()}
    if rate:
        res["rate"] = runs[0]["rate"]  # what h2load was asked for, rounded
        for k in ("connect_mean_ms", "connect_max_ms", "ttfb_mean_ms", "ttfb_max_ms"):
            res[k] = runs[0].get(k)
    return res
