"""Worker-side probes for w01_autoencoder.

Each probe calls the submission (``ns``) on grader-chosen inputs and returns plain
data. The same functions run on the reference; the hidden tests compare the two.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from autograder.probing import context, deterministic_init, require, spy_forward


def _layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]


def _build(ns, cfg):
    return require(ns, "Autoencoder")(
        cfg["in_channels"],
        cfg["base_channels"],
        cfg["n_layers"],
        cfg["kernel_size"],
        cfg["stride"],
        cfg["padding"],
    )


# ---------------------------------------------------------------- load_data


def load_data_batches(ns, batch_size, train_split="unlabeled", test_split="test"):
    train_dl, val_dl = require(ns, "load_data")(
        batch_size=batch_size, train_split=train_split, test_split=test_split
    )
    out = {}
    for name, loader in (("train", train_dl), ("val", val_dl)):
        x, y = next(iter(loader))
        out[name] = {
            "x_shape": list(x.shape),
            "x_dtype": str(x.dtype),
            "y_shape": list(y.shape),
            "x_min": float(x.min()),
            "x_max": float(x.max()),
            "n": len(loader.dataset),
            "batches": len(loader),
            "labels_unknown": bool((torch.as_tensor(y) < 0).all()),
        }
    # the validation loader must be deterministic: two passes give the same first batch
    x1, _ = next(iter(val_dl))
    x2, _ = next(iter(val_dl))
    out["val_deterministic"] = bool(torch.equal(x1, x2))
    t1, _ = next(iter(train_dl))
    t2, _ = next(iter(train_dl))
    out["train_shuffled"] = not torch.equal(t1, t2)
    return out


# ---------------------------------------------------------------- Autoencoder


def autoencoder_shapes(ns, cfg, side):
    model = _build(ns, cfg)
    x = torch.randn(2, cfg["in_channels"], side, side)
    with torch.no_grad():
        z = model.encode(x)
        r = model(x)
    return {"bottleneck": list(z.shape), "reconstruction": list(r.shape)}


def autoencoder_layers(ns, cfg):
    model = _build(ns, cfg)
    layers = []
    for m in _layers(model):
        layers.append(
            {
                "kind": type(m).__name__,
                "in": m.in_channels,
                "out": m.out_channels,
                "kernel": list(m.kernel_size),
                "stride": list(m.stride),
                "padding": list(m.padding),
            }
        )
    encoder = getattr(model, "encoder", None)
    return {
        "layers": layers,
        "n_params": sum(p.numel() for p in model.parameters()),
        "encoder_convs": len(_layers(encoder))
        if isinstance(encoder, nn.Module)
        else -1,
    }


def autoencoder_forward(ns, cfg, side, init_seed):
    """Forward pass with seeded weights, on inputs spread over [-3, 3]."""
    model = _build(ns, cfg)
    deterministic_init(_layers(model), init_seed, scale=0.3)
    model.eval()
    x = torch.randn(3, cfg["in_channels"], side, side) * 1.5
    big = torch.randn(1, cfg["in_channels"], side, side) * 50
    with torch.no_grad():
        return {
            "bottleneck": model.encode(x),
            "reconstruction": model(x),
            "extreme": model(big),
        }


# ----------------------------------------------------------- validate / train_one_epoch


class _GraderAutoencoder(nn.Module):
    """The grader's own small autoencoder: tests of validate / train_one_epoch / train
    must not depend on the student's Autoencoder (that one is graded separately)."""

    def __init__(self, channels):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(channels, 4, 3, 2, 1), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(4, channels, 3, 2, 1, output_padding=1), nn.Sigmoid()
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))

    def encode(self, x):
        return self.encoder(x)


def _tiny_setup(ns, cfg, n, batch):
    model = _GraderAutoencoder(cfg["in_channels"])
    deterministic_init(_layers(model), 7, scale=0.3)
    images = torch.rand(n, cfg["in_channels"], 16, 16)
    loader = DataLoader(
        TensorDataset(images, torch.zeros(n, dtype=torch.long)), batch_size=batch
    )
    return model, loader


def validate_run(ns, cfg, n, batch, start_in_train_mode=True):
    model, loader = _tiny_setup(ns, cfg, n, batch)
    model.train(start_in_train_mode)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with spy_forward(model) as calls:
        loss = require(ns, "validate")(model, loader, nn.MSELoss(), torch.device("cpu"))
    changed = any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    return {"loss": float(loss), "calls": calls, "weights_changed": changed}


class _CountingAdam(torch.optim.Adam):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = 0
        self.zero_grads = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)

    def zero_grad(self, set_to_none=True):
        self.zero_grads += 1
        return super().zero_grad(set_to_none)


def train_one_epoch_run(ns, cfg, n, batch, lr):
    model, loader = _tiny_setup(ns, cfg, n, batch)
    model.eval()  # the function itself must switch to train mode
    opt = _CountingAdam(model.parameters(), lr=lr)
    with spy_forward(model) as calls:
        loss = require(ns, "train_one_epoch")(
            model, opt, loader, nn.MSELoss(), torch.device("cpu")
        )
    return {
        "loss": float(loss),
        "calls": calls,
        "steps": opt.steps,
        "zero_grads": opt.zero_grads,
        "state": model.state_dict(),
    }


# ---------------------------------------------------------------- train


def train_run(ns, cfg, scripted_val):
    """``train`` with a scripted validation curve: the best epoch is known in
    advance."""
    model, loader = _tiny_setup(ns, cfg, 8, 4)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    real_validate = require(ns, "validate")
    real_train_one_epoch = require(ns, "train_one_epoch")
    snapshots, epochs_trained = [], []

    def scripted_validate(model_, val_loader, criterion, device):
        real_validate(model_, val_loader, criterion, device)
        snapshots.append(
            {k: v.detach().clone() for k, v in model_.state_dict().items()}
        )
        return scripted_val[min(len(snapshots), len(scripted_val)) - 1]

    def counted_train_one_epoch(*args, **kwargs):
        epochs_trained.append(1)
        return real_train_one_epoch(*args, **kwargs)

    scratch = Path(context().scratch) / "train_run"
    scratch.mkdir(parents=True, exist_ok=True)
    here = os.getcwd()
    ns.validate, ns.train_one_epoch = scripted_validate, counted_train_one_epoch
    os.chdir(scratch)
    try:
        log = require(ns, "train")(
            model,
            opt,
            len(scripted_val),
            loader,
            loader,
            nn.MSELoss(),
            torch.device("cpu"),
        )
    finally:
        os.chdir(here)
        ns.validate, ns.train_one_epoch = real_validate, real_train_one_epoch

    best = min(range(len(scripted_val)), key=lambda i: scripted_val[i])
    result = {
        "train_loss": [float(v) for v in log.get("train_loss", [])],
        "val_loss": [float(v) for v in log.get("val_loss", [])],
        "validate_calls": len(snapshots),
        "train_calls": len(epochs_trained),
        "checkpoint_found": False,
        "checkpoint_is_best": False,
    }
    files = sorted(scratch.glob("*"), key=lambda p: p.stat().st_mtime)
    if files and len(snapshots) > best:
        result["checkpoint_found"] = True
        ckpt = torch.load(files[-1], map_location="cpu", weights_only=True)
        state = ckpt.get("model_state_dict", ckpt) if isinstance(ckpt, dict) else {}
        expected = snapshots[best]
        result["checkpoint_is_best"] = (
            bool(state)
            and set(state) == set(expected)
            and all(torch.equal(state[k], expected[k]) for k in expected)
        )
    return result


# ---------------------------------------------------------------- performance tier


def performance(ns, budget):
    """Train the student's autoencoder with the student's train_one_epoch in a fixed
    loop; return bottleneck features of the probe splits (the judge scores them)."""
    import torchvision
    from torchvision import transforms as T

    cfg = {
        "in_channels": 3,
        "base_channels": budget["base_channels"],
        "n_layers": budget["n_layers"],
        "kernel_size": 3,
        "stride": 2,
        "padding": 1,
    }
    model = _build(ns, cfg)
    gen = torch.Generator().manual_seed(torch.initial_seed() + 17)
    unlabeled = torchvision.datasets.STL10(
        root=".", split=budget["train_split"], transform=T.ToTensor()
    )
    loader = DataLoader(
        unlabeled, batch_size=budget["batch_size"], shuffle=True, generator=gen
    )
    opt = torch.optim.Adam(model.parameters(), lr=budget["lr"])
    train_one_epoch = require(ns, "train_one_epoch")
    losses = [
        float(train_one_epoch(model, opt, loader, nn.MSELoss(), torch.device("cpu")))
        for _ in range(budget["epochs"])
    ]
    model.eval()
    features = {}
    with torch.no_grad():
        for split in budget["probe_splits"]:
            ds = torchvision.datasets.STL10(
                root=".", split=split, transform=T.ToTensor()
            )
            feats = [
                model.encode(x).flatten(1) for x, _ in DataLoader(ds, batch_size=100)
            ]
            features[split] = torch.cat(feats)
    return {"losses": losses, "features": features}
