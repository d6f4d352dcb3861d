"""Starts a twin pinned to its core, waits for readiness, samples it, stops it."""
import os
import signal
import subprocess
import threading
import time

from .util import free_port, http_request, proc_cpu_seconds, proc_status_kb, tail


class ServiceError(RuntimeError):
    pass


class Service:
    """One running twin. Every twin gets the same environment and the same core;
    extra_env (the GC-tuned Go variant's GOGC/GOMEMLIMIT) is added on top."""

    def __init__(self, name, binary, dsn, cpu, taskset, log_dir, ballast_mb=0,
                 extra_env=None, tls=None):
        """tls: (cert, key) PEM paths: TLS (TCP) and HTTP/3 (UDP) on tls_port
        beside the cleartext port (docs/design/tls.md, both listeners)."""
        self.name = name
        self.binary = binary
        self.cpu = cpu
        self.taskset = taskset
        self.port = free_port()
        self.admin_port = free_port()
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.env = dict(os.environ,
                        OVERKILL_LISTEN=f"127.0.0.1:{self.port}",
                        OVERKILL_ADMIN_LISTEN=f"127.0.0.1:{self.admin_port}",
                        DATABASE_URL=dsn,
                        OVERKILL_DB_POOL_SIZE="16",
                        OVERKILL_LOG_LEVEL="warn",
                        # No load balancer watches readiness here: stop at once.
                        OVERKILL_DRAIN_GRACE_MS="0",
                        OVERKILL_BALLAST_MB=str(ballast_mb))
        # An inherited GOGC/GOMEMLIMIT would tune the Go twins behind the report's back.
        for key in ("GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS"):
            self.env.pop(key, None)
        self.env.update(extra_env or {})
        self.tls_port = None
        if tls:
            self.tls_port = free_port(udp_too=True)
            # Idle 1 s: oha's HTTP/3 client ends a load with GOAWAY and then
            # waits for the server to close the connection, i.e. for the
            # QUIC idle timeout (60 s by default). Under load no connection
            # is idle, so the setting changes nothing else.
            self.env.update(OVERKILL_TLS_CERT=tls[0], OVERKILL_TLS_KEY=tls[1],
                            OVERKILL_TLS_LISTEN=f"127.0.0.1:{self.tls_port}",
                            OVERKILL_IDLE_TIMEOUT_MS="1000")
        self.proc = None
        self.ready_after = None

    @property
    def pid(self):
        return self.proc.pid

    def start(self, timeout=60):
        """Starts and waits for the first 200 on /readyz; returns exec→ready seconds."""
        log = open(self.log_path, "a")
        # taskset execs the binary, so proc.pid is the service itself
        cmd = [self.taskset, "-c", self.cpu, self.binary, "serve"]
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = t0 + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise ServiceError(f"{self.name} exited with {self.proc.returncode} "
                                   f"before it was ready; last log lines:\n{tail(self.log_path)}")
            if self._ready():
                self.ready_after = time.perf_counter() - t0
                return self.ready_after
            time.sleep(0.001)
        self.stop()
        raise ServiceError(f"{self.name} not ready after {timeout}s; last log lines:\n"
                           f"{tail(self.log_path)}")

    def _ready(self):
        try:
            status, _ = http_request(self.admin_port, "GET", "/readyz", timeout=1.0)
            return status == 200
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def rss_kb(self):
        return proc_status_kb(self.pid, "VmRSS")

    def hwm_kb(self):
        return proc_status_kb(self.pid, "VmHWM")

    def cpu_seconds(self):
        return proc_cpu_seconds(self.pid)

    def stop(self):
        if not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def last_log(self, n=30):
        return tail(self.log_path, n)


class RssSampler:
    """Samples VmRSS every ~50 ms: peak under load without restarting the service."""

    def __init__(self, service, interval=0.05):
        self.service = service
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            kb = self.service.rss_kb()
            if kb:
                self.peak_kb = max(self.peak_kb, kb)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
