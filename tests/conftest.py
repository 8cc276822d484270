"""Shared fixtures of the harness tests."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from autograder.config import Paths

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def paths() -> Paths:
    return Paths.discover()


def write_notebook(
    path: Path, cells: list[str | tuple[str, str]], **extra: object
) -> Path:
    """A notebook whose cells are code strings or (cell_type, source) pairs."""
    nb = nbformat.v4.new_notebook()
    for cell in cells:
        kind, source = cell if isinstance(cell, tuple) else ("code", cell)
        nb.cells.append(
            nbformat.v4.new_markdown_cell(source)
            if kind == "markdown"
            else nbformat.v4.new_code_cell(source)
        )
    nb.metadata.update(extra)
    nbformat.write(nb, path)
    return path


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
