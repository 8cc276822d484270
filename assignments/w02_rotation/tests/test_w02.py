"""Hidden tests of w02_rotation. Never shipped to students or workers.

Unit tier: differential against the reference on inputs the student never saw, plus
behaviour (which way each class turns the image, modes, gradients, what the probe
trains). Performance tier: a budgeted pretext run scored against the calibrated band.
"""

import pytest

from autograder.checks import check, check_close, check_equal, check_shape

# ---------------------------------------------------------------- STL10Rot


def _rot(student, split="test", n_items=6, repeats=8, scale=0.5, seed=0):
    return student.probe(
        "rot_samples",
        seed=seed,
        split=split,
        n_items=n_items,
        repeats=repeats,
        scale=scale,
    )


@pytest.mark.graded(item="STL10Rot", points=2)
def test_stl10rot_items_and_labels(student, reference):
    got = _rot(student)
    ref = _rot(reference)
    check_equal(got["len"], ref["len"], "len(STL10Rot(split='test'))")
    rows = got["samples"]
    check(
        all(r["tensor"] for r in rows),
        "dataset[idx] must return (image tensor, rotation "
        "class); apply the transform you are given (T.ToTensor())",
    )
    check(
        all(r["shape"] == [3, 96, 96] for r in rows),
        "every returned image must keep the "
        "shape (3, 96, 96): rotate the height and width axes, not the channels",
    )
    labels = [r["label"] for r in rows]
    check(
        all(k is not None for k in labels),
        "the rotation class must be a single integer "
        "(a Python int or an integer tensor)",
    )
    check(all(0 <= k <= 3 for k in labels), "rotation classes must be 0, 1, 2 or 3")


@pytest.mark.graded(item="STL10Rot", points=1)
def test_stl10rot_classes_are_uniform(student):
    got = _rot(student, n_items=10, repeats=20, seed=1)
    labels = [r["label"] for r in got["samples"]]
    counts = [labels.count(k) for k in range(4)]
    # 200 draws: a fair four-way draw puts at least 25 in every class with
    # overwhelming odds
    check(
        all(c >= 25 for c in counts),
        "the four rotation classes should be drawn uniformly "
        "at random, every time an item is read",
    )


@pytest.mark.graded(item="STL10Rot", points=3)
def test_stl10rot_image_matches_class(student):
    got = _rot(student, n_items=8, repeats=8, seed=2)
    rows = got["samples"]
    check(
        all(r["tensor"] for r in rows),
        "dataset[idx] must return (image tensor, rotation class)",
    )
    ccw = sum(r["ccw"] for r in rows)
    cw = sum(r["cw"] for r in rows)
    check(
        max(ccw, cw) == len(rows),
        "the returned image is not the dataset's image (after the "
        "transform) turned by the returned number of quarter turns",
    )


@pytest.mark.graded(item="STL10Rot", points=1)
def test_stl10rot_counter_clockwise(student):
    got = _rot(student, n_items=6, repeats=8, seed=3)
    rows = got["samples"]
    check(
        all(r["ccw"] for r in rows),
        "class k should be k quarter turns counter-clockwise "
        "(torch.rot90(img, k, dims=(1, 2)) on a CHW image)",
    )


@pytest.mark.graded(item="STL10Rot", points=1)
def test_stl10rot_honours_split(student, reference):
    got = _rot(student, split="train", n_items=4, repeats=4, scale=1.0, seed=4)
    ref = _rot(reference, split="train", n_items=4, repeats=4, scale=1.0, seed=4)
    check_equal(got["len"], ref["len"], "len(STL10Rot(split='train'))")
    check(
        all(r["ccw"] or r["cw"] for r in got["samples"]),
        "STL10Rot(split='train') does not return images of the 'train' split",
    )
    unl = student.probe("rot_samples", seed=5, split="unlabeled", n_items=2, repeats=2)
    check_equal(unl["len"], unl["base_len"], "len(STL10Rot(split='unlabeled'))")


@pytest.mark.graded(item="STL10Rot", points=1)
def test_rand_rotate_returns_rotation_and_class(student):
    rows = student.probe("rand_rotate_direct", seed=6, n=24)
    check(
        all(r["label"] is not None for r in rows),
        "rand_rotate(img) should return (rotated image, rotation class)",
    )
    check(
        all(r["ccw"] for r in rows),
        "rand_rotate(img) should return img turned by k "
        "quarter turns counter-clockwise, and k",
    )


# ---------------------------------------------------------------- load_resnet


@pytest.mark.graded(item="load_resnet", points=2)
def test_load_resnet_four_logits(student):
    """The notebook's own check: a batch of STL10-sized images gives 4 logits each."""
    got = student.probe("resnet_summary", batch=3, side=96)
    check(got["is_module"], "load_resnet must return an nn.Module")
    check_shape(got["out_shape"], (3, 4), "the output for a batch of 3 images of 96x96")
    check(
        got["fc_linear"] and got["fc_out"] == 4,
        "the final layer model.fc should be an nn.Linear with 4 outputs "
        "(one per rotation)",
    )


@pytest.mark.graded(item="load_resnet", points=2)
def test_load_resnet_is_resnet18(student, reference):
    got = student.probe("resnet_summary", batch=2, side=32)
    ref = reference.probe("resnet_summary", batch=2, side=32)
    check_equal(
        got["fc_in"], 512, "model.fc.in_features (ResNet18's feature size)", reveal=True
    )
    check_equal(
        sorted(got["shapes"]),
        sorted(ref["shapes"]),
        "the layer names of the model (a torchvision ResNet18)",
    )
    # the stem may be adapted to small images; everything after it must be ResNet18's
    for name, shape in ref["shapes"].items():
        if not name.startswith("conv1."):
            check_equal(got["shapes"][name], shape, f"the shape of {name}", reveal=True)
    check(
        got["all_trainable"],
        "every parameter must be trainable: the whole network learns the pretext task",
    )


@pytest.mark.graded(item="load_resnet", points=1)
def test_load_resnet_returns_logits(student):
    got = student.probe("resnet_summary", batch=4, side=32)
    check(
        not (got["rows_sum_to_one"] and got["nonnegative"]),
        "the model should output "
        "logits, not probabilities: F.cross_entropy applies the softmax itself",
    )


# ---------------------------------------------------------------- compute_val_accuracy


@pytest.mark.graded(item="compute_val_accuracy", points=2)
def test_val_accuracy_matches(student, reference):
    # batches of equal size: the mean of batch losses is unambiguous
    for n, batch in ((32, 8), (30, 10)):
        got = student.probe("val_accuracy_run", n=n, batch=batch)
        ref = reference.probe("val_accuracy_run", n=n, batch=batch)
        check_close(
            got["acc"], ref["acc"], "the validation accuracy (in %)", rtol=0, atol=1e-6
        )
        check_close(
            got["loss"],
            ref["loss"],
            "the validation loss (mean cross-entropy)",
            rtol=1e-4,
            atol=1e-6,
        )


@pytest.mark.graded(item="compute_val_accuracy", points=1)
def test_val_accuracy_counts_images(student, reference):
    got = student.probe("val_accuracy_run", n=26, batch=8)
    ref = reference.probe("val_accuracy_run", n=26, batch=8)
    check_close(
        got["acc"],
        ref["acc"],
        "the accuracy with a smaller last batch (count correct "
        "images over all images, in %)",
        rtol=0,
        atol=1e-6,
    )


@pytest.mark.graded(item="compute_val_accuracy", points=1)
def test_val_accuracy_eval_mode_no_grad(student):
    got = student.probe("val_accuracy_run", n=16, batch=4, start_in_train_mode=True)
    check(got["calls"], "compute_val_accuracy never called the model")
    check(
        all(not c["training"] for c in got["calls"]),
        "compute_val_accuracy must put the model in eval mode",
    )
    check(
        all(not c["grad"] for c in got["calls"]),
        "compute_val_accuracy should run under torch.no_grad()",
    )
    check(not got["state_changed"], "compute_val_accuracy must not change the model")


# ---------------------------------------------------------------- extract_features


@pytest.mark.graded(item="extract_features", points=3)
def test_features_before_final_layer(student, reference):
    got = student.probe("features_run", n=6, batch=4, side=32)
    ref = reference.probe("features_run", n=6, batch=4, side=32)
    check_shape(
        got["feats"],
        tuple(ref["feats"].shape),
        "the features of 6 images (one row of 512 per image)",
    )
    check_close(
        got["feats"],
        ref["feats"],
        "the features (the input of the final layer)",
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.graded(item="extract_features", points=1)
def test_features_keep_labels(student):
    got = student.probe("features_run", n=5, batch=2, side=32)
    check_equal(
        got["labels"], got["given_labels"], "the returned labels (in loader order)"
    )


# ---------------------------------------------------------------- linear_probe_setup


@pytest.mark.graded(item="linear_probe_setup", points=2)
def test_probe_is_one_linear_layer(student, reference):
    got = student.probe("probe_setup_run", n_train=40, n_val=20, dim=512, batch_size=16)
    ref = reference.probe(
        "probe_setup_run", n_train=40, n_val=20, dim=512, batch_size=16
    )
    check_shape(
        got["out_shape"],
        tuple(ref["out_shape"]),
        "the classifier's output for 3 feature vectors (10 STL10 classes)",
    )
    check_equal(
        got["linear_layers"],
        ref["linear_layers"],
        "the classifier's linear layers [in, out]",
        reveal=True,
    )
    check_equal(
        got["n_params"],
        ref["n_params"],
        "the classifier's number of parameters",
        reveal=True,
    )


@pytest.mark.graded(item="linear_probe_setup", points=1)
def test_probe_optimizer_trains_classifier_only(student):
    got = student.probe("probe_setup_run", n_train=30, n_val=10, dim=512, batch_size=8)
    check(
        got["optimizer_is_classifier"],
        "the optimizer should hold exactly the classifier's "
        "parameters (the features are frozen)",
    )
    check(got["moved"], "one optimizer step did not change the classifier")


@pytest.mark.graded(item="linear_probe_setup", points=2)
def test_probe_loaders(student):
    got = student.probe("probe_setup_run", n_train=48, n_val=24, dim=512, batch_size=12)
    check(
        got["train_covers"],
        "the training loader must hold every training feature with its "
        "label, once per epoch",
    )
    check(
        got["val_covers"],
        "the validation loader must hold every validation feature with its label",
    )
    check_equal(got["first_batch"], 12, "the training batch size", reveal=True)
    check(got["train_shuffled"], "the training loader should shuffle")
    check(got["val_in_order"], "the validation loader should not shuffle")


# ---------------------------------------------------------------- performance tier


@pytest.mark.graded(item="STL10Rot", tags=["load_resnet"], points=8, tier="performance")
def test_rotation_pretext_performance(student, grading):
    grading.score_performance(
        student, "rotation accuracy on test images after a short pretext training"
    )
