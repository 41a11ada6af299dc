"""A data-drift record waits for its post-drift labels before it starts a retraining; a quality drop does not.

The rule (``driftloop.monitoring.drift_records.LabelClock``): a ``drift`` record is ripe once the labels of
``DRIFTLOOP_RETRAIN_MIN_POST_DRIFT_DAYS`` days from its first day on have matured; a ``quality_drop`` record is ripe
at once. A waiting record stays unconsumed, so it is not lost, not retrained twice, and a sensor that starts again
(after a kill) finds it; the retraining's window runs from the drift's first day to the newest matured label day.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from driftloop.monitoring import drift_records
from driftloop.monitoring.drift_records import LabelClock

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DRIFT_DAY = date(2026, 5, 10)
GUARDS = {"champion_version": "1", "claim_timeout_s": 86_400}


@pytest.fixture
def url(drift_store_url):
    """An empty store, on SQLite and on PostgreSQL (the root conftest's ``drift_store_url``)."""
    return drift_store_url


def _record(url, day: date, verdict: str = "drift", now: datetime = NOW):
    return drift_records.upsert_record(
        url,
        model_name="churn",
        model_version="1",
        interval_start=day,
        interval_end=day + timedelta(days=1),
        verdict=verdict,
        drift_share=0.5 if verdict == "drift" else 0.0,
        drifted_columns=["monthly_charge"] if verdict == "drift" else [],
        metrics={},
        report_uri=f"/reports/{day}.html",
        now=now,
    )


def _clock(matured_through: date | None, min_days: int = 5) -> LabelClock:
    return LabelClock(matured_through, min_days, horizon_days=3)


def test_a_drift_record_waits_until_its_post_drift_labels_have_matured_and_says_until_when(url):
    record = _record(url, DRIFT_DAY)
    ids, reason = drift_records.readiness(url, "churn", 0, NOW, **GUARDS, labels=_clock(DRIFT_DAY + timedelta(days=3)))
    assert ids == []
    assert reason == (
        "1 pending drift record(s) wait for post-drift labels: the drift began on 2026-05-10 (record "
        f"{record.id}); a retraining needs labels of 5 day(s) from then on, as of 2026-05-10..2026-05-14 "
        "(DRIFTLOOP_RETRAIN_MIN_POST_DRIFT_DAYS); labels have matured through 2026-05-13, those of 2026-05-14 "
        "arrive with the batch of 2026-05-17 (label horizon 3 days)"
    )
    assert drift_records.claim(url, "run-a", "churn", 0, NOW, **GUARDS, labels=_clock(date(2026, 5, 13))) is None
    assert drift_records.retrainings(url, "churn") == []
    assert drift_records.records(url)[0].consumed_by is None

    ripe = _clock(date(2026, 5, 14))
    assert drift_records.readiness(url, "churn", 0, NOW, **GUARDS, labels=ripe)[0] == [record.id]
    claim = drift_records.claim(url, "run-b", "churn", 0, NOW, **GUARDS, labels=ripe)
    assert claim.record_ids == [record.id] and claim.drift_start == DRIFT_DAY
    assert drift_records.retraining_window(claim, ripe) == ("2026-05-10", "2026-05-14")


def test_no_label_matured_yet_keeps_a_drift_record_waiting(url):
    _record(url, DRIFT_DAY)
    ids, reason = drift_records.readiness(url, "churn", 0, NOW, **GUARDS, labels=_clock(None))
    assert ids == [] and "labels have matured through no day yet" in reason


def test_a_quality_drop_retrains_at_once_with_the_default_window_ending_on_the_newest_label(url):
    record = _record(url, DRIFT_DAY, verdict="quality_drop")
    labels = _clock(DRIFT_DAY - timedelta(days=3))
    assert drift_records.readiness(url, "churn", 0, NOW, **GUARDS, labels=labels)[0] == [record.id]
    claim = drift_records.claim(url, "run-a", "churn", 0, NOW, **GUARDS, labels=labels)
    assert claim.record_ids == [record.id] and claim.drift_start is None
    assert drift_records.retraining_window(claim, labels) == (None, "2026-05-07")


def test_a_quality_drop_takes_the_waiting_drift_records_along_and_the_window_starts_at_the_drift(url):
    drift = _record(url, DRIFT_DAY)
    drop = _record(url, DRIFT_DAY + timedelta(days=4), verdict="quality_drop")
    labels = _clock(DRIFT_DAY + timedelta(days=2))
    claim = drift_records.claim(url, "run-a", "churn", 0, NOW, **GUARDS, labels=labels)
    assert claim.record_ids == [drift.id, drop.id]
    assert drift_records.retraining_window(claim, labels) == ("2026-05-10", "2026-05-12")
    # Fewer post-drift label days than a time split needs: the default window, ending on the newest label.
    assert drift_records.retraining_window(claim, _clock(DRIFT_DAY + timedelta(days=1))) == (None, "2026-05-11")
    assert drift_records.retraining_window(claim, _clock(DRIFT_DAY - timedelta(days=2))) == (None, "2026-05-08")


def test_without_coalescing_the_oldest_ripe_record_is_taken(url):
    first = _record(url, DRIFT_DAY)
    _record(url, DRIFT_DAY + timedelta(days=1))
    labels = _clock(DRIFT_DAY + timedelta(days=4))
    claim = drift_records.claim(url, "run-a", "churn", 0, NOW, coalesce=False, **GUARDS, labels=labels)
    assert claim.record_ids == [first.id]


def test_a_waiting_record_survives_a_killed_sensor_and_is_retrained_once(url):
    record = _record(url, DRIFT_DAY)
    early = _clock(DRIFT_DAY + timedelta(days=1))
    # The first sensor waits, then dies: it held nothing, the record is still pending for the next one.
    assert drift_records.readiness(url, "churn", 0, NOW, **GUARDS, labels=early)[0] == []
    later = _clock(DRIFT_DAY + timedelta(days=6))
    assert drift_records.readiness(url, "churn", 0, NOW, **GUARDS, labels=later)[0] == [record.id]
    claim = drift_records.claim(url, "run-b", "churn", 3600, NOW, **GUARDS, labels=later)
    assert claim.record_ids == [record.id]
    # A retry of the claiming task gets its own claim back, with the drift's first day; nobody else gets it.
    assert drift_records.claim(url, "run-b", "churn", 3600, NOW, **GUARDS, labels=later) == claim
    drift_records.finish(url, "run-b", "success", NOW)
    assert drift_records.claim(url, "run-c", "churn", 0, NOW + timedelta(hours=2), **GUARDS, labels=later) is None
    assert [r["run_id"] for r in drift_records.retrainings(url, "churn")] == ["run-b"]


def test_zero_post_drift_days_retrain_at_once():
    record = drift_records.DriftRecord(1, "churn", "1", DRIFT_DAY, DRIFT_DAY, "drift", 0.5, [], {}, "", NOW, None, None)
    assert _clock(None, min_days=0).ripe(record)
    assert not _clock(None, min_days=1).ripe(record)
    assert _clock(DRIFT_DAY, min_days=1).ripe(record)


def _write_labels(data_root, batch_day: date, as_of: date, rows: int = 3) -> None:
    from driftloop.settings import get_settings
    from driftloop.storage import lake

    settings = get_settings()
    folder = lake.partition_dir(settings.validated_dir / "churn_labels", batch_day)
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {"customer_id": range(1, rows + 1), "as_of_date": [pd.Timestamp(as_of)] * rows, "churned": [0] * rows}
    ).to_parquet(folder / "part.parquet", index=False)


def test_the_newest_label_day_is_the_newest_as_of_date_accepted(data_root):
    from driftloop.model.training_set import newest_label_day

    assert newest_label_day() is None
    _write_labels(data_root, date(2026, 5, 10), date(2026, 5, 3))
    _write_labels(data_root, date(2026, 5, 12), date(2026, 5, 5))
    assert newest_label_day() == date(2026, 5, 5)


def test_the_trigger_waits_for_post_drift_labels_then_fires(data_root, tmp_path, monkeypatch):
    from driftloop.settings import get_settings
    from driftloop_airflow import drift

    url = f"sqlite:///{tmp_path / 'drift.db'}"
    monkeypatch.setenv("DRIFTLOOP_DRIFT_DB_URL", url)
    monkeypatch.setenv("DRIFTLOOP_LABEL_HORIZON_DAYS", "3")
    get_settings.cache_clear()
    monkeypatch.setattr(drift, "champion_version", lambda model_name: "1")
    monkeypatch.setattr(drift, "airflow_run_state", lambda dag_id, run_id: None)
    record = _record(url, DRIFT_DAY, now=datetime.now(UTC))
    _write_labels(data_root, DRIFT_DAY + timedelta(days=3), DRIFT_DAY)

    trigger = drift.DriftTrigger("churn", 0, 0.01, datetime.now(UTC).timestamp(), 1, 86_400, 2)
    assert trigger.serialize()[1]["min_post_drift_days"] == 2

    async def first_event():
        async for event in trigger.run():
            return event.payload

    payload = asyncio.run(first_event())
    assert payload["status"] == "timeout"
    assert "as of 2026-05-10..2026-05-11" in payload["reason"] and "batch of 2026-05-14" in payload["reason"]

    _write_labels(data_root, DRIFT_DAY + timedelta(days=4), DRIFT_DAY + timedelta(days=1))
    trigger = drift.DriftTrigger("churn", 0, 0.01, datetime.now(UTC).timestamp() + 60, 1, 86_400, 2)
    payload = asyncio.run(first_event())
    assert payload["status"] == "ready" and payload["record_ids"] == [record.id]
