"""Tiny MoCo v2 checkpoint in the layout of the released
``moco_v2_800ep_pretrain.pth.tar``.

The released file is a dict ``{'epoch', 'arch', 'state_dict', 'optimizer'}`` whose
state dict holds the query encoder only, every key prefixed ``module.encoder_q.``,
with the MLP projection head as ``fc.0`` / ``fc.2``. We write the same layout around
a random-init torchvision ResNet (``arch`` names it, so a loader that builds the model
from ``arch`` runs unchanged). Batch-norm statistics are randomised too, so a loader
that silently skips keys computes a visibly different function.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torchvision

__all__ = ["ARCH", "FILENAME", "PREFIX", "checkpoint_path", "is_prepared", "write"]

#: the smallest torchvision ResNet keeps the tiny profile fast; the real file is
#: resnet50
ARCH = "resnet18"
FILENAME = "moco_v2_800ep_pretrain.pth.tar"
PREFIX = "module.encoder_q."
MLP_OUT = 128
VERSION = 1


def checkpoint_path(root: Path) -> Path:
    return Path(root) / "moco" / FILENAME


@torch.no_grad()
def _encoder_state(arch: str, seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None)
    for name, tensor in model.state_dict().items():
        if name.endswith("running_mean"):
            tensor.copy_(torch.randn(tensor.shape, generator=gen) * 0.1)
        elif name.endswith("running_var"):
            tensor.copy_(torch.rand(tensor.shape, generator=gen) * 0.5 + 0.75)
        elif name.endswith("bn2.weight") or name.endswith("bn1.weight"):
            tensor.copy_(torch.rand(tensor.shape, generator=gen) * 0.5 + 0.5)
        elif name.endswith(".bias") and "bn" in name:
            tensor.copy_(torch.randn(tensor.shape, generator=gen) * 0.05)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}
    # MoCo v2 replaces fc by Linear(d, d) -> ReLU -> Linear(d, 128)
    width = model.fc.in_features
    head = torch.nn.Sequential(
        torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Linear(width, MLP_OUT)
    )
    state.update({f"fc.{k}": v for k, v in head.state_dict().items()})
    return state


def write(root: Path, arch: str = ARCH, seed: int = 77) -> Path:
    path = checkpoint_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    state = {PREFIX + k: v.clone() for k, v in _encoder_state(arch, seed).items()}
    n_params = len(
        [
            k
            for k in state
            if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
        ]
    )
    optimizer = {
        "state": {},
        "param_groups": [
            {
                "lr": 0.0,
                "momentum": 0.9,
                "dampening": 0,
                "weight_decay": 1e-4,
                "nesterov": False,
                "params": list(range(n_params)),
            }
        ],
    }
    tmp = path.with_suffix(".tmp")
    torch.save(
        {"epoch": 800, "arch": arch, "state_dict": state, "optimizer": optimizer}, tmp
    )
    tmp.replace(path)
    stamp = {"version": VERSION, "arch": arch, "seed": seed}
    (path.parent / "rlgrade_version.json").write_text(json.dumps(stamp))
    return path


def is_prepared(root: Path) -> bool:
    stamp = Path(root) / "moco" / "rlgrade_version.json"
    if not stamp.is_file() or not checkpoint_path(root).is_file():
        return False
    return bool(json.loads(stamp.read_text()).get("version") == VERSION)
