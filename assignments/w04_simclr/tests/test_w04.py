"""Hidden tests of w04_simclr. Never shipped to students or workers.

Unit tier: differential against the reference on inputs the student never saw
(seeded embeddings, seeded weights, a batch-norm-free stand-in model for the training
loop), the loss against an independent formula, and the facts the notebook states
(augmentation parameters, head layout). Performance tier: a budgeted SimCLR run with
the student's pieces, scored by a linear probe against the calibrated band.
"""

import pytest
import torch

from autograder.checks import check, check_close, check_equal, check_shape


def _by_name(transforms, name):
    return [t for t in transforms if t["name"] == name]


# ---------------------------------------------------------------- Augment


@pytest.mark.graded(item="Augment", points=2)
def test_augment_gives_two_different_views(student):
    for side in (64, 40):
        got = student.probe("augment_views", img_size=side)
        check(
            all(k == "2-sequence" for k in got["kinds"]),
            "Augment(img_size)(image) must return two views "
            "(a tuple or list of two tensors)",
        )
        for shapes in got["shapes"]:
            check_shape(shapes[0], (3, side, side), f"a view for img_size={side}")
            check_shape(shapes[1], (3, side, side), f"a view for img_size={side}")
        check(
            all(d == "torch.float32" for d in got["dtypes"]),
            "views must be float tensors",
        )
        check(
            all(got["pairs_differ"]),
            "the two views of an image are identical: apply the "
            "random pipeline twice, independently",
        )
        check(
            all(got["calls_differ"]),
            "calling Augment twice on an image gives the same view: "
            "the pipeline must be random",
        )


@pytest.mark.graded(item="Augment", points=1)
def test_augment_crop_and_blur(student):
    found = student.probe("augment_transforms", img_size=48)["transforms"]
    crops = _by_name(found, "RandomResizedCrop")
    check(len(crops) == 1, "use one T.RandomResizedCrop")
    check_close(
        crops[0]["size"],
        [48.0, 48.0],
        "the crop's output size (img_size)",
        rtol=0,
        atol=1e-6,
    )
    check_close(
        crops[0]["scale"],
        [0.1, 1.0],
        "the crop's scale range (10 % to 100 %)",
        rtol=0,
        atol=1e-6,
    )
    blurs = _by_name(found, "GaussianBlur")
    check(len(blurs) == 1, "use one T.GaussianBlur")
    check_close(
        blurs[0]["kernel_size"], [3.0, 3.0], "the blur's kernel size", rtol=0, atol=0
    )
    check_close(
        blurs[0]["sigma"], [0.1, 2.0], "the blur's sigma range", rtol=0, atol=1e-6
    )


@pytest.mark.graded(item="Augment", points=2)
def test_augment_colour_jitter(student):
    found = student.probe("augment_transforms", img_size=48)["transforms"]
    jitters = _by_name(found, "ColorJitter")
    check(len(jitters) == 1, "use one T.ColorJitter")
    jitter = jitters[0]
    for key in ("brightness", "contrast", "saturation"):
        check(jitter[key] is not None, f"the colour jitter must change {key}")
        check_close(
            jitter[key],
            [0.2, 1.8],
            f"the colour jitter's {key} range",
            rtol=0,
            atol=1e-6,
        )
    check(jitter["hue"] is not None, "the colour jitter must change hue")
    check_close(
        jitter["hue"], [-0.2, 0.2], "the colour jitter's hue range", rtol=0, atol=1e-6
    )
    check_close(
        jitter["applied_p"],
        0.8,
        "the probability of applying the colour jitter (wrap it in T.RandomApply)",
        rtol=0,
        atol=1e-6,
    )


@pytest.mark.graded(item="Augment", points=1)
def test_augment_flip_and_normalise(student):
    found = student.probe("augment_transforms", img_size=48)["transforms"]
    check(
        not _by_name(found, "RandomVerticalFlip"),
        "an upside-down photo is not a natural view of it: flip horizontally",
    )
    flips = _by_name(found, "RandomHorizontalFlip")
    check(len(flips) == 1, "use one T.RandomHorizontalFlip")
    check_close(
        flips[0]["p"] * flips[0]["applied_p"],
        0.5,
        "the flip probability",
        rtol=0,
        atol=1e-6,
    )
    check(
        _by_name(found, "Normalize"),
        "normalise the views (T.Normalize with a mean and std)",
    )


# ---------------------------------------------------------------- load_data


@pytest.mark.graded(item="load_data", points=2)
def test_load_data_splits_and_transform(student, reference):
    kwargs = {"batch_size": 6, "side": 24, "train_split": "train", "test_split": "test"}
    got = student.probe("load_data_batches", **kwargs)
    ref = reference.probe("load_data_batches", **kwargs)
    for part, label in (("train", "training loader"), ("val", "validation loader")):
        check_equal(
            got[part]["n"],
            ref[part]["n"],
            f"the size of the {label}'s dataset (split?)",
        )
        check_equal(
            got[part]["x_shape"],
            ref[part]["x_shape"],
            f"the {label}'s batch shape "
            "(is `transf` applied and `batch_size` honoured?)",
            reveal=True,
        )
        check(
            not got[part]["labels_unknown"],
            f"the {label} should read a labelled split here",
        )
    check_equal(
        got["val_first_labels"],
        ref["val_first_labels"],
        "the validation loader's first labels (split? order?)",
    )


@pytest.mark.graded(item="load_data", points=1)
def test_load_data_two_views_and_defaults(student, reference):
    got = student.probe("load_data_batches", batch_size=4, side=20, two_views=True)
    ref = reference.probe("load_data_batches", batch_size=4, side=20, two_views=True)
    check(
        got["train"]["labels_unknown"],
        "the default training split should be 'unlabeled'",
    )
    check_equal(
        got["train"]["n"], ref["train"]["n"], "the default training dataset's size"
    )
    check_equal(
        got["val"]["n"], ref["val"]["n"], "the default validation dataset's size"
    )
    check_equal(
        got["train"]["x_shape"],
        ref["train"]["x_shape"],
        "the shapes of a batch of view pairs",
        reveal=True,
    )


@pytest.mark.graded(item="load_data", points=1)
def test_load_data_shuffles_training_only(student):
    got = student.probe(
        "load_data_batches",
        batch_size=8,
        side=16,
        train_split="train",
        test_split="test",
    )
    check(got["train_shuffled"], "the training loader should shuffle")
    check(got["val_deterministic"], "the validation loader should not shuffle")


# ---------------------------------------------------------------- ContrastiveLoss

CASES = ((6, 16, 0.2), (10, 32, 0.5), (3, 8, 0.07))


def _nt_xent(proj_1, proj_2, temperature):
    """Direct transcription of the notebook's formula, one view at a time."""
    z = torch.cat([proj_1, proj_2]).double()
    z = z / z.norm(dim=1, keepdim=True)
    n = proj_1.shape[0]
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        others = [k for k in range(2 * n) if k != i]
        denominator = torch.exp(z[i] @ z[others].T / temperature).sum()
        total += -torch.log(torch.exp(z[i] @ z[j] / temperature) / denominator)
    return total / (2 * n)


@pytest.mark.graded(item="ContrastiveLoss", points=1)
def test_contrastive_loss_course_check(student):
    got = student.probe("contrastive_loss", batch_size=8, dim=128, temperature=0.1)
    check_shape(got["shape"], (), "the loss (a scalar)")
    check(float(got["loss"]) >= 0, "the loss is a cross-entropy: it cannot be negative")


@pytest.mark.graded(item="ContrastiveLoss", points=3)
def test_contrastive_loss_matches_formula(student):
    for seed, (batch, dim, temperature) in enumerate(CASES):
        got = student.probe(
            "contrastive_loss",
            seed=seed,
            batch_size=batch,
            dim=dim,
            temperature=temperature,
        )
        expected = _nt_xent(got["proj_1"], got["proj_2"], temperature)
        check_close(
            got["loss"],
            expected,
            "the NT-Xent loss on random projections",
            rtol=1e-4,
            atol=1e-5,
        )


@pytest.mark.graded(item="ContrastiveLoss", points=2)
def test_contrastive_loss_matches_reference(student, reference):
    for seed, (batch, dim, temperature) in enumerate(CASES[:2]):
        kwargs = {"batch_size": batch, "dim": dim, "temperature": temperature}
        got = student.probe("contrastive_loss", seed=seed, aligned=True, **kwargs)
        ref = reference.probe("contrastive_loss", seed=seed, aligned=True, **kwargs)
        check_close(
            got["loss"],
            ref["loss"],
            "the loss on nearly aligned pairs",
            rtol=1e-4,
            atol=1e-5,
        )
        check_close(
            got["grad_1"],
            ref["grad_1"],
            "the gradient of the loss",
            rtol=1e-3,
            atol=1e-6,
        )


@pytest.mark.graded(item="ContrastiveLoss", points=1)
def test_contrastive_loss_ignores_vector_length(student):
    small = student.probe("contrastive_loss", batch_size=6, dim=16, temperature=0.5)
    large = student.probe(
        "contrastive_loss", batch_size=6, dim=16, temperature=0.5, scale=7.0
    )
    check_close(
        large["loss"],
        small["loss"],
        "the loss after scaling every projection by 7 (normalise them to unit length)",
        rtol=1e-4,
        atol=1e-5,
    )


# ---------------------------------------------------------------- ResNetSimCLR

HEAD = [
    ("Linear", [512, 512], False),
    ("BatchNorm1d", [512], None),
    ("ReLU", None, None),
    ("Linear", [512, "E"], False),
    ("BatchNorm1d", ["E"], None),
]


@pytest.mark.graded(item="ResNetSimCLR", points=1)
def test_resnet_simclr_course_shapes(student):
    got = student.probe("simclr_forward", embedding_size=128, side=64, init_seed=1)
    check_shape(got["projection"], (4, 128), "model(x) for a batch of 4")
    check_shape(
        got["embedding"], (4, 512), "model(x, return_embedding=True) for a batch of 4"
    )


@pytest.mark.graded(item="ResNetSimCLR", points=2)
def test_resnet_simclr_projection_head(student, reference):
    size = 48
    got = student.probe("simclr_structure", embedding_size=size)
    ref = reference.probe("simclr_structure", embedding_size=size)
    check(got["has_projection"], "keep the head in self.projection")
    layout = [(h["kind"], h.get("shape"), h.get("bias")) for h in got["head"]]
    want = [
        (k, [size if v == "E" else v for v in s] if s else s, b) for k, s, b in HEAD
    ]
    check_equal(
        [k for k, _, _ in layout],
        [k for k, _, _ in want],
        "the layers of self.projection",
        reveal=True,
    )
    for i, ((kind, shape, bias), (_, w_shape, _w_bias)) in enumerate(
        zip(layout, want, strict=True)
    ):
        if w_shape is not None:
            check_equal(
                shape, w_shape, f"the size of head layer {i} ({kind})", reveal=True
            )
        if kind == "Linear":
            check(
                bias is False,
                f"head layer {i} (Linear) needs bias=False: the batch norm "
                "after it has its own shift",
            )
    check_equal(
        got["head_params"],
        ref["head_params"],
        "the number of head parameters",
        reveal=True,
    )


@pytest.mark.graded(item="ResNetSimCLR", points=1)
def test_resnet_simclr_backbone_is_resnet18(student, reference):
    got = student.probe("simclr_structure", embedding_size=64)
    ref = reference.probe("simclr_structure", embedding_size=64)
    check_equal(
        got["backbone_params"],
        ref["backbone_params"],
        "the number of backbone parameters (a ResNet18 without its fc layer)",
        reveal=True,
    )


@pytest.mark.graded(item="ResNetSimCLR", points=2)
def test_resnet_simclr_forward_matches(student, reference):
    for seed, (size, side, train) in enumerate(((32, 40, False), (16, 48, True))):
        kwargs = {
            "embedding_size": size,
            "side": side,
            "init_seed": 5 + seed,
            "train_mode": train,
        }
        got = student.probe("simclr_forward", seed=seed, **kwargs)
        ref = reference.probe("simclr_forward", seed=seed, **kwargs)
        check(
            got["backbone_matched"],
            "the backbone's weights do not line up with a "
            "torchvision resnet18 (conv1 ... layer4, fc removed)",
        )
        check_close(
            got["embedding"],
            ref["embedding"],
            "the embedding (return_embedding=True) with given weights",
            rtol=1e-4,
            atol=1e-4,
        )
        check_close(
            got["projection"],
            ref["projection"],
            "the projection with given weights",
            rtol=1e-4,
            atol=1e-4,
        )


# ---------------------------------------------------------------- training_step


@pytest.mark.graded(item="training_step", points=2)
def test_training_step_loss_of_both_views(student):
    got = student.probe("training_step_run", n=6, side=6)
    check(
        got["requires_grad"],
        "training_step must return the loss tensor itself (with its "
        "graph), not a number",
    )
    check_equal(got["loss_calls"], 1, "calls of loss_function per step", reveal=True)
    check(
        got["saw_view_1"] and got["saw_view_2"],
        "both views of the batch must go through the model",
    )
    check_close(
        got["loss"], got["expected"], "the loss of the batch", rtol=1e-5, atol=1e-6
    )


@pytest.mark.graded(item="training_step", points=1)
def test_training_step_matches_reference(student, reference):
    got = student.probe("training_step_run", seed=1, n=5, side=4)
    ref = reference.probe("training_step_run", seed=1, n=5, side=4)
    check_close(got["loss"], ref["loss"], "the loss of the batch", rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------- pretrain_one_epoch_grad_acc


def _same_weights(got, ref, what):
    check_equal(
        sorted(got["state"]), sorted(ref["state"]), "the model's parameter names"
    )
    for name in ref["state"]:
        check_close(got["state"][name], ref["state"][name], what, rtol=1e-4, atol=1e-6)


@pytest.mark.graded(item="pretrain_one_epoch_grad_acc", points=2)
def test_epoch_without_accumulation(student, reference):
    kwargs = {"n_batches": 4, "batch": 5, "accum_iter": 1}
    got = student.probe("grad_acc_run", **kwargs)
    ref = reference.probe("grad_acc_run", **kwargs)
    check(got["train_mode"], "the model must be in train mode")
    check_equal(
        got["steps_at"],
        ref["steps_at"],
        "with accum_iter=1 the optimizer steps after every batch",
        reveal=True,
    )
    _same_weights(got, ref, "the weights after one epoch (accum_iter=1)")
    check_close(
        got["loss"],
        sum(got["batch_losses"]) / len(got["batch_losses"]),
        "the returned epoch loss (mean of the batch losses)",
        rtol=1e-4,
        atol=1e-6,
    )


@pytest.mark.graded(item="pretrain_one_epoch_grad_acc", points=3)
def test_epoch_accumulates_gradients(student, reference):
    for seed, (n_batches, accum) in enumerate(((6, 3), (4, 2))):
        kwargs = {"n_batches": n_batches, "batch": 4, "accum_iter": accum}
        got = student.probe("grad_acc_run", seed=seed, **kwargs)
        ref = reference.probe("grad_acc_run", seed=seed, **kwargs)
        check_equal(
            got["steps_at"],
            ref["steps_at"],
            f"the batches after which the optimizer "
            f"steps ({n_batches} batches, accum_iter={accum})",
            reveal=True,
        )
        _same_weights(
            got,
            ref,
            "the weights after an epoch with gradient accumulation "
            "(is each loss divided by accum_iter?)",
        )


@pytest.mark.graded(item="pretrain_one_epoch_grad_acc", points=1)
def test_epoch_loss_scaled_back(student):
    got = student.probe("grad_acc_run", n_batches=6, batch=4, accum_iter=3)
    check_close(
        got["loss"],
        sum(got["batch_losses"]) / len(got["batch_losses"]),
        "the returned epoch loss with accum_iter=3 (scale the loss back)",
        rtol=1e-4,
        atol=1e-6,
    )


@pytest.mark.graded(item="pretrain_one_epoch_grad_acc", points=2)
def test_epoch_mixed_precision(student, reference):
    """amp=True on a CPU: bfloat16 autocast or a disabled CUDA autocast are both fine;
    the update must still happen, on schedule, and stay close to full precision."""
    kwargs = {"n_batches": 6, "batch": 4, "accum_iter": 3}
    got = student.probe("grad_acc_run", amp=True, **kwargs)
    ref = reference.probe("grad_acc_run", amp=False, **kwargs)
    check(
        torch.isfinite(torch.tensor(got["loss"])),
        "the epoch loss with amp=True is not finite",
    )
    check_equal(
        got["steps_at"],
        ref["steps_at"],
        "the optimizer steps with amp=True",
        reveal=True,
    )
    check_equal(
        sorted(got["state"]), sorted(ref["state"]), "the model's parameter names"
    )
    for name in ref["state"]:
        check_close(
            got["state"][name],
            ref["state"][name],
            "the weights after an epoch with amp=True",
            rtol=5e-2,
            atol=2e-2,
        )
    check_close(
        got["loss"], ref["loss"], "the epoch loss with amp=True", rtol=2e-2, atol=1e-2
    )


# ---------------------------------------------------------------- main (the comparison)


@pytest.mark.graded(item="main", points=2)
def test_main_simclr_starts_from_pretrained_backbone(student):
    got = student.probe("main_run", mode="simclr")
    check(got["called_linear_eval"], "main('simclr') never reached linear_eval")
    check_close(
        got["simclr_match"],
        1.0,
        "the share of convolution weights taken from the "
        "SimCLR checkpoint in main('simclr')",
        rtol=0,
        atol=1e-9,
    )


@pytest.mark.graded(item="main", points=1)
def test_main_imagenet_weights(student):
    got = student.probe("main_run", mode="imagenet")
    check(got["called_linear_eval"], "main('imagenet') never reached linear_eval")
    check_close(
        got["imagenet_match"],
        1.0,
        "the share of convolution weights taken from "
        "torchvision's ImageNet ResNet18 in main('imagenet')",
        rtol=0,
        atol=1e-9,
    )


@pytest.mark.graded(item="main", points=1)
def test_main_random_init(student):
    got = student.probe("main_run", mode="random")
    check(got["called_linear_eval"], "main('random') never reached linear_eval")
    check(
        got["imagenet_match"] == 0 and got["simclr_match"] == 0,
        "main('random') must start from a random initialisation, "
        "not pretrained weights",
    )
    check_equal(
        got["n_convs"], 20, "the number of convolutions (a ResNet18)", reveal=True
    )


@pytest.mark.graded(item="main", points=2)
def test_main_classifier_and_data(student):
    for mode in ("simclr", "imagenet", "random"):
        got = student.probe("main_run", mode=mode)
        check(got["called_linear_eval"], f"main({mode!r}) never reached linear_eval")
        check_equal(
            got["logits_shape"],
            [2, 10],
            f"the output of main({mode!r})'s model for 2 images (10 STL10 classes)",
            reveal=True,
        )
        check(
            got["train_labelled"] and got["val_labelled"],
            f"main({mode!r}) must fine-tune on labelled splits (train / test)",
        )
        check(
            got["train_is_tensor"],
            f"main({mode!r}): no augmentation, one image per sample",
        )
        check(
            got["all_params_trained"],
            f"main({mode!r}): the optimizer should fine-tune the whole network",
        )


# ---------------------------------------------------------------- performance tier


@pytest.mark.graded(
    item="ResNetSimCLR",
    tags=["Augment", "ContrastiveLoss", "training_step", "pretrain_one_epoch_grad_acc"],
    points=8,
    tier="performance",
)
def test_linear_probe_after_pretraining(student, grading):
    grading.score_performance(
        student, "linear-probe accuracy on your pretrained backbone's features"
    )
