"""DAG integrity: every DAG imports, follows the team's conventions, and parses without heavy libraries."""

from __future__ import annotations

import copy
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
    ingest = dagbag.dags["ingest"]
    for task_id in ("copy_to_raw", "validate"):
        assert ingest.get_task(task_id).max_active_tis_per_dag == 1, f"ingest.{task_id} must have one writer at a time"
    for task in dagbag.dags["features"].tasks:
        assert task.max_active_tis_per_dag == 1, f"features.{task.task_id} must have one writer at a time"


def test_a_waiting_ingest_run_does_not_hold_back_other_runs(dagbag):
    ingest = dagbag.dags["ingest"]
    assert ingest.max_active_runs > 1, "a run waiting for a batch that never comes would queue every manual run"
    assert ingest.get_task("wait_for_batch").max_active_tis_per_dag is None, "sensors of several runs wait together"
    assert "Batch day" in ingest.params.get_param("day").schema["title"]
    assert "BEFORE its logical date" in ingest.params.get_param("day").description


def _accepts(dag, name: str, value) -> bool:
    from airflow.sdk.definitions.param import ParamValidationError

    param = copy.deepcopy(dag.params.get_param(name))
    try:
        param.resolve(value=value)
    except ParamValidationError:
        return False
    return True


def test_train_form_asks_only_what_it_means(dagbag):
    train = dagbag.dags["train"]
    assert "drift_records" not in train.params, "drift_records is set by retrain_on_drift's conf, not by a user"
    assert train.params["reason"] == "manual"
    assert _accepts(train, "reason", "new features from marketing")
    assert not _accepts(train, "reason", "")
    assert not _accepts(train, "reason", "   \t")
    assert _accepts(train, "hyperparameters", {})
    assert _accepts(train, "hyperparameters", {"max_depth": 4, "eta": 0.05, "num_boost_round": 200})
    assert not _accepts(train, "hyperparameters", {"max_dept": 4}), "a misspelt hyperparameter must be refused"
    assert not _accepts(train, "hyperparameters", {"max_depth": "deep"})
    assert not _accepts(train, "hyperparameters", {"subsample": 1.5})
    assert _accepts(train, "window_start", None) and _accepts(train, "window_start", "2026-01-05")


def test_optional_params_are_not_required_and_show_no_null_choice(dagbag):
    for dag_id in ("features", "score", "monitor"):
        dag = dagbag.dags[dag_id]
        schema = dag.params.get_param("days").schema
        assert "null" in schema["type"], f"{dag_id}.days must be optional in the form"
        assert dag.params["days"] is None
        assert _accepts(dag, "days", None) and _accepts(dag, "days", ["2026-01-05", "2026-01-06"])
        assert not _accepts(dag, "days", "2026-01-05"), f"{dag_id}.days is a list of days"
    simulate = dagbag.dags["simulate_source"]
    optional_choices = []
    for name in simulate.params:
        schema = simulate.params.get_param(name).schema
        if None in schema.get("enum", []):
            label = schema.get("values_display", {}).get("null")
            assert label and label != "null", f"simulate_source.{name} shows a literal null choice"
            optional_choices.append(name)
    assert optional_choices, "the churn source has optional choices (corruption)"
    for name in optional_choices:
        choice = next(c for c in simulate.params.get_param(name).schema["enum"] if c is not None)
        assert _accepts(simulate, name, None) and _accepts(simulate, name, choice)
        assert not _accepts(simulate, name, "not-a-choice"), f"simulate_source.{name} must check its choices"


def test_rollback_refuses_a_blank_reason(dagbag):
    rollback = dagbag.dags["rollback"]
    assert _accepts(rollback, "reason", "v3 scores empty days")
    for blank in ("", "   "):
        assert not _accepts(rollback, "reason", blank)
        assert not _accepts(rollback, "requested_by", blank)


def test_assets_are_grouped_by_layer(dagbag):
    from driftloop_airflow.assets import LAYERS

    assets = {a.name: a for dag in dagbag.dags.values() for t in dag.tasks for a in t.outlets}
    assert {"raw_batches", "validated_batches", "entity_features", "champion_model", "predictions"} <= set(assets)
    groups = {name: asset.group for name, asset in assets.items()}
    assert all(group in LAYERS for group in groups.values()), groups
    assert groups["raw_batches"] == "raw" and groups["drift_reports"] == "monitoring"


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
