"""Proving an assignment: the reference earns full marks, the template earns zero,
and every known student bug (a mutant) loses points on the item it breaks."""

from __future__ import annotations

import ast
import dataclasses
import logging
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .assignments import Assignment
from .config import GradeConfig, Paths
from .judge import GradeReport, grade
from .templates import reference_notebook

__all__ = ["Case", "Mutant", "load_mutants", "validate_assignment"]

log = logging.getLogger(__name__)

_EXPECT = re.compile(r"^#\s*expect:\s*(.+)$", re.M)


@dataclass(frozen=True)
class Mutant:
    """A typical student bug: replacement definitions appended as a last notebook
    cell."""

    name: str
    description: str
    expect: tuple[str, ...]
    source: str


@dataclass
class Case:
    name: str
    kind: str  # reference | template | mutant
    expect: str
    report: GradeReport | None = None
    ok: bool = False
    detail: str = ""
    lost: list[str] = field(default_factory=list)


def load_mutants(assignment: Assignment) -> list[Mutant]:
    mutants = []
    for path in sorted(assignment.mutants_dir.glob("*.py")):
        source = path.read_text()
        doc = ast.get_docstring(ast.parse(source)) or path.stem
        found = _EXPECT.search(source)
        if not found:
            raise ValueError(f"{path}: a mutant needs a '# expect: item, ...' line")
        expect = tuple(s.strip() for s in found.group(1).split(","))
        mutants.append(Mutant(path.stem, doc.splitlines()[0], expect, source))
    return mutants


def _notebook(
    assignment: Assignment,
    extra_cell: str | None,
    folder: Path,
    name: str,
    template: bool = False,
) -> Path:
    nb = reference_notebook(assignment)
    if template:
        from .templates import PIPELINE

        for step in PIPELINE:
            nb = step(nb)
    if extra_cell is not None:
        nb.cells.append(nbformat.v4.new_code_cell(extra_cell))
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def validate_assignment(
    assignment: Assignment, cfg: GradeConfig, paths: Paths
) -> list[Case]:
    cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="rlgrade-validate-") as tmp:
        folder = Path(tmp)
        plan = [
            Case("reference", "reference", "full marks"),
            Case("template", "template", "0, no crash"),
        ]
        sources: dict[str, Path] = {
            "reference": _notebook(assignment, None, folder, "reference"),
            "template": _notebook(assignment, None, folder, "template", template=True),
        }
        for mutant in load_mutants(assignment):
            plan.append(
                Case(mutant.name, "mutant", "loses on " + ", ".join(mutant.expect))
            )
            sources[mutant.name] = _notebook(
                assignment, mutant.source, folder, mutant.name
            )
        expects = {m.name: m.expect for m in load_mutants(assignment)}
        for case in plan:
            log.info("validate %s: %s", assignment.id, case.name)
            report = grade(
                sources[case.name],
                dataclasses.replace(cfg, assignment=assignment.id),
                paths,
            )
            case.report = report
            case.lost = [
                item for item, (got, of) in report.by_item().items() if got < of
            ]
            if case.kind == "reference":
                case.ok = report.score == report.max_score and report.max_score > 0
                case.detail = _failures(report) if not case.ok else ""
            elif case.kind == "template":
                case.ok = (
                    report.score == 0 and report.fatal is None and bool(report.tests)
                )
                case.detail = _failures(report, passed=True) if not case.ok else ""
            else:
                missing = [i for i in expects[case.name] if i not in case.lost]
                case.ok = report.score < report.max_score and not missing
                if missing:
                    case.detail = "did not lose points on " + ", ".join(missing)
            cases.append(case)
    return cases


def _failures(report: GradeReport, passed: bool = False) -> str:
    names = [
        t.name + (f": {t.output.splitlines()[0]}" if t.output else "")
        for t in report.tests
        if (t.score > 0) == passed and (passed or t.score < t.max_score)
    ]
    return "; ".join(names)[:500]
