"""Grading end to end: reference, template, hostile notebooks, results schema."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jupytext
import nbformat
import pytest

from autograder.assignments import get_assignment, list_assignments
from autograder.config import GradeConfig, Paths
from autograder.judge import grade
from autograder.results import gradescope_results, write_results
from autograder.sandbox import bwrap_works
from autograder.templates import render_template
from tests.conftest import read_json

pytestmark = pytest.mark.slow

CFG = GradeConfig(assignment="w01_autoencoder")


def reference_notebook(paths: Paths, tmp_path: Path, assignment_id: str) -> Path:
    assignment = get_assignment(assignment_id, paths)
    path = tmp_path / assignment.notebook
    nbformat.write(jupytext.read(assignment.reference_source), path)
    return path


def check_gradescope_schema(results: dict) -> None:
    assert isinstance(results["score"], int | float)
    assert isinstance(results["max_score"], int | float)
    assert isinstance(results["execution_time"], int | float)
    assert results["visibility"] in (
        "visible",
        "hidden",
        "after_due_date",
        "after_published",
    )
    assert results["tests"], "a graded run lists its tests"
    for test in results["tests"]:
        assert set(test) >= {
            "name",
            "score",
            "max_score",
            "status",
            "output",
            "tags",
            "visibility",
        }
        assert test["status"] in ("passed", "failed")
        assert 0 <= test["score"] <= test["max_score"]
        assert test["tags"] and all(isinstance(t, str) for t in test["tags"])
    assert abs(sum(t["score"] for t in results["tests"]) - results["score"]) < 1e-6


def test_grade_reference_earns_full_marks(paths: Paths, tmp_path: Path) -> None:
    report = grade(reference_notebook(paths, tmp_path, "w01_autoencoder"), CFG, paths)
    failed = [(t.name, t.output) for t in report.tests if t.score < t.max_score]
    assert not failed
    assert report.score == report.max_score > 0
    files = write_results(report, tmp_path / "out")
    results = read_json(files["results"])
    check_gradescope_schema(results)
    fingerprint = read_json(files["fingerprint"])
    assert {"torch", "device", "seed", "sandbox", "submission_sha256"} <= set(
        fingerprint
    )


def test_grade_template_earns_zero_without_crashing(
    paths: Paths, tmp_path: Path
) -> None:
    assignment = get_assignment("w01_autoencoder", paths)
    path = tmp_path / "template.ipynb"
    path.write_text(render_template(assignment))
    report = grade(path, CFG, paths)
    assert report.score == 0 and report.fatal is None
    assert len(report.tests) >= 10
    assert all(t.output for t in report.tests), "every failed test says why"
    check_gradescope_schema(gradescope_results(report))


HOSTILE_CELL = """
import os
open("/tmp/rlgrade-top-level-ran", "w").write("top-level code ran")

def load_data(batch_size=128, train_split="unlabeled", test_split="test"):
    while True:
        pass

def validate(model, val_loader, criterion, device):
    os._exit(1)

def train_one_epoch(model, optimizer, train_loader, criterion, device):
    return open("{secret}").read()

def train(model, optimizer, num_epochs, train_loader, val_loader, criterion, device):
    raise RuntimeError(open("{git_head}").read())
"""


@pytest.mark.sandbox
@pytest.mark.skipif(
    not bwrap_works(),
    reason="bubblewrap is not installed or unusable: "
    "process mode cannot hide the reference",
)
def test_grade_hostile_notebook_is_contained(paths: Paths, tmp_path: Path) -> None:
    marker = Path("/tmp/rlgrade-top-level-ran")
    marker.unlink(missing_ok=True)
    nb = nbformat.read(
        reference_notebook(paths, tmp_path, "w01_autoencoder"), as_version=4
    )
    secret = get_assignment("w01_autoencoder", paths).reference_source
    git_head = paths.home / ".git" / "HEAD"
    cell = HOSTILE_CELL.format(secret=secret, git_head=git_head)
    nb.cells.append(nbformat.v4.new_code_cell(cell))
    path = tmp_path / "hostile.ipynb"
    nbformat.write(nb, path)
    cfg = dataclasses.replace(
        CFG, limits=dataclasses.replace(CFG.limits, probe_timeout_s=10)
    )
    report = grade(path, cfg, paths)
    assert not marker.exists(), "top-level code must never run"
    by_item = report.by_item()
    for item in ("load_data", "validate", "train_one_epoch", "train"):
        assert by_item[item][0] == 0, item
    unit = [t for t in report.tests if t.item == "Autoencoder" and t.tier == "unit"]
    assert unit and all(t.score == t.max_score for t in unit), (
        "a crash costs only its tests"
    )
    outputs = " ".join(t.output for t in report.tests)
    assert "did not finish in time" in outputs
    assert "worker" in outputs and "exited with code 1" in outputs
    assert "START CODE HERE" not in outputs, "the reference must stay hidden"
    assert "refs/heads" not in outputs, "the checkout (.git) must stay hidden"


@pytest.mark.parametrize(
    "assignment", [a.id for a in list_assignments(Paths.discover())]
)
def test_validate_every_assignment(assignment: str, paths: Paths) -> None:
    """CI's proof: reference full marks, template zero, every mutant loses the right
    points."""
    from autograder.validate import validate_assignment

    cases = validate_assignment(
        get_assignment(assignment, paths), GradeConfig(assignment=assignment), paths
    )
    bad = [(c.name, c.detail) for c in cases if not c.ok]
    assert not bad
    assert sum(c.kind == "mutant" for c in cases) >= 6
