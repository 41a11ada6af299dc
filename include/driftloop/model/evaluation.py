"""Model evaluation on the test split: metrics per task type, per slice, a calibration table and a baseline.

``evaluate`` returns a JSON-ready dict that the champion gate (``driftloop.model.promotion``) compares and MLflow logs:
``overall`` metrics, ``slices`` (``"column=value"`` -> metrics), ``skipped_slices`` (``"column=value"`` -> why it was
not scored) and, for classification, a ``calibration`` table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from driftloop.model.training import categorical_columns, target_column
from driftloop.usecase.spec import UseCaseSpec, band_of

PRIMARY_METRICS = {"classification": ("roc_auc", "higher"), "regression": ("rmse", "lower")}
MIN_SLICE_ROWS = 20


def primary_metric(task_type: str) -> tuple[str, str]:
    """The metric that decides promotion and whether ``higher`` or ``lower`` is better."""
    if task_type not in PRIMARY_METRICS:
        raise ValueError(f"unknown task type {task_type!r}; choose one of {', '.join(PRIMARY_METRICS)}")
    return PRIMARY_METRICS[task_type]


def evaluation_slices(frame: pd.DataFrame, spec: UseCaseSpec) -> pd.DataFrame:
    """The slices metrics are also computed on, one column per ``[[slices]]`` entry of the spec: a column's values,
    or its numeric bands (a value in no band is ``missing``). A slice column the frame lacks is an error naming it."""
    missing = [item.column for item in spec.slices if item.column not in frame.columns]
    if missing:
        raise ValueError(
            f"evaluation slices of {spec.folder}/usecase.toml name columns the training set lacks: {', '.join(missing)}"
        )
    return pd.DataFrame(
        {
            item.name: band_of(frame[item.column], item.bands) if item.bands else frame[item.column]
            for item in spec.slices
        },
        index=frame.index,
    )


def calibration_table(y_true: np.ndarray, y_pred: np.ndarray, bins: int = 10) -> list[dict]:
    """Predicted probabilities in ``bins`` equal-width bins (a bin holds its lower edge, the last also 1.0): mean
    prediction, observed positive rate and row count per bin; empty bins are left out."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(y_pred, edges[1:-1]), 0, bins - 1)
    table = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            table.append(
                {
                    "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                    "mean_predicted": float(y_pred[mask].mean()),
                    "observed_rate": float(y_true[mask].mean()),
                    "count": int(mask.sum()),
                }
            )
    return table


def _metrics(task_type: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    if task_type == "classification":
        clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        return {
            "roc_auc": float(roc_auc_score(y_true, y_pred)),
            "pr_auc": float(average_precision_score(y_true, y_pred)),
            "log_loss": float(log_loss(y_true, clipped, labels=[0, 1])),
            "brier": float(brier_score_loss(y_true, y_pred)),
        }
    return {
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
    }


def _unscorable(task_type: str, y_true: np.ndarray, min_rows: int) -> str | None:
    if len(y_true) < min_rows:
        return f"{len(y_true)} rows, fewer than {min_rows}"
    if task_type == "classification" and len(np.unique(y_true)) < 2:
        return "a single class"
    return None


def _check_inputs(task_type: str, y_true: np.ndarray, y_pred: np.ndarray, slices: pd.DataFrame | None) -> None:
    primary_metric(task_type)
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} labels but {len(y_pred)} predictions")
    if slices is not None and len(slices) != len(y_true):
        raise ValueError(f"slices have {len(slices)} rows for {len(y_true)} labels")
    for name, values in (("labels", y_true), ("predictions", y_pred)):
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise ValueError(f"{len(bad)} {name} are NaN or infinite (positions {bad[:5].tolist()})")
    if task_type == "classification":
        bad = np.flatnonzero(~np.isin(y_true, [0.0, 1.0]))
        if len(bad):
            raise ValueError(f"{len(bad)} classification labels are not 0 or 1 (positions {bad[:5].tolist()})")
        bad = np.flatnonzero((y_pred < 0.0) | (y_pred > 1.0))
        if len(bad):
            raise ValueError(f"{len(bad)} predicted probabilities lie outside [0, 1] (positions {bad[:5].tolist()})")


def evaluate(
    task_type: str, y_true, y_pred, slices: pd.DataFrame | None = None, min_slice_rows: int = MIN_SLICE_ROWS
) -> dict:
    """Metrics of predictions against labels: overall, per slice value and, for classification, a calibration table.

    Classification: ``roc_auc``, ``pr_auc`` (average precision), ``log_loss``, ``brier``; regression: ``rmse``,
    ``mae``, ``r2``. ``slices`` holds one column per slicing (see :func:`evaluation_slices`), row for row with the
    labels; a missing value is its own slice, ``missing``. A slice with fewer than ``min_slice_rows`` rows or (for
    classification) a single class is not scored and is listed under ``skipped_slices`` with the reason.
    """
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    _check_inputs(task_type, y_true, y_pred, slices)
    reason = _unscorable(task_type, y_true, min_slice_rows)
    if reason:
        raise ValueError(f"cannot evaluate a {task_type} model on a test split with {reason}")
    result: dict = {"task_type": task_type, "rows": int(len(y_true)), "overall": _metrics(task_type, y_true, y_pred)}
    if task_type == "classification":
        result["calibration"] = calibration_table(y_true, y_pred)
    result["slices"], result["skipped_slices"] = {}, {}
    for column in slices.columns if slices is not None else []:
        values = slices[column].astype(object).where(slices[column].notna(), "missing").to_numpy()
        for value in sorted(set(values), key=str):
            mask = values == value
            key = f"{column}={value}"
            reason = _unscorable(task_type, y_true[mask], min_slice_rows)
            if reason:
                result["skipped_slices"][key] = reason
            else:
                result["slices"][key] = _metrics(task_type, y_true[mask], y_pred[mask])
    return result


def baseline_predictions(
    task_type: str,
    train: pd.DataFrame,
    test: pd.DataFrame,
    feature_columns: Sequence[str],
    target: str | None = None,
) -> np.ndarray:
    """What a simple model predicts for ``test``: the bar the real model must clear.

    Logistic (classification) or linear (regression) regression on the numeric ones of ``feature_columns``
    (categoricals are left out), standardized with the training mean and deviation, missing values at the mean. It
    falls back to the prior (the training positive rate or mean) when there is no numeric feature or the training
    labels hold a single class. ``target`` defaults to the task type's label column.
    """
    target = target or target_column(task_type)
    y = train[target].to_numpy(dtype=float)
    categorical = categorical_columns()
    numeric = [c for c in feature_columns if c not in categorical and pd.api.types.is_numeric_dtype(train[c].dtype)]
    if not numeric or (task_type == "classification" and len(np.unique(y)) < 2):
        return np.full(len(test), float(y.mean()))
    x_train, x_test = train[numeric].astype(float), test[numeric].astype(float)
    mean, std = x_train.mean(), x_train.std().replace(0.0, 1.0).fillna(1.0)
    x_train, x_test = ((x - mean) / std for x in (x_train, x_test))
    x_train, x_test = x_train.fillna(0.0), x_test.fillna(0.0)
    if task_type == "classification":
        return LogisticRegression(max_iter=1000).fit(x_train, y).predict_proba(x_test)[:, 1]
    return LinearRegression().fit(x_train, y).predict(x_test)
