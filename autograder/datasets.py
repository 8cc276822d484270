"""The grader's seam into torchvision's dataset classes.

Student code calls ``torchvision.datasets.STL10(root=..., download=True)`` with
whatever root it likes. Inside a worker, :func:`install` replaces that name by a
subclass which (1) reads from the grader's data root, (2) never downloads, and
(3) in the ``tiny`` profile swaps torchvision's checksum table for the one written
next to the synthetic files. Everything else -- file parsing, folds, transforms --
is torchvision's own code.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torchvision

from ._exceptions import DataError

__all__ = ["CHECKSUMS", "graded_stl10", "install", "stl10_labels", "ensure_data"]

log = logging.getLogger(__name__)

#: file written next to synthetic data: {filename: md5}
CHECKSUMS = "rlgrade_checksums.json"

_ORIGINAL_STL10 = torchvision.datasets.STL10


def _checksum_table(folder: Path) -> dict[str, str] | None:
    path = folder / CHECKSUMS
    if not path.is_file():
        return None
    table: dict[str, str] = json.loads(path.read_text())
    return table


def graded_stl10(profile: str, data_root: Path) -> type[torchvision.datasets.STL10]:
    base = _ORIGINAL_STL10
    folder = Path(data_root) / base.base_folder
    table = _checksum_table(folder) if profile == "tiny" else None
    attrs: dict[str, Any] = {"__doc__": base.__doc__, "__module__": base.__module__}
    if table is not None:
        attrs["train_list"] = [[name, table[name]] for name, _ in base.train_list]
        attrs["test_list"] = [[name, table[name]] for name, _ in base.test_list]

    def __init__(
        self: Any,
        root: Any = None,
        split: str = "train",
        folds: int | None = None,
        transform: Any = None,
        target_transform: Any = None,
        download: bool = False,
    ) -> None:
        if not folder.is_dir():
            raise RuntimeError(
                f"STL10 is not available to the grader under {data_root} "
                "(a grading-machine problem, not yours: tell your TA)"
            )
        base.__init__(
            self,
            str(data_root),
            split=split,
            folds=folds,
            transform=transform,
            target_transform=target_transform,
            download=False,
        )

    attrs["__init__"] = __init__
    return type("STL10", (base,), attrs)


def install(profile: str, data_root: Path) -> None:
    """Point torchvision's dataset names at the grader's data (worker only)."""
    cls = graded_stl10(profile, data_root)
    torchvision.datasets.STL10 = cls  # type: ignore[misc]
    torchvision.datasets.stl10.STL10 = cls  # type: ignore[misc]


def stl10_labels(profile: str, data_root: Path, split: str) -> np.ndarray:
    """Labels read in the trusted process, so a worker cannot forge them."""
    ds = graded_stl10(profile, data_root)(split=split)
    return np.asarray(ds.labels, dtype=np.int64)


def ensure_data(profile: str, data_root: Path) -> Path:
    """Make the ``tiny`` data on demand; check that ``full`` data is present."""
    from .data import prepare_tiny

    if profile == "tiny":
        prepare_tiny(data_root)
        return data_root
    folder = data_root / _ORIGINAL_STL10.base_folder
    if not folder.is_dir():
        raise DataError(
            f"the full STL10 dataset is not under {data_root}",
            hint="download stl10_binary.tar.gz there once "
            "(torchvision STL10(download=True)) "
            "or point RLGRADE_DATA at a folder holding full/stl10_binary",
        )
    return data_root
