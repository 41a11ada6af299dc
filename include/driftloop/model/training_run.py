"""The steps of one training run, as the ``train`` DAG runs them: each reads and writes the run's folder, so tasks
exchange only paths and small values, and a retried step redoes exactly its own work.

training set -> split by time -> train -> evaluate (model, baseline, slices) -> log and register -> gate.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import xgboost as xgb

from driftloop.model import model_registry
from driftloop.model.evaluation import baseline_predictions, evaluate, evaluation_slices
from driftloop.model.promotion import PromotionDecision, decide_promotion
from driftloop.model.training import (
    TrainedModel,
    categorical_columns,
    predict,
    target_column,
    time_split,
    train_model,
)
from driftloop.model.training_set import build_training_set, label_events
from driftloop.settings import Settings, get_settings
from driftloop.usecase.active import active_spec
from driftloop.usecase.spec import ENTITY_TIMESTAMP

SPLITS = ("train", "validation", "test")


def run_folder(run_id: str, settings: Settings | None = None) -> Path:
    """The folder of one training run (named after the Airflow run id)."""
    settings = settings or get_settings()
    folder = settings.data_root / "train_runs" / re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def default_window(settings: Settings) -> tuple[date, date]:
    """The newest ``training_window_days`` of matured labels, by as_of date, starting no earlier than the first day
    whose rolling feature windows are complete (``feature_window_days`` after the first day with features): rows
    from the ramp-up describe entities with a truncated history, unlike anything scored later, so a model must
    not learn from them and drift monitoring must not compare against them."""
    from driftloop.storage import lake

    labels = label_events(date.min, date.max, settings)
    feature_days = lake.partition_days(settings.offline_store_dir)
    if labels.empty or not feature_days:
        raise ValueError("no matured labels with features yet: ingest more days before training")
    end = pd.to_datetime(labels[active_spec(settings).label.as_of_column]).dt.date.max()
    complete = feature_days[0] + timedelta(days=settings.feature_window_days - 1)
    if end < complete:
        raise ValueError(
            f"the newest matured label is as of {end}, but features have complete {settings.feature_window_days}-day "
            f"windows only from {complete}: ingest more days before training"
        )
    return max(end - timedelta(days=settings.model.training_window_days - 1), complete), end


def step_training_set(folder: Path, start: date | None, end: date | None, settings: Settings) -> dict:
    """Build and snapshot the point-in-time training set of the window (default: the newest labels)."""
    if start is None or end is None:
        default_start, default_end = default_window(settings)
        start, end = start or default_start, end or default_end
    training = build_training_set(start, end, settings)
    summary = {
        "path": str(training.path),
        "sha256": training.sha256,
        "rows": len(training.frame),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "feature_service": training.feature_service,
        "dropped_unmatched_labels": training.dropped_unmatched,
    }
    (folder / "training_set.json").write_text(json.dumps(summary, indent=2))
    return summary


def model_input_columns(frame: pd.DataFrame, settings: Settings) -> list[str]:
    """The model's inputs among a training set's columns: its features (not keys, as-of date or targets) as the
    spec's ``[model]`` selects them (``exclude``, ``key_inputs``)."""
    spec = active_spec(settings)
    features = [c for c in frame.columns if c not in spec.not_features]
    return spec.model_inputs(features)


def step_split(folder: Path) -> dict:
    """Split the snapshot by time: the test split is the most recent period."""
    summary = json.loads((folder / "training_set.json").read_text())
    split = time_split(pd.read_parquet(summary["path"]), ENTITY_TIMESTAMP)
    counts = {}
    for name in SPLITS:
        part = getattr(split, name)
        part.to_parquet(folder / f"{name}.parquet", index=False)
        counts[name] = len(part)
    return counts


def _load_split(folder: Path):
    from driftloop.model.training import Split

    return Split(*(pd.read_parquet(folder / f"{name}.parquet") for name in SPLITS))


def step_train(folder: Path, params: dict | None, settings: Settings) -> dict:
    """Train XGBoost with early stopping; save the booster and what scoring it needs."""
    split = _load_split(folder)
    model = train_model(
        split,
        settings.task_type,
        model_input_columns(split.train, settings),
        params,
        settings.model.seed,
        settings.model.device,
    )
    model.booster.save_model(folder / "model.ubj")
    meta = {
        "task_type": model.task_type,
        "feature_columns": model.feature_columns,
        "params": model.params,
        "best_iteration": model.best_iteration,
        "device": model.device,
    }
    (folder / "model.json").write_text(json.dumps(meta, indent=2))
    return {"device": model.device, "best_iteration": model.best_iteration}


def load_trained(folder: Path) -> TrainedModel:
    """The model a ``step_train`` saved."""
    meta = json.loads((folder / "model.json").read_text())
    booster = xgb.Booster()
    booster.load_model(folder / "model.ubj")
    return TrainedModel(booster=booster, **meta)


def step_evaluate(folder: Path, settings: Settings) -> dict:
    """Metrics of the model and of a simple baseline on the test split, overall and per slice."""
    split, model = _load_split(folder), load_trained(folder)
    target = target_column(model.task_type)
    slices = evaluation_slices(split.test, active_spec(settings))
    evaluation = evaluate(model.task_type, split.test[target], predict(model, split.test), slices)
    numeric = [c for c in model.feature_columns if c not in categorical_columns()]
    baseline_scores = baseline_predictions(model.task_type, split.train, split.test, numeric, target)
    baseline = evaluate(model.task_type, split.test[target], baseline_scores, slices)
    (folder / "evaluation.json").write_text(json.dumps(evaluation, indent=2))
    (folder / "baseline.json").write_text(json.dumps(baseline, indent=2))
    return {"model": evaluation["overall"], "baseline": baseline["overall"]}


def step_register(folder: Path, tags: dict[str, str], settings: Settings) -> dict:
    """Log the run to MLflow with its lineage and register a new version as ``challenger``, keyed on the run folder:
    a retry finds the run and version an earlier try made instead of making new ones."""
    summary = json.loads((folder / "training_set.json").read_text())
    split, model = _load_split(folder), load_trained(folder)
    tags = {
        **tags,
        "feature_service": summary["feature_service"],
        "snapshot_sha256": summary["sha256"],
        "snapshot_path": summary["path"],
        "training_window": f"{summary['start']}..{summary['end']}",
        "dropped_unmatched_labels": str(summary.get("dropped_unmatched_labels", 0)),
    }
    logged = model_registry.log_and_register(
        settings.mlflow_tracking_uri,
        settings.mlflow_artifact_root,
        settings.model.name,
        model,
        split.test,
        json.loads((folder / "evaluation.json").read_text()),
        json.loads((folder / "baseline.json").read_text()),
        Path(summary["path"]),
        summary["sha256"],
        tags,
        run_key=folder.name,
    )
    (folder / "registered.json").write_text(json.dumps(asdict(logged)))
    return asdict(logged)


def test_labels_described(test: pd.DataFrame, summary: dict) -> str:
    """Which labels the gate compares on, for its reasons: the test split, the newest matured as-of days of the
    training window, with their rows."""
    days = pd.to_datetime(test[ENTITY_TIMESTAMP]).dt.date
    return (
        f"compared on the newest matured labels: the test split, as-of days {days.min()}..{days.max()} "
        f"({days.nunique()} day(s), {len(test)} rows) of the training window {summary['start']}..{summary['end']}"
    )


def step_gate(folder: Path, force: bool, settings: Settings) -> dict:
    """Re-score the champion on the same test split, decide, and move ``champion`` when the gate says so, through
    ``model_registry.gate_version``: a retry reuses the recorded decision and completes an interrupted promotion."""
    split, model = _load_split(folder), load_trained(folder)
    registered = json.loads((folder / "registered.json").read_text())
    uri, name = settings.mlflow_tracking_uri, settings.model.name

    def decide(champion: str | None) -> PromotionDecision:
        champion_eval = None
        if champion is not None:
            scores = model_registry.predict_with_version(uri, name, champion, split.test, model.feature_columns)
            target = target_column(model.task_type)
            slices = evaluation_slices(split.test, active_spec(settings))
            champion_eval = evaluate(model.task_type, split.test[target], scores, slices)
        return decide_promotion(
            json.loads((folder / "evaluation.json").read_text()),
            champion_eval,
            json.loads((folder / "baseline.json").read_text()),
            model.task_type,
            settings.model.promotion_margin,
            settings.model.slice_tolerance,
            force=force,
            compared_on=test_labels_described(split.test, json.loads((folder / "training_set.json").read_text())),
        )

    kind = "force_promote" if force else "gate"
    outcome = model_registry.gate_version(uri, name, registered["version"], decide, kind)
    return {
        "version": registered["version"],
        "promote": outcome.decision.promote,
        "reasons": outcome.decision.reasons,
        "previous_champion": outcome.previous,
        "champion_before": outcome.compared_with,
        "champion": outcome.history.champion,
        "champion_history": outcome.history.table(),
    }
