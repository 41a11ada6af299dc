"""Training: one model matrix for train and serve, a leak-free split by time, real device detection, XGBoost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftloop.training import (
    build_model_matrix,
    gpu_available,
    predict,
    resolve_device,
    time_split,
    train_model,
)

FEATURES = ["sessions_30d", "minutes_30d", "payment_failures_30d", "plan", "region"]


def _frame(n=1200, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "as_of": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 60, n), unit="D"),
            "sessions_30d": rng.poisson(20, n),
            "minutes_30d": rng.gamma(2.0, 300.0, n),
            "payment_failures_30d": rng.poisson(0.3, n),
            "plan": rng.choice(["basic", "standard", "premium"], n),
            "region": rng.choice(["north", "south", None], n),
        }
    )
    logit = -2.0 - 0.08 * (frame["sessions_30d"] - 20) + 1.2 * frame["payment_failures_30d"]
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame["future_watch_hours"] = frame["minutes_30d"] / 60 * 0.9 + rng.normal(0, 1, n)
    return frame


def test_the_model_matrix_is_the_same_for_training_and_scoring_and_ignores_unknown_categories():
    frame = _frame(20)
    scoring = frame[list(reversed(FEATURES))].copy()
    scoring.loc[0, "plan"] = "PLATINUM"
    train_matrix, score_matrix = build_model_matrix(frame, FEATURES), build_model_matrix(scoring, FEATURES)
    assert list(score_matrix.columns) == FEATURES
    assert list(score_matrix["plan"].cat.categories) == ["basic", "standard", "premium"]
    assert pd.isna(score_matrix.loc[0, "plan"])
    pd.testing.assert_frame_equal(train_matrix.iloc[1:], score_matrix.iloc[1:])
    with pytest.raises(ValueError, match="features missing from the input: region"):
        build_model_matrix(frame.drop(columns=["region"]), FEATURES)


def test_the_split_by_time_has_no_overlap_and_tests_on_the_latest_period():
    split = time_split(_frame(), "as_of", validation_fraction=0.2, test_fraction=0.2)
    assert split.train["as_of"].max() < split.validation["as_of"].min()
    assert split.validation["as_of"].max() < split.test["as_of"].min()
    assert len(split.train) + len(split.validation) + len(split.test) == 1200
    with pytest.raises(ValueError, match="cannot be split"):
        time_split(_frame().assign(as_of=pd.Timestamp("2026-01-01", tz="UTC")), "as_of")


def test_this_machine_has_no_gpu_and_forcing_one_fails_clearly():
    assert gpu_available() is False
    assert resolve_device("auto") == "cpu"
    split = time_split(_frame(), "as_of")
    with pytest.raises(RuntimeError, match="asked to use the GPU but XGBoost trained on cpu"):
        train_model(split, "classification", FEATURES, {"num_boost_round": 2}, device_preference="cuda")


@pytest.mark.parametrize(("task_type", "metric"), [("classification", "logloss"), ("regression", "rmse")])
def test_training_reduces_validation_loss_and_reports_the_device(task_type, metric):
    split = time_split(_frame(), "as_of")
    model = train_model(split, task_type, FEATURES, {"num_boost_round": 60, "max_depth": 3}, seed=1)
    curve = model.evals_result["validation"][metric]
    assert min(curve) < curve[0]
    assert model.device == "cpu" and 0 <= model.best_iteration < 60
    predictions = predict(model, split.test)
    assert predictions.shape == (len(split.test),) and np.isfinite(predictions).all()


def test_the_same_data_params_and_seed_give_the_same_model_on_cpu():
    split = time_split(_frame(), "as_of")
    params = {"num_boost_round": 30, "subsample": 0.7}
    first = predict(train_model(split, "classification", FEATURES, params, seed=3), split.test)
    second = predict(train_model(split, "classification", FEATURES, params, seed=3), split.test)
    np.testing.assert_array_equal(first, second)
