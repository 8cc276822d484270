"""The trusted side: run the hidden tests against a sandboxed worker and the reference.

:func:`grade` is the library entry point. It never lets an error of the
submission escape: an unreadable hand-in, a crashing or hanging worker, a probe
that raises -- each becomes failed tests with a message, and grading completes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from . import __version__, datasets, wire
from ._exceptions import RlgradeError, SubmissionError, WorkerError
from .assignments import Assignment, get_assignment
from .bands import Band, load_band
from .checks import Mismatch
from .config import GradeConfig, Limits, Paths
from .ingest import Extraction, extract
from .metrics import get_metric
from .sandbox import Worker, resolve_mode

__all__ = [
    "TestRecord",
    "GradeReport",
    "ProbeClient",
    "Grading",
    "grade",
    "grade_source",
]

log = logging.getLogger(__name__)

_INI = Path(__file__).with_name("judge_pytest.ini")


@dataclass
class TestRecord:
    name: str
    item: str
    max_score: float
    tags: list[str] = field(default_factory=list)
    score: float = 0.0
    status: str = "failed"
    output: str = ""
    seconds: float = 0.0
    tier: str = "unit"


@dataclass
class GradeReport:
    assignment: str
    profile: str
    tests: list[TestRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    defined: list[str] = field(default_factory=list)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    #: set when the hand-in could not be read at all
    fatal: str | None = None

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 4)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 4)

    def by_item(self) -> dict[str, tuple[float, float]]:
        table: dict[str, tuple[float, float]] = {}
        for t in self.tests:
            got, of = table.get(t.item, (0.0, 0.0))
            table[t.item] = (got + t.score, of + t.max_score)
        return table


# ---------------------------------------------------------------- probe clients


class ProbeClient:
    """What a hidden test calls: ``student.probe(name, seed=..., **kwargs)``."""

    def __init__(
        self, worker: Worker, seed_base: int, cache: _Cache | None = None
    ) -> None:
        self.worker = worker
        self.seed_base = seed_base
        self.cache = cache
        self.compute_seconds = 0.0
        self.calls = 0

    def probe(
        self, name: str, *, seed: int = 0, timeout: float | None = None, **kwargs: Any
    ) -> Any:
        seed = self.seed_base + seed
        if self.cache is not None:
            hit = self.cache.get(name, seed, kwargs)
            if hit is not None:
                return hit
        started = time.perf_counter()
        try:
            result = self.worker.call(name, seed=seed, timeout=timeout, **kwargs)
        finally:
            self.compute_seconds += time.perf_counter() - started
            self.calls += 1
        if self.cache is not None:
            self.cache.put(name, seed, kwargs, result)
        return result

    def ready(self) -> dict[str, Any]:
        if not self.worker.alive():
            self.worker.start()
        return self.worker.ready


class _Cache:
    """Reference probe results on disk (data-only files) keyed by everything they depend
    on."""

    def __init__(self, folder: Path, salt: str) -> None:
        self.folder = folder
        self.salt = salt

    def _key(self, name: str, seed: int, kwargs: dict[str, Any]) -> str:
        blob = json.dumps([self.salt, name, seed, kwargs], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def get(self, name: str, seed: int, kwargs: dict[str, Any]) -> Any:
        key = self._key(name, seed, kwargs)
        meta = self.folder / f"{key}.json"
        if not meta.is_file():
            return None
        try:
            return wire.decode(
                json.loads(meta.read_text()),
                self.folder / f"{key}.safetensors",
                max_bytes=1 << 34,
            )
        except Exception as exc:  # noqa: BLE001 - any unreadable entry is recomputed
            log.warning("ignoring unreadable cache entry %s: %s", key, exc)
            return None

    def put(self, name: str, seed: int, kwargs: dict[str, Any], value: Any) -> None:
        key = self._key(name, seed, kwargs)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # graders running side by side may write the same entry: write aside, rename
            unique = f"{key}.{os.getpid()}.{threading.get_ident()}"
            skeleton = wire.encode(value, self.folder / f"{unique}.safetensors")
            (self.folder / f"{unique}.json").write_text(json.dumps(skeleton))
            if skeleton["has_tensors"]:
                os.replace(
                    self.folder / f"{unique}.safetensors",
                    self.folder / f"{key}.safetensors",
                )
            os.replace(self.folder / f"{unique}.json", self.folder / f"{key}.json")
        except OSError as exc:  # a read-only cache only costs speed
            log.warning("cannot cache reference result %s: %s", key, exc)


# ---------------------------------------------------------------- what tests see


@dataclass
class Grading:
    """The ``grading`` fixture: facts of this run and the partial-credit channel."""

    assignment: Assignment
    profile: str
    data_root: Path
    seed: int
    band: Band | None
    #: time spent computing performance metrics in the judge
    metric_seconds: float = 0.0
    _award: dict[str, tuple[float, str]] = field(default_factory=dict)
    _current: str = ""

    @property
    def perf(self) -> dict[str, Any]:
        return self.assignment.perf(self.profile)

    def labels(self, split: str) -> np.ndarray:
        return datasets.stl10_labels(self.profile, self.data_root, split)

    def measure(self, client: ProbeClient, seed: int = 1000) -> float:
        """Run the performance probe through ``client`` and compute the assignment's
        metric."""
        budget = self.perf
        out = client.probe(
            budget.get("probe", "performance"),
            seed=seed,
            budget=budget,
            timeout=budget.get("timeout_s"),
        )
        started = time.perf_counter()
        try:
            return get_metric(budget["metric"])(out, self.labels)
        finally:
            self.metric_seconds += time.perf_counter() - started

    def score_performance(self, client: ProbeClient, what: str) -> float:
        """The performance tier in one call: measure, score on the band's ramp, award
        partial credit. ``what`` names the metric for the student ("rotation accuracy
        on test images"); only the value and the rubric's edges are shown."""
        band = self.band
        if band is None:
            raise RuntimeError(
                f"no calibrated band for profile {self.profile}: run rlgrade calibrate"
            )
        value = self.measure(client)
        fraction = band.score(value)
        if fraction <= 0:
            raise Mismatch(f"{what} is {value:.1f}%, not above {band.zero_at:.1f}%")
        self.award(
            fraction, f"{what}: {value:.1f}% (full credit from {band.lower:.1f}%)"
        )
        return value

    def award(self, fraction: float, message: str) -> None:
        """Give this (passing) test ``fraction`` of its points, with a message."""
        self._award[self._current] = (max(0.0, min(1.0, float(fraction))), message)


class _Plugin:
    def __init__(
        self, student: ProbeClient, reference: ProbeClient, grading: Grading
    ) -> None:
        self._student = student
        self._reference = reference
        self._grading = grading
        self.records: dict[str, TestRecord] = {}
        self.collect_errors: list[str] = []

    @pytest.fixture
    def student(self) -> ProbeClient:
        return self._student

    @pytest.fixture
    def reference(self) -> ProbeClient:
        return self._reference

    @pytest.fixture
    def grading(self) -> Grading:
        return self._grading

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(str(report.longrepr)[-2000:])

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker("graded")
            if marker is None:
                self.collect_errors.append(
                    f"{item.nodeid} has no @pytest.mark.graded marker"
                )
                continue
            self.records[item.nodeid] = _record(item.name, marker)

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._grading._current = item.nodeid

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Iterator[pytest.TestReport]:
        report: pytest.TestReport = yield
        record = self.records.get(item.nodeid)
        if record is None:
            return report
        if report.when == "call" or (report.when == "setup" and report.failed):
            record.seconds += report.duration
            if report.passed:
                fraction, message = self._grading._award.get(item.nodeid, (1.0, ""))
                record.score = round(record.max_score * fraction, 4)
                record.status = "passed" if fraction > 0 else "failed"
                record.output = message
            else:
                record.score = 0.0
                record.status = "failed"
                record.output = _failure_text(call.excinfo)
        return report


def _record(name: str, marker: pytest.Mark) -> TestRecord:
    item = marker.kwargs["item"]
    return TestRecord(
        name=name,
        item=item,
        max_score=float(marker.kwargs["points"]),
        tags=[item, *marker.kwargs.get("tags", [])],
        tier=marker.kwargs.get("tier", "unit"),
    )


def _failure_text(excinfo: pytest.ExceptionInfo[BaseException] | None) -> str:
    if excinfo is None:
        return "failed"
    exc = excinfo.value
    if isinstance(exc, WorkerError):
        trace = getattr(exc, "trace", "")
        lead = {
            "timeout": "Your code did not finish in time: ",
            "crash": "The grading worker stopped: ",
            "exception": "Your code raised ",
        }.get(exc.kind, "")
        return (lead + exc.message + ("\n" + trace if trace else "")).strip()
    if isinstance(exc, Mismatch):
        return str(exc)
    if isinstance(exc, AssertionError) and exc.args:
        return str(exc.args[0]).splitlines()[0]
    log.error(
        "internal error in a hidden test:\n%s",
        "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    )
    return (
        f"internal grader error ({type(exc).__name__}); "
        "this is not your fault, tell your TA"
    )


# ---------------------------------------------------------------- grading


def _hash_files(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def make_workdir(
    assignment: Assignment,
    ex: Extraction,
    cfg: GradeConfig,
    data_root: Path,
    limits: Limits,
    prefix: str,
) -> Path:
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    workdir.chmod(0o755)
    lib = workdir / "lib"
    lib.mkdir()
    for helper in assignment.helper_files:
        shutil.copy2(helper, lib / helper.name)
    shutil.copy2(assignment.probes_file, lib / "_rlgrade_probes.py")
    job = {
        "cells": ex.cells,
        "profile": cfg.profile,
        "data_root": str(data_root),
        "threads": limits.threads,
        "seed": cfg.seed,
    }
    (workdir / "job.json").write_text(json.dumps(job))
    for sub in ("scratch", "out"):
        (workdir / sub).mkdir()
    return workdir


def fingerprint(
    assignment: Assignment, cfg: GradeConfig, mode: str, sha: str, limits: Limits
) -> dict[str, Any]:
    import platform

    import torchvision

    return {
        "rlgrade": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "cuda": torch.version.cuda,
        "threads": limits.threads,
        "assignment": assignment.id,
        "profile": cfg.profile,
        "seed": cfg.seed,
        "sandbox": mode,
        "submission_sha256": sha,
        "reference_hash": _hash_files([assignment.reference_source]),
        "tests_hash": _hash_files(
            sorted(assignment.tests_dir.glob("*.py")) + [assignment.probes_file]
        ),
    }


@contextmanager
def _reference_client(
    assignment: Assignment,
    cfg: GradeConfig,
    paths: Paths,
    data_root: Path,
    limits: Limits,
) -> Iterator[ProbeClient]:
    ref_ex = extract(assignment.reference_source)
    workdir = make_workdir(assignment, ref_ex, cfg, data_root, limits, "rlgrade-ref-")
    worker = Worker(workdir, mode="none", limits=limits, data_root=data_root)
    salt = "|".join(
        [
            _hash_files(
                [
                    assignment.reference_source,
                    assignment.probes_file,
                    *assignment.helper_files,
                ]
            ),
            cfg.profile,
            torch.__version__,
            str(limits.threads),
            _data_stamp(data_root),
        ]
    )
    cache = _Cache(paths.cache / assignment.id, salt) if cfg.use_cache else None
    try:
        yield ProbeClient(worker, cfg.seed, cache)
    finally:
        worker.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _data_stamp(data_root: Path) -> str:
    files = sorted(data_root.glob("*/rlgrade_*.json"))
    return _hash_files(files) if files else "real"


def grade(
    submission: Path, cfg: GradeConfig, paths: Paths | None = None
) -> GradeReport:
    """Grade one hand-in. Raises only for problems of the grader, never of the
    submission."""
    paths = paths or Paths.discover()
    assignment = get_assignment(cfg.assignment, paths)
    started = time.perf_counter()
    try:
        ex = extract(submission, preferred_name=assignment.notebook)
    except SubmissionError as exc:
        report = _empty_report(assignment, cfg)
        report.fatal = exc.format().removeprefix("error: ")
        for record in report.tests:
            record.output = "not graded: the hand-in could not be read"
        report.timings["total"] = time.perf_counter() - started
        return report
    extracted = time.perf_counter()
    report = grade_source(ex, assignment, cfg, paths)
    report.timings["extract"] = extracted - started
    report.timings["total"] = time.perf_counter() - started
    return report


def _empty_report(assignment: Assignment, cfg: GradeConfig) -> GradeReport:
    """Every test at zero, collected without running anything."""
    report = GradeReport(assignment=assignment.id, profile=cfg.profile)
    collector = _Collector()
    pytest.main(
        [
            str(assignment.tests_dir),
            "-c",
            str(_INI),
            "--rootdir",
            str(assignment.tests_dir),
            "--collect-only",
            "-p",
            "no:terminal",
        ],
        plugins=[collector],
    )
    report.tests = collector.records
    return report


class _Collector:
    def __init__(self) -> None:
        self.records: list[TestRecord] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker("graded")
            if marker is not None:
                self.records.append(_record(item.name, marker))


def grade_source(
    ex: Extraction, assignment: Assignment, cfg: GradeConfig, paths: Paths
) -> GradeReport:
    started = time.perf_counter()
    limits = assignment.limits(cfg.limits)
    mode = resolve_mode(cfg.sandbox)
    data_root = datasets.ensure_data(cfg.profile, paths.data_root(cfg.profile))
    workdir = make_workdir(assignment, ex, cfg, data_root, limits, "rlgrade-sub-")
    # the whole course checkout is private; the sandbox brings back only what the
    # worker runs from (see Worker); the rest are named in case they live elsewhere
    hide = [paths.home, paths.reference, paths.assignments, paths.cache, *cfg.hide]
    student_worker = Worker(
        workdir, mode=mode, limits=limits, hide=hide, data_root=data_root
    )
    report = GradeReport(
        assignment=assignment.id, profile=cfg.profile, notes=list(ex.notes)
    )
    report.fingerprint = fingerprint(assignment, cfg, mode, ex.sha256, limits)
    band = load_band(assignment.bands_file, cfg.profile)
    grading = Grading(
        assignment=assignment,
        profile=cfg.profile,
        data_root=data_root,
        seed=cfg.seed,
        band=band,
    )
    try:
        with _reference_client(assignment, cfg, paths, data_root, limits) as reference:
            student = ProbeClient(student_worker, cfg.seed)
            try:
                ready = student.ready()
                report.defined = list(ready.get("defined", []))
                for err in ready.get("load_errors", []):
                    report.notes.append(
                        f"{err['cell']} failed while defining names "
                        f"({err['type']}); names after the error are missing:\n"
                        f"{err['trace']}"
                    )
            except WorkerError as exc:
                report.notes.append(
                    f"your definitions could not be loaded: {exc.message}"
                )
            plugin = _Plugin(student, reference, grading)
            args = [
                str(assignment.tests_dir),
                "-c",
                str(_INI),
                "--rootdir",
                str(assignment.tests_dir),
                "-p",
                "no:terminal",
            ]
            code = pytest.main(args, plugins=[plugin])
            if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
                plugin.collect_errors.append(f"pytest exited with {code!r}")
            if plugin.collect_errors:
                raise RlgradeError(
                    "the hidden tests of "
                    + assignment.id
                    + " are broken:\n"
                    + "\n".join(plugin.collect_errors)
                )
            report.tests = list(plugin.records.values())
            missing = [i for i in assignment.items if i not in ex.defined]
            if missing:
                report.notes.append(
                    "not defined in your notebook: " + ", ".join(missing)
                )
            output = student_worker.output.text().strip()
            if output:
                report.notes.append(
                    "output of your code while grading (first part):\n" + output[:4000]
                )
            report.timings.update(
                {
                    "worker_start": student_worker.start_seconds,
                    "worker_starts": float(student_worker.starts),
                    "student_probes": student.compute_seconds,
                    "reference_probes": reference.compute_seconds,
                    "reference_start": reference.worker.start_seconds,
                    "judge_metric": grading.metric_seconds,
                }
            )
    finally:
        student_worker.close()
        shutil.rmtree(workdir, ignore_errors=True)
    report.timings["grade"] = time.perf_counter() - started
    report.fingerprint["limits"] = dataclasses.asdict(limits)
    return report
