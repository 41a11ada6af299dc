"""A replay of the churn simulator's concept drift, small: what each policy did, and that reacting to the drift pays.

The relation between the inputs and churn changes on the drift day; a model retrained on post-drift labels is
better than the first one on the days after, so the drift-triggered policy must beat never retraining there, at a
fraction of the compute of retraining every day.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta

import pandas as pd
import pytest

from driftloop.replay import run_replay
from driftloop.settings import get_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay")
    base = get_settings()
    settings = dataclasses.replace(
        base,
        data_root=root / "data",
        mlflow_tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        mlflow_artifact_root=str(root / "mlartifacts"),
        label_horizon_days=7,
        feature_window_days=14,
        model=dataclasses.replace(base.model, training_window_days=14),
    )
    result = run_replay(
        days=36,
        entities=8000,
        scenario="concept",
        drift_day=6,
        policies="never,every:1,drift:5,quality",
        out=root / "out",
        settings=settings,
    )
    return result, settings


def test_drift_triggered_retraining_beats_never_after_the_drift_for_less_compute_than_daily(replay):
    result, _ = replay
    comparison = result.policy_comparison()
    never, daily, drift = comparison["never"], comparison["every:1"], comparison["drift:5"]
    assert drift["promotions"] >= 1
    assert drift["mean_quality_after_drift"] > never["mean_quality_after_drift"] + 0.02
    assert drift["compute_seconds"] < daily["compute_seconds"]
    assert never["retrainings"] == 0 and daily["retrainings"] == 36
    # Before the drift every policy serves a model of the same data: quality differs little.
    assert abs(drift["mean_quality_before_drift"] - never["mean_quality_before_drift"]) < 0.02


def test_every_retraining_learns_only_from_labels_matured_by_its_day(replay):
    result, settings = replay
    retrained = result.table[result.table["retrained"]]
    assert len(retrained)
    for row in retrained.itertuples():
        start, end = (date.fromisoformat(d) for d in row.training_window.split(".."))
        assert end <= date.fromisoformat(row.day) - timedelta(days=settings.label_horizon_days)
        assert start <= end


def test_quality_is_measured_only_on_labels_the_production_model_never_learned_from(replay):
    result, settings = replay
    table = result.table
    measured = table[table["quality"].notna()]
    assert set(measured["policy"]) == set(table["policy"])
    assert (measured["quality_rows"] >= settings.monitoring.quality_min_rows).all()
    for policy, rows in table.groupby("policy"):
        trained_on = None
        for row in rows.itertuples():
            if row.labels_matured:
                first, last = (date.fromisoformat(d) for d in row.labels_matured.split(".."))
                assert last == date.fromisoformat(row.day)
                assert trained_on is None or first > trained_on, (policy, row.day)
            if row.promoted:
                trained_on = date.fromisoformat(row.day)


def test_the_replay_writes_its_table_plot_and_one_mlflow_run(replay):
    import mlflow

    result, settings = replay
    rows = json.loads(result.paths["json"].read_text())
    assert len(rows) == 4 * 36 == len(pd.read_csv(result.paths["csv"]))
    assert result.paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = mlflow.MlflowClient(settings.mlflow_tracking_uri).get_run(result.mlflow_run_id)
    assert run.data.metrics["drift_5.retrainings"] == result.policy_comparison()["drift:5"]["retrainings"]
    artifacts = {a.path for a in mlflow.MlflowClient(settings.mlflow_tracking_uri).list_artifacts(run.info.run_id)}
    assert {"replay.csv", "replay.json", "summary.json", "quality.png"} <= artifacts
