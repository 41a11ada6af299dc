"""
### Daily per-entity features into Feast

Runs whenever `ingest` accepts a batch (the `validated_batches` asset); several accepted days queued together are
processed in one run. It can also be triggered by hand with a list of `days` to recompute.

1. **days_to_process** reads the accepted days from the triggering asset events (or the `days` param), plus every
   accepted day whose features are older than an input they read: a re-delivered (or late) day makes the later days
   whose feature window holds it pending, and they are rebuilt here.
2. **build_features** runs the use case's feature function (`DRIFTLOOP_USECASE`; churn: rolling 7/30-day activity,
   tenure, plan, charges, payment failures and support contacts of every active customer) on each day, using only
   data up to that day, and writes `offline/<feature view>/dt=YYYY-MM-DD.parquet` (the Feast offline source),
   replacing it on reruns.
   It runs after **apply_feature_repo** and updates the `entity_features` asset, which `score` waits for: the
   critical path of a day ends here.
3. **apply_feature_repo** runs the equivalent of `feast apply` on `feature_repo/` (the use case's entity, source,
   feature view and the versioned FeatureService the model uses). Idempotent.
4. **materialize** loads those days, plus `DRIFTLOOP_MATERIALIZE_OVERLAP_DAYS` earlier for late data and every
   later day already built, into the online store and updates the `online_features` asset. It runs beside scoring
   and monitoring (which read the offline store point-in-time), so a slow or failed load holds back neither.

Runs are created as soon as an event arrives; each task runs one instance at a time across runs
(`max_active_tis_per_dag=1`), so Feast's registry and online store see one writer. Runs do not wait on each other:
Airflow 3.3 drops asset events that arrive while the creation of an asset-triggered run is held back (for example by
`max_active_runs`), and the catch-up of pending days in `days_to_process` covers events lost that way.
"""

from __future__ import annotations

import logging

from airflow.sdk import dag, task

from driftloop.settings import get_settings
from driftloop_airflow.assets import ENTITY_FEATURES, ONLINE_FEATURES, VALIDATED_BATCHES
from driftloop_airflow.days import days_param, no_days, requested_days
from driftloop_airflow.defaults import DEFAULT_ARGS, START_DATE
from driftloop_airflow.failures import no_retry_on_unfixable

settings = get_settings()
log = logging.getLogger("driftloop.dags.features")


@dag(
    schedule=[VALIDATED_BATCHES],
    start_date=START_DATE,
    catchup=False,
    default_args={**DEFAULT_ARGS, "max_active_tis_per_dag": 1},
    tags=["driftloop", "features"],
    doc_md=__doc__,
    description="Compute daily per-entity features, feast apply, and materialize them online.",
    params={
        "days": days_param(
            "Days to (re)compute",
            "YYYY-MM-DD days to rebuild by hand. Empty: the days accepted by the triggering ingest runs.",
        ),
    },
)
def features():
    @task
    @no_retry_on_unfixable
    def days_to_process(*, params=None, triggering_asset_events=None) -> list[str]:
        """The days to build: the `days` param, else the days of the triggering asset events plus any accepted
        day whose features are missing or older than its batch (so an event the scheduler dropped is caught up)."""
        from driftloop.features.partitions import pending_feature_days

        days = requested_days(params, triggering_asset_events, VALIDATED_BATCHES)
        if not params.get("days"):
            days |= {day.isoformat() for day in pending_feature_days(settings)}
        if not days:
            raise no_days("process", "let ingest accept a batch")
        log.info("days to build: %s", ", ".join(sorted(days)))
        return sorted(days)

    @task(outlets=[ENTITY_FEATURES])
    def build_features(days: list[str], *, outlet_events=None) -> list[dict]:
        """Write each day's feature partition to the offline store; returns the partitions written. Days already
        scored are listed: their predictions were made from the features replaced here."""
        from driftloop.dates import parse_day
        from driftloop.features.partitions import build_features_for_day, scored_days

        rescored = scored_days([parse_day(day) for day in days], settings)
        if rescored:
            log.info("scored days affected (predicted from the features rebuilt now): %s", [str(d) for d in rescored])
        written = []
        for day in days:
            partition = build_features_for_day(parse_day(day), settings)
            written.append({"day": day, "path": str(partition.path), "rows": partition.rows})
        outlet_events[ENTITY_FEATURES].extra = {"days": days, "rows": {w["day"]: w["rows"] for w in written}}
        return written

    @task
    def apply_feature_repo() -> list[str]:
        """Register the feature repo's definitions (the equivalent of `feast apply`)."""
        from driftloop.features.feature_store import apply_feature_repo as apply_repo

        return apply_repo(settings)

    @task(outlets=[ONLINE_FEATURES])
    def materialize(days: list[str], *, outlet_events=None) -> dict:
        """Load the days (and the overlap before them) into the online store."""
        from driftloop.dates import parse_day
        from driftloop.features.feature_store import materialize_days

        result = materialize_days([parse_day(day) for day in days], settings)
        extra = {
            "days": days,
            "online_from": result.start.date().isoformat(),
            "online_to": result.end.date().isoformat(),
        }
        outlet_events[ONLINE_FEATURES].extra = extra
        return extra

    days = days_to_process()
    built = build_features(days)
    applied = apply_feature_repo()
    applied >> built
    built >> materialize(days)


features()
