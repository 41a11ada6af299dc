"""Model training: one model matrix for training and scoring, a split by time, and XGBoost on GPU or CPU.

The task type is configuration (``classification`` or ``regression``, each on the target the use case's spec
names); the functions here take it as an argument and assume neither. Categorical inputs and their categories come
from the spec (``[model] categorical``).

GPU detection is real: XGBoost 3.2 accepts ``device="cuda"`` on a machine without a GPU, warns and trains on the
CPU, while ``build_info()`` still reports CUDA. So the device is read back from the trained booster's own
configuration (``learner.generic_param.device``), both in the probe that decides ``auto`` and after every training.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
import xgboost as xgb

from driftloop.usecase.active import active_spec

OBJECTIVES = {"classification": "binary:logistic", "regression": "reg:squarederror"}
EVAL_METRICS = {"classification": "logloss", "regression": "rmse"}
DEVICE_PREFERENCES = ("auto", "cpu", "cuda")

# Shallow, regularized trees: rare positive labels (a few percent) are easily overfit by deeper trees.
DEFAULT_PARAMS = {
    "max_depth": 3,
    "eta": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 10.0,
    "num_boost_round": 600,
    "early_stopping_rounds": 50,
}
# Set by train_model from its own arguments (task type, device preference, seed); params may not override them.
# verbosity stays at 1 so that XGBoost reports parameters it did not use, which train_model turns into an error.
RESERVED_PARAMS = ("objective", "tree_method", "device", "seed", "random_state", "verbosity")
_UNUSED_PARAMS = re.compile(r"Parameters: \{(.*?)\} (?:are|is) not used", re.DOTALL)


class DeviceUnavailable(RuntimeError):
    """Training was asked to run on a GPU that XGBoost cannot use here."""


def target_column(task_type: str) -> str:
    """The label column the task type learns, as the active use case's spec names it."""
    if task_type not in OBJECTIVES:
        raise ValueError(f"unknown task type {task_type!r}; choose one of {', '.join(OBJECTIVES)}")
    return active_spec().target_column(task_type)


def categorical_columns() -> dict[str, tuple[str, ...]]:
    """The model's categorical inputs and their categories (``[model] categorical`` of the use case's spec)."""
    return active_spec().model.categorical


def _numeric_column(values: pd.Series, column: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        raise ValueError(f"feature {column!r} holds timestamps, not numbers; leave it out of the feature columns")
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    converted = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & converted.isna()
    if bad.any():
        sample = ", ".join(f"row {index}: {values[index]!r}" for index in values.index[bad][:5])
        raise ValueError(f"feature {column!r} has {int(bad.sum())} non-numeric values ({sample})")
    return converted.astype("float64")


def build_model_matrix(
    frame: pd.DataFrame,
    feature_columns: Sequence[str],
    categorical: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """The model's input, built by this one function for training and for scoring (no train/serve skew).

    Columns come in ``feature_columns`` order (other columns of ``frame`` are dropped, the index is kept). Columns
    named in ``categorical`` (default: the spec's ``[model] categorical``) become pandas
    categoricals with exactly those categories, so codes never depend on the rows at hand and an unknown value becomes
    missing, never a new code. Every other feature becomes float64; a value that is not a number is an error.
    """
    duplicated = sorted({c for c in feature_columns if list(feature_columns).count(c) > 1})
    if duplicated:
        raise ValueError(f"feature columns listed twice: {', '.join(duplicated)}")
    missing = [c for c in feature_columns if c not in frame.columns]
    if missing:
        raise ValueError(f"features missing from the input: {', '.join(missing)}")
    categorical = categorical_columns() if categorical is None else categorical
    columns = {
        column: pd.Categorical(frame[column], categories=list(categorical[column]))
        if column in categorical
        else _numeric_column(frame[column], column).to_numpy()
        for column in feature_columns
    }
    return pd.DataFrame(columns, index=frame.index, columns=list(feature_columns))


@dataclass(frozen=True)
class Split:
    """Train, validation and test rows; the test rows are the most recent period."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def time_split(
    frame: pd.DataFrame, time_column: str, validation_fraction: float = 0.15, test_fraction: float = 0.15
) -> Split:
    """Split by distinct timestamps: the oldest for training, then validation, the newest for test.

    The fractions are of distinct timestamps (each split gets at least one), not of rows, so all rows sharing a
    timestamp land in the same split and nothing from a later period leaks into an earlier split.
    """
    if time_column not in frame.columns:
        raise ValueError(f"cannot split by time: column {time_column!r} is not in the frame")
    if not (0 < validation_fraction < 1 and 0 < test_fraction < 1 and validation_fraction + test_fraction < 1):
        raise ValueError(
            f"validation_fraction={validation_fraction} and test_fraction={test_fraction} must each lie in (0, 1) "
            "and leave a share for training"
        )
    undated = frame[time_column].isna()
    if undated.any():
        rows = ", ".join(str(index) for index in frame.index[undated][:5])
        raise ValueError(f"cannot split by time: {int(undated.sum())} rows have no {time_column} (rows {rows})")
    times = pd.Index(frame[time_column].unique()).sort_values()
    n_test = max(1, round(len(times) * test_fraction))
    n_validation = max(1, round(len(times) * validation_fraction))
    if len(times) < n_test + n_validation + 1:
        raise ValueError(
            f"{len(times)} distinct {time_column} values cannot be split into train, validation and test "
            f"(needs at least {n_test + n_validation + 1}); widen the training window"
        )
    validation_start, test_start = times[-(n_test + n_validation)], times[-n_test]
    return Split(
        train=frame[frame[time_column] < validation_start],
        validation=frame[(frame[time_column] >= validation_start) & (frame[time_column] < test_start)],
        test=frame[frame[time_column] >= test_start],
    )


def trained_device(booster: xgb.Booster) -> str:
    """The device a booster really trained on, read from its own configuration (``cpu`` or ``cuda:<n>``)."""
    config = json.loads(booster.save_config())
    return str(config["learner"]["generic_param"]["device"])


@lru_cache(maxsize=1)
def gpu_available() -> bool:
    """Whether XGBoost really trains on a GPU here: a tiny probe asks for ``cuda`` and its device is read back."""
    probe = xgb.DMatrix(np.arange(8, dtype=np.float32).reshape(4, 2), label=[0, 1, 0, 1])
    with warnings.catch_warnings():
        # The CPU fallback warning is the expected answer on a machine without a GPU.
        warnings.simplefilter("ignore")
        try:
            booster = xgb.train({"device": "cuda", "tree_method": "hist", "verbosity": 0}, probe, 1)
        except xgb.core.XGBoostError:
            return False
    return trained_device(booster).startswith("cuda")


def detect_device(preference: str = "auto") -> str:
    """The device to train on: ``cpu`` forces the CPU, ``cuda`` requires a usable GPU (DeviceUnavailable if
    there is none), ``auto`` takes the GPU only when a probe training really ran on it."""
    if preference not in DEVICE_PREFERENCES:
        raise ValueError(f"unknown device preference {preference!r}; choose one of {', '.join(DEVICE_PREFERENCES)}")
    if preference == "cpu":
        return "cpu"
    if gpu_available():
        return "cuda"
    if preference == "cuda":
        raise DeviceUnavailable(
            "device preference 'cuda' but XGBoost has no usable GPU here: a probe training asked for cuda and its "
            "booster reports device 'cpu'; use 'auto' or 'cpu', or run on a GPU worker"
        )
    return "cpu"


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


def _dmatrix(frame: pd.DataFrame, feature_columns: Sequence[str], task_type: str, split_name: str) -> xgb.DMatrix:
    """The split's model matrix with its labels, which must be 0/1 (classification) or finite (regression)."""
    target = target_column(task_type)
    if frame.empty:
        raise ValueError(f"the {split_name} split is empty")
    if target not in frame.columns:
        raise ValueError(f"the {split_name} split has no {target!r} column to learn a {task_type} model from")
    labels = pd.to_numeric(frame[target], errors="coerce")
    bad = labels.isna() | (~labels.isin([0, 1]) if task_type == "classification" else ~np.isfinite(labels))
    if bad.any():
        sample = ", ".join(f"row {index}: {frame[target][index]}" for index in frame.index[bad][:5])
        expected = "0 or 1" if task_type == "classification" else "a finite number"
        raise ValueError(f"{int(bad.sum())} {target} labels of the {split_name} split are not {expected} ({sample})")
    matrix = build_model_matrix(frame, feature_columns)
    return xgb.DMatrix(matrix, label=labels.to_numpy(dtype="float64"), enable_categorical=True)


def _booster_params(task_type: str, params: dict | None, device: str, seed: int) -> tuple[dict, int, int]:
    reserved = sorted(set(params or {}) & set(RESERVED_PARAMS))
    if reserved:
        raise ValueError(
            f"params may not set {', '.join(reserved)}: the objective follows the task type, the device the device "
            "preference, the seed the seed argument"
        )
    settings = {**DEFAULT_PARAMS, **(params or {})}
    rounds, early_stopping = int(settings.pop("num_boost_round")), int(settings.pop("early_stopping_rounds"))
    if rounds < 1 or early_stopping < 1:
        raise ValueError(f"num_boost_round={rounds} and early_stopping_rounds={early_stopping} must be at least 1")
    booster_params = {
        "eval_metric": EVAL_METRICS[task_type],
        **settings,
        "objective": OBJECTIVES[task_type],
        "tree_method": "hist",
        "device": device,
        "seed": seed,
        "verbosity": 1,
    }
    return booster_params, rounds, early_stopping


def train_model(
    split: Split,
    task_type: str,
    feature_columns: Sequence[str],
    params: dict | None = None,
    seed: int = 0,
    device_preference: str = "auto",
) -> TrainedModel:
    """Train XGBoost (``hist``) with early stopping on the validation split, seeded.

    ``params`` override :data:`DEFAULT_PARAMS` (``num_boost_round``, ``early_stopping_rounds`` and any XGBoost
    hyperparameter); a parameter XGBoost does not use (a typo) is an error. The model reports the device the booster
    says it trained on; a GPU that was asked for but not used is an error (DeviceUnavailable).
    """
    target_column(task_type)
    device = detect_device(device_preference)
    booster_params, rounds, early_stopping = _booster_params(task_type, params, device, seed)
    train = _dmatrix(split.train, feature_columns, task_type, "train")
    validation = _dmatrix(split.validation, feature_columns, task_type, "validation")
    evals_result: dict = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Only the validation split is evaluated per round: early stopping reads it, and nothing read a curve of
        # the training split, which cost a prediction over the training rows every round.
        booster = xgb.train(
            booster_params,
            train,
            num_boost_round=rounds,
            evals=[(validation, "validation")],
            early_stopping_rounds=early_stopping,
            evals_result=evals_result,
            verbose_eval=False,
        )
    used = trained_device(booster)
    if device == "cuda" and not used.startswith("cuda"):
        raise DeviceUnavailable(f"training was asked to use the GPU but XGBoost trained on {used}: no usable GPU here")
    for warning in caught:
        unused = _UNUSED_PARAMS.search(str(warning.message))
        if unused:
            names = unused.group(1).strip().replace('"', "")
            raise ValueError(f"XGBoost did not use the parameters {names}: misspelt, or not valid for {task_type}")
        warnings.warn(warning.message, warning.category, stacklevel=2)
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
    """Predictions (a probability or a value) through the best iteration, one per row of ``frame``.

    ``frame`` may be raw feature rows or a matrix from :func:`build_model_matrix`: the matrix is (re)built here, so
    scoring always goes through the same function as training.
    """
    matrix = build_model_matrix(frame, model.feature_columns)
    return model.booster.inplace_predict(matrix, iteration_range=(0, model.best_iteration + 1))
