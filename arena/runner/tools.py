"""Finds the external tools the arena needs and installs the missing ones."""
import glob
import os
import shutil
import subprocess

from .progress import say, step

CARGO_BIN = os.path.expanduser("~/.cargo/bin")


class ToolMissing(RuntimeError):
    pass


def _apt_install(*packages):
    with step(f"apt-get install {' '.join(packages)}"):
        subprocess.run(["apt-get", "update", "-qq"], check=False,
                       stdout=subprocess.DEVNULL)
        r = subprocess.run(["apt-get", "install", "-y", "-qq", *packages],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise ToolMissing(f"apt-get install {packages} failed:\n{r.stderr[-2000:]}")


def _which(name):
    return shutil.which(name) or shutil.which(name, path=CARGO_BIN)


def _need_apt(binary, package):
    if not _which(binary):
        _apt_install(package)
    path = _which(binary)
    if not path:
        raise ToolMissing(f"{binary} not found even after installing {package}")
    return path


def ensure_oha():
    path = _which("oha")
    if path:
        return path
    if not _which("cargo"):
        raise ToolMissing("oha is missing and cargo is not there to install it")
    # -j 1: the machine has two cores and somebody may be compiling on the other.
    with step("cargo install oha --locked -j 1 (about 10 minutes, once)"):
        r = subprocess.run(["cargo", "install", "oha", "--locked", "-j", "1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    path = _which("oha")
    if r.returncode != 0 or not path:
        raise ToolMissing(f"cargo install oha failed:\n{r.stderr[-2000:]}")
    return path


def find_pg_bindir():
    candidates = []
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(os.path.dirname(os.path.realpath(initdb)))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for d in candidates:
        if all(os.access(os.path.join(d, b), os.X_OK) for b in ("initdb", "postgres")):
            return d
    return None


def ensure_postgres():
    bindir = find_pg_bindir()
    if not bindir:
        _apt_install("postgresql")
        bindir = find_pg_bindir()
    if not bindir:
        raise ToolMissing("PostgreSQL (initdb, postgres) not found after apt-get install")
    return bindir


def ensure_all(need_load=True):
    """Returns {name: path}. Raises ToolMissing when something cannot be had."""
    tools = {
        "taskset": _need_apt("taskset", "util-linux"),
        "file": _need_apt("file", "file"),
        "runuser": _need_apt("runuser", "util-linux"),
        "pg_bindir": ensure_postgres(),
    }
    if need_load:
        tools["oha"] = ensure_oha()
    say("tools: " + ", ".join(f"{k}={v}" for k, v in tools.items()))
    return tools


def version_of(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (r.stdout or r.stderr).strip().splitlines()
    return out[0] if out else None
