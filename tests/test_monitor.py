"""Early stopping on crafted loss sequences; gradient histograms."""

from __future__ import annotations

import math

import numpy as np

from dmt_tui.trainer.monitor import EarlyStopping, layer_norms, norm_histogram


def test_early_stopping_counts_epochs_without_improvement() -> None:
    early = EarlyStopping(patience=3)
    losses = [1.0, 0.8, 0.9, 0.8, 0.85, 0.7, 0.71, 0.72, 0.73]
    waits, stops = [], []
    for epoch, loss in enumerate(losses, 1):
        early.update(loss, epoch)
        waits.append(early.wait)
        stops.append(early.should_stop)
    # 0.8 again at epoch 4 is not an improvement (strictly less is needed)
    assert waits == [0, 0, 1, 2, 3, 0, 1, 2, 3]
    assert stops == [False] * 4 + [True] + [False] * 3 + [True]
    assert (early.best, early.best_epoch) == (0.7, 6)
    assert early.fields() == {"es_wait": 3, "es_patience": 3, "es_best": 0.7,
                              "es_best_epoch": 6}


def test_min_delta_and_patience_zero() -> None:
    early = EarlyStopping(patience=2, min_delta=0.05)
    assert early.update(1.0, 1)
    assert not early.update(0.96, 2)  # better, but not by more than min_delta
    assert early.update(0.9, 3)
    off = EarlyStopping(patience=0)
    for epoch in range(1, 100):
        off.update(1.0, epoch)
    assert not off.should_stop and off.wait == 98


def test_nan_never_improves() -> None:
    early = EarlyStopping(patience=5)
    early.update(0.5, 1)
    assert not early.update(math.nan, 2)
    assert early.best == 0.5


def test_histogram_is_log_spaced_and_counts_every_step() -> None:
    norms = np.array([1e-4, 1e-3, 1e-2, 1e-1, 1.0, 0.0, 0.0])
    h = norm_histogram(norms, bins=4, name="fc1")
    assert h["name"] == "fc1"
    assert len(h["edges"]) == len(h["counts"]) + 1 == 5
    ratios = np.diff(np.log(h["edges"]))
    assert np.allclose(ratios, ratios[0], rtol=1e-4)
    assert sum(h["counts"]) + h["zeros"] == len(norms)
    assert h["zeros"] == 2 and h["min"] == 0.0 and h["max"] == 1.0
    assert h["mean"] == float(np.mean(norms))


def test_histogram_of_all_zero_and_non_finite_norms() -> None:
    h = norm_histogram(np.zeros(10), bins=5)
    assert h["zeros"] == 10 and sum(h["counts"]) == 0 and h["mean"] == 0.0
    h = norm_histogram(np.array([1.0, np.inf, np.nan]), bins=3)
    assert h["nonfinite"] == 2 and sum(h["counts"]) == 1


def test_layer_norms_combine_weight_and_bias() -> None:
    per_param = np.array([[3.0, 4.0, 1.0], [0.0, 0.0, 2.0]])  # W1, b1, W2 norms per step
    combined = layer_norms(per_param, [[0, 1], [2]])
    assert combined.tolist() == [[5.0, 1.0, math.sqrt(26)], [0.0, 2.0, 2.0]]
    huge = layer_norms(np.array([[3e38, 3e38]], dtype=np.float32), [[0, 1]])
    assert np.isfinite(huge).all()  # squares of float32 norms would overflow


def test_step_values_fold_in_order() -> None:
    import torch

    from dmt_tui.trainer.steps import StepValues

    values = StepValues()
    values.FOLD = 4  # fold often: 7 folds of 4 values and a tail of 2
    assert not values
    for step in range(15):
        values.add((torch.tensor(float(step)), torch.tensor(-float(step))))
    assert values
    expected = [v for step in range(15) for v in (float(step), -float(step))]
    assert values.stacked().tolist() == expected
    assert len(values._folded) == 7


def test_histograms_of_many_layers_match_numpys() -> None:
    from dmt_tui.trainer.monitor import norm_histograms

    rng = np.random.default_rng(0)
    norms = np.exp(rng.normal(-5, 3, size=(500, 6)))
    norms[::7, 2] = 0.0
    norms[3, 4] = np.inf
    for column, h in enumerate(norm_histograms(norms, 24, [f"l{i}" for i in range(6)])):
        values = norms[:, column]
        positive = values[np.isfinite(values) & (values > 0)]
        expected, _ = np.histogram(positive, np.geomspace(positive.min(), positive.max(), 25))
        assert h["counts"] == expected.tolist()
        assert np.allclose(h["edges"], np.geomspace(positive.min(), positive.max(), 25),
                           rtol=1e-5)
        assert h["zeros"] == int((values == 0).sum())
        assert h["nonfinite"] == int((~np.isfinite(values)).sum())
