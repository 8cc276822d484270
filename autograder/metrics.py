"""Performance metrics, computed in the trusted judge from what a worker returned.

Metrics are registered by name; an assignment's ``[performance.<profile>]`` table
names its metric, so the hidden test and ``rlgrade calibrate`` compute the same thing.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

__all__ = [
    "Labels",
    "register_metric",
    "get_metric",
    "list_metrics",
    "linear_probe_accuracy",
]


class Labels(Protocol):
    def __call__(self, split: str) -> np.ndarray: ...


Metric = Callable[[Any, Labels], float]
_METRICS: dict[str, Metric] = {}


def register_metric(name: str) -> Callable[[Metric], Metric]:
    def wrap(fn: Metric) -> Metric:
        if name in _METRICS:
            warnings.warn(
                f"metric {name!r} registered twice; the last one wins", stacklevel=2
            )
        _METRICS[name] = fn
        return fn

    return wrap


def get_metric(name: str) -> Metric:
    try:
        return _METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {sorted(_METRICS)}") from None


def list_metrics() -> list[str]:
    return sorted(_METRICS)


def linear_probe_accuracy(
    train_x: torch.Tensor,
    train_y: np.ndarray,
    test_x: torch.Tensor,
    test_y: np.ndarray,
    *,
    c: float = 0.1,
    max_iter: int = 300,
) -> float:
    """Test accuracy (%) of a logistic-regression probe fit on frozen features."""
    xtr = torch.as_tensor(train_x).detach().double().flatten(1).numpy()
    xte = torch.as_tensor(test_x).detach().double().flatten(1).numpy()
    if xtr.shape[0] != len(train_y) or xte.shape[0] != len(test_y):
        raise ValueError("one feature row per labelled image is required")
    if not (np.isfinite(xtr).all() and np.isfinite(xte).all()):
        return 0.0
    scaler = StandardScaler().fit(xtr)
    clf = LogisticRegression(C=c, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on degenerate features
        clf.fit(scaler.transform(xtr), train_y)
    return float((clf.predict(scaler.transform(xte)) == test_y).mean() * 100.0)


@register_metric("stl10_linear_probe")
def stl10_linear_probe(out: Any, labels: Labels) -> float:
    """Features of STL10 ``train`` and ``test`` -> linear-probe test accuracy (%)."""
    feats = out["features"]
    return linear_probe_accuracy(
        feats["train"], labels("train"), feats["test"], labels("test")
    )


# ---- w05_clustering


def hungarian_accuracy(targets: np.ndarray, preds: Any) -> float:
    """Clustering accuracy (%) under the best one-to-one matching of clusters to
    classes."""
    from scipy.optimize import linear_sum_assignment

    targets = np.asarray(targets, dtype=np.int64)
    preds_arr = np.asarray(torch.as_tensor(preds).detach().cpu().numpy()).reshape(-1)
    if preds_arr.shape[0] != targets.shape[0] or preds_arr.size == 0:
        raise ValueError("one cluster id per labelled image is required")
    if not np.issubdtype(preds_arr.dtype, np.integer) or preds_arr.min() < 0:
        return 0.0
    n = int(max(targets.max(), preds_arr.max())) + 1
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (preds_arr, targets), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(targets) * 100.0)


@register_metric("w05_cluster_accuracy")
def w05_cluster_accuracy(out: Any, labels: Labels) -> float:
    """Cluster ids of ``out['split']`` from each trained head -> mean Hungarian accuracy
    (%)."""
    targets = labels(out["split"])
    accs = [hungarian_accuracy(targets, preds) for preds in out["preds"].values()]
    return float(np.mean(accs)) if accs else 0.0


# ---- w02_rotation


@register_metric("stl10_rotation_accuracy")
def stl10_rotation_accuracy(out: Any, labels: Labels) -> float:
    """Logits ``(4, N, C)`` of test images turned k quarter turns -> accuracy (%).

    The rotation class of every row is its position, chosen by the grader, so no label
    comes from the worker. Both directions of turning count (class k as k quarter turns
    counter-clockwise or clockwise): either convention learns the same pretext task.
    """
    logits = torch.as_tensor(out["rotation_logits"]).detach().float()
    if logits.ndim != 3 or logits.shape[0] != 4 or not torch.isfinite(logits).all():
        return 0.0
    pred = logits.argmax(dim=-1)
    k = torch.arange(4).unsqueeze(1).expand_as(pred)
    best = max((pred == k).float().mean(), (pred == (-k) % 4).float().mean())
    return float(best) * 100.0
