"""Evaluation metrics match hand computation; slices and the baseline behave as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftloop.evaluation import baseline_predictions, calibration_table, evaluate, primary_metric, tenure_band


def test_classification_metrics_on_a_hand_checked_example():
    y_true = np.array([0, 0, 1, 1] * 5)
    y_pred = np.array([0.1, 0.4, 0.35, 0.8] * 5)
    result = evaluate("classification", y_true, y_pred)
    # Pairs (positive, negative): 0.35 loses to 0.4, wins vs 0.1; 0.8 wins both -> 3 of 4 ordered correctly.
    assert result["overall"]["roc_auc"] == pytest.approx(0.75)
    # Brier: mean of 0.01, 0.16, 0.4225, 0.04 = 0.158125
    assert result["overall"]["brier"] == pytest.approx(0.158125)
    assert result["overall"]["log_loss"] == pytest.approx(
        -np.mean([np.log(0.9), np.log(0.6), np.log(0.35), np.log(0.8)])
    )


def test_regression_metrics_on_a_hand_checked_example():
    y_true = np.array([1.0, 2.0, 3.0, 4.0] * 5)
    y_pred = np.array([1.0, 2.0, 3.0, 6.0] * 5)
    overall = evaluate("regression", y_true, y_pred)["overall"]
    assert overall["mae"] == pytest.approx(0.5)
    assert overall["rmse"] == pytest.approx(1.0)
    assert overall["r2"] == pytest.approx(1 - 4.0 / 5.0)


def test_slices_are_scored_and_too_small_or_single_class_ones_are_skipped():
    n = 60
    slices = pd.DataFrame({"plan": ["basic"] * 40 + ["premium"] * 20, "region": ["north"] * 50 + [None] * 10})
    y_true = np.array([0, 1] * 20 + [0] * 20)
    y_pred = np.linspace(0.1, 0.9, n)
    result = evaluate("classification", y_true, y_pred, slices)
    assert set(result["slices"]) == {"plan=basic", "region=north"}
    assert result["skipped_slices"] == {
        "plan=premium": "a single class",
        "region=missing": "10 rows, fewer than 20",
    }


def test_calibration_table_bins_predictions():
    table = calibration_table(np.array([0, 1, 1, 0]), np.array([0.05, 0.15, 0.95, 0.99]))
    assert [row["bin"] for row in table] == ["0.0-0.1", "0.1-0.2", "0.9-1.0"]
    assert table[2] == {"bin": "0.9-1.0", "mean_predicted": pytest.approx(0.97), "observed_rate": 0.5, "count": 2}


def test_tenure_bands_and_primary_metrics():
    assert tenure_band(pd.Series([0, 89, 90, 400, 900])).tolist() == ["0-3m", "0-3m", "3-12m", "1-2y", "2y+"]
    assert primary_metric("classification") == ("roc_auc", "higher")
    assert primary_metric("regression") == ("rmse", "lower")


def test_the_baseline_learns_a_simple_signal_and_falls_back_to_the_prior():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x": rng.normal(size=400)})
    train["y"] = (train["x"] > 0).astype(int)
    test = pd.DataFrame({"x": [-2.0, 2.0]})
    low, high = baseline_predictions("classification", train, test, ["x"], "y")
    assert low < 0.2 < 0.8 < high
    prior = baseline_predictions("classification", train.assign(y=0), test, ["x"], "y")
    assert prior.tolist() == [0.0, 0.0]
