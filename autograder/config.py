"""Where things live and how a grading run is configured.

Every knob is declared once, here, as a field of a frozen dataclass; the CLI
builds variants with ``dataclasses.replace``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PROFILES", "Limits", "Paths", "GradeConfig"]

#: data profiles: ``tiny`` is synthetic data in the real formats (CPU, seconds),
#: ``full`` the real datasets and weights (GPU).
PROFILES = ("tiny", "full")


@dataclass(frozen=True)
class Paths:
    """The course root (assignments/, reference/, student_templates/) and state dirs."""

    home: Path
    data: Path
    cache: Path

    @property
    def assignments(self) -> Path:
        return self.home / "assignments"

    @property
    def reference(self) -> Path:
        return self.home / "reference"

    @property
    def templates(self) -> Path:
        return self.home / "student_templates"

    def data_root(self, profile: str) -> Path:
        return self.data / profile

    @classmethod
    def discover(cls) -> Paths:
        """Course root from ``RLGRADE_HOME``, else the checkout holding this package."""
        home = Path(
            os.environ.get("RLGRADE_HOME", Path(__file__).resolve().parent.parent)
        )
        state = home / ".rlgrade"
        data = Path(os.environ.get("RLGRADE_DATA", state / "data"))
        cache = Path(os.environ.get("RLGRADE_CACHE", state / "cache"))
        return cls(home=home.resolve(), data=data.resolve(), cache=cache.resolve())


@dataclass(frozen=True)
class Limits:
    """Resource limits of one untrusted worker process."""

    #: wall-clock seconds one probe may run before the worker is killed
    probe_timeout_s: float = 120.0
    #: seconds allowed for the worker to start and load the submission
    start_timeout_s: float = 120.0
    #: address-space data limit (RLIMIT_DATA) in MiB
    memory_mb: int = 6144
    #: CPU seconds over the worker's whole life (RLIMIT_CPU)
    cpu_s: int = 1800
    #: bytes of student stdout/stderr kept; the rest is counted and dropped
    output_bytes: int = 64 * 1024
    #: largest file the worker may write (RLIMIT_FSIZE), MiB
    file_mb: int = 1024
    #: torch intra-op threads in the worker
    threads: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))


@dataclass(frozen=True)
class GradeConfig:
    """One grading run: which assignment, which data, which sandbox."""

    assignment: str
    profile: str = "tiny"
    #: ``auto`` picks bubblewrap where it works, else ``process``
    sandbox: str = "auto"
    #: master seed: probes derive theirs from it so a grade can be replayed
    seed: int = 0
    limits: Limits = field(default_factory=Limits)
    #: where the reference's probe outputs are cached between submissions
    use_cache: bool = True
    #: further folders the worker must not see (the results folder, a gradebook)
    hide: tuple[Path, ...] = ()
