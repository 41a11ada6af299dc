"""Model training: one model matrix for training and scoring, a split by time, and XGBoost on GPU or CPU.

The task type is configuration (``classification`` on ``churned``, ``regression`` on ``future_watch_hours``); the
functions here take it as an argument and assume neither.

GPU detection is real: XGBoost accepts ``device="cuda"`` on a machine without a GPU, warns and trains on the CPU,
while ``build_info()`` still reports CUDA. So the device is read back from the trained booster's own configuration.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
import xgboost as xgb

from driftloop.tables import PLANS, REGIONS

TARGETS = {"classification": "churned", "regression": "future_watch_hours"}
OBJECTIVES = {"classification": "binary:logistic", "regression": "reg:squarederror"}
EVAL_METRICS = {"classification": "logloss", "regression": "rmse"}
CATEGORIES = {"plan": PLANS, "region": REGIONS}
DEVICE_PREFERENCES = ("auto", "cpu", "cuda")

# Shallow, regularized trees: churn labels are rare (a few percent), so deeper trees overfit the positives.
DEFAULT_PARAMS = {
    "max_depth": 3,
    "eta": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 10.0,
    "num_boost_round": 600,
    "early_stopping_rounds": 50,
}


def target_column(task_type: str) -> str:
    """The label column the task type learns."""
    if task_type not in TARGETS:
        raise ValueError(f"unknown task type {task_type!r}; choose one of {', '.join(TARGETS)}")
    return TARGETS[task_type]


def build_model_matrix(frame: pd.DataFrame, feature_columns: list[str]) -> pd.DataFrame:
    """The model's input, built the same way for training and scoring (no train/serve skew).

    Columns come in ``feature_columns`` order; ``plan`` and ``region`` become categoricals with the contract's fixed
    categories (an unknown value becomes missing, never a new code); everything else becomes float64.
    """
    missing = [c for c in feature_columns if c not in frame.columns]
    if missing:
        raise ValueError(f"features missing from the input: {', '.join(missing)}")
    matrix = pd.DataFrame(index=frame.index)
    for column in feature_columns:
        if column in CATEGORIES:
            matrix[column] = pd.Categorical(frame[column], categories=list(CATEGORIES[column]))
        else:
            matrix[column] = pd.to_numeric(frame[column], errors="raise").astype("float64")
    return matrix


@dataclass(frozen=True)
class Split:
    """Train, validation and test rows; the test rows are the most recent period."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def time_split(
    frame: pd.DataFrame, time_column: str, validation_fraction: float = 0.15, test_fraction: float = 0.15
) -> Split:
    """Split by distinct timestamps: oldest for training, then validation, newest for test; no timestamp in two."""
    times = np.sort(frame[time_column].unique())
    n_test = max(1, round(len(times) * test_fraction))
    n_validation = max(1, round(len(times) * validation_fraction))
    if len(times) < n_test + n_validation + 1:
        raise ValueError(
            f"{len(times)} distinct {time_column} values cannot be split into train, validation and test; "
            "widen the training window"
        )
    validation_start, test_start = times[-(n_test + n_validation)], times[-n_test]
    return Split(
        train=frame[frame[time_column] < validation_start],
        validation=frame[(frame[time_column] >= validation_start) & (frame[time_column] < test_start)],
        test=frame[frame[time_column] >= test_start],
    )


def trained_device(booster: xgb.Booster) -> str:
    """The device a booster really trained on, read from its own configuration (``cpu`` or ``cuda...``)."""
    config = json.loads(booster.save_config())
    return str(config["learner"]["generic_param"]["device"])


@lru_cache(maxsize=1)
def gpu_available() -> bool:
    """Whether XGBoost really trains on a GPU here: a tiny probe training, its device read back."""
    probe = xgb.DMatrix(np.arange(8, dtype=np.float32).reshape(4, 2), label=[0, 1, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            booster = xgb.train({"device": "cuda", "tree_method": "hist", "verbosity": 0}, probe, 1)
        except xgb.core.XGBoostError:
            return False
    return trained_device(booster).startswith("cuda")


def resolve_device(preference: str = "auto") -> str:
    """``cuda`` or ``cpu`` for a preference of ``auto`` (GPU only when really present), ``cpu`` or ``cuda``."""
    if preference not in DEVICE_PREFERENCES:
        raise ValueError(f"unknown device preference {preference!r}; choose one of {', '.join(DEVICE_PREFERENCES)}")
    if preference == "auto":
        return "cuda" if gpu_available() else "cpu"
    return preference


@dataclass
class TrainedModel:
    """A trained booster with what it needs to be scored and reproduced."""

    booster: xgb.Booster
    task_type: str
    feature_columns: list[str]
    params: dict
    best_iteration: int
    device: str
    evals_result: dict = field(default_factory=dict)


def _dmatrix(frame: pd.DataFrame, feature_columns: list[str], task_type: str) -> xgb.DMatrix:
    return xgb.DMatrix(
        build_model_matrix(frame, feature_columns), label=frame[target_column(task_type)], enable_categorical=True
    )


def train_model(
    split: Split,
    task_type: str,
    feature_columns: list[str],
    params: dict | None = None,
    seed: int = 0,
    device_preference: str = "auto",
) -> TrainedModel:
    """Train XGBoost with early stopping on the validation split; fails if a forced GPU was not really used."""
    device = resolve_device(device_preference)
    settings = {**DEFAULT_PARAMS, **(params or {})}
    rounds = int(settings.pop("num_boost_round"))
    early_stopping = int(settings.pop("early_stopping_rounds"))
    booster_params = {
        **settings,
        "objective": OBJECTIVES[task_type],
        "eval_metric": EVAL_METRICS[task_type],
        "tree_method": "hist",
        "device": device,
        "seed": seed,
        "verbosity": 0,
    }
    train = _dmatrix(split.train, feature_columns, task_type)
    validation = _dmatrix(split.validation, feature_columns, task_type)
    evals_result: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        booster = xgb.train(
            booster_params,
            train,
            num_boost_round=rounds,
            evals=[(train, "train"), (validation, "validation")],
            early_stopping_rounds=early_stopping,
            evals_result=evals_result,
            verbose_eval=False,
        )
    used = trained_device(booster)
    if device == "cuda" and not used.startswith("cuda"):
        raise RuntimeError(f"training was asked to use the GPU but XGBoost trained on {used}: no usable GPU here")
    return TrainedModel(
        booster=booster,
        task_type=task_type,
        feature_columns=list(feature_columns),
        params={**booster_params, "num_boost_round": rounds, "early_stopping_rounds": early_stopping},
        best_iteration=int(booster.best_iteration),
        device=used,
        evals_result=evals_result,
    )


def predict(model: TrainedModel, frame: pd.DataFrame) -> np.ndarray:
    """Predictions (churn probability or watch hours) for feature rows, through the best iteration."""
    matrix = build_model_matrix(frame, model.feature_columns)
    return model.booster.inplace_predict(matrix, iteration_range=(0, model.best_iteration + 1))
