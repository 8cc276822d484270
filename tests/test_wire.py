"""The data-only channel between worker and judge."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from autograder.wire import WireError, decode, encode


def test_wire_roundtrip_nested(tmp_path) -> None:
    value = {
        "a": torch.arange(6.0).view(2, 3)[:, 1:],
        "b": [1, 2.5, "x", None, True],
        "c": {"state": {"w": torch.ones(2)}},
        "d": np.float32(3.5),
        "nan": math.nan,
    }
    skeleton = encode(value, tmp_path / "r.safetensors")
    back = decode(skeleton, tmp_path / "r.safetensors", max_bytes=1 << 20)
    assert torch.equal(back["a"], value["a"])
    assert back["b"] == [1, 2.5, "x", None, True]
    assert torch.equal(back["c"]["state"]["w"], torch.ones(2))
    assert float(back["d"]) == 3.5 and math.isnan(back["nan"])


def test_wire_refuses_objects(tmp_path) -> None:
    with pytest.raises(WireError):
        encode({"model": torch.nn.Linear(2, 2)}, tmp_path / "r.safetensors")


def test_wire_refuses_bad_skeletons_and_big_files(tmp_path) -> None:
    with pytest.raises(WireError):
        decode({"tree": {"t": "pickle", "v": "..."}}, tmp_path / "x", max_bytes=10)
    skeleton = encode({"t": torch.zeros(1000)}, tmp_path / "r.safetensors")
    with pytest.raises(WireError, match="larger than"):
        decode(skeleton, tmp_path / "r.safetensors", max_bytes=100)
