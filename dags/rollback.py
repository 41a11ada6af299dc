"""
### Roll the champion back

Manual only. Moves the `champion` alias of `DRIFTLOOP_MODEL_NAME` back one step of its champion history (two
rollbacks go back two promotions; the first champion cannot be rolled back), records the move in the history with
who did it and why before the alias moves, and tags both versions. The history is printed in the task log (also
`driftloop champion-history`). A tracking server that does not answer fails the task, and its retries (or a cleared
task) complete its own half-done rollback instead of going back another step.
"""

from __future__ import annotations

import logging

from airflow.sdk import Param, dag, task

from driftloop.settings import get_settings
from driftloop_airflow import alerts
from driftloop_airflow.assets import CHAMPION_MODEL
from driftloop_airflow.defaults import DEFAULT_ARGS, START_DATE
from driftloop_airflow.failures import no_retry_on_unfixable

settings = get_settings()
log = logging.getLogger("driftloop.dags.rollback")


@dag(
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["driftloop", "model"],
    doc_md=__doc__,
    description="Move the champion alias back to the previous version, with an audit tag.",
    params={
        "requested_by": Param(
            "",
            type="string",
            minLength=1,
            pattern=r"\S",
            title="Requested by",
            description="Who asks for the rollback (recorded on the versions).",
        ),
        "reason": Param(
            "",
            type="string",
            minLength=1,
            pattern=r"\S",
            title="Reason",
            description="Why the champion is rolled back (recorded on the versions).",
        ),
    },
)
def rollback():
    @task(outlets=[CHAMPION_MODEL], on_success_callback=alerts.on_rollback)
    @no_retry_on_unfixable
    def move_champion_back(*, params=None, outlet_events=None, **context) -> dict:
        """Point `champion` at the previous champion of its history and tag both versions."""
        from driftloop.model.model_registry import read_history
        from driftloop.model.model_registry import rollback as roll_back

        uri, name = settings.mlflow_tracking_uri, settings.model.name
        moved_from, moved_to = roll_back(
            uri, name, params["requested_by"], params["reason"], request=f"rollback/{context['run_id']}"
        )
        log.info("champion of %s moved back from version %s to %s", name, moved_from, moved_to)
        log.info("champion history of %s:\n%s", name, read_history(uri, name).table())
        outlet_events[CHAMPION_MODEL].extra = {
            "model_version": moved_to,
            "previous_champion": moved_from,
            "verdict": "rolled back",
            "reasons": [params["reason"].strip()],
        }
        return {"from": moved_from, "to": moved_to}

    move_champion_back()


rollback()
