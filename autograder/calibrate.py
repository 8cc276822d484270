"""``rlgrade calibrate``: K reference runs of the performance tier -> a tolerance
band."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from . import datasets
from .assignments import Assignment
from .bands import Band, calibrate_band, save_band
from .config import GradeConfig, Paths
from .judge import Grading, _reference_client

__all__ = ["calibrate"]

log = logging.getLogger(__name__)

#: the seed every student's performance run uses (see Grading.measure)
GRADING_SEED = 1000


def calibrate(
    assignment: Assignment,
    cfg: GradeConfig,
    paths: Paths,
    *,
    seeds: int,
    false_fail: float,
    progress: Callable[[int, float], None] | None = None,
    write: bool = True,
) -> Band:
    budget = assignment.perf(cfg.profile)
    data_root = datasets.ensure_data(cfg.profile, paths.data_root(cfg.profile))
    limits = assignment.limits(cfg.limits)
    # calibration runs must really run: never answer them from the cache
    cfg = dataclasses.replace(cfg, use_cache=False)
    values: list[float] = []
    seed_list = [GRADING_SEED + i for i in range(seeds)]
    with _reference_client(assignment, cfg, paths, data_root, limits) as reference:
        reference.seed_base = 0
        grading = Grading(
            assignment=assignment,
            profile=cfg.profile,
            data_root=data_root,
            seed=cfg.seed,
            band=None,
        )
        for seed in seed_list:
            value = grading.measure(reference, seed=seed)
            log.info(
                "%s seed %d: %s = %.3f", assignment.id, seed, budget["metric"], value
            )
            values.append(value)
            if progress:
                progress(seed, value)
    band = calibrate_band(
        budget["metric"],
        values,
        seed_list,
        false_fail=false_fail,
        zero_at=float(budget["zero_at"]),
        min_std=float(budget["min_std"]),
    )
    if write:
        save_band(assignment.bands_file, cfg.profile, band)
    return band
