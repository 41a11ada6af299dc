"""The steps of one training run, as the ``train`` DAG runs them: each reads and writes the run's folder, so tasks
exchange only paths and small values, and a retried step redoes exactly its own work.

training set -> split by time -> train -> evaluate (model, baseline, slices) -> log and register -> gate.

Each step up to evaluate also runs the ML Test Score checks of ``driftloop.quality`` that belong to it (privacy,
feature costs, tuning, numerical stability, feature importance, inclusion) and records its duration and peak memory;
register puts their results on the MLflow run and the model card, and flags compute regressions.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import xgboost as xgb

from driftloop.errors import InvalidRequest, NotEnoughData
from driftloop.model import model_registry
from driftloop.model.evaluation import baseline_predictions, evaluate, evaluation_slices, primary_metric
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
from driftloop.quality import tuning
from driftloop.quality.canary import start_shadow
from driftloop.quality.compute import compute_regressions, measured, read_compute, recent_compute
from driftloop.quality.dependencies import library_versions
from driftloop.quality.features import feature_group_costs, importance_section, non_helping, permutation_importance
from driftloop.quality.inclusion import gap_reasons, inclusion_section, parity_gaps
from driftloop.quality.numerics import check_finite_metrics, check_training_curve
from driftloop.quality.privacy import check_allowed_sources, check_no_personal_columns
from driftloop.quality.production import offline_online
from driftloop.settings import Settings, get_settings
from driftloop.usecase.active import active_spec
from driftloop.usecase.spec import ENTITY_TIMESTAMP

SPLITS = ("train", "validation", "test")
log = logging.getLogger(__name__)


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
        raise NotEnoughData("no matured labels with features yet: ingest more days before training")
    end = pd.to_datetime(labels[active_spec(settings).label.as_of_column]).dt.date.max()
    complete = feature_days[0] + timedelta(days=settings.feature_window_days - 1)
    if end < complete:
        raise NotEnoughData(
            f"the newest matured label is as of {end}, but features have complete {settings.feature_window_days}-day "
            f"windows only from {complete}: ingest more days before training"
        )
    return max(end - timedelta(days=settings.model.training_window_days - 1), complete), end


def step_training_set(folder: Path, start: date | None, end: date | None, settings: Settings) -> dict:
    """Build and snapshot the point-in-time training set of the window (default: the newest labels); a window that
    ends before it starts is refused before any data is read."""
    if start is not None and end is not None and end < start:
        raise InvalidRequest(f"training window ends ({end}) before it starts ({start}): swap Window start and end")
    if start is None or end is None:
        default_start, default_end = default_window(settings)
        start, end = start or default_start, end or default_end
        if end < start:
            raise InvalidRequest(
                f"training window {start}..{end} is empty: the given bound is outside the newest matured labels "
                f"(default window {default_start}..{default_end})"
            )
    with measured(folder, "training_set"):
        training = build_training_set(start, end, settings)
        spec = active_spec(settings)
        what = f"the training set of {start}..{end}"
        check_no_personal_columns(training.frame, spec, what)
        check_allowed_sources(spec, [spec.label.table], what)
        _write_feature_costs(folder, training.frame[spec.entity_columns], settings)
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
    log.info(
        "training set %s..%s: %d rows from %s, sha256 %s%s",
        summary["start"],
        summary["end"],
        summary["rows"],
        summary["feature_service"],
        summary["sha256"],
        f", {training.dropped_unmatched} labels without features dropped" if training.dropped_unmatched else "",
    )
    return summary


def _write_feature_costs(folder: Path, entities: pd.DataFrame, settings: Settings) -> None:
    from driftloop.features.point_in_time import service_lookups

    lookups = service_lookups(active_spec(settings).feast.feature_service, settings)
    costs = feature_group_costs(entities, lookups, settings.model.seed)
    (folder / "feature_costs.json").write_text(json.dumps(costs, indent=2))


def _read_json(folder: Path, name: str, default):
    path = folder / name
    return json.loads(path.read_text()) if path.exists() else default


def model_input_columns(frame: pd.DataFrame, settings: Settings) -> list[str]:
    """The model's inputs among a training set's columns: its features (not keys, as-of date or targets) as the
    spec's ``[model]`` selects them (``exclude``, ``key_inputs``)."""
    spec = active_spec(settings)
    features = [c for c in frame.columns if c not in spec.not_features]
    return spec.model_inputs(features)


def step_split(folder: Path) -> dict:
    """Split the snapshot by time: the test split is the most recent period."""
    summary = json.loads((folder / "training_set.json").read_text())
    with measured(folder, "split"):
        split = time_split(pd.read_parquet(summary["path"]), ENTITY_TIMESTAMP)
        counts = {}
        for name in SPLITS:
            part = getattr(split, name)
            part.to_parquet(folder / f"{name}.parquet", index=False)
            counts[name] = len(part)
    log.info("split by time: %s", ", ".join(f"{name} {rows} rows" for name, rows in counts.items()))
    return counts


def _load_split(folder: Path):
    from driftloop.model.training import Split

    return Split(*(pd.read_parquet(folder / f"{name}.parquet") for name in SPLITS))


def step_train(folder: Path, params: dict | None, settings: Settings, tune: bool = False) -> dict:
    """Train XGBoost with early stopping; save the booster and what scoring it needs. With ``tune``, a random search
    (``DRIFTLOOP_TUNE_TRIALS`` trials, :mod:`driftloop.quality.tuning`) picks the parameters first. A NaN or
    infinite loss fails the step."""
    with measured(folder, "train"):
        split = _load_split(folder)
        columns = model_input_columns(split.train, settings)
        (folder / "tuning.json").unlink(missing_ok=True)
        if tune:
            searched = tuning.tune(
                split,
                settings.task_type,
                columns,
                params,
                settings.quality.tune_trials,
                settings.model.seed,
                settings.model.device,
            )
            (folder / "tuning.json").write_text(json.dumps(searched, indent=2))
            params = searched["best"]["params"]
        model = train_model(split, settings.task_type, columns, params, settings.model.seed, settings.model.device)
        check_training_curve(model.evals_result)
    model.booster.save_model(folder / "model.ubj")
    meta = {
        "task_type": model.task_type,
        "feature_columns": model.feature_columns,
        "params": model.params,
        "best_iteration": model.best_iteration,
        "device": model.device,
    }
    (folder / "model.json").write_text(json.dumps(meta, indent=2))
    log.info("trained on %s, best iteration %d, params %s", model.device, model.best_iteration, model.params)
    return {"device": model.device, "best_iteration": model.best_iteration}


def load_trained(folder: Path) -> TrainedModel:
    """The model a ``step_train`` saved."""
    meta = json.loads((folder / "model.json").read_text())
    booster = xgb.Booster()
    booster.load_model(folder / "model.ubj")
    return TrainedModel(booster=booster, **meta)


def step_evaluate(folder: Path, settings: Settings) -> dict:
    """Metrics of the model and of a simple baseline on the test split, overall and per slice."""
    with measured(folder, "evaluate"):
        split, model = _load_split(folder), load_trained(folder)
        target = target_column(model.task_type)
        spec = active_spec(settings)
        slices = evaluation_slices(split.test, spec)
        evaluation = evaluate(model.task_type, split.test[target], predict(model, split.test), slices)
        numeric = [c for c in model.feature_columns if c not in categorical_columns()]
        baseline_scores = baseline_predictions(model.task_type, split.train, split.test, numeric, target)
        baseline = evaluate(model.task_type, split.test[target], baseline_scores, slices)
        check_finite_metrics(evaluation, "model")
        check_finite_metrics(baseline, "baseline")
        importance = permutation_importance(model, split.validation, settings.model.seed)
        gaps = parity_gaps(evaluation, spec.inclusion.sensitive_slices, primary_metric(model.task_type)[0])
        checks = {"importance": importance, "non_helping_features": non_helping(importance), "parity_gaps": gaps}
        (folder / "evaluation.json").write_text(json.dumps(evaluation, indent=2))
        (folder / "baseline.json").write_text(json.dumps(baseline, indent=2))
        (folder / "quality_checks.json").write_text(json.dumps(checks, indent=2))
    log.info("test metrics: model %s; baseline %s", evaluation["overall"], baseline["overall"])
    return {
        "model": evaluation["overall"],
        "baseline": baseline["overall"],
        "non_helping_features": checks["non_helping_features"],
    }


def _quality_tags(folder: Path, settings: Settings) -> tuple[dict[str, str], str]:
    """The ML Test Score results of the run's steps as MLflow tags, and the model card sections showing them."""
    checks = _read_json(folder, "quality_checks.json", {})
    costs = _read_json(folder, "feature_costs.json", {})
    searched = _read_json(folder, "tuning.json", None)
    compute = read_compute(folder)
    history = recent_compute(
        settings.mlflow_tracking_uri, settings.model.name, settings.quality.compute_history_runs, folder.name
    )
    regressions = compute_regressions(compute, history, settings.quality.compute_regression_factor)
    gaps = checks.get("parity_gaps", {})
    metric = primary_metric(settings.task_type)[0]
    tags = {
        "non_helping_features": ", ".join(checks.get("non_helping_features", [])) or "-",
        "feature_costs": json.dumps(
            {name: [c["seconds_per_1k_rows"], c["bytes_per_row"]] for name, c in costs.items()}, separators=(",", ":")
        ),
        "parity_gaps": json.dumps({name: gap["gap"] for name, gap in gaps.items()}),
        "library_versions": json.dumps(library_versions(), separators=(",", ":")),
        "compute": json.dumps(compute, separators=(",", ":")),
        "compute_regressions": "; ".join(regressions) or "-",
    }
    sections = [importance_section(checks.get("importance", {}), costs), inclusion_section(gaps, metric)]
    if searched is not None:
        tags["tuning"] = json.dumps(
            {
                "metric": searched["metric"],
                "search_space": searched["search_space"],
                "trials": [[t["validation"], t["best_iteration"]] for t in searched["trials"]],
                "best": searched["best"]["params"],
            },
            separators=(",", ":"),
        )
        sections.append(
            f"## Tuning\n\n{len(searched['trials'])} trials, best validation {searched['metric']} "
            f"{searched['best']['validation']:.4f} with `{json.dumps(searched['best']['params'])}`.\n"
        )
    sections.append(_offline_online_section(settings))
    return tags, "\n" + "\n".join(sections)


def _offline_online_section(settings: Settings) -> str:
    """The model card's section on how earlier versions' offline test metric compared with production."""
    from driftloop.monitoring import drift_records

    observations = [
        r.metrics["quality"]
        for r in drift_records.records(settings.monitoring.drift_db_url, settings.model.name)
        if r.metrics.get("quality")
    ]
    result = offline_online(observations)
    if not result["versions"]:
        return "## Offline and online quality\n\nNo version has matured production labels yet.\n"
    rows = "\n".join(
        f"| {v} | {o['offline']:.4f} | {o['online']:.4f} | {o['days']} |" for v, o in result["versions"].items()
    )
    correlation = "n/a (fewer than three versions)" if result["correlation"] is None else f"{result['correlation']:.3f}"
    return (
        "## Offline and online quality\n\n| version | test | production (matured labels) | days |\n"
        f"| --- | --- | --- | --- |\n{rows}\n\nCorrelation across versions: {correlation}.\n"
    )


def step_register(folder: Path, tags: dict[str, str], settings: Settings) -> dict:
    """Log the run to MLflow with its lineage and register a new version as ``challenger``, keyed on the run folder:
    a retry finds the run and version an earlier try made instead of making new ones."""
    summary = json.loads((folder / "training_set.json").read_text())
    split, model = _load_split(folder), load_trained(folder)
    quality_tags, card_sections = _quality_tags(folder, settings)
    tags = {
        **tags,
        **quality_tags,
        "feature_service": summary["feature_service"],
        "snapshot_sha256": summary["sha256"],
        "snapshot_path": summary["path"],
        "training_window": f"{summary['start']}..{summary['end']}",
        "dropped_unmatched_labels": str(summary.get("dropped_unmatched_labels", 0)),
    }
    if tags.get("dag_id") and tags.get("run_id"):
        tags["airflow_run_url"] = model_registry.airflow_run_url(
            settings.links.airflow_ui_url, tags["dag_id"], tags["run_id"]
        )
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
        card_sections=card_sections,
    )
    (folder / "registered.json").write_text(json.dumps(asdict(logged)))
    log.info(
        "registered %s version %s (MLflow run %s) as challenger", settings.model.name, logged.version, logged.run_id
    )
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
        decision = decide_promotion(
            json.loads((folder / "evaluation.json").read_text()),
            champion_eval,
            json.loads((folder / "baseline.json").read_text()),
            model.task_type,
            settings.model.promotion_margin,
            settings.model.slice_tolerance,
            force=force,
            compared_on=test_labels_described(split.test, json.loads((folder / "training_set.json").read_text())),
        )
        gaps = _read_json(folder, "quality_checks.json", {}).get("parity_gaps", {})
        within, reasons = gap_reasons(gaps, settings.quality.max_parity_gap)
        return PromotionDecision(decision.promote and (within or force), [*decision.reasons, *reasons])

    kind = "force_promote" if force else "gate"
    champion = model_registry.version_by_alias(uri, name, "champion") if settings.quality.shadow_days > 0 else None
    if champion is not None and not force:
        offline = decide(str(champion.version))
        if offline.promote:
            shadow = start_shadow(uri, name, registered["version"], settings.quality.shadow_days)
            return {
                "version": registered["version"],
                "promote": False,
                "reasons": [*offline.reasons, shadow],
                "previous_champion": None,
                "champion_before": str(champion.version),
                "champion": str(champion.version),
                "champion_history": model_registry.read_history(uri, name).table(),
            }
    outcome = model_registry.gate_version(uri, name, registered["version"], decide, kind)
    verdict = "promoted to champion" if outcome.decision.promote else "NOT promoted"
    log.info("version %s %s:", registered["version"], verdict)
    for reason in outcome.decision.reasons:
        log.info("  - %s", reason)
    log.info("champion history of %s:\n%s", name, outcome.history.table())
    return {
        "version": registered["version"],
        "promote": outcome.decision.promote,
        "reasons": outcome.decision.reasons,
        "previous_champion": outcome.previous,
        "champion_before": outcome.compared_with,
        "champion": outcome.history.champion,
        "champion_history": outcome.history.table(),
    }
