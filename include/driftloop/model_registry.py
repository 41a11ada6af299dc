"""MLflow tracking and the model registry: log a training run with its lineage, register it, gate it, roll back.

Versions are addressed by aliases, never by the deprecated stages: every new version gets ``challenger``; the gate
moves ``champion`` and tags the version it replaced, so a rollback can move the alias back with an audit trail.
"""

from __future__ import annotations

import json
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from mlflow.types import ColSpec, Schema

from driftloop.promotion import PromotionDecision
from driftloop.training import TrainedModel, build_model_matrix, predict, target_column
from driftloop.usecase.active import active_spec

CHAMPION, CHALLENGER = "champion", "challenger"
PIP_REQUIREMENTS = [f"xgboost=={__import__('xgboost').__version__}", f"pandas=={pd.__version__}"]


@dataclass(frozen=True)
class LoggedModel:
    """A training run in MLflow and the registry version it produced."""

    run_id: str
    model_uri: str
    version: str


def client(tracking_uri: str) -> MlflowClient:
    """An MLflow client on ``tracking_uri`` (also made the process default)."""
    mlflow.set_tracking_uri(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri)


def _flat_metrics(prefix: str, evaluation: dict) -> dict[str, float]:
    metrics = {f"{prefix}{name}": value for name, value in evaluation["overall"].items()}
    for slice_name, values in evaluation.get("slices", {}).items():
        safe = slice_name.replace("=", "_").replace("+", "plus").replace("-", "_")
        metrics.update({f"{prefix}{name}.{safe}": value for name, value in values.items()})
    return metrics


def _plots(model: TrainedModel, y_true: np.ndarray, y_pred: np.ndarray, evaluation: dict, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Margins are set, not measured: tight_layout draws every figure once more just to measure its labels.
    importance = model.booster.get_score(importance_type="gain")
    names = sorted(importance, key=importance.get)[-15:]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.barh(names, [importance[n] for n in names])
    ax.set_title("Feature importance (gain)")
    longest = max((len(n) for n in names), default=0)
    fig.subplots_adjust(left=min(0.6, 0.04 + 0.0125 * longest), right=0.96, top=0.92, bottom=0.1)
    fig.savefig(folder / "feature_importance.png")
    plt.close(fig)
    if model.task_type == "classification":
        from sklearn.metrics import precision_recall_curve, roc_curve

        fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(9, 4))
        fpr, tpr, _ = roc_curve(y_true, y_pred)
        roc_ax.plot(fpr, tpr)
        roc_ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
        roc_ax.set_title(f"ROC (AUC {evaluation['overall']['roc_auc']:.3f})")
        precision, recall, _ = precision_recall_curve(y_true, y_pred)
        pr_ax.plot(recall, precision)
        pr_ax.set_title(f"Precision-recall (AP {evaluation['overall']['pr_auc']:.3f})")
        fig.subplots_adjust(left=0.07, right=0.98, top=0.9, bottom=0.1, wspace=0.25)
        fig.savefig(folder / "roc_pr.png")
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 4))
    if model.task_type == "classification":
        table = evaluation["calibration"]
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
        ax.plot([r["mean_predicted"] for r in table], [r["observed_rate"] for r in table], marker="o")
        ax.set_xlabel("mean predicted probability")
        ax.set_ylabel("observed positive rate")
        ax.set_title("Calibration")
        name = "calibration.png"
    else:
        ax.scatter(y_pred, y_true - y_pred, s=4)
        ax.axhline(0, color="grey")
        ax.set_xlabel("predicted")
        ax.set_ylabel("residual")
        ax.set_title("Residuals")
        name = "residuals.png"
    fig.subplots_adjust(left=0.16, right=0.96, top=0.92, bottom=0.13)
    fig.savefig(folder / name)
    plt.close(fig)


def model_card(model: TrainedModel, evaluation: dict, baseline: dict, tags: dict[str, str]) -> str:
    """A short Markdown model card for a version."""
    overall = "\n".join(
        f"| {k} | {v:.4f} | {baseline['overall'].get(k, float('nan')):.4f} |" for k, v in evaluation["overall"].items()
    )
    return (
        f"# Model card: {active_spec().title}\n\nTask: **{model.task_type}**, trained on `{model.device}` with XGBoost "
        f"(best iteration {model.best_iteration}).\n\n"
        f"- Feature service: `{tags.get('feature_service')}`\n- Training window: {tags.get('training_window')}\n"
        f"- Training set snapshot: `{tags.get('snapshot_sha256')}`\n- Airflow: `{tags.get('dag_id')}` run "
        f"`{tags.get('run_id')}`\n- Code: `{tags.get('git_commit')}`\n\n"
        f"## Test metrics\n\n| metric | model | baseline |\n| --- | --- | --- |\n{overall}\n"
    )


def column_schema(frame: pd.DataFrame) -> Schema:
    """The MLflow column schema ``infer_signature`` infers for ``frame``, without its per-value Python loops: an
    object or categorical column's type comes from its distinct non-missing values, every column's ``required``
    from a vectorized missing-value check (a column with a missing value is optional)."""
    specs = []
    with warnings.catch_warnings():
        # MLflow's hint that integer columns cannot hold missing values; the schema marks which columns do.
        warnings.simplefilter("ignore", UserWarning)
        for name in frame.columns:
            values = frame[name]
            distinct = pd.Series(values.dropna().unique()) if values.dtype.kind == "O" else values.iloc[:0]
            typed = distinct if len(distinct) or values.dtype.kind != "O" else values
            inferred = infer_signature(typed.rename(name).to_frame()).inputs.inputs[0]
            specs.append(ColSpec(type=inferred.type, name=name, required=not bool(values.isna().any())))
    return Schema(specs)


def _experiment_id(name: str, artifact_location: str) -> str:
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        return mlflow.create_experiment(name, artifact_location=artifact_location)
    return experiment.experiment_id


def _training_dataset(snapshot_path: Path, snapshot_sha256: str):
    snapshot = pd.read_parquet(snapshot_path)
    dataset = mlflow.data.from_pandas(
        snapshot, source=str(snapshot_path), name="training_set", digest=snapshot_sha256[:36]
    )
    # The same schema MLflow would infer on first use, computed without looping over every value in Python.
    dataset.schema = column_schema(snapshot)
    return dataset


def _register_version(mlflow_client: MlflowClient, model_name: str, info, run_id: str, tags: dict, card: str):
    try:
        mlflow_client.create_registered_model(model_name)
    except MlflowException as error:
        if error.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise
    return mlflow_client.create_model_version(
        model_name, info.model_uri, run_id=run_id, tags=tags, description=card, model_id=info.model_id
    )


def log_and_register(
    tracking_uri: str,
    artifact_location: str,
    model_name: str,
    model: TrainedModel,
    test: pd.DataFrame,
    evaluation: dict,
    baseline: dict,
    snapshot_path: Path,
    snapshot_sha256: str,
    tags: dict[str, str],
) -> LoggedModel:
    """Log params, metrics, plots, the model (signature, example, explicit requirements), the dataset lineage and
    tags in one MLflow run; register a new version with the ``challenger`` alias and a model card. Artifacts of a
    new experiment go to ``artifact_location``."""
    mlflow_client = client(tracking_uri)
    experiment_id = _experiment_id(model_name, artifact_location)
    matrix = build_model_matrix(test, model.feature_columns)
    y_pred = predict(model, test)
    tags = {**tags, "device": model.device, "task_type": model.task_type}
    card = model_card(model, evaluation, baseline, tags)
    with (
        mlflow.start_run(experiment_id=experiment_id, run_name=tags.get("run_id")) as run,
        tempfile.TemporaryDirectory() as scratch,
    ):
        now = int(time.time() * 1000)
        metrics = _flat_metrics("test_", evaluation) | _flat_metrics("baseline_", baseline)
        mlflow_client.log_batch(
            run.info.run_id,
            metrics=[Metric(key, float(value), now, 0) for key, value in metrics.items()],
            params=[Param(key, str(value)) for key, value in model.params.items()],
            tags=[RunTag(key, str(value)) for key, value in tags.items()],
        )
        mlflow.log_input(_training_dataset(snapshot_path, snapshot_sha256), context="training")
        folder = Path(scratch)
        _plots(model, test[target_column(model.task_type)].to_numpy(), y_pred, evaluation, folder)
        (folder / "evaluation.json").write_text(json.dumps(evaluation, indent=2, default=float))
        (folder / "model_card.md").write_text(card)
        mlflow.log_artifacts(str(folder), artifact_path="evaluation")
        # The registered booster stops at the best iteration, so it scores exactly like ``training.predict``.
        # driftloop scores through the native flavor and ``build_model_matrix`` (categoricals with fixed
        # categories). MLflow's pyfunc serving check round-trips the input example through JSON, which loses the
        # categorical dtype, and logs "Got error" about it; that path is not used for scoring.
        info = mlflow.xgboost.log_model(
            model.booster[: model.best_iteration + 1],
            name="model",
            signature=ModelSignature(inputs=column_schema(matrix), outputs=infer_signature(y_pred).inputs),
            input_example=matrix.head(3),
            pip_requirements=PIP_REQUIREMENTS,
        )
    version = _register_version(mlflow_client, model_name, info, run.info.run_id, tags, card)
    mlflow_client.set_registered_model_alias(model_name, CHALLENGER, version.version)
    return LoggedModel(run_id=run.info.run_id, model_uri=info.model_uri, version=str(version.version))


def version_by_alias(tracking_uri: str, model_name: str, alias: str) -> ModelVersion | None:
    """The version holding ``alias``, or None when the model or the alias does not exist."""
    try:
        return client(tracking_uri).get_model_version_by_alias(model_name, alias)
    except mlflow.exceptions.MlflowException:
        return None


def predict_with_version(
    tracking_uri: str, model_name: str, version: str, frame: pd.DataFrame, feature_columns: list[str]
) -> np.ndarray:
    """Predictions of a registered version on feature rows, through the same model matrix as training."""
    client(tracking_uri)
    booster = mlflow.xgboost.load_model(f"models:/{model_name}/{version}")
    return booster.inplace_predict(build_model_matrix(frame, feature_columns))


def apply_decision(tracking_uri: str, model_name: str, version: str, decision: PromotionDecision) -> str | None:
    """Record the gate's decision on the version; on promotion move ``champion`` and tag the version it replaced.

    Returns the previous champion's version (None when there was none or nothing moved)."""
    mlflow_client = client(tracking_uri)
    mlflow_client.set_model_version_tag(
        model_name, version, "promotion_decision", "promoted" if decision.promote else "rejected"
    )
    mlflow_client.set_model_version_tag(model_name, version, "promotion_reasons", " | ".join(decision.reasons))
    if not decision.promote:
        return None
    previous = version_by_alias(tracking_uri, model_name, CHAMPION)
    mlflow_client.set_registered_model_alias(model_name, CHAMPION, version)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    mlflow_client.set_model_version_tag(model_name, version, "champion_since", stamp)
    if previous is None:
        return None
    mlflow_client.set_model_version_tag(model_name, version, "previous_champion", str(previous.version))
    return str(previous.version)


def rollback(tracking_uri: str, model_name: str, actor: str, reason: str) -> tuple[str, str]:
    """Move ``champion`` back to the version it replaced; tags who and why. Returns (from_version, to_version)."""
    mlflow_client = client(tracking_uri)
    current = version_by_alias(tracking_uri, model_name, CHAMPION)
    if current is None:
        raise ValueError(f"model {model_name!r} has no champion to roll back")
    previous = current.tags.get("previous_champion")
    if not previous:
        raise ValueError(f"champion version {current.version} of {model_name!r} replaced no earlier version")
    mlflow_client.set_registered_model_alias(model_name, CHAMPION, previous)
    audit = (
        f"rolled back from {current.version} by {actor} at {datetime.now(UTC).isoformat(timespec='seconds')}: {reason}"
    )
    mlflow_client.set_model_version_tag(model_name, current.version, "rolled_back", audit)
    mlflow_client.set_model_version_tag(model_name, previous, "restored", audit)
    return str(current.version), previous
