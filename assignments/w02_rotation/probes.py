"""Worker-side probes for w02_rotation.

Each probe calls the submission (``ns``) on grader-chosen inputs and returns plain
data. The same functions run on the reference; the hidden tests compare the two.
Models handed to the student's evaluation code are built here, not by the
student's ``load_resnet``, so one bug does not cascade into other items.
"""

from __future__ import annotations

import itertools
import random

import torch
import torchvision
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset
from torchvision import transforms as T

from autograder.probing import require, spy_forward


def _label(value) -> int | None:
    """A rotation class as an int, or None when it is not a single integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if (
        isinstance(value, torch.Tensor)
        and value.numel() == 1
        and not value.is_floating_point()
    ):
        return int(value)
    return None


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, atol=1e-6, rtol=0))


# ---------------------------------------------------------------- STL10Rot


def rot_samples(ns, split, n_items, repeats, scale=1.0):
    """Draw items of the student's dataset and compare them with the plain images.

    The transform scales pixel values, so a dataset that ignores ``transform`` shows.
    """
    transform = T.Compose([T.ToTensor(), T.Lambda(lambda t: t * scale)])
    ds = require(ns, "STL10Rot")(split=split, transform=transform)
    base = torchvision.datasets.STL10(root=".", split=split, transform=transform)
    picks = random.Random(n_items).sample(range(len(base)), n_items)
    samples = []
    for idx in picks:
        plain = base[idx][0]
        for _ in range(repeats):
            item = ds[idx]
            if not isinstance(item, tuple | list) or len(item) != 2:
                samples.append(
                    {
                        "label": None,
                        "shape": [],
                        "tensor": False,
                        "ccw": False,
                        "cw": False,
                        "plain": False,
                    }
                )
                continue
            img, label = item
            k = _label(label)
            tensor = isinstance(img, torch.Tensor)
            row = {
                "label": k,
                "tensor": tensor,
                "shape": list(img.shape) if tensor else [],
                "plain": False,
                "ccw": False,
                "cw": False,
            }
            if tensor:
                row["plain"] = _same(img, plain)
                if k is not None:
                    row["ccw"] = _same(img, torch.rot90(plain, k, dims=(1, 2)))
                    row["cw"] = _same(img, torch.rot90(plain, -k, dims=(1, 2)))
            samples.append(row)
    return {"len": len(ds), "base_len": len(base), "samples": samples}


def rand_rotate_direct(ns, n):
    """``rand_rotate`` on an asymmetric tensor, called directly."""
    ds = require(ns, "STL10Rot")(split="test", transform=T.ToTensor())
    img = torch.arange(3 * 6 * 6, dtype=torch.float32).reshape(3, 6, 6)
    rows = []
    for _ in range(n):
        out = ds.rand_rotate(img.clone())
        if not isinstance(out, tuple | list) or len(out) != 2:
            rows.append({"label": None, "ccw": False})
            continue
        k = _label(out[1])
        rows.append(
            {
                "label": k,
                "ccw": k is not None
                and isinstance(out[0], torch.Tensor)
                and _same(out[0], torch.rot90(img, k, dims=(1, 2))),
            }
        )
    return rows


# ---------------------------------------------------------------- load_resnet


def resnet_summary(ns, batch, side):
    model = require(ns, "load_resnet")()
    fc = getattr(model, "fc", None)
    state = model.state_dict()
    model.eval()
    x = torch.rand(batch, 3, side, side)
    with torch.no_grad():
        y = model(x)
    return {
        "is_module": isinstance(model, nn.Module),
        "out_shape": list(y.shape),
        "fc_linear": isinstance(fc, nn.Linear),
        "fc_in": fc.in_features if isinstance(fc, nn.Linear) else -1,
        "fc_out": fc.out_features if isinstance(fc, nn.Linear) else -1,
        "shapes": {k: list(v.shape) for k, v in state.items()},
        "all_trainable": all(p.requires_grad for p in model.parameters()),
        "rows_sum_to_one": bool(
            torch.allclose(y.sum(dim=1), torch.ones(batch), atol=1e-4)
        ),
        "nonnegative": bool((y >= 0).all()),
    }


# ---------------------------------------------------------------- compute_val_accuracy


class _Classifier(nn.Module):
    """A small classifier whose output depends on its mode (batch norm)."""

    def __init__(self, dim: int, classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(x))


def val_accuracy_run(ns, n, batch, dim=12, classes=4, start_in_train_mode=True):
    torch.manual_seed(11)
    model = _Classifier(dim, classes)
    with torch.no_grad():
        model.norm.running_mean.uniform_(-0.5, 0.5)
        model.norm.running_var.uniform_(0.5, 2.0)
    x = torch.randn(n, dim)
    # labels agree with the model's eval-mode prediction about half of the time
    with torch.no_grad():
        model.eval()
        pred = model(x).argmax(1)
    y = torch.where(torch.rand(n) < 0.5, pred, torch.randint(0, classes, (n,)))
    model.train(start_in_train_mode)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with spy_forward(model) as calls:
        out = require(ns, "compute_val_accuracy")(model, loader, torch.device("cpu"))
    changed = any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    acc, loss = out
    return {
        "acc": float(acc),
        "loss": float(loss),
        "calls": calls,
        "state_changed": changed,
    }


# ---------------------------------------------------------------- extract_features


def _seeded_resnet(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = torchvision.models.resnet18(num_classes=4)
    # non-trivial batch-norm statistics, so eval-mode features are distinctive
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def features_run(ns, n, batch, side):
    model = _seeded_resnet(5)
    x = torch.rand(n, 3, side, side)
    y = torch.randint(0, 10, (n,))
    loader = DataLoader(TensorDataset(x, y), batch_size=batch)
    feats, labels = require(ns, "extract_features")(model, loader, torch.device("cpu"))
    feats = torch.as_tensor(feats).detach().float().cpu()
    return {"feats": feats, "labels": torch.as_tensor(labels).cpu(), "given_labels": y}


# ---------------------------------------------------------------- linear_probe_setup


def probe_setup_run(ns, n_train, n_val, dim, batch_size):
    train_x, val_x = torch.randn(n_train, dim), torch.randn(n_val, dim)
    train_y = torch.arange(n_train) % 10
    val_y = torch.arange(n_val) % 10
    out = require(ns, "linear_probe_setup")(
        train_x, train_y, val_x, val_y, batch_size=batch_size
    )
    classifier, optimizer, train_dl, val_dl = out
    params = list(classifier.parameters())
    opt_params = [p for group in optimizer.param_groups for p in group["params"]]
    with torch.no_grad():
        probe_out = classifier(val_x[:3])

    def passes(loader):
        seen = []
        for _ in range(2):
            xs, ys = [], []
            for xb, yb in loader:
                xs.append(xb)
                ys.append(yb)
            seen.append((torch.cat(xs), torch.cat(ys)))
        return seen

    train_passes, val_passes = passes(train_dl), passes(val_dl)
    first_train = next(iter(train_dl))[0]

    def covers(passes_, x, y):
        got_x, got_y = passes_[0]
        order = torch.argsort(got_x[:, 0])
        ref = torch.argsort(x[:, 0])
        return (
            got_x.shape == x.shape
            and bool(torch.equal(got_x[order], x[ref]))
            and bool(torch.equal(got_y[order], y[ref]))
        )

    # one optimizer step must move the classifier
    before = [p.detach().clone() for p in params]
    optimizer.zero_grad()
    F.cross_entropy(classifier(train_x), train_y).backward()
    optimizer.step()
    moved = any(not torch.equal(b, p) for b, p in zip(before, params, strict=True))
    return {
        "out_shape": list(probe_out.shape),
        "n_params": sum(p.numel() for p in params),
        "linear_layers": [
            [m.in_features, m.out_features]
            for m in classifier.modules()
            if isinstance(m, nn.Linear)
        ],
        "optimizer_is_classifier": {id(p) for p in opt_params}
        == {id(p) for p in params},
        "moved": moved,
        "train_covers": covers(train_passes, train_x, train_y),
        "val_covers": covers(val_passes, val_x, val_y),
        "val_in_order": bool(torch.equal(val_passes[0][0], val_x)),
        "train_shuffled": not torch.equal(train_passes[0][0], train_passes[1][0]),
        "first_batch": int(first_train.shape[0]),
    }


# ---------------------------------------------------------------- performance tier


def _recalibrate_batch_norm(model: nn.Module, batches) -> None:
    """Re-estimate batch-norm statistics as a plain average over a few batches, so the
    short tiny-profile run is scored by what it learned, not by lagging statistics."""
    norms = [
        m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for x in batches:
            model(x)


def performance(ns, budget):
    """Train the student's ResNet on the student's rotated dataset in a fixed loop;
    return the logits of grader-rotated test images (the judge scores them)."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    side = int(budget["side"])
    transform = (
        T.Compose([T.ToTensor(), T.Resize(side, antialias=True)])
        if side != 96
        else T.ToTensor()
    )
    train_ds = require(ns, "STL10Rot")(split=budget["train_split"], transform=transform)
    gen = torch.Generator().manual_seed(torch.initial_seed() + 17)
    loader = DataLoader(
        train_ds,
        batch_size=budget["batch_size"],
        shuffle=True,
        generator=gen,
        num_workers=int(budget.get("num_workers", 0)),
    )
    model = require(ns, "load_resnet")().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=budget["lr"])

    # ==== pretext training: a number of epochs (full) or of steps (tiny)
    if "epochs" in budget:
        batches = itertools.chain.from_iterable(
            loader for _ in range(int(budget["epochs"]))
        )
    else:
        batches = itertools.islice(itertools.cycle(loader), int(budget["steps"]))
    losses = []
    model.train()
    for x, y in batches:
        x, y = x.to(device), torch.as_tensor(y).long().to(device)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())

    # ==== evaluation on test images that the grader rotates itself
    test = torchvision.datasets.STL10(root=".", split="test", transform=transform)
    n_eval = min(int(budget.get("eval_images", len(test))), len(test))
    eval_loader = DataLoader(
        torch.utils.data.Subset(test, range(n_eval)), batch_size=256
    )
    if budget.get("recalibrate_batch_norm", False):
        # grader-rotated training images: one batch per rotation class
        plain = torchvision.datasets.STL10(
            root=".", split=budget["train_split"], transform=transform
        )
        x = torch.stack([plain[i][0] for i in range(int(budget["batch_size"]))]).to(
            device
        )
        _recalibrate_batch_norm(
            model, [torch.rot90(x, k, dims=(2, 3)) for k in range(4)]
        )
    model.eval()
    logits = []
    with torch.no_grad():
        for k in range(4):
            chunks = [
                model(torch.rot90(x.to(device), k, dims=(2, 3))).float().cpu()
                for x, _ in eval_loader
            ]
            logits.append(torch.cat(chunks))
    return {"losses": losses, "rotation_logits": torch.stack(logits)}
