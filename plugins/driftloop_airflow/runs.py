"""What a DAG run is for, read from Airflow's run: the reason recorded on what it produces."""

from __future__ import annotations


def run_reason(run_type, form_reason: str, conf: dict) -> str:
    """The reason a run records: a triggering DAG's conf ``reason`` (``retrain_on_drift``'s), else ``scheduled`` for a
    scheduled run, else the trigger form's (default ``manual``), stripped."""
    if str(conf.get("reason") or "").strip():
        return str(conf["reason"]).strip()
    if str(getattr(run_type, "value", run_type)) == "scheduled":
        return "scheduled"
    return form_reason.strip()
