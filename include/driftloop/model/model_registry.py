"""MLflow tracking and the model registry: log a training run with its lineage, register it, gate it, roll back.

Versions are addressed by aliases, never by the deprecated stages: every new version gets ``challenger``; the gate
moves ``champion``, and every move is recorded in the champion history (``driftloop.model.champion_history``) before the
alias moves, so a rollback goes back to the real previous champion.

The lifecycle fails closed. Only MLflow's answer that a model or alias does not exist means "none"; any other error
(a 503, a refused or dropped connection, a timeout) raises RegistryUnavailable naming the tracking server, so a task
fails (and Airflow retries it) instead of concluding there is no champion. Registration and promotion are keyed on the
training run (``driftloop.train_run_id``) and recorded step by step, so a retry after a death at any point finds what
an earlier try made and completes it instead of making new versions or comparing a champion with itself.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    ErrorCode,
)
from mlflow.types import ColSpec, Schema

from driftloop.errors import InvalidRequest
from driftloop.logs import quiet_third_parties
from driftloop.model import served_model
from driftloop.model.champion_history import PROMOTIONS, ChampionEvent, ChampionHistory, events_of_version
from driftloop.model.promotion import PromotionDecision
from driftloop.model.training import TrainedModel, build_model_matrix, predict, target_column
from driftloop.settings import get_settings
from driftloop.usecase.active import active_spec

quiet_third_parties()
log = logging.getLogger(__name__)
CHAMPION, CHALLENGER = "champion", "challenger"
PIP_REQUIREMENTS = [f"xgboost=={__import__('xgboost').__version__}", f"pandas=={pd.__version__}"]
# The training run a version and its MLflow run were made for (the run folder's name), and the gate's decision.
RUN_KEY_TAG = "driftloop.train_run_id"
RUN_KEY_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")
DECISION_TAG = "driftloop.decision"
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


class RegistryUnavailable(RuntimeError):
    """The MLflow tracking server or store did not answer (or answered with an error): nothing may be concluded."""


class PromotionInterrupted(RuntimeError):
    """A recorded promotion never took effect, and champion has been moved since: it is not completed."""


@dataclass(frozen=True)
class LoggedModel:
    """A training run in MLflow and the registry version it produced."""

    run_id: str
    model_uri: str
    version: str


def redacted(uri: str) -> str:
    """``uri`` without the credentials it may carry (``https://user:secret@host`` -> ``https://***@host``)."""
    return _CREDENTIALS.sub("***@", uri)


def is_missing(error: MlflowException) -> bool:
    """Whether MLflow answered that the model, version or alias does not exist. MLflow 3.17 says
    RESOURCE_DOES_NOT_EXIST for a missing model or version, and INVALID_PARAMETER_VALUE "Registered model alias ...
    not found." for a missing alias, from the SQL store and a tracking server alike; errors of the transport (a 503
    or a dropped connection after MLflow's retries) come as other codes."""
    if error.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
        return True
    message = str(error.message).lower()
    return error.error_code == ErrorCode.Name(INVALID_PARAMETER_VALUE) and "alias" in message and "not found" in message


@contextmanager
def registry_calls(tracking_uri: str, what: str) -> Iterator[None]:
    """Turn MLflow's errors inside the block into RegistryUnavailable saying what could not be done and which
    tracking server (without credentials) failed."""
    import requests

    try:
        yield
    except (MlflowException, requests.RequestException) as error:
        code = getattr(error, "error_code", type(error).__name__)
        raise RegistryUnavailable(
            f"could not {what}: the MLflow tracking server {redacted(tracking_uri)} did not answer or failed "
            f"({code}: {redacted(str(error))})"
        ) from None


def client(tracking_uri: str) -> MlflowClient:
    """An MLflow client on ``tracking_uri`` (also made the process default), with MLflow's HTTP retries and timeout
    bounded by the ``DRIFTLOOP_MLFLOW_HTTP_*`` settings (MLflow reads them from its environment variables on every
    request). A URI with credentials in it also stops MLflow from printing run links, which would show them."""
    os.environ.update(get_settings().mlflow_http_env())
    if redacted(tracking_uri) != tracking_uri:
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
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
        roc_ax.plot(fpr, tpr, label="model")
        roc_ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance (AUC 0.5)")
        roc_ax.set_xlabel("false positive rate")
        roc_ax.set_ylabel("true positive rate")
        roc_ax.set_xlim(0, 1)
        roc_ax.set_ylim(0, 1.02)
        roc_ax.legend(loc="lower right")
        roc_ax.set_title(f"ROC (AUC {evaluation['overall']['roc_auc']:.3f})")
        precision, recall, _ = precision_recall_curve(y_true, y_pred)
        positive_rate = float(np.mean(y_true))
        pr_ax.plot(recall, precision, label="model")
        pr_ax.axhline(positive_rate, linestyle="--", color="grey", label=f"chance (positive rate {positive_rate:.3f})")
        pr_ax.set_xlabel("recall")
        pr_ax.set_ylabel("precision")
        pr_ax.set_xlim(0, 1)
        pr_ax.set_ylim(0, 1.02)
        pr_ax.legend(loc="upper right")
        pr_ax.set_title(f"Precision-recall (AP {evaluation['overall']['pr_auc']:.3f})")
        fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.13, wspace=0.25)
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
        f"- Training set snapshot: `{tags.get('snapshot_sha256')}`\n- Airflow: {_airflow_link(tags)}\n"
        f"- Code: `{tags.get('git_commit')}`\n\n"
        f"## Test metrics\n\n| metric | model | baseline |\n| --- | --- | --- |\n{overall}\n"
    )


def _airflow_link(tags: dict[str, str]) -> str:
    """The Airflow run that trained a version, as a Markdown link when its URL is known."""
    text = f"`{tags.get('dag_id')}` run `{tags.get('run_id')}`"
    return f"[{text}]({tags['airflow_run_url']})" if tags.get("airflow_run_url") else text


def airflow_run_url(base_url: str, dag_id: str, run_id: str) -> str:
    """The Airflow UI's page of a DAG run."""
    from urllib.parse import quote

    return f"{base_url.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def registered_model_description(title: str, description: str, task_type: str) -> str:
    """The registered model's description: what the use case is and how its versions are made and chosen."""
    return (
        f"# {title}\n\n{description.strip()}\n\n"
        f"Task: **{task_type}**. Every version is trained by driftloop's `train` DAG (weekly, on drift, or by hand), "
        "registered as `challenger` and moved to `champion` only by the gate (or `force_promote`); each version's "
        "description carries its model card and the gate's decision, its tags link to its Airflow run, its drift "
        "reports and the monitoring dashboard."
    )


GATE_SECTION = "\n\n## Gate decision\n"


def gate_section(decision: PromotionDecision) -> str:
    """The gate's decision as a Markdown section of the version description, with a warning when the version was
    promoted by ``force_promote`` without passing the gate (naming a baseline it did not beat)."""
    verdict = "**promoted** to champion" if decision.promote else "**not promoted**"
    warning = promotion_warning(decision)
    head = GATE_SECTION + (f"> **Warning:** {warning}\n\n" if warning else "") + f"Decision: {verdict}.\n\n"
    return head + "\n".join(f"- {reason}" for reason in decision.reasons) + "\n"


def promotion_warning(decision: PromotionDecision) -> str:
    """Why a promoted version deserves a warning (forced past a failed gate; worse than the baseline), or ''."""
    if not decision.promote or not any(r.startswith("promoted anyway") for r in decision.reasons):
        return ""
    worse = [r for r in decision.reasons if r.startswith("does not beat the baseline")]
    if worse:
        return f"forced to champion although it is worse than the baseline ({worse[0].split(': ', 1)[-1]})"
    return "forced to champion although it did not pass the gate"


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


def experiment_id(name: str, artifact_location: str) -> str:
    """The id of the MLflow experiment ``name`` on the current tracking URI, created with ``artifact_location`` when
    missing."""
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


def _alias_holder(mlflow_client: MlflowClient, model_name: str, alias: str) -> ModelVersion | None:
    """The version holding ``alias``; None only when MLflow answers that the model or the alias does not exist."""
    try:
        return mlflow_client.get_model_version_by_alias(model_name, alias)
    except MlflowException as error:
        if is_missing(error):
            return None
        raise


def version_by_alias(tracking_uri: str, model_name: str, alias: str) -> ModelVersion | None:
    """The version holding ``alias``, or None when the model or the alias does not exist; RegistryUnavailable when
    the registry cannot say (a 503, a refused or dropped connection, a timeout): "no answer" never means "none"."""
    with registry_calls(tracking_uri, f"read the {alias} of model {model_name!r}"):
        return _alias_holder(client(tracking_uri), model_name, alias)


def _check_run_key(run_key: str) -> None:
    if not RUN_KEY_PATTERN.fullmatch(run_key):
        raise ValueError(f"run key {run_key!r} must be letters, digits, '_', '.' or '-' (a training run's folder name)")


def _versions_with_key(mlflow_client: MlflowClient, model_name: str, run_key: str) -> list[ModelVersion]:
    """The versions registered for a training run, oldest first (search results carry no aliases)."""
    found = mlflow_client.search_model_versions(f"name = '{model_name}' and tags.`{RUN_KEY_TAG}` = '{run_key}'")
    return sorted(found, key=lambda v: int(v.version))


def _keep_one(mlflow_client: MlflowClient, model_name: str, versions: list[ModelVersion]) -> ModelVersion:
    """The oldest version of a training run, read whole; later ones (a create request MLflow's HTTP client retried
    after the server had done it) are deleted unless an alias or a decision already refers to them."""
    kept = mlflow_client.get_model_version(model_name, versions[0].version)
    for duplicate in versions[1:]:
        whole = mlflow_client.get_model_version(model_name, duplicate.version)
        if not whole.aliases and DECISION_TAG not in whole.tags:
            mlflow_client.delete_model_version(model_name, whole.version)
    return kept


def _ensure_challenger(mlflow_client: MlflowClient, model_name: str, version: ModelVersion) -> None:
    """Give ``version`` the ``challenger`` alias unless it holds it or a newer version does already."""
    if CHALLENGER in version.aliases:
        return
    holder = _alias_holder(mlflow_client, model_name, CHALLENGER)
    if holder is None or int(holder.version) < int(version.version):
        mlflow_client.set_registered_model_alias(model_name, CHALLENGER, version.version)


def _finished_run(mlflow_client: MlflowClient, experiment_id: str, run_key: str) -> tuple[str, str, str] | None:
    """(run id, model URI, model id) of a finished MLflow run an earlier try logged for ``run_key``; runs it left
    unfinished (killed while logging) are marked FAILED."""
    runs = mlflow_client.search_runs([experiment_id], filter_string=f"tags.`{RUN_KEY_TAG}` = '{run_key}'")
    finished = sorted((r for r in runs if r.info.status == "FINISHED"), key=lambda r: r.info.start_time)
    for run in runs:
        if run.info.status == "RUNNING":
            mlflow_client.set_terminated(run.info.run_id, "FAILED")
    for run in finished:
        models = mlflow_client.search_logged_models(
            [experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'"
        )
        if models:
            return run.info.run_id, models[0].model_uri, models[0].model_id
    return None


def _log_run(
    mlflow_client: MlflowClient,
    experiment_id: str,
    model: TrainedModel,
    test: pd.DataFrame,
    evaluation: dict,
    baseline: dict,
    snapshot: tuple[Path, str],
    tags: dict[str, str],
    card: str,
) -> tuple[str, str, str]:
    """Log one MLflow run (params, metrics, plots, lineage, the model); returns (run id, model URI, model id)."""
    matrix = build_model_matrix(test, model.feature_columns)
    y_pred = predict(model, test)
    run_tags = {RUN_KEY_TAG: tags[RUN_KEY_TAG]} if RUN_KEY_TAG in tags else None
    with (
        mlflow.start_run(experiment_id=experiment_id, run_name=tags.get("run_id"), tags=run_tags) as run,
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
        mlflow.log_input(_training_dataset(*snapshot), context="training")
        folder = Path(scratch)
        _plots(model, test[target_column(model.task_type)].to_numpy(), y_pred, evaluation, folder)
        (folder / "evaluation.json").write_text(json.dumps(evaluation, indent=2, default=float))
        (folder / "model_card.md").write_text(card)
        mlflow.log_artifacts(str(folder), artifact_path="evaluation")
        # The registered booster stops at the best iteration, so it scores exactly like ``training.predict``; the
        # pyfunc around it builds the model matrix, so its input example and signature are the features as MLflow
        # types them (categoricals as strings) and validate as a serving request.
        booster_path = folder / "booster" / "model.ubj"
        booster_path.parent.mkdir()
        model.booster[: model.best_iteration + 1].save_model(booster_path)
        categories = {
            c: tuple(matrix[c].cat.categories)
            for c in matrix.columns
            if isinstance(matrix[c].dtype, pd.CategoricalDtype)
        }
        served = served_model.serving_frame(matrix)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=served_model.__file__,
            artifacts={served_model.BOOSTER_ARTIFACT: str(booster_path)},
            model_config=served_model.model_config(model.feature_columns, categories),
            signature=ModelSignature(inputs=column_schema(served), outputs=infer_signature(y_pred).inputs),
            input_example=served.head(3),
            pip_requirements=PIP_REQUIREMENTS,
        )
    return run.info.run_id, info.model_uri, info.model_id


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
    run_key: str | None = None,
    card_sections: str = "",
) -> LoggedModel:
    """Log params, metrics, plots, the model (signature, example, explicit requirements), the dataset lineage and
    tags in one MLflow run; register a new version with the ``challenger`` alias and a model card. Artifacts of a
    new experiment go to ``artifact_location``; ``card_sections`` (Markdown) are appended to the model card.

    With a ``run_key`` (the training run's folder name) this is idempotent: the run and the version carry it as the
    tag ``driftloop.train_run_id``, and a retry returns the version an earlier try registered (giving it
    ``challenger`` if that try died first), or registers the finished run an earlier try logged, instead of making
    new ones. Without one, every call makes a new run and version."""
    with registry_calls(tracking_uri, f"register a version of model {model_name!r}"):
        mlflow_client = client(tracking_uri)
        if run_key is not None:
            _check_run_key(run_key)
            tags = {**tags, RUN_KEY_TAG: run_key}
            earlier = _versions_with_key(mlflow_client, model_name, run_key)
            if earlier:
                version = _keep_one(mlflow_client, model_name, earlier)
                _ensure_challenger(mlflow_client, model_name, version)
                return LoggedModel(run_id=version.run_id, model_uri=version.source, version=str(version.version))
        run_experiment = experiment_id(model_name, artifact_location)
        tags = {**tags, "device": model.device, "task_type": model.task_type}
        card = model_card(model, evaluation, baseline, tags) + card_sections
        logged = _finished_run(mlflow_client, run_experiment, run_key) if run_key is not None else None
        snapshot = (snapshot_path, snapshot_sha256)
        run_id, model_uri, model_id = logged or _log_run(
            mlflow_client, run_experiment, model, test, evaluation, baseline, snapshot, tags, card
        )
        try:
            mlflow_client.create_registered_model(model_name)
        except MlflowException as error:
            if error.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                raise
        spec = active_spec()
        description = registered_model_description(spec.title, spec.description, model.task_type)
        mlflow_client.update_registered_model(model_name, description=description)
        version = mlflow_client.create_model_version(
            model_name, model_uri, run_id=run_id, tags=tags, description=card, model_id=model_id
        )
        if run_key is not None:
            version = _keep_one(mlflow_client, model_name, _versions_with_key(mlflow_client, model_name, run_key))
        _ensure_challenger(mlflow_client, model_name, version)
        return LoggedModel(run_id=run_id, model_uri=model_uri, version=str(version.version))


def predict_with_version(
    tracking_uri: str, model_name: str, version: str, frame: pd.DataFrame, feature_columns: list[str]
) -> np.ndarray:
    """Predictions of a registered version on feature rows, through the same model matrix as training."""
    with registry_calls(tracking_uri, f"load version {version} of model {model_name!r}"):
        client(tracking_uri)
        uri = f"models:/{model_name}/{version}"
        if "xgboost" in mlflow.models.get_model_info(uri).flavors:
            # A version registered before the served model (MLflow's XGBoost flavor, a bare booster).
            booster = mlflow.xgboost.load_model(uri)
            return booster.inplace_predict(build_model_matrix(frame, feature_columns))
        served = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    return served.predict_frame(frame)


def _all_versions(mlflow_client: MlflowClient, model_name: str) -> list[ModelVersion]:
    versions, token = [], None
    while True:
        page = mlflow_client.search_model_versions(f"name = '{model_name}'", page_token=token)
        versions.extend(page)
        token = page.token
        if not token:
            return versions


def _legacy_promotion(version: ModelVersion) -> ChampionEvent | None:
    """A promotion recorded only by the tags of driftloop before the champion history (``champion_since``,
    ``previous_champion``), as an event ordered before every recorded one."""
    since = version.tags.get("champion_since")
    if not since:
        return None
    return ChampionEvent(
        seq=0,
        version=str(version.version),
        previous=version.tags.get("previous_champion"),
        kind="gate",
        actor="driftloop (before the champion history)",
        reason=version.tags.get("promotion_reasons", ""),
        at=since,
        request="",
    )


def _read_history(mlflow_client: MlflowClient, model_name: str) -> ChampionHistory:
    events = []
    for version in _all_versions(mlflow_client, model_name):
        recorded = events_of_version(str(version.version), version.tags)
        events.extend(recorded)
        legacy = None if any(e.is_promotion for e in recorded) else _legacy_promotion(version)
        events.extend([legacy] if legacy else [])
    champion = _alias_holder(mlflow_client, model_name, CHAMPION)
    return ChampionHistory(model_name, str(champion.version) if champion else None, events)


def read_history(tracking_uri: str, model_name: str) -> ChampionHistory:
    """The champion history of ``model_name`` (see ``driftloop.model.champion_history``)."""
    with registry_calls(tracking_uri, f"read the champion history of model {model_name!r}"):
        return _read_history(client(tracking_uri), model_name)


@dataclass(frozen=True)
class GateOutcome:
    """What the gate did with a version: the decision, the champion it was made against, the champion the version
    replaced (None when not promoted or there was none), and the champion history afterwards."""

    version: str
    decision: PromotionDecision
    compared_with: str | None
    previous: str | None
    history: ChampionHistory


def recorded_decision(version: ModelVersion) -> tuple[PromotionDecision, str | None] | None:
    """The gate decision recorded on a version and the champion it was made against, or None."""
    raw = version.tags.get(DECISION_TAG)
    if raw is None:
        return None
    record = json.loads(raw)
    return PromotionDecision(bool(record["promote"]), list(record["reasons"])), record["compared_with"]


def _record_decision(
    mlflow_client: MlflowClient, model_name: str, version: str, decision: PromotionDecision, compared_with: str | None
) -> None:
    """The decision as one tag (written in one request, so a retry finds all of it or none), then the readable
    ``promotion_decision`` / ``promotion_reasons`` tags derived from it."""
    record = {"promote": decision.promote, "reasons": decision.reasons, "compared_with": compared_with}
    mlflow_client.set_model_version_tag(model_name, version, DECISION_TAG, json.dumps(record))
    _readable_decision(mlflow_client, model_name, version, decision)


def _readable_decision(mlflow_client: MlflowClient, model_name: str, version: str, decision: PromotionDecision):
    """The decision where the MLflow UI shows it: tags ``promotion_decision``, ``promotion_reasons`` (and
    ``promotion_warning`` for a forced version past a failed gate), and a section of the version's description."""
    verdict = "promoted" if decision.promote else "rejected"
    mlflow_client.set_model_version_tag(model_name, version, "promotion_decision", verdict)
    mlflow_client.set_model_version_tag(model_name, version, "promotion_reasons", " | ".join(decision.reasons))
    warning = promotion_warning(decision)
    if warning:
        mlflow_client.set_model_version_tag(model_name, version, "promotion_warning", warning)
    card = (mlflow_client.get_model_version(model_name, version).description or "").split(GATE_SECTION)[0]
    mlflow_client.update_model_version(model_name, version, description=card + gate_section(decision))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _move_champion(mlflow_client: MlflowClient, model_name: str, event: ChampionEvent) -> None:
    """Record ``event``, then move the alias, then the tags saying it moved: a death in between leaves the event
    pending, and the retry completes it."""
    mlflow_client.set_model_version_tag(model_name, event.version, event.tag_key, event.tag_value())
    mlflow_client.set_registered_model_alias(model_name, CHAMPION, event.version)
    _mark_moved(mlflow_client, model_name, event)


def _mark_moved(mlflow_client: MlflowClient, model_name: str, event: ChampionEvent) -> None:
    if event.is_promotion:
        mlflow_client.set_model_version_tag(model_name, event.version, "champion_since", event.at)
        return
    audit = f"rolled back from {event.previous} by {event.actor} at {event.at}: {event.reason}"
    mlflow_client.set_model_version_tag(model_name, event.previous, "rolled_back", audit)
    mlflow_client.set_model_version_tag(model_name, event.version, "restored", audit)


def _complete_promotion(
    mlflow_client: MlflowClient, model_name: str, event: ChampionEvent, history: ChampionHistory
) -> None:
    """Finish a promotion an earlier try recorded: move the alias if it has not moved yet, then the tags."""
    index = history.events.index(event)
    if history.took_effect(index):
        if history.champion == event.version:
            _mark_moved(mlflow_client, model_name, event)
        return
    if history.pending != event:
        raise PromotionInterrupted(
            f"the promotion of version {event.version} of {model_name!r} recorded at {event.at} never took effect, "
            f"and champion has been moved since (it is version {history.champion}): not promoting it now; train "
            "again or force_promote"
        )
    mlflow_client.set_registered_model_alias(model_name, CHAMPION, event.version)
    _mark_moved(mlflow_client, model_name, event)


def gate_version(
    tracking_uri: str,
    model_name: str,
    version: str,
    decide: Callable[[str | None], PromotionDecision],
    kind: str = "gate",
) -> GateOutcome:
    """Decide on ``version`` with ``decide(champion version or None)`` and record the decision on it; on promotion
    record the move in the champion history (with the champion it replaces, also as the tag
    ``previous_champion``) *before* moving ``champion``. ``kind`` is ``gate`` or ``force_promote``; who moved it is
    the Airflow run in the version's lineage tags.

    Safe to retry at any point: a decision recorded against the same champion is reused, not re-made (the champion
    may be this very version by then); a recorded promotion is completed (alias, then tags), never recorded twice,
    so ``previous_champion`` is never the version itself. A promotion that never took effect because champion was
    moved since raises PromotionInterrupted. Registry errors raise RegistryUnavailable: nothing is promoted on an
    unanswered read."""
    if kind not in PROMOTIONS:
        raise ValueError(f"kind {kind!r} must be one of {', '.join(PROMOTIONS)}")
    version = str(version)
    with registry_calls(tracking_uri, f"gate version {version} of model {model_name!r}"):
        mlflow_client = client(tracking_uri)
        registered = mlflow_client.get_model_version(model_name, version)
        history = _read_history(mlflow_client, model_name)
        recorded = recorded_decision(registered)
        promotion = history.promotion_of(version)
        if promotion is not None:
            if recorded is None:
                raise ValueError(f"version {version} of {model_name!r} has a recorded promotion but no decision")
            _complete_promotion(mlflow_client, model_name, promotion, history)
            _readable_decision(mlflow_client, model_name, version, recorded[0])
            history = _read_history(mlflow_client, model_name)
            return GateOutcome(version, recorded[0], recorded[1], promotion.previous, history)
        if history.champion == version:
            raise ValueError(
                f"version {version} of {model_name!r} holds champion, but no promotion of it was recorded: it was "
                "moved there outside driftloop"
            )
        if recorded is not None and recorded[1] == history.champion:
            decision = recorded[0]
            _readable_decision(mlflow_client, model_name, version, decision)
        else:
            decision = decide(history.champion)
            _record_decision(mlflow_client, model_name, version, decision, history.champion)
        if not decision.promote:
            return GateOutcome(version, decision, history.champion, None, history)
        lineage = registered.tags
        event = ChampionEvent(
            seq=history.next_seq,
            version=version,
            previous=history.champion,
            kind=kind,
            actor=f"{lineage.get('dag_id', 'driftloop')} run {lineage.get('run_id', '?')}",
            reason=f"{lineage.get('reason', 'gate')}: " + " | ".join(decision.reasons),
            at=_now(),
            request=lineage.get(RUN_KEY_TAG, ""),
        )
        if event.previous is not None:
            mlflow_client.set_model_version_tag(model_name, version, "previous_champion", event.previous)
        _move_champion(mlflow_client, model_name, event)
        history_after = _read_history(mlflow_client, model_name)
        return GateOutcome(version, decision, history.champion, history.champion, history_after)


def rollback(tracking_uri: str, model_name: str, actor: str, reason: str, request: str = "") -> tuple[str, str]:
    """Move ``champion`` back one step of the champion history's lineage (two rollbacks go back two promotions);
    the move is recorded in the history (who, why, ``request``) before the alias moves, and tagged on both versions.
    Returns (from_version, to_version).

    A retry with the same ``request`` (e.g. the Airflow run id) completes the rollback it recorded last instead of
    going back another step. Fails clearly when there is no champion, when the champion is the first one,
    or when the champion was moved outside driftloop."""
    with registry_calls(tracking_uri, f"roll back the champion of model {model_name!r}"):
        mlflow_client = client(tracking_uri)
        history = _read_history(mlflow_client, model_name)
        last = history.events[-1] if history.events else None
        if last is not None and last.kind == "rollback" and request and last.request == request:
            if history.pending is last:
                mlflow_client.set_registered_model_alias(model_name, CHAMPION, last.version)
            _mark_moved(mlflow_client, model_name, last)
            return str(last.previous), last.version
        current = history.champion
        if current is None:
            raise InvalidRequest(f"model {model_name!r} has no champion to roll back")
        lineage = history.lineage()
        if not lineage or lineage[-1] != current:
            raise InvalidRequest(
                f"champion version {current} of {model_name!r} was not put there by driftloop (its champion history "
                f"ends at {lineage[-1] if lineage else 'nothing'}): move the alias by hand"
            )
        if len(lineage) < 2:
            raise InvalidRequest(
                f"champion version {current} of {model_name!r} is its first champion: there is no earlier champion "
                "to roll back to"
            )
        event = ChampionEvent(
            seq=history.next_seq,
            version=lineage[-2],
            previous=current,
            kind="rollback",
            actor=actor,
            reason=reason,
            at=_now(),
            request=request,
        )
        _move_champion(mlflow_client, model_name, event)
        return current, event.version
