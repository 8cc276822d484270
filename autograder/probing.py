"""What probe code sees inside the worker: its context and small helpers.

Probes live in ``assignments/<id>/probes.py``. Each is a plain function
``probe_x(ns, **kwargs)`` that calls the submission's names through ``ns`` on
grader-chosen inputs and returns plain data (tensors, numbers, lists, dicts).
The same probe runs on the reference (trusted worker) and on the submission
(sandboxed worker); the judge compares the two.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "Context",
    "context",
    "seed_everything",
    "spy_forward",
    "deterministic_init",
    "require",
]


@dataclass(frozen=True)
class Context:
    profile: str
    data_root: Path
    scratch: Path
    seed: int


_CONTEXT: Context | None = None


def set_context(ctx: Context) -> None:
    global _CONTEXT
    _CONTEXT = ctx


def context() -> Context:
    if _CONTEXT is None:
        raise RuntimeError("probe context not set: probes run only inside a worker")
    return _CONTEXT


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def require(ns: Any, name: str) -> Any:
    """The submission's own ``name``, or a NameError that tells the student what is
    missing.

    A function or class that only came in through an import (``from utils import *``
    brings a ``load_data`` of its own) is not the student's answer.
    """
    try:
        obj = getattr(ns, name)
    except AttributeError:
        raise NameError(f"'{name}' is not defined in your notebook") from None
    home = getattr(obj, "__module__", None) if callable(obj) else None
    if home is not None and home != getattr(ns, "__name__", home):
        raise NameError(
            f"'{name}' is not defined in your notebook (the one imported from "
            f"{home} is not graded)"
        )
    return obj


@contextlib.contextmanager
def spy_forward(model: nn.Module) -> Iterator[list[dict[str, bool]]]:
    """Record, for every forward call, the model's mode and whether autograd was on."""
    calls: list[dict[str, bool]] = []

    def hook(module: nn.Module, args: Any) -> None:
        calls.append({"training": module.training, "grad": torch.is_grad_enabled()})

    handle = model.register_forward_pre_hook(hook)
    try:
        yield calls
    finally:
        handle.remove()


@torch.no_grad()
def deterministic_init(modules: list[nn.Module], seed: int, scale: float = 0.2) -> None:
    """Give layers seeded weights by their order, so two implementations that build
    the same layers in the same order compute the same function."""
    gen = torch.Generator().manual_seed(seed)
    for module in modules:
        for _, param in sorted(module.named_parameters(recurse=False)):
            param.copy_(torch.randn(param.shape, generator=gen) * scale)
