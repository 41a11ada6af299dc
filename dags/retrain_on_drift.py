"""
### Retrain when drift is detected

Runs after each `monitor` run (on the `drift_reports` asset), and by hand from the UI.

1. **wait_for_drift** (`DriftSensor`, deferrable: it waits in the triggerer and holds no worker slot) waits until
   there is an unconsumed drift record with verdict `drift` or `quality_drop` of the current champion version
   (records of superseded versions are kept for history and trigger nothing) that is ripe: a `drift` record once
   the labels of `DRIFTLOOP_RETRAIN_MIN_POST_DRIFT_DAYS` days from the drift's first day on have matured (the label
   horizon decides when; the log says which as-of days it waits for and with which batch they arrive), a
   `quality_drop` record at once. A waiting record stays unconsumed in the store: a later run, or this sensor
   resumed after a kill, finds it again. Fewer than
   `DRIFTLOOP_RETRAIN_MAX_ACTIVE` drift-triggered retrainings are unfinished and `DRIFTLOOP_RETRAIN_COOLDOWN_S` has
   passed since the last one started. It polls the drift record store
   every `DRIFTLOOP_DRIFT_POKE_INTERVAL_S` seconds; each check first finishes retrainings that never recorded their
   outcome from Airflow's record of their runs (their `train` run ended: its state; it never started: the records
   are released), and one Airflow cannot tell about stops counting as running after
   `DRIFTLOOP_RETRAIN_CLAIM_TIMEOUT_S`. After `DRIFTLOOP_DRIFT_SENSOR_TIMEOUT_S` without a retraining it ends
   skipped. Its log says what it waits for: nothing pending, or what blocks the pending records and until when.
   It reads the drift database URL from the settings when it runs: no password in its fields.
2. **claim_drift_records** takes every pending record of the champion (`DRIFTLOOP_RETRAIN_COALESCE`; else the
   oldest) in one locked transaction and marks them consumed by this run, so a record never triggers twice and
   several records are coalesced into one retraining; it takes only ripe records' episodes (the same label rule as
   the sensor). The training window runs from the drift's first day to the newest matured label day, so the
   retraining learns the world since the drift and the gate tests it on the newest matured labels (a
   quality-drop-only claim uses the default window ending on the newest matured label day); if another run got them
   first, or a guard holds, the rest is skipped and the log says why.
3. **trigger_train** starts `train` (run id `drift__<this run id>`) with a conf naming the reason, the records and
   the training window,
   and waits for it, deferred. `train` itself runs one at a time.
4. **record_outcome** writes how the training ended to the store; the cooldown counts from the start. When the
   `train` run never started the records are released for the next retraining.

The retrain decision and the records are in the logs of tasks 1 and 2; whether the new version became champion is
decided by `train`'s gate, as for any training.
"""

from __future__ import annotations

import logging

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

from driftloop.settings import get_settings
from driftloop_airflow import alerts
from driftloop_airflow.assets import DRIFT_REPORTS
from driftloop_airflow.defaults import DEFAULT_ARGS, START_DATE
from driftloop_airflow.drift import DriftSensor

settings = get_settings()
log = logging.getLogger("driftloop.dags.retrain_on_drift")
monitoring = settings.monitoring


@dag(
    schedule=[DRIFT_REPORTS],
    start_date=START_DATE,
    catchup=False,
    default_args=DEFAULT_ARGS,
    render_template_as_native_obj=True,
    tags=["driftloop", "monitoring"],
    doc_md=__doc__,
    description="A deferrable drift sensor that turns drift records into one guarded training run.",
)
def retrain_on_drift():
    wait_for_drift = DriftSensor(
        task_id="wait_for_drift",
        model_name=settings.model.name,
        cooldown_s=monitoring.retrain_cooldown_s,
        claim_timeout_s=monitoring.retrain_claim_timeout_s,
        max_active=monitoring.retrain_max_active,
        min_post_drift_days=monitoring.retrain_min_post_drift_days,
        poke_interval=monitoring.sensor_poke_interval_s,
        timeout=monitoring.sensor_timeout_s,
        retries=0,
    )

    @task
    def claim_drift_records(ready: dict, **context) -> dict:
        """Consume the pending records of the champion for this run, atomically; skip when there is nothing to take."""
        import logging

        from airflow.sdk.exceptions import AirflowSkipException

        from driftloop.monitoring.drift_records import claim, retraining_window, set_train_run
        from driftloop_airflow.drift import champion_version, label_clock

        log = logging.getLogger("airflow.task")
        run_id = context["run_id"]
        labels = label_clock(monitoring.retrain_min_post_drift_days)
        claimed = claim(
            monitoring.drift_db_url,
            run_id,
            settings.model.name,
            monitoring.retrain_cooldown_s,
            max_active=monitoring.retrain_max_active,
            coalesce=monitoring.retrain_coalesce,
            champion_version=champion_version(settings.model.name),
            claim_timeout_s=monitoring.retrain_claim_timeout_s,
            labels=labels,
        )
        if claimed is None:
            raise AirflowSkipException(
                f"records {ready['record_ids']} were taken by another run, or a guard holds: nothing to retrain"
            )
        train_run_id = f"drift__{run_id}"
        set_train_run(monitoring.drift_db_url, run_id, train_run_id)
        start, end = retraining_window(claimed, labels)
        log.info("retraining: claimed drift records %s; starting train run %s", claimed.record_ids, train_run_id)
        log.info("reason: %s", claimed.reason)
        log.info("training window: %s..%s (labels matured through %s)", start or "default", end, labels.matured_through)
        return {
            "record_ids": claimed.record_ids,
            "reason": claimed.reason,
            "train_run_id": train_run_id,
            "window_start": start,
            "window_end": end,
        }

    claimed = claim_drift_records(wait_for_drift.output)
    trigger_train = TriggerDagRunOperator(
        task_id="trigger_train",
        trigger_dag_id="train",
        trigger_run_id="{{ ti.xcom_pull(task_ids='claim_drift_records')['train_run_id'] }}",
        conf={
            "reason": "{{ ti.xcom_pull(task_ids='claim_drift_records')['reason'] }}",
            "drift_records": "{{ ti.xcom_pull(task_ids='claim_drift_records')['record_ids'] }}",
            "window_start": "{{ ti.xcom_pull(task_ids='claim_drift_records')['window_start'] }}",
            "window_end": "{{ ti.xcom_pull(task_ids='claim_drift_records')['window_end'] }}",
        },
        note="retraining on drift: the records and the reason are in this run's conf (drift_records, reason)",
        wait_for_completion=True,
        deferrable=True,
        poke_interval=monitoring.sensor_poke_interval_s,
        allowed_states=["success"],
        failed_states=["failed"],
        retries=0,
    )

    @task(trigger_rule="all_done", on_success_callback=alerts.on_retrain_outcome)
    def record_outcome(claimed: dict | None, **context) -> str:
        """Store how the drift-triggered training ended; release the records when it never started."""
        from airflow.sdk.exceptions import AirflowSkipException

        from driftloop.monitoring.drift_records import ENDED_RUN_STATES, NOT_STARTED, finish, release
        from driftloop_airflow.drift import airflow_run_state

        if not claimed:
            raise AirflowSkipException("nothing was claimed, so no training ran")
        train_run_id = claimed["train_run_id"]
        state = airflow_run_state("train", train_run_id)
        if state is None:
            release(monitoring.drift_db_url, context["run_id"])
            log.info("train run %s never started: records %s released", train_run_id, claimed["record_ids"])
            return NOT_STARTED
        if state not in ENDED_RUN_STATES:
            log.info("train run %s is still %s: the drift sensor records its outcome when it ends", train_run_id, state)
            return state
        finish(monitoring.drift_db_url, context["run_id"], state)
        log.info("train run %s ended %s", train_run_id, state)
        return state

    claimed >> trigger_train >> record_outcome(claimed)


retrain_on_drift()
