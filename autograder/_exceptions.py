"""The one exception hierarchy of rlgrade.

::

    RlgradeError                    exit 1 unless stated
    ├── UsageError                  exit 2  bad command line or arguments
    │   └── UnknownAssignment       exit 2  no such assignment id
    ├── SubmissionError             exit 1  a hand-in that cannot be read at all
    ├── InstallationError           exit 3  missing tool, data or dependency
    ├── DataError                   exit 3  dataset files missing or corrupted
    └── WorkerError                         the untrusted worker failed a request
        ├── ProbeFailed                     student code raised inside a probe
        ├── WorkerTimeout                   a probe ran past its wall-clock limit
        └── WorkerCrashed                   the worker died (exit, signal, OOM)

Library code raises; only the CLI turns an exception into an exit code.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "InstallationError",
    "ProbeFailed",
    "RlgradeError",
    "SubmissionError",
    "UnknownAssignment",
    "UsageError",
    "WorkerCrashed",
    "WorkerError",
    "WorkerTimeout",
]


class RlgradeError(Exception):
    """Base class: carries the exit code and an optional hint for the user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def format(self) -> str:
        text = f"error: {self.message}"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class UsageError(RlgradeError):
    exit_code = 2


class UnknownAssignment(UsageError):
    pass


class SubmissionError(RlgradeError):
    """The hand-in cannot be read at all (no notebook, broken JSON, bad zip)."""


class InstallationError(RlgradeError):
    exit_code = 3


class DataError(RlgradeError):
    exit_code = 3


class WorkerError(RlgradeError):
    """A request to the untrusted worker did not produce a result."""

    #: short machine-readable kind, shown in feedback
    kind = "worker-error"


class ProbeFailed(WorkerError):
    kind = "exception"

    def __init__(self, message: str, *, trace: str = "") -> None:
        super().__init__(message)
        self.trace = trace


class WorkerTimeout(WorkerError):
    kind = "timeout"


class WorkerCrashed(WorkerError):
    kind = "crash"
