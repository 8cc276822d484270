"""Tiny STL10 in torchvision's binary layout, with learnable class structure.

Each class has its own palette and an upright shape drawn over a sky-to-ground
background, with jitter in position, size, colour and noise. So a linear probe on
good features beats chance, and the images have an "up" (rotation prediction can
learn), while no two images are the same.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

__all__ = ["SIZES", "CLASSES", "write", "is_prepared", "render"]

SIZES = {"train": 500, "test": 500, "unlabeled": 1000}
CLASSES = [
    "airplane",
    "bird",
    "car",
    "cat",
    "deer",
    "dog",
    "horse",
    "monkey",
    "ship",
    "truck",
]
SIDE = 96
VERSION = 1

_HUES = np.array(
    [
        [230, 60, 50],
        [40, 160, 60],
        [50, 90, 220],
        [230, 200, 40],
        [170, 60, 200],
        [40, 200, 200],
        [240, 130, 30],
        [120, 120, 120],
        [200, 60, 140],
        [90, 50, 20],
    ],
    dtype=np.float32,
)


def _shape_mask(
    cls: int, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, s: float
) -> np.ndarray:
    """Boolean mask of class ``cls``'s shape centred at (cy, cx) with size ``s``
    (pixels)."""
    dy, dx = (yy - cy) / s, (xx - cx) / s
    kind = cls % 5
    if kind == 0:  # triangle pointing up
        mask = (dy > -1) & (dy < 1) & (np.abs(dx) < (dy + 1) / 2)
    elif kind == 1:  # tall bar with a head on top
        mask = ((np.abs(dx) < 0.25) & (np.abs(dy) < 1)) | (
            (dx**2 + (dy + 1) ** 2) < 0.2
        )
    elif kind == 2:  # "T"
        mask = ((np.abs(dx) < 0.2) & (dy > -1) & (dy < 1)) | (
            (np.abs(dy + 0.9) < 0.2) & (np.abs(dx) < 1)
        )
    elif kind == 3:  # "L"
        mask = ((np.abs(dx + 0.6) < 0.2) & (np.abs(dy) < 1)) | (
            (np.abs(dy - 0.8) < 0.2) & (dx > -0.8) & (dx < 0.9)
        )
    else:  # disc with a notch on top
        mask = (dx**2 + dy**2 < 1) & ~((np.abs(dx) < 0.25) & (dy < -0.3))
    if cls >= 5:  # the second five classes: a hollow version of the same outline
        inner = _shape_mask(cls - 5, yy, xx, cy, cx, s * 0.55)
        mask = mask & ~inner
    return mask


def render(cls: int, rng: np.random.Generator) -> np.ndarray:
    """One HWC uint8 image of class ``cls``."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    t = yy[..., None] / (SIDE - 1)
    sky = np.array([170, 200, 235], np.float32) + rng.normal(0, 15, 3)
    ground = np.array([90, 80, 60], np.float32) + rng.normal(0, 15, 3)
    horizon = rng.uniform(0.55, 0.75)
    blend = np.clip((t - horizon) * 8 + 0.5, 0, 1)
    img = sky * (1 - blend) + ground * blend
    colour = np.clip(_HUES[cls] + rng.normal(0, 20, 3), 0, 255)
    cy = rng.uniform(0.35, 0.6) * SIDE
    cx = rng.uniform(0.3, 0.7) * SIDE
    s = rng.uniform(0.16, 0.26) * SIDE
    mask = _shape_mask(cls, yy, xx, cy, cx, s)
    img[mask] = colour
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    rng.shuffle(labels)
    images = np.stack([render(int(c), rng) for c in labels])
    return images, labels


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def write(root: Path, sizes: dict[str, int] | None = None, seed: int = 1234) -> Path:
    """Write ``root/stl10_binary`` as torchvision expects it; returns that folder."""
    sizes = {**SIZES, **(sizes or {})}
    folder = Path(root) / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    for offset, split in enumerate(("train", "test", "unlabeled")):
        images, labels = _images(sizes[split], seed + offset)
        # STL10 stores each image channel-major and column-major: N x C x W x H
        images.transpose(0, 3, 2, 1).tofile(folder / f"{split}_X.bin")
        if split != "unlabeled":
            (labels + 1).astype(np.uint8).tofile(folder / f"{split}_y.bin")
    (folder / "class_names.txt").write_text("\n".join(CLASSES) + "\n")
    n_train = sizes["train"]
    folds = [" ".join(str(i) for i in range(k, n_train, 10)) for k in range(10)]
    (folder / "fold_indices.txt").write_text("\n".join(folds) + "\n")
    table = {
        name: _md5(folder / name)
        for name in (
            "train_X.bin",
            "train_y.bin",
            "unlabeled_X.bin",
            "test_X.bin",
            "test_y.bin",
        )
    }
    (folder / "rlgrade_checksums.json").write_text(json.dumps(table, indent=1))
    (folder / "rlgrade_version.json").write_text(
        json.dumps({"version": VERSION, "sizes": sizes, "seed": seed})
    )
    return folder


def is_prepared(root: Path) -> bool:
    stamp = Path(root) / "stl10_binary" / "rlgrade_version.json"
    if not stamp.is_file():
        return False
    return bool(json.loads(stamp.read_text()).get("version") == VERSION)
