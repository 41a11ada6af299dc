"""Alerts as task callbacks, delivered by the SMTP provider's ``SmtpNotifier`` on the connection
``DRIFTLOOP_ALERTS_SMTP_CONN_ID``.

Each callback reads what its task returned (or, for a quarantine, the day's ``report.json``), builds the message
with ``driftloop.ops.alerts`` and sends it when ``DRIFTLOOP_ALERTS_ENABLED`` is true and the event is among
``DRIFTLOOP_ALERTS_ON``. A callback that cannot send logs why; the task's state does not change (Airflow runs
callbacks after the task has finished). Attached in the DAG files:

- ``ingest.validate`` on failure: a quarantined batch;
- ``monitor.monitor_days`` on success: days whose verdict is drift or quality_drop;
- ``train.gate`` on success: a promotion to champion;
- ``rollback.move_champion_back`` on success: a rollback;
- ``retrain_on_drift.record_outcome`` on success: a drift-triggered train run that never started.
"""

from __future__ import annotations

import json
import logging

from driftloop.settings import get_settings

log = logging.getLogger(__name__)


def _run_url(context) -> str:
    from driftloop.model.model_registry import airflow_run_url

    dag_run = context["dag_run"]
    return airflow_run_url(get_settings().links.airflow_ui_url, dag_run.dag_id, dag_run.run_id)


def _returned(context):
    ti = context["ti"]
    return ti.xcom_pull(task_ids=ti.task_id)


def send(alert, context) -> bool:
    """Deliver ``alert`` through ``SmtpNotifier`` when alerts and its event are switched on; returns whether it was
    sent."""
    config = get_settings().alerts
    if alert is None or not config.enabled or alert.event not in config.events:
        return False
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    notifier = SmtpNotifier(
        to=list(config.to),
        from_email=config.from_email,
        subject=alert.subject,
        html_content=alert.html(),
        smtp_conn_id=config.smtp_conn_id,
    )
    # notify() sends the fields as given: a subject or body holding "{{" is not taken for a template.
    notifier.notify(context)
    log.info("alert sent to %s through connection %s: %s", ", ".join(config.to), config.smtp_conn_id, alert.subject)
    return True


def on_quarantine(context) -> None:
    """``validate`` failed: alert when the day's batch was quarantined (its ``report.json`` exists)."""
    from driftloop.ops import alerts
    from driftloop.storage import lake

    settings = get_settings()
    raw = context["ti"].xcom_pull(task_ids="copy_to_raw") or {}
    day = raw.get("day")
    if not day:
        return
    from driftloop.dates import parse_day

    report_path = lake.partition_dir(settings.quarantine_dir, parse_day(day)) / "report.json"
    if not report_path.exists():
        log.info("validate failed for %s without a quarantine report: no quarantine alert", day)
        return
    report = json.loads(report_path.read_text())
    send(alerts.quarantine(settings.model.name, day, report, str(report_path), _run_url(context)), context)


def on_monitored(context) -> None:
    """``monitor_days`` succeeded: alert on the days whose verdict is drift or quality_drop."""
    from driftloop.monitoring.dashboard import project_url
    from driftloop.ops import alerts

    settings = get_settings()
    links = settings.links
    dashboard = project_url(links.dashboard_url, links.dashboard_workspace, settings.model.name)
    alert = alerts.drift(settings.model.name, _returned(context) or [], _run_url(context), dashboard)
    send(alert, context)


def on_gate(context) -> None:
    """``gate`` succeeded: alert when it promoted the version (with the warning of a forced, worse version)."""
    from driftloop.model.model_registry import promotion_warning
    from driftloop.model.promotion import PromotionDecision
    from driftloop.ops import alerts

    decision = _returned(context) or {}
    warning = promotion_warning(PromotionDecision(bool(decision.get("promote")), list(decision.get("reasons", []))))
    send(alerts.promotion(get_settings().model.name, decision, _run_url(context), warning), context)


def on_rollback(context) -> None:
    """``move_champion_back`` succeeded: alert with the versions, who asked and why."""
    from driftloop.ops import alerts

    params = context["params"]
    moved = _returned(context)
    if not moved:
        return
    name = get_settings().model.name
    send(alerts.rollback(name, moved, params["requested_by"], params["reason"], _run_url(context)), context)


def on_retrain_outcome(context) -> None:
    """``record_outcome`` succeeded: alert when the drift-triggered train run never started."""
    from driftloop.monitoring.drift_records import NOT_STARTED
    from driftloop.ops import alerts

    if _returned(context) != NOT_STARTED:
        return
    claimed = context["ti"].xcom_pull(task_ids="claim_drift_records") or {}
    send(alerts.retrain_not_started(get_settings().model.name, claimed, _run_url(context)), context)
