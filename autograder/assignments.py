"""The registry of graded exercises: ``assignments/<id>/assignment.toml`` and
friends."""

from __future__ import annotations

import dataclasses
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._exceptions import UnknownAssignment, UsageError
from .config import Limits, Paths

__all__ = ["Assignment", "get_assignment", "list_assignments"]


@dataclass(frozen=True)
class Assignment:
    """One graded exercise and where its parts live.

    ``assignments/<id>/``: ``assignment.toml`` (spec), ``probes.py`` (worker side),
    ``tests/`` (hidden tests, judge side), ``mutants/`` (known student bugs).
    ``reference/<id>/``: the solution notebook (jupytext percent) and ``bands.json``.
    ``student_templates/<id>/``: the generated notebook and the helper module.
    """

    id: str
    title: str
    notebook: str
    items: tuple[str, ...]
    spec: dict[str, Any]
    paths: Paths

    @property
    def root(self) -> Path:
        return self.paths.assignments / self.id

    @property
    def probes_file(self) -> Path:
        return self.root / "probes.py"

    @property
    def tests_dir(self) -> Path:
        return self.root / "tests"

    @property
    def mutants_dir(self) -> Path:
        return self.root / "mutants"

    @property
    def reference_dir(self) -> Path:
        return self.paths.reference / self.id

    @property
    def reference_source(self) -> Path:
        return self.reference_dir / (Path(self.notebook).stem + ".py")

    @property
    def bands_file(self) -> Path:
        return self.reference_dir / "bands.json"

    @property
    def template_dir(self) -> Path:
        return self.paths.templates / self.id

    @property
    def helper_files(self) -> list[Path]:
        return sorted(self.template_dir.glob("*.py"))

    def perf(self, profile: str) -> dict[str, Any]:
        """The performance-tier budget for a data profile."""
        table: dict[str, Any] = self.spec.get("performance", {})
        try:
            return dict(table[profile])
        except KeyError:
            raise UsageError(
                f"{self.id} has no performance budget for profile {profile!r}"
            ) from None

    def limits(self, base: Limits) -> Limits:
        overrides = self.spec.get("limits", {})
        known = {f.name for f in dataclasses.fields(Limits)}
        unknown = set(overrides) - known
        if unknown:
            raise UsageError(
                f"{self.id}: unknown limits {sorted(unknown)} in assignment.toml"
            )
        return dataclasses.replace(base, **overrides)


_REGISTRY: dict[tuple[Path, str], Assignment] = {}


def _load(folder: Path, paths: Paths) -> Assignment:
    spec = tomllib.loads((folder / "assignment.toml").read_text())
    return Assignment(
        id=spec["id"],
        title=spec.get("title", spec["id"]),
        notebook=spec["notebook"],
        items=tuple(spec.get("items", ())),
        spec=spec,
        paths=paths,
    )


def list_assignments(paths: Paths) -> list[Assignment]:
    found = []
    for toml in sorted(paths.assignments.glob("*/assignment.toml")):
        assignment = _load(toml.parent, paths)
        key = (paths.home, assignment.id)
        if key in _REGISTRY and _REGISTRY[key].root != assignment.root:
            warnings.warn(
                f"assignment id {assignment.id!r} registered twice", stacklevel=2
            )
        _REGISTRY[key] = assignment
        found.append(assignment)
    return found


def get_assignment(assignment_id: str, paths: Paths) -> Assignment:
    for assignment in list_assignments(paths):
        if assignment.id == assignment_id:
            return assignment
    known = ", ".join(a.id for a in list_assignments(paths)) or "none"
    raise UnknownAssignment(
        f"unknown assignment {assignment_id!r}", hint=f"known: {known}"
    )
