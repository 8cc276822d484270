"""Worker-side probes for w04_simclr.

Each probe calls the submission (``ns``) on grader-chosen inputs and returns plain
data. The same functions run on the reference; the hidden tests compare the two.
Where one graded piece calls another (the epoch loop calls ``training_step``), the
probe swaps in the grader's own version, so a bug costs points on one item only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from autograder.probing import context, deterministic_init, require, spy_forward

_TRANSFORM_MODULES = ("torchvision.transforms",)


# ---------------------------------------------------------------- shared pieces


def nt_xent(
    proj_1: torch.Tensor, proj_2: torch.Tensor, temperature: float
) -> torch.Tensor:
    """The grader's own NT-Xent (mean over all 2N views, self-pairs excluded)."""
    z = F.normalize(torch.cat([proj_1, proj_2]), dim=1)
    sim = z @ z.T / temperature
    n = proj_1.shape[0]
    sim = sim - torch.eye(2 * n, dtype=sim.dtype) * 1e9
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return -(sim[torch.arange(2 * n), partner] - torch.logsumexp(sim, dim=1)).mean()


class _GraderLoss(nn.Module):
    def __init__(self, temperature: float = 0.5) -> None:
        super().__init__()
        self.temperature = temperature
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, proj_1: torch.Tensor, proj_2: torch.Tensor) -> torch.Tensor:
        self.calls.append(
            (proj_1.detach().float().clone(), proj_2.detach().float().clone())
        )
        return nt_xent(proj_1.float(), proj_2.float(), self.temperature)


def _grader_training_step(model, loss_function, data):
    (view_1, view_2), _ = data
    return loss_function(model(view_1), model(view_2))


class _PairDataset(Dataset):
    """Seeded pairs of small image tensors, as a SimCLR loader yields them."""

    def __init__(self, n: int, side: int, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.v1 = torch.rand(n, 3, side, side, generator=gen)
        self.v2 = (self.v1 + 0.3 * torch.randn(n, 3, side, side, generator=gen)).clamp(
            0, 1
        )

    def __len__(self) -> int:
        return len(self.v1)

    def __getitem__(self, i: int):
        return (self.v1[i], self.v2[i]), -1


def _stub_model(side: int, seed: int) -> nn.Module:
    """A small model without batch norm: one batch or two give the same outputs."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(3 * side * side, 24), nn.Tanh(), nn.Linear(24, 8)
    )


def _pil_images(n: int, side: int, seed: int) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        base = rng.integers(0, 255, size=(1, 1, 3))
        yy, xx = np.mgrid[0:side, 0:side]
        picture = (
            base
            + 60 * np.sin(xx[..., None] / 7.0 + rng.uniform(0, 6))
            + 40 * (yy[..., None] > side // 2)
            + rng.normal(0, 10, (side, side, 3))
        )
        images.append(Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8)))
    return images


# ---------------------------------------------------------------- Augment


def augment_views(ns, img_size, n_images=3):
    """Two views of a few PIL images, and a second call on the same image."""
    aug = require(ns, "Augment")(img_size)
    images = _pil_images(n_images, 96, 11)
    out = {
        "kinds": [],
        "shapes": [],
        "dtypes": [],
        "pairs_differ": [],
        "calls_differ": [],
    }
    for img in images:
        views = aug(img)
        out["kinds"].append(
            type(views).__name__
            if not isinstance(views, tuple | list)
            else f"{len(views)}-sequence"
        )
        if not isinstance(views, tuple | list) or len(views) != 2:
            continue
        v1, v2 = views
        if not (isinstance(v1, torch.Tensor) and isinstance(v2, torch.Tensor)):
            out["kinds"][-1] = "not tensors"
            continue
        out["shapes"].append([list(v1.shape), list(v2.shape)])
        out["dtypes"].append(str(v1.dtype))
        out["pairs_differ"].append(v1.shape != v2.shape or not torch.equal(v1, v2))
        again, _ = aug(img)
        out["calls_differ"].append(
            again.shape != v1.shape or not torch.equal(again, v1)
        )
    return out


def _describe(obj, p_apply, found, depth=0):
    """Walk a (nested) torchvision transform and record each leaf's parameters."""
    if depth > 8:
        return
    if isinstance(obj, list | tuple | nn.ModuleList):
        for item in obj:
            _describe(item, p_apply, found, depth + 1)
        return
    name = type(obj).__name__
    module = type(obj).__module__ or ""
    if not module.startswith(_TRANSFORM_MODULES):
        return
    if name == "RandomApply":
        _describe(list(obj.transforms), float(obj.p) * p_apply, found, depth + 1)
        return
    if hasattr(obj, "transforms"):  # Compose, RandomOrder, RandomChoice
        found.append({"name": name})
        _describe(list(obj.transforms), p_apply, found, depth + 1)
        return

    def floats(value):
        if value is None:
            return None
        if isinstance(value, int | float):
            return [float(value)]
        return [round(float(v), 6) for v in value]

    entry = {"name": name, "applied_p": round(p_apply, 6)}
    if name in ("RandomHorizontalFlip", "RandomVerticalFlip"):
        entry["p"] = round(float(obj.p), 6)
    elif name == "RandomResizedCrop":
        entry["size"] = floats(obj.size)
        entry["scale"] = floats(obj.scale)
    elif name == "ColorJitter":
        for key in ("brightness", "contrast", "saturation", "hue"):
            entry[key] = floats(getattr(obj, key))
    elif name == "GaussianBlur":
        entry["kernel_size"] = floats(obj.kernel_size)
        entry["sigma"] = floats(obj.sigma)
    found.append(entry)


def augment_transforms(ns, img_size):
    """The transforms an Augment instance holds (any attribute), with parameters."""
    aug = require(ns, "Augment")(img_size)
    found: list[dict] = []
    for value in vars(aug).values():
        _describe(value, 1.0, found)
    return {"transforms": found}


# ---------------------------------------------------------------- load_data


class _TwoViews:
    """A grader transform that returns two views, like Augment."""

    def __init__(self, side: int) -> None:
        from torchvision import transforms as T

        self.t = T.Compose([T.Resize(side), T.ToTensor()])

    def __call__(self, img):
        return self.t(img), self.t(img).flip(-1)


def load_data_batches(ns, batch_size, side=None, two_views=False, **splits):
    """First batches of both loaders; ``side`` resizes with a grader transform."""
    from torchvision import transforms as T

    kwargs = dict(splits)
    if side is not None:
        kwargs["transf"] = (
            _TwoViews(side) if two_views else T.Compose([T.Resize(side), T.ToTensor()])
        )
    load_data = require(ns, "load_data")
    train_dl, val_dl = load_data(batch_size=batch_size, **kwargs)
    out = {}
    for name, loader in (("train", train_dl), ("val", val_dl)):
        x, y = next(iter(loader))
        shapes = (
            [list(v.shape) for v in x] if isinstance(x, list | tuple) else list(x.shape)
        )
        out[name] = {
            "x_shape": shapes,
            "n": len(loader.dataset),
            "labels_unknown": bool((torch.as_tensor(y) < 0).all()),
            "batch": int(torch.as_tensor(y).shape[0]),
        }

    def first_images(loader):
        x = next(iter(loader))[0]
        return x[0] if isinstance(x, list | tuple) else x

    first = [first_images(train_dl) for _ in range(3)]
    out["train_shuffled"] = any(not torch.equal(first[0], f) for f in first[1:])
    out["val_deterministic"] = bool(
        torch.equal(first_images(val_dl), first_images(val_dl))
    )
    out["val_first_labels"] = torch.as_tensor(next(iter(val_dl))[1])
    return out


# ---------------------------------------------------------------- ContrastiveLoss


def contrastive_loss(ns, batch_size, dim, temperature, scale=1.0, aligned=False):
    gen = torch.Generator().manual_seed(batch_size * 1000 + dim)
    proj_1 = torch.randn(batch_size, dim, generator=gen)
    proj_2 = (
        proj_1 + 0.05 * torch.randn(batch_size, dim, generator=gen)
        if aligned
        else torch.randn(batch_size, dim, generator=gen)
    )
    proj_1, proj_2 = (
        (proj_1 * scale).requires_grad_(),
        (proj_2 * scale).requires_grad_(),
    )
    criterion = require(ns, "ContrastiveLoss")(batch_size, temperature)
    loss = criterion(proj_1, proj_2)
    result = {
        "shape": list(loss.shape),
        "loss": loss.detach().double(),
        "proj_1": proj_1.detach(),
        "proj_2": proj_2.detach(),
    }
    loss.backward()
    result["grad_1"] = proj_1.grad if proj_1.grad is not None else torch.zeros(0)
    return result


# ---------------------------------------------------------------- ResNetSimCLR


def _head(model: nn.Module) -> nn.Module | None:
    head = getattr(model, "projection", None)
    return head if isinstance(head, nn.Module) else None


def _head_leaves(model: nn.Module) -> list[nn.Module]:
    head = _head(model)
    if head is not None:
        return [m for m in head.modules() if not list(m.children())]
    # no `projection` attribute: every Linear / BatchNorm1d of the model is head
    return [m for m in model.modules() if isinstance(m, nn.Linear | nn.BatchNorm1d)]


def simclr_structure(ns, embedding_size):
    model = require(ns, "ResNetSimCLR")(embedding_size=embedding_size)
    head = []
    for m in _head_leaves(model):
        entry = {"kind": type(m).__name__}
        if isinstance(m, nn.Linear):
            entry.update(shape=[m.in_features, m.out_features], bias=m.bias is not None)
        elif isinstance(m, nn.BatchNorm1d):
            entry.update(shape=[m.num_features])
        head.append(entry)
    head_params = {id(p) for m in _head_leaves(model) for p in m.parameters()}
    return {
        "has_projection": _head(model) is not None,
        "head": head,
        "backbone_params": sum(
            p.numel() for p in model.parameters() if id(p) not in head_params
        ),
        "head_params": sum(
            p.numel() for m in _head_leaves(model) for p in m.parameters()
        ),
    }


@torch.no_grad()
def _seed_backbone(model: nn.Module, seed: int) -> bool:
    """Copy a seeded ResNet18's weights into the model's non-head entries, in order."""
    import torchvision

    torch.manual_seed(seed)
    source = [
        v
        for k, v in torchvision.models.resnet18(weights=None).state_dict().items()
        if not k.startswith("fc.")
    ]
    for v in source:  # give batch norms non-trivial statistics too
        if v.is_floating_point():
            v.copy_(
                torch.randn(v.shape) * 0.05
                + (1.0 if v.ndim == 1 and v.min() > 0 else 0.0)
            )
    head_tensors = {
        id(t)
        for m in _head_leaves(model)
        for t in list(m.parameters()) + list(m.buffers())
    }
    targets = [
        v
        for v in model.state_dict(keep_vars=True).values()
        if id(v) not in head_tensors
        and v.shape not in (torch.Size([1000, 512]), torch.Size([1000]))
    ]
    if len(targets) != len(source) or any(
        t.shape != s.shape for t, s in zip(targets, source, strict=True)
    ):
        return False
    for t, s in zip(targets, source, strict=True):
        t.data.copy_(s)
    return True


def simclr_forward(ns, embedding_size, side, init_seed, train_mode=False):
    model = require(ns, "ResNetSimCLR")(embedding_size=embedding_size)
    matched = _seed_backbone(model, init_seed)
    deterministic_init(
        [m for m in _head_leaves(model) if isinstance(m, nn.Linear | nn.BatchNorm1d)],
        init_seed + 1,
        scale=0.1,
    )
    model.train(train_mode)
    x = torch.randn(4, 3, side, side)
    with torch.no_grad():
        projection = model(x)
        embedding = model(x, return_embedding=True)
    return {
        "backbone_matched": matched,
        "projection": projection,
        "embedding": embedding,
    }


# ---------------------------------------------------------------- training_step


def training_step_run(ns, n=6, side=6):
    model = _stub_model(side, 3)
    loader = DataLoader(_PairDataset(n, side, 5), batch_size=n)
    data = next(iter(loader))
    loss_fn = _GraderLoss(0.5)
    seen = []
    handle = model.register_forward_pre_hook(
        lambda m, args: seen.append(args[0].detach().clone())
    )
    try:
        loss = require(ns, "training_step")(model, loss_fn, data)
    finally:
        handle.remove()
    (v1, v2), _ = data
    with torch.no_grad():
        expected = nt_xent(model(v1), model(v2), 0.5)
    images_seen = torch.cat(seen) if seen else torch.zeros(0, 3, side, side)
    grads = isinstance(loss, torch.Tensor) and loss.requires_grad
    return {
        "loss": torch.as_tensor(loss).detach().double(),
        "expected": expected.double(),
        "requires_grad": bool(grads),
        "loss_calls": len(loss_fn.calls),
        "saw_view_1": any(torch.equal(img, v) for img in images_seen for v in v1[:1]),
        "saw_view_2": any(torch.equal(img, v) for img in images_seen for v in v2[:1]),
        "images_seen": int(images_seen.shape[0]),
    }


# ---------------------------------------------------------- pretrain_one_epoch_grad_acc


class _CountingSGD(torch.optim.SGD):
    def __init__(self, params, lr, counter):
        super().__init__(params, lr=lr)
        self.counter = counter
        self.steps_at: list[int] = []
        self.zero_grads = 0

    def step(self, closure=None):
        self.steps_at.append(len(self.counter))
        return super().step(closure)

    def zero_grad(self, set_to_none=True):
        self.zero_grads += 1
        return super().zero_grad(set_to_none)


def grad_acc_run(ns, n_batches, batch, accum_iter, amp=False, lr=0.5, side=6):
    model = _stub_model(side, 9)
    loader = DataLoader(_PairDataset(n_batches * batch, side, 21), batch_size=batch)
    loss_fn = _GraderLoss(0.5)
    model.eval()  # the function must switch to train mode itself
    batches: list[int] = []
    opt = _CountingSGD(model.parameters(), lr, batches)

    def counted_step(model_, loss_function, data):
        batches.append(1)
        return _grader_training_step(model_, loss_function, data)

    real_step = getattr(ns, "training_step", None)
    ns.training_step = counted_step
    try:
        with spy_forward(model) as calls:
            result = require(ns, "pretrain_one_epoch_grad_acc")(
                model,
                loss_fn,
                loader,
                opt,
                torch.device("cpu"),
                accum_iter=accum_iter,
                amp=amp,
            )
    finally:
        if real_step is None:
            del ns.training_step
        else:
            ns.training_step = real_step
    batch_losses = [float(nt_xent(p1, p2, 0.5)) for p1, p2 in loss_fn.calls]
    return {
        "loss": float(result),
        "batch_losses": batch_losses,
        "steps_at": opt.steps_at,
        "zero_grads": opt.zero_grads,
        "train_mode": bool(calls) and all(c["training"] for c in calls),
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
    }


# ---------------------------------------------------------------- main (the comparison)


def _backbone_tensors(state: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """The ResNet18 body of a state dict, in order (no classifier, no head)."""
    return [
        v for k, v in state.items() if v.is_floating_point() and v.ndim == 4
    ]  # every convolution kernel


def _match_fraction(model: nn.Module, reference: list[torch.Tensor]) -> float:
    mine = _backbone_tensors(model.state_dict())
    if len(mine) != len(reference):
        return 0.0
    same = sum(
        a.shape == b.shape and torch.equal(a.cpu(), b.cpu())
        for a, b in zip(mine, reference, strict=True)
    )
    return same / max(len(reference), 1)


#: main_run results of this worker, by (mode, seed): four tests ask for the same runs
_MAIN_RUNS: dict[tuple[str, int], dict] = {}


def main_run(ns, mode):
    key = (mode, torch.initial_seed())
    if key not in _MAIN_RUNS:
        _MAIN_RUNS[key] = _main_run(ns, mode)
    return _MAIN_RUNS[key]


def _main_run(ns, mode):
    import torchvision

    from autograder.data.torchvision_weights import checkpoint_path

    # a "pretrained" SimCLR model made from the submission's own class
    simclr = require(ns, "ResNetSimCLR")(embedding_size=128)
    torch.manual_seed(404)
    with torch.no_grad():
        for p in simclr.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    state = {
        "epoch": 99,
        "model_state_dict": simclr.state_dict(),
        "loss": 5.0,
        "optimizer_state_dict": {},
    }
    scratch = Path(context().scratch)
    for name in ("simclr.pth", "best_model_min_train_loss.pth"):
        torch.save(state, scratch / name)
    simclr_convs = _backbone_tensors(simclr.state_dict())
    imagenet_file = checkpoint_path(context().data_root, "resnet18-f37072fd.pth")
    if imagenet_file.is_file():
        imagenet_convs = _backbone_tensors(torch.load(imagenet_file, weights_only=True))
    else:
        imagenet_convs = _backbone_tensors(
            torchvision.models.resnet18(
                weights=torchvision.models.ResNet18_Weights.IMAGENET1K_V1
            ).state_dict()
        )

    captured = {}

    def fake_linear_eval(
        model, optimizer, num_epochs, train_loader, val_loader, device
    ):
        captured.update(
            model=model, optimizer=optimizer, train=train_loader, val=val_loader
        )
        return {
            "train_acc_epoch": [10.0],
            "val_acc_epoch": [10.0],
            "loss_epoch": [2.3],
            "val_loss": [2.3],
        }

    def fake_load_model(model, path):
        model.load_state_dict(state["model_state_dict"])
        return model

    saved = {name: getattr(ns, name, None) for name in ("linear_eval", "load_model")}
    ns.linear_eval, ns.load_model = fake_linear_eval, fake_load_model
    try:
        require(ns, "main")(mode)
    finally:
        for name, value in saved.items():
            if value is None:
                vars(ns).pop(name, None)
            else:
                setattr(ns, name, value)
    if "model" not in captured:
        return {"called_linear_eval": False}
    model = captured["model"].cpu().eval()
    out = {
        "called_linear_eval": True,
        "simclr_match": _match_fraction(model, simclr_convs),
        "imagenet_match": _match_fraction(model, imagenet_convs),
        "n_convs": len(_backbone_tensors(model.state_dict())),
    }
    x, y = next(iter(captured["val"]))
    with torch.no_grad():
        logits = model(x[:2] if isinstance(x, torch.Tensor) else x[0][:2])
    out["logits_shape"] = list(logits.shape)
    out["val_n"] = len(captured["val"].dataset)
    out["val_labelled"] = bool((torch.as_tensor(y) >= 0).all())
    xt, yt = next(iter(captured["train"]))
    out["train_n"] = len(captured["train"].dataset)
    out["train_labelled"] = bool((torch.as_tensor(yt) >= 0).all())
    out["train_is_tensor"] = isinstance(xt, torch.Tensor)
    trained = {
        id(p) for group in captured["optimizer"].param_groups for p in group["params"]
    }
    out["all_params_trained"] = all(
        id(p) in trained for p in captured["model"].parameters()
    )
    return out


# ---------------------------------------------------------------- performance tier


def _find_normalize(aug):
    found = []

    def walk(obj, depth=0):
        if depth > 8:
            return
        if isinstance(obj, list | tuple):
            for item in obj:
                walk(item, depth + 1)
        elif type(obj).__name__ == "Normalize":
            found.append(obj)
        elif hasattr(obj, "transforms"):
            walk(list(obj.transforms), depth + 1)

    for value in vars(aug).values():
        walk(value)
    return found[0] if found else None


def performance(ns, budget):
    """SimCLR-pretrain the student's model with the student's pieces in a fixed loop;
    return backbone features of the probe splits (the judge scores them)."""
    import torchvision
    from torchvision import transforms as T

    size = budget["img_size"]
    augment = require(ns, "Augment")(size)
    gen = torch.Generator().manual_seed(torch.initial_seed() + 17)
    unlabeled = torchvision.datasets.STL10(
        root=".", split=budget["train_split"], transform=augment
    )
    if budget.get("train_images"):
        unlabeled = Subset(unlabeled, range(budget["train_images"]))
    loader = DataLoader(
        unlabeled,
        batch_size=budget["batch_size"],
        shuffle=True,
        drop_last=True,
        generator=gen,
    )
    model = require(ns, "ResNetSimCLR")(embedding_size=budget["embedding_size"])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(device)
    criterion = require(ns, "ContrastiveLoss")(
        budget["batch_size"], budget["temperature"]
    )
    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=budget["lr"],
        weight_decay=budget.get("weight_decay", 0.0),
    )
    epoch = require(ns, "pretrain_one_epoch_grad_acc")
    losses = [
        float(
            epoch(
                model,
                criterion,
                loader,
                optimizer,
                device,
                accum_iter=budget["accum_iter"],
                amp=budget["amp"],
            )
        )
        for _ in range(budget["epochs"])
    ]

    normalize = _find_normalize(augment) or T.Normalize([0.5] * 3, [0.25] * 3)
    eval_transform = T.Compose([T.Resize(size), T.ToTensor(), normalize])
    model.eval()
    features = {}
    with torch.no_grad():
        for split in budget["probe_splits"]:
            ds = torchvision.datasets.STL10(
                root=".", split=split, transform=eval_transform
            )
            feats = [
                model(x.to(device), return_embedding=True).flatten(1).float().cpu()
                for x, _ in DataLoader(ds, batch_size=250)
            ]
            features[split] = torch.cat(feats)
    return {"losses": losses, "features": features}
