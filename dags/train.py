"""
### Train, register and gate the use case's model

On `DRIFTLOOP_TRAIN_SCHEDULE` (weekly by default), by hand from the UI (params below), or triggered by another DAG
with a conf: `retrain_on_drift` passes a `reason` and the `drift_records` it consumed, which end up as tags of the
MLflow run and version.

1. **training_set** joins the matured labels of the window with the use case's FeatureService (churn:
   `customer_churn_v1`) point-in-time, checks there is exactly one row per label event (or, with
   `DRIFTLOOP_TRAINING_DROP_UNMATCHED`, drops and counts those without features), and snapshots it with its hash.
2. **split_by_time** keeps the most recent period for testing.
3. **train** fits XGBoost with early stopping, seeded, on the GPU when one is really there (read back from the
   booster) or the CPU; it runs in the pool and queue named by `DRIFTLOOP_TRAIN_POOL` / `DRIFTLOOP_TRAIN_QUEUE`.
4. **evaluate** scores the model and a linear baseline on the test split, overall and per slice of the spec
   (churn: plan, region and tenure band).
5. **register** logs params, metrics, plots, the model, the dataset lineage and the tags to MLflow and registers a
   new version with the alias `challenger`.
6. **gate** re-scores the `champion` on the same test split and moves `champion` only if the challenger beats it by
   `DRIFTLOOP_PROMOTION_MARGIN`, is not worse beyond `DRIFTLOOP_SLICE_TOLERANCE` on any slice, and beats the
   baseline (or `force_promote` is set). The decision and its reasons are in this task's log and on the version;
   the move is recorded in the champion history (printed in the log) before the alias moves.

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

settings = get_settings()


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
            title="Hyperparameter overrides",
            description='XGBoost overrides, e.g. {"max_depth": 4, "eta": 0.05}.',
        ),
        "force_promote": Param(
            False,
            type="boolean",
            title="Force promotion",
            description="Promote the new version even if the gate rejects it.",
        ),
        "reason": Param(
            "scheduled",
            type="string",
            title="Reason",
            description="Why this training runs; recorded on the MLflow run and version.",
        ),
        "drift_records": Param(
            [],
            type="array",
            items={"type": "integer"},
            title="Drift records",
            description="Ids of the drift records that triggered this run (set by retrain_on_drift).",
        ),
    },
)
def train():
    @task
    def training_set(*, params=None, **context) -> dict:
        """Build and snapshot the point-in-time training set."""
        from pathlib import Path

        from driftloop.dates import parse_day
        from driftloop.model.training_run import step_training_set

        start = parse_day(params["window_start"]) if params["window_start"] else None
        end = parse_day(params["window_end"]) if params["window_end"] else None
        summary = step_training_set(Path(_folder(context)), start, end, settings)
        print(f"training set {summary['start']}..{summary['end']}: {summary['rows']} rows, sha256 {summary['sha256']}")
        return summary

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

        result = step_train(Path(_folder(context)), params["hyperparameters"], settings)
        print(f"trained on {result['device']}, best iteration {result['best_iteration']}")
        return result

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
        tags = {
            "dag_id": context["dag_run"].dag_id,
            "run_id": context["run_id"],
            "try_number": str(context["ti"].try_number),
            "git_commit": commit,
            "reason": params["reason"],
            "drift_records": ",".join(str(r) for r in params["drift_records"]) or "-",
        }
        registered = step_register(Path(_folder(context)), tags, settings)
        print(f"registered {settings.model.name} version {registered['version']} (run {registered['run_id']})")
        return registered

    @task(on_success_callback=alerts.on_gate)
    def gate(registered: dict, *, params=None, **context) -> dict:
        """Promote the challenger to champion only if it passes the gate."""
        from pathlib import Path

        from driftloop.model.training_run import step_gate

        decision = step_gate(Path(_folder(context)), params["force_promote"], settings)
        verdict = "PROMOTED to champion" if decision["promote"] else "NOT promoted"
        print(f"version {decision['version']} {verdict}:")
        for reason in decision["reasons"]:
            print(f"  - {reason}")
        print(decision.pop("champion_history"))
        return decision

    @task(outlets=[CHAMPION_MODEL])
    def publish_champion(decision: dict, *, outlet_events=None) -> str:
        """Update the champion_model asset when the gate promoted (skipped otherwise)."""
        from airflow.sdk.exceptions import AirflowSkipException

        if not decision["promote"]:
            raise AirflowSkipException(f"version {decision['version']} was not promoted; champion unchanged")
        outlet_events[CHAMPION_MODEL].extra = {"version": decision["version"]}
        return decision["version"]

    publish_champion(gate(register(evaluate(train_model(split_by_time(training_set()))))))


train()
