"""The one-line edit for the rebuild measurement, always undone.

The edit goes right after the text ARENA-EDIT-MARKER (in a comment or a string,
either way the file changes and the compiler must rebuild). Without a marker, a
comment line is appended to the fallback file. The original bytes are also
saved to a backup file, so that a run killed hard is repaired by the next one.
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


def _edited(text, comment):
    if MARKER in text:
        return text.replace(MARKER, MARKER + "1", 1), "marker"
    return text.rstrip("\n") + f"\n{comment} arena rebuild probe\n", "appended comment"


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
def one_line_edit(path, comment, backup_path):
    """Yields a description of the edit; the file is restored on every exit."""
    with open(path, encoding="utf-8") as f:
        original = f.read()
    os.makedirs(os.path.dirname(backup_path), exist_ok=True)
    with open(backup_path, "w") as f:
        json.dump({"path": path, "text": original}, f)
    new_text, how = _edited(original, comment)
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new_text)
        yield {"file": path, "how": how}
    finally:
        with open(path, "w", encoding="utf-8") as f:
            f.write(original)
        os.remove(backup_path)
