"""Drift and quality monitoring of a scored day with Evidently, recorded where the drift sensor looks.

For a day that ``score`` wrote, against the model version that scored it:

- **data drift**: the version's training snapshot (reference; only rows whose rolling feature windows were
  complete) against the scored feature rows (current) of the day and the ``DRIFTLOOP_DRIFT_WINDOW_DAYS - 1`` days
  before it that the same version scored, with explicit methods per column type (settings ``DRIFTLOOP_DRIFT_*``; by
  default normed Wasserstein distance for numeric and Jensen-Shannon distance for categorical columns, effect sizes
  that do not raise false alarms just because samples are large). Each column's threshold is the larger of its
  effect-size floor (0.1) and the sampling noise of a clean sample of the current size, bootstrapped from the
  reference (``driftloop.monitoring.drift_thresholds``), so small samples are not told "drift" by noise. The day
  drifts when the share of drifted columns reaches ``DRIFTLOOP_DRIFT_SHARE``, when one column is beyond the severe
  distance (``DRIFTLOOP_DRIFT_SEVERE_THRESHOLD``, scaled like its threshold), or on prediction drift; the record names
  which in its ``reasons``. Both sides are sampled to at most ``DRIFTLOOP_DRIFT_SAMPLE_ROWS`` rows, seeded. With fewer
  than ``DRIFTLOOP_DRIFT_MIN_ROWS`` current rows the verdict is ``insufficient_data``, never ``drift``. Columns the
  spec leaves out (``[monitoring]``: excluded, or constant within a day such as a weekday) are not compared.
- **prediction drift**: the version's scores on the reference against the day's scores, with a threshold calibrated
  the same way.
- **model quality**, once labels matured: the predictions made ``label_horizon_days`` earlier joined with the
  labels that arrived since, compared with the version's own test metric (``DRIFTLOOP_QUALITY_DROP_TOLERANCE``).

The ML Test Score checks of monitoring (``driftloop.quality``) run beside these: the version's staleness (age of its
newest training label, ``stale`` beyond ``DRIFTLOOP_MAX_MODEL_AGE_DAYS``), upstream schema changes of the window's
days and library versions changed since the version's training (both as ``notices``), and, from the matured
quality of every drift record, offline vs online quality per version with their correlation and quality by model
age (``metrics.production``); and the shadow of a challenger in canary (``metrics.canary``, see
``driftloop.quality.canary``), which promotes it once its shadow days passed.

The verdict is computed from the distances alone (``drift_thresholds.distances``, equal to Evidently's
``ValueDrift`` numbers for the default methods; other methods go through Evidently), without building a report. The
Evidently report and snapshot, whose plotly figures cost more than the statistics, are built for a day that drifted,
for every day with ``DRIFTLOOP_DRIFT_REPORTS=always``, and on demand (``render_drift_report``, ``driftloop
drift-report --day``); any other day gets a summary page and the JSON of its result. The monitoring dashboard's
snapshots are built off the critical path by :func:`dashboard_day` (the ``monitor`` DAG's ``update_dashboard`` task,
which nothing waits for), on the same sampled rows and thresholds as the verdict.

The HTML reports (opening with a header: day, model version, reference, current days, verdict) and JSON snapshots
go to the reports store (a folder or S3), the numbers and the HTML reports to an MLflow run against the version (its
artifacts ``drift/report.html``, ``quality/report.html``), and the verdict to a drift record
(``driftloop.monitoring.drift_records``), all written idempotently per day and version.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from driftloop.dates import as_of_timestamp
from driftloop.model import model_registry
from driftloop.model.training import categorical_columns, target_column
from driftloop.monitoring import dashboard, drift_records, drift_thresholds
from driftloop.monitoring.drift_thresholds import Thresholds
from driftloop.quality.canary import shadow_check
from driftloop.quality.dependencies import library_changes, library_versions, schema_notices
from driftloop.quality.production import offline_online, quality_by_age
from driftloop.quality.staleness import staleness
from driftloop.settings import MonitoringSettings, Settings, get_settings
from driftloop.storage import lake
from driftloop.usecase.active import active_spec
from driftloop.usecase.spec import ENTITY_TIMESTAMP

log = logging.getLogger(__name__)

QUALITY_METRICS = {"classification": ("roc_auc", "RocAuc"), "regression": ("rmse", "RMSE")}
MIN_CLASS_ROWS = 30
"""Matured labels of each class a classification quality check needs: with fewer, ROC AUC is noise."""


class MonitoringError(ValueError):
    """A day cannot be monitored: nothing scored, or the reference cannot be found; the message says which."""


@dataclass(frozen=True)
class DriftResult:
    """Data and prediction drift of one day, judged by thresholds for its sample size."""

    columns: dict[str, float]
    drifted_columns: list[str]
    drift_share: float
    dataset_drift: bool
    prediction_drift: float
    prediction_drifted: bool
    reference_rows: int
    current_rows: int
    thresholds: Thresholds
    severe_columns: list[str]
    enough_rows: bool
    drifted: bool
    """Whether the day drifted: enough rows, and a severe column, the share of drifted columns or the prediction."""
    reasons: list[str]
    """Why the day drifted (each clause that fired), or why it could not be judged."""


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
    reasons: list[str] = field(default_factory=list)
    staleness: dict = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    production: dict = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the task log."""
        line = (
            f"{self.day} v{self.model_version}: verdict {self.verdict.upper()}"
            + (f" ({'; '.join(self.reasons)})" if self.reasons else "")
            + "; drift share "
            f"{self.drift.drift_share:.2f} ({len(self.drift.drifted_columns)} columns"
            + (f": {', '.join(self.drift.drifted_columns)}" if self.drift.drifted_columns else "")
            + f"), prediction drift {self.drift.prediction_drift:.3f}"
        )
        if self.quality:
            line += f"; quality of {self.quality['interval']}: {self.quality['metric']} {self.quality['value']:.4f}"
            line += f" vs test {self.quality['reference']:.4f}"
        if "age_days" in self.staleness:
            line += f"; model age {self.staleness['age_days']} days ({self.staleness['verdict'].upper()})"
        if self.notices:
            line += f"; NOTICES: {'; '.join(self.notices)}"
        return line + f"; report {self.report_uri} (record {self.record_id})"


def sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """At most ``max_rows`` rows of ``frame``, drawn with ``seed`` (all rows, in order, when it is small enough)."""
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True)
    return frame.sample(n=max_rows, random_state=seed).sort_index().reset_index(drop=True)


def feature_columns(reference: pd.DataFrame, current: pd.DataFrame, settings: Settings | None = None) -> list[str]:
    """The columns drift compares: features both sides carry, in the reference's order, less those the use case's
    ``[monitoring]`` leaves out."""
    spec = active_spec(settings)
    return spec.drift_columns([c for c in reference.columns if c in current.columns])


def _data_definition(columns: list[str], extra_numeric: list[str]):
    from evidently import DataDefinition

    categories = categorical_columns()
    categorical = [c for c in columns if c in categories]
    numeric = [c for c in columns if c not in categories] + extra_numeric
    return DataDefinition(numerical_columns=numeric, categorical_columns=categorical)


def day_thresholds(
    reference: pd.DataFrame,
    current_rows: int,
    columns: list[str],
    settings: Settings,
    cache: tuple[Path, dict] | None = None,
) -> Thresholds:
    """The thresholds a day of ``current_rows`` rows is judged by against ``reference`` (with its ``prediction``
    column): see :mod:`driftloop.monitoring.drift_thresholds`; ``cache`` is where and under which key they are kept."""
    return drift_thresholds.calibrate(
        reference, columns, categorical_columns(), current_rows, settings.monitoring, settings.model.seed, cache
    )


def judge_drift(
    scores: dict[str, float],
    prediction: float,
    thresholds: Thresholds,
    reference_rows: int,
    current_rows: int,
    config: MonitoringSettings,
) -> DriftResult:
    """The verdict rule on a day's distances: a column drifts at its threshold; the day drifts when one column is
    beyond its severe distance, when the share of drifted columns reaches ``drift_share``, or when the prediction
    drifts; with fewer than ``drift_min_rows`` current rows it cannot drift at all."""
    columns = list(thresholds.columns)
    drifted = [c for c in columns if scores[c] >= thresholds.columns[c]]
    severe = [c for c in columns if scores[c] >= thresholds.severe[c]]
    share = len(drifted) / len(columns) if columns else 0.0
    dataset_drift = bool(columns) and share >= config.drift_share
    prediction_drifted = prediction >= thresholds.prediction
    enough_rows = current_rows >= config.drift_min_rows
    if not enough_rows:
        reasons = [f"{current_rows} current rows, fewer than DRIFTLOOP_DRIFT_MIN_ROWS={config.drift_min_rows}"]
    else:
        reasons = [f"severe column {c} {scores[c]:.3f} >= {thresholds.severe[c]:.3f}" for c in severe]
        if dataset_drift:
            reasons.append(f"drift share {share:.2f} >= {config.drift_share} ({len(drifted)} of {len(columns)})")
        if prediction_drifted:
            reasons.append(f"prediction drift {prediction:.3f} >= {thresholds.prediction:.3f}")
    return DriftResult(
        columns=scores,
        drifted_columns=drifted,
        drift_share=share,
        dataset_drift=dataset_drift,
        prediction_drift=prediction,
        prediction_drifted=prediction_drifted,
        reference_rows=reference_rows,
        current_rows=current_rows,
        thresholds=thresholds,
        severe_columns=severe,
        enough_rows=enough_rows,
        drifted=enough_rows and bool(severe or dataset_drift or prediction_drifted),
        reasons=reasons,
    )


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str],
    settings: Settings,
    thresholds: Thresholds | None = None,
    run_labels: dict | None = None,
) -> tuple[object, DriftResult]:
    """Evidently data drift of ``columns`` and prediction drift (column ``prediction`` on both sides), judged by
    ``thresholds`` (default: calibrated for ``current``'s size, uncached); returns the snapshot (for HTML/JSON) and
    the parsed result. ``run_labels`` (``driftloop.monitoring.dashboard.run_labels``) stamp the snapshot with its day,
    version and kind for the dashboard.

    The report holds the metrics Evidently's ``DataDriftPreset`` generates, with the same methods and each column's
    own threshold: the count and share of drifted columns and one ``ValueDrift`` per column, each shown with its own
    distribution plots. The preset itself is not used because it computes every column's drift once more for a
    legacy table, which it renders in place of the per-column plots its metrics already drew."""
    from evidently import Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    config = settings.monitoring
    thresholds = thresholds or day_thresholds(reference, len(current), columns, settings)
    categories = categorical_columns()
    definition = _data_definition(columns, ["prediction"])
    report = Report(
        [
            DriftedColumnsCount(
                columns=columns,
                num_method=config.num_method,
                cat_method=config.cat_method,
                per_column_threshold=thresholds.columns,
                drift_share=config.drift_share,
            ),
            *(
                ValueDrift(
                    column=c,
                    method=config.cat_method if c in categories else config.num_method,
                    threshold=thresholds.columns[c],
                )
                for c in columns
            ),
            ValueDrift(column="prediction", method=config.num_method, threshold=thresholds.prediction),
        ]
    )
    snapshot = report.run(
        Dataset.from_pandas(current[[*columns, "prediction"]], data_definition=definition),
        Dataset.from_pandas(reference[[*columns, "prediction"]], data_definition=definition),
        **(run_labels or {}),
    )
    scores: dict[str, float] = {}
    for metric in snapshot.dict()["metrics"]:
        if metric["config"].get("type", "").endswith(":ValueDrift"):
            scores[metric["config"]["column"]] = float(metric["value"])
    prediction = scores.pop("prediction")
    return snapshot, judge_drift(scores, prediction, thresholds, len(reference), len(current), config)


def drift_scores(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str],
    settings: Settings,
    thresholds: Thresholds | None = None,
) -> DriftResult:
    """The same judgement as :func:`drift_report` without building a report: the distances of the calibrated
    methods (normed Wasserstein, Jensen-Shannon) are computed as Evidently computes them; any other configured method
    goes through Evidently's report."""
    config = settings.monitoring
    categories = categorical_columns()
    if not all(drift_thresholds.calibrated(c, categories, config.num_method, config.cat_method) for c in columns):
        return drift_report(reference, current, columns, settings, thresholds)[1]
    thresholds = thresholds or day_thresholds(reference, len(current), columns, settings)
    scores = drift_thresholds.distances(reference, current, [*columns, "prediction"], categories)
    prediction = scores.pop("prediction")
    return judge_drift(scores, prediction, thresholds, len(reference), len(current), config)


def day_verdict(drift: DriftResult, quality: dict) -> tuple[str, list[str]]:
    """A day's verdict and its reasons: ``drift`` (see :func:`judge_drift`), else ``quality_drop`` when matured
    quality dropped, else ``no_drift``, or ``insufficient_data`` when the day had too few rows to be judged."""
    if drift.drifted:
        return "drift", drift.reasons
    insufficient = [] if drift.enough_rows else [f"insufficient data: {r}" for r in drift.reasons]
    if quality.get("dropped"):
        dropped = f"{quality['metric']} {quality['value']:.4f} vs test {quality['reference']:.4f} beyond tolerance"
        return "quality_drop", [*insufficient, dropped]
    return ("no_drift", []) if drift.enough_rows else ("insufficient_data", insufficient)


def quality_report(
    labelled: pd.DataFrame, task_type: str, run_labels: dict | None = None
) -> tuple[object, dict[str, float]]:
    """Evidently's classification or regression preset on predictions joined with their matured labels (the
    snapshot stamped with ``run_labels``, see :func:`drift_report`)."""
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
        # Precision at the default 0.5 cut is undefined when no entity scores that high; ROC AUC is what counts.
        warnings.simplefilter("ignore")
        snapshot = Report([preset]).run(
            Dataset.from_pandas(frame, data_definition=definition), None, **(run_labels or {})
        )
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


def complete_from(settings: Settings) -> date | None:
    """The first day whose rolling feature windows were complete: the first day with features plus
    ``feature_window_days - 1``; None before any features exist."""
    days = lake.partition_days(settings.offline_store_dir)
    return days[0] + timedelta(days=settings.feature_window_days - 1) if days else None


def gap_window_days(settings: Settings) -> set[date]:
    """The days whose rolling feature window holds a day without features (a quarantined or missing batch) between
    the first and the last day with features: their windows are short of that day's data."""
    days = lake.partition_days(settings.offline_store_dir)
    if not days:
        return set()
    present = set(days)
    gaps = [days[0] + timedelta(days=i) for i in range((days[-1] - days[0]).days)]
    return {gap + timedelta(days=i) for gap in gaps if gap not in present for i in range(settings.feature_window_days)}


def reference_frame(version, settings: Settings) -> pd.DataFrame:
    """The training snapshot a registered version was trained on, checked against its recorded hash, less the rows
    whose feature windows were incomplete: those dated before :func:`complete_from` (entities with truncated
    histories, e.g. ``active_days_30d`` over a few days, unlike any day monitored later; the default training window
    starts there already, a window chosen by hand may not), and those whose window holds a day without features
    (:func:`gap_window_days`: a quarantined batch leaves every window across it a day short). Rows of gap windows
    are kept when nothing else would be left."""
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
    frame = pd.read_parquet(snapshot)
    first = complete_from(settings)
    if first is None or ENTITY_TIMESTAMP not in frame.columns:
        return frame
    complete = frame[pd.to_datetime(frame[ENTITY_TIMESTAMP], utc=True) >= pd.Timestamp(as_of_timestamp(first))]
    if complete.empty:
        raise MonitoringError(
            f"training snapshot {snapshot} of version {version.version} has no rows with complete "
            f"{settings.feature_window_days}-day feature windows (from {first}): retrain on a later window"
        )
    short = gap_window_days(settings)
    if short:
        without_gaps = complete[~pd.to_datetime(complete[ENTITY_TIMESTAMP], utc=True).dt.date.isin(short)]
        complete = without_gaps if len(without_gaps) else complete
    return complete.reset_index(drop=True)


def _date_span(frame: pd.DataFrame) -> str:
    """``first..last`` day of a snapshot's feature rows, or ``-`` when it has no timestamps."""
    if ENTITY_TIMESTAMP not in frame.columns or frame.empty:
        return "-"
    stamps = pd.to_datetime(frame[ENTITY_TIMESTAMP], utc=True)
    return f"{stamps.min().date()}..{stamps.max().date()}"


def window_days(day: date, settings: Settings) -> list[date]:
    """The days a verdict about ``day`` pools: ``day`` and the ``DRIFTLOOP_DRIFT_WINDOW_DAYS - 1`` before it."""
    return [day - timedelta(days=i) for i in reversed(range(settings.monitoring.window_days))]


def _scored(day: date, settings: Settings) -> pd.DataFrame | None:
    """One scored day's feature rows with their prediction and model version; None when it was not scored."""
    key = active_spec(settings).entity.join_key
    predictions_path = settings.predictions_dir / f"{lake.partition_name(day)}.parquet"
    features_path = settings.scored_features_dir / f"{lake.partition_name(day)}.parquet"
    if not (predictions_path.exists() and features_path.exists()):
        return None
    predictions = pd.read_parquet(predictions_path, columns=[key, "prediction", "model_version"])
    features = pd.read_parquet(features_path)
    return features.merge(predictions, on=key, how="inner", validate="one_to_one").assign(score_date=day)


def scored_day(day: date, settings: Settings) -> pd.DataFrame:
    """The scored feature rows of ``day``'s window (see :func:`window_days`) with their prediction, model version and
    ``score_date``: every row of ``day``, and the rows of earlier window days that the same version scored."""
    current = _scored(day, settings)
    if current is None:
        path = settings.predictions_dir / f"{lake.partition_name(day)}.parquet"
        raise MonitoringError(f"{day} was not scored: {path} or its scored features do not exist (run `score` first)")
    versions = sorted(current["model_version"].astype(str).unique())
    if len(versions) != 1:
        raise MonitoringError(f"{day} was scored by several versions {versions}: rescore the day first")
    earlier = [_scored(d, settings) for d in window_days(day, settings)[:-1]]
    same_version = [f[f["model_version"].astype(str) == versions[0]] for f in earlier if f is not None]
    return pd.concat([*same_version, current], ignore_index=True)


def matured_quality(day: date, settings: Settings, run_labels: dict | None = None) -> tuple[object, dict] | None:
    """Quality of the predictions made ``label_horizon_days`` before ``day``, whose labels have arrived by now;
    None when that day was not scored or has too few labels (``DRIFTLOOP_QUALITY_MIN_ROWS`` rows and, for
    classification, :data:`MIN_CLASS_ROWS` of each class)."""
    from driftloop.model.training_set import label_events

    spec = active_spec(settings)
    key, as_of = spec.entity.join_key, spec.label.as_of_column
    scored = day - timedelta(days=settings.label_horizon_days)
    paths = {d: settings.predictions_dir / f"{lake.partition_name(d)}.parquet" for d in window_days(scored, settings)}
    if not paths[scored].exists():
        return None
    labels = label_events(min(paths), scored, settings)
    if labels.empty:
        return None
    columns = [key, "score_date", "prediction", "model_version"]
    predictions = pd.concat([pd.read_parquet(p, columns=columns) for p in paths.values() if p.exists()])
    version = str(pd.read_parquet(paths[scored], columns=["model_version"])["model_version"].iloc[0])
    predictions = predictions[predictions["model_version"].astype(str) == version]
    predictions = predictions.assign(score_date=pd.to_datetime(predictions["score_date"]).dt.date)
    labels = labels.assign(score_date=pd.to_datetime(labels[as_of]).dt.date)
    labelled = predictions.merge(labels, on=[key, "score_date"], how="inner")
    target = target_column(settings.task_type)
    if len(labelled) < settings.monitoring.quality_min_rows:
        return None
    if settings.task_type == "classification" and labelled[target].value_counts().reindex([0, 1]).fillna(0).min() < (
        MIN_CLASS_ROWS
    ):
        return None
    snapshot, values = quality_report(labelled, settings.task_type, run_labels)
    metric, evidently_name = QUALITY_METRICS[settings.task_type]
    registry = model_registry.client(settings.mlflow_tracking_uri)
    run = registry.get_run(registry.get_model_version(settings.model.name, version).run_id)
    reference = float(run.data.metrics[f"test_{metric}"])
    value = values[evidently_name]
    dropped = quality_dropped(metric, value, reference, settings.monitoring.quality_drop_tolerance)
    return snapshot, {
        "interval": scored.isoformat() if len(paths) == 1 else f"{min(paths)}..{scored}",
        "model_version": version,
        "rows": int(len(labelled)),
        "metric": metric,
        "value": value,
        "reference": reference,
        "dropped": bool(dropped),
        "metrics": values,
    }


def report_header(title: str, facts: dict[str, str]) -> str:
    """The header a report opens with: its title and the facts that say what it judged (day, model version,
    reference, verdict), as HTML."""
    from html import escape

    rows = "".join(
        f"<tr><th style='text-align:left;padding:2px 12px 2px 0'>{escape(k)}</th><td>{escape(v)}</td></tr>"
        for k, v in facts.items()
    )
    return (
        "<header id='driftloop-header' style='font-family:sans-serif;padding:16px 24px;border-bottom:1px solid #ccc'>"
        f"<h1 style='margin:0 0 8px 0;font-size:22px'>{escape(title)}</h1><table>{rows}</table></header>"
    )


def render_report(snapshot, folder: Path, header: str = "") -> tuple[Path, Path]:
    """Write ``report.html`` (opening with ``header``) and ``report.json`` of an Evidently snapshot into ``folder``."""
    html, snapshot_json = folder / "report.html", folder / "report.json"
    snapshot.save_html(str(html))
    snapshot.save_json(str(snapshot_json))
    if header:
        text = html.read_text()
        at = text.find(">", text.find("<body")) + 1 if "<body" in text else 0
        html.write_text(text[:at] + header + text[at:])
    return html, snapshot_json


def save_report(snapshot, uri: str, name: str, header: str = "") -> str:
    """Write ``name``.html (opening with ``header``) and ``name``.json of an Evidently snapshot under ``uri`` (a
    folder or s3://bucket/prefix); returns the HTML report's location. A folder's files are replaced atomically."""
    with tempfile.TemporaryDirectory() as scratch:
        return store_report(render_report(snapshot, Path(scratch), header), uri, name)


def store_report(rendered: tuple[Path, Path], uri: str, name: str) -> str:
    """Copy a rendered report (:func:`render_report`) to ``uri``/``name``.html and .json; returns the HTML's
    location."""
    if uri.startswith("s3://"):
        import boto3

        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        s3 = boto3.client("s3")
        for path in rendered:
            s3.upload_file(str(path), bucket, "/".join(p for p in (prefix, f"{name}{path.suffix}") if p))
        return f"s3://{bucket}/{'/'.join(p for p in (prefix, name) if p)}.html"
    target = Path(uri) / name
    for path in rendered:
        with lake.replace_file(target.with_suffix(path.suffix)) as scratch:
            shutil.copyfile(path, scratch)
    return str(target.with_suffix(".html"))


def drift_result_json(drift: DriftResult) -> dict:
    """A day's drift result as the JSON a summary report stores."""
    return {
        "columns": drift.columns,
        "drifted_columns": drift.drifted_columns,
        "severe_columns": drift.severe_columns,
        "drift_share": drift.drift_share,
        "dataset_drift": drift.dataset_drift,
        "prediction_drift": drift.prediction_drift,
        "prediction_drifted": drift.prediction_drifted,
        "reference_rows": drift.reference_rows,
        "current_rows": drift.current_rows,
        "enough_rows": drift.enough_rows,
        "drifted": drift.drifted,
        "reasons": drift.reasons,
        "thresholds": drift.thresholds.to_json(),
    }


def render_summary(drift: DriftResult, folder: Path, title: str, header: str = "") -> tuple[Path, Path]:
    """Write ``report.html`` (opening with ``header``: a table of each column's distance against its threshold, and
    how to render the full Evidently report) and ``report.json`` (the result) of a day without Evidently's report into
    ``folder``, like :func:`render_report`."""
    rows = "".join(
        f"<tr><td>{html.escape(c)}</td><td>{v:.4f}</td><td>{drift.thresholds.columns[c]:.4f}</td>"
        f"<td>{'yes' if c in drift.drifted_columns else 'no'}</td></tr>"
        for c, v in drift.columns.items()
    )
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>{header}"
        f"<h2>{html.escape(title)}</h2><p>{'drift' if drift.drifted else 'no drift'}: drift share "
        f"{drift.drift_share:.2f}, prediction drift {drift.prediction_drift:.4f} (threshold "
        f"{drift.thresholds.prediction:.4f}), {drift.current_rows} current and {drift.reference_rows} reference rows"
        f"{'; ' + html.escape('; '.join(drift.reasons)) if drift.reasons else ''}.</p>"
        "<table><tr><th>column</th><th>distance</th><th>threshold</th><th>drifted</th></tr>"
        f"{rows}</table><p>The Evidently report with its distribution plots: <code>driftloop drift-report --day "
        "YYYY-MM-DD</code> (or <code>DRIFTLOOP_DRIFT_REPORTS=always</code>).</p></body></html>"
    )
    page_path, result_path = folder / "report.html", folder / "report.json"
    page_path.write_text(page)
    result_path.write_text(json.dumps(drift_result_json(drift), indent=1, default=str))
    return page_path, result_path


def _log_to_mlflow(result: MonitorResult, settings: Settings, reports: dict[str, Path]) -> None:
    """Log the day's metrics and its reports (``reports``: artifact folder -> local HTML) to the day's monitoring run
    (one per day and version), and link the version to its reports and its monitoring runs (the dashboard's link is
    :func:`dashboard_day`'s)."""
    import mlflow

    registry = model_registry.client(settings.mlflow_tracking_uri)
    name = f"{settings.model.name}-monitoring"
    experiment_id = model_registry.experiment_id(name, f"{settings.mlflow_artifact_root}/monitoring")
    metrics = {
        "drift_share": result.drift.drift_share,
        "prediction_drift": result.drift.prediction_drift,
        **{f"drift.{column}": value for column, value in result.drift.columns.items()},
    }
    if result.quality:
        metrics[f"quality_{result.quality['metric']}"] = result.quality["value"]
    if "age_days" in result.staleness:
        metrics["model_age_days"] = float(result.staleness["age_days"])
    correlation = result.production.get("offline_online", {}).get("correlation")
    if correlation is not None:
        metrics["offline_online_correlation"] = correlation
    tags = {
        "model_name": settings.model.name,
        "model_version": result.model_version,
        "interval": result.day.isoformat(),
        "verdict": result.verdict,
        "drifted_columns": ", ".join(result.drift.drifted_columns) or "-",
        # MLflow tag values are limited in length; the drift record keeps the full list.
        "reasons": ("; ".join(result.reasons) or "-")[:4000],
        "report_uri": result.report_uri,
        "drift_record_id": str(result.record_id),
        "staleness": result.staleness.get("verdict", "-"),
        "notices": ("; ".join(result.notices) or "-")[:4000],
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
    ) as run:
        mlflow.log_metrics(metrics)
        for folder, html in reports.items():
            mlflow.log_artifact(str(html), artifact_path=folder)
    ui = settings.links.mlflow_ui_url
    run_url = f"{ui}/#/experiments/{experiment_id}/runs/{run.info.run_id}/artifacts"
    version_filter = quote(f"tags.model_version = '{result.model_version}'")
    links = {
        "last_monitored": f"{result.day}: {result.verdict}, drift share {result.drift.drift_share:.2f}, "
        f"report {result.report_uri}",
        "last_drift_report": run_url,
        "drift_reports": f"{ui}/#/experiments/{experiment_id}?searchFilter={version_filter}",
    }
    for key, value in links.items():
        registry.set_model_version_tag(settings.model.name, result.model_version, key, value)


def _production(day: date, version: str, quality: dict, settings: Settings) -> dict:
    """Offline vs online quality per version and quality by model age, over the matured quality of every drift
    record of the model (this day's replacing its earlier record)."""
    observations = [
        {**r.metrics["quality"], "day": r.interval_start.isoformat()}
        for r in drift_records.records(settings.monitoring.drift_db_url, settings.model.name)
        if r.metrics.get("quality") and not (r.interval_start == day and r.model_version == version)
    ]
    if quality:
        observations.append({**quality, "day": day.isoformat()})
    aged = [o for o in observations if o.get("trained_until")]
    return {"offline_online": offline_online(observations), "quality_by_age": quality_by_age(aged)}


@dataclass(frozen=True)
class DayInputs:
    """What a day's drift is judged on: the scoring version (its registry entry and number), the sampled reference
    (with the version's scores, and the days it spans) and current rows, the compared columns and the thresholds for
    the day's size."""

    version: object
    version_number: str
    reference: pd.DataFrame
    reference_window: str
    current: pd.DataFrame
    columns: list[str]
    thresholds: Thresholds
    first_complete: date | None


def _reference_predictions(
    reference: pd.DataFrame, inputs: list[str], version_number: str, digest: str, settings: Settings
) -> np.ndarray:
    """The version's predictions on the sampled reference rows, cached beside the thresholds under the version, the
    snapshot's hash and a hash of the rows themselves (so another sample or another set of complete days is scored
    anew); loading the version from the registry is the costly part of a day's check and the answer never changes."""
    rows = hashlib.sha256(pd.util.hash_pandas_object(reference[inputs], index=False).to_numpy().tobytes()).hexdigest()
    path = settings.data_root / "drift_thresholds" / f"{digest}-v{version_number}-{rows[:24]}.predictions.npy"
    if path.exists():
        return np.load(path)
    predictions = model_registry.predict_with_version(
        settings.mlflow_tracking_uri, settings.model.name, version_number, reference, inputs
    )
    with lake.replace_file(path) as scratch, open(scratch, "wb") as handle:
        np.save(handle, np.asarray(predictions))
    return predictions


def day_inputs(day: date, settings: Settings) -> DayInputs:
    """The sampled, scored inputs of ``day``'s drift check (the same rows on every call: sampling is seeded)."""
    config = settings.monitoring
    current = scored_day(day, settings)
    version_number = str(current["model_version"].iloc[-1])
    version = model_registry.client(settings.mlflow_tracking_uri).get_model_version(settings.model.name, version_number)
    reference = reference_frame(version, settings)
    reference_window = _date_span(reference)
    columns = feature_columns(reference, current, settings)
    reference = sample(reference, config.sample_rows, settings.model.seed)
    current = sample(current, config.sample_rows, settings.model.seed)
    spec = active_spec(settings)
    inputs = spec.model_inputs([c for c in reference.columns if c not in spec.not_features])
    digest = version.tags["snapshot_sha256"]
    reference = reference.assign(prediction=_reference_predictions(reference, inputs, version_number, digest, settings))
    first_complete = complete_from(settings)
    cache_key = {"snapshot_sha256": digest, "model_version": version_number, "complete_from": str(first_complete)}
    cache = (settings.data_root / "drift_thresholds" / f"{digest}.json", cache_key)
    thresholds = day_thresholds(reference, len(current), columns, settings, cache)
    return DayInputs(version, version_number, reference, reference_window, current, columns, thresholds, first_complete)


def _report_name(day: date, version_number: str, settings: Settings) -> str:
    return f"dt={day.isoformat()}/{settings.model.name}_v{version_number}"


def render_drift_report(day: date, settings: Settings | None = None) -> str:
    """Render the Evidently drift report (HTML and JSON snapshot) of a monitored day on demand, on the same sampled
    rows and thresholds its verdict was made with, in place of its summary; returns the HTML's location."""
    settings = settings or get_settings()
    inputs = day_inputs(day, settings)
    labels = dashboard.run_labels(day, inputs.version_number, "drift")
    snapshot, _ = drift_report(inputs.reference, inputs.current, inputs.columns, settings, inputs.thresholds, labels)
    name = _report_name(day, inputs.version_number, settings)
    return save_report(snapshot, f"{settings.monitoring.reports_uri}/drift", name)


def dashboard_day(day: date, settings: Settings | None = None) -> str:
    """Add a monitored day's drift snapshot and, once labels matured, its quality snapshot to the monitoring
    dashboard, on the same sampled rows and thresholds as its verdict (replacing the day's earlier snapshots); link
    the version to the dashboard and return the project's address. Off the critical path: the drift record and
    verdict are :func:`monitor_day`'s, and nothing waits for this."""
    settings = settings or get_settings()
    inputs = day_inputs(day, settings)
    labels = dashboard.run_labels(day, inputs.version_number, "drift")
    snapshot, _ = drift_report(inputs.reference, inputs.current, inputs.columns, settings, inputs.thresholds, labels)
    quality = matured_quality(day, settings, dashboard.run_labels(day, inputs.version_number, "quality"))
    _, evidently_name = QUALITY_METRICS[settings.task_type]
    folder, name = settings.links.dashboard_workspace, settings.model.name
    description = f"{active_spec(settings).title}: drift and quality per day and model version (driftloop)"
    dashboard.add_day(folder, name, snapshot, "drift", evidently_name, description)
    if quality is not None:
        dashboard.add_day(folder, name, quality[0], "quality", evidently_name)
    url = dashboard.project_url(settings.links.dashboard_url, folder, name)
    model_registry.client(settings.mlflow_tracking_uri).set_model_version_tag(
        name, inputs.version_number, "monitoring_dashboard", url
    )
    log.info("dashboard: %s v%s on %s added to %s", name, inputs.version_number, day, url)
    return url


def monitor_day(day: date, settings: Settings | None = None) -> MonitorResult:
    """Monitor one scored day: drift and prediction drift against the version's training snapshot, quality of the
    predictions whose labels matured; save the reports (Evidently's for a drift day or with
    ``DRIFTLOOP_DRIFT_REPORTS=always``; a summary otherwise), log to MLflow and upsert the drift record. The
    dashboard's snapshots are :func:`dashboard_day`'s."""
    settings = settings or get_settings()
    config = settings.monitoring
    inputs = day_inputs(day, settings)
    version, version_number, reference, current = (
        inputs.version,
        inputs.version_number,
        inputs.reference,
        inputs.current,
    )
    reference_window = inputs.reference_window
    columns, thresholds, first_complete = inputs.columns, inputs.thresholds, inputs.first_complete
    drift = drift_scores(reference, current, columns, settings, thresholds)
    name = _report_name(day, version_number, settings)
    snapshot = None
    if drift.drifted or config.reports == "always":
        labels = dashboard.run_labels(day, version_number, "drift")
        snapshot, drift = drift_report(reference, current, columns, settings, thresholds, labels)
    quality = matured_quality(day, settings, dashboard.run_labels(day, version_number, "quality"))
    quality_snapshot, quality_info = quality if quality is not None else (None, {})
    verdict, reasons = day_verdict(drift, quality_info)
    registry = model_registry.client(settings.mlflow_tracking_uri)
    age = staleness(version.tags.get("training_window"), day, settings.quality.max_model_age_days)
    if quality_info:
        scored_by = registry.get_model_version(settings.model.name, quality_info["model_version"])
        trained = staleness(scored_by.tags.get("training_window"), day, 0)
        if "trained_until" in trained:
            quality_info["trained_until"] = trained["trained_until"]
    recorded_libraries = json.loads(version.tags.get("library_versions", "{}"))
    notices = [f"upstream schema change: {n}" for n in schema_notices(window_days(day, settings), settings.data_root)]
    notices += [
        f"library changed since v{version_number} was trained: {change}"
        for change in (library_changes(recorded_libraries, library_versions()) if recorded_libraries else [])
    ]
    production = _production(day, version_number, quality_info, settings)
    canary = shadow_check(day, settings)
    facts = {
        "Day": day.isoformat(),
        "Model": f"{settings.model.name} version {version_number}",
        "Reference": f"training snapshot of version {version_number}, {reference_window} "
        f"({drift.reference_rows} rows sampled)",
        "Current": f"scored days {window_days(day, settings)[0]}..{day} ({drift.current_rows} rows)",
        "Verdict": verdict + (f": {'; '.join(reasons)}" if reasons else ""),
    }
    scratch = Path(tempfile.mkdtemp(prefix="driftloop-monitor-"))
    try:
        (scratch / "drift").mkdir()
        if snapshot is not None:
            rendered = render_report(snapshot, scratch / "drift", report_header("Drift report", facts))
            report_uri = store_report(rendered, f"{config.reports_uri}/drift", name)
            reports = {"drift": rendered[0]}
        else:
            title = f"{settings.model.name} v{version_number} drift on {day.isoformat()}"
            rendered = render_summary(drift, scratch / "drift", title, report_header("Drift summary", facts))
            report_uri = store_report(rendered, f"{config.reports_uri}/drift", name)
            reports = {"drift": rendered[0]}
        if quality_snapshot is not None:
            (scratch / "quality").mkdir()
            matured = f"predictions of {quality_info['interval']}, {quality_info['rows']} labels"
            quality_facts = {**facts, "Matured labels": matured}
            quality_rendered = render_report(
                quality_snapshot, scratch / "quality", report_header("Quality on matured labels", quality_facts)
            )
            quality_info["report_uri"] = store_report(quality_rendered, f"{config.reports_uri}/quality", name)
            reports["quality"] = quality_rendered[0]
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
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
            "severe_columns": drift.severe_columns,
            "prediction_drift": drift.prediction_drift,
            "prediction_drifted": drift.prediction_drifted,
            "reasons": reasons,
            "reference_rows": drift.reference_rows,
            "reference_complete_from": first_complete.isoformat() if first_complete else None,
            "current_rows": drift.current_rows,
            "window": {
                "start": window_days(day, settings)[0].isoformat(),
                "end": day.isoformat(),
                "days": sorted(d.isoformat() for d in current["score_date"].unique()),
            },
            "min_rows": config.drift_min_rows,
            "quality": {k: v for k, v in quality_info.items() if k != "metrics"},
            "staleness": age,
            "notices": notices,
            "production": production,
            "canary": canary,
            "thresholds": {
                "num_method": config.num_method,
                "num_threshold": config.num_threshold,
                "cat_method": config.cat_method,
                "cat_threshold": config.cat_threshold,
                "drift_share": config.drift_share,
                "prediction_threshold": config.prediction_threshold,
                "severe_threshold": config.severe_threshold,
                "calibration_quantile": config.calibration_quantile,
                "calibration_draws": config.calibration_draws,
                "calibrated": thresholds.to_json(),
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
        reasons=reasons,
        staleness=age,
        notices=notices,
        production=production,
    )
    try:
        _log_to_mlflow(result, settings, reports)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log.info("%s", result.summary())
    return result
