"""One line per step on stderr, with the time elapsed since the arena started."""
import sys
import time
from contextlib import contextmanager

_START = time.monotonic()


def _stamp():
    s = int(time.monotonic() - _START)
    return f"[{s // 60:02d}:{s % 60:02d}]"


def say(msg):
    print(f"{_stamp()} {msg}", file=sys.stderr, flush=True)


WARNINGS = []


def warn(msg):
    WARNINGS.append(msg)
    say(f"WARNING: {msg}")


@contextmanager
def step(name):
    t0 = time.monotonic()
    say(f"{name} ...")
    try:
        yield
    finally:
        say(f"{name} done in {time.monotonic() - t0:.1f}s")
