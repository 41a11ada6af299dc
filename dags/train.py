"""
### Train, register and gate the use case's model

On `DRIFTLOOP_TRAIN_SCHEDULE` (weekly by default), by hand from the UI (params below), or triggered by another DAG
with a conf: `retrain_on_drift` passes a `reason` and the `drift_records` it consumed (a conf key, not a form field),
which end up as tags of the MLflow run and version. A scheduled run records the reason `scheduled`; a manual run
the form's **Reason** (default `manual`, never blank). The form checks the hyperparameter names (the XGBoost
parameters listed in it, plus `num_boost_round` and `early_stopping_rounds`) when the run is triggered; a window
that ends before it starts is refused by the first task, without retries.

1. **training_set** joins the matured labels of the window with the use case's FeatureService (churn:
   `customer_churn_v1`) point-in-time, checks there is exactly one row per label event (or, with
   `DRIFTLOOP_TRAINING_DROP_UNMATCHED`, drops and counts those without features), and snapshots it with its hash.
2. **split_by_time** keeps the most recent period for testing.
3. **train** fits XGBoost with early stopping, seeded (after a random search of its hyperparameters when `tune` is
   set), on the GPU when one is really there (read back from the booster) or the CPU; it runs in the pool and
   queue named by `DRIFTLOOP_TRAIN_POOL` / `DRIFTLOOP_TRAIN_QUEUE`.
4. **evaluate** scores the model and a linear baseline on the test split, overall and per slice of the spec
   (churn: plan, region and tenure band).
5. **register** logs params, metrics, plots, the model, the dataset lineage and the tags to MLflow and registers a
   new version with the alias `challenger`.
6. **gate** re-scores the `champion` on the same test split and moves `champion` only if the challenger beats it by
   `DRIFTLOOP_PROMOTION_MARGIN`, is not worse beyond `DRIFTLOOP_SLICE_TOLERANCE` on any slice, and beats the
   baseline (or `force_promote` is set). The decision (`version N promoted to champion` / `version N NOT
   promoted`) and each reason are in this task's log and on the version; the move is recorded in the champion
   history (also in the log) before the alias moves.
7. **publish_champion** updates the `champion_model` asset when the gate promoted; the event's extra names the
   version, the training window and rows, and the decision.

Too few ingested days to train ("ingest more days before training") fails `training_set` at once, in one line,
without retries: a retry cannot add days.

Both MLflow steps are keyed on this run: a retry reuses the version, the decision and a half-done promotion of an
earlier try. A tracking server that does not answer fails the step (to be retried); it never means "no champion".
"""

from __future__ import annotations

import os

from airflow.sdk import Param, dag, task

from driftloop.settings import get_settings
from driftloop_airflow import alerts
from driftloop_airflow.assets import CHAMPION_MODEL
from driftloop_airflow.defaults import DEFAULT_ARGS, START_DATE
from driftloop_airflow.failures import no_retry_on_unfixable
from driftloop_airflow.runs import run_reason

settings = get_settings()

XGBOOST_PARAMS = {
    "max_depth": {"type": "integer", "minimum": 0},
    "eta": {"type": "number", "exclusiveMinimum": 0},
    "learning_rate": {"type": "number", "exclusiveMinimum": 0},
    "min_child_weight": {"type": "number", "minimum": 0},
    "subsample": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "colsample_bytree": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "colsample_bylevel": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "colsample_bynode": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "gamma": {"type": "number", "minimum": 0},
    "min_split_loss": {"type": "number", "minimum": 0},
    "lambda": {"type": "number", "minimum": 0},
    "reg_lambda": {"type": "number", "minimum": 0},
    "alpha": {"type": "number", "minimum": 0},
    "reg_alpha": {"type": "number", "minimum": 0},
    "max_delta_step": {"type": "number", "minimum": 0},
    "max_leaves": {"type": "integer", "minimum": 0},
    "max_bin": {"type": "integer", "minimum": 2},
    "grow_policy": {"type": "string", "enum": ["depthwise", "lossguide"]},
    "scale_pos_weight": {"type": "number", "exclusiveMinimum": 0},
    "max_cat_to_onehot": {"type": "integer", "minimum": 1},
    "num_boost_round": {"type": "integer", "minimum": 1},
    "early_stopping_rounds": {"type": "integer", "minimum": 1},
}
"""The hyperparameters the form accepts, with their JSON-schema types; any other name (a typo such as `max_dept`)
is refused when the run is triggered. The objective, device, seed and verbosity follow the run, not the form."""

NOT_BLANK = r"\S"
"""JSON-schema pattern (a search, not a full match): at least one character that is not white space."""


def _folder(context) -> str:
    from driftloop.model.training_run import run_folder

    return str(run_folder(f"{context['dag_run'].dag_id}-{context['run_id']}", settings))


@dag(
    schedule=settings.model.train_schedule,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["driftloop", "model"],
    doc_md=__doc__,
    description="Point-in-time training set, XGBoost, MLflow registration and the champion gate.",
    params={
        "window_start": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Window start",
            description="First label as_of date to train on. Empty: the newest window.",
        ),
        "window_end": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Window end",
            description="Last label as_of date to train on. Empty: the newest matured label.",
        ),
        "hyperparameters": Param(
            {},
            type="object",
            properties=XGBOOST_PARAMS,
            additionalProperties=False,
            title="Hyperparameter overrides",
            description='XGBoost overrides, e.g. {"max_depth": 4, "eta": 0.05}; known names only: '
            + ", ".join(XGBOOST_PARAMS)
            + ".",
        ),
        "tune": Param(
            False,
            type="boolean",
            title="Tune hyperparameters",
            description="Random search (DRIFTLOOP_TUNE_TRIALS trials, scored on the validation split) before training; "
            "the best parameters become this run's and the trials are recorded on the MLflow run.",
        ),
        "force_promote": Param(
            False,
            type="boolean",
            title="Force promotion",
            description="Promote the new version even if the gate rejects it.",
        ),
        "reason": Param(
            "manual",
            type="string",
            minLength=1,
            pattern=NOT_BLANK,
            title="Reason",
            description="Why this training runs; recorded on the MLflow run and version (scheduled runs record "
            "`scheduled`).",
        ),
    },
)
def train():
    @task
    @no_retry_on_unfixable
    def training_set(*, params=None, **context) -> dict:
        """Build and snapshot the point-in-time training set (a window ending before its start is refused)."""
        from pathlib import Path

        from driftloop.dates import parse_day
        from driftloop.model.training_run import step_training_set

        start = parse_day(params["window_start"]) if params["window_start"] else None
        end = parse_day(params["window_end"]) if params["window_end"] else None
        return step_training_set(Path(_folder(context)), start, end, settings)

    @task
    def split_by_time(summary: dict, **context) -> dict:
        """Train / validation / test by time."""
        from pathlib import Path

        from driftloop.model.training_run import step_split

        return step_split(Path(_folder(context)))

    @task(pool=settings.model.train_pool, queue=settings.model.train_queue)
    def train_model(counts: dict, *, params=None, **context) -> dict:
        """Fit XGBoost on the GPU when really present, else the CPU."""
        from pathlib import Path

        from driftloop.model.training_run import step_train

        return step_train(Path(_folder(context)), params["hyperparameters"], settings, tune=params["tune"])

    @task
    def evaluate(trained: dict, **context) -> dict:
        """Model and baseline metrics on the test split."""
        from pathlib import Path

        from driftloop.model.training_run import step_evaluate

        return step_evaluate(Path(_folder(context)), settings)

    @task
    def register(metrics: dict, *, params=None, **context) -> dict:
        """Log to MLflow and register the version as challenger."""
        import subprocess
        from pathlib import Path

        from driftloop.model.training_run import step_register

        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=os.path.dirname(__file__)
            ).stdout.strip()
            or "unknown"
        )
        dag_run = context["dag_run"]
        tags = {
            "dag_id": dag_run.dag_id,
            "run_id": context["run_id"],
            "try_number": str(context["ti"].try_number),
            "git_commit": commit,
            "reason": run_reason(dag_run.run_type, params["reason"], dag_run.conf or {}),
            "drift_records": ",".join(str(r) for r in (dag_run.conf or {}).get("drift_records", [])) or "-",
        }
        return step_register(Path(_folder(context)), tags, settings)

    @task(on_success_callback=alerts.on_gate)
    def gate(registered: dict, *, params=None, **context) -> dict:
        """Promote the challenger to champion only if it passes the gate."""
        from pathlib import Path

        from driftloop.model.training_run import step_gate

        decision = step_gate(Path(_folder(context)), params["force_promote"], settings)
        decision.pop("champion_history")
        return decision

    @task(outlets=[CHAMPION_MODEL])
    def publish_champion(summary: dict, decision: dict, *, outlet_events=None) -> str:
        """Update the champion_model asset when the gate promoted (skipped otherwise); the event names the version,
        its training window and rows, and the decision."""
        from airflow.sdk.exceptions import AirflowSkipException

        if not decision["promote"]:
            raise AirflowSkipException(f"version {decision['version']} was not promoted; champion unchanged")
        outlet_events[CHAMPION_MODEL].extra = {
            "model_version": decision["version"],
            "previous_champion": decision["previous_champion"],
            "window": f"{summary['start']}..{summary['end']}",
            "rows": summary["rows"],
            "verdict": "promoted",
            "reasons": decision["reasons"],
        }
        return decision["version"]

    summary = training_set()
    publish_champion(summary, gate(register(evaluate(train_model(split_by_time(summary))))))


train()
