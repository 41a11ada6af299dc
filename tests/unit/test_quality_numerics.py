"""NaN or infinite losses, metrics and predictions fail the step that made them."""

from __future__ import annotations

import numpy as np
import pytest

from driftloop.quality.numerics import NumericalInstability, check_finite_metrics, check_training_curve
from driftloop.serving.scoring import ScoringError, check_outputs


def test_a_nan_or_infinite_loss_fails_training_naming_the_round():
    check_training_curve({"validation": {"logloss": [0.6, 0.5, 0.4]}})
    with pytest.raises(NumericalInstability, match=r"logloss on the validation split is nan from round 2 \(2 of 4"):
        check_training_curve({"validation": {"logloss": [0.6, 0.5, float("nan"), float("inf")]}})


def test_a_nan_overall_metric_fails_evaluation():
    check_finite_metrics({"overall": {"roc_auc": 0.7}, "slices": {"plan=basic": {"roc_auc": float("nan")}}}, "model")
    with pytest.raises(NumericalInstability, match="the baseline's test metrics are not finite"):
        check_finite_metrics({"overall": {"roc_auc": 0.7, "log_loss": float("inf")}}, "baseline")


def test_non_finite_predictions_fail_scoring():
    check_outputs(np.array([0.1, 0.9]), "classification")
    with pytest.raises(ScoringError, match="1 predictions are NaN or infinite"):
        check_outputs(np.array([0.1, np.nan]), "classification")
