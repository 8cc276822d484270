"""Helper functions of the course notebooks (``from utils import *``).

One module shared by every vision exercise (w01, w02, w04, w05), with the names
and signatures the course notebooks call. Written for the pinned library
versions: checkpoints hold plain Python numbers and load with
``torch.load(weights_only=True)``; t-SNE uses scikit-learn's ``max_iter``.
"""

import os
import random

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T
from tqdm import tqdm

__all__ = [
    "np", "torch", "nn", "F", "torchvision", "T", "DataLoader", "Dataset", "tqdm", "plt", "os",
    "random",
    "load_data", "unnormalize_image", "imshow", "reproducibility", "default",
    "save_model", "load_model", "prevalidate", "pretrain_one_epoch", "pretrain",
    "validate", "train_one_epoch", "linear_eval", "get_features",
    "define_param_groups", "tsne_plot_embeddings", "compute_clustering_metrics",
]


# ---------------------------------------------------------------- data and pictures

def load_data(batch_size=128, train_split="unlabeled", test_split="test", transf=T.ToTensor(),
              num_workers=2, shuffle=False):
    """STL10 loaders for two splits (no shuffling unless asked)."""
    loaders = []
    for split in (train_split, test_split):
        ds = torchvision.datasets.STL10(root="../data", split=split, transform=transf,
                                        download=True)
        loaders.append(DataLoader(ds, batch_size=batch_size, num_workers=num_workers,
                                  shuffle=shuffle))
    return tuple(loaders)


def unnormalize_image(image, mean=0, std=1.0, permute=True):
    """Undo ``T.Normalize(mean, std)`` on a CHW tensor; HWC numpy array if ``permute``."""
    mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1)
    picture = (image.detach().cpu().float() * std + mean).numpy()
    return np.transpose(picture, (1, 2, 0)) if permute else picture


def imshow(img, *args, mean=None, std=None):
    """Show a CHW image. Accepts ``imshow(img, mean, std)`` and ``imshow(img, i, mean, std)``."""
    extra = list(args)
    if extra and isinstance(extra[0], int):
        extra.pop(0)  # the figure index some notebooks pass; unused
    if mean is None:
        mean = extra.pop(0) if extra else 0.0
    if std is None:
        std = extra.pop(0) if extra else 1.0
    plt.imshow(np.clip(unnormalize_image(img, mean, std), 0, 1))


def reproducibility(SEED):
    """Seed python, numpy and torch (CPU and CUDA) and make cuDNN deterministic."""
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(SEED)


def default(val, def_val):
    return def_val if val is None else val


# ---------------------------------------------------------------- checkpoints

def _plain(value):
    """A Python number for tensors and numpy scalars, so checkpoints stay weights-only."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.detach().cpu().item()
    if isinstance(value, np.generic | np.ndarray) and np.size(value) == 1:
        return np.asarray(value).item()
    return value


def save_model(model, path, epoch, optimizer, val_loss):
    torch.save({
        "epoch": int(epoch),
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "loss": _plain(val_loss),
    }, path)


def load_model(model, path):
    """Load a checkpoint written by :func:`save_model` into ``model``."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["model_state_dict"])
    print(f"Model {path} is loaded from epoch {checkpoint['epoch']}, loss {checkpoint['loss']}")
    return model


# ---------------------------------------------------------------- pretext training

def prevalidate(model, val_loader, criterion, device):
    """Mean batch loss of a pretext task over ``val_loader`` (eval mode, no gradients)."""
    model.eval()
    losses = []
    with torch.no_grad():
        for inputs, targets in val_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            losses.append(criterion(model(inputs), targets).item())
    return float(np.mean(losses))


def pretrain_one_epoch(model, optimizer, train_loader, criterion, device):
    """One pass of pretext training; returns the mean batch loss."""
    model.train()
    losses = []
    for inputs, targets in train_loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return float(np.mean(losses))


def pretrain(model, optimizer, num_epochs, train_loader, val_loader, criterion, device):
    """Pretext training; keeps ``best_model_min_val_loss.pth`` at the lowest val loss."""
    dict_log = {"train_loss": [], "val_loss": []}
    best_val_loss = float("inf")
    model = model.to(device)
    progress = tqdm(range(num_epochs))
    for epoch in progress:
        train_loss = pretrain_one_epoch(model, optimizer, train_loader, criterion, device)
        val_loss = prevalidate(model, val_loader, criterion, device)
        progress.set_description(f"Ep {epoch + 1}/{num_epochs}: loss train {train_loss:.3f} "
                                 f"val {val_loss:.3f}")
        dict_log["train_loss"].append(train_loss)
        dict_log["val_loss"].append(val_loss)
        if val_loss < best_val_loss:
            best_val_loss = val_loss
            save_model(model, "best_model_min_val_loss.pth", epoch, optimizer, val_loss)
    return dict_log


# ---------------------------------------------------------------- supervised evaluation

def validate(model, val_loader, device):
    """(accuracy in %, mean cross-entropy) of a classifier over ``val_loader``."""
    model.eval()
    criterion = nn.CrossEntropyLoss()
    correct, total, losses = 0, 0, []
    with torch.no_grad():
        for inputs, labels in val_loader:
            inputs, labels = inputs.to(device), labels.to(device)
            outputs = model(inputs)
            losses.append(criterion(outputs, labels).item())
            correct += (outputs.argmax(dim=1) == labels).sum().item()
            total += labels.numel()
    return 100.0 * correct / max(total, 1), float(np.mean(losses))


def train_one_epoch(model, optimizer, train_loader, device):
    """One supervised epoch; returns (mean loss, accuracy in %)."""
    model.train()
    criterion = nn.CrossEntropyLoss()
    correct, total, losses = 0, 0, []
    for inputs, labels in train_loader:
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        correct += (outputs.detach().argmax(dim=1) == labels).sum().item()
        total += labels.numel()
    return float(np.mean(losses)), 100.0 * correct / max(total, 1)


def linear_eval(model, optimizer, num_epochs, train_loader, val_loader, device):
    """Train a classifier; keep the checkpoints of lowest val loss and highest val accuracy."""
    model = model.to(device)
    dict_log = {"train_acc_epoch": [], "val_acc_epoch": [], "loss_epoch": [], "val_loss": []}
    best_loss, best_acc = float("inf"), -1.0
    train_acc, _ = validate(model, train_loader, device)
    val_acc, _ = validate(model, val_loader, device)
    print(f"Init Accuracy of the model: Train:{train_acc:.3f} \t Val:{val_acc:.3f}")
    progress = tqdm(range(num_epochs))
    for epoch in progress:
        loss, train_acc = train_one_epoch(model, optimizer, train_loader, device)
        val_acc, val_loss = validate(model, val_loader, device)
        progress.set_description(f"Ep {epoch}/{num_epochs}: Accuracy : Train:{train_acc:.2f} "
                                 f"\t Val:{val_acc:.2f} || Loss: Train {loss:.3f} \t "
                                 f"Val {val_loss:.3f}")
        dict_log["train_acc_epoch"].append(train_acc)
        dict_log["val_acc_epoch"].append(val_acc)
        dict_log["loss_epoch"].append(loss)
        dict_log["val_loss"].append(val_loss)
        if val_loss < best_loss:
            best_loss = val_loss
            save_model(model, "best_model_min_val_loss.pth", epoch, optimizer, val_loss)
        if val_acc > best_acc:
            best_acc = val_acc
            save_model(model, "best_model_max_val_acc.pth", epoch, optimizer, val_loss)
    return dict_log


@torch.no_grad()
def get_features(model, dataloader, device):
    """Run ``model`` over ``dataloader``; return flattened features and labels (CPU)."""
    model = model.to(device)
    feats, labs = [], []
    for inputs, labels in dataloader:
        out = model(inputs.to(device))
        feats.append(out.flatten(start_dim=1).cpu() if out.ndim > 2 else out.cpu())
        labs.append(labels.cpu())
    return torch.cat(feats), torch.cat(labs)


def define_param_groups(model, weight_decay, optimizer_name):
    """Two parameter groups: with weight decay, and without it (batch-norm; LARS biases)."""
    def exempt(name):
        return "bn" in name or (optimizer_name == "lars" and "bias" in name)

    named = list(model.named_parameters())
    return [
        {"params": [p for n, p in named if not exempt(n)], "weight_decay": weight_decay,
         "layer_adaptation": True},
        {"params": [p for n, p in named if exempt(n)], "weight_decay": 0.0,
         "layer_adaptation": False},
    ]


# ---------------------------------------------------------------- plots and clustering

def tsne_plot_embeddings(features, labels, class_names, title="T-SNE plot"):
    """2-D t-SNE (cosine) of ``features`` coloured by class; saves and shows the figure."""
    from sklearn.manifold import TSNE

    features = torch.as_tensor(features).cpu().numpy()
    labels = np.asarray(torch.as_tensor(labels).cpu())
    perplexity = min(50.0, max(5.0, (len(features) - 1) / 3))
    embedded = TSNE(2, max_iter=2000, metric="cosine", perplexity=perplexity,
                    learning_rate=500, init="pca").fit_transform(features)
    plt.figure(figsize=(12, 12))
    for class_idx, name in enumerate(class_names):
        chosen = labels == class_idx
        plt.scatter(embedded[chosen, 0], embedded[chosen, 1], label=name, s=8)
    plt.legend(fontsize=14, loc="center left", bbox_to_anchor=(1.05, 0.5))
    if title is not None:
        plt.title(title, fontsize=18)
    plt.axis("off")
    plt.savefig("tsne_plot_embeddings_solution.png", bbox_inches="tight")
    plt.show()


def compute_clustering_metrics(targets, preds, min_samples_per_class, verbose=False):
    """Clustering accuracy under the best one-to-one (Hungarian) matching, plus NMI,
    adjusted NMI, ARI (all in %) and the per-cluster accuracies (best first).

    Clusters beyond the number of classes (over-clustering) are mapped to the class
    they overlap most.
    """
    from scipy.optimize import linear_sum_assignment
    from sklearn import metrics

    targets = np.asarray(targets).astype(np.int64)
    preds = np.asarray(preds).astype(np.int64)
    n = int(max(targets.max(), preds.max())) + 1
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (preds, targets), 1)
    rows, cols = linear_sum_assignment(-counts)
    mapping = dict(zip(rows, cols, strict=True))
    present = set(np.unique(targets).tolist())
    for cluster in np.unique(preds):
        if mapping[cluster] not in present:
            mapping[cluster] = int(counts[cluster].argmax())
    clusters = np.arange(n)
    matched = np.array([counts[c, mapping[c]] for c in clusters])
    acc = matched.sum() / len(preds)
    sizes = counts.sum(axis=1)
    per_class = np.where(sizes >= min_samples_per_class, matched / np.maximum(sizes, 1), 0.0)
    per_class = np.sort(per_class)[::-1]
    nmi = metrics.normalized_mutual_info_score(targets, preds)
    anmi = metrics.adjusted_mutual_info_score(targets, preds)
    ari = metrics.adjusted_rand_score(targets, preds)
    if verbose:
        print(f"=> samples {len(targets)}, clusters used {len(np.unique(preds))}")
        print(f"=> NMI {nmi * 100:.3f}%  adjusted NMI {anmi * 100:.3f}%  ARI {ari * 100:.3f}%")
        print(f"=> Accuracy {acc * 100:.3f}%")
    return acc * 100.0, nmi * 100.0, anmi * 100.0, ari * 100.0, per_class
