"""Model evaluation on the test split: metrics per task type, per slice, a calibration table and a baseline."""

from __future__ import annotations

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

PRIMARY_METRICS = {"classification": ("roc_auc", "higher"), "regression": ("rmse", "lower")}
MIN_SLICE_ROWS = 20
TENURE_BANDS = ((0, 90, "0-3m"), (90, 365, "3-12m"), (365, 730, "1-2y"), (730, 10**6, "2y+"))


def primary_metric(task_type: str) -> tuple[str, str]:
    """The metric that decides promotion and whether ``higher`` or ``lower`` is better."""
    return PRIMARY_METRICS[task_type]


def tenure_band(tenure_days: pd.Series) -> pd.Series:
    """Tenure in bands (``0-3m``, ``3-12m``, ``1-2y``, ``2y+``), a slice for evaluation."""
    bands = pd.Series("2y+", index=tenure_days.index, dtype=object)
    for low, high, name in TENURE_BANDS:
        bands[(tenure_days >= low) & (tenure_days < high)] = name
    return bands


def calibration_table(y_true: np.ndarray, y_pred: np.ndarray, bins: int = 10) -> list[dict]:
    """Predicted probability in ``bins`` equal-width bins: mean prediction, observed rate and count per bin."""
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


def _evaluable(task_type: str, y_true: np.ndarray) -> str | None:
    if len(y_true) < MIN_SLICE_ROWS:
        return f"{len(y_true)} rows, fewer than {MIN_SLICE_ROWS}"
    if task_type == "classification" and len(np.unique(y_true)) < 2:
        return "a single class"
    return None


def evaluate(task_type: str, y_true, y_pred, slices: pd.DataFrame | None = None) -> dict:
    """Overall metrics, metrics per slice value (``slices``: one column per slicing, aligned with y), and for
    classification a calibration table. Slices too small or with one class are listed under ``skipped_slices``."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    reason = _evaluable(task_type, y_true)
    if reason:
        raise ValueError(f"cannot evaluate a {task_type} model on a test split with {reason}")
    result: dict = {"task_type": task_type, "rows": int(len(y_true)), "overall": _metrics(task_type, y_true, y_pred)}
    if task_type == "classification":
        result["calibration"] = calibration_table(y_true, y_pred)
    result["slices"], result["skipped_slices"] = {}, {}
    for column in slices.columns if slices is not None else []:
        values = slices[column].astype(object).fillna("missing").to_numpy()
        for value in sorted(set(values), key=str):
            mask = values == value
            key = f"{column}={value}"
            reason = _evaluable(task_type, y_true[mask])
            if reason:
                result["skipped_slices"][key] = reason
            else:
                result["slices"][key] = _metrics(task_type, y_true[mask], y_pred[mask])
    return result


def baseline_predictions(
    task_type: str, train: pd.DataFrame, test: pd.DataFrame, numeric_columns: list[str], target: str
) -> np.ndarray:
    """A simple model the real one must beat: logistic or linear regression on standardized numeric features
    (the prior rate or mean when the training set has a single class)."""
    x_train = train[numeric_columns].astype(float).fillna(0.0)
    x_test = test[numeric_columns].astype(float).fillna(0.0)
    mean, std = x_train.mean(), x_train.std().replace(0.0, 1.0).fillna(1.0)
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    y = train[target].to_numpy()
    if task_type == "classification":
        if len(np.unique(y)) < 2:
            return np.full(len(test), float(y.mean()))
        return LogisticRegression(max_iter=1000).fit(x_train, y).predict_proba(x_test)[:, 1]
    return LinearRegression().fit(x_train, y).predict(x_test)
