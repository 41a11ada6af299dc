"""Training: one model matrix for train and serve, a leak-free split by time, real device detection, XGBoost."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from driftloop.model.training import (
    DeviceUnavailable,
    build_model_matrix,
    detect_device,
    gpu_available,
    predict,
    time_split,
    train_model,
    trained_device,
)

FEATURES = ["sessions_30d", "minutes_30d", "payment_failures_30d", "plan", "region"]
# A GPU the driver exposes; the device tests below assert what detection must conclude with or without one.
GPU_PRESENT = Path("/dev/nvidia0").exists()


def _frame(n=600, days=30, seed=0):
    """Customers over ``days`` days: churn falls with sessions and rises with failed payments; watch hours follow
    minutes watched."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "as_of": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, days, n), unit="D"),
            "sessions_30d": rng.poisson(20, n),
            "minutes_30d": rng.gamma(2.0, 300.0, n),
            "payment_failures_30d": rng.poisson(0.3, n),
            "plan": rng.choice(["basic", "standard", "premium"], n),
            "region": rng.choice(["north", "south", None], n),
        }
    )
    logit = -1.0 - 0.15 * (frame["sessions_30d"] - 20) + 1.5 * frame["payment_failures_30d"]
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame["future_watch_hours"] = frame["minutes_30d"] / 60 * 0.9 + rng.normal(0, 1, n)
    return frame


SMALL = {"num_boost_round": 40, "early_stopping_rounds": 10, "eta": 0.3}


# --- the model matrix -------------------------------------------------------------------------------------------


def test_the_model_matrix_is_identical_for_training_rows_and_scoring_rows():
    training = pd.DataFrame(
        {
            "customer_id": [1, 2, 3],
            "sessions_30d": [3, 0, 7],
            "minutes_30d": [10.5, 0.0, None],
            "payment_failures_30d": [0, 1, 0],
            "plan": ["premium", "basic", "standard"],
            "region": ["north", None, "west"],
            "churned": [0, 1, 0],
        }
    )
    # Scoring rows arrive with other columns, in another order, with plan already categorical in another order.
    scoring = training[["region", "plan", "payment_failures_30d", "minutes_30d", "sessions_30d"]].assign(
        plan=pd.Categorical(training["plan"], categories=["standard", "premium", "basic"]), scored_at="today"
    )
    train_matrix, score_matrix = build_model_matrix(training, FEATURES), build_model_matrix(scoring, FEATURES)
    pd.testing.assert_frame_equal(train_matrix, score_matrix)
    assert list(train_matrix.columns) == FEATURES
    assert train_matrix.dtypes[:3].tolist() == ["float64"] * 3
    assert list(train_matrix["plan"].cat.categories) == ["basic", "standard", "premium"]
    assert list(train_matrix["region"].cat.categories) == ["north", "south", "east", "west"]
    assert train_matrix["plan"].cat.codes.tolist() == [2, 0, 1]
    assert train_matrix["region"].cat.codes.tolist() == [0, -1, 3]


def test_categories_are_fixed_so_codes_do_not_depend_on_the_rows_and_unknown_values_become_missing():
    one_row = build_model_matrix(pd.DataFrame({"plan": ["premium"], "region": ["west"]}), ["plan", "region"])
    assert one_row["plan"].cat.codes.tolist() == [2] and one_row["region"].cat.codes.tolist() == [3]
    unknown = build_model_matrix(
        pd.DataFrame({"plan": ["PLATINUM", "basic"], "region": ["mars", None]}), ["plan", "region"]
    )
    assert unknown["plan"].isna().tolist() == [True, False]
    assert unknown["region"].isna().tolist() == [True, True]
    assert list(unknown["plan"].cat.categories) == ["basic", "standard", "premium"], "no new category was added"


def test_the_categorical_columns_and_their_categories_can_be_given():
    frame = pd.DataFrame({"device": ["tv", "toaster"], "plan": ["basic", "basic"]})
    matrix = build_model_matrix(frame, ["device", "plan"], categorical={"device": ("tv", "web"), "plan": ("basic",)})
    assert matrix["device"].cat.codes.tolist() == [0, -1]
    assert list(matrix["plan"].cat.categories) == ["basic"]


def test_the_model_matrix_rejects_missing_features_and_values_that_are_not_numbers():
    frame = pd.DataFrame({"sessions_30d": [1, "many", 3], "plan": ["basic"] * 3})
    with pytest.raises(ValueError, match="features missing from the input: region"):
        build_model_matrix(frame, ["sessions_30d", "plan", "region"])
    with pytest.raises(ValueError, match=r"feature 'sessions_30d' has 1 non-numeric values \(row 1: 'many'\)"):
        build_model_matrix(frame, ["sessions_30d", "plan"])
    with pytest.raises(ValueError, match="listed twice: plan"):
        build_model_matrix(frame, ["plan", "plan"])


# --- the split by time ------------------------------------------------------------------------------------------


def test_the_split_by_time_takes_whole_days_tests_on_the_latest_and_validates_just_before():
    days = pd.date_range("2026-03-01", periods=10, freq="D", tz="UTC")
    frame = pd.DataFrame({"as_of": np.repeat(days, 3), "row": range(30)}).sample(frac=1.0, random_state=0)
    split = time_split(frame, "as_of", validation_fraction=0.2, test_fraction=0.2)
    # 10 distinct days: 2 for test (the newest), 2 for validation (just before), 6 for training.
    assert sorted(split.test["as_of"].unique()) == list(days[8:])
    assert sorted(split.validation["as_of"].unique()) == list(days[6:8])
    assert sorted(split.train["as_of"].unique()) == list(days[:6])
    assert sorted(pd.concat([split.train, split.validation, split.test])["row"]) == list(range(30))


def test_the_split_by_time_has_no_timestamp_in_two_splits():
    split = time_split(_frame(), "as_of", validation_fraction=0.2, test_fraction=0.2)
    assert split.train["as_of"].max() < split.validation["as_of"].min()
    assert split.validation["as_of"].max() < split.test["as_of"].min()
    assert len(split.train) + len(split.validation) + len(split.test) == 600


def test_the_split_by_time_fails_clearly_on_too_few_timestamps_missing_times_or_bad_fractions():
    two_days = pd.DataFrame({"as_of": pd.to_datetime(["2026-01-01", "2026-01-02"] * 5)})
    with pytest.raises(ValueError, match="2 distinct as_of values cannot be split.*needs at least 3"):
        time_split(two_days, "as_of")
    undated = _frame().astype({"as_of": object})
    undated.loc[[4, 9], "as_of"] = None
    with pytest.raises(ValueError, match=r"2 rows have no as_of \(rows 4, 9\)"):
        time_split(undated, "as_of")
    with pytest.raises(ValueError, match="must each lie in"):
        time_split(_frame(), "as_of", validation_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="'when' is not in the frame"):
        time_split(_frame(), "when")


# --- the device ---------------------------------------------------------------------------------------------------


@pytest.mark.skipif(GPU_PRESENT, reason="asserts what happens on a machine without a GPU")
def test_without_a_gpu_xgboost_silently_trains_on_cpu_and_only_the_booster_config_tells():
    assert xgb.build_info()["USE_CUDA"], "this XGBoost build claims CUDA support"
    probe = xgb.DMatrix(np.arange(8.0).reshape(4, 2), label=[0, 1, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        booster = xgb.train({"device": "cuda", "tree_method": "hist"}, probe, 1)
    assert trained_device(booster) == "cpu"


@pytest.mark.skipif(GPU_PRESENT, reason="asserts what happens on a machine without a GPU")
def test_without_a_gpu_auto_picks_cpu_and_forcing_cuda_fails_clearly():
    assert gpu_available() is False
    assert detect_device("auto") == "cpu"
    assert detect_device("cpu") == "cpu"
    with pytest.raises(DeviceUnavailable, match="device preference 'cuda' but XGBoost has no usable GPU here"):
        detect_device("cuda")
    with pytest.raises(DeviceUnavailable, match="no usable GPU"):
        train_model(time_split(_frame(), "as_of"), "classification", FEATURES, SMALL, device_preference="cuda")


@pytest.mark.skipif(not GPU_PRESENT, reason="needs a GPU")
def test_with_a_gpu_auto_trains_on_cuda_and_cpu_can_still_be_forced():
    split = time_split(_frame(), "as_of")
    assert detect_device("auto") == "cuda"
    assert train_model(split, "classification", FEATURES, SMALL, device_preference="auto").device.startswith("cuda")
    assert train_model(split, "classification", FEATURES, SMALL, device_preference="cpu").device == "cpu"


def test_an_unknown_device_preference_is_rejected():
    with pytest.raises(ValueError, match="unknown device preference 'tpu'"):
        detect_device("tpu")


# --- training and prediction --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("task_type", "metric"), [("classification", "logloss"), ("regression", "rmse")])
def test_training_reduces_validation_loss_and_reports_what_it_used(task_type, metric):
    split = time_split(_frame(), "as_of")
    model = train_model(split, task_type, FEATURES, SMALL, seed=1, device_preference="cpu")
    curve = model.evals_result["validation"][metric]
    assert curve[model.best_iteration] == min(curve) < curve[0]
    assert model.device == "cpu" and model.task_type == task_type and model.feature_columns == FEATURES
    objectives = {"classification": "binary:logistic", "regression": "reg:squarederror"}
    assert model.params["objective"] == objectives[task_type]
    assert model.params["tree_method"] == "hist" and model.params["seed"] == 1
    predictions = predict(model, split.test)
    assert predictions.shape == (len(split.test),) and np.isfinite(predictions).all()
    if task_type == "classification":
        assert ((predictions > 0) & (predictions < 1)).all()


def test_prediction_stops_at_the_best_iteration_like_the_registered_booster():
    split = time_split(_frame(), "as_of")
    model = train_model(split, "regression", FEATURES, {**SMALL, "eta": 0.9, "max_depth": 6}, device_preference="cpu")
    assert model.best_iteration + 1 < model.booster.num_boosted_rounds(), "early stopping kept trees after the best"
    truncated = model.booster[: model.best_iteration + 1]
    expected = truncated.inplace_predict(build_model_matrix(split.test, FEATURES))
    np.testing.assert_array_equal(predict(model, split.test), expected)
    # A ready model matrix scores the same as raw rows.
    np.testing.assert_array_equal(predict(model, build_model_matrix(split.test, FEATURES)), expected)


def test_the_same_data_params_and_seed_give_identical_predictions_on_cpu():
    split = time_split(_frame(), "as_of")
    params = {**SMALL, "subsample": 0.5, "colsample_bytree": 0.5}

    def run(seed):
        model = train_model(split, "classification", FEATURES, params, seed=seed, device_preference="cpu")
        return predict(model, split.test)

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4)), "the seed drives the row and column sampling"


def test_hyperparameters_override_the_defaults_and_typos_or_reserved_keys_are_errors():
    split = time_split(_frame(), "as_of")
    model = train_model(split, "regression", FEATURES, {**SMALL, "max_depth": 2}, device_preference="cpu")
    assert model.params["max_depth"] == 2 and model.params["num_boost_round"] == 40
    assert model.params["subsample"] == 0.8, "defaults apply where params are silent"
    with pytest.raises(ValueError, match="XGBoost did not use the parameters max_dpeth"):
        train_model(split, "regression", FEATURES, {**SMALL, "max_dpeth": 2}, device_preference="cpu")
    with pytest.raises(ValueError, match="params may not set device, objective"):
        train_model(split, "regression", FEATURES, {"objective": "reg:tweedie", "device": "cuda"})


def test_training_rejects_labels_that_do_not_fit_the_task_type():
    split = time_split(_frame(), "as_of")
    train = split.train.astype({"churned": "float64"})
    train.loc[train.index[:2], "churned"] = [2.0, np.nan]
    with pytest.raises(
        ValueError, match=r"2 churned labels of the train split are not 0 or 1 \(row \d+: 2.0, row \d+: nan\)"
    ):
        train_model(time_split(pd.concat([train, split.validation, split.test]), "as_of"), "classification", FEATURES)
    with pytest.raises(ValueError, match="unknown task type 'ranking'"):
        train_model(split, "ranking", FEATURES)
