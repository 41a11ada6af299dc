"""The alerts the loop sends, as messages: what happened, to which day and model version, and where to look.

Each builder turns a task's result into an :class:`Alert` (event, subject, lines, links); the Airflow side
(``driftloop_airflow.alerts``) decides whether the event is switched on (``DRIFTLOOP_ALERTS_*``) and delivers it
through the SMTP provider's notifier. Nothing here sends anything or imports Airflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

ALERTING_VERDICTS = ("drift", "quality_drop")
"""Monitoring verdicts that raise an alert."""


@dataclass(frozen=True)
class Alert:
    """One message: its event (see ``driftloop.settings.ALERT_EVENTS``), subject, body lines and links."""

    event: str
    subject: str
    lines: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        """The body as plain text."""
        links = [f"{name}: {url}" for name, url in self.links.items()]
        return "\n".join([self.subject, "", *self.lines, *([""] + links if links else [])])

    def html(self) -> str:
        """The body as HTML (every value escaped)."""
        items = "".join(f"<li>{escape(line)}</li>" for line in self.lines)
        links = "".join(f'<li><a href="{escape(url)}">{escape(name)}</a></li>' for name, url in self.links.items())
        return f"<h3>{escape(self.subject)}</h3><ul>{items}</ul>" + (f"<p>Links:</p><ul>{links}</ul>" if links else "")


def quarantine(model_name: str, day: str, report: dict, report_path: str, run_url: str) -> Alert:
    """A rejected batch (its quarantine ``report.json``): the day, the failed checks (file, column, rows) and where
    the quarantined copy is."""
    failures = report.get("failures") or []
    lines = [f"day {day}: delivery {report.get('delivery', '?')} was rejected ({len(failures)} failed checks)"]
    for failure in failures[:10]:
        where = ".".join(str(failure[k]) for k in ("file", "column") if failure.get(k))
        rows = f", {failure['failing_count']} rows" if failure.get("failing_count") is not None else ""
        lines.append(f"{failure.get('check', '?')} on {where or 'the batch'}{rows}")
    if len(failures) > 10:
        lines.append(f"... and {len(failures) - 10} more in the report")
    lines.append(f"quarantined with {report_path}")
    return Alert("quarantine", f"[driftloop {model_name}] batch {day} quarantined", lines, {"Airflow run": run_url})


def drift(model_name: str, results: list[dict], run_url: str, dashboard_url: str = "") -> Alert | None:
    """The monitored days whose verdict is drift or quality_drop (None when there are none): per day its verdict,
    model version, drift share, drifted columns, reasons and report."""
    alerting = [r for r in results if r.get("verdict") in ALERTING_VERDICTS]
    if not alerting:
        return None
    lines = []
    for r in alerting:
        columns = ", ".join(r.get("drifted_columns") or []) or "none"
        lines.append(
            f"day {r['day']}: verdict {r['verdict']} for model version {r['model_version']}; "
            f"drift share {float(r.get('drift_share', 0.0)):.2f}, drifted columns: {columns}; "
            f"reasons: {'; '.join(r.get('reasons') or []) or '-'}; report {r.get('report_uri', '-')}"
        )
    days = ", ".join(r["day"] for r in alerting)
    verdicts = "/".join(sorted({r["verdict"] for r in alerting}))
    links = {"Airflow run": run_url, **({"Monitoring dashboard": dashboard_url} if dashboard_url else {})}
    return Alert("drift", f"[driftloop {model_name}] {verdicts} on {days}", lines, links)


def promotion(model_name: str, decision: dict, run_url: str, warning: str = "") -> Alert | None:
    """A version promoted to champion by the gate (or forced): version, champion it replaced, reasons, warning;
    None when the gate did not promote."""
    if not decision.get("promote"):
        return None
    version, before = decision["version"], decision.get("previous_champion") or decision.get("champion_before")
    lines = [f"model version {version} is now champion (was {'version ' + str(before) if before else 'none'})"]
    if warning:
        lines.append(f"WARNING: {warning}")
    lines += [f"gate: {reason}" for reason in decision.get("reasons", [])]
    return Alert("promotion", f"[driftloop {model_name}] version {version} promoted", lines, {"Airflow run": run_url})


def rollback(model_name: str, moved: dict, requested_by: str, reason: str, run_url: str) -> Alert:
    """A rollback of champion: from which version to which, who asked and why."""
    lines = [
        f"champion moved back from version {moved['from']} to version {moved['to']}",
        f"requested by {requested_by}: {reason}",
    ]
    subject = f"[driftloop {model_name}] rollback to version {moved['to']}"
    return Alert("rollback", subject, lines, {"Airflow run": run_url})


def retrain_not_started(model_name: str, claimed: dict, run_url: str) -> Alert:
    """A drift-triggered retraining whose train run never started: the run id, the records (released) and why
    retraining was wanted."""
    lines = [
        f"train run {claimed.get('train_run_id', '?')} never started; drift records "
        f"{claimed.get('record_ids', [])} were released for the next attempt",
        f"reason for retraining: {claimed.get('reason', '-')}",
    ]
    subject = f"[driftloop {model_name}] retraining could not start"
    return Alert("retrain_not_started", subject, lines, {"Airflow run": run_url})
