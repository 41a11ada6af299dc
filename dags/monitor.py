"""
### Monitor the champion's inputs, predictions and quality

Runs after `score` (on the `predictions` asset) for the days it scored, or by hand for any past `days`.

**monitor_days** compares, for each day, the scored feature rows with the training snapshot of the version that
scored them, less its rows whose feature windows were incomplete (Evidently; normed Wasserstein distance for numeric
and Jensen-Shannon for categorical columns), the day's scores with the version's scores on that snapshot (prediction
drift), and, once labels matured, the quality of the predictions made `DRIFTLOOP_LABEL_HORIZON_DAYS` earlier against
the version's test metric. Each threshold is the larger of its floor (`DRIFTLOOP_DRIFT_NUM_THRESHOLD` /
`DRIFTLOOP_DRIFT_CAT_THRESHOLD` / `DRIFTLOOP_PREDICTION_DRIFT_THRESHOLD`) and the sampling noise at the day's size,
bootstrapped from the snapshot and cached with it (`DRIFTLOOP_DRIFT_CALIBRATION_*`). A day drifts when one column is
beyond the severe distance (`DRIFTLOOP_DRIFT_SEVERE_THRESHOLD`), when the share of drifted columns reaches
`DRIFTLOOP_DRIFT_SHARE`, or on prediction drift; below `DRIFTLOOP_DRIFT_MIN_ROWS` rows it is `insufficient_data`
and triggers nothing. The task log prints each day's **verdict** (`drift`, `quality_drop`, `no_drift` or
`insufficient_data`) with its **reasons**, the drifted columns and the **report location**; the reports (Evidently's
HTML/JSON for a drift day or with `DRIFTLOOP_DRIFT_REPORTS=always`, else a summary of distances and thresholds;
`driftloop drift-report --day` renders Evidently's for any day) go to `DRIFTLOOP_REPORTS_URI`, the numbers to the
MLflow experiment `<model>-monitoring`, and the verdict to a **drift record** (`DRIFTLOOP_DRIFT_DB_URL`), one per
day and version, which `retrain_on_drift` consumes. Rerunning a day rewrites its reports and updates its record.

**update_dashboard** (while `DRIFTLOOP_DASHBOARD_ENABLED`) then adds each day's drift snapshot and, once labels
matured, its quality snapshot to the monitoring dashboard (Evidently UI), on the same sampled rows and thresholds as
the verdict. It runs after the verdicts are recorded and nothing waits for it, so a slow or failed dashboard never
holds back retraining.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from driftloop.settings import get_settings
from driftloop_airflow import alerts
from driftloop_airflow.assets import DRIFT_REPORTS, PREDICTIONS
from driftloop_airflow.days import days_param, no_days, requested_days
from driftloop_airflow.defaults import DEFAULT_ARGS, START_DATE
from driftloop_airflow.failures import no_retry_on_unfixable

settings = get_settings()


@dag(
    schedule=[PREDICTIONS],
    start_date=START_DATE,
    catchup=False,
    default_args={**DEFAULT_ARGS, "max_active_tis_per_dag": 1},
    tags=["driftloop", "monitoring"],
    doc_md=__doc__,
    description="Evidently drift, prediction drift and matured quality per scored day; writes drift records.",
    params={
        "days": days_param(
            "Days to monitor", "YYYY-MM-DD scored days to (re)monitor. Empty: the days of the triggering score runs."
        ),
    },
)
def monitor():
    @task
    @no_retry_on_unfixable
    def days_to_monitor(*, params=None, triggering_asset_events=None) -> list[str]:
        """The `days` param, else the days named by the triggering score runs."""
        days = requested_days(params, triggering_asset_events, PREDICTIONS)
        if not days:
            raise no_days("monitor", "let `score` run")
        return sorted(days)

    @task(outlets=[DRIFT_REPORTS], on_success_callback=alerts.on_monitored)
    def monitor_days(days: list[str], *, outlet_events=None) -> list[dict]:
        """Drift and quality reports per day, logged to MLflow and recorded as drift records."""
        from driftloop.dates import parse_day
        from driftloop.monitoring.monitor import monitor_day

        results = []
        for day in days:
            result = monitor_day(parse_day(day), settings)
            results.append(
                {
                    "day": day,
                    "model_version": result.model_version,
                    "verdict": result.verdict,
                    "drift_share": result.drift.drift_share,
                    "drifted_columns": result.drift.drifted_columns,
                    "reasons": result.reasons,
                    "report_uri": result.report_uri,
                    "record_id": result.record_id,
                }
            )
        outlet_events[DRIFT_REPORTS].extra = {
            "days": days,
            "verdicts": {r["day"]: r["verdict"] for r in results},
            "model_version": ",".join(sorted({r["model_version"] for r in results})),
        }
        return results

    @task
    def update_dashboard(days: list[str]) -> list[str]:
        """The days' snapshots on the monitoring dashboard (after their verdicts; nothing waits for it)."""
        from driftloop.dates import parse_day
        from driftloop.monitoring.monitor import dashboard_day

        return [dashboard_day(parse_day(day), settings) for day in days]

    days = days_to_monitor()
    monitored = monitor_days(days)
    if settings.links.dashboard_enabled:
        monitored >> update_dashboard(days)


monitor()
