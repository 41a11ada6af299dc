"""Numerical stability: a NaN or infinite training loss or evaluation metric fails the step that made it.

Predictions are checked where they are made (``driftloop.serving.scoring.check_outputs``); these checks cover
training (the validation curve XGBoost recorded each round) and evaluation (the overall metrics of the model and the
baseline; a slice's metric may be NaN by design when the slice has one class, and is skipped by the gate).
"""

from __future__ import annotations

import math

from driftloop.quality.registry import covers


class NumericalInstability(ValueError):
    """A loss or metric that is NaN or infinite; the message names which and where."""


@covers(
    "monitoring.5",
    stage="driftloop.model.training_run:step_train",
    tests=(
        "tests/unit/test_quality_numerics.py::test_a_nan_or_infinite_loss_fails_training_naming_the_round",
        "tests/unit/test_quality_numerics.py::test_a_nan_overall_metric_fails_evaluation",
        "tests/unit/test_quality_numerics.py::test_non_finite_predictions_fail_scoring",
    ),
    note="also run on the evaluation metrics (step_evaluate) and, for predictions, by scoring",
)
def check_training_curve(evals_result: dict) -> None:
    """Raise NumericalInstability when any recorded loss of any evaluation set is NaN or infinite."""
    for data_set, metrics in evals_result.items():
        for metric, values in metrics.items():
            bad = [i for i, v in enumerate(values) if not math.isfinite(float(v))]
            if bad:
                raise NumericalInstability(
                    f"training {metric} on the {data_set} split is {values[bad[0]]} from round {bad[0]} "
                    f"({len(bad)} of {len(values)} rounds): lower eta or check the features for extreme values"
                )


def check_finite_metrics(evaluation: dict, role: str) -> None:
    """Raise NumericalInstability when an overall metric of an ``evaluate`` result (``role``: model, baseline) is NaN
    or infinite."""
    bad = {k: v for k, v in evaluation.get("overall", {}).items() if not math.isfinite(float(v))}
    if bad:
        raise NumericalInstability(f"the {role}'s test metrics are not finite: {bad}")
