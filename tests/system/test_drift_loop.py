"""The drift loop through the real Airflow scheduler, triggerer, dag-processor and API server.

Airflow runs as separate processes (``scripts/airflow-up.sh``: LocalExecutor, metadata database on the machine's
PostgreSQL in a database this test creates), and everything is driven through the REST API, as a user would. The
accepted batches and features of the simulated days are prepared with the package first (the data half is tested
through Airflow in tests/integration); from then on `train`, `features`, `score`, `monitor`, `retrain_on_drift` and
the retraining `train` run are scheduled by Airflow, chained by their assets, with the DriftSensor deferred to the
triggerer. The checks read what the runs produced: drift records, the retraining ledger, the registry.

Scenario (10,000 customers, covariate drift from day 22):
1. an initial model (forced: on data this small the gate's merit rules are not a stable fact; they are tested in
   tests/unit and tests/integration) becomes champion;
2. clean days 19 and 20 are scored and monitored: no drift verdict, no retraining;
3. drift days 23 and 24 (one `features` run) are scored and monitored: two drift records, the sensor fires, exactly
   one `train` run with both records in its conf, and a new registered version;
4. drift day 25 inside the cooldown: a third drift record, still one retraining run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from postgres_databases import postgres_database

pytestmark = pytest.mark.system

REPO_ROOT = Path(__file__).resolve().parents[2]
START = date(2026, 5, 1)
N_DAYS = 26
DRIFT_FROM = 22
CUSTOMERS = 10_000
HORIZON = 7
CLEAN_DAYS = [START + timedelta(days=i) for i in (19, 20)]
DRIFT_DAYS = [START + timedelta(days=i) for i in (23, 24)]
LATE_DRIFT_DAY = START + timedelta(days=25)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(what: str, check, timeout_s: float = 300.0, every_s: float = 3.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")


@pytest.fixture(scope="module")
def database():
    """A fresh PostgreSQL database for Airflow's metadata and the drift records, dropped afterwards."""
    with postgres_database("driftloop_system") as name:
        yield name


@pytest.fixture(scope="module")
def loop(tmp_path_factory, database):
    """Prepared data, then Airflow running against it; yields the API client and settings, stops Airflow after."""
    from driftloop.airflow_api import AirflowClient
    from driftloop.feature_store import apply_feature_repo
    from driftloop.features import build_features_for_day
    from driftloop.ingest import copy_batch_to_raw
    from driftloop.settings import get_settings
    from driftloop.simulate import SimulationConfig, simulate_to_landing
    from driftloop.validation import validate_batch

    base = tmp_path_factory.mktemp("system")
    port = _free_port()
    pg = f"postgres@127.0.0.1:5432/{database}"
    env = {
        "DRIFTLOOP_DATA_ROOT": str(base / "data"),
        "DRIFTLOOP_LABEL_HORIZON_DAYS": str(HORIZON),
        "DRIFTLOOP_FEATURE_WINDOW_DAYS": "7",
        "DRIFTLOOP_DRIFT_DB_URL": f"postgresql://{pg}",
        "DRIFTLOOP_RETRAIN_COOLDOWN_S": "3600",
        "DRIFTLOOP_DRIFT_POKE_INTERVAL_S": "3",
        "DRIFTLOOP_DRIFT_SENSOR_TIMEOUT_S": "40",
        # Unpausing a scheduled train would start a run of its own next to the initial one.
        "DRIFTLOOP_TRAIN_SCHEDULE": "none",
    }
    monkeypatch = pytest.MonkeyPatch()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    settings = get_settings()
    config = SimulationConfig(
        n_customers=CUSTOMERS,
        seed=9,
        epoch=START - timedelta(days=40),
        label_horizon_days=HORIZON,
        scenario="covariate_drift",
        scenario_start=START + timedelta(days=DRIFT_FROM),
    )
    for batch in simulate_to_landing(config, START, N_DAYS, settings.landing_uri and Path(settings.landing_uri)):
        day = date.fromisoformat(batch.name.removeprefix("dt="))
        copy_batch_to_raw(day, batch, settings)
        validate_batch(day, settings)
        build_features_for_day(day, settings)
    apply_feature_repo(settings)

    airflow_home = base / "airflow_home"
    airflow_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AIRFLOW") and not key.startswith("PYTEST")
    } | env
    airflow_env |= {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{pg}",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
    }
    up = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "airflow-up.sh")], env=airflow_env, capture_output=True, text=True
    )
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        client = AirflowClient(f"http://localhost:{port}", "admin", "admin")
        client.wait_for_dags(["train", "features", "score", "monitor", "retrain_on_drift"])
        yield {"client": client, "settings": settings, "airflow_home": airflow_home}
    finally:
        subprocess.run(["bash", str(REPO_ROOT / "scripts" / "airflow-down.sh")], env=airflow_env, check=False)
        from driftloop import drift_records

        drift_records.engine(settings.monitoring.drift_db_url).dispose()
        monkeypatch.undo()
        get_settings.cache_clear()


def _records(settings) -> dict:
    from driftloop import drift_records

    return {r.interval_start: r for r in drift_records.records(settings.monitoring.drift_db_url, "churn")}


def _train_runs(client) -> list[dict]:
    return sorted(client.runs("train"), key=lambda run: run["run_after"])


def _run_features(client, days: list[date]) -> None:
    run_id = client.trigger("features", conf={"days": [d.isoformat() for d in days]})
    assert client.wait_for_runs("features", [run_id], timeout_s=300)[run_id] == "success"


def test_drift_turns_into_exactly_one_retraining_through_the_scheduler(loop):
    from driftloop import drift_records
    from driftloop.model_registry import client as registry_client

    client, settings = loop["client"], loop["settings"]
    registry = registry_client(settings.mlflow_tracking_uri)
    for dag_id in ("train", "features", "score", "monitor", "retrain_on_drift"):
        client.set_paused(dag_id, False)

    # 1. The initial champion.
    initial = client.trigger("train", conf={"force_promote": True, "reason": "initial model"})
    assert client.wait_for_runs("train", [initial], timeout_s=600)[initial] == "success"
    assert str(registry.get_model_version_by_alias("churn", "champion").version) == "1"

    # 2. Clean days: scored, monitored, no drift verdict, no retraining.
    _run_features(client, CLEAN_DAYS)
    records = _wait_for(
        "clean days monitored", lambda: set(CLEAN_DAYS) <= set(_records(settings)) and _records(settings)
    )
    for day in CLEAN_DAYS:
        assert records[day].verdict == "no_drift", records[day]
        assert records[day].drift_share < settings.monitoring.drift_share
        assert Path(records[day].report_uri).exists() and records[day].report_uri.endswith(".html")
    scored = settings.predictions_dir / f"dt={CLEAN_DAYS[0].isoformat()}.parquet"
    assert scored.exists()

    # 3. Drift days in one features run: two records, one retraining that names both.
    _run_features(client, DRIFT_DAYS)
    records = _wait_for(
        "drift days monitored", lambda: set(DRIFT_DAYS) <= set(_records(settings)) and _records(settings)
    )
    drift_ids = sorted(records[day].id for day in DRIFT_DAYS)
    assert all(records[day].verdict == "drift" for day in DRIFT_DAYS), [records[d] for d in DRIFT_DAYS]
    assert "monthly_charge" in records[DRIFT_DAYS[-1]].drifted_columns
    retrain = _wait_for(
        "the drift-triggered train run",
        lambda: [run for run in _train_runs(client) if run["dag_run_id"].startswith("drift__")],
    )
    assert len(retrain) == 1
    finished = client.wait_for_runs("train", [retrain[0]["dag_run_id"]], timeout_s=600)
    assert finished[retrain[0]["dag_run_id"]] == "success"
    conf = retrain[0]["conf"]
    assert sorted(conf["drift_records"]) == drift_ids and conf["reason"].startswith("drift: ")
    version = registry.get_model_version("churn", "2")
    assert version.tags["drift_records"] == ",".join(str(i) for i in drift_ids)
    champion = str(registry.get_model_version_by_alias("churn", "champion").version)
    assert champion == ("2" if version.tags["promotion_decision"] == "promoted" else "1")
    ledger = _wait_for(
        "the retraining to be recorded",
        lambda: [r for r in drift_records.retrainings(settings.monitoring.drift_db_url, "churn") if r["state"]],
    )
    assert [(r["record_ids"], r["state"]) for r in ledger] == [(drift_ids, "success")]

    # 4. Another drift day inside the cooldown: recorded, not consumed, no second retraining.
    _run_features(client, [LATE_DRIFT_DAY])
    late = _wait_for("the late drift day monitored", lambda: _records(settings).get(LATE_DRIFT_DAY))
    assert late.verdict == "drift"
    client.wait_until_idle("retrain_on_drift", timeout_s=300, settle_s=10)
    assert _records(settings)[LATE_DRIFT_DAY].consumed_by is None
    assert [run["dag_run_id"] for run in _train_runs(client) if run["dag_run_id"].startswith("drift__")] == [
        retrain[0]["dag_run_id"]
    ]
    assert len(_train_runs(client)) == 2
    assert {record.consumed_by for day, record in _records(settings).items() if day in DRIFT_DAYS} == {
        ledger[0]["run_id"]
    }
