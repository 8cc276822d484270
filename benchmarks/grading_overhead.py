"""How long grading one hand-in takes, and how much of it is harness overhead.

Run: .venv/bin/python benchmarks/grading_overhead.py [--assignment w01_autoencoder]
     [--runs 3]

Grades the same hand-in several times in one process, first with a cold reference
cache, then warm, and prints per run: total wall time, the unit and performance
tiers, and the split into harness overhead (ingestion, worker start-up, judge-side
pytest and comparisons) versus probe compute (the student's code in the worker, the
reference's code, the judge's metric). Ratios are within one run, so they compare
fairly on a busy machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat

from autograder.assignments import get_assignment
from autograder.config import GradeConfig, Paths
from autograder.ingest import extract
from autograder.judge import grade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="w01_autoencoder")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sandbox", default="auto")
    args = parser.parse_args()

    paths = Paths.discover()
    assignment = get_assignment(args.assignment, paths)
    folder = Path(tempfile.mkdtemp(prefix="rlgrade-bench-"))
    hand_in = folder / assignment.notebook
    nbformat.write(jupytext.read(assignment.reference_source), hand_in)
    started = time.perf_counter()
    extract(hand_in)
    ingest_s = time.perf_counter() - started

    cache = folder / "cache"
    paths = dataclasses.replace(paths, cache=cache)
    cfg = GradeConfig(assignment=args.assignment, sandbox=args.sandbox)
    print(f"{args.assignment}: ingestion {ingest_s * 1000:.0f} ms")
    header = (
        "run",
        "cache",
        "total s",
        "unit s",
        "perf s",
        "worker starts s",
        "student probes s",
        "reference probes s",
        "judge metric s",
        "overhead s",
        "overhead %",
    )
    print(" | ".join(header))
    for run in range(args.runs):
        report = grade(hand_in, cfg, paths)
        t = report.timings
        unit = sum(x.seconds for x in report.tests if x.tier == "unit")
        perf = sum(x.seconds for x in report.tests if x.tier == "performance")
        compute = t["student_probes"] + t["reference_probes"] + t["judge_metric"]
        overhead = t["total"] - compute
        print(
            " | ".join(
                [
                    str(run + 1),
                    "cold" if run == 0 else "warm",
                    f"{t['total']:.1f}",
                    f"{unit:.1f}",
                    f"{perf:.1f}",
                    f"{t['worker_start'] + t['reference_start']:.1f}",
                    f"{t['student_probes']:.1f}",
                    f"{t['reference_probes']:.1f}",
                    f"{t['judge_metric']:.1f}",
                    f"{overhead:.1f}",
                    f"{100 * overhead / t['total']:.0f}",
                ]
            )
        )
        assert report.score == report.max_score, "the reference must earn full marks"
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
