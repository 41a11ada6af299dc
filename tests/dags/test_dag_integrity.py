"""DAG integrity: every DAG imports, follows the team's conventions, and parses without heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO_ROOT / "dags").glob("*.py"))
HEAVY_MODULES = ("pandas", "pyarrow", "xgboost", "mlflow", "feast", "evidently", "sklearn", "scipy", "numpy", "pandera")
EXPECTED_DAGS = {"simulate_source", "ingest", "features", "train", "score", "rollback", "monitor", "retrain_on_drift"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}, "\n".join(f"{f}: {e}" for f, e in dagbag.import_errors.items())
    assert EXPECTED_DAGS <= set(dagbag.dags), f"missing DAGs: {EXPECTED_DAGS - set(dagbag.dags)}"


def test_every_dag_follows_the_conventions(dagbag):
    problems = []
    for dag_id, dag in dagbag.dags.items():
        if not dag.tags:
            problems.append(f"{dag_id}: no tags")
        if not (dag.doc_md or "").strip().startswith("###"):
            problems.append(f"{dag_id}: doc_md is not a Markdown document")
        if dag.start_date is None or dag.start_date.tzinfo is None:
            problems.append(f"{dag_id}: start_date must be a fixed, timezone-aware datetime")
        for task in dag.tasks:
            if task.owner in (None, "", "airflow"):
                problems.append(f"{dag_id}.{task.task_id}: owner not set")
            # Waiting sensors, a contract check and "start train and wait for it" are not retried: a retry cannot fix
            # what they report, and the last would start a second training. (A rollback is: its retry completes it.)
            no_retries = {"wait_for_batch", "validate", "wait_for_drift", "trigger_train"}
            retries_expected = 0 if task.task_id in no_retries else 2
            if (task.retries or 0) < retries_expected:
                problems.append(f"{dag_id}.{task.task_id}: retries={task.retries}, expected >= {retries_expected}")
            if task.retries and not task.retry_delay:
                problems.append(f"{dag_id}.{task.task_id}: retries without a retry delay")
        for name, param in dag.params.items():
            param = dag.params.get_param(name)
            if not param.schema.get("title") or not param.description:
                problems.append(f"{dag_id}: param {name!r} lacks a title or description")
    assert problems == [], "\n".join(problems)


def test_dags_that_write_shared_state_never_overlap(dagbag):
    assert dagbag.dags["ingest"].max_active_runs == 1, "ingest validates each day against the ones before it"
    for task in dagbag.dags["features"].tasks:
        assert task.max_active_tis_per_dag == 1, f"features.{task.task_id} must have one writer at a time"


def test_the_data_dags_are_chained_by_assets(dagbag):
    ingest_outlets = {a.name for t in dagbag.dags["ingest"].tasks for a in t.outlets}
    assert "validated_batches" in ingest_outlets
    condition = dagbag.dags["features"].timetable.asset_condition
    assert "validated_batches" in {asset.name for asset in condition.objects}


def test_scoring_waits_for_the_offline_features_and_not_for_the_online_store(dagbag):
    features = dagbag.dags["features"]
    outlets = {t.task_id: {a.name for a in t.outlets} for t in features.tasks}
    assert outlets["build_features"] == {"entity_features"} and outlets["materialize"] == {"online_features"}
    assert "apply_feature_repo" in features.get_task("build_features").upstream_task_ids
    assert "materialize" not in features.get_task("build_features").upstream_task_ids
    schedules = {
        dag_id: {asset.name for asset in dagbag.dags[dag_id].timetable.asset_condition.objects}
        for dag_id in ("score", "monitor")
    }
    assert schedules == {"score": {"entity_features"}, "monitor": {"predictions"}}
    assert not any(
        "online_features" in {a.name for a in dag.timetable.asset_condition.objects}
        for dag in dagbag.dags.values()
        if getattr(dag.timetable, "asset_condition", None) is not None
    ), "no DAG of the loop waits for the online store"


def test_validation_failure_is_not_retried_and_sensor_is_deferrable(dagbag):
    ingest = dagbag.dags["ingest"]
    assert ingest.get_task("validate").retries == 0
    sensor = ingest.get_task("wait_for_batch")
    assert type(sensor).__name__ == "LandingBatchSensor"
    assert sensor.timeout > 0


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_dag_file_imports_no_heavy_library_at_parse_time(dag_file):
    probe = (
        "import importlib.util, json, sys\n"
        f"sys.path[:0] = [{str(REPO_ROOT / 'dags')!r}, {str(REPO_ROOT / 'plugins')!r}]\n"
        f"spec = importlib.util.spec_from_file_location('probe', {str(dag_file)!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY_MODULES)!r}))))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    heavy = json.loads(result.stdout.strip().splitlines()[-1])
    assert heavy == [], f"{dag_file.name} imports {heavy} at parse time; import them inside tasks"
