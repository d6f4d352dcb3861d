"""The one-line edit for the rebuild measurement, always undone.

The edit must change what is compiled, not only a comment: Go's build cache
sees that a comment-only change yields the same object and skips the link,
while cargo recompiles and relinks anyway, which would not be a fair race.
So, on the line holding ARENA-EDIT-MARKER, the first string literal gets one
more character; a marker line without a string gets a character after the
marker; without a marker, a small unused string constant is appended to the
file. The original text is also saved to a backup file, so that a run killed
hard is repaired by the next one.
"""
import json
import os
from contextlib import contextmanager

MARKER = "ARENA-EDIT-MARKER"


def find_marker(root, suffix):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(suffix) and not name.endswith("_test.go"):
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    if MARKER in f.read():
                        return path
    return None


def _first_literal_end(line):
    """Index of the closing quote of the line's first "..." literal, or -1."""
    start = line.find('"')
    i = start + 1
    while start >= 0 and i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == '"':
            return i
        i += 1
    return -1


def _edited(text, appended_decl):
    at = text.find(MARKER)
    if at < 0:
        return text.rstrip("\n") + "\n" + appended_decl + "\n", "appended a string constant"
    line_start = text.rfind("\n", 0, at) + 1
    line_end = text.find("\n", at)
    line_end = len(text) if line_end < 0 else line_end
    close = _first_literal_end(text[line_start:line_end])
    if close >= 0:
        pos = line_start + close
        return text[:pos] + "~" + text[pos:], "one more character in the marker line's string"
    pos = at + len(MARKER)
    return text[:pos] + "1" + text[pos:], "one more character after the marker"


def restore_pending(backup_path):
    """Puts back a file left edited by a run that could not clean up."""
    if not os.path.exists(backup_path):
        return None
    with open(backup_path) as f:
        saved = json.load(f)
    with open(saved["path"], "w", encoding="utf-8") as f:
        f.write(saved["text"])
    os.remove(backup_path)
    return saved["path"]


@contextmanager
def one_line_edit(path, appended_decl, backup_path):
    """Yields a description of the edit; the file is restored on every exit."""
    with open(path, encoding="utf-8") as f:
        original = f.read()
    os.makedirs(os.path.dirname(backup_path), exist_ok=True)
    with open(backup_path, "w") as f:
        json.dump({"path": path, "text": original}, f)
    new_text, how = _edited(original, appended_decl)
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new_text)
        yield {"file": path, "how": how}
    finally:
        with open(path, "w", encoding="utf-8") as f:
            f.write(original)
        os.remove(backup_path)
