"""Hidden tests of w05_clustering. Never shipped to students or workers.

Unit tier: the notebook's published values, differential checks against the
reference on inputs the student never saw, and behaviour (keys loaded, self not
a neighbour, random neighbours, the prior's moving average, signs). Performance
tier: SCAN and PMI heads trained with the student's losses in the grader's loop,
scored against the calibrated band.
"""

import pytest

from autograder.checks import check, check_close, check_equal, check_shape

#: published in the notebook: SCAN(alpha=1) and PMI(gamma=1) on its seeded inputs
PUBLISHED_SCAN = 0.0275
PUBLISHED_PMI = 0.0738
#: the notebook prints 4 decimals; allow a little more than the rounding
PUBLISHED_ATOL = 5e-4


# ---------------------------------------------------------------- load_moco_model


@pytest.mark.graded(item="load_moco_model", points=2)
def test_moco_loads_every_backbone_weight(student):
    got = student.probe("moco_loader")
    check(got["is_module"], "load_moco_model must return the torchvision model")
    check(
        got["missing"] == 0,
        f"{got['missing']} backbone weights of the checkpoint are not in "
        "the model: strip the 'module.encoder_q.' prefix from every key",
    )
    check(
        got["differing"] == 0,
        f"{got['differing']} of the model's weights differ from the "
        "checkpoint: were they loaded (load_state_dict) after stripping the prefix?",
    )


@pytest.mark.graded(item="load_moco_model", points=1)
def test_moco_drops_projection_head(student):
    got = student.probe("moco_loader")
    check(
        got["fc_params"] == 0,
        "the model still has a classifier/projection head: replace "
        "model.fc by nn.Identity() so it returns the pooled backbone features",
    )
    check(not got["training"], "the returned model should be in eval mode")


@pytest.mark.graded(item="load_moco_model", points=2)
def test_moco_features_match(student, reference):
    got = student.probe("moco_loader", seed=1)
    ref = reference.probe("moco_loader", seed=1)
    check_equal(
        got["out_shape"],
        ref["out_shape"],
        "the feature shape of a batch of 2 images",
        reveal=True,
    )
    check_close(
        got["features"],
        ref["features"],
        "the features of the loaded encoder",
        rtol=1e-4,
        atol=1e-4,
    )


# ---------------------------------------------------------------- kmeans_accuracy


@pytest.mark.graded(item="kmeans_accuracy", points=3)
def test_kmeans_accuracy_matches(student, reference):
    for seed, kwargs in ((0, {}), (1, {"n_classes": 4, "dim": 8, "spread": 2.5})):
        got = student.probe("kmeans_run", seed=seed, **kwargs)
        ref = reference.probe("kmeans_run", seed=seed, **kwargs)
        check_close(
            got["train_acc"],
            ref["train_acc"],
            "the training clustering accuracy (in percent, Hungarian-matched)",
            rtol=0,
            atol=3.0,
        )
        check_close(
            got["val_acc"],
            ref["val_acc"],
            "the validation clustering accuracy (k-means fit on the training features, "
            "scored on the validation ones)",
            rtol=0,
            atol=3.0,
        )


@pytest.mark.graded(item="kmeans_accuracy", points=1)
def test_kmeans_accuracy_is_percent(student):
    got = student.probe("kmeans_run", seed=2)
    check(1.0 < got["train_acc"] <= 100.0, "accuracies should be percentages (0-100)")


# ---------------------------------------------------------------- knn_indices


@pytest.mark.graded(item="knn_indices", points=1)
def test_knn_shape_and_self(student):
    got = student.probe("knn_run", seed=0, n=60, k=5)
    check_shape(got["shape"], (60, 5), "the neighbour indices of 60 images with k=5")
    check(got["dtype_integer"], "neighbour indices should be integers")
    check(not got["self_included"], "an image must not be its own nearest neighbour")


@pytest.mark.graded(item="knn_indices", points=3)
def test_knn_matches_cosine_neighbours(student, reference):
    for seed, kwargs in ((1, {"n": 60, "k": 5}), (2, {"n": 45, "dim": 5, "k": 7})):
        got = student.probe("knn_run", seed=seed, **kwargs)
        ref = reference.probe("knn_run", seed=seed, **kwargs)
        check_shape(got["shape"], tuple(ref["shape"]), "the neighbour indices")
        # compare similarities, not indices: exact ties may be broken either way
        check_close(
            got["sims"],
            ref["sims"],
            "the cosine similarities of the returned neighbours, most similar first",
            rtol=1e-4,
            atol=1e-5,
        )


@pytest.mark.graded(item="knn_indices", points=1)
def test_knn_accepts_numpy(student, reference):
    got = student.probe("knn_numpy_input", seed=3)
    ref = reference.probe("knn_numpy_input", seed=3)
    check_equal(got["indices"], ref["indices"], "the neighbours of numpy features")


# ---------------------------------------------------------------- PairSTL10


@pytest.mark.graded(item="PairSTL10", points=2)
def test_pairs_return_image_and_neighbour(student):
    got = student.probe("pairs_run", seed=0, l2_normalize=True)
    check_equal(got["len"], 30, "len(dataset) for 30 embeddings", reveal=True)
    check(
        got["first_ok"] == 1.0,
        "the first tensor of dataset[i] must be the (L2-normalised) "
        "embedding of image i",
    )
    check(
        got["second_ok"] == 1.0,
        "the second tensor of dataset[i] must be the (L2-normalised) "
        "embedding of one of image i's saved neighbours",
    )


@pytest.mark.graded(item="PairSTL10", points=1)
def test_pairs_neighbour_is_random(student):
    got = student.probe("pairs_run", seed=1, l2_normalize=True)
    check(
        got["second_ok"] == 1.0,
        "the second tensor must be one of the image's neighbours",
    )
    check(
        got["distinct_pairs"] >= 3 * got["n_probe"],
        "dataset[i] should draw a different "
        "random neighbour each time, not always the same one",
    )


@pytest.mark.graded(item="PairSTL10", points=1)
def test_pairs_without_normalisation(student):
    got = student.probe("pairs_run", seed=2, l2_normalize=False)
    check(
        got["first_ok"] == 1.0 and got["second_ok"] == 1.0,
        "with l2_normalize=False the embeddings must be returned unchanged",
    )
    normed = student.probe("pairs_run", seed=2, l2_normalize=True)
    check_close(
        normed["norm_mean"],
        1.0,
        "the norm of an embedding with l2_normalize=True",
        rtol=0,
        atol=1e-4,
    )


@pytest.mark.graded(item="PairSTL10", points=1)
def test_pairs_batch_in_loader(student):
    got = student.probe("pairs_loader", seed=3)
    check_equal(
        got["shapes"],
        [[8, 6], [8, 6]],
        "the shapes of a DataLoader batch of 8 pairs of 6-d embeddings",
        reveal=True,
    )


# ---------------------------------------------------------------- SCAN


@pytest.mark.graded(item="SCAN", points=2)
def test_scan_published_value(student):
    got = student.probe("scan_published")
    check_equal(got["shape"], [], "the shape of the loss (a scalar)", reveal=True)
    check(
        abs(float(got["loss"]) - PUBLISHED_SCAN) <= PUBLISHED_ATOL,
        f"the notebook's test_scan() should print tensor({PUBLISHED_SCAN}) "
        "for alpha=1; "
        f"yours gives {float(got['loss']):.4f}",
    )


@pytest.mark.graded(item="SCAN", points=3)
def test_scan_matches_on_hidden_logits(student, reference):
    cases = [(0.5, 64, 10, 1.0), (2.0, 33, 7, 3.0), (5.0, 50, 20, 0.3)]
    got = student.probe("scan_values", seed=4, cases=cases)
    ref = reference.probe("scan_values", seed=4, cases=cases)
    for g, r in zip(got, ref, strict=True):
        check_close(
            g["loss"],
            r["loss"],
            "the SCAN loss for other alphas and logits",
            rtol=1e-4,
            atol=1e-5,
        )
        check_close(
            g["grad_1"],
            r["grad_1"],
            "the gradient of the SCAN loss",
            rtol=1e-3,
            atol=1e-6,
        )


@pytest.mark.graded(item="SCAN", points=1)
def test_scan_rewards_balanced_clusters(student):
    got = student.probe("scan_entropy_direction")
    check(
        got["balanced"] < got["collapsed"],
        "with equally consistent pairs, a batch spread "
        "over all clusters must get a lower SCAN loss than one collapsed into a single "
        "cluster: check the sign of the entropy term",
    )


# ---------------------------------------------------------------- PMI


@pytest.mark.graded(item="PMI", points=2)
def test_pmi_published_value(student):
    got = student.probe("pmi_published")
    check_equal(got["shape"], [], "the shape of the loss (a scalar)", reveal=True)
    check(
        abs(float(got["loss"]) - PUBLISHED_PMI) <= PUBLISHED_ATOL,
        f"the notebook's test_pmi() should print tensor({PUBLISHED_PMI}); yours gives "
        f"{float(got['loss']):.4f}",
    )


@pytest.mark.graded(item="PMI", points=2)
def test_pmi_matches_on_hidden_logits(student, reference):
    for seed, (gamma, temp, batch, clusters, scale) in enumerate(
        ((0.65, 0.1, 40, 10, 0.5), (1.5, 0.5, 25, 6, 2.0))
    ):
        got = student.probe(
            "pmi_first_call",
            seed=5 + seed,
            gamma=gamma,
            temp=temp,
            batch=batch,
            clusters=clusters,
            scale=scale,
        )
        ref = reference.probe(
            "pmi_first_call",
            seed=5 + seed,
            gamma=gamma,
            temp=temp,
            batch=batch,
            clusters=clusters,
            scale=scale,
        )
        # the prior barely moves in one call with momentum 0.99: which input's mean
        # feeds it changes the loss by far less than this tolerance
        check_close(
            got["loss"],
            ref["loss"],
            "the PMI loss for other gamma and temperature",
            rtol=2e-3,
            atol=2e-3,
        )


@pytest.mark.graded(item="PMI", points=2)
def test_pmi_moving_average_prior(student, reference):
    kwargs = {
        "gamma": 0.65,
        "momentum": 0.7,
        "temp": 0.2,
        "batch": 30,
        "clusters": 8,
        "calls": 4,
    }
    got = student.probe("pmi_sequence", seed=7, **kwargs)
    ref = reference.probe("pmi_sequence", seed=7, **kwargs)
    check(got["center_set"], "PMI should keep its prior estimate in self.center")
    check_close(
        got["centers"],
        ref["centers"],
        "self.center after each call (an exponential "
        "moving average of the batch-mean cluster probabilities, starting uniform)",
        rtol=1e-4,
        atol=1e-6,
    )
    check_close(
        got["losses"],
        ref["losses"],
        "the PMI losses of consecutive calls",
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.graded(item="PMI", points=1)
def test_pmi_loss_is_minus_pmi(student):
    got = student.probe("pmi_sign", seed=8)
    check(
        got["matched"] < got["opposed"],
        "pairs that agree must get a lower loss than pairs "
        "that disagree: the loss is minus the PMI",
    )


# ---------------------------------------------------------------- evaluate_clustering


@pytest.mark.graded(item="evaluate_clustering", points=3)
def test_evaluate_clustering_matches(student, reference):
    for seed in (0, 1):
        got = student.probe("evaluate_run", seed=seed)
        ref = reference.probe("evaluate_run", seed=seed)
        check_close(
            got["train_acc"],
            ref["train_acc"],
            "the training cluster accuracy of a "
            "fixed head (features L2-normalised, argmax of the head's logits)",
            rtol=0,
            atol=1e-6,
        )
        check_close(
            got["val_acc"],
            ref["val_acc"],
            "the validation cluster accuracy of a fixed head",
            rtol=0,
            atol=1e-6,
        )


# ---------------------------------------------------------------- performance tier


@pytest.mark.graded(item="SCAN", tags=["PMI"], points=8, tier="performance")
def test_clustering_heads_trained_with_your_losses(student, grading):
    grading.score_performance(
        student,
        "cluster accuracy of heads trained with your SCAN and PMI losses "
        "(mean of the two)",
    )
