"""Retrainings that never recorded their outcome, and drift records of superseded versions.

A claim whose ``record_outcome`` never ran (the run was killed, or skipped it) is finished from Airflow's record of
its runs (given here as a ``run_state`` function, as ``driftloop_airflow.drift.airflow_run_state`` answers them) or
expires after the claim timeout, so retraining resumes by itself; records of a version that is no longer champion are
kept but trigger nothing. The last tests run the DriftTrigger and the DriftSensor themselves, with Airflow's answers
and the registry's champion stubbed, and check that neither holds the database URL.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from functools import partial

import pytest
from drift_record_rows import write_drift_record

from driftloop.monitoring import drift_records

pytestmark = pytest.mark.faults

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
COOLDOWN_S = 3600
TIMEOUT_S = 6 * 3600
GUARDS = {"claim_timeout_s": TIMEOUT_S}


@pytest.fixture
def url(drift_store_url):
    """An empty store, on SQLite and on PostgreSQL (the root conftest's ``drift_store_url``)."""
    return drift_store_url


_record = partial(write_drift_record, now=NOW)
"""A drift record of model churn written at NOW unless the call says when."""


def _stuck_claim(url: str, run_id: str = "retrain-1", at: datetime = NOW) -> drift_records.Claim:
    """A claim whose run started its train run and then died before recording the outcome."""
    _record(url, date(2026, 5, 1), now=at)
    _record(url, date(2026, 5, 2), now=at)
    claim = drift_records.claim(url, run_id, "churn", COOLDOWN_S, at, champion_version="1", **GUARDS)
    drift_records.set_train_run(url, run_id, f"drift__{run_id}")
    return claim


def _airflow(states: dict[tuple[str, str], str]):
    """A ``run_state`` answering from ``(dag_id, run_id) -> state``; runs not in it do not exist."""
    return lambda dag_id, run_id: states.get((dag_id, run_id))


def _ready(url: str, at: datetime, champion: str | None = "1") -> tuple[list[int], str]:
    return drift_records.readiness(url, "churn", COOLDOWN_S, at, champion_version=champion, **GUARDS)


def test_a_stuck_claim_whose_train_run_failed_is_finished_from_airflow_and_retraining_resumes(url):
    _stuck_claim(url)
    _record(url, date(2026, 5, 3), now=NOW + timedelta(hours=2))
    ids, reason = _ready(url, NOW + timedelta(hours=2))
    assert ids == [] and "retrain-1 (train run drift__retrain-1, counted as running" in reason
    assert "at the latest 2026-06-01 18:00:00Z" in reason

    airflow = _airflow({("retrain_on_drift", "retrain-1"): "failed", ("train", "drift__retrain-1"): "failed"})
    done = drift_records.reconcile(url, "churn", airflow, NOW + timedelta(hours=2))
    assert done == ["retraining run retrain-1: train run drift__retrain-1 ended failed, outcome recorded from Airflow"]
    assert drift_records.reconcile(url, "churn", airflow, NOW + timedelta(hours=2)) == []
    assert [(run["run_id"], run["state"]) for run in drift_records.retrainings(url)] == [("retrain-1", "failed")]
    assert _ready(url, NOW + timedelta(hours=2))[0] == [3]
    claim = drift_records.claim(
        url, "retrain-2", "churn", COOLDOWN_S, NOW + timedelta(hours=2), champion_version="1", **GUARDS
    )
    assert claim.record_ids == [3]


def test_a_claim_whose_train_run_never_started_releases_its_records_and_no_cooldown_counts(url):
    first = _stuck_claim(url)
    airflow = _airflow({("retrain_on_drift", "retrain-1"): "running"})
    assert drift_records.reconcile(url, "churn", airflow, NOW) == [], "its run may still start the train run"
    assert _ready(url, NOW)[0] == []

    airflow = _airflow({("retrain_on_drift", "retrain-1"): "failed"})
    [done] = drift_records.reconcile(url, "churn", airflow, NOW + timedelta(minutes=5))
    assert "never started its train run drift__retrain-1: finished not_started, its records released" in done
    assert {record.consumed_by for record in drift_records.records(url)} == {None}
    assert _ready(url, NOW + timedelta(minutes=5))[0] == first.record_ids
    again = drift_records.claim(
        url, "retrain-2", "churn", COOLDOWN_S, NOW + timedelta(minutes=5), champion_version="1", **GUARDS
    )
    assert again.record_ids == first.record_ids
    assert [(run["run_id"], run["state"]) for run in drift_records.retrainings(url)] == [
        ("retrain-1", "not_started"),
        ("retrain-2", None),
    ]


def test_a_claim_airflow_knows_nothing_about_is_released(url):
    _stuck_claim(url)
    [done] = drift_records.reconcile(url, "churn", _airflow({}), NOW)
    assert "retraining run retrain-1 (not in Airflow) never started" in done
    assert _ready(url, NOW)[0] == [1, 2]


def test_a_claim_nobody_reconciles_stops_blocking_after_the_claim_timeout(url):
    _stuck_claim(url)
    _record(url, date(2026, 5, 3))
    for later in (timedelta(days=1), timedelta(days=30), timedelta(days=365)):
        assert _ready(url, NOW + later)[0] == [3], later
    at = NOW + timedelta(seconds=TIMEOUT_S + 1)
    claim = drift_records.claim(url, "retrain-2", "churn", COOLDOWN_S, at, champion_version="1", **GUARDS)
    assert claim.record_ids == [3]
    assert [(run["run_id"], run["state"]) for run in drift_records.retrainings(url)] == [
        ("retrain-1", "expired"),
        ("retrain-2", None),
    ]


def test_records_of_a_superseded_version_are_kept_and_trigger_nothing(url):
    _record(url, date(2026, 5, 1), version="2", verdict="no_drift")
    late = _record(url, date(2026, 5, 2), version="1")
    ids, reason = _ready(url, NOW, champion="2")
    assert ids == [] and "1 record(s) of v1 kept for history, they trigger nothing (champion v2)" in reason
    assert drift_records.claim(url, "retrain-1", "churn", 0, NOW, champion_version="2", **GUARDS) is None
    assert drift_records.claim(url, "retrain-1", "churn", 0, NOW, champion_version=None, **GUARDS) is None
    assert [record.id for record in drift_records.records(url)] == [1, late.id]
    fresh = _record(url, date(2026, 5, 3), version="2")
    claim = drift_records.claim(url, "retrain-1", "churn", 0, NOW, champion_version="2", **GUARDS)
    assert claim.record_ids == [fresh.id]
    assert drift_records.records(url)[1].consumed_by is None


@pytest.fixture
def sqlite_store(tmp_path, monkeypatch):
    """A SQLite store named by DRIFTLOOP_DRIFT_DB_URL, as the sensor and trigger read it."""
    from driftloop.settings import get_settings

    url = f"sqlite:///{tmp_path / 'drift.db'}"
    monkeypatch.setenv("DRIFTLOOP_DRIFT_DB_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_the_trigger_reconciles_a_stuck_claim_and_fires_for_the_champion_only(sqlite_store, monkeypatch):
    from driftloop_airflow import drift

    url = sqlite_store
    _stuck_claim(url, at=datetime.now(UTC))
    newer = _record(url, date(2026, 5, 3), now=datetime.now(UTC))
    _record(url, date(2026, 5, 4), version="0", now=datetime.now(UTC))
    airflow = {("retrain_on_drift", "retrain-1"): "failed", ("train", "drift__retrain-1"): "success"}
    monkeypatch.setattr(drift, "airflow_run_state", _airflow(airflow))
    monkeypatch.setattr(drift, "champion_version", lambda model_name: "1")

    trigger = drift.DriftTrigger("churn", 0, 0.01, datetime.now(UTC).timestamp() + 60, 1, TIMEOUT_S)
    classpath, arguments = trigger.serialize()
    assert classpath == "driftloop_airflow.drift.DriftTrigger" and url not in str(arguments)

    async def first_event():
        async for event in trigger.run():
            return event.payload

    payload = asyncio.run(first_event())
    assert payload["status"] == "ready" and payload["record_ids"] == [newer.id]
    assert "train run drift__retrain-1 ended success" in payload["reason"]
    assert "1 record(s) of v0 kept for history" in payload["reason"]


def test_the_sensor_holds_no_url_and_a_wait_that_ends_says_what_blocked_it(sqlite_store, monkeypatch):
    from airflow.sdk.exceptions import AirflowSkipException

    from driftloop_airflow import drift

    monkeypatch.setattr(drift, "airflow_run_state", _airflow({("retrain_on_drift", "retrain-1"): "running"}))
    monkeypatch.setattr(drift, "champion_version", lambda model_name: "1")
    _stuck_claim(sqlite_store, at=datetime.now(UTC))
    _record(sqlite_store, date(2026, 5, 3), now=datetime.now(UTC))
    sensor = drift.DriftSensor(
        task_id="wait_for_drift", model_name="churn", cooldown_s=0, claim_timeout_s=TIMEOUT_S, timeout=0.05
    )
    assert drift.DriftSensor.template_fields == ("model_name",)
    assert not [name for name in vars(sensor) if "url" in name.lower()]
    ids, reason = drift.check_drift("churn", 0, 1, TIMEOUT_S)
    assert ids == [] and "retrain-1 (train run drift__retrain-1, counted as running" in reason

    trigger = drift.DriftTrigger("churn", 0, 0.01, datetime.now(UTC).timestamp(), 1, TIMEOUT_S)

    async def first_event():
        async for event in trigger.run():
            return event.payload

    payload = asyncio.run(first_event())
    assert payload["status"] == "timeout"
    with pytest.raises(AirflowSkipException, match="no retraining after 0 s: .*counted as running until it reports"):
        sensor.execute_complete({}, payload)
