"""Hidden tests of w01_autoencoder. Never shipped to students or workers.

Unit tier: differential against the reference on inputs the student never saw,
plus behaviour (modes, gradients, checkpoints). Performance tier: a budgeted
training run scored against the calibrated band.
"""

import pytest

from autograder.checks import check, check_close, check_equal, check_shape

HIDDEN = {
    "in_channels": 3,
    "base_channels": 6,
    "n_layers": 3,
    "kernel_size": 3,
    "stride": 2,
    "padding": 1,
}
ODD = {
    "in_channels": 2,
    "base_channels": 3,
    "n_layers": 2,
    "kernel_size": 5,
    "stride": 2,
    "padding": 2,
}
SMALL = {
    "in_channels": 3,
    "base_channels": 2,
    "n_layers": 2,
    "kernel_size": 3,
    "stride": 2,
    "padding": 1,
}


# ---------------------------------------------------------------- load_data


@pytest.mark.graded(item="load_data", points=2)
def test_load_data_default_splits(student, reference):
    got = student.probe("load_data_batches", batch_size=16)
    ref = reference.probe("load_data_batches", batch_size=16)
    for part, label in (("train", "training loader"), ("val", "validation loader")):
        check_equal(
            got[part]["x_shape"],
            ref[part]["x_shape"],
            f"the {label}'s image batch shape",
            reveal=True,
        )
        check_equal(
            got[part]["x_dtype"],
            ref[part]["x_dtype"],
            f"the {label}'s image dtype",
            reveal=True,
        )
        check(
            got[part]["x_min"] >= 0.0 and got[part]["x_max"] <= 1.0,
            f"the {label} must give images in [0, 1] (the decoder ends with a sigmoid)",
        )
        check_equal(
            got[part]["n"],
            ref[part]["n"],
            f"the size of the {label}'s dataset (split?)",
        )
    check(
        got["train"]["labels_unknown"],
        "the default training split should be 'unlabeled'",
    )
    check(got["val_deterministic"], "the validation loader should not shuffle")
    check(got["train_shuffled"], "the training loader should shuffle")


@pytest.mark.graded(item="load_data", points=1)
def test_load_data_honours_arguments(student, reference):
    got = student.probe(
        "load_data_batches", batch_size=7, train_split="train", test_split="test"
    )
    ref = reference.probe(
        "load_data_batches", batch_size=7, train_split="train", test_split="test"
    )
    check_equal(
        got["train"]["n"], ref["train"]["n"], "the dataset size for train_split='train'"
    )
    check_equal(got["train"]["x_shape"][0], 7, "the batch size", reveal=True)
    check(
        not got["train"]["labels_unknown"],
        "train_split='train' must give labelled images",
    )


# ---------------------------------------------------------------- Autoencoder


@pytest.mark.graded(item="Autoencoder", points=2)
def test_autoencoder_course_check(student):
    """The notebook's own check: 5 channels, base 4, 4 layers, k3 s2 p1 on 32x32."""
    cfg = {
        "in_channels": 5,
        "base_channels": 4,
        "n_layers": 4,
        "kernel_size": 3,
        "stride": 2,
        "padding": 1,
    }
    got = student.probe("autoencoder_shapes", cfg=cfg, side=32)
    check_shape(got["bottleneck"], (2, 32, 2, 2), "the bottleneck of a batch of 2")
    check_shape(got["reconstruction"], (2, 5, 32, 32), "the reconstruction")


@pytest.mark.graded(item="Autoencoder", points=2)
def test_autoencoder_channels_double_and_halve(student, reference):
    got = student.probe("autoencoder_layers", cfg=HIDDEN)
    ref = reference.probe("autoencoder_layers", cfg=HIDDEN)
    check_equal(
        len(got["layers"]),
        len(ref["layers"]),
        "the number of Conv2d/ConvTranspose2d layers",
        reveal=True,
    )
    check_equal(
        got["encoder_convs"],
        ref["encoder_convs"],
        "the number of convolutions in self.encoder",
        reveal=True,
    )
    for i, (g, r) in enumerate(zip(got["layers"], ref["layers"], strict=True)):
        check_equal(g["kind"], r["kind"], f"layer {i}'s type", reveal=True)
        check_equal(
            (g["in"], g["out"]),
            (r["in"], r["out"]),
            f"layer {i}'s (in, out) channels",
            reveal=True,
        )
        check_equal(
            (g["kernel"], g["stride"], g["padding"]),
            (r["kernel"], r["stride"], r["padding"]),
            f"layer {i}'s kernel/stride/padding",
            reveal=True,
        )
    check_equal(
        got["n_params"], ref["n_params"], "the number of parameters", reveal=True
    )


@pytest.mark.graded(item="Autoencoder", points=2)
def test_autoencoder_forward_matches(student, reference):
    for seed, (cfg, side) in enumerate(((HIDDEN, 24), (ODD, 20))):
        got = student.probe(
            "autoencoder_forward", seed=seed, cfg=cfg, side=side, init_seed=5
        )
        ref = reference.probe(
            "autoencoder_forward", seed=seed, cfg=cfg, side=side, init_seed=5
        )
        check_close(
            got["bottleneck"],
            ref["bottleneck"],
            "the bottleneck (same weights)",
            rtol=1e-4,
            atol=1e-5,
        )
        check_close(
            got["reconstruction"],
            ref["reconstruction"],
            "the reconstruction (same weights)",
            rtol=1e-4,
            atol=1e-5,
        )


@pytest.mark.graded(item="Autoencoder", points=1)
def test_autoencoder_sigmoid_output(student):
    got = student.probe("autoencoder_forward", seed=3, cfg=HIDDEN, side=16, init_seed=9)
    check(
        float(got["extreme"].min()) >= 0.0 and float(got["extreme"].max()) <= 1.0,
        "reconstructions must lie in [0, 1]: end the decoder with a sigmoid",
    )
    check(
        float(got["reconstruction"].min()) > 0.0,
        "a sigmoid output is never exactly 0: is there a ReLU after the last layer?",
    )


# ---------------------------------------------------------------- validate


@pytest.mark.graded(item="validate", points=2)
def test_validate_mean_loss(student, reference):
    for n, batch in ((24, 6), (20, 4)):
        got = student.probe("validate_run", cfg=SMALL, n=n, batch=batch)
        ref = reference.probe("validate_run", cfg=SMALL, n=n, batch=batch)
        check_close(
            got["loss"],
            ref["loss"],
            "the validation loss (mean over batches)",
            rtol=1e-5,
            atol=1e-7,
        )


@pytest.mark.graded(item="validate", points=1)
def test_validate_eval_mode(student):
    got = student.probe(
        "validate_run", cfg=SMALL, n=8, batch=4, start_in_train_mode=True
    )
    check(got["calls"], "validate never called the model")
    check(
        all(not c["training"] for c in got["calls"]),
        "validate must put the model in eval mode",
    )


@pytest.mark.graded(item="validate", points=1)
def test_validate_without_gradients(student):
    got = student.probe("validate_run", cfg=SMALL, n=8, batch=4)
    check(got["calls"], "validate never called the model")
    check(
        all(not c["grad"] for c in got["calls"]),
        "validate should run under torch.no_grad(): it builds graphs it never uses",
    )


# ---------------------------------------------------------------- train_one_epoch


@pytest.mark.graded(item="train_one_epoch", points=2)
def test_train_one_epoch_update(student, reference):
    got = student.probe("train_one_epoch_run", cfg=SMALL, n=24, batch=6, lr=0.01)
    ref = reference.probe("train_one_epoch_run", cfg=SMALL, n=24, batch=6, lr=0.01)
    check_close(
        got["loss"],
        ref["loss"],
        "the returned epoch loss (mean over batches)",
        rtol=1e-4,
        atol=1e-6,
    )
    check_equal(
        sorted(got["state"]), sorted(ref["state"]), "the model's parameter names"
    )
    for name in ref["state"]:
        check_close(
            got["state"][name],
            ref["state"][name],
            "the weights after one epoch",
            rtol=1e-4,
            atol=1e-6,
        )


@pytest.mark.graded(item="train_one_epoch", points=1)
def test_train_one_epoch_train_mode(student):
    got = student.probe("train_one_epoch_run", cfg=SMALL, n=8, batch=4, lr=0.01)
    check(got["calls"], "train_one_epoch never called the model")
    check(
        all(c["training"] for c in got["calls"]),
        "train_one_epoch must call model.train()",
    )


@pytest.mark.graded(item="train_one_epoch", points=1)
def test_train_one_epoch_clears_gradients(student):
    got = student.probe("train_one_epoch_run", cfg=SMALL, n=12, batch=4, lr=0.01)
    check_equal(
        got["steps"], 3, "the number of optimizer steps for 3 batches", reveal=True
    )
    check(
        got["zero_grads"] >= got["steps"],
        "gradients must be cleared before every step (optimizer.zero_grad())",
    )


# ---------------------------------------------------------------- train

SCRIPTED = [0.9, 0.4, 0.6, 0.5]


@pytest.mark.graded(item="train", points=1)
def test_train_logs_every_epoch(student):
    got = student.probe("train_run", cfg=SMALL, scripted_val=SCRIPTED)
    check_equal(
        len(got["train_loss"]),
        len(SCRIPTED),
        "len(dict_log['train_loss'])",
        reveal=True,
    )
    check_close(
        got["val_loss"],
        SCRIPTED,
        "dict_log['val_loss'] (what validate returned)",
        rtol=0,
        atol=1e-9,
    )


@pytest.mark.graded(item="train", points=1)
def test_train_calls_once_per_epoch(student):
    got = student.probe("train_run", cfg=SMALL, scripted_val=SCRIPTED)
    check_equal(
        got["train_calls"], len(SCRIPTED), "calls of train_one_epoch", reveal=True
    )
    check_equal(got["validate_calls"], len(SCRIPTED), "calls of validate", reveal=True)


@pytest.mark.graded(item="train", points=2)
def test_train_keeps_best_checkpoint(student):
    got = student.probe("train_run", cfg=SMALL, scripted_val=SCRIPTED)
    check(got["checkpoint_found"], "train saved no checkpoint file")
    check(
        got["checkpoint_is_best"],
        "the last checkpoint saved is not the model of the epoch "
        "with the lowest validation loss",
    )


# ---------------------------------------------------------------- performance tier


@pytest.mark.graded(
    item="Autoencoder", tags=["train_one_epoch"], points=10, tier="performance"
)
def test_linear_probe_on_bottleneck(student, grading):
    grading.score_performance(
        student, "linear-probe accuracy on your bottleneck features"
    )
