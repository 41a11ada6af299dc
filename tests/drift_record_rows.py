"""One drift record written the way the monitoring step writes it, for the tests of the drift store and its claims."""

from __future__ import annotations

from datetime import date, datetime, timedelta


def write_drift_record(
    url: str,
    day: date,
    *,
    verdict: str = "drift",
    version: str = "1",
    share: float | None = None,
    metrics: dict | None = None,
    now: datetime | None = None,
):
    """Upsert the record of ``day`` for model ``churn``; a drift verdict names ``monthly_charge`` as drifted and has
    a drift share of 0.5 unless ``share`` says otherwise. Returns the stored record."""
    from driftloop.monitoring import drift_records

    drifted = verdict == "drift"
    return drift_records.upsert_record(
        url,
        model_name="churn",
        model_version=version,
        interval_start=day,
        interval_end=day + timedelta(days=1),
        verdict=verdict,
        drift_share=share if share is not None else (0.5 if drifted else 0.0),
        drifted_columns=["monthly_charge"] if drifted else [],
        metrics=metrics or {},
        report_uri=f"/reports/{day}.html",
        now=now,
    )
