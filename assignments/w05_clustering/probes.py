"""Worker-side probes for w05_clustering.

Each probe calls the submission (``ns``) on grader-chosen inputs and returns plain
data. The same functions run on the reference; the hidden tests compare the two.
Files a graded function reads (checkpoint, features, neighbour indices) are the
grader's: the MoCo checkpoint of the data root, and tensors written to the scratch
folder here.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autograder.data import moco
from autograder.probing import context, require

# ---------------------------------------------------------------- helpers


def _scratch(name: str) -> Path:
    folder = Path(context().scratch) / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _grader_checkpoint() -> dict:
    return torch.load(
        moco.checkpoint_path(context().data_root), map_location="cpu", weights_only=True
    )


def _blobs(
    n_per_class: int,
    n_classes: int,
    dim: int,
    spread: float,
    gen: torch.Generator,
    means: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Labelled Gaussian blobs with unequal norms (so cosine and Euclidean differ)."""
    if means is None:
        means = torch.randn(n_classes, dim, generator=gen) * 3
    labels = torch.arange(n_classes).repeat_interleave(n_per_class)
    x = means[labels] + torch.randn(len(labels), dim, generator=gen) * spread
    order = torch.randperm(len(labels), generator=gen)
    return x[order], labels[order], means


# ---------------------------------------------------------------- load_moco_model


def moco_loader(ns, side=64):
    """Load the grader's checkpoint; compare the model with the stripped state dict."""
    path = moco.checkpoint_path(context().data_root)
    model = require(ns, "load_moco_model")(pretrained_path=str(path))
    ckpt = _grader_checkpoint()
    expected = {k[len(moco.PREFIX) :]: v for k, v in ckpt["state_dict"].items()}
    state = model.state_dict() if isinstance(model, nn.Module) else {}
    backbone = {k: v for k, v in expected.items() if not k.startswith("fc.")}
    missing = [k for k in backbone if k not in state]
    differing = [
        k for k in backbone if k in state and not torch.equal(state[k], backbone[k])
    ]
    fc = getattr(model, "fc", None)
    x = torch.randn(2, 3, side, side)
    with torch.no_grad():
        out = model(x)
    return {
        "is_module": isinstance(model, nn.Module),
        "n_backbone": len(backbone),
        "missing": len(missing),
        "differing": len(differing),
        "fc_identity": isinstance(fc, nn.Identity),
        "fc_params": sum(p.numel() for p in fc.parameters())
        if isinstance(fc, nn.Module)
        else -1,
        "training": bool(model.training),
        "out_shape": list(out.shape),
        "features": out.detach().float(),
    }


# ---------------------------------------------------------------- kmeans_accuracy


def kmeans_run(ns, n_per_class=30, n_classes=6, dim=12, spread=2.0, val_spread=3.5):
    """k-means on hidden blobs; the validation blobs are wider, so its score differs."""
    gen = torch.Generator().manual_seed(torch.initial_seed() % 2**31)
    train_x, train_y, means = _blobs(n_per_class, n_classes, dim, spread, gen)
    val_x, val_y, _ = _blobs(
        n_per_class // 2, n_classes, dim, val_spread, gen, means=means
    )
    got = require(ns, "kmeans_accuracy")(
        train_x.numpy(),
        train_y.numpy(),
        val_x.numpy(),
        val_y.numpy(),
        n_clusters=n_classes,
    )
    train_acc, val_acc = (float(v) for v in got)
    return {"train_acc": train_acc, "val_acc": val_acc}


# ---------------------------------------------------------------- knn_indices


def knn_run(ns, n=60, dim=8, k=5):
    x = torch.randn(n, dim)
    # very unequal norms: Euclidean neighbours would differ from cosine ones
    x = x * torch.exp(torch.randn(n, 1) * 1.5)
    got = require(ns, "knn_indices")(x.clone(), k=k)
    got = torch.as_tensor(got)
    unit = F.normalize(x, dim=1)
    sim = unit @ unit.T
    rows = torch.arange(n)
    out = {
        "shape": list(got.shape),
        "dtype_integer": not got.is_floating_point(),
        "indices": got.long() if got.ndim == 2 else torch.zeros(0, dtype=torch.long),
    }
    if got.ndim == 2 and got.shape[0] == n:
        g = got.long().clamp(0, n - 1)
        out["self_included"] = bool((g == rows[:, None]).any())
        # similarity of what was returned, in order: must be the top-k of the others
        out["sims"] = sim[rows[:, None], g]
    return out


def knn_numpy_input(ns, n=40, dim=6, k=4):
    """The notebook's features may be numpy arrays or tensors."""
    x = torch.randn(n, dim)
    got = require(ns, "knn_indices")(x.numpy(), k=k)
    return {"indices": torch.as_tensor(np.asarray(got)).long()}


# ---------------------------------------------------------------- PairSTL10


def _pair_files(n, dim, k, gen):
    folder = _scratch("pairs")
    embeds = torch.randn(n, dim, generator=gen) * 4 + 1
    indices = torch.stack([torch.randperm(n, generator=gen)[:k] for _ in range(n)])
    ind_path, emb_path = folder / "hidden_knn.pth", folder / "hidden_feats.pth"
    torch.save(indices, ind_path)
    torch.save(embeds, emb_path)
    return embeds, indices, ind_path, emb_path


def pairs_run(ns, n=30, dim=10, k=6, l2_normalize=True, draws=40):
    gen = torch.Generator().manual_seed(torch.initial_seed() % 2**31)
    embeds, indices, ind_path, emb_path = _pair_files(n, dim, k, gen)
    ds = require(ns, "PairSTL10")(
        indices_path=str(ind_path), embeds_path=str(emb_path), l2_normalize=l2_normalize
    )
    target = F.normalize(embeds, dim=1) if l2_normalize else embeds
    first_ok, second_ok, used = [], [], set()
    norms = []
    probe_ids = [3, 17, 29][: max(1, min(3, n))]
    for index in probe_ids:
        for _ in range(draws):
            e1, e2 = ds[index]
            e1, e2 = torch.as_tensor(e1).float(), torch.as_tensor(e2).float()
            first_ok.append(
                e1.shape == target[index].shape
                and torch.allclose(e1, target[index], atol=1e-5)
            )
            norms.append(float(e1.norm()))
            close = [
                j
                for j in indices[index].tolist()
                if e2.shape == target[j].shape
                and torch.allclose(e2, target[j], atol=1e-5)
            ]
            second_ok.append(bool(close))
            if close:
                used.add((index, close[0]))
    return {
        "len": len(ds),
        "first_ok": float(np.mean(first_ok)),
        "second_ok": float(np.mean(second_ok)),
        "distinct_pairs": len(used),
        "n_probe": len(probe_ids),
        "norm_mean": float(np.mean(norms)),
    }


def pairs_loader(ns, n=24, dim=6, k=4, batch=8):
    """A DataLoader over the dataset yields two (batch, dim) tensors."""
    gen = torch.Generator().manual_seed(torch.initial_seed() % 2**31)
    _, _, ind_path, emb_path = _pair_files(n, dim, k, gen)
    ds = require(ns, "PairSTL10")(
        indices_path=str(ind_path), embeds_path=str(emb_path), l2_normalize=True
    )
    e1, e2 = next(
        iter(torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=False))
    )
    return {"shapes": [list(e1.shape), list(e2.shape)]}


# ---------------------------------------------------------------- SCAN


def scan_published(ns):
    """The notebook's own check, as published: seed 99, alpha 1."""
    torch.manual_seed(99)
    scan = require(ns, "SCAN")(alpha=1)
    proj_1 = torch.randn(100, 128)
    proj_2 = torch.randn(100, 128)
    loss = scan(proj_1, proj_2)
    return {"loss": loss.detach().float(), "shape": list(loss.shape)}


def scan_values(ns, cases):
    """SCAN on hidden logits: [(alpha, batch, clusters, scale), ...]."""
    out = []
    for alpha, batch, clusters, scale in cases:
        proj_1 = torch.randn(batch, clusters) * scale
        proj_2 = torch.randn(batch, clusters) * scale
        a, b = proj_1.clone().requires_grad_(), proj_2.clone().requires_grad_()
        loss = require(ns, "SCAN")(alpha=alpha)(a, b)
        loss.backward()
        out.append(
            {
                "loss": loss.detach().float(),
                "grad_1": a.grad.clone() if a.grad is not None else torch.zeros_like(a),
            }
        )
    return out


def scan_entropy_direction(ns, clusters=5, batch=40):
    """Same consistency, two batches: one using all clusters, one using a single one.

    Both batches have identical, confident pairs, so only the entropy term tells them
    apart; it must favour (give a lower loss to) the balanced batch."""
    spread = torch.arange(batch) % clusters
    same = torch.zeros(batch, dtype=torch.long)
    logits = {}
    for name, assign in (("balanced", spread), ("collapsed", same)):
        logits[name] = F.one_hot(assign, clusters).float() * 8.0
    scan = require(ns, "SCAN")(alpha=2.0)
    return {name: float(scan(x, x.clone())) for name, x in logits.items()}


# ---------------------------------------------------------------- PMI


def pmi_published(ns):
    torch.manual_seed(99)
    criterion = require(ns, "PMI")(gamma=1)
    proj_1 = torch.rand(100, 128)
    proj_2 = torch.rand(100, 128)
    loss = criterion(proj_1, proj_2)
    return {"loss": loss.detach().float(), "shape": list(loss.shape)}


def pmi_first_call(ns, gamma, temp, batch, clusters, scale):
    """One call with a fresh criterion (momentum 0.99: the prior is almost uniform)."""
    proj_1 = torch.randn(batch, clusters) * scale
    proj_2 = torch.randn(batch, clusters) * scale
    loss = require(ns, "PMI")(gamma=gamma, momentum=0.99, temp=temp)(proj_1, proj_2)
    return {"loss": loss.detach().float()}


def _center(criterion):
    center = getattr(criterion, "center", None)
    if center is None:
        return None
    return torch.as_tensor(center).detach().float().reshape(-1)


def pmi_sequence(ns, gamma, momentum, temp, batch, clusters, calls):
    """Several calls on one criterion. The second input is a row permutation of the
    first, so both have the same batch mean (the prior's update is unambiguous)."""
    criterion = require(ns, "PMI")(gamma=gamma, momentum=momentum, temp=temp)
    losses, centers = [], []
    for _ in range(calls):
        proj_1 = torch.randn(batch, clusters) * 2
        proj_2 = proj_1[torch.randperm(batch)]
        losses.append(criterion(proj_1, proj_2).detach().float())
        c = _center(criterion)
        centers.append(c if c is not None else torch.full((clusters,), float("nan")))
    return {
        "losses": torch.stack(losses),
        "centers": torch.stack(centers),
        "center_set": _center(criterion) is not None,
    }


def pmi_sign(ns, gamma=0.8, temp=0.2, batch=16, clusters=6):
    """The loss is minus the PMI: agreeing pairs must get a lower loss than opposed
    ones."""
    a = torch.randn(batch, clusters) * 2
    matched = float(
        require(ns, "PMI")(gamma=gamma, momentum=0.9, temp=temp)(a, a.clone())
    )
    opposed = float(require(ns, "PMI")(gamma=gamma, momentum=0.9, temp=temp)(a, -a))
    return {"matched": matched, "opposed": opposed}


# ---------------------------------------------------------------- evaluate_clustering


def evaluate_run(ns, n_train=80, n_val=60, dim=12, clusters=5):
    """Write the four files evaluate_clustering reads; score a fixed linear head."""
    gen = torch.Generator().manual_seed(torch.initial_seed() % 2**31)
    folder = Path(context().scratch)
    train_x, train_y, means = _blobs(n_train // clusters, clusters, dim, 2.5, gen)
    val_x, val_y, _ = _blobs(n_val // clusters, clusters, dim, 2.5, gen, means=means)
    # per-image scales: the head sees different argmaxes unless features are normalised
    train_x = train_x * torch.exp(torch.randn(len(train_x), 1, generator=gen))
    val_x = val_x * torch.exp(torch.randn(len(val_x), 1, generator=gen))
    for name, value in (
        ("train_feats", train_x),
        ("train_labels", train_y),
        ("val_feats", val_x),
        ("val_labels", val_y),
    ):
        torch.save(value, folder / f"{name}.pth")
    head = nn.Linear(dim, clusters)
    with torch.no_grad():
        head.weight.copy_(
            F.normalize(means, dim=1) * 3
            + torch.randn(clusters, dim, generator=gen) * 0.3
        )
        head.bias.copy_(torch.randn(clusters, generator=gen) * 1.5)
    head.train()
    got = require(ns, "evaluate_clustering")(head)
    train_acc, val_acc = (float(v) for v in got)
    return {"train_acc": train_acc, "val_acc": val_acc}


# ---------------------------------------------------------------- performance tier


def _split_labels(split: str) -> np.ndarray:
    import torchvision

    return np.asarray(
        torchvision.datasets.STL10(root=".", split=split).labels, dtype=np.int64
    )


def _stand_in_embeddings(budget) -> dict[str, torch.Tensor]:
    """Class-structured embeddings keyed to the tiny STL10 labels (a fixed task: the
    generator's seed does not depend on the run's seed)."""
    gen = torch.Generator().manual_seed(5)
    dim, classes = int(budget["dim"]), 10
    means = (
        F.normalize(torch.randn(classes, dim, generator=gen), dim=1)
        * budget["separation"]
    )
    axes = torch.randn(classes, 3, dim, generator=gen)
    out = {}
    for split in (budget["train_split"], budget["eval_split"]):
        y = torch.as_tensor(_split_labels(split))
        x = means[y] + torch.randn(len(y), dim, generator=gen)
        x = x + (
            torch.randn(len(y), 3, 1, generator=gen) * budget["stretch"] * axes[y]
        ).sum(1)
        out[split] = x + budget["offset"]
    return out


def _moco_embeddings(budget) -> dict[str, torch.Tensor]:
    """Features of the grader's own MoCo loader (not the student's) on the real data."""
    import torchvision
    from torchvision import transforms as T

    ckpt = _grader_checkpoint()
    model = getattr(torchvision.models, ckpt["arch"])(weights=None)
    model.fc = nn.Identity()
    state = {
        k[len(moco.PREFIX) :]: v
        for k, v in ckpt["state_dict"].items()
        if not k.startswith(moco.PREFIX + "fc.")
    }
    model.load_state_dict(state, strict=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(device).eval()
    transf = T.Compose(
        [T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]
    )
    out = {}
    for split in (budget["train_split"], budget["eval_split"]):
        ds = torchvision.datasets.STL10(root=".", split=split, transform=transf)
        feats = []
        with torch.no_grad():
            for x, _ in torch.utils.data.DataLoader(ds, batch_size=256):
                feats.append(model(x.to(device)).float().cpu())
        out[split] = torch.cat(feats)
    return out


def _train_head(criterion, train_z, knn, budget, use_ema):
    """The course's head training, driven by the grader: seeded pairs, fixed steps."""
    gen = torch.Generator().manual_seed(torch.initial_seed() + 29)
    n_clusters = 10
    head = nn.Linear(train_z.shape[1], n_clusters)
    teacher = copy.deepcopy(head).requires_grad_(False) if use_ema else None
    opt = torch.optim.Adam(
        head.parameters(), lr=budget["lr"], weight_decay=budget["weight_decay"]
    )
    n, bs = len(train_z), int(budget["batch_size"])
    losses = []
    for _ in range(int(budget["epochs"])):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            pick = torch.randint(knn.shape[1], (len(idx),), generator=gen)
            nb = knn[idx, pick]
            p1 = head(train_z[idx])
            p2 = teacher(train_z[nb]) if teacher is not None else head(train_z[nb])
            loss = criterion(p1, p2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if teacher is not None:
                with torch.no_grad():
                    for t, s in zip(
                        teacher.parameters(), head.parameters(), strict=True
                    ):
                        t.mul_(budget["ema"]).add_(s.detach(), alpha=1 - budget["ema"])
    return head, losses


def performance(ns, budget):
    """Train a SCAN head and a PMI head with the student's losses; return the heads'
    cluster ids of the evaluation split (the judge scores them against its labels)."""
    threads = torch.get_num_threads()
    # a linear head on 64-d inputs: one thread is fastest, and a loaded machine
    # makes more threads many times slower
    torch.set_num_threads(1 if budget["features"] == "stand_in" else threads)
    try:
        return _performance(ns, budget)
    finally:
        torch.set_num_threads(threads)


def _performance(ns, budget):
    if budget["features"] == "moco":
        feats = _moco_embeddings(budget)
    else:
        feats = _stand_in_embeddings(budget)
    train_z = F.normalize(feats[budget["train_split"]], dim=1)
    eval_z = F.normalize(feats[budget["eval_split"]], dim=1)
    sim = train_z @ train_z.T
    sim.fill_diagonal_(-float("inf"))
    knn = sim.topk(int(budget["knn"]), dim=1).indices
    del sim
    runs = {
        "SCAN": (require(ns, "SCAN")(alpha=budget["alpha"]), False),
        "PMI": (
            require(ns, "PMI")(
                gamma=budget["gamma"], momentum=budget["momentum"], temp=budget["temp"]
            ),
            True,
        ),
    }
    preds, losses = {}, {}
    for name, (criterion, use_ema) in runs.items():
        head, curve = _train_head(criterion, train_z, knn, budget, use_ema)
        with torch.no_grad():
            preds[name] = head(eval_z).argmax(dim=1)
        losses[name] = curve[-1] if curve else float("nan")
    return {"split": budget["eval_split"], "preds": preds, "last_loss": losses}
