"""The drift sensor: waits, deferred to the triggerer, until drift records call for a retraining.

``DriftSensor`` checks the drift record store once when it starts; if retraining may not start yet it defers to
``DriftTrigger``, which queries the store every ``poke_interval`` seconds in the triggerer (no worker slot held)
and fires when there is at least one unconsumed ``drift`` or ``quality_drop`` record, no drift-triggered retraining
is still running and the cooldown since the last one has passed (``driftloop.monitoring.drift_records.readiness``). The
trigger lives here, in ``plugins/``, because the triggerer cannot import from ``dags/``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent


class DriftTrigger(BaseTrigger):
    """Fires with the pending record ids once retraining may start (see the module docstring)."""

    def __init__(
        self, db_url: str, model_name: str, cooldown_s: float, poke_interval_s: float, max_active: int = 1
    ) -> None:
        super().__init__()
        self.db_url = db_url
        self.model_name = model_name
        self.cooldown_s = cooldown_s
        self.poke_interval_s = poke_interval_s
        self.max_active = max_active

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and arguments the triggerer rebuilds the trigger from."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "db_url": self.db_url,
                "model_name": self.model_name,
                "cooldown_s": self.cooldown_s,
                "poke_interval_s": self.poke_interval_s,
                "max_active": self.max_active,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll the store off the event loop until retraining may start."""
        from driftloop.monitoring.drift_records import readiness

        last_reason = None
        while True:
            ids, reason = await asyncio.to_thread(
                readiness, self.db_url, self.model_name, self.cooldown_s, None, self.max_active
            )
            if ids:
                self.log.info("drift sensor fires: %s", reason)
                yield TriggerEvent({"record_ids": ids, "reason": reason})
                return
            if reason != last_reason:
                self.log.info("drift sensor waits: %s", reason)
                last_reason = reason
            await asyncio.sleep(self.poke_interval_s)


class DriftSensor(BaseSensorOperator):
    """Waits for drift records that call for a retraining; returns ``{"record_ids": [...], "reason": ...}``.

    Always deferrable: the wait happens in the triggerer. ``timeout`` bounds the wait; with ``soft_fail`` a
    timed-out wait ends skipped rather than failed.
    """

    template_fields = ("db_url", "model_name")

    def __init__(
        self,
        *,
        db_url: str,
        model_name: str,
        cooldown_s: float,
        max_active: int = 1,
        poke_interval: float = 60.0,
        **kwargs,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.db_url = db_url
        self.model_name = model_name
        self.cooldown_s = cooldown_s
        self.max_active = max_active

    def poke(self, context) -> bool:
        """Whether retraining may start now (used by the first check before deferring)."""
        from driftloop.monitoring.drift_records import readiness

        ids, reason = readiness(self.db_url, self.model_name, self.cooldown_s, None, self.max_active)
        self.log.info("drift records: %s", reason)
        return bool(ids)

    def execute(self, context) -> dict:
        """Return at once when records are ready, else defer to the trigger."""
        from driftloop.monitoring.drift_records import readiness

        ids, reason = readiness(self.db_url, self.model_name, self.cooldown_s, None, self.max_active)
        if ids:
            self.log.info("drift sensor fires at once: %s", reason)
            return {"record_ids": ids, "reason": reason}
        self.log.info("drift sensor defers: %s", reason)
        self.defer(
            trigger=DriftTrigger(self.db_url, self.model_name, self.cooldown_s, self.poke_interval, self.max_active),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context, event: dict | None = None) -> dict:
        """The trigger's event is the sensor's result."""
        return event
