"""Data-only transport of probe results from the untrusted worker to the judge.

A result is a tree of dicts, lists, JSON scalars and tensors. Tensors travel in a
safetensors file, everything else as JSON; nothing is ever unpickled. numpy
arrays become tensors on the way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

__all__ = ["encode", "decode", "WireError"]

_SCALARS = (bool, int, float, str, type(None))


class WireError(ValueError):
    """A value that cannot travel, or a file that does not decode."""


def encode(value: Any, path: Path) -> dict[str, Any]:
    """Write the tensors of ``value`` to ``path``; return the JSON-able skeleton."""
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(value, "r", tensors)
    if tensors:
        save_file(tensors, str(path))
    return {"tree": tree, "has_tensors": bool(tensors)}


def decode(skeleton: Mapping[str, Any], path: Path, max_bytes: int) -> Any:
    tensors: dict[str, torch.Tensor] = {}
    if skeleton.get("has_tensors"):
        if not path.is_file():
            raise WireError("the worker announced tensors but wrote no file")
        if path.stat().st_size > max_bytes:
            raise WireError(f"result file is larger than {max_bytes} bytes")
        tensors = load_file(str(path))
    return _decode(skeleton["tree"], tensors)


def _encode(value: Any, key: str, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    if isinstance(value, np.ndarray | np.generic) and not isinstance(value, np.str_):
        value = torch.as_tensor(np.asarray(value))
    if isinstance(value, torch.Tensor):
        # detach, own the memory: safetensors refuses shared or strided storage
        tensors[key] = value.detach().cpu().contiguous().clone()
        return {"t": "tensor", "k": key}
    if isinstance(value, _SCALARS):
        if isinstance(value, float) and not math.isfinite(value):
            return {"t": "float", "v": repr(value)}
        return {"t": "json", "v": value}
    if isinstance(value, Mapping):
        items = {}
        for k, v in value.items():
            if not isinstance(k, str):
                k = str(k)
            items[k] = _encode(v, f"{key}/{k}", tensors)
        return {"t": "dict", "v": items}
    if isinstance(value, list | tuple):
        return {
            "t": "list",
            "v": [_encode(v, f"{key}/{i}", tensors) for i, v in enumerate(value)],
        }
    raise WireError(f"cannot send a value of type {type(value).__name__}")


def _decode(node: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> Any:
    kind = node.get("t")
    if kind == "tensor":
        try:
            return tensors[node["k"]]
        except KeyError as exc:
            raise WireError(f"missing tensor {node['k']!r}") from exc
    if kind == "json":
        if not isinstance(node["v"], _SCALARS):
            raise WireError("non-scalar JSON leaf")
        return node["v"]
    if kind == "float":
        return float(node["v"])
    if kind == "dict":
        return {str(k): _decode(v, tensors) for k, v in node["v"].items()}
    if kind == "list":
        return [_decode(v, tensors) for v in node["v"]]
    raise WireError(f"unknown node kind {kind!r}")


def dumps(obj: Any) -> str:
    """One protocol line."""
    return json.dumps(obj, allow_nan=True, separators=(",", ":"))
