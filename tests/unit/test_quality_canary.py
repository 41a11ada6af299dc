"""Canary: a challenger in shadow is judged on its shadow days and promoted as a ``canary`` move once they pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_model_registry import NAME, _frame, _train_and_log

from driftloop.model import model_registry as registry
from driftloop.model.promotion import decide_promotion
from driftloop.quality.canary import SHADOW_TAG, finish_shadow, judge_shadow, shadow_day, start_shadow


def _day(champion, challenger, agreement=0.9):
    return {"rows": 1000, "agreement": agreement, "labelled": 500, "champion": champion, "challenger": challenger}


def test_the_shadow_is_pending_until_enough_days_matured_then_passes_or_fails():
    days = {"2026-05-01": _day(0.70, 0.72), "2026-05-02": _day(None, None, agreement=0.8)}
    pending = judge_shadow(days, required_days=2, task_type="classification", tolerance=0.01)
    assert pending["verdict"] == "pending" and pending["reasons"] == ["1 of 2 shadow days have matured labels"]
    assert pending["mean_agreement"] == pytest.approx(0.85)
    days["2026-05-02"] = _day(0.70, 0.69)
    passed = judge_shadow(days, required_days=2, task_type="classification", tolerance=0.01)
    assert passed["verdict"] == "passed" and passed["gain"] == pytest.approx(0.005)
    days["2026-05-02"] = _day(0.70, 0.60)
    assert judge_shadow(days, 2, "classification", 0.01)["verdict"] == "failed"
    rmse = {"d": _day(10.0, 10.5)}
    assert judge_shadow(rmse, 1, "regression", 0.01)["verdict"] == "failed", "RMSE 5 % worse, relative"
    assert judge_shadow(rmse, 1, "regression", 0.06)["verdict"] == "passed"


def test_a_shadow_day_has_agreement_and_both_models_quality_once_labelled():
    rng = np.random.default_rng(0)
    labels = pd.DataFrame({"customer_id": np.arange(400), "churned": rng.integers(0, 2, 400)})
    scores = pd.DataFrame(
        {
            "customer_id": np.arange(400),
            "champion": labels["churned"] * 0.5 + rng.random(400) * 0.5,
            "challenger": rng.random(400),
        }
    )
    before = shadow_day(scores, None, "customer_id", "churned", "classification", min_rows=200)
    assert before["champion"] is None and before["rows"] == 400 and abs(before["agreement"]) < 0.2
    day = shadow_day(scores, labels, "customer_id", "churned", "classification", min_rows=200)
    assert day["labelled"] == 400 and day["champion"] > 0.8 and 0.4 < day["challenger"] < 0.6
    few = shadow_day(scores, labels.head(50), "customer_id", "churned", "classification", min_rows=200)
    assert few["labelled"] == 50 and few["challenger"] is None


@pytest.fixture
def tracking(tmp_path):
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_a_passed_shadow_promotes_the_challenger_as_a_canary_move(tracking, tmp_path):
    frame = _frame()
    _, _, first_eval, baseline, first = _train_and_log(tracking, tmp_path, frame, "run-1")
    decide = lambda champion: decide_promotion(first_eval, None, baseline, "classification", 0.005, 0.05)  # noqa: E731
    registry.gate_version(tracking, NAME, first.version, decide)
    _, _, _, _, second = _train_and_log(tracking, tmp_path, _frame(seed=1), "run-2")
    start_shadow(tracking, NAME, second.version, required_days=2)
    tags = registry.client(tracking).get_model_version(NAME, second.version).tags
    assert tags[SHADOW_TAG].startswith("pending")
    assert str(registry.version_by_alias(tracking, NAME, "champion").version) == first.version

    failed = judge_shadow({"d1": _day(0.7, 0.5), "d2": _day(0.7, 0.5)}, 2, "classification", 0.01)
    passed = judge_shadow({"d1": _day(0.7, 0.71), "d2": _day(0.7, 0.72)}, 2, "classification", 0.01)
    outcome = finish_shadow(tracking, NAME, second.version, passed)
    assert outcome.decision.promote and outcome.decision.reasons == passed["reasons"]
    assert str(registry.version_by_alias(tracking, NAME, "champion").version) == second.version
    history = registry.read_history(tracking, NAME)
    assert [(e.version, e.kind) for e in history.events] == [(first.version, "gate"), (second.version, "canary")]
    assert registry.client(tracking).get_model_version(NAME, second.version).tags[SHADOW_TAG] == "passed"
    again = finish_shadow(tracking, NAME, second.version, failed)
    assert again.decision.promote, "a rerun completes the recorded decision, it does not decide again"
