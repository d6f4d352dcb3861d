"""The proxy section: overkill's proxy routes, the Go twin's, and real peers
(nginx with one worker, HAProxy with one thread, Caddy's reverse_proxy) in
front of the same upstream, each alone on the service core.

The upstream is nginx on the load generator's core, answering GET /small
(100 B) and GET /big (64 KiB) from memory and a file, with keep-alive. Each
proxy routes `/p/` to it, stripping the prefix, with keep-alive connections
to the upstream, configured as its users would. Rows per size: 2xx/s at
saturation (64 connections, HTTP/1.1), proxy CPU per request, p50/p99/p99.9
at a fixed rate (half the slowest proxy's saturation), peak RSS.
"""
import os
import shutil
import statistics
import subprocess
import time

from .config import LOAD_CORE, SERVICE_CORE
from .load import LoadError
from .progress import say, step, warn
from .tools import ToolMissing, _apt_install
from .util import free_port, proc_cpu_seconds, proc_status_kb

SIZES = {"small": 100, "big": 64 * 1024}
PROXIES = ("overkill", "go124", "nginx", "haproxy", "caddy")
LABELS = {"overkill": "overkill (Rust)", "go124": "Go twin (Go 1.24)", "nginx": "nginx 1 worker",
          "haproxy": "HAProxy 1 thread", "caddy": "Caddy"}


def ensure_peers():
    """nginx, HAProxy and Caddy from Debian's packages, without starting them."""
    paths = {}
    for binary, package in (("nginx", "nginx-light"), ("haproxy", "haproxy"), ("caddy", "caddy")):
        found = shutil.which(binary) or next((p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}")
                                              if os.path.exists(p)), None)
        if not found:
            policy = "/usr/sbin/policy-rc.d"
            created = not os.path.exists(policy)
            if created:  # no daemon may start while the package installs
                with open(policy, "w") as f:
                    f.write("#!/bin/sh\nexit 101\n")
                os.chmod(policy, 0o755)
            try:
                _apt_install(package)
            finally:
                if created:
                    os.remove(policy)
            found = shutil.which(binary) or f"/usr/sbin/{binary}"
        if not os.path.exists(found):
            raise ToolMissing(f"{binary} not found after installing {package}")
        paths[binary] = found
    return paths


class Tree:
    """A running process and its children, measured together (nginx's master
    and worker), pinned to one core, stopped on exit."""

    def __init__(self, name, cmd, cpu, taskset, log_path, env=None, port=None):
        self.name, self.cpu, self.port = name, cpu, port
        log = open(log_path, "a")
        self.proc = subprocess.Popen([taskset, "-c", cpu, *cmd], stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     env=env or dict(os.environ))
        log.close()
        self.pid = self.proc.pid

    def pids(self):
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            for task in _listdir(f"/proc/{pid}/task"):
                try:
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        todo += [int(c) for c in f.read().split()]
                except OSError:
                    pass
        return found

    def cpu_seconds(self):
        return sum(proc_cpu_seconds(pid) or 0.0 for pid in self.pids())

    def hwm_kb(self):
        return sum(proc_status_kb(pid, "VmHWM") or 0 for pid in self.pids())

    def rss_kb(self):
        return sum(proc_status_kb(pid, "VmRSS") or 0 for pid in self.pids())

    def wait_listening(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
            if _answers(self.port):
                return
            time.sleep(0.01)
        raise RuntimeError(f"{self.name} does not answer on {self.port}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def _answers(port):
    import socket
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"GET /p/small HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return s.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _nginx_conf(root, listen, body):
    temps = "".join(f" {k}_temp_path {root}/{k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"daemon off;\nworker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n"
            f"events {{ worker_connections 4096; }}\nhttp {{\n access_log off;\n{temps}"
            f" keepalive_requests 1000000;\n{body}\n}}\n")


class Section:
    def __init__(self, arena):
        self.arena, self.tmp = arena, arena.tmp
        self.taskset = arena.tools["taskset"]
        self.peers = ensure_peers()
        self.upstream = None

    # ---- the upstream --------------------------------------------------------
    def start_upstream(self):
        root = os.path.join(self.tmp, "proxy-upstream")
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, "big"), "wb") as f:
            f.write(b"b" * SIZES["big"])
        port = free_port()
        small = "s" * SIZES["small"]
        body = (f" server {{\n  listen 127.0.0.1:{port} backlog=4096;\n"
                f"  location = /small {{ default_type text/plain; return 200 \"{small}\"; }}\n"
                f"  location = /big {{ default_type application/octet-stream; root {root}; }}\n }}")
        conf = os.path.join(root, "nginx.conf")
        with open(conf, "w") as f:
            f.write(_nginx_conf(root, port, body))
        self.upstream_port = port
        self.upstream = Tree("upstream", [self.peers["nginx"], "-p", root, "-c", conf], LOAD_CORE,
                             self.taskset, os.path.join(self.tmp, "proxy-upstream.log"))
        deadline = time.monotonic() + 10
        import socket
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("the upstream nginx did not listen")

    # ---- the proxies ------------------------------------------------------------
    def start(self, name):
        port = free_port()
        up = f"127.0.0.1:{self.upstream_port}"
        root = os.path.join(self.tmp, f"proxy-{name}")
        os.makedirs(root, exist_ok=True)
        log = os.path.join(self.tmp, f"proxy-{name}.log")
        if name in ("overkill", "go124"):
            conf = os.path.join(root, "overkill.toml")
            with open(conf, "w") as f:
                f.write(f"[[proxy.routes]]\nprefix = \"/p/\"\nupstreams = [\"{up}\"]\nstrip_prefix = true\n")
            env = dict(os.environ, OVERKILL_CONFIG=conf, OVERKILL_LISTEN=f"127.0.0.1:{port}",
                       OVERKILL_ADMIN_LISTEN=f"127.0.0.1:{free_port()}", OVERKILL_LOG_LEVEL="warn",
                       OVERKILL_DRAIN_GRACE_MS="0", OVERKILL_FX_URL="off")
            if name == "overkill":
                env["DATABASE_URL"] = f"sqlite://{root}/proxy.db"
                binary = self.arena.bins["rust"]
            else:
                env["DATABASE_URL"] = self.arena.pg.dsn("arena_go124")
                binary = self.arena.bins["go124"]
            for key in ("GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS"):
                env.pop(key, None)
            tree = Tree(name, [binary, "serve"], SERVICE_CORE, self.taskset, log, env=env, port=port)
        elif name == "nginx":
            body = (f" upstream u {{ server {up}; keepalive 64; }}\n"
                    f" server {{\n  listen 127.0.0.1:{port} backlog=4096;\n"
                    f"  location /p/ {{ proxy_pass http://u/; proxy_http_version 1.1;"
                    f" proxy_set_header Connection \"\"; proxy_buffering on; }}\n }}")
            conf = os.path.join(root, "nginx.conf")
            with open(conf, "w") as f:
                f.write(_nginx_conf(root, port, body))
            tree = Tree(name, [self.peers["nginx"], "-p", root, "-c", conf], SERVICE_CORE, self.taskset,
                        log, port=port)
        elif name == "haproxy":
            conf = os.path.join(root, "haproxy.cfg")
            with open(conf, "w") as f:
                f.write("global\n nbthread 1\n maxconn 4096\n\n"
                        "defaults\n mode http\n option http-keep-alive\n timeout connect 5s\n"
                        " timeout client 30s\n timeout server 30s\n http-reuse always\n\n"
                        f"frontend f\n bind 127.0.0.1:{port}\n default_backend b\n\n"
                        "backend b\n http-request replace-path /p(/.*) \\1\n"
                        f" server s1 {up}\n")
            tree = Tree(name, [self.peers["haproxy"], "-f", conf, "-db"], SERVICE_CORE, self.taskset,
                        log, port=port)
        elif name == "caddy":
            conf = os.path.join(root, "Caddyfile")
            with open(conf, "w") as f:
                f.write("{\n admin off\n auto_https off\n}\n"
                        f"http://127.0.0.1:{port} {{\n handle_path /p/* {{\n  reverse_proxy {up}\n }}\n}}\n")
            env = dict(os.environ, HOME=root, XDG_DATA_HOME=root, XDG_CONFIG_HOME=root)
            for key in ("GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS"):
                env.pop(key, None)
            tree = Tree(name, [self.peers["caddy"], "run", "--config", conf, "--adapter", "caddyfile"],
                        SERVICE_CORE, self.taskset, log, env=env, port=port)
        else:
            raise ValueError(name)
        tree.wait_listening()
        return tree

    # ---- measuring ----------------------------------------------------------------
    def load(self, tree, size, seconds, rate=None):
        oha = self.arena.oha
        url = f"http://127.0.0.1:{tree.port}/p/{size}"
        oha.run(url, 1)  # warm-up
        cpu0 = tree.cpu_seconds()
        result = oha.run(url, seconds, rate=rate)
        cpu1 = tree.cpu_seconds()
        result["cpu_us_per_request"] = ((cpu1 - cpu0) / result["responses"] * 1e6) if result["responses"] else None
        return result

    def run(self, plan, order):
        raw = {"sizes": SIZES, "saturation": {}, "fixed": {}, "peak_rss_kb": {}, "versions": {}}
        raw["versions"] = {name: _version(path) for name, path in self.peers.items()}
        self.start_upstream()
        try:
            for size in SIZES:
                with step(f"proxy {size}: saturation x{plan.repeats}"):
                    for repeat in range(plan.repeats):
                        for name in order(list(PROXIES), repeat):
                            self._block(raw, "saturation", size, name, plan, None)
                medians = [statistics.median(r["ok_rps"] for r in runs)
                           for runs in raw["saturation"].get(size, {}).values() if runs]
                rate = max(1.0, min(medians) / 2) if medians else None
                if rate is None:
                    continue
                with step(f"proxy {size}: fixed rate {rate:.0f}/s x{plan.repeats}"):
                    for repeat in range(plan.repeats):
                        for name in order(list(PROXIES), repeat):
                            self._block(raw, "fixed", size, name, plan, rate)
        finally:
            self.upstream.stop()
        return raw

    def _block(self, raw, kind, size, name, plan, rate):
        try:
            tree = self.start(name)
        except (RuntimeError, OSError) as e:
            warn(f"proxy {name}: did not start: {e}")
            return
        try:
            res = self.load(tree, size, plan.load_s, rate)
            res["rate"] = rate
            raw[kind].setdefault(size, {}).setdefault(name, []).append(res)
            if kind == "saturation":
                raw["peak_rss_kb"].setdefault(size, {}).setdefault(name, []).append(tree.hwm_kb())
            say(f"  {name:9} {size:5} {kind}: {res['ok_rps']:,.0f} ok/s, p99 {res['p99_ms']:.2f} ms, "
                f"{res['cpu_us_per_request'] or 0:.1f} µs CPU/req")
        except LoadError as e:
            warn(f"proxy {name} {size}: load failed: {e}")
        finally:
            tree.stop()


def _version(path):
    for flag in ("-v", "version", "-vv"):
        try:
            r = subprocess.run([path, flag], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        out = (r.stdout or r.stderr).strip().splitlines()
        if out and r.returncode == 0:
            return out[0]
    return None


def markdown(raw):
    """The proxy section of the report: one table per response size."""
    if not raw or not raw.get("saturation"):
        return []
    med = lambda values: statistics.median(values) if values else None  # noqa: E731
    parts = ["\n## Proxy section\n\n",
             "Each proxy alone on the service core, in front of the same nginx upstream (on the load "
             "generator's core), keep-alive to it, 64 connections over HTTP/1.1. Medians over the "
             "repeats; CPU per request is the proxy's own (all its processes).\n\n"]
    for size, nbytes in SIZES.items():
        sat, fixed = raw["saturation"].get(size, {}), raw["fixed"].get(size, {})
        if not sat:
            continue
        rate = next((r["rate"] for runs in fixed.values() for r in runs if r.get("rate")), None)
        parts.append(f"### {nbytes:,} B responses\n\n| proxy | 2xx/s at saturation | CPU µs/req at saturation "
                     f"| CPU µs/req at {rate or 0:.0f}/s | p50 ms | p99 ms | p99.9 ms | peak RSS MiB |\n"
                     "|---|---:|---:|---:|---:|---:|---:|---:|\n")
        for name in PROXIES:
            s, f = sat.get(name, []), fixed.get(name, [])
            rss = raw["peak_rss_kb"].get(size, {}).get(name, [])

            def cell(values, fmt):
                v = med([x for x in values if x is not None])
                return "—" if v is None else fmt.format(v)
            parts.append(
                f"| {LABELS[name]} | {cell([r['ok_rps'] for r in s], '{:,.0f}')} "
                f"| {cell([r['cpu_us_per_request'] for r in s], '{:.1f}')} "
                f"| {cell([r['cpu_us_per_request'] for r in f], '{:.1f}')} "
                f"| {cell([r['p50_ms'] for r in f], '{:.3f}')} | {cell([r['p99_ms'] for r in f], '{:.2f}')} "
                f"| {cell([r['p99_9_ms'] for r in f], '{:.2f}')} | {cell([k / 1024 for k in rss], '{:.1f}')} |\n")
        parts.append("\n")
    versions = raw.get("versions") or {}
    if versions:
        parts.append("Peers: " + "; ".join(f"{k}: {v}" for k, v in versions.items() if v) + ".\n")
    return parts
