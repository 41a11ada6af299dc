"""The drift loop through the real Airflow scheduler, triggerer, dag-processor and API server, in both topologies.

Airflow runs as separate processes (``scripts/airflow-up.sh``) and everything is driven through the REST API, as a
user would, twice with the same scenario and the same assertions:
- ``embedded``: `make up`'s topology (LocalExecutor, local files, Feast file registry and SQLite online store, MLflow
  on SQLite), with Airflow's metadata, drift records and predictions in a PostgreSQL database the test creates;
- ``production``: docker-compose.yaml's topology as processes, its environment read from the compose file
  (tests/native_stack.py): CeleryExecutor and a Celery worker serving `default` and `gpu` (training routed to
  `gpu`), PostgreSQL databases and roles made by the compose init script, an MLflow server on PostgreSQL with S3
  artifacts, moto's S3 server for MinIO (MLflow artifacts, drift reports), Feast's SQL registry and Redis online
  store. It also checks that the champion was trained by the Celery worker, that artifacts and reports are in S3, and
  that no password, key or signing secret of the stack appears in `airflow tasks render` output, in any task's
  rendered fields or in any log file under AIRFLOW_HOME/logs.

The
accepted batches and features of the simulated days are prepared with the package first (the data half is tested
through Airflow in tests/integration); from then on `train`, `features`, `score`, `monitor`, `retrain_on_drift` and
the retraining `train` run are scheduled by Airflow, chained by their assets, with the DriftSensor deferred to the
triggerer. The checks read what the runs produced: drift records, the retraining ledger, the registry.

Scenario (20,000 customers, a price shock from day 14: the inputs move and who leaves changes; labels mature after
3 days, a drift record waits for 5 days of post-drift labels):
1. an initial model trained on the labels before the drift (forced: the gate's first-model rule on data this small
   is not a stable fact; it is tested in tests/unit and tests/integration) becomes champion;
2. clean days 11 and 12 are scored and monitored: no drift verdict, no retraining;
3. drift days 14 and 15 (one `features` run) are scored and monitored: two drift records; their post-drift labels
   have matured, so the sensor fires: exactly one `train` run with both records in its conf and a window from the
   drift's first day to the newest matured label day; the gate promotes it on merit, saying which labels it compared
   on, and it beats the old champion on the post-drift days it never saw (the demo's ``promotion_on_merit`` and
   ``quality_by_day``, on the values);
4. day 16, scored by the new champion inside the cooldown: recorded for version 2, still one retraining run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest

from native_stack import free_port, native_stack
from postgres_databases import postgres_database

pytestmark = pytest.mark.system

REPO_ROOT = Path(__file__).resolve().parents[2]
START = date(2026, 5, 1)
N_DAYS = 26
DRIFT_FROM = 14
CUSTOMERS = 20_000
HORIZON = 3
CLEAN_DAYS = [START + timedelta(days=i) for i in (11, 12)]
DRIFT_DAYS = [START + timedelta(days=i) for i in (14, 15)]
LATE_DRIFT_DAY = START + timedelta(days=16)
NEWEST_LABEL = START + timedelta(days=N_DAYS - 1 - HORIZON)


def _wait_for(what: str, check, timeout_s: float = 300.0, every_s: float = 3.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")


SCENARIO = {
    "DRIFTLOOP_LABEL_HORIZON_DAYS": str(HORIZON),
    "DRIFTLOOP_FEATURE_WINDOW_DAYS": "7",
    "DRIFTLOOP_RETRAIN_COOLDOWN_S": "3600",
    "DRIFTLOOP_RETRAIN_MIN_POST_DRIFT_DAYS": "5",
    "DRIFTLOOP_DRIFT_POKE_INTERVAL_S": "3",
    "DRIFTLOOP_DRIFT_SENSOR_TIMEOUT_S": "40",
    # Unpausing a scheduled train would start a run of its own next to the initial one.
    "DRIFTLOOP_TRAIN_SCHEDULE": "none",
}
"""Settings of the test scenario, the same in both topologies."""
AIRFLOW_TEST_CONFIG = {
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
}


@contextmanager
def embedded(base: Path):
    """`make up`'s topology: LocalExecutor, local files, Feast file registry and SQLite online store, MLflow on
    SQLite; Airflow's metadata, the drift records and predictions in a PostgreSQL database made for the test."""
    with postgres_database("driftloop_system") as database:
        pg = f"postgres@127.0.0.1:5432/{database}"
        port = free_port()
        package = {
            "DRIFTLOOP_DATA_ROOT": str(base / "data"),
            "DRIFTLOOP_DRIFT_DB_URL": f"postgresql://{pg}",
            "DRIFTLOOP_PREDICTIONS_DB_URL": f"postgresql://{pg}",
        }
        airflow = {
            "AIRFLOW_HOME": str(base / "airflow_home"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{pg}",
            "AIRFLOW__API__PORT": str(port),
        }
        yield {"package": package, "airflow": airflow, "url": f"http://localhost:{port}", "stack": None}


@contextmanager
def production(base: Path):
    """docker-compose.yaml's topology as processes (tests/native_stack.py): CeleryExecutor with a worker serving
    both queues (training routed to `gpu`), S3 (moto) for landing, MLflow artifacts and reports, an MLflow server on
    PostgreSQL, Feast's SQL registry and Redis online store."""
    with native_stack(base, base / "data", base / "airflow_home", dotenv={"DRIFTLOOP_TRAIN_QUEUE": "gpu"}) as stack:
        package = {k: v for k, v in stack.env.items() if k.startswith(("DRIFTLOOP_", "AWS_", "MLFLOW_"))}
        url = stack.env["AIRFLOW__API__BASE_URL"]
        yield {"package": package, "airflow": stack.env, "url": url, "stack": stack}


@pytest.fixture(scope="module")
def prepared_data(tmp_path_factory) -> Path:
    """The simulated days accepted and featurized once with the package (the data half is tested through Airflow in
    tests/integration, ingest from S3 landing in tests/integration/test_s3_landing.py); each topology starts from a
    copy of this data root."""
    from churn_usecase import SimulationConfig, simulate_to_landing
    from driftloop.features.partitions import build_features_for_day
    from driftloop.ingest.landing import copy_batch_to_raw
    from driftloop.ingest.validation import validate_batch
    from driftloop.settings import get_settings

    base = tmp_path_factory.mktemp("prepared")
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key, value in (SCENARIO | {"DRIFTLOOP_DATA_ROOT": str(base / "data")}).items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        settings = get_settings()
        config = SimulationConfig(
            n_customers=CUSTOMERS,
            seed=9,
            epoch=START - timedelta(days=40),
            label_horizon_days=HORIZON,
            scenario="price_shock",
            scenario_start=START + timedelta(days=DRIFT_FROM),
        )
        for batch in simulate_to_landing(config, START, N_DAYS, base / "landing"):
            day = date.fromisoformat(batch.name.removeprefix("dt="))
            copy_batch_to_raw(day, batch, settings)
            validate_batch(day, settings)
            build_features_for_day(day, settings)
    get_settings.cache_clear()
    return base / "data"


@pytest.fixture(scope="module", params=["embedded", "production"])
def loop(request, tmp_path_factory, prepared_data):
    """Airflow running on a copy of the prepared data in the topology of the parameter; yields the API client and
    settings, stops everything after."""
    from driftloop.features.feature_store import apply_feature_repo
    from driftloop.ingest.landing import copy_batch_to_raw
    from driftloop.ops.airflow_api import AirflowClient
    from driftloop.settings import get_settings

    base = tmp_path_factory.mktemp(request.param)
    topology = embedded if request.param == "embedded" else production
    with topology(base) as parts:
        monkeypatch = pytest.MonkeyPatch()
        for key, value in (parts["package"] | SCENARIO).items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        settings = get_settings()
        shutil.copytree(prepared_data, settings.data_root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("raw"))
        # The delivered batches into this topology's raw zone (a folder, or the raw bucket in production).
        for batch in sorted((prepared_data.parent / "landing").glob("dt=*")):
            copy_batch_to_raw(date.fromisoformat(batch.name.removeprefix("dt=")), batch, settings)
        apply_feature_repo(settings)

        airflow_env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AIRFLOW") and not key.startswith("PYTEST")
        }
        airflow_env |= parts["package"] | SCENARIO | AIRFLOW_TEST_CONFIG | parts["airflow"]
        up = subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / "airflow-up.sh")], env=airflow_env, capture_output=True, text=True
        )
        try:
            assert up.returncode == 0, up.stdout + up.stderr
            client = AirflowClient(
                parts["url"],
                airflow_env.get("DRIFTLOOP_AIRFLOW_USER") or "admin",
                airflow_env.get("DRIFTLOOP_AIRFLOW_PASSWORD") or "admin",
            )
            client.wait_for_dags(["train", "features", "score", "monitor", "retrain_on_drift"])
            yield {
                "client": client,
                "settings": settings,
                "airflow_home": Path(airflow_env["AIRFLOW_HOME"]),
                "airflow_env": airflow_env,
                "stack": parts["stack"],
                "topology": request.param,
            }
        finally:
            subprocess.run(["bash", str(REPO_ROOT / "scripts" / "airflow-down.sh")], env=airflow_env, check=False)
            from driftloop.monitoring import drift_records

            drift_records.engine(settings.monitoring.drift_db_url).dispose()
            monkeypatch.undo()
            get_settings.cache_clear()


def _report_exists(loop, uri: str) -> bool:
    """The report is a file (embedded) or an object in the reports bucket (production)."""
    if loop["stack"] is None:
        return Path(uri).exists()
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    assert bucket == loop["stack"].buckets["DRIFTLOOP_REPORTS_BUCKET"], uri
    return key in loop["stack"].keys(bucket, key)


def _prediction_rows(settings, day: date) -> int:
    """Rows of ``day`` in the PostgreSQL predictions table, checked against the day's Parquet partition."""
    import pandas as pd
    import psycopg2

    parquet = pd.read_parquet(settings.predictions_dir / f"dt={day.isoformat()}.parquet")
    with psycopg2.connect(settings.model.predictions_db_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT customer_id) FROM predictions WHERE score_date = %s", (day,))
        rows, customers = cursor.fetchone()
    connection.close()
    assert rows == customers == len(parquet), (rows, customers, len(parquet))
    return rows


def _active_customers(settings, day: date) -> int:
    import pandas as pd

    from driftloop.storage import lake

    path = lake.partition_dir(settings.validated_dir / "customer_profiles", day) / "part.parquet"
    return len(pd.read_parquet(path, columns=["customer_id"]))


def _check_production_outputs(loop, registry, champion) -> None:
    """Production only: the champion was trained by the Celery worker on the `gpu` queue, and the raw batches, its
    MLflow artifacts and the drift reports are objects in the stack's S3 buckets."""
    stack, client = loop["stack"], loop["client"]
    run_id = champion.tags["run_id"]
    [train_model] = [ti for ti in client.task_instances("train", run_id) if ti["task_id"] == "train_model"]
    assert train_model["queue"] == "gpu" and train_model["state"] == "success", train_model
    worker_log = (loop["airflow_home"] / "run" / "celery-worker.log").read_text()
    assert "train_model" in worker_log and run_id in worker_log, worker_log[-2000:]
    artifacts = stack.keys(stack.buckets["MLFLOW_ARTIFACTS_BUCKET"])
    assert any(key.endswith("/MLmodel") for key in artifacts), artifacts[:20]
    assert any(champion.run_id in key for key in artifacts), (champion.run_id, artifacts[:20])
    source = registry.get_model_version_download_uri(champion.name, champion.version)
    assert source.startswith(("mlflow-artifacts:", "s3://")), source
    raw = stack.keys(stack.buckets["DRIFTLOOP_RAW_BUCKET"])
    # One delivery per day in the raw bucket: its three tables and the _SUCCESS marker written last.
    deliveries = {key.rsplit("/", 1)[0] for key in raw}
    assert len(deliveries) == N_DAYS and len(raw) == 4 * N_DAYS, raw[:5]
    first = sorted(d for d in deliveries if d.startswith(f"dt={START.isoformat()}/delivery="))
    assert first and f"{first[0]}/activity_events.csv" in raw, raw[:5]
    reports = stack.keys(stack.buckets["DRIFTLOOP_REPORTS_BUCKET"], "drift/")
    assert {key.rsplit(".", 1)[1] for key in reports} == {"html", "json"}
    assert len(reports) == 2 * len(_records(loop["settings"])), reports


def _check_no_secret_is_shown(loop, manual_train_run_id: str) -> None:
    """Production only: none of the stack's secrets (passwords, Fernet key, signing secrets) is in what
    `airflow tasks render` prints for the drift sensor and the tasks of a `train` run, in the rendered fields of any
    task instance, or in any log file under AIRFLOW_HOME/logs."""
    secrets, client = loop["stack"].secrets, loop["client"]

    def leaked(text: str) -> list[str]:
        return sorted(name for name, value in secrets.items() if value in text)

    # `airflow tasks render` fails on asset-triggered runs in Airflow 3.3 (DetachedInstanceError on their consumed
    # asset events): the sensor is rendered for a logical date (an in-memory run), `train` for its manual run. Nor
    # can it resolve XCom arguments outside a task (no SUPERVISOR_COMMS): the API's rendered fields below cover those.
    renders = [("retrain_on_drift", "wait_for_drift", START.isoformat())] + [
        ("train", instance["task_id"], manual_train_run_id)
        for instance in client.task_instances("train", manual_train_run_id)
    ]
    rendered_tasks = []
    for dag_id, task, run in renders:
        # With the dags and plugins folders the running components got from scripts/airflow-env.sh.
        rendered = subprocess.run(
            ["bash", "-c", '. scripts/airflow-env.sh && exec airflow tasks render "$@"', "render", dag_id, task, run],
            env=loop["airflow_env"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        )
        assert leaked(rendered.stdout + rendered.stderr) == [], (dag_id, task)
        if rendered.returncode != 0 and "SUPERVISOR_COMMS" in rendered.stderr:
            continue
        assert rendered.returncode == 0, rendered.stderr[-2000:]
        rendered_tasks.append((dag_id, task))
    assert ("retrain_on_drift", "wait_for_drift") in rendered_tasks and len(rendered_tasks) > 1, rendered_tasks
    for dag_id in ("train", "features", "score", "monitor", "retrain_on_drift"):
        for run in client.runs(dag_id):
            for instance in client.task_instances(dag_id, run["dag_run_id"]):
                where = (dag_id, run["dag_run_id"], instance["task_id"])
                assert leaked(repr(instance.get("rendered_fields"))) == [], where
    logs = [path for path in (loop["airflow_home"] / "logs").rglob("*") if path.is_file()]
    assert any("wait_for_drift" in str(path) for path in logs), logs[:10]
    for path in logs:
        assert leaked(path.read_text(errors="replace")) == [], path


def _records(settings) -> dict:
    from driftloop.monitoring import drift_records

    return {r.interval_start: r for r in drift_records.records(settings.monitoring.drift_db_url, "churn")}


def _train_runs(client) -> list[dict]:
    return sorted(client.runs("train"), key=lambda run: run["run_after"])


def _run_features(client, days: list[date]) -> None:
    run_id = client.trigger("features", conf={"days": [d.isoformat() for d in days]})
    assert client.wait_for_runs("features", [run_id], timeout_s=300)[run_id] == "success"


def _check_promotion_on_merit(settings) -> None:
    """What `make demo` reports, on the values: the drift-triggered version 2 beats version 1 on the post-drift
    day it never saw (its test split), and ``quality_by_day`` says so day by day with the matured rows."""
    from driftloop.ops.demo import promotion_on_merit, quality_by_day, registry_summary, scored_labels

    versions = registry_summary(settings)
    labelled = scored_labels(settings, versions, CLEAN_DAYS[0])
    merit = promotion_on_merit(settings, versions, labelled, DRIFT_DAYS[0])
    assert merit["promoted_on_merit"] and (merit["version"], merit["previous_champion"]) == ("2", "1"), merit
    assert merit["days"] == [NEWEST_LABEL.isoformat()] and merit["rows"] > 100, merit
    assert merit["version_value"] > merit["previous_value"] + 0.05, merit
    rows = {(r["day"], r["version"]): r for r in quality_by_day(settings, versions, labelled)}
    newest = NEWEST_LABEL.isoformat()
    assert rows[(newest, "2")]["in_training"] == "test" and rows[(newest, "1")]["in_training"] == "after"
    assert rows[(newest, "2")]["value"] > rows[(newest, "1")]["value"]
    assert rows[(newest, "2")]["matured_rows"] == rows[(newest, "1")]["matured_rows"] == merit["rows"]
    assert rows[(CLEAN_DAYS[0].isoformat(), "2")]["in_training"] == "before"


def test_drift_turns_into_exactly_one_retraining_through_the_scheduler(loop):
    from driftloop.model.model_registry import client as registry_client
    from driftloop.monitoring import drift_records

    client, settings = loop["client"], loop["settings"]
    registry = registry_client(settings.mlflow_tracking_uri)
    for dag_id in ("train", "features", "score", "monitor", "retrain_on_drift"):
        client.set_paused(dag_id, False)

    # 1. The initial champion, trained on the labels before the drift.
    before = (START + timedelta(days=DRIFT_FROM - 1)).isoformat()
    initial = client.trigger("train", conf={"force_promote": True, "reason": "initial model", "window_end": before})
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
        assert records[day].report_uri.endswith(".html") and _report_exists(loop, records[day].report_uri)
    for day in CLEAN_DAYS:
        assert _prediction_rows(settings, day) == _active_customers(settings, day) > 0

    # 3. Drift days in one features run: two records, one retraining that names both, on the post-drift labels.
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
    assert (conf["window_start"], conf["window_end"]) == (DRIFT_DAYS[0].isoformat(), NEWEST_LABEL.isoformat())
    version = registry.get_model_version("churn", "2")
    assert version.tags["drift_records"] == ",".join(str(i) for i in drift_ids)
    assert version.tags["training_window"] == f"{DRIFT_DAYS[0]}..{NEWEST_LABEL}"
    assert version.tags["promotion_decision"] == "promoted", version.tags["promotion_reasons"]
    assert (
        f"compared on the newest matured labels: the test split, as-of days {NEWEST_LABEL}..{NEWEST_LABEL}"
        in (version.tags["promotion_reasons"])
    )
    assert str(registry.get_model_version_by_alias("churn", "champion").version) == "2"
    _check_promotion_on_merit(settings)
    ledger = _wait_for(
        "the retraining to be recorded",
        lambda: [r for r in drift_records.retrainings(settings.monitoring.drift_db_url, "churn") if r["state"]],
    )
    assert [(r["record_ids"], r["state"]) for r in ledger] == [(drift_ids, "success")]

    # 4. The next day, scored by the new champion inside the cooldown: recorded, not consumed, no second retraining.
    _run_features(client, [LATE_DRIFT_DAY])
    late = _wait_for("the late drift day monitored", lambda: _records(settings).get(LATE_DRIFT_DAY))
    assert late.model_version == "2"
    client.wait_until_idle("retrain_on_drift", timeout_s=300, settle_s=10)
    assert _records(settings)[LATE_DRIFT_DAY].consumed_by is None
    assert [run["dag_run_id"] for run in _train_runs(client) if run["dag_run_id"].startswith("drift__")] == [
        retrain[0]["dag_run_id"]
    ]
    assert len(_train_runs(client)) == 2
    assert {record.consumed_by for day, record in _records(settings).items() if day in DRIFT_DAYS} == {
        ledger[0]["run_id"]
    }
    assert _prediction_rows(settings, LATE_DRIFT_DAY) == _active_customers(settings, LATE_DRIFT_DAY)
    if loop["stack"] is not None:
        _check_production_outputs(loop, registry, registry.get_model_version_by_alias("churn", "champion"))
        _check_no_secret_is_shown(loop, initial)
