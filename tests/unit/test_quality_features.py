"""Feature importance names the features that do not help, and each feature group's cost is measured."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from driftloop.features.point_in_time import ViewLookup
from driftloop.model.training import Split, train_model
from driftloop.quality.features import feature_group_costs, importance_section, non_helping, permutation_importance
from driftloop.settings import load_settings


def label_events(n: int = 3000, seed: int = 3) -> pd.DataFrame:
    """Churn-like label events: churn follows low usage and failed payments; ``constant_feature`` carries nothing."""
    rng = np.random.default_rng(seed)
    stamps = pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 40, n), unit="D")
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(n, dtype="int64"),
            "event_timestamp": stamps,
            "as_of_date": stamps.date,
            "sessions_30d": rng.poisson(20, n),
            "payment_failures_30d": rng.poisson(0.4, n),
            "tenure_days": rng.integers(400, 700, n),
            "plan": rng.choice(["basic", "standard", "premium"], n),
            "region": "north",
            "constant_feature": 1.0,
        }
    )
    logit = -2.0 + 3.0 * (frame["sessions_30d"] < 16) + 2.0 * (frame["payment_failures_30d"] > 0)
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame["future_watch_hours"] = rng.gamma(2.0, 5.0, n)
    return frame


@pytest.fixture
def settings(monkeypatch, tmp_path):
    monkeypatch.setenv("DRIFTLOOP_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("DRIFTLOOP_TRAIN_DEVICE", "cpu")
    monkeypatch.setenv("DRIFTLOOP_TUNE_TRIALS", "3")
    return load_settings()


def run_folder(tmp_path, frame: pd.DataFrame):
    """A training run folder whose training_set step is done (a snapshot of ``frame``)."""
    folder = tmp_path / "run"
    folder.mkdir()
    snapshot = tmp_path / "training_set.parquet"
    frame.to_parquet(snapshot, index=False)
    digest = hashlib.sha256(snapshot.read_bytes()).hexdigest()
    summary = {"path": str(snapshot), "sha256": digest, "rows": len(frame), "start": "2026-03-01", "end": "2026-04-09"}
    (folder / "training_set.json").write_text(json.dumps({**summary, "feature_service": "customer_churn_v1"}))
    return folder


def test_a_feature_the_label_depends_on_helps_and_a_noise_column_does_not():
    frame = label_events()
    days = frame["event_timestamp"].dt.day_of_year
    split = Split(frame[days < 90], frame[(days >= 90) & (days < 100)], frame[days >= 100])
    columns = ["sessions_30d", "payment_failures_30d", "constant_feature"]
    model = train_model(split, "classification", columns, {"num_boost_round": 40}, seed=1, device_preference="cpu")
    importance = permutation_importance(model, split.validation, seed=1)
    assert importance["sessions_30d"] > 0.05 and importance["payment_failures_30d"] > 0.02
    assert importance["constant_feature"] == 0.0
    assert non_helping(importance) == ["constant_feature"]
    assert permutation_importance(model, split.validation, seed=1) == importance, "seeded"
    assert "Features that do not help: constant_feature." in importance_section(importance, {})


def test_the_evaluate_step_names_non_helping_features(settings, tmp_path):
    from driftloop.model.training_run import step_evaluate, step_split, step_train

    folder = run_folder(tmp_path, label_events())
    step_split(folder)
    step_train(folder, {"num_boost_round": 30}, settings)
    result = step_evaluate(folder, settings)
    checks = json.loads((folder / "quality_checks.json").read_text())
    assert "constant_feature" in result["non_helping_features"] and "region" in result["non_helping_features"]
    assert "sessions_30d" not in result["non_helping_features"]
    assert checks["non_helping_features"] == result["non_helping_features"]
    assert set(checks["importance"]) == {
        "sessions_30d",
        "payment_failures_30d",
        "tenure_days",
        "plan",
        "region",
        "constant_feature",
    }
    assert set(checks["parity_gaps"]) == {"region"}, "the churn spec's sensitive slice"
    assert set(json.loads((folder / "compute.json").read_text())) == {"split", "train", "evaluate"}


def test_each_feature_group_has_its_lookup_time_and_bytes_per_row(tmp_path):
    stamps = pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(np.arange(10), unit="D")
    source = tmp_path / "usage.parquet"
    pd.DataFrame(
        {"customer_id": np.arange(10), "event_timestamp": stamps, "sessions": np.arange(10.0), "hours": 2.0}
    ).to_parquet(source, index=False)
    plan_source = tmp_path / "plan.parquet"
    pd.DataFrame({"customer_id": np.arange(10), "event_timestamp": stamps, "charge": 9.0}).to_parquet(plan_source)
    lookups = [
        ViewLookup("usage", ["customer_id"], "event_timestamp", None, source, ["sessions", "hours"]),
        ViewLookup("billing", ["customer_id"], "event_timestamp", None, plan_source, ["charge"]),
    ]
    entities = pd.DataFrame({"customer_id": np.arange(10), "event_timestamp": stamps})
    costs = feature_group_costs(entities, lookups, seed=0)
    assert list(costs) == ["usage", "billing"]
    assert costs["usage"]["features"] == ["sessions", "hours"] and costs["usage"]["bytes_per_row"] == 16.0
    assert costs["billing"]["bytes_per_row"] == 8.0
    assert all(cost["seconds_per_1k_rows"] >= 0 for cost in costs.values())
    section = importance_section({"sessions": 0.1, "hours": 0.0, "charge": 0.02}, costs)
    assert "| usage |" in section and "| billing |" in section and "Features that do not help: hours." in section
