"""Tolerance bands for performance tests, and how they are calibrated.

A band is one-sided for a metric where higher is better: full credit at or above
``lower``, none at or below ``zero_at``, a linear ramp between. ``lower`` is the
one-sided prediction bound of a new reference run from K calibration runs,
``mean - t(K-1, 1-p) * s * sqrt(1 + 1/K)``, so that a correct solution falls below
it with probability about ``p`` (the chosen false-fail rate), if run-to-run noise
is roughly normal.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scipy import stats

__all__ = ["Band", "calibrate_band", "load_band", "save_band"]


@dataclass(frozen=True)
class Band:
    metric: str
    mean: float
    std: float
    lower: float
    zero_at: float
    false_fail: float
    values: list[float] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    #: leave-one-out share of calibration runs that fell below their band
    loo_false_fail: float | None = None
    #: True while the numbers are the course's published ones, not a calibration
    provisional: bool = False
    note: str = ""

    def score(self, value: float) -> float:
        """Fraction of the points earned by a metric value."""
        if not math.isfinite(value) or value <= self.zero_at:
            return 0.0
        if value >= self.lower:
            return 1.0
        return (value - self.zero_at) / (self.lower - self.zero_at)


def calibrate_band(
    metric: str,
    values: list[float],
    seeds: list[int],
    *,
    false_fail: float,
    zero_at: float,
    min_std: float,
) -> Band:
    if len(values) < 2:
        raise ValueError("calibration needs at least two reference runs")
    mean = statistics.fmean(values)
    std = max(statistics.stdev(values), min_std)
    lower = _lower(values, false_fail, min_std)
    loo = (
        [
            values[i] < _lower(values[:i] + values[i + 1 :], false_fail, min_std)
            for i in range(len(values))
        ]
        if len(values) >= 3
        else []
    )
    return Band(
        metric=metric,
        mean=mean,
        std=std,
        lower=lower,
        zero_at=min(zero_at, lower),
        false_fail=false_fail,
        values=values,
        seeds=seeds,
        loo_false_fail=(sum(loo) / len(loo)) if loo else None,
    )


def _lower(values: list[float], false_fail: float, min_std: float) -> float:
    k = len(values)
    s = max(statistics.stdev(values), min_std)
    t = float(stats.t.ppf(1 - false_fail, df=k - 1))
    return statistics.fmean(values) - t * s * math.sqrt(1 + 1 / k)


def load_band(path: Path, profile: str) -> Band | None:
    if not path.is_file():
        return None
    table: dict[str, Any] = json.loads(path.read_text())
    entry = table.get(profile)
    return Band(**entry) if entry else None


def save_band(path: Path, profile: str, band: Band) -> None:
    table = json.loads(path.read_text()) if path.is_file() else {}
    table[profile] = asdict(band)
    path.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
