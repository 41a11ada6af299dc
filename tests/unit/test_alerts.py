"""Alerts reach a mail server through the SMTP provider's notifier: a receiver on localhost gets each message with
the day, the verdict and the model version; switched off, or for an event not chosen, nothing is sent."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from smtp_inbox import body as mail_body
from smtp_inbox import start_inbox

from driftloop.settings import get_settings
from driftloop_airflow import alerts


@pytest.fixture
def inbox(monkeypatch, tmp_path):
    controller, handler, connection = start_inbox()
    monkeypatch.setenv("AIRFLOW_CONN_DRIFTLOOP_TEST_SMTP", connection)
    monkeypatch.setenv("DRIFTLOOP_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("DRIFTLOOP_ALERTS_ENABLED", "true")
    monkeypatch.setenv("DRIFTLOOP_ALERTS_SMTP_CONN_ID", "driftloop_test_smtp")
    monkeypatch.setenv("DRIFTLOOP_ALERTS_TO", "oncall@example.com,ml@example.com")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example:8080")
    get_settings.cache_clear()
    yield handler
    controller.stop()
    get_settings.cache_clear()


def _context(dag_id: str, run_id: str, returned: dict, params: dict | None = None) -> dict:
    """The parts of a task's context the callbacks read: the run, the params and the task's XComs."""
    ti = SimpleNamespace(task_id=next(iter(returned)), xcom_pull=lambda task_ids: returned.get(task_ids))
    return {"dag_run": SimpleNamespace(dag_id=dag_id, run_id=run_id), "ti": ti, "params": params or {}}


DRIFT_DAY = {
    "day": "2026-02-03",
    "model_version": "2",
    "verdict": "drift",
    "drift_share": 0.5,
    "drifted_columns": ["watch_hours_7d", "device_mobile_share"],
    "reasons": ["share of drifted columns 0.50 >= 0.3"],
    "report_uri": "/data/reports/drift/dt=2026-02-03/churn_v2.html",
    "record_id": 7,
}
CLEAN_DAY = {**DRIFT_DAY, "day": "2026-02-02", "verdict": "no_drift", "drifted_columns": [], "reasons": []}


def test_a_drift_verdict_is_mailed_with_its_day_verdict_version_and_links(inbox):
    context = _context("monitor", "asset_triggered__2026-02-03", {"monitor_days": [CLEAN_DAY, DRIFT_DAY]})
    alerts.on_monitored(context)
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["Subject"] == "[driftloop churn] drift on 2026-02-03"
    assert message["To"] == "oncall@example.com, ml@example.com"
    body = mail_body(message)
    assert "day 2026-02-03: verdict drift for model version 2" in body
    assert "watch_hours_7d, device_mobile_share" in body
    assert "2026-02-02" not in body, "a clean day is not alerted"
    assert "http://airflow.example:8080/dags/monitor/runs/asset_triggered__2026-02-03" in body


def test_a_promotion_and_a_forced_worse_version_say_so(inbox):
    decision = {
        "version": "3",
        "promote": True,
        "previous_champion": "2",
        "reasons": [
            "does not beat the baseline on roc_auc (higher is better): 0.6100 vs 0.6400",
            "promoted anyway: force_promote was set",
        ],
    }
    alerts.on_gate(_context("train", "manual__2026-02-04", {"gate": decision}))
    rejected = {"version": "4", "promote": False, "reasons": ["does not beat the champion"]}
    alerts.on_gate(_context("train", "manual__2026-02-05", {"gate": rejected}))
    assert [m["Subject"] for m in inbox.messages] == ["[driftloop churn] version 3 promoted"]
    body = mail_body(inbox.messages[0])
    assert "model version 3 is now champion (was version 2)" in body
    assert "WARNING: forced to champion although it is worse than the baseline (0.6100 vs 0.6400)" in body


def test_quarantine_rollback_and_a_retraining_that_never_started_are_mailed(inbox):
    day_dir = get_settings().quarantine_dir / "dt=2026-01-06"
    day_dir.mkdir(parents=True)
    report = {
        "day": "2026-01-06",
        "delivery": "delivery=20260107T000000Z",
        "failures": [
            {
                "table": "activity_events",
                "file": "activity_events.csv",
                "check": "coercible_to_dtype",
                "column": "watch_minutes",
                "failing_count": 12,
            }
        ],
    }
    (day_dir / "report.json").write_text(json.dumps(report))
    alerts.on_quarantine(
        _context("ingest", "scheduled__2026-01-06", {"validate": None, "copy_to_raw": {"day": "2026-01-06"}})
    )
    alerts.on_rollback(
        _context(
            "rollback",
            "manual__r1",
            {"move_champion_back": {"from": "3", "to": "2"}},
            {"requested_by": "ana", "reason": "v3 mis-scores mobile users"},
        )
    )
    claimed = {"train_run_id": "drift__r9", "record_ids": [7, 8], "reason": "drift on 2026-02-03"}
    alerts.on_retrain_outcome(
        _context("retrain_on_drift", "r9", {"record_outcome": "not_started", "claim_drift_records": claimed})
    )
    alerts.on_retrain_outcome(
        _context("retrain_on_drift", "r10", {"record_outcome": "success", "claim_drift_records": claimed})
    )
    subjects = [m["Subject"] for m in inbox.messages]
    assert subjects == [
        "[driftloop churn] batch 2026-01-06 quarantined",
        "[driftloop churn] rollback to version 2",
        "[driftloop churn] retraining could not start",
    ]
    quarantine, rollback, retrain = (mail_body(m) for m in inbox.messages)
    assert "coercible_to_dtype on activity_events.csv.watch_minutes, 12 rows" in quarantine
    assert str(day_dir / "report.json") in quarantine
    assert "from version 3 to version 2" in rollback and "requested by ana: v3 mis-scores mobile users" in rollback
    assert "train run drift__r9 never started; drift records [7, 8] were released" in retrain


def test_nothing_is_sent_when_alerts_are_off_or_the_event_is_not_chosen(inbox, monkeypatch):
    context = _context("monitor", "r1", {"monitor_days": [DRIFT_DAY]})
    monkeypatch.setenv("DRIFTLOOP_ALERTS_ON", "promotion,rollback")
    get_settings.cache_clear()
    alerts.on_monitored(context)
    monkeypatch.setenv("DRIFTLOOP_ALERTS_ON", "drift")
    monkeypatch.setenv("DRIFTLOOP_ALERTS_ENABLED", "false")
    get_settings.cache_clear()
    alerts.on_monitored(context)
    assert inbox.messages == []
    monkeypatch.setenv("DRIFTLOOP_ALERTS_ENABLED", "true")
    get_settings.cache_clear()
    alerts.on_monitored(context)
    assert len(inbox.messages) == 1


def test_the_dags_attach_each_alert_to_the_task_it_reports_on():
    from pathlib import Path

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags"))
    expected = {
        ("ingest", "validate", "on_failure_callback"): "on_quarantine",
        ("monitor", "monitor_days", "on_success_callback"): "on_monitored",
        ("train", "gate", "on_success_callback"): "on_gate",
        ("rollback", "move_champion_back", "on_success_callback"): "on_rollback",
        ("retrain_on_drift", "record_outcome", "on_success_callback"): "on_retrain_outcome",
    }
    for (dag_id, task_id, hook), name in expected.items():
        callbacks = getattr(bag.dags[dag_id].get_task(task_id), hook)
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        assert getattr(alerts, name) in callbacks, f"{dag_id}.{task_id}.{hook} lacks alerts.{name}: {callbacks}"
