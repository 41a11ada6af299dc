"""MLflow: a run logs its lineage, every version starts as challenger, the gate moves champion, rollback restores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature

from driftloop import model_registry as registry
from driftloop.evaluation import baseline_predictions, evaluate
from driftloop.promotion import decide_promotion
from driftloop.training import predict, time_split, train_model

FEATURES = ["sessions_30d", "payment_failures_30d", "plan"]
NAME = "churn_test"


def _frame(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "event_timestamp": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 40, n), unit="D"),
            "sessions_30d": rng.poisson(20, n),
            "payment_failures_30d": rng.poisson(0.4, n),
            "plan": rng.choice(["basic", "standard", "premium"], n),
        }
    )
    # A non-linear signal (a usage threshold, failures that matter on one plan) that trees catch and a linear
    # baseline does not.
    basic_with_failures = (frame["payment_failures_30d"] > 0) & (frame["plan"] == "basic")
    logit = -2.5 + 3.0 * (frame["sessions_30d"] < 16) + 2.5 * basic_with_failures
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


@pytest.fixture
def tracking(tmp_path):
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def _train_and_log(tracking, tmp_path, frame, tag_run):
    split = time_split(frame, "event_timestamp")
    model = train_model(split, "classification", FEATURES, {"num_boost_round": 40, "max_depth": 3}, seed=0)
    scores = predict(model, split.test)
    slices = split.test[["plan"]]
    evaluation = evaluate("classification", split.test["churned"], scores, slices)
    numeric = ["sessions_30d", "payment_failures_30d"]
    baseline = evaluate(
        "classification",
        split.test["churned"],
        baseline_predictions("classification", split.train, split.test, numeric, "churned"),
        slices,
    )
    snapshot = tmp_path / f"{tag_run}.parquet"
    frame.to_parquet(snapshot)
    tags = {"dag_id": "train", "run_id": tag_run, "feature_service": "customer_churn_v1", "snapshot_sha256": "ab" * 32}
    logged = registry.log_and_register(
        tracking, str(tmp_path / "artifacts"), NAME, model, split.test, evaluation, baseline, snapshot, "ab" * 32, tags
    )
    return model, split, evaluation, baseline, logged


def test_a_run_is_logged_with_lineage_and_registered_as_challenger(tracking, tmp_path):
    model, split, _, _, logged = _train_and_log(tracking, tmp_path, _frame(), "run-1")
    client = registry.client(tracking)
    version = client.get_model_version(NAME, logged.version)
    assert version.aliases == ["challenger"]
    assert version.tags["feature_service"] == "customer_churn_v1" and version.tags["run_id"] == "run-1"
    run = client.get_run(logged.run_id)
    assert run.data.tags["device"] == "cpu" and "test_roc_auc" in run.data.metrics
    assert run.inputs.dataset_inputs[0].dataset.name == "training_set"
    artifacts = {a.path for a in client.list_artifacts(logged.run_id, "evaluation")}
    assert {
        "evaluation/calibration.png",
        "evaluation/roc_pr.png",
        "evaluation/feature_importance.png",
        "evaluation/model_card.md",
    } <= artifacts
    reloaded = registry.predict_with_version(tracking, NAME, logged.version, split.test, FEATURES)
    np.testing.assert_allclose(reloaded, predict(model, split.test), rtol=1e-6)


def test_the_gate_moves_champion_and_a_worse_challenger_stays_registered_but_unpromoted(tracking, tmp_path):
    frame = _frame()
    _, _, first_eval, baseline, first = _train_and_log(tracking, tmp_path, frame, "run-1")
    decision = decide_promotion(first_eval, None, baseline, "classification", 0.005, 0.05)
    assert decision.promote
    assert registry.apply_decision(tracking, NAME, first.version, decision) is None
    assert str(registry.version_by_alias(tracking, NAME, "champion").version) == first.version

    shuffled = frame.assign(churned=np.random.default_rng(1).permutation(frame["churned"].to_numpy()))
    _, split, worse_eval, _, worse = _train_and_log(tracking, tmp_path, shuffled, "run-2")
    champion_scores = registry.predict_with_version(tracking, NAME, first.version, split.test, FEATURES)
    champion_eval = evaluate("classification", split.test["churned"], champion_scores, split.test[["plan"]])
    decision = decide_promotion(worse_eval, champion_eval, baseline, "classification", 0.005, 0.05)
    assert not decision.promote
    registry.apply_decision(tracking, NAME, worse.version, decision)
    version = registry.client(tracking).get_model_version(NAME, worse.version)
    assert version.tags["promotion_decision"] == "rejected" and "champion" in version.tags["promotion_reasons"]
    assert str(registry.version_by_alias(tracking, NAME, "champion").version) == first.version
    assert str(registry.version_by_alias(tracking, NAME, "challenger").version) == worse.version


def test_rollback_restores_the_previous_champion_with_an_audit_tag(tracking, tmp_path):
    frame = _frame()
    _, _, evaluation, baseline, first = _train_and_log(tracking, tmp_path, frame, "run-1")
    forced = decide_promotion(evaluation, None, baseline, "classification", 0.0, 1.0, force=True)
    registry.apply_decision(tracking, NAME, first.version, forced)
    _, _, _, _, second = _train_and_log(tracking, tmp_path, frame, "run-2")
    assert registry.apply_decision(tracking, NAME, second.version, forced) == first.version

    moved = registry.rollback(tracking, NAME, actor="alice", reason="bad scores in region east")
    assert moved == (second.version, first.version)
    assert str(registry.version_by_alias(tracking, NAME, "champion").version) == first.version
    audit = registry.client(tracking).get_model_version(NAME, second.version).tags["rolled_back"]
    assert "alice" in audit and "bad scores in region east" in audit
    with pytest.raises(ValueError, match="replaced no earlier version"):
        registry.rollback(tracking, NAME, actor="alice", reason="again")


def test_the_column_schema_equals_mlflow_s_inference_with_missing_values_and_categories():
    frame = pd.DataFrame(
        {
            "sessions_30d": np.array([3, 5, 8], dtype="int64"),
            "minutes_7d": [1.5, None, 2.0],
            "region": ["north", None, "south"],
            "plan": pd.Categorical(["basic", None, "premium"]),
            "event_timestamp": pd.to_datetime(["2026-01-01", None, "2026-01-03"], utc=True),
            "active": [True, False, True],
        }
    )
    schema = registry.column_schema(frame)
    assert schema == infer_signature(frame).inputs
    assert [c.required for c in schema.inputs] == [True, False, False, False, False, True]
