"""The drift sensor: waits, deferred to the triggerer, until drift records call for a retraining.

``DriftSensor`` checks the drift record store once when it starts; if retraining may not start yet it defers to
``DriftTrigger``, which checks again every ``poke_interval`` seconds in the triggerer (no worker slot held) and fires
when there is at least one unconsumed ``drift`` or ``quality_drop`` record of the current champion version that is
ripe (a ``drift`` record once labels of ``min_post_drift_days`` days from its first day on have matured, a
``quality_drop`` at once), no drift-triggered retraining is still running and the cooldown since the last one has
passed (``driftloop.monitoring.drift_records.readiness``). It keeps no state of its own: each check reads the store
and the accepted labels again, so a sensor killed while it waits resumes where it was. Each check first finishes the
retrainings that never recorded their outcome from Airflow's record of their runs
(``driftloop.monitoring.drift_records.reconcile``), and asks the registry which version is champion, so records of
superseded versions trigger nothing. When the wait ends without a
retraining the task ends skipped, its log saying what blocked it and until when.

Neither the operator nor the trigger holds the drift database URL (it carries the password): both read it from
driftloop's settings (``DRIFTLOOP_DRIFT_DB_URL``) when they run, so it is in no template field, rendered field,
serialized trigger or log. The trigger lives here, in ``plugins/``, because the triggerer cannot import from
``dags/``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowSkipException
from airflow.triggers.base import BaseTrigger, TriggerEvent

TRIGGER_GRACE_S = 300.0
"""How much longer than its own deadline Airflow lets the trigger run before failing the task."""


def airflow_run_state(dag_id: str, run_id: str) -> str | None:
    """The state of an Airflow DAG run, or None when there is no such run; asks Airflow's execution API, from a task
    or from the triggerer."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    if not RuntimeTaskInstance.get_dr_count(dag_id=dag_id, run_ids=[run_id]):
        return None
    state = RuntimeTaskInstance.get_dagrun_state(dag_id=dag_id, run_id=run_id)
    return str(getattr(state, "value", state))


def champion_version(model_name: str) -> str | None:
    """The registered version holding the ``champion`` alias now, or None."""
    from driftloop.model import model_registry
    from driftloop.settings import get_settings

    champion = model_registry.version_by_alias(get_settings().mlflow_tracking_uri, model_name, "champion")
    return None if champion is None else str(champion.version)


def label_clock(min_post_drift_days: int):
    """How far the accepted labels have matured now (``driftloop.monitoring.drift_records.LabelClock``)."""
    from driftloop.model.training_set import newest_label_day
    from driftloop.monitoring.drift_records import LabelClock
    from driftloop.settings import get_settings

    settings = get_settings()
    return LabelClock(newest_label_day(settings), min_post_drift_days, settings.label_horizon_days)


def check_drift(
    model_name: str, cooldown_s: float, max_active: int, claim_timeout_s: float, min_post_drift_days: int = 0
) -> tuple[list[int], str]:
    """Reconcile unfinished retrainings with Airflow, then the record ids retraining may start on now (empty when it
    may not) and why."""
    from driftloop.monitoring import drift_records
    from driftloop.settings import get_settings

    url = get_settings().monitoring.drift_db_url
    reconciled = drift_records.reconcile(url, model_name, airflow_run_state)
    ids, reason = drift_records.readiness(
        url,
        model_name,
        cooldown_s,
        None,
        max_active,
        champion_version=champion_version(model_name),
        claim_timeout_s=claim_timeout_s,
        labels=label_clock(min_post_drift_days),
    )
    return ids, "; ".join([*reconciled, reason])


class DriftTrigger(BaseTrigger):
    """Fires ``{"status": "ready", ...}`` with the pending record ids once retraining may start, or
    ``{"status": "timeout", "reason": ...}`` at ``deadline`` (epoch seconds) (see the module docstring)."""

    def __init__(
        self,
        model_name: str,
        cooldown_s: float,
        poke_interval_s: float,
        deadline: float,
        max_active: int,
        claim_timeout_s: float,
        min_post_drift_days: int = 0,
    ) -> None:
        super().__init__()
        self.min_post_drift_days = min_post_drift_days
        self.model_name = model_name
        self.cooldown_s = cooldown_s
        self.poke_interval_s = poke_interval_s
        self.deadline = deadline
        self.max_active = max_active
        self.claim_timeout_s = claim_timeout_s

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and arguments the triggerer rebuilds the trigger from (no URL, no secret)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "model_name": self.model_name,
                "cooldown_s": self.cooldown_s,
                "poke_interval_s": self.poke_interval_s,
                "deadline": self.deadline,
                "max_active": self.max_active,
                "claim_timeout_s": self.claim_timeout_s,
                "min_post_drift_days": self.min_post_drift_days,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Check the store off the event loop until retraining may start or the deadline passes."""
        last_reason = None
        while True:
            ids, reason = await asyncio.to_thread(
                check_drift,
                self.model_name,
                self.cooldown_s,
                self.max_active,
                self.claim_timeout_s,
                self.min_post_drift_days,
            )
            if ids:
                self.log.info("drift sensor fires: %s", reason)
                yield TriggerEvent({"status": "ready", "record_ids": ids, "reason": reason})
                return
            if reason != last_reason:
                until = datetime.fromtimestamp(self.deadline, UTC)
                self.log.info(
                    "drift sensor waits (checks every %.0f s until %s): %s", self.poke_interval_s, until, reason
                )
                last_reason = reason
            if time.time() + self.poke_interval_s > self.deadline:
                yield TriggerEvent({"status": "timeout", "reason": reason})
                return
            await asyncio.sleep(self.poke_interval_s)


class DriftSensor(BaseSensorOperator):
    """Waits for drift records that call for a retraining; returns ``{"record_ids": [...], "reason": ...}``.

    Always deferrable: the wait happens in the triggerer. After ``timeout`` seconds without a retraining it ends
    skipped, with the reason (nothing pending, or what blocks the pending records and until when) in its log.
    """

    template_fields = ("model_name",)

    def __init__(
        self,
        *,
        model_name: str,
        cooldown_s: float,
        claim_timeout_s: float,
        max_active: int = 1,
        min_post_drift_days: int = 0,
        poke_interval: float = 60.0,
        **kwargs,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.min_post_drift_days = min_post_drift_days
        self.model_name = model_name
        self.cooldown_s = cooldown_s
        self.max_active = max_active
        self.claim_timeout_s = claim_timeout_s

    def poke(self, context) -> bool:
        """Whether retraining may start now."""
        ids, reason = check_drift(
            self.model_name, self.cooldown_s, self.max_active, self.claim_timeout_s, self.min_post_drift_days
        )
        self.log.info("drift records: %s", reason)
        return bool(ids)

    def execute(self, context) -> dict:
        """Return at once when records are ready, else defer to the trigger until ``timeout``."""
        ids, reason = check_drift(
            self.model_name, self.cooldown_s, self.max_active, self.claim_timeout_s, self.min_post_drift_days
        )
        if ids:
            self.log.info("drift sensor fires at once: %s", reason)
            return {"record_ids": ids, "reason": reason}
        self.log.info(
            "drift sensor defers for at most %.0f s (until %s): %s",
            self.timeout,
            datetime.now(UTC) + timedelta(seconds=self.timeout),
            reason,
        )
        self.defer(
            trigger=DriftTrigger(
                self.model_name,
                self.cooldown_s,
                self.poke_interval,
                time.time() + self.timeout,
                self.max_active,
                self.claim_timeout_s,
                self.min_post_drift_days,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout + TRIGGER_GRACE_S),
        )

    def execute_complete(self, context, event: dict) -> dict:
        """The trigger's ready event is the sensor's result; at its deadline the task ends skipped, saying why."""
        if event["status"] != "ready":
            self.log.warning("no retraining after %.0f s: %s", self.timeout, event["reason"])
            raise AirflowSkipException(f"no retraining after {self.timeout:.0f} s: {event['reason']}")
        return {"record_ids": event["record_ids"], "reason": event["reason"]}
