"""
### Score every entity with the champion

Runs after `features` (on the `entity_features` asset) for the days it built, or by hand for any `days`
(backfills score with the features as of their own day).

**score** resolves `models:/<DRIFTLOOP_MODEL_NAME>@champion` to a concrete version (and fails clearly when there is
none), reads the FeatureService point-in-time at the end of each day for every entity with a feature row that day,
builds the model matrix with the same function as training, checks inputs and outputs, and writes
`predictions/dt=YYYY-MM-DD.parquet` and, when `DRIFTLOOP_PREDICTIONS_DB_URL` is set, the PostgreSQL table
of the use case's `[predictions] table` (keyed by entity and score date). Rerunning a day replaces its predictions.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from driftloop.settings import get_settings
from driftloop_airflow.assets import ENTITY_FEATURES, PREDICTIONS
from driftloop_airflow.days import days_param, no_days, requested_days
from driftloop_airflow.defaults import DEFAULT_ARGS, START_DATE
from driftloop_airflow.failures import no_retry_on_unfixable

settings = get_settings()


@dag(
    schedule=[ENTITY_FEATURES],
    start_date=START_DATE,
    catchup=False,
    default_args={**DEFAULT_ARGS, "max_active_tis_per_dag": 1},
    tags=["driftloop", "model"],
    doc_md=__doc__,
    description="Daily predictions of the champion model for every entity with features.",
    params={
        "days": days_param(
            "Days to score", "YYYY-MM-DD days to (re)score. Empty: the days of the triggering features runs."
        ),
    },
)
def score():
    @task
    @no_retry_on_unfixable
    def days_to_score(*, params=None, triggering_asset_events=None) -> list[str]:
        """The `days` param, else the days named by the triggering features runs."""
        days = requested_days(params, triggering_asset_events, ENTITY_FEATURES)
        if not days:
            raise no_days("score", "let `features` run")
        return sorted(days)

    @task(outlets=[PREDICTIONS])
    def score_days(days: list[str], *, outlet_events=None) -> list[dict]:
        """Score each day with the champion; Parquet always, PostgreSQL when configured."""
        from driftloop.dates import parse_day
        from driftloop.serving.scoring import score_day

        results = []
        for day in days:
            scored = score_day(parse_day(day), settings)
            results.append({"day": day, "rows": scored.rows, "model_version": scored.model_version})
        outlet_events[PREDICTIONS].extra = {
            "days": days,
            "rows": {r["day"]: r["rows"] for r in results},
            "model_version": ",".join(sorted({r["model_version"] for r in results})),
        }
        return results

    score_days(days_to_score())


score()
