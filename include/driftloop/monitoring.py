"""Drift and quality monitoring of a scored day with Evidently, recorded where the drift sensor looks.

For a day that ``score`` wrote, against the model version that scored it:

- **data drift**: the version's training snapshot (reference) against the day's scored feature rows (current), with
  explicit methods and thresholds per column type (settings ``DRIFTLOOP_DRIFT_*``; by default normed Wasserstein
  distance for numeric and Jensen-Shannon distance for categorical columns, both 0.1, effect sizes that do not
  raise false alarms just because samples are large), and a dataset verdict when the share of drifted columns
  reaches ``DRIFTLOOP_DRIFT_SHARE``. Both sides are sampled to at most ``DRIFTLOOP_DRIFT_SAMPLE_ROWS`` rows, seeded.
- **prediction drift**: the version's scores on the reference against the day's scores.
- **model quality**, once labels matured: the predictions made ``label_horizon_days`` earlier joined with the
  labels that arrived since, compared with the version's own test metric (``DRIFTLOOP_QUALITY_DROP_TOLERANCE``).

The HTML reports and JSON snapshots go to the reports store (a folder or S3), the numbers to an MLflow run against
the version, and the verdict to a drift record (``driftloop.drift_records``), written idempotently per day and
version.
"""

from __future__ import annotations

import hashlib
import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from driftloop import drift_records, lake, model_registry
from driftloop.settings import Settings, get_settings
from driftloop.training import CATEGORIES, target_column

NOT_FEATURES = {"customer_id", "event_timestamp", "as_of_date", "churned", "future_watch_hours", "prediction"}
QUALITY_METRICS = {"classification": ("roc_auc", "RocAuc"), "regression": ("rmse", "RMSE")}
MIN_CLASS_ROWS = 30
"""Matured labels of each class a classification quality check needs: with fewer, ROC AUC is noise."""


class MonitoringError(ValueError):
    """A day cannot be monitored: nothing scored, or the reference cannot be found; the message says which."""


@dataclass(frozen=True)
class DriftResult:
    """Data and prediction drift of one day."""

    columns: dict[str, float]
    drifted_columns: list[str]
    drift_share: float
    dataset_drift: bool
    prediction_drift: float
    prediction_drifted: bool
    reference_rows: int
    current_rows: int


@dataclass(frozen=True)
class MonitorResult:
    """What monitoring a day found and wrote."""

    day: date
    model_version: str
    verdict: str
    drift: DriftResult
    quality: dict = field(default_factory=dict)
    report_uri: str = ""
    record_id: int = 0

    def summary(self) -> str:
        """One line for the task log."""
        line = (
            f"{self.day} v{self.model_version}: verdict {self.verdict.upper()}; drift share "
            f"{self.drift.drift_share:.2f} ({len(self.drift.drifted_columns)} columns"
            + (f": {', '.join(self.drift.drifted_columns)}" if self.drift.drifted_columns else "")
            + f"), prediction drift {self.drift.prediction_drift:.3f}"
        )
        if self.quality:
            line += f"; quality of {self.quality['interval']}: {self.quality['metric']} {self.quality['value']:.4f}"
            line += f" vs test {self.quality['reference']:.4f}"
        return line + f"; report {self.report_uri} (record {self.record_id})"


def sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """At most ``max_rows`` rows of ``frame``, drawn with ``seed`` (all rows, in order, when it is small enough)."""
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True)
    return frame.sample(n=max_rows, random_state=seed).sort_index().reset_index(drop=True)


def feature_columns(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    """The feature columns both sides carry, in the reference's order."""
    return [c for c in reference.columns if c not in NOT_FEATURES and c in current.columns]


def _data_definition(columns: list[str], extra_numeric: list[str]):
    from evidently import DataDefinition

    categorical = [c for c in columns if c in CATEGORIES]
    numeric = [c for c in columns if c not in CATEGORIES] + extra_numeric
    return DataDefinition(numerical_columns=numeric, categorical_columns=categorical)


def drift_report(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], settings: Settings
) -> tuple[object, DriftResult]:
    """Evidently data drift of ``columns`` and prediction drift (column ``prediction`` on both sides); returns the
    snapshot (for HTML/JSON) and the parsed result.

    The report holds the metrics Evidently's ``DataDriftPreset`` generates, with the same methods and thresholds:
    the count and share of drifted columns and one ``ValueDrift`` per column, each shown with its own distribution
    plots. The preset itself is not used because it computes every column's drift once more for a legacy table,
    which it renders in place of the per-column plots its metrics already drew."""
    from evidently import Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    config = settings.monitoring
    definition = _data_definition(columns, ["prediction"])
    thresholds = {c: config.cat_threshold if c in CATEGORIES else config.num_threshold for c in columns}
    report = Report(
        [
            DriftedColumnsCount(
                columns=columns,
                num_method=config.num_method,
                num_threshold=config.num_threshold,
                cat_method=config.cat_method,
                cat_threshold=config.cat_threshold,
                drift_share=config.drift_share,
            ),
            *(
                ValueDrift(
                    column=c,
                    method=config.cat_method if c in CATEGORIES else config.num_method,
                    threshold=thresholds[c],
                )
                for c in columns
            ),
            ValueDrift(column="prediction", method=config.num_method, threshold=config.prediction_threshold),
        ]
    )
    snapshot = report.run(
        Dataset.from_pandas(current[[*columns, "prediction"]], data_definition=definition),
        Dataset.from_pandas(reference[[*columns, "prediction"]], data_definition=definition),
    )
    scores: dict[str, float] = {}
    for metric in snapshot.dict()["metrics"]:
        if metric["config"].get("type", "").endswith(":ValueDrift"):
            scores[metric["config"]["column"]] = float(metric["value"])
    prediction = scores.pop("prediction")
    drifted = [c for c in columns if scores[c] >= thresholds[c]]
    share = len(drifted) / len(columns) if columns else 0.0
    return snapshot, DriftResult(
        columns=scores,
        drifted_columns=drifted,
        drift_share=share,
        dataset_drift=share >= config.drift_share,
        prediction_drift=prediction,
        prediction_drifted=prediction >= config.prediction_threshold,
        reference_rows=len(reference),
        current_rows=len(current),
    )


def quality_report(labelled: pd.DataFrame, task_type: str) -> tuple[object, dict[str, float]]:
    """Evidently's classification or regression preset on predictions joined with their matured labels."""
    from evidently import BinaryClassification, DataDefinition, Dataset, Regression, Report
    from evidently.presets import ClassificationPreset, RegressionPreset

    target = target_column(task_type)
    frame = pd.DataFrame({"target": labelled[target].astype(float), "prediction": labelled["prediction"]})
    if task_type == "classification":
        frame["target"] = frame["target"].astype(int)
        definition = DataDefinition(
            numerical_columns=["prediction"],
            classification=[BinaryClassification(target="target", prediction_probas="prediction")],
        )
        preset = ClassificationPreset()
    else:
        definition = DataDefinition(
            numerical_columns=["target", "prediction"],
            regression=[Regression(target="target", prediction="prediction")],
        )
        preset = RegressionPreset()
    with warnings.catch_warnings():
        # Precision at the default 0.5 cut is undefined when no customer scores that high; ROC AUC is what counts.
        warnings.simplefilter("ignore")
        snapshot = Report([preset]).run(Dataset.from_pandas(frame, data_definition=definition), None)
    values: dict[str, float] = {}
    for metric in snapshot.dict()["metrics"]:
        name, value = metric["config"].get("type", "").rsplit(":", 1)[-1], metric["value"]
        if isinstance(value, int | float):
            values[name] = float(value)
        elif isinstance(value, dict) and "mean" in value:
            values[name] = float(value["mean"])
    return snapshot, values


def quality_dropped(metric: str, value: float, reference: float, tolerance: float) -> bool:
    """Whether matured quality fell beyond ``tolerance`` from the version's test metric: ROC AUC lower by more than
    ``tolerance``, or RMSE higher by more than that fraction."""
    if metric == "roc_auc":
        return value < reference - tolerance
    return value > reference * (1.0 + tolerance)


def reference_frame(version, settings: Settings) -> pd.DataFrame:
    """The training snapshot a registered version was trained on, checked against its recorded hash."""
    path, digest = version.tags.get("snapshot_path"), version.tags.get("snapshot_sha256")
    if not path or not digest:
        raise MonitoringError(f"version {version.version} has no snapshot_path/snapshot_sha256 tags to monitor against")
    snapshot = Path(path)
    if not snapshot.exists():
        raise MonitoringError(f"training snapshot of version {version.version} is gone: {snapshot}")
    actual = hashlib.sha256(snapshot.read_bytes()).hexdigest()
    if actual != digest:
        raise MonitoringError(
            f"training snapshot {snapshot} changed since version {version.version} was trained "
            f"(sha256 {actual[:12]}, recorded {digest[:12]})"
        )
    return pd.read_parquet(snapshot)


def scored_day(day: date, settings: Settings) -> pd.DataFrame:
    """The day's scored feature rows with their prediction and model version."""
    predictions_path = settings.predictions_dir / f"{lake.partition_name(day)}.parquet"
    features_path = settings.scored_features_dir / f"{lake.partition_name(day)}.parquet"
    for path in (predictions_path, features_path):
        if not path.exists():
            raise MonitoringError(f"{day} was not scored: {path} does not exist (run `score` for it first)")
    predictions = pd.read_parquet(predictions_path, columns=["customer_id", "prediction", "model_version"])
    return pd.read_parquet(features_path).merge(predictions, on="customer_id", how="inner", validate="one_to_one")


def matured_quality(day: date, settings: Settings) -> tuple[object, dict] | None:
    """Quality of the predictions made ``label_horizon_days`` before ``day``, whose labels have arrived by now;
    None when that day was not scored or has too few labels (``DRIFTLOOP_QUALITY_MIN_ROWS`` rows and, for
    classification, :data:`MIN_CLASS_ROWS` of each class)."""
    from driftloop.training_set import label_events

    scored = day - timedelta(days=settings.label_horizon_days)
    path = settings.predictions_dir / f"{lake.partition_name(scored)}.parquet"
    if not path.exists():
        return None
    labels = label_events(scored, scored, settings)
    if labels.empty:
        return None
    predictions = pd.read_parquet(path, columns=["customer_id", "prediction", "model_version"])
    labelled = predictions.merge(labels, on="customer_id", how="inner")
    target = target_column(settings.task_type)
    if len(labelled) < settings.monitoring.quality_min_rows:
        return None
    if settings.task_type == "classification" and labelled[target].value_counts().reindex([0, 1]).fillna(0).min() < (
        MIN_CLASS_ROWS
    ):
        return None
    snapshot, values = quality_report(labelled, settings.task_type)
    metric, evidently_name = QUALITY_METRICS[settings.task_type]
    version = str(labelled["model_version"].iloc[0])
    registry = model_registry.client(settings.mlflow_tracking_uri)
    run = registry.get_run(registry.get_model_version(settings.model.name, version).run_id)
    reference = float(run.data.metrics[f"test_{metric}"])
    value = values[evidently_name]
    dropped = quality_dropped(metric, value, reference, settings.monitoring.quality_drop_tolerance)
    return snapshot, {
        "interval": scored.isoformat(),
        "model_version": version,
        "rows": int(len(labelled)),
        "metric": metric,
        "value": value,
        "reference": reference,
        "dropped": bool(dropped),
        "metrics": values,
    }


def save_report(snapshot, uri: str, name: str) -> str:
    """Write ``name``.html and ``name``.json of an Evidently snapshot under ``uri`` (a folder or s3://bucket/prefix);
    returns the HTML report's location. A folder's files are written in place, each replaced atomically."""
    if uri.startswith("s3://"):
        import boto3

        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        s3 = boto3.client("s3")
        with tempfile.TemporaryDirectory() as scratch:
            for suffix, save in ((".html", snapshot.save_html), (".json", snapshot.save_json)):
                path = Path(scratch) / f"report{suffix}"
                save(str(path))
                s3.upload_file(str(path), bucket, "/".join(p for p in (prefix, f"{name}{suffix}") if p))
        return f"s3://{bucket}/{'/'.join(p for p in (prefix, name) if p)}.html"
    target = Path(uri) / name
    for suffix, save in ((".html", snapshot.save_html), (".json", snapshot.save_json)):
        with lake.replace_file(target.with_suffix(suffix)) as scratch:
            save(str(scratch))
    return str(target.with_suffix(".html"))


def _log_to_mlflow(result: MonitorResult, settings: Settings) -> None:
    import mlflow

    registry = model_registry.client(settings.mlflow_tracking_uri)
    name = f"{settings.model.name}-monitoring"
    experiment = mlflow.get_experiment_by_name(name)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else mlflow.create_experiment(name, artifact_location=f"{settings.mlflow_artifact_root}/monitoring")
    )
    metrics = {
        "drift_share": result.drift.drift_share,
        "prediction_drift": result.drift.prediction_drift,
        **{f"drift.{column}": value for column, value in result.drift.columns.items()},
    }
    if result.quality:
        metrics[f"quality_{result.quality['metric']}"] = result.quality["value"]
    tags = {
        "model_name": settings.model.name,
        "model_version": result.model_version,
        "interval": result.day.isoformat(),
        "verdict": result.verdict,
        "drifted_columns": ", ".join(result.drift.drifted_columns) or "-",
        "report_uri": result.report_uri,
        "drift_record_id": str(result.record_id),
    }
    # A rerun for the same day and version logs into that day's run again instead of adding one.
    earlier = mlflow.search_runs(
        experiment_ids=[experiment_id],
        filter_string=(
            f"tags.model_name = '{settings.model.name}' and tags.model_version = '{result.model_version}' "
            f"and tags.interval = '{result.day.isoformat()}'"
        ),
        order_by=["attributes.start_time ASC"],
        max_results=1,
        output_format="list",
    )
    with mlflow.start_run(
        run_id=earlier[0].info.run_id if earlier else None,
        experiment_id=experiment_id,
        run_name=f"monitor {result.day} v{result.model_version}",
        tags=tags,
    ):
        mlflow.log_metrics(metrics)
    registry.set_model_version_tag(
        settings.model.name,
        result.model_version,
        "last_monitored",
        f"{result.day}: {result.verdict}, drift share {result.drift.drift_share:.2f}, report {result.report_uri}",
    )


def monitor_day(day: date, settings: Settings | None = None) -> MonitorResult:
    """Monitor one scored day: drift and prediction drift against the version's training snapshot, quality of the
    predictions whose labels matured; save the reports, log to MLflow and upsert the drift record."""
    settings = settings or get_settings()
    config = settings.monitoring
    current = scored_day(day, settings)
    versions = sorted(current["model_version"].astype(str).unique())
    if len(versions) != 1:
        raise MonitoringError(f"{day} was scored by several versions {versions}: rescore the day first")
    version_number = versions[0]
    version = model_registry.client(settings.mlflow_tracking_uri).get_model_version(settings.model.name, version_number)
    reference = reference_frame(version, settings)
    columns = feature_columns(reference, current)
    reference = sample(reference, config.sample_rows, settings.model.seed)
    current = sample(current, config.sample_rows, settings.model.seed)
    reference = reference.assign(
        prediction=model_registry.predict_with_version(
            settings.mlflow_tracking_uri, settings.model.name, version_number, reference, columns
        )
    )
    snapshot, drift = drift_report(reference, current, columns, settings)
    name = f"dt={day.isoformat()}/{settings.model.name}_v{version_number}"
    report_uri = save_report(snapshot, f"{config.reports_uri}/drift", name)
    quality = matured_quality(day, settings)
    quality_info: dict = {}
    if quality is not None:
        quality_snapshot, quality_info = quality
        quality_info["report_uri"] = save_report(quality_snapshot, f"{config.reports_uri}/quality", name)
    if drift.dataset_drift or drift.prediction_drifted:
        verdict = "drift"
    elif quality_info.get("dropped"):
        verdict = "quality_drop"
    else:
        verdict = "no_drift"
    record = drift_records.upsert_record(
        config.drift_db_url,
        model_name=settings.model.name,
        model_version=version_number,
        interval_start=day,
        interval_end=day + timedelta(days=1),
        verdict=verdict,
        drift_share=drift.drift_share,
        drifted_columns=drift.drifted_columns,
        metrics={
            "columns": drift.columns,
            "dataset_drift": drift.dataset_drift,
            "prediction_drift": drift.prediction_drift,
            "prediction_drifted": drift.prediction_drifted,
            "reference_rows": drift.reference_rows,
            "current_rows": drift.current_rows,
            "quality": {k: v for k, v in quality_info.items() if k != "metrics"},
            "thresholds": {
                "num_method": config.num_method,
                "num_threshold": config.num_threshold,
                "cat_method": config.cat_method,
                "cat_threshold": config.cat_threshold,
                "drift_share": config.drift_share,
                "prediction_threshold": config.prediction_threshold,
            },
        },
        report_uri=report_uri,
    )
    result = MonitorResult(
        day=day,
        model_version=version_number,
        verdict=verdict,
        drift=drift,
        quality=quality_info,
        report_uri=report_uri,
        record_id=record.id,
    )
    _log_to_mlflow(result, settings)
    return result
