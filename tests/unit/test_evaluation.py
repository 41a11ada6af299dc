"""Evaluation metrics match hand computation; slices, the calibration table and the baseline behave as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn_usecase import CHURN
from driftloop.model.evaluation import (
    baseline_predictions,
    calibration_table,
    evaluate,
    evaluation_slices,
    primary_metric,
)

# Four rows repeated five times (an evaluation needs at least 20): two negatives scored 0.1 and 0.4, two positives
# scored 0.35 and 0.8.
Y_TRUE = np.array([0, 0, 1, 1] * 5)
Y_PRED = np.array([0.1, 0.4, 0.35, 0.8] * 5)


def test_classification_metrics_on_a_hand_checked_example():
    overall = evaluate("classification", Y_TRUE, Y_PRED)["overall"]
    # (positive, negative) pairs: 0.35 beats 0.1 but not 0.4, 0.8 beats both -> 3 of 4 ordered correctly.
    assert overall["roc_auc"] == pytest.approx(0.75)
    # Ranked by score: 0.8 (P=1, recall 0.5), 0.4 (no new recall), 0.35 (P=2/3, recall 1) -> 0.5*1 + 0.5*2/3.
    assert overall["pr_auc"] == pytest.approx(5 / 6)
    assert overall["log_loss"] == pytest.approx(-np.mean([np.log(0.9), np.log(0.6), np.log(0.35), np.log(0.8)]))
    # Brier: mean of 0.1², 0.4², 0.65², 0.2² = mean of 0.01, 0.16, 0.4225, 0.04.
    assert overall["brier"] == pytest.approx(0.158125)


def test_the_calibration_table_has_ten_equal_bins_with_mean_prediction_observed_rate_and_count():
    assert evaluate("classification", Y_TRUE, Y_PRED)["calibration"] == [
        {"bin": "0.1-0.2", "mean_predicted": pytest.approx(0.1), "observed_rate": 0.0, "count": 5},
        {"bin": "0.3-0.4", "mean_predicted": pytest.approx(0.35), "observed_rate": 1.0, "count": 5},
        {"bin": "0.4-0.5", "mean_predicted": pytest.approx(0.4), "observed_rate": 0.0, "count": 5},
        {"bin": "0.8-0.9", "mean_predicted": pytest.approx(0.8), "observed_rate": 1.0, "count": 5},
    ]
    # 0.0 and 1.0 fall in the first and last bins; empty bins are left out.
    table = calibration_table(np.array([0, 1, 1, 0, 1]), np.array([0.0, 0.05, 0.55, 0.58, 1.0]))
    assert table == [
        {"bin": "0.0-0.1", "mean_predicted": pytest.approx(0.025), "observed_rate": 0.5, "count": 2},
        {"bin": "0.5-0.6", "mean_predicted": pytest.approx(0.565), "observed_rate": 0.5, "count": 2},
        {"bin": "0.9-1.0", "mean_predicted": 1.0, "observed_rate": 1.0, "count": 1},
    ]


def test_regression_metrics_on_a_hand_checked_example():
    result = evaluate("regression", np.array([1.0, 2.0, 3.0, 4.0] * 5), np.array([1.0, 2.0, 3.0, 6.0] * 5))
    # Errors 0, 0, 0, 2: MAE 0.5, RMSE sqrt(4/4) = 1; R² = 1 - SSE/SST = 1 - 4/5 per group of four.
    assert result["overall"] == pytest.approx({"mae": 0.5, "rmse": 1.0, "r2": 0.2})
    assert "calibration" not in result


def test_slices_are_scored_and_too_small_or_single_class_ones_are_skipped_with_the_reason():
    slices = pd.DataFrame({"plan": ["basic"] * 40 + ["premium"] * 20, "region": ["north"] * 50 + [None] * 10})
    y_true = np.array([0, 1] * 20 + [0] * 20)
    y_pred = np.linspace(0.1, 0.9, 60)
    result = evaluate("classification", y_true, y_pred, slices)
    assert set(result["slices"]) == {"plan=basic", "region=north"}
    # plan=basic: scores rise with the row; the positive in row 2k+1 outranks the negatives in rows 0..2k, that is
    # k+1 of 20 negatives, so 1+2+...+20 = 210 of 400 pairs are ordered correctly.
    assert result["slices"]["plan=basic"]["roc_auc"] == pytest.approx(210 / 400)
    assert result["skipped_slices"] == {
        "plan=premium": "a single class",
        "region=missing": "10 rows, fewer than 20",
    }


def test_regression_slices_use_the_same_metrics():
    slices = pd.DataFrame({"tenure_band": ["0-3m"] * 4 + ["2y+"] * 4})
    y_true = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 10.0, 10.0, 10.0])
    y_pred = np.array([1.0, 2.0, 3.0, 6.0, 10.0, 10.0, 10.0, 13.0])
    result = evaluate("regression", y_true, y_pred, slices, min_slice_rows=4)
    assert result["slices"]["tenure_band=0-3m"] == pytest.approx({"mae": 0.5, "rmse": 1.0, "r2": 0.2})
    # Errors 0, 0, 0, 3: MAE 0.75, RMSE sqrt(9/4) = 1.5; all labels equal, so R² is 0 by sklearn's convention.
    assert result["slices"]["tenure_band=2y+"]["mae"] == pytest.approx(0.75)
    assert result["slices"]["tenure_band=2y+"]["rmse"] == pytest.approx(1.5)


def test_evaluation_rejects_inputs_it_cannot_score():
    with pytest.raises(ValueError, match="20 labels but 19 predictions"):
        evaluate("classification", Y_TRUE, Y_PRED[:19])
    with pytest.raises(ValueError, match=r"1 predicted probabilities lie outside \[0, 1\] \(positions \[3\]\)"):
        evaluate("classification", Y_TRUE, np.where(np.arange(20) == 3, 1.2, Y_PRED))
    with pytest.raises(ValueError, match=r"1 predictions are NaN or infinite \(positions \[0\]\)"):
        evaluate("regression", Y_TRUE, np.where(np.arange(20) == 0, np.nan, Y_PRED))
    with pytest.raises(ValueError, match="on a test split with a single class"):
        evaluate("classification", np.zeros(20), Y_PRED)
    with pytest.raises(ValueError, match="slices have 3 rows for 20 labels"):
        evaluate("classification", Y_TRUE, Y_PRED, pd.DataFrame({"plan": ["basic"] * 3}))


def test_slices_come_from_the_spec_with_bands_and_primary_metrics():
    tenure = pd.Series([0, 89, 90, 364, 365, 729, 730, 4000, None, -3])
    frame = pd.DataFrame({"plan": ["basic"] * 10, "region": [None] * 10, "tenure_days": tenure})
    slices = evaluation_slices(frame, CHURN)
    assert list(slices.columns) == ["plan", "region", "tenure_band"]
    bands = slices["tenure_band"]
    assert bands.tolist()[:8] == ["0-3m", "0-3m", "3-12m", "3-12m", "1-2y", "1-2y", "2y+", "2y+"]
    assert bands[8:].isna().all(), "a missing or negative tenure has no band"
    with pytest.raises(ValueError, match="name columns the training set lacks: tenure_days"):
        evaluation_slices(frame.drop(columns="tenure_days"), CHURN)
    assert primary_metric("classification") == ("roc_auc", "higher")
    assert primary_metric("regression") == ("rmse", "lower")
    with pytest.raises(ValueError, match="unknown task type 'ranking'"):
        primary_metric("ranking")


def test_the_classification_baseline_learns_a_simple_signal_from_the_numeric_features():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x": rng.normal(size=400), "plan": rng.choice(["basic", "premium"], 400)})
    train["churned"] = (train["x"] > 0).astype(int)
    test = pd.DataFrame({"x": [-2.0, 2.0], "plan": ["basic", "premium"]})
    low, high = baseline_predictions("classification", train, test, ["x", "plan"])
    assert low < 0.2 < 0.8 < high


def test_the_regression_baseline_is_a_linear_fit_and_the_prior_is_the_fallback():
    train = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, None], "plan": ["basic"] * 5})
    train["future_watch_hours"] = [1.0, 3.0, 5.0, 7.0, 4.0]
    # A missing x is imputed at the training mean, 1.5, where the line 2x + 1 gives 4, so the fit stays exact.
    predictions = baseline_predictions("regression", train, pd.DataFrame({"x": [10.0, None]}), ["x"])
    np.testing.assert_allclose(predictions, [21.0, 4.0])
    # No numeric feature: the training mean; a single training class: the prior rate.
    assert baseline_predictions("regression", train, pd.DataFrame({"plan": ["basic"]}), ["plan"]).tolist() == [4.0]
    single_class = pd.DataFrame({"x": [1.0, 2.0, 3.0], "churned": [0, 0, 0]})
    assert baseline_predictions("classification", single_class, single_class, ["x"]).tolist() == [0.0, 0.0, 0.0]
    assert (
        baseline_predictions("classification", single_class, single_class, ["x"], target="churned").tolist()
        == [0.0] * 3
    )
