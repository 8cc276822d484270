"""Helper functions of the course notebooks (``from utils import *``).

Shared by every vision exercise. Written for the pinned library versions: checkpoints
are loaded with ``weights_only=True`` (numbers are stored as plain Python floats, so
this works), and t-SNE uses scikit-learn's ``max_iter``.
"""

import random

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms as T

__all__ = [
    "imshow", "reproducibility", "save_model", "load_model", "get_features",
]


def _as_float(value):
    """Plain Python float for tensors and numpy scalars, so checkpoints stay weights-only."""
    if isinstance(value, torch.Tensor):
        return float(value.detach().cpu().item())
    if isinstance(value, np.generic):
        return value.item()
    return value


def imshow(img, mean=0.0, std=1.0):
    """Show a CHW image tensor, undoing a normalisation with ``mean`` and ``std``."""
    mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1)
    picture = (img.detach().cpu() * std + mean).clamp(0, 1)
    plt.imshow(picture.permute(1, 2, 0).numpy())


def reproducibility(SEED):
    """Seed python, numpy and torch (CPU and CUDA) and make cuDNN deterministic."""
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(SEED)


def save_model(model, path, epoch, optimizer, val_loss):
    torch.save({
        "epoch": int(epoch),
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "loss": _as_float(val_loss),
    }, path)


def load_model(model, path):
    """Load a checkpoint written by :func:`save_model` into ``model``."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["model_state_dict"])
    print(f"Model {path} is loaded from epoch {checkpoint['epoch']}, loss {checkpoint['loss']}")
    return model


@torch.no_grad()
def get_features(model, dataloader, device):
    """Run ``model`` over ``dataloader``; return flattened features and labels (CPU)."""
    model = model.to(device)
    feats, labs = [], []
    for images, labels in dataloader:
        out = model(images.to(device))
        feats.append(out.flatten(start_dim=1).cpu())
        labs.append(labels.cpu())
    return torch.cat(feats), torch.cat(labs)
