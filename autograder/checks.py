"""Assertions for hidden tests whose messages never reveal hidden inputs or values.

A failing check raises :class:`Mismatch`; its message is what the student reads.
"""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = ["Mismatch", "check", "check_close", "check_equal", "check_shape"]


class Mismatch(AssertionError):
    """A graded expectation that the submission does not meet."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise Mismatch(message)


def check_shape(actual: Any, expected: tuple[int, ...], what: str) -> None:
    shape = tuple(actual.shape) if hasattr(actual, "shape") else tuple(actual)
    check(
        shape == tuple(expected),
        f"{what} has shape {shape}, expected {tuple(expected)}",
    )


def check_equal(actual: Any, expected: Any, what: str, *, reveal: bool = False) -> None:
    """Exact equality; ``reveal`` puts both values in the message (public facts
    only)."""
    if isinstance(actual, torch.Tensor) or isinstance(expected, torch.Tensor):
        same = torch.equal(torch.as_tensor(actual), torch.as_tensor(expected))
    else:
        same = actual == expected
    if not same:
        detail = f": got {actual!r}, expected {expected!r}" if reveal else ""
        raise Mismatch(f"{what} is not what the exercise asks for{detail}")


def check_close(
    actual: Any, expected: Any, what: str, *, rtol: float = 1e-4, atol: float = 1e-5
) -> None:
    """Like ``torch.testing.assert_close`` with the stated tolerances, quieter
    messages."""
    a = (
        torch.as_tensor(actual, dtype=torch.float64)
        if not isinstance(actual, torch.Tensor)
        else actual.detach().double()
    )
    e = (
        torch.as_tensor(expected, dtype=torch.float64)
        if not isinstance(expected, torch.Tensor)
        else expected.detach().double()
    )
    if a.shape != e.shape:
        raise Mismatch(f"{what} has shape {tuple(a.shape)}, expected {tuple(e.shape)}")
    if not torch.isfinite(a).all():
        raise Mismatch(f"{what} contains NaN or infinite values")
    try:
        torch.testing.assert_close(a, e, rtol=rtol, atol=atol)
    except AssertionError:
        diff = (a - e).abs().max().item() if a.numel() else math.inf
        raise Mismatch(
            f"{what} differs from the expected result (largest difference {diff:.3g}; "
            f"tolerance atol={atol:g}, rtol={rtol:g})"
        ) from None
