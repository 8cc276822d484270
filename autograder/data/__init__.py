"""Writers of the ``tiny`` profile: small synthetic data and weights in the real
formats.

Each writer module has ``is_prepared(root) -> bool`` and ``write(root)``; the list
below is the order in which :func:`prepare_tiny` runs them.
"""

from __future__ import annotations

import fcntl
import importlib
import logging
from pathlib import Path

__all__ = ["WRITERS", "prepare_tiny"]

log = logging.getLogger(__name__)

#: writer modules under autograder.data, in the order they run
WRITERS = ["stl10", "torchvision_weights", "moco"]


def prepare_tiny(root: Path, only: list[str] | None = None) -> list[str]:
    """Run every writer whose output is missing or stale; return the names written."""
    written = []
    root.mkdir(parents=True, exist_ok=True)
    # several graders may start at once on a fresh machine: one writes, the others wait
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in only or WRITERS:
            module = importlib.import_module(f"{__name__}.{name}")
            if not module.is_prepared(root):
                log.info("writing tiny %s to %s", name, root)
                module.write(root)
                written.append(name)
    return written
