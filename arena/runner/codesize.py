"""Lines of code for the same features, counted the same way for both twins.

Rule: non-blank lines that are not only a comment. Rust: crates/overkill/src and
crates/chassis/src, without `#[cfg(test)]` items (attribute through the end of
the braced block) and without tests/ directories. Go: arena/go-twin/**/*.go
without *_test.go. Block comments (/* */) are skipped in both.
"""
import os

RUST_DIRS = ("crates/overkill/src", "crates/chassis/src")
GO_DIR = "arena/go-twin"


def _source_files(root, suffix, skip_file=lambda name: False):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("tests", "testdata", "vendor"))
        for name in sorted(filenames):
            if name.endswith(suffix) and not skip_file(name):
                yield os.path.join(dirpath, name)


def _code_lines(lines):
    """Yields code lines, dropping blank lines and // and /* */ comments."""
    in_block = False
    for raw in lines:
        line = raw.strip()
        if in_block:
            if "*/" in line:
                in_block = False
                line = line.split("*/", 1)[1].strip()
            else:
                continue
        if line.startswith("/*"):
            if "*/" not in line:
                in_block = True
            continue
        if not line or line.startswith("//"):
            continue
        yield line


def _without_cfg_test(lines):
    """Drops `#[cfg(test)]` and the item after it, by brace counting."""
    out, skipping, depth, opened = [], False, 0, False
    for line in lines:
        if not skipping and line.startswith("#[cfg(test)]"):
            skipping, depth, opened = True, 0, False
            continue
        if skipping:
            depth += line.count("{") - line.count("}")
            opened = opened or "{" in line
            if (opened and depth <= 0) or (not opened and line.endswith(";")):
                skipping = False
            continue
        out.append(line)
    return out


def count(repo):
    rust_files = [f for d in RUST_DIRS for f in _source_files(os.path.join(repo, d), ".rs")]
    go_files = list(_source_files(os.path.join(repo, GO_DIR), ".go",
                                  lambda name: name.endswith("_test.go")))
    return {"rust": _tally(rust_files, rust=True), "go": _tally(go_files, rust=False),
            "rule": __doc__.strip()}


def _tally(files, rust):
    total = 0
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = list(_code_lines(f))
        total += len(_without_cfg_test(lines) if rust else lines)
    return {"lines": total, "files": len(files)}
