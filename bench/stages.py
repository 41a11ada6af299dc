"""Each benchmark stage: driftloop's own code path and its floor, on the same data, in the same run."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from bench.dataset import Dataset
from bench.harness import Measurement, StageResult, measure

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "dag_parse": 1.2,
    "training_set": 2.0,
    "materialization": None,
    "materialization_redis": None,
    "training": 1.2,
    "registration": 1.5,
    "scoring": 1.5,
    "drift": 3.0,
    "drift_verdicts": 1.5,
    "daily_cycle": 1.5,
    "training_cycle": 1.5,
    "training_at_scale": 1.2,
}
"""The largest acceptable ratio per stage; materialization (SQLite and Redis) is judged on throughput and peak memory
instead."""
MATERIALIZE_MIN_ROWS_PER_S = 50_000
MATERIALIZE_MAX_PEAK_MB = 2048


def _settings():
    from driftloop.settings import get_settings

    return get_settings()


def _feature_columns() -> list[str]:
    from driftloop.features.feature_store import declared_feature_schema

    return list(declared_feature_schema(_settings()))


# --- DAG parse ------------------------------------------------------------------------------------------------------
_PARSE = """
import sys, time, runpy
start = time.perf_counter()
import airflow.sdk
if sys.argv[1] != "-":
    runpy.run_path(sys.argv[1])
print(time.perf_counter() - start)
"""


def _parse_seconds(path: str) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "plugins"), str(REPO_ROOT / "dags")])}
    out = subprocess.run([sys.executable, "-c", _PARSE, path], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _parse_measurement(path: str, repeat: int) -> Measurement:
    return Measurement(seconds=[_parse_seconds(path) for _ in range(repeat)], peak_mb=0.0)


def dag_parse(data: Dataset, repeat: int) -> StageResult:
    """The slowest DAG file's import (with ``airflow.sdk``) ÷ importing ``airflow.sdk`` alone, each in a fresh
    interpreter, timed inside it (interpreter start-up excluded)."""
    files = sorted((REPO_ROOT / "dags").glob("*.py"))
    per_file = {f.stem: _parse_measurement(str(f), repeat) for f in files}
    floor = _parse_measurement("-", repeat)
    slowest = max(per_file, key=lambda name: per_file[name].median_s)
    return StageResult(
        "dag_parse",
        per_file[slowest],
        floor,
        TARGETS["dag_parse"],
        rows=len(files),
        notes={"slowest_file": slowest, "per_file_s": {k: round(v.median_s, 3) for k, v in per_file.items()}},
    )


# --- Training set ---------------------------------------------------------------------------------------------------
def merge_asof_training_set(events: pd.DataFrame, offline: pd.DataFrame, ttl: timedelta) -> pd.DataFrame:
    """The floor of the point-in-time join: pandas ``merge_asof`` backward within the feature view's ttl."""
    left = events.sort_values("event_timestamp")
    right = offline.sort_values("event_timestamp")
    return pd.merge_asof(
        left, right, on="event_timestamp", by="customer_id", direction="backward", tolerance=pd.Timedelta(ttl)
    )


def training_set(data: Dataset, repeat: int) -> StageResult:
    """driftloop's Feast point-in-time training set ÷ ``merge_asof`` on the same label events and feature files."""
    from driftloop.model.training_set import build_training_set, label_events

    start, end = data.label_days
    settings = _settings()
    ours = measure(lambda: build_training_set(start, end, settings), repeat)
    events = label_events(start, end, settings)

    def floor_job():
        offline = pd.read_parquet(settings.offline_store_dir)
        return merge_asof_training_set(label_events(start, end, settings), offline, timedelta(days=2))

    floor = measure(floor_job, repeat)
    matched = int(floor.result[_feature_columns()].notna().any(axis=1).sum())
    return StageResult(
        "training_set",
        ours,
        floor,
        TARGETS["training_set"],
        rows=len(pd.read_parquet(settings.offline_store_dir, columns=["customer_id"])),
        notes={
            "label_events": len(events),
            "ours_rows": len(ours.result.frame),
            "dropped_rows": len(events) - len(ours.result.frame),
            "floor_matched_rows": matched,
        },
    )


# --- Materialization ------------------------------------------------------------------------------------------------
def _bulk_write(frame: pd.DataFrame, columns: list[str], path: Path) -> int:
    """The floor: the same rows, one per entity and feature as Feast's SQLite store keeps them, in one transaction."""
    connection = sqlite3.connect(path)
    connection.execute("DROP TABLE IF EXISTS bench_features")
    connection.execute(
        "CREATE TABLE bench_features (entity_key BLOB, feature_name TEXT, value BLOB, event_ts TIMESTAMP, "
        "created_ts TIMESTAMP, PRIMARY KEY (entity_key, feature_name))"
    )
    keys = [k.tobytes() for k in frame["customer_id"].astype("int64").to_numpy()]
    stamps = frame["event_timestamp"].astype(str).to_numpy()
    with connection:
        for column in columns:
            # One column at a time: the rows of a million entities never sit in memory at once.
            values = frame[column].astype(str).to_numpy()
            rows = zip(keys, [column] * len(keys), values, stamps, stamps, strict=True)
            connection.executemany("INSERT OR REPLACE INTO bench_features VALUES (?, ?, ?, ?, ?)", rows)
    connection.close()
    return len(keys)


def _materialized_rows(day, settings) -> pd.DataFrame:
    """The offline rows that materializing ``day`` reads: its own and its overlap days'."""
    from driftloop.features.partitions import feature_partition_path

    first = day - timedelta(days=settings.materialize_overlap_days)
    days = [first + timedelta(days=i) for i in range((day - first).days + 1)]
    paths = [p for p in (feature_partition_path(d, settings) for d in days) if p.exists()]
    return pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)


def materialization(data: Dataset, repeat: int, prepared: dict) -> StageResult:
    """Entities per second into the online store (the newest day) ÷ a plain bulk write of the same rows into the same
    SQLite file; peak memory of both."""
    from driftloop.features.feature_store import materialize_days

    settings = _settings()
    day = data.days[-1]
    ours = measure(lambda: materialize_days([day], settings), repeat)
    prepared["materialization"] = ours
    rows = _materialized_rows(day, settings)
    columns = _feature_columns()
    floor = measure(lambda: _bulk_write(rows, columns, settings.feast_online_path), repeat)
    entities = len(rows)
    return StageResult(
        "materialization",
        ours,
        floor,
        TARGETS["materialization"],
        rows=entities,
        min_rows_per_s=MATERIALIZE_MIN_ROWS_PER_S,
        max_peak_mb=MATERIALIZE_MAX_PEAK_MB,
        notes={
            "ours_entities_per_s": round(entities / ours.median_s),
            "floor_entities_per_s": round(entities / floor.median_s),
        },
    )


REDIS_PROJECT = "bench_redis"
"""The Feast project the Redis stage writes (its keys end with it, and are deleted afterwards)."""


def _redis_bulk_write(client, frame: pd.DataFrame, columns: list[str], prefix: bytes) -> int:
    """The Redis floor: one HSET per entity (every feature's value as bytes and the timestamp) in one pipeline, no
    read before the write."""
    keys = frame["customer_id"].astype("int64").to_numpy()
    stamps = frame["event_timestamp"].astype(str).to_numpy()
    values = {c: frame[c].astype(str).to_numpy() for c in columns}
    with client.pipeline(transaction=False) as pipe:
        for i, key in enumerate(keys):
            pipe.hset(prefix + key.tobytes(), mapping={"_ts": stamps[i], **{c: values[c][i] for c in columns}})
        pipe.execute()
    return len(keys)


def _delete_keys(client, pattern: bytes) -> None:
    batch = []
    for key in client.scan_iter(match=pattern, count=10_000):
        batch.append(key)
        if len(batch) >= 10_000:
            client.delete(*batch)
            batch = []
    if batch:
        client.delete(*batch)


def materialization_redis(data: Dataset, repeat: int) -> list[StageResult]:
    """Entities per second into Redis (the production online store, ``BENCH_REDIS_URL``, default
    ``redis://127.0.0.1:6379/11``; empty: left out) through Feast's materialization, as ``materialize`` runs it ÷ a
    plain pipelined HSET of the same rows; its keys are deleted afterwards."""
    import redis

    from driftloop.features.feature_store import apply_feature_repo, materialize_days
    from driftloop.settings import load_settings

    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
    if not url:
        return []
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as error:
        print(f"materialization_redis left out: no Redis at {url} ({error})")
        return []
    overrides = {"DRIFTLOOP_FEAST_ONLINE_STORE": url, "DRIFTLOOP_FEAST_PROJECT": REDIS_PROJECT}
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    try:
        settings = load_settings()
        apply_feature_repo(settings)
        day = data.days[-1]
        ours = measure(lambda: materialize_days([day], settings), repeat)
        rows = _materialized_rows(day, settings)
        floor = measure(lambda: _redis_bulk_write(client, rows, _feature_columns(), b"bench-floor:"), repeat)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _delete_keys(client, b"bench-floor:*")
        _delete_keys(client, f"*{REDIS_PROJECT}".encode())
    entities = len(rows)
    return [
        StageResult(
            "materialization_redis",
            ours,
            floor,
            None,
            rows=entities,
            min_rows_per_s=MATERIALIZE_MIN_ROWS_PER_S,
            max_peak_mb=MATERIALIZE_MAX_PEAK_MB,
            notes={
                "ours_entities_per_s": round(entities / ours.median_s),
                "floor_entities_per_s": round(entities / floor.median_s),
            },
        )
    ]


# --- Training, registration, scoring --------------------------------------------------------------------------------
def _split(data: Dataset):
    from driftloop.model.training import time_split
    from driftloop.model.training_set import build_training_set

    start, end = data.label_days
    training = build_training_set(start, end, _settings())
    return training, time_split(training.frame, "event_timestamp")


def training(data: Dataset, repeat: int, prepared: dict) -> StageResult:
    """driftloop's train step ÷ a bare ``xgboost.train`` with the same parameters, rounds and data (each side builds
    its model matrices from the split's frames)."""
    import xgboost as xgb

    from driftloop.model.training import build_model_matrix, train_model

    settings = _settings()
    _, split = prepared["split"]
    columns = _feature_columns()
    ours = measure(lambda: train_model(split, "classification", columns, None, settings.model.seed, "cpu"), repeat)
    model = ours.result
    params = {k: v for k, v in model.params.items() if k not in ("num_boost_round", "early_stopping_rounds")} | {
        "device": "cpu"
    }
    rounds = model.best_iteration + 1

    def floor_job():
        # Both sides turn the split's frames into matrices (categoricals typed) inside the timing.
        x_train, x_valid = build_model_matrix(split.train, columns), build_model_matrix(split.validation, columns)
        train = xgb.DMatrix(x_train, label=split.train["churned"], enable_categorical=True)
        valid = xgb.DMatrix(x_valid, label=split.validation["churned"], enable_categorical=True)
        return xgb.train(
            params, train, rounds + 50, evals=[(valid, "validation")], early_stopping_rounds=50, verbose_eval=False
        )

    floor = measure(floor_job, repeat)
    prepared["model"] = model
    return StageResult(
        "training", ours, floor, TARGETS["training"], rows=len(split.train), notes={"device": model.device}
    )


def _log_and_register(model, test: pd.DataFrame, evaluation: dict, baseline: dict, training, tags: dict):
    """driftloop's MLflow logging and registration of a model with its snapshot's lineage tags, as ``train`` does."""
    from driftloop.model import model_registry

    settings = _settings()
    lineage = {"snapshot_sha256": training.sha256, "snapshot_path": str(training.path)}
    return model_registry.log_and_register(
        settings.mlflow_tracking_uri,
        settings.mlflow_artifact_root,
        settings.model.name,
        model,
        test,
        evaluation,
        baseline,
        training.path,
        training.sha256,
        {**tags, **lineage},
    )


def _log_model_floor(model, name: str) -> str:
    """The floor of registration: ``mlflow.xgboost.log_model`` of the same booster into a run of the same tracking
    server, with explicit pip requirements and no input example, registered under ``name``."""
    import mlflow

    from driftloop.model.model_registry import PIP_REQUIREMENTS

    settings = _settings()
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    experiment = mlflow.get_experiment_by_name("bench-registration-floor")
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else mlflow.create_experiment(
            "bench-registration-floor", artifact_location=f"{settings.mlflow_artifact_root}/bench-floor"
        )
    )
    with mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.xgboost.log_model(
            model.booster[: model.best_iteration + 1],
            name="model",
            pip_requirements=PIP_REQUIREMENTS,
            registered_model_name=name,
        )
    return info.model_uri


def registration(data: Dataset, repeat: int, prepared: dict) -> StageResult:
    """driftloop's MLflow logging and registration (metrics, plots, lineage, signature, model card, challenger alias)
    ÷ ``mlflow.xgboost.log_model`` with explicit pip requirements, no input example, registered."""
    from driftloop.model import model_registry
    from driftloop.model.evaluation import evaluate
    from driftloop.model.promotion import PromotionDecision
    from driftloop.model.training import predict

    settings = _settings()
    training_frame, split = prepared["split"]
    model = prepared["model"]
    evaluation = evaluate("classification", split.test["churned"], predict(model, split.test))
    tags = {"run_id": "bench", "dag_id": "bench", "training_window": "bench"}

    def ours_job():
        return _log_and_register(model, split.test, evaluation, evaluation, training_frame, tags)

    ours = measure(ours_job, repeat, warmup=True)
    model_registry.gate_version(
        settings.mlflow_tracking_uri,
        settings.model.name,
        ours.result.version,
        lambda champion: PromotionDecision(True, ["bench"]),
        kind="force_promote",
    )
    floor = measure(lambda: _log_model_floor(model, f"{settings.model.name}-bench-floor"), repeat, warmup=True)
    return StageResult("registration", ours, floor, TARGETS["registration"], rows=1)


def scoring(data: Dataset, repeat: int, prepared: dict) -> StageResult:
    """Rows per second of driftloop's scoring of a day (champion from the registry, Feast point-in-time read, checks,
    Parquet) ÷ reading that day's offline feature partition, building the model matrix and ``inplace_predict``."""
    from driftloop.features.partitions import feature_partition_path
    from driftloop.model.training import build_model_matrix
    from driftloop.serving.scoring import score_day

    settings = _settings()
    day = data.days[-1]
    ours = measure(lambda: score_day(day, settings), repeat, warmup=True)
    model = prepared["model"]
    partition = feature_partition_path(day, settings)
    if not partition.exists():
        raise FileNotFoundError(f"the offline feature partition of {day} is missing: {partition}")

    def floor_job():
        rows = pd.read_parquet(partition, columns=["customer_id", *model.feature_columns])
        matrix = build_model_matrix(rows, model.feature_columns)
        return model.booster.inplace_predict(matrix, iteration_range=(0, model.best_iteration + 1))

    floor = measure(floor_job, repeat, warmup=True)
    return StageResult(
        "scoring", ours, floor, TARGETS["scoring"], rows=ours.result.rows, notes={"floor_rows": len(floor.result)}
    )


# --- Drift ----------------------------------------------------------------------------------------------------------
def _psi(reference: pd.Series, current: pd.Series) -> float:
    ref = reference.astype(str).value_counts(normalize=True)
    cur = current.astype(str).value_counts(normalize=True)
    keys = ref.index.union(cur.index)
    p = ref.reindex(keys, fill_value=0).to_numpy() + 1e-4
    q = cur.reindex(keys, fill_value=0).to_numpy() + 1e-4
    return float(np.sum((q - p) * np.log(q / p)))


def scipy_drift(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]) -> dict[str, float]:
    """The floor: two-sample KS statistic for numeric columns, PSI for categorical ones."""
    from scipy.stats import ks_2samp

    from driftloop.model.training import categorical_columns

    out = {}
    for column in columns:
        if column in categorical_columns():
            out[column] = _psi(reference[column], current[column])
        else:
            out[column] = float(ks_2samp(reference[column].dropna(), current[column].dropna()).statistic)
    return out


def _scored_window(day, settings) -> pd.DataFrame:
    """The floor's read of a day's window: each scored day's features joined with its predictions."""
    from driftloop.monitoring.monitor import window_days
    from driftloop.storage import lake

    frames = []
    for scored in window_days(day, settings):
        name = f"{lake.partition_name(scored)}.parquet"
        if (settings.predictions_dir / name).exists():
            predictions = pd.read_parquet(settings.predictions_dir / name, columns=["customer_id", "prediction"])
            features = pd.read_parquet(settings.scored_features_dir / name)
            frames.append(features.merge(predictions, on="customer_id"))
    return pd.concat(frames, ignore_index=True)


def drift(data: Dataset, repeat: int, prepared: dict) -> StageResult:
    """driftloop's monitoring of a scored day (its inputs read, distances and verdict, summary or Evidently report,
    MLflow, record: what ``retrain_on_drift`` waits for) ÷ a script that reads the same scored days and training
    snapshot, predicts the snapshot with the booster and runs scipy KS/PSI on the same columns; and whether its
    verdicts equal those of the Evidently report on the same sampled rows and those of an unsampled run. The
    dashboard's snapshots, built after the verdict (``update_dashboard``), are measured beside it."""
    from driftloop.model.training import build_model_matrix
    from driftloop.monitoring.monitor import dashboard_day, day_inputs, drift_report, drift_scores, monitor_day
    from driftloop.settings import load_settings

    settings = _settings()
    day = data.days[-1]
    ours = measure(lambda: monitor_day(day, settings), repeat, warmup=True)
    prepared["dashboard"] = measure(lambda: dashboard_day(day, settings), 1)
    inputs = day_inputs(day, settings)
    columns = inputs.columns
    model = prepared["model"]
    snapshot = Path(inputs.version.tags["snapshot_path"])

    def floor_job():
        current = _scored_window(day, settings)
        reference = pd.read_parquet(snapshot)
        reference["prediction"] = model.booster.inplace_predict(
            build_model_matrix(reference, model.feature_columns), iteration_range=(0, model.best_iteration + 1)
        )
        return scipy_drift(reference, current, [*columns, "prediction"]), len(current) + len(reference)

    floor = measure(floor_job, repeat, warmup=True)
    sampled = ours.result.drift
    _, evidently = drift_report(inputs.reference, inputs.current, columns, settings, inputs.thresholds)
    os.environ["DRIFTLOOP_DRIFT_SAMPLE_ROWS"] = str(10**12)
    try:
        unsampled_settings = load_settings()
        whole = day_inputs(day, unsampled_settings)
    finally:
        del os.environ["DRIFTLOOP_DRIFT_SAMPLE_ROWS"]
    unsampled = drift_scores(whole.reference, whole.current, columns, unsampled_settings, whole.thresholds)

    def agreement(other) -> float:
        return sum((c in sampled.drifted_columns) == (c in other.drifted_columns) for c in columns) / len(columns)

    return StageResult(
        "drift",
        ours,
        floor,
        TARGETS["drift"],
        rows=floor.result[1],
        notes={
            "dashboard_beside_s": round(prepared["dashboard"].median_s, 3),
            "sample_rows": settings.monitoring.sample_rows,
            "evidently_report": ours.result.verdict == "drift" or settings.monitoring.reports == "always",
            "evidently_verdict_agreement": round(agreement(evidently), 3),
            "evidently_same_verdict": (sampled.drifted, sampled.reasons) == (evidently.drifted, evidently.reasons),
            "evidently_max_distance_difference": max(abs(sampled.columns[c] - evidently.columns[c]) for c in columns),
            "verdict_agreement": round(agreement(unsampled), 3),
            "same_dataset_verdict": sampled.drifted == unsampled.drifted,
        },
    )


# --- Drift verdicts ---------------------------------------------------------------------------------------------
def drift_verdicts(data: Dataset, repeat: int) -> StageResult:
    """The verdict rule (calibrated thresholds, severe column, minimum rows) on clean and shifted samples of the
    demo's world at 24..20,000 rows, 50 draws each ÷ the same draws' distances alone; the notes hold the measured
    false-alarm and detection rates (``bench/drift_verdicts.py``; the world is its own, not ``data``)."""
    from bench import drift_verdicts as measured
    from driftloop.settings import load_settings

    world = measured.demo_world()
    settings = load_settings()
    ours = measure(lambda: measured.verdict_rates(world, settings), repeat)
    floor = measure(lambda: measured.distances_only(world), repeat)
    rates = {r["rows"]: {k: v for k, v in r.items() if k.startswith(("calibrated.", "fixed."))} for r in ours.result}
    return StageResult(
        "drift_verdicts",
        ours,
        floor,
        TARGETS["drift_verdicts"],
        rows=floor.result,
        notes={"rates": rates, "full_days": measured.full_days(world, settings)},
    )


# --- Whole cycles ---------------------------------------------------------------------------------------------------
def daily_cycle(data: Dataset, repeat: int, prepared: dict) -> StageResult:
    """A day's critical path through driftloop (validate, features, score, monitor: what the next stage waits for)
    ÷ a plain pandas + XGBoost script (read the batch and the accepted history, compute the same features, predict,
    KS/PSI); materialization, which runs beside scoring, and the dashboard's snapshots, which run after the verdict,
    are measured with it (or taken from their stages) for the day's total CPU seconds."""
    from bench.dataset import churn_module
    from driftloop.features.feature_store import materialize_days
    from driftloop.features.partitions import build_features_for_day
    from driftloop.ingest.validation import validate_batch
    from driftloop.model.training import build_model_matrix
    from driftloop.monitoring.monitor import dashboard_day, monitor_day
    from driftloop.serving.scoring import score_day
    from driftloop.storage import lake, raw_zone

    settings = _settings()
    day = data.days[-1]

    def ours_job():
        validate_batch(day, settings)
        build_features_for_day(day, settings)
        scored = score_day(day, settings)
        monitor_day(day, settings)
        return scored

    ours = measure(ours_job, repeat)
    beside = prepared.get("materialization") or measure(lambda: materialize_days([day], settings), 1)
    dashboard = prepared.get("dashboard") or measure(lambda: dashboard_day(day, settings), 1)
    model = prepared["model"]
    reference = pd.read_parquet(prepared["split"][0].path)
    columns = [c for c in model.feature_columns]

    def floor_job():
        batch = Path(raw_zone.find_delivery(day, settings).uri)
        activity = [pd.read_csv(batch / "activity_events.csv")]
        for back in range(1, settings.feature_window_days):
            part = lake.partition_dir(settings.validated_dir / "activity_events", day - timedelta(days=back))
            if (part / "part.parquet").exists():
                activity.append(pd.read_parquet(part / "part.parquet"))
        profiles = pd.read_csv(batch / "customer_profiles.csv")
        events = pd.concat(activity, ignore_index=True)
        tables = {"activity_events": events, "customer_profiles": profiles}
        features = churn_module("features.py").compute_daily_features(day, tables, settings.feature_window_days)
        scores = model.booster.inplace_predict(
            build_model_matrix(features, columns), iteration_range=(0, model.best_iteration + 1)
        )
        return scipy_drift(reference, features.assign(prediction=scores), columns)

    floor = measure(floor_job, repeat)
    return StageResult(
        "daily_cycle",
        ours,
        floor,
        TARGETS["daily_cycle"],
        rows=ours.result.rows,
        notes={
            "critical_path_s": round(ours.median_s, 3),
            "materialization_beside_s": round(beside.median_s, 3),
            "dashboard_beside_s": round(dashboard.median_s, 3),
            "total_cpu_s": round(ours.median_cpu_s + beside.median_cpu_s + dashboard.median_cpu_s, 3),
        },
    )


def training_cycle(data: Dataset, repeat: int, prepared: dict) -> StageResult:
    """Training set, split, training, evaluation and registration through driftloop ÷ ``merge_asof`` + ``xgboost.train``
    + saving the model."""
    import xgboost as xgb

    from driftloop.model.evaluation import baseline_predictions, evaluate
    from driftloop.model.training import build_model_matrix, predict, time_split, train_model
    from driftloop.model.training_set import build_training_set, label_events

    settings = _settings()
    start, end = data.label_days
    columns = _feature_columns()

    def ours_job():
        training = build_training_set(start, end, settings)
        split = time_split(training.frame, "event_timestamp")
        model = train_model(split, "classification", columns, None, settings.model.seed, "cpu")
        evaluation = evaluate("classification", split.test["churned"], predict(model, split.test))
        baseline = evaluate(
            "classification",
            split.test["churned"],
            baseline_predictions("classification", split.train, split.test, columns),
        )
        return _log_and_register(model, split.test, evaluation, baseline, training, {"run_id": "bench-cycle"})

    ours = measure(ours_job, repeat)
    params = {
        k: v for k, v in prepared["model"].params.items() if k not in ("num_boost_round", "early_stopping_rounds")
    } | {"device": "cpu"}

    def floor_job():
        offline = pd.read_parquet(settings.offline_store_dir)
        frame = merge_asof_training_set(label_events(start, end, settings), offline, timedelta(days=2))
        split = time_split(frame, "event_timestamp")
        train = xgb.DMatrix(
            build_model_matrix(split.train, columns), label=split.train["churned"], enable_categorical=True
        )
        valid = xgb.DMatrix(
            build_model_matrix(split.validation, columns), label=split.validation["churned"], enable_categorical=True
        )
        booster = xgb.train(params, train, 600, evals=[(valid, "v")], early_stopping_rounds=50, verbose_eval=False)
        with tempfile.TemporaryDirectory() as scratch:
            booster.save_model(Path(scratch) / "model.ubj")
        return booster

    floor = measure(floor_job, repeat)
    return StageResult(
        "training_cycle", ours, floor, TARGETS["training_cycle"], rows=len(label_events(start, end, settings))
    )


# --- Training at scale -------------------------------------------------------------------------------------------
def train_rows() -> list[int]:
    """The label-row counts of the training-at-scale stage (``BENCH_TRAIN_ROWS``, default 1M and 10M)."""
    raw = os.environ.get("BENCH_TRAIN_ROWS") or "1000000,10000000"
    return sorted(int(float(r)) for r in raw.split(",") if r.strip())


def _label(rows: int) -> str:
    return f"{rows // 10**6}M" if rows % 10**6 == 0 else f"{rows // 1000}k"


def _subprocess_measurement(runs: list[dict]) -> Measurement:
    return Measurement(
        seconds=[r["seconds"] for r in runs],
        peak_mb=max(r["peak_rss_mb"] for r in runs),
        cpu_seconds=[r["cpu_seconds"] for r in runs],
    )


def training_at_scale(data: Dataset, repeat: int) -> list[StageResult]:
    """Per size of ``BENCH_TRAIN_ROWS``: the project's training step ÷ a bare ``xgboost.train`` on the same
    synthetic label rows (26 features), each side in a fresh process with its own peak memory
    (``bench/training_scale.py``); on a GPU too where one is present (ratio CPU ÷ GPU), else the notes say so."""
    from bench import training_scale
    from driftloop.model.training import gpu_available

    base = data.root.parent
    rounds = int(os.environ.get("BENCH_TRAIN_ROUNDS") or 100)
    gpu = gpu_available()
    results = []
    for rows in train_rows():
        training_scale.generate(rows, training_scale.data_path(rows, base))
        runs = {side: [] for side in ("ours", "floor", "gpu")}
        try:
            for _ in range(repeat):
                for side in ("ours", "floor"):
                    runs[side].append(training_scale.measure_in_subprocess(rows, side, "cpu", base, rounds))
                if gpu:
                    runs["gpu"].append(training_scale.measure_in_subprocess(rows, "ours", "cuda", base, rounds))
        except RuntimeError as error:
            # A size the machine cannot hold now (a child killed for memory) leaves the others measured.
            print(f"training_at_{_label(rows)} left out: {error}")
            continue
        ours = _subprocess_measurement(runs["ours"])
        notes = {
            "features": runs["ours"][0]["features"],
            "train_rows": runs["ours"][0]["train_rows"],
            "rounds": runs["ours"][0]["rounds"],
            "peak_rss_is": "VmHWM of the stage's own process (data read, DMatrix, training)",
            "floor_peak_rss_mb": max(r["peak_rss_mb"] for r in runs["floor"]),
        }
        if gpu:
            gpu_s = _subprocess_measurement(runs["gpu"]).median_s
            notes |= {"gpu_s": gpu_s, "cpu_over_gpu": round(ours.median_s / gpu_s, 2)}
        else:
            notes["gpu"] = "no GPU here: CPU only (bench/gpu_training.sh measures CPU vs GPU where one is present)"
        results.append(
            StageResult(
                f"training_at_{_label(rows)}",
                ours,
                _subprocess_measurement(runs["floor"]),
                TARGETS["training_at_scale"],
                rows,
                notes,
            )
        )
    return results


STAGES = list(TARGETS)
"""Every stage, in dependency order."""
SCALE_FREE = ("dag_parse", "drift_verdicts", "training_at_scale")
"""Stages whose data does not come from the dataset (DAG files, the demo's world, synthetic label rows)."""
_NEEDS = {
    "registration": "training",
    "scoring": "registration",
    "drift": "scoring",
    "daily_cycle": "registration",
    "training_cycle": "training",
}
"""A stage's prerequisite: the trained model, a champion, a scored day."""


def _with_prerequisites(selected: list[str]) -> list[str]:
    needed = set(selected)
    for stage in reversed(STAGES):
        if stage in needed and stage in _NEEDS:
            needed.add(_NEEDS[stage])
    return [s for s in STAGES if s in needed]


def run_all(data: Dataset, repeat: int, selected: list[str] | None = None, scale_free_repeat: int = 1) -> list:
    """The ``selected`` stages (default: all) in dependency order, ``repeat`` times each (the scale-free ones at least
    ``scale_free_repeat`` times); a prerequisite that was not selected runs once and is left out of the results."""
    unknown = sorted(set(selected or []) - set(STAGES))
    if unknown:
        raise ValueError(f"unknown benchmark stages {unknown}; known: {', '.join(STAGES)}")
    wanted = list(selected or STAGES)
    plan = _with_prerequisites(wanted)
    prepared: dict = {"split": _split(data)} if "training" in plan else {}
    runners = {
        "dag_parse": lambda r: dag_parse(data, r),
        "training_set": lambda r: training_set(data, r),
        "materialization": lambda r: materialization(data, r, prepared),
        "materialization_redis": lambda r: materialization_redis(data, r),
        "training": lambda r: training(data, r, prepared),
        "registration": lambda r: registration(data, r, prepared),
        "scoring": lambda r: scoring(data, r, prepared),
        "drift": lambda r: drift(data, r, prepared),
        "drift_verdicts": lambda r: drift_verdicts(data, r),
        "daily_cycle": lambda r: daily_cycle(data, r, prepared),
        "training_cycle": lambda r: training_cycle(data, r, prepared),
        "training_at_scale": lambda r: training_at_scale(data, int(os.environ.get("BENCH_TRAIN_REPEAT") or 1)),
    }
    results = []
    for stage in plan:
        # Stages whose data does not depend on the scale keep their repetitions at a large scale.
        times = max(repeat, scale_free_repeat) if stage in SCALE_FREE else repeat
        result = runners[stage](times if stage in wanted else 1)
        if stage in wanted:
            results.extend(result if isinstance(result, list) else [result])
    return results
