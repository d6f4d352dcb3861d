"""A throwaway PostgreSQL cluster, pinned to the load generator's core.

PostgreSQL refuses to run as root, so the cluster belongs to the `postgres`
user. fsync is off: the arena measures the services, not the disk.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from .progress import say
from .util import free_port

PG_USER = "postgres"


class PostgresError(RuntimeError):
    pass


class Postgres:
    def __init__(self, bindir, cpu, taskset):
        self.bindir = bindir
        self.cpu = cpu
        self.taskset = taskset
        self.port = free_port()
        self.dir = None
        self.proc = None

    def _bin(self, name):
        return os.path.join(self.bindir, name)

    def _as_pg(self, *cmd):
        return ["runuser", "-u", PG_USER, "--", *cmd]

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="arena-pg-")
        shutil.chown(self.dir, user=PG_USER)
        data = os.path.join(self.dir, "data")
        r = subprocess.run(self._as_pg(self._bin("initdb"), "-D", data, "-A", "trust",
                                       "-U", PG_USER, "-E", "UTF8", "--no-sync"),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise PostgresError(f"initdb failed:\n{r.stdout[-1500:]}\n{r.stderr[-1500:]}")
        self.log = open(os.path.join(self.dir, "postgres.log"), "w")
        shutil.chown(self.log.name, user=PG_USER)
        cmd = [self.taskset, "-c", self.cpu, *self._as_pg(
            self._bin("postgres"), "-D", data, "-k", self.dir, "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
            "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=200", "-c", "shared_buffers=256MB")]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_ready()
        say(f"PostgreSQL on 127.0.0.1:{self.port} (core {self.cpu}, fsync=off)")

    def _wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PostgresError("postgres exited at start:\n" + self.tail_log())
            r = subprocess.run([self._bin("pg_isready"), "-h", "127.0.0.1",
                                "-p", str(self.port), "-U", PG_USER], capture_output=True)
            if r.returncode == 0:
                return
            time.sleep(0.2)
        raise PostgresError("postgres did not become ready:\n" + self.tail_log())

    def tail_log(self, n=20):
        try:
            with open(os.path.join(self.dir, "postgres.log")) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def psql(self, sql, db="postgres"):
        r = subprocess.run([self._bin("psql"), "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", PG_USER, "-d", db, "-v", "ON_ERROR_STOP=1", "-qAt",
                            "-c", sql], capture_output=True, text=True)
        if r.returncode != 0:
            raise PostgresError(f"psql {sql!r} failed: {r.stderr.strip()}")
        return r.stdout.strip()

    def recreate_db(self, name):
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.psql(f'CREATE DATABASE "{name}"')

    def dsn(self, name):
        return f"postgres://{PG_USER}@127.0.0.1:{self.port}/{name}"

    def _postmaster_pid(self):
        try:
            with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            return None

    def version(self):
        return self.psql("SHOW server_version")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            # SIGINT is PostgreSQL's "fast shutdown"; runuser sits between us and
            # the postmaster, so signal the postmaster by the pid it wrote.
            pid = self._postmaster_pid()
            if pid:
                os.kill(pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
