"""Drift verdicts of driftloop.monitoring.monitor on synthetic feature frames: explicit methods, thresholds,
sampling."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from driftloop.monitoring.monitor import (
    drift_report,
    drift_scores,
    feature_columns,
    quality_dropped,
    quality_report,
    render_summary,
    report_header,
    sample,
    save_report,
    store_report,
)
from driftloop.settings import get_settings

COLUMNS = ["minutes_7d", "sessions_7d", "tenure_days", "monthly_charge", "plan", "region"]


def _frame(n: int, seed: int, charge_factor: float = 1.0, usage: float = 1.0, mobile_plan_shift: bool = False):
    rng = np.random.default_rng(seed)
    plans = rng.choice(["basic", "standard", "premium"], size=n, p=[0.35, 0.45, 0.2])
    if mobile_plan_shift:
        plans = rng.choice(["basic", "standard", "premium"], size=n, p=[0.7, 0.2, 0.1])
    return pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "minutes_7d": rng.gamma(2.0, 60.0, n) * usage,
            "sessions_7d": rng.poisson(6 * usage, n).astype(float),
            "tenure_days": rng.integers(1, 1000, n).astype(float),
            "monthly_charge": rng.choice([8.99, 13.99, 19.99], n) * charge_factor,
            "plan": plans,
            "region": rng.choice(["north", "south", "east", "west", None], n),
            "prediction": rng.beta(2, 20, n) * (1.0 / usage),
        }
    )


@pytest.fixture
def settings(data_root):
    return get_settings()


def test_the_same_distribution_is_not_drift_even_with_many_rows(settings):
    snapshot, result = drift_report(_frame(50_000, 1), _frame(50_000, 2), COLUMNS, settings)
    assert result.drifted_columns == [] and not result.dataset_drift and not result.prediction_drifted
    assert set(result.columns) == set(COLUMNS) and max(result.columns.values()) < 0.05


def test_a_price_rise_and_less_usage_is_drift_on_those_columns(settings):
    reference, current = _frame(20_000, 1), _frame(20_000, 2, charge_factor=1.25, usage=0.6)
    _, result = drift_report(reference, current, COLUMNS, settings)
    assert {"monthly_charge", "minutes_7d", "sessions_7d"} <= set(result.drifted_columns)
    assert "tenure_days" not in result.drifted_columns and result.dataset_drift
    assert result.drift_share == pytest.approx(len(result.drifted_columns) / len(COLUMNS))
    assert result.prediction_drifted


def test_the_report_holds_the_drift_preset_metrics_with_the_configured_methods_and_its_count_agrees(settings):
    reference, current = _frame(5_000, 1), _frame(5_000, 2, charge_factor=1.25, usage=0.6)
    snapshot, result = drift_report(reference, current, COLUMNS, settings)
    metrics = {
        m["config"]["type"].rsplit(":", 1)[-1] + ":" + m["config"].get("column", ""): m
        for m in snapshot.dict()["metrics"]
    }
    config = settings.monitoring
    assert metrics["ValueDrift:plan"]["config"]["method"] == config.cat_method
    assert metrics["ValueDrift:minutes_7d"]["config"]["method"] == config.num_method
    assert metrics["ValueDrift:prediction"]["config"]["threshold"] == config.prediction_threshold
    count = metrics["DriftedColumnsCount:"]["value"]
    assert count["count"] == len(result.drifted_columns) and count["share"] == pytest.approx(result.drift_share)


def test_categorical_columns_use_their_own_method_and_threshold(settings, monkeypatch):
    reference, current = _frame(20_000, 1), _frame(20_000, 2, mobile_plan_shift=True)
    _, result = drift_report(reference, current, COLUMNS, settings)
    assert result.drifted_columns == ["plan"] and not result.dataset_drift
    monkeypatch.setenv("DRIFTLOOP_DRIFT_CAT_THRESHOLD", "0.9")
    get_settings.cache_clear()
    _, relaxed = drift_report(reference, current, COLUMNS, get_settings())
    assert relaxed.drifted_columns == [] and relaxed.columns["plan"] == result.columns["plan"]


def test_sampling_is_seeded_and_keeps_small_frames_whole():
    frame = _frame(1000, 3)
    assert sample(frame, 5000, seed=1).equals(frame)
    assert sample(frame, 100, seed=1).equals(sample(frame, 100, seed=1))
    assert not sample(frame, 100, seed=1).equals(sample(frame, 100, seed=2))
    assert len(sample(frame, 100, seed=1)) == 100


def test_feature_columns_leave_out_keys_labels_and_predictions():
    reference = _frame(10, 1).assign(churned=0, event_timestamp=pd.Timestamp("2026-01-01", tz="UTC"))
    assert feature_columns(reference, _frame(10, 2)) == COLUMNS


def test_reports_are_saved_as_html_and_json(settings, tmp_path):
    snapshot, _ = drift_report(_frame(500, 1), _frame(500, 2), COLUMNS, settings)
    location = save_report(snapshot, str(tmp_path / "reports"), "dt=2026-05-01/churn_v1")
    assert location == str(tmp_path / "reports" / "dt=2026-05-01" / "churn_v1.html")
    assert "<html" in (tmp_path / "reports" / "dt=2026-05-01" / "churn_v1.html").read_text().lower()
    assert "ValueDrift" in (tmp_path / "reports" / "dt=2026-05-01" / "churn_v1.json").read_text()


@pytest.mark.parametrize(
    "current",
    [
        _frame(8_000, 2),
        _frame(8_000, 2, charge_factor=1.25, usage=0.6),
        _frame(8_000, 2, mobile_plan_shift=True),
        _frame(300, 4, usage=0.8),
    ],
    ids=["clean", "price_rise", "plan_shift", "few_rows"],
)
def test_scores_without_a_report_are_evidentlys_and_give_the_same_verdict(settings, current):
    reference = _frame(10_000, 1)
    _, report = drift_report(reference, current, COLUMNS, settings)
    scores = drift_scores(reference, current, COLUMNS, settings)
    assert scores.columns == pytest.approx(report.columns, abs=1e-9)
    assert scores.prediction_drift == pytest.approx(report.prediction_drift, abs=1e-9)
    assert (scores.drifted_columns, scores.severe_columns, scores.drifted, scores.reasons) == (
        report.drifted_columns,
        report.severe_columns,
        report.drifted,
        report.reasons,
    )


def test_another_method_is_scored_by_evidently(settings, monkeypatch):
    monkeypatch.setenv("DRIFTLOOP_DRIFT_NUM_METHOD", "ks")
    get_settings.cache_clear()
    ks = get_settings()
    reference, current = _frame(3_000, 1), _frame(3_000, 2, usage=0.6)
    _, report = drift_report(reference, current, COLUMNS, ks)
    assert drift_scores(reference, current, COLUMNS, ks).columns == report.columns


def test_the_summary_report_lists_each_distance_against_its_threshold(settings, tmp_path):
    result = drift_scores(_frame(2_000, 1), _frame(2_000, 2, charge_factor=1.25), COLUMNS, settings)
    (tmp_path / "scratch").mkdir()
    header = report_header("Drift summary", {"Day": "2026-05-01", "Verdict": "drift"})
    rendered = render_summary(result, tmp_path / "scratch", "churn v1 <day>", header)
    location = store_report(rendered, str(tmp_path / "reports"), "dt=2026-05-01/churn_v1")
    page = (tmp_path / "reports" / "dt=2026-05-01" / "churn_v1.html").read_text()
    assert location.endswith("churn_v1.html") and page.lower().count("<html") == 1 and "churn v1 &lt;day&gt;" in page
    assert page.index("driftloop-header") < page.index("<table><tr><th>column") and "<td>2026-05-01</td>" in page
    assert "<td>monthly_charge</td>" in page and "drift-report --day" in page
    stored = json.loads((tmp_path / "reports" / "dt=2026-05-01" / "churn_v1.json").read_text())
    assert stored["drifted_columns"] == result.drifted_columns and stored["columns"] == result.columns


def test_quality_presets_score_matured_predictions_like_sklearn():
    from sklearn.metrics import mean_squared_error, roc_auc_score

    rng = np.random.default_rng(4)
    churned = rng.integers(0, 2, 2000)
    prediction = np.clip(churned * 0.3 + rng.random(2000) * 0.7, 0, 1)
    labelled = pd.DataFrame({"churned": churned, "prediction": prediction})
    _, values = quality_report(labelled, "classification")
    assert values["RocAuc"] == pytest.approx(roc_auc_score(churned, prediction))
    hours = rng.gamma(2.0, 5.0, 2000)
    regression = pd.DataFrame({"future_watch_hours": hours, "prediction": hours + rng.normal(0, 2, 2000)})
    _, values = quality_report(regression, "regression")
    assert values["RMSE"] == pytest.approx(mean_squared_error(hours, regression["prediction"]) ** 0.5)


def test_a_quality_drop_is_beyond_the_tolerance_in_the_metric_s_bad_direction():
    assert quality_dropped("roc_auc", 0.69, 0.80, 0.1) and not quality_dropped("roc_auc", 0.71, 0.80, 0.1)
    assert not quality_dropped("roc_auc", 0.95, 0.80, 0.1)
    assert quality_dropped("rmse", 11.1, 10.0, 0.1) and not quality_dropped("rmse", 10.9, 10.0, 0.1)
