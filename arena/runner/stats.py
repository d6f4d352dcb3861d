"""Medians, spreads and the noisy flag for repeated measurements."""
import statistics

NOISY_SPREAD = 0.20


def summarize(values):
    """median/min/max of the repeats; None values (failed runs) are dropped."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    med = statistics.median(vals)
    lo, hi = min(vals), max(vals)
    spread = (hi - lo) / med if med else 0.0
    return {"median": med, "min": lo, "max": hi, "runs": vals,
            "spread": round(spread, 4), "noisy": spread > NOISY_SPREAD}


def single(value):
    return summarize([value])


def median_of(summary):
    return None if summary is None else summary["median"]
