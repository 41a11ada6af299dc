"""A run says what it is for: the note of a run driftloop triggers, the reason a training run records."""

from __future__ import annotations

from datetime import date

from driftloop.ops.airflow_api import run_note


def test_the_note_names_the_day_or_days_a_run_processes():
    assert run_note(date(2026, 1, 5), {}) == "day 2026-01-05"
    assert run_note(None, {"days": ["2026-01-05", "2026-01-06"]}) == "days 2026-01-05, 2026-01-06"
    assert run_note(None, {"start": "2026-01-01", "days": 7, "scenario": "clean"}) == "7 days from 2026-01-01"
    assert run_note(None, {"reason": "initial model"}) == "initial model"
    assert run_note(None, {}) == ""


def test_the_recorded_reason_is_the_conf_s_then_scheduled_then_the_form_s():
    from airflow.sdk.api.datamodels._generated import DagRunType

    from driftloop_airflow.runs import run_reason

    assert run_reason(DagRunType.MANUAL, "manual", {"reason": "drift on 2026-01-05"}) == "drift on 2026-01-05"
    assert run_reason(DagRunType.SCHEDULED, "manual", {}) == "scheduled"
    assert run_reason("scheduled", "manual", {"reason": "  "}) == "scheduled"
    assert run_reason(DagRunType.MANUAL, " new features ", {}) == "new features"
