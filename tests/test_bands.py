"""Tolerance bands: the ramp's edges and the calibration arithmetic."""

from __future__ import annotations

import math

import pytest

from autograder.bands import Band, calibrate_band, load_band, save_band

BAND = Band(metric="acc", mean=80.0, std=2.0, lower=70.0, zero_at=20.0, false_fail=0.01)


@pytest.mark.parametrize(
    ("value", "fraction"),
    [
        (95.0, 1.0),
        (70.0, 1.0),
        (69.999, 0.99998),
        (45.0, 0.5),
        (20.0, 0.0),
        (5.0, 0.0),
        (math.nan, 0.0),
        (math.inf, 0.0),
    ],
)
def test_band_score_ramp_edges(value: float, fraction: float) -> None:
    assert BAND.score(value) == pytest.approx(fraction, abs=1e-4)


def test_calibrate_band_prediction_bound() -> None:
    band = calibrate_band(
        "acc",
        [80.0, 82.0, 78.0, 81.0, 79.0],
        [1, 2, 3, 4, 5],
        false_fail=0.05,
        zero_at=20.0,
        min_std=0.5,
    )
    # t(4, 0.95) = 2.132; s = 1.581; sqrt(1 + 1/5) = 1.095
    assert band.mean == pytest.approx(80.0)
    assert band.lower == pytest.approx(80.0 - 2.132 * 1.5811 * 1.0954, abs=0.01)
    assert band.loo_false_fail is not None and 0.0 <= band.loo_false_fail <= 1.0
    assert band.score(band.mean) == 1.0


def test_calibrate_band_floors_the_spread() -> None:
    band = calibrate_band(
        "acc", [50.0, 50.0, 50.0], [1, 2, 3], false_fail=0.01, zero_at=10.0, min_std=1.0
    )
    assert band.std == 1.0 and band.lower < 50.0


def test_calibrate_band_needs_two_runs() -> None:
    with pytest.raises(ValueError):
        calibrate_band("acc", [1.0], [1], false_fail=0.01, zero_at=0.0, min_std=0.1)


def test_band_roundtrip_per_profile(tmp_path) -> None:
    path = tmp_path / "bands.json"
    save_band(path, "tiny", BAND)
    save_band(path, "full", BAND)
    assert load_band(path, "tiny") == BAND
    assert load_band(path, "nope") is None
