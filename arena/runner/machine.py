"""Describes the machine, the tools and the source revision for the report."""
import os
import platform
import subprocess

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


def versions(tools, oha_version, pg_version, go_bin):
    return {"rustc": version_of(["rustc", "--version"]),
            "cargo": version_of(["cargo", "--version"]),
            "go_twin_built_with": go_version_of_binary(go_bin) if go_bin else None,
            "go_on_path": version_of(["go", "version"]),
            "oha": oha_version, "postgresql": pg_version,
            "python": platform.python_version(),
            "taskset": version_of([tools.get("taskset", "taskset"), "--version"])}
