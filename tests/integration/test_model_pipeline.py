"""train -> registry -> score through Airflow (``dag.test()``) on tiny data, predictions in a real PostgreSQL.

Accepted batches and features are prepared with the package (the data half is tested through Airflow in
test_data_pipeline.py); the model DAGs then run in Airflow, and the checks read the MLflow registry, the Parquet
partitions and the PostgreSQL table the test created on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from urllib.parse import quote

import pandas as pd
import psycopg2
import pytest
from smtp_inbox import body as mail_body
from smtp_inbox import start_inbox

from dagruns import run_dag
from driftloop.storage import lake

pytestmark = pytest.mark.integration

START = date(2026, 5, 1)
N_DAYS = 26
HORIZON = 7
# Features use a 7-day window here; from the 7th day on, every row has a complete window.
WINDOW_START = START + timedelta(days=6)
LINEAGE_TAGS = {
    "dag_id",
    "run_id",
    "try_number",
    "git_commit",
    "feature_service",
    "training_window",
    "snapshot_sha256",
    "device",
}


@pytest.fixture(scope="module")
def prepared(airflow_db, tmp_path_factory, postgres_url):
    """Accepted batches and features for N_DAYS, labels maturing after HORIZON days."""
    from churn_usecase import SimulationConfig, simulate_to_landing
    from driftloop.features.feature_store import apply_feature_repo
    from driftloop.features.partitions import build_features_for_day
    from driftloop.ingest.landing import copy_batch_to_raw
    from driftloop.ingest.validation import validate_batch
    from driftloop.settings import get_settings

    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("model") / "data"
    monkeypatch.setenv("DRIFTLOOP_DATA_ROOT", str(root))
    monkeypatch.setenv("DRIFTLOOP_LABEL_HORIZON_DAYS", str(HORIZON))
    monkeypatch.setenv("DRIFTLOOP_TRAINING_WINDOW_DAYS", str(N_DAYS - HORIZON))
    monkeypatch.setenv("DRIFTLOOP_FEATURE_WINDOW_DAYS", "7")
    monkeypatch.setenv("DRIFTLOOP_PREDICTIONS_DB_URL", postgres_url)
    # Alerts on, to a mail server on localhost: the gate's callback runs in the real task run.
    smtp, inbox, connection = start_inbox()
    monkeypatch.setenv("AIRFLOW_CONN_DRIFTLOOP_TEST_SMTP", connection)
    monkeypatch.setenv("DRIFTLOOP_ALERTS_ENABLED", "true")
    monkeypatch.setenv("DRIFTLOOP_ALERTS_SMTP_CONN_ID", "driftloop_test_smtp")
    monkeypatch.setenv("DRIFTLOOP_ALERTS_TO", "ml@example.com")
    get_settings.cache_clear()
    settings = get_settings()
    config = SimulationConfig(n_customers=10000, seed=9, epoch=START - timedelta(days=40), label_horizon_days=HORIZON)
    days = []
    for batch in simulate_to_landing(config, START, N_DAYS, root / "landing"):
        day = date.fromisoformat(batch.name.removeprefix("dt="))
        copy_batch_to_raw(day, batch, settings)
        validate_batch(day, settings)
        build_features_for_day(day, settings)
        days.append(day)
    apply_feature_repo(settings)
    yield {"settings": settings, "days": days, "monkeypatch": monkeypatch, "inbox": inbox}
    smtp.stop()
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def first_training(prepared):
    # On data this small the test split holds a few dozen churners, too few for the baseline comparison to be a
    # stable fact, so the first champion is forced; the gate's merit rules are table-tested in test_promotion.py
    # and end to end in test_model_registry.py, and the worse challenger below goes through the real gate.
    conf = {"window_start": WINDOW_START.isoformat(), "force_promote": True, "reason": "first"}
    return run_dag("train", prepared["days"][-1], conf)


def test_the_first_model_becomes_champion_with_its_lineage_tags(prepared, first_training):
    from driftloop.model.model_registry import client

    settings = prepared["settings"]
    assert first_training.state == "success", first_training.tasks
    assert first_training.tasks["publish_champion"] == "success"
    registry = client(settings.mlflow_tracking_uri)
    champion = registry.get_model_version_by_alias(settings.model.name, "champion")
    assert str(champion.version) == "1" and set(champion.aliases) == {"champion", "challenger"}
    assert LINEAGE_TAGS <= set(registry.get_run(champion.run_id).data.tags)
    assert champion.tags["feature_service"] == "customer_churn_v1"
    assert champion.tags["training_window"].startswith(WINDOW_START.isoformat())
    assert champion.tags["promotion_decision"] == "promoted"
    run_id = quote(champion.tags["run_id"], safe="")
    assert champion.tags["airflow_run_url"] == f"{settings.links.airflow_ui_url}/dags/train/runs/{run_id}"
    assert f"]({champion.tags['airflow_run_url']})" in champion.description
    assert "## Gate decision" in champion.description
    # The gate's on_success_callback mailed the promotion through the SMTP provider's notifier.
    (mail,) = [m for m in prepared["inbox"].messages if m["Subject"] == "[driftloop churn] version 1 promoted"]
    assert "model version 1 is now champion (was none)" in mail_body(mail)


def test_scoring_writes_one_row_per_active_customer_to_parquet_and_postgres(prepared, first_training):
    settings = prepared["settings"]
    day = prepared["days"][-1]
    result = run_dag("score", day, {"days": [day.isoformat()]})
    assert result.state == "success", result.tasks
    active = pd.read_parquet(lake.partition_dir(settings.validated_dir / "customer_profiles", day) / "part.parquet")
    parquet = pd.read_parquet(settings.predictions_dir / f"{lake.partition_name(day)}.parquet")
    assert sorted(parquet["customer_id"]) == sorted(active["customer_id"])
    assert set(parquet["model_version"]) == {"1"} and parquet["prediction"].between(0, 1).all()

    assert run_dag("score", day, {"days": [day.isoformat()]}).state == "success"
    with psycopg2.connect(settings.model.predictions_db_url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT customer_id), min(model_version) FROM predictions WHERE score_date = %s",
            (day,),
        )
        assert cursor.fetchone() == (len(active), len(active), "1")
    connection.close()


def test_monitoring_a_clean_scored_day_records_no_drift_with_its_report(prepared, first_training):
    from driftloop.model.model_registry import client
    from driftloop.monitoring import drift_records

    settings = prepared["settings"]
    day = prepared["days"][-1]
    if not (settings.predictions_dir / f"{lake.partition_name(day)}.parquet").exists():
        assert run_dag("score", day, {"days": [day.isoformat()]}).state == "success"
    result = run_dag("monitor", day, {"days": [day.isoformat()]})
    assert result.state == "success", result.tasks
    assert run_dag("monitor", day, {"days": [day.isoformat()]}).state == "success"
    (record,) = drift_records.records(settings.monitoring.drift_db_url, settings.model.name)
    assert (record.interval_start, record.model_version, record.verdict) == (day, "1", "no_drift")
    assert record.drifted_columns == [] and record.metrics["current_rows"] > 0
    assert record.metrics["thresholds"]["num_method"] == "wasserstein"
    report = settings.monitoring.reports_uri + f"/drift/{lake.partition_name(day)}/churn_v1.html"
    assert record.report_uri == report and "<html" in open(report).read(4096).lower()
    registry = client(settings.mlflow_tracking_uri)
    experiment = registry.get_experiment_by_name("churn-monitoring")
    runs = registry.search_runs([experiment.experiment_id])
    # Monitored twice: the rerun logged into the day's run instead of adding a second one.
    assert {r.data.tags["verdict"] for r in runs} == {"no_drift"} and len(runs) == 1
    assert all(r.data.metrics["drift_share"] == record.drift_share for r in runs)
    version = registry.get_model_version("churn", "1")
    assert version.tags["last_monitored"].startswith(f"{day}: no_drift")
    # The report opens with its header, is an artifact of the day's monitoring run, and the version links to it.
    html = open(report).read()
    assert f"<th style='text-align:left;padding:2px 12px 2px 0'>Day</th><td>{day}</td>" in html
    assert "<td>churn version 1</td>" in html and "<td>no_drift</td>" in html
    (run,) = runs
    assert [a.path for a in registry.list_artifacts(run.info.run_id, "drift")] == ["drift/report.html"]
    assert version.tags["last_drift_report"].endswith(f"/runs/{run.info.run_id}/artifacts")
    assert "drift_reports" in version.tags and "/projects/" in version.tags["monitoring_dashboard"]
    from driftloop.monitoring import dashboard

    workspace = dashboard.workspace(settings.links.dashboard_workspace)
    project = dashboard.project(workspace, "churn")
    assert len(workspace.list_runs(project.id)) == 1, "monitored twice, one snapshot of the day"


def test_the_training_run_and_the_drift_record_carry_the_test_score_checks(prepared, first_training):
    from driftloop.model.model_registry import client
    from driftloop.monitoring import drift_records

    settings = prepared["settings"]
    registry = client(settings.mlflow_tracking_uri)
    champion = registry.get_model_version_by_alias(settings.model.name, "champion")
    tags = registry.get_run(champion.run_id).data.tags
    assert set(json.loads(tags["compute"])) == {"training_set", "split", "train", "evaluate"}
    assert tags["compute_regressions"] == "-", "the first run has no history to regress from"
    assert json.loads(tags["library_versions"])["xgboost"] == "3.2.0"
    assert list(json.loads(tags["feature_costs"])) == ["customer_daily_features"]
    assert list(json.loads(tags["parity_gaps"])) == ["region"] and tags["non_helping_features"]
    assert "## Features" in champion.description and "## Inclusion" in champion.description
    day = prepared["days"][-1]
    if not drift_records.records(settings.monitoring.drift_db_url, settings.model.name):
        assert run_dag("score", day, {"days": [day.isoformat()]}).state == "success"
        assert run_dag("monitor", day, {"days": [day.isoformat()]}).state == "success"
    (record,) = drift_records.records(settings.monitoring.drift_db_url, settings.model.name)
    trained_until = champion.tags["training_window"].split("..")[1]
    assert record.metrics["staleness"]["trained_until"] == trained_until
    assert record.metrics["staleness"]["age_days"] == (day - date.fromisoformat(trained_until)).days
    assert record.metrics["notices"] == [], "same libraries, same upstream schema every day"
    assert set(record.metrics["production"]) == {"offline_online", "quality_by_age"}
    assert record.metrics["canary"] is None, "DRIFTLOOP_SHADOW_DAYS is 0"


def test_a_worse_challenger_is_registered_but_not_promoted_with_the_reason(prepared, first_training, caplog):
    from driftloop.model.model_registry import client

    settings = prepared["settings"]
    weak = {"num_boost_round": 1, "max_depth": 1, "eta": 0.01}
    with caplog.at_level(logging.INFO, logger="driftloop"):
        result = run_dag(
            "train",
            prepared["days"][-1],
            {"window_start": WINDOW_START.isoformat(), "hyperparameters": weak, "reason": "weak on purpose"},
        )
    assert result.state == "success", result.tasks
    # The gate's verdict and every reason are log records of the task (the body of its log), not late prints.
    logged = [r.getMessage() for r in caplog.records if r.name == "driftloop.model.training_run"]
    verdict = logged.index("version 2 NOT promoted:")
    reasons = [line.removeprefix("  - ") for line in logged[verdict + 1 :] if line.startswith("  - ")]
    assert reasons and any("champion" in reason for reason in reasons), logged
    assert result.tasks["publish_champion"] == "skipped"
    registry = client(settings.mlflow_tracking_uri)
    challenger = registry.get_model_version_by_alias(settings.model.name, "challenger")
    assert str(challenger.version) == "2"
    assert challenger.tags["promotion_decision"] == "rejected"
    assert "champion" in challenger.tags["promotion_reasons"]
    assert str(registry.get_model_version_by_alias(settings.model.name, "champion").version) == "1"
    assert all(reason in challenger.tags["promotion_reasons"] for reason in reasons)


def test_a_window_that_ends_before_it_starts_fails_the_first_task_without_retries(prepared, first_training):
    end = WINDOW_START + timedelta(days=3)
    result = run_dag(
        "train", prepared["days"][-1], {"window_start": (end + timedelta(days=5)).isoformat(), "window_end": str(end)}
    )
    assert result.state == "failed"
    assert result.tasks["training_set"] == "failed", result.tasks
    assert result.tasks["register"] != "success"


def test_the_regression_task_type_trains_registers_and_scores_through_the_same_dags(prepared, first_training):
    monkeypatch = prepared["monkeypatch"]
    monkeypatch.setenv("DRIFTLOOP_TASK_TYPE", "regression")
    monkeypatch.setenv("DRIFTLOOP_MODEL_NAME", "watch_hours")
    try:
        day = prepared["days"][-1]
        trained = run_dag("train", day, {"window_start": WINDOW_START.isoformat(), "force_promote": True})
        assert trained.state == "success", trained.tasks
        scored = run_dag("score", day, {"days": [day.isoformat()]})
        assert scored.state == "success", scored.tasks
        from driftloop.settings import get_settings

        settings = get_settings()
        predictions = pd.read_parquet(settings.predictions_dir / f"{lake.partition_name(day)}.parquet")
        assert set(predictions["model_name"]) == {"watch_hours"} and predictions["prediction"].notna().all()
    finally:
        monkeypatch.setenv("DRIFTLOOP_TASK_TYPE", "classification")
        monkeypatch.setenv("DRIFTLOOP_MODEL_NAME", "churn")
