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


def ensure_oha_h3(tmp):
    """An oha built with its http3 feature (experimental), for the HTTP/3
    rows, in tmp/oha-h3 (the plain oha stays the one for every TCP row).
    Debian's h2load (nghttp2 1.52) is built without ngtcp2: no HTTP/3."""
    root = os.path.join(tmp, "oha-h3")
    path = os.path.join(root, "bin", "oha")
    if os.access(path, os.X_OK):
        return path
    if not _which("cargo"):
        raise ToolMissing("oha with http3 is missing and cargo is not there to install it")
    with step("cargo install oha --locked --features http3 -j 1 (about 10 minutes, once)"):
        r = subprocess.run(["cargo", "install", "oha", "--locked", "--features", "http3",
                            "-j", "1", "--root", root],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0 or not os.access(path, os.X_OK):
        raise ToolMissing(f"cargo install oha --features http3 failed:\n{r.stderr[-2000:]}")
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


def ensure_all(need_load=True, need_tls=False, tmp=None):
    """Returns {name: path}. Raises ToolMissing when something cannot be had.
    need_tls: openssl (the arena's certificate pair), h2load (new TLS
    connections) and oha with HTTP/3 (installed under tmp)."""
    tools = {
        "taskset": _need_apt("taskset", "util-linux"),
        "file": _need_apt("file", "file"),
        "runuser": _need_apt("runuser", "util-linux"),
        "pg_bindir": ensure_postgres(),
    }
    if need_load:
        tools["oha"] = ensure_oha()
    if need_tls:
        tools["openssl"] = _need_apt("openssl", "openssl")
        tools["h2load"] = _need_apt("h2load", "nghttp2-client")
        tools["oha_h3"] = ensure_oha_h3(tmp)
    say("tools: " + ", ".join(f"{k}={v}" for k, v in tools.items()))
    return tools


def version_of(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (r.stdout or r.stderr).strip().splitlines()
    return out[0] if out else None
