"""The command line: exit codes, messages, and what `grade` writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.cli import main
from tests.conftest import read_json, write_notebook


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_cli_unknown_assignment_is_a_usage_error(capsys, tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "a.ipynb", ["x = 1"])
    code, text = run(
        capsys, "grade", str(nb), "-a", "w99_nothing", "--out", str(tmp_path / "o")
    )
    assert code == 2
    assert "unknown assignment 'w99_nothing'" in text and "w01_autoencoder" in text


def test_cli_missing_submission_is_a_usage_error(capsys, tmp_path: Path) -> None:
    code, text = run(
        capsys, "grade", str(tmp_path / "missing.ipynb"), "-a", "w01_autoencoder"
    )
    assert code == 2 and "does not exist" in text


def test_cli_unknown_option_is_a_usage_error(capsys) -> None:
    code, _ = run(capsys, "grade", "--frobnicate")
    assert code == 2


def test_cli_broken_notebook_grades_to_zero_with_a_message(
    capsys, tmp_path: Path
) -> None:
    bad = tmp_path / "A01_autoencoder.ipynb"
    bad.write_text("{ this is not json")
    out = tmp_path / "out"
    code, text = run(
        capsys, "grade", str(bad), "-a", "w01_autoencoder", "--out", str(out)
    )
    assert code == 0
    results = read_json(out / "results.json")
    assert results["score"] == 0 and results["max_score"] > 0
    assert "not a readable notebook" in results["output"]
    assert all(t["score"] == 0 for t in results["tests"])
    assert "could not be graded" in (out / "feedback.md").read_text()


def test_cli_list_and_version(capsys) -> None:
    code, text = run(capsys, "list")
    assert code == 0 and "w01_autoencoder" in text
    code, text = run(capsys, "--version")
    assert code == 0 and "rlgrade" in text


def test_cli_templates_are_up_to_date(capsys) -> None:
    code, text = run(capsys, "templates", "--check")
    assert code == 0, text
