"""Describes the machine, the tools and the source revision for the report."""
import json
import os
import platform
import subprocess
import tomllib

from .tools import version_of


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_mib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def machine():
    return {"cpu_model": _cpu_model(), "cores": os.cpu_count(),
            "memory_mib": _mem_total_mib(), "kernel": platform.release(),
            "os": _os_name()}


def _os_name():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def git_revision(repo):
    def git(*args):
        r = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None
    return {"commit": git("rev-parse", "HEAD") or "(no commit yet)",
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def go_version_of_binary(path):
    """`go version BINARY` names the toolchain that built it."""
    from .build import go_binary
    out = version_of([go_binary(), "version", path])
    return out.split(":", 1)[1].strip() if out and ":" in out else out


def go_build_settings(path):
    """The build settings `go version -m` reads from a binary: -pgo, CGO, flags."""
    from .build import go_binary
    try:
        r = subprocess.run([go_binary(), "version", "-m", path], capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    out = {}
    for line in r.stdout.splitlines():
        parts = line.strip().split("\t")
        if len(parts) >= 2 and parts[0] == "build" and "=" in parts[1]:
            key, _, value = parts[1].partition("=")
            out[key] = value
    if out:
        out.setdefault("-pgo", "none (no default.pgo when built)")
    return out


def rustc_of_binary(path):
    """The compiler named in the binary's .comment section (kept by strip), or None."""
    try:
        r = subprocess.run(["readelf", "-p", ".comment", path], capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in r.stdout.splitlines():
        if "rustc version" in line:
            return line.split("]", 1)[-1].strip()
    return None


def rust_build(repo, binary=None):
    """How the measured Rust service is built: compiler, profile (`dist`, over
    `release`), allocator."""
    with open(os.path.join(repo, "Cargo.toml"), "rb") as f:
        cargo = tomllib.load(f)
    profiles = cargo.get("profile", {})
    profile = {**profiles.get("release", {}), **profiles.get("dist", {})}
    profile.pop("inherits", None)
    text = ", ".join(f"{k} = {json.dumps(v)}" for k, v in profile.items())
    # The service sets no global allocator (checked in the source and the lock
    # file), so it runs on the system allocator: glibc malloc.
    custom = []
    for d, _, files in os.walk(os.path.join(repo, "crates")):
        for name in files:
            if name.endswith(".rs"):
                with open(os.path.join(d, name), errors="replace") as f:
                    if "#[global_allocator]" in f.read():
                        custom.append(os.path.relpath(os.path.join(d, name), repo))
    with open(os.path.join(repo, "Cargo.lock")) as f:
        lock = f.read()
    crates = [c for c in ("mimalloc", "tikv-jemallocator", "jemallocator", "snmalloc-rs")
              if f'name = "{c}"' in lock]
    allocator = ("glibc malloc (the system allocator: no #[global_allocator] in crates/, "
                 "no allocator crate in Cargo.lock)" if not custom and not crates
                 else f"custom: #[global_allocator] in {custom}, crates {crates}")
    return {"rustc": version_of(["rustc", "--version"]),
            "binary_built_by": rustc_of_binary(binary) if binary else None,
            "profile": profile,
            "profile_text": text, "allocator": allocator,
            "rust_version": cargo.get("workspace", {}).get("package", {}).get("rust-version")}


def versions(tools, oha_version, pg_version, go_bins):
    return {"rustc": version_of(["rustc", "--version"]),
            "cargo": version_of(["cargo", "--version"]),
            **{f"{twin}_built_with": go_version_of_binary(path)
               for twin, path in go_bins.items() if path},
            **{f"{twin}_build_settings": " ".join(
                f"{k}={v}" for k, v in go_build_settings(path).items()
                if k in ("-pgo", "-trimpath", "-ldflags", "CGO_ENABLED", "GOAMD64"))
               for twin, path in go_bins.items() if path},
            "go_on_path": version_of(["go", "version"]),
            "oha": oha_version, "postgresql": pg_version,
            "python": platform.python_version(),
            "taskset": version_of([tools.get("taskset", "taskset"), "--version"]),
            **({"oha_http3": version_of([tools["oha_h3"], "--version"]),
                "h2load": version_of([tools["h2load"], "--version"]),
                "openssl": version_of([tools["openssl"], "version"])}
               if "oha_h3" in tools else {})}
