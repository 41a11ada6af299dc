"""
### Ingest and validate the daily batch

Each run handles **one day** of upstream drops: the raw tables of the use case's spec (churn: customer activity
events, profile snapshots and matured churn labels), delivered to the landing area (a local folder, or an S3 bucket
through the `aws` connection named by `DRIFTLOOP_AWS_CONN_ID`).

1. **wait_for_batch** defers until the day's `_SUCCESS` marker appears in landing (no worker slot held; fails after
   `DRIFTLOOP_LANDING_TIMEOUT_S`).
2. **copy_to_raw** copies the batch, as delivered, into a new delivery `dt=YYYY-MM-DD/delivery=<UTC time>/` of
   `DRIFTLOOP_RAW_URI` (a folder, or an S3 prefix in the production stack); earlier deliveries of the day are kept,
   and a copy byte-identical to the newest one is not stored again.
3. **validate** checks every table of that delivery against its data contract (a complete file with the header's
   field count on every row, columns, types, finite numbers, textual NaN, UTC offsets, nulls, ranges, categories,
   keys, the day of each timestamp, references to other tables) and against the spec's bounds and recently accepted
   batches (row count, null rates; a skipped comparison is logged). An accepted delivery is written typed to
   `validated/` (a re-delivery logs the rows added, removed and changed, and the later days whose features are now
   stale), marked in `raw/dt=YYYY-MM-DD/_ACCEPTED`, and updates the `validated_batches` asset, which starts the
   `features` DAG. A rejected delivery is copied to `quarantine/dt=YYYY-MM-DD/` with a `report.json` (raw keeps it,
   and an accepted day's validated rows stay as they were); the task fails **without retries**, names the files and
   checks in its log, and nothing downstream runs for that day.

**Which day a run ingests** is said in its first line of `wait_for_batch`'s log and in the asset events' extra:
the **Batch day** param when given, else the start of the run's data interval. For a scheduled or backfill run
that is the day the run is named after; for a manual run with logical date X it is the day *before* X (Airflow
gives a manual run the last complete day before its logical date), so to ingest a given day by hand, fill in
**Batch day**. Clearing `validate` re-validates the delivery its run copied.

**Runs never queue behind a wait.** Runs are not serialized as a whole: several runs may wait for their batches
at once (deferred in the triggerer, no worker slot held), so unpausing the DAG, whose scheduled run for yesterday
may wait `DRIFTLOOP_LANDING_TIMEOUT_S` for a batch that never comes, does not hold back a manual run for a day that
has landed. What must not overlap is serialized by task instead: `copy_to_raw` and `validate` run one instance at
a time across runs (`max_active_tis_per_dag=1`), so raw, `validated/` and the accepted history have one writer,
and the scheduler starts them oldest logical date first.

Backfill with `airflow backfill create --dag-id ingest --from-date ... --to-date ...`.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from driftloop.settings import get_settings
from driftloop_airflow import alerts
from driftloop_airflow.assets import RAW_BATCHES, VALIDATED_BATCHES
from driftloop_airflow.defaults import DEFAULT_ARGS, START_DATE
from driftloop_airflow.failures import no_retry_on_unfixable
from driftloop_airflow.landing import LandingBatchSensor

settings = get_settings()
BATCH_DAY = "{{ params.day or data_interval_start.strftime('%Y-%m-%d') }}"


@dag(
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=settings.catchup,
    max_active_runs=16,
    default_args=DEFAULT_ARGS,
    tags=["driftloop", "data"],
    doc_md=__doc__,
    description="Wait for the day's batch, copy it to raw, validate it or quarantine it.",
    params={
        "day": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Batch day",
            description="Day to ingest (YYYY-MM-DD). Empty: the start of the run's data interval, which for a manual "
            "run is the day BEFORE its logical date; fill this in to ingest a given day by hand.",
        ),
    },
)
def ingest():
    wait_for_batch = LandingBatchSensor(
        task_id="wait_for_batch",
        day=BATCH_DAY,
        settings=settings,
        poke_interval=settings.landing_poke_interval_s,
        timeout=settings.landing_timeout_s,
        retries=0,
    )

    @task(outlets=[RAW_BATCHES], max_active_tis_per_dag=1)
    def copy_to_raw(day: str, *, outlet_events=None) -> dict:
        """Copy the landed batch into a new delivery of its raw partition; returns the delivery and the files copied
        with their hashes."""
        import tempfile
        from pathlib import Path

        from driftloop.dates import parse_day
        from driftloop.ingest.landing import copy_batch_to_raw
        from driftloop_airflow.landing import fetch_batch

        batch_day = parse_day(day)
        with tempfile.TemporaryDirectory() as workdir:
            source = fetch_batch(settings, batch_day, Path(workdir))
            raw = copy_batch_to_raw(batch_day, source, settings)
        copied = {"day": day, "uri": raw.uri, "delivery": raw.delivery, "new": raw.new, "files": raw.files}
        outlet_events[RAW_BATCHES].extra = {"day": day, "delivery": raw.delivery, "new": raw.new}
        return copied

    @task(outlets=[VALIDATED_BATCHES], retries=0, max_active_tis_per_dag=1, on_failure_callback=alerts.on_quarantine)
    @no_retry_on_unfixable
    def validate(day: str, raw: dict, *, outlet_events=None) -> dict:
        """Validate the delivery `copy_to_raw` stored; accept it into `validated/` or quarantine it and fail."""
        from driftloop.dates import parse_day
        from driftloop.ingest.validation import validate_batch

        accepted = validate_batch(parse_day(day), settings, delivery=raw["delivery"])
        summary = {
            "day": day,
            "delivery": accepted.delivery,
            "row_counts": accepted.row_counts,
            "changes": accepted.changes,
            "stale_feature_days": [str(d) for d in accepted.stale_feature_days],
        }
        outlet_events[VALIDATED_BATCHES].extra = summary
        return summary

    raw = copy_to_raw(BATCH_DAY)
    wait_for_batch >> raw
    validate(BATCH_DAY, raw)


ingest()
