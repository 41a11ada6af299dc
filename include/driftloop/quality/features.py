"""Whether each feature helps, and what each feature group costs.

- :func:`permutation_importance`: per model input, the primary metric's loss on the validation split when that
  column is shuffled (seeded, averaged over a few shuffles); a feature whose loss is not above
  :data:`HELPS_ABOVE` does not help, and is named on the MLflow run (tag ``non_helping_features``) and on the
  model card.
- :func:`feature_group_costs`: per feature view of the FeatureService (a feature group), the seconds its
  point-in-time lookup takes per thousand rows and the bytes per row its columns hold, measured on a sample of the
  training set's label events; on the run (tag ``feature_costs``) and the model card with the group's importance.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from driftloop.quality.registry import covers

REPEATS = 3
"""Shuffles per feature: enough to tell a feature that helps from noise on a validation split of thousands of rows."""
HELPS_ABOVE = 0.0
"""A feature helps when shuffling it costs more than this much of the primary metric."""
COST_SAMPLE_ROWS = 2000


def _metric(task_type: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import mean_squared_error, roc_auc_score

    if task_type == "classification":
        return float(roc_auc_score(y_true, y_pred))
    return -float(np.sqrt(mean_squared_error(y_true, y_pred)))


@covers(
    "data.2",
    stage="driftloop.model.training_run:step_evaluate",
    tests=(
        "tests/unit/test_quality_features.py::test_a_feature_the_label_depends_on_helps_and_a_noise_column_does_not",
        "tests/unit/test_quality_features.py::test_the_evaluate_step_names_non_helping_features",
    ),
)
def permutation_importance(model, frame: pd.DataFrame, seed: int, repeats: int = REPEATS) -> dict[str, float]:
    """Each input of ``model`` (a ``TrainedModel``) and how much worse the primary metric (ROC AUC; minus RMSE)
    gets on ``frame`` (the validation split) when it is shuffled, averaged over ``repeats`` seeded shuffles."""
    from driftloop.model.training import build_model_matrix, target_column

    y_true = pd.to_numeric(frame[target_column(model.task_type)]).to_numpy(dtype=float)
    matrix = build_model_matrix(frame, model.feature_columns)
    iterations = (0, model.best_iteration + 1)
    base = _metric(model.task_type, y_true, model.booster.inplace_predict(matrix, iteration_range=iterations))
    rng = np.random.default_rng(seed)
    importance = {}
    for column in model.feature_columns:
        losses = []
        for _ in range(repeats):
            shuffled = matrix.copy()
            shuffled[column] = matrix[column].to_numpy()[rng.permutation(len(matrix))]
            if isinstance(matrix[column].dtype, pd.CategoricalDtype):
                shuffled[column] = pd.Categorical(shuffled[column], categories=matrix[column].cat.categories)
            scores = model.booster.inplace_predict(shuffled, iteration_range=iterations)
            losses.append(base - _metric(model.task_type, y_true, scores))
        importance[column] = float(np.mean(losses))
    return importance


def non_helping(importance: dict[str, float]) -> list[str]:
    """The features whose permutation importance is not above :data:`HELPS_ABOVE`, least useful first."""
    return [c for c, v in sorted(importance.items(), key=lambda item: item[1]) if not v > HELPS_ABOVE]


@covers(
    "data.3",
    stage="driftloop.model.training_run:step_training_set",
    tests=("tests/unit/test_quality_features.py::test_each_feature_group_has_its_lookup_time_and_bytes_per_row",),
    note="the evaluate step puts each group's cost beside its importance on the run and the model card",
)
def feature_group_costs(entities: pd.DataFrame, lookups: list, seed: int) -> dict[str, dict]:
    """Per feature view of ``lookups`` (``driftloop.features.point_in_time.ViewLookup``): its features, the seconds
    its point-in-time lookup takes per thousand rows of ``entities`` (sampled to :data:`COST_SAMPLE_ROWS`) and the
    bytes per row its columns take in memory."""
    from driftloop.features.point_in_time import historical_features

    sample = entities.sample(n=min(len(entities), COST_SAMPLE_ROWS), random_state=seed).reset_index(drop=True)
    costs = {}
    for lookup in lookups:
        start = time.perf_counter()
        joined = historical_features(sample, [lookup])
        seconds = time.perf_counter() - start
        features = [c for c in lookup.features if c in joined.columns]
        memory = joined[features].memory_usage(deep=True, index=False).sum()
        costs[lookup.name] = {
            "features": features,
            "seconds_per_1k_rows": round(seconds * 1000 / max(len(sample), 1), 4),
            "bytes_per_row": round(float(memory) / max(len(sample), 1), 1),
        }
    return costs


def importance_section(importance: dict[str, float], costs: dict[str, dict]) -> str:
    """The model card's Markdown section: features by importance, those that do not help, and each group's cost."""
    rows = "\n".join(f"| {c} | {v:+.4f} |" for c, v in sorted(importance.items(), key=lambda item: -item[1]))
    lines = ["## Features", "", "| feature | permutation importance (validation) |", "| --- | --- |", rows, ""]
    useless = non_helping(importance)
    lines.append(f"Features that do not help: {', '.join(useless)}." if useless else "Every feature helps.")
    if costs:
        lines += [
            "",
            "| feature group | lookup s / 1k rows | bytes / row | importance (sum) |",
            "| --- | --- | --- | --- |",
        ]
        for name, cost in costs.items():
            total = sum(importance.get(c, 0.0) for c in cost["features"])
            lines.append(f"| {name} | {cost['seconds_per_1k_rows']} | {cost['bytes_per_row']} | {total:+.4f} |")
    return "\n".join(lines) + "\n"
