"""Generating student templates from the reference (the single source).

The reference notebook is a jupytext percent script under ``reference/<id>/``.
The pipeline is an ordered list of steps, each a small class named as an action.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

from ._exceptions import RlgradeError
from .assignments import Assignment

__all__ = [
    "StripSolutions",
    "ClearOutputs",
    "AssignCellIds",
    "render_template",
    "write_template",
    "stale_files",
]

log = logging.getLogger(__name__)

START = re.compile(r"^(\s*)### START CODE HERE ###")
END = re.compile(r"^\s*### END CODE HERE ###")


class TemplateError(RlgradeError):
    pass


@dataclass(frozen=True)
class StripSolutions:
    """Empty every START/END CODE HERE region, keeping the markers."""

    def __call__(self, nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                cell.source = self.strip(cell.source, index)
        return nb

    @staticmethod
    def strip(source: str, index: int = 0) -> str:
        out: list[str] = []
        inside = False
        for number, line in enumerate(source.split("\n"), start=1):
            start = START.match(line)
            if start:
                if inside:
                    raise TemplateError(
                        f"cell {index} line {number}: nested START CODE HERE"
                    )
                inside = True
                out += [line, start.group(1)]
            elif END.match(line):
                if not inside:
                    raise TemplateError(
                        f"cell {index} line {number}: END without START"
                    )
                inside = False
                out.append(line)
            elif not inside:
                out.append(line)
        if inside:
            raise TemplateError(f"cell {index}: START CODE HERE without END")
        return "\n".join(out)


@dataclass(frozen=True)
class ClearOutputs:
    def __call__(self, nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nb.metadata.pop("jupytext", None)
        return nb


@dataclass(frozen=True)
class AssignCellIds:
    """Stable cell ids (nbformat would draw random ones), so regenerating is a no-op."""

    def __call__(self, nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        for index, cell in enumerate(nb.cells):
            cell.id = f"{cell.cell_type}-{index:03d}"
        return nb


PIPELINE = (StripSolutions(), ClearOutputs(), AssignCellIds())


def reference_notebook(assignment: Assignment) -> nbformat.NotebookNode:
    return jupytext.read(assignment.reference_source)


def render_template(assignment: Assignment) -> str:
    nb = reference_notebook(assignment)
    for step in PIPELINE:
        nb = step(nb)
    return nbformat.writes(nb) + "\n"


def _shared_helper(assignment: Assignment) -> Path:
    return assignment.paths.reference / "common" / "utils.py"


def write_template(assignment: Assignment) -> list[Path]:
    folder = assignment.template_dir
    folder.mkdir(parents=True, exist_ok=True)
    notebook = folder / assignment.notebook
    notebook.write_text(render_template(assignment))
    helper = folder / "utils.py"
    shutil.copy2(_shared_helper(assignment), helper)
    return [notebook, helper]


def stale_files(assignment: Assignment) -> list[Path]:
    """Template files that differ from what the reference generates now."""
    folder = assignment.template_dir
    stale = []
    notebook = folder / assignment.notebook
    if not notebook.is_file() or notebook.read_text() != render_template(assignment):
        stale.append(notebook)
    helper = folder / "utils.py"
    if (
        not helper.is_file()
        or helper.read_bytes() != _shared_helper(assignment).read_bytes()
    ):
        stale.append(helper)
    return stale
