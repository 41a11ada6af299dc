"""Optional hyperparameter tuning (the ``train`` DAG's ``tune`` param): a seeded random search over XGBoost's main
hyperparameters, each trial trained on the train split with early stopping and scored on the validation split (the
test split stays untouched for the gate). Trial 0 is the untuned parameters, so tuning never picks worse than them
on validation. The best trial's parameters become the training run's; the search space and every trial go to
``tuning.json`` in the run folder and to the MLflow run (tag ``tuning``).
"""

from __future__ import annotations

import math

import numpy as np

from driftloop.quality.registry import covers

SEARCH_SPACE = {
    "max_depth": {"kind": "int", "low": 2, "high": 6},
    "eta": {"kind": "log", "low": 0.02, "high": 0.3},
    "min_child_weight": {"kind": "log", "low": 1.0, "high": 30.0},
    "subsample": {"kind": "float", "low": 0.6, "high": 1.0},
    "colsample_bytree": {"kind": "float", "low": 0.6, "high": 1.0},
}


def sample_params(rng: np.random.Generator, space: dict = SEARCH_SPACE) -> dict:
    """One point of ``space``: integers uniform, ``log`` ranges log-uniform, ``float`` ranges uniform."""
    params = {}
    for name, dim in space.items():
        if dim["kind"] == "int":
            params[name] = int(rng.integers(dim["low"], dim["high"] + 1))
        elif dim["kind"] == "log":
            params[name] = round(float(math.exp(rng.uniform(math.log(dim["low"]), math.log(dim["high"])))), 4)
        else:
            params[name] = round(float(rng.uniform(dim["low"], dim["high"])), 4)
    return params


@covers(
    "model.3",
    stage="driftloop.model.training_run:step_train",
    tests=(
        "tests/unit/test_quality_tuning.py::test_tuning_records_every_trial_and_returns_the_best_on_validation",
        "tests/unit/test_quality_tuning.py::test_the_train_step_with_tune_trains_with_the_best_parameters",
    ),
)
def tune(split, task_type: str, feature_columns: list[str], params: dict | None, trials: int, seed: int, device: str):
    """Random search of ``trials`` trials (the first: ``params`` as given) on ``split``; returns the record (search
    space, trials with their validation metric, the best parameters)."""
    from driftloop.model.evaluation import evaluate, primary_metric
    from driftloop.model.training import predict, target_column, train_model

    if trials < 1:
        raise ValueError(f"DRIFTLOOP_TUNE_TRIALS={trials} must be at least 1")
    metric, direction = primary_metric(task_type)
    rng = np.random.default_rng(seed)
    target = target_column(task_type)
    record = []
    for trial in range(trials):
        candidate = {**(params or {}), **({} if trial == 0 else sample_params(rng))}
        model = train_model(split, task_type, feature_columns, candidate, seed, device)
        value = evaluate(task_type, split.validation[target], predict(model, split.validation))["overall"][metric]
        record.append(
            {"trial": trial, "params": candidate, "validation": value, "best_iteration": model.best_iteration}
        )
    finite = [t for t in record if math.isfinite(t["validation"])]
    if not finite:
        raise ValueError(f"no tuning trial has a finite validation {metric}")
    best = (max if direction == "higher" else min)(finite, key=lambda t: t["validation"])
    return {"metric": metric, "search_space": SEARCH_SPACE, "trials": record, "best": best}
