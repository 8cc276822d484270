"""Tiny-profile stand-ins for torchvision's pretrained ResNet18 checkpoint.

``torchvision.models.resnet18(weights=ResNet18_Weights.IMAGENET1K_V1)`` reads
``$TORCH_HOME/hub/checkpoints/resnet18-f37072fd.pth``; the worker sets
``TORCH_HOME=<data_root>/torch``. We write a seeded random-init state dict there, in
the same format torchvision publishes (``torch.save`` of the plain state dict), so
student code that asks for ImageNet weights runs unchanged and offline.

No checksum seam is needed: ``torch.hub.load_state_dict_from_url`` compares the
file's hash prefix only while downloading, never for a file already in the cache.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["FILES", "write", "is_prepared", "checkpoint_path"]

#: torchvision weight files the tiny profile provides: file name -> builder name
FILES = {"resnet18-f37072fd.pth": "resnet18"}
VERSION = 1
# one level below the data root, so the judge's data stamp (*/rlgrade_*.json) sees it
_STAMP = "rlgrade_torchvision_weights.json"


def checkpoint_path(root: Path, filename: str) -> Path:
    return Path(root) / "torch" / "hub" / "checkpoints" / filename


def write(root: Path, seed: int = 4321) -> None:
    import torch
    import torchvision

    for offset, (filename, builder) in enumerate(sorted(FILES.items())):
        path = checkpoint_path(root, filename)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(seed + offset)
        model = getattr(torchvision.models, builder)(weights=None)
        tmp = path.with_suffix(".tmp")
        torch.save(model.state_dict(), tmp)
        tmp.replace(path)
    stamp = {"version": VERSION, "seed": seed, "files": sorted(FILES)}
    (Path(root) / "torch" / _STAMP).write_text(json.dumps(stamp))


def is_prepared(root: Path) -> bool:
    stamp = Path(root) / "torch" / _STAMP
    if not stamp.is_file() or not all(
        checkpoint_path(root, f).is_file() for f in FILES
    ):
        return False
    return bool(json.loads(stamp.read_text()).get("version") == VERSION)
