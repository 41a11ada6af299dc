"""The drift record store on SQLite and on the machine's PostgreSQL: idempotent records, atomic claims, guards."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from functools import partial

import pytest
from drift_record_rows import write_drift_record

from driftloop.monitoring import drift_records

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CHAMPION_V1 = {"champion_version": "1", "claim_timeout_s": 86_400}
"""Version 1 is champion; an unfinished claim counts as running for a day."""


@pytest.fixture
def url(drift_store_url):
    """An empty store, on SQLite and on PostgreSQL (the root conftest's ``drift_store_url``)."""
    return drift_store_url


_record = partial(write_drift_record, now=NOW)
"""A drift record of model churn written at NOW unless the call says when."""


def test_recording_a_day_twice_updates_one_record(url):
    first = _record(url, date(2026, 5, 1), verdict="no_drift", share=0.1)
    second = _record(url, date(2026, 5, 1), verdict="drift", share=0.6)
    assert second.id == first.id
    stored = drift_records.records(url, "churn")
    assert [(r.verdict, r.drift_share, r.drifted_columns) for r in stored] == [("drift", 0.6, ["monthly_charge"])]
    _record(url, date(2026, 5, 1), verdict="drift", version="2")
    assert len(drift_records.records(url)) == 2
    with pytest.raises(ValueError, match="unknown verdict 'meh'"):
        _record(url, date(2026, 5, 2), verdict="meh")


def test_no_drift_records_never_make_a_claim(url):
    _record(url, date(2026, 5, 1), verdict="no_drift")
    assert drift_records.readiness(url, "churn", 3600, NOW, **CHAMPION_V1) == (
        [],
        "no unconsumed drift or quality-drop record of the champion",
    )
    assert drift_records.claim(url, "run-a", "churn", 3600, NOW, **CHAMPION_V1) is None


def test_a_claim_takes_every_pending_record_once_and_is_idempotent_for_its_run(url):
    ids = [_record(url, date(2026, 5, d)).id for d in (1, 2)] + [
        _record(url, date(2026, 5, 3), verdict="quality_drop").id
    ]
    assert drift_records.readiness(url, "churn", 3600, NOW, **CHAMPION_V1)[0] == ids
    claim = drift_records.claim(url, "run-a", "churn", 3600, NOW, **CHAMPION_V1)
    assert claim.record_ids == ids and "record 1 drift on 2026-05-01" in claim.reason
    assert drift_records.claim(url, "run-a", "churn", 3600, NOW, **CHAMPION_V1) == claim
    assert drift_records.claim(url, "run-b", "churn", 0, NOW, **CHAMPION_V1) is None
    assert {r.consumed_by for r in drift_records.records(url)} == {"run-a"}


def test_guards_hold_new_claims_while_training_runs_and_during_the_cooldown(url):
    _record(url, date(2026, 5, 1))
    drift_records.claim(url, "run-a", "churn", 3600, NOW, **CHAMPION_V1)
    drift_records.set_train_run(url, "run-a", "drift__run-a")
    _record(url, date(2026, 5, 2))
    ids, reason = drift_records.readiness(url, "churn", 3600, NOW + timedelta(hours=5), **CHAMPION_V1)
    assert ids == [] and "at most 1 at once: run-a (train run drift__run-a, counted as running" in reason
    assert drift_records.claim(url, "run-b", "churn", 3600, NOW + timedelta(hours=5), **CHAMPION_V1) is None

    drift_records.finish(url, "run-a", "success", NOW + timedelta(minutes=10))
    ids, reason = drift_records.readiness(url, "churn", 3600, NOW + timedelta(minutes=30), **CHAMPION_V1)
    assert ids == [] and "cooldown" in reason
    later = NOW + timedelta(hours=1, seconds=1)
    assert drift_records.readiness(url, "churn", 3600, later, **CHAMPION_V1)[0] == [2]
    assert drift_records.claim(url, "run-b", "churn", 3600, later, **CHAMPION_V1).record_ids == [2]
    runs = drift_records.retrainings(url, "churn")
    assert [(r["run_id"], r["record_ids"], r["state"]) for r in runs] == [
        ("run-a", [1], "success"),
        ("run-b", [2], None),
    ]


def test_concurrent_claimers_cannot_both_win(url):
    for day in range(1, 6):
        _record(url, date(2026, 5, day))
    results, barrier = {}, threading.Barrier(4)

    def claim(run_id):
        barrier.wait()
        results[run_id] = drift_records.claim(url, run_id, "churn", 3600, NOW, **CHAMPION_V1)

    threads = [threading.Thread(target=claim, args=(f"run-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [claim for claim in results.values() if claim is not None]
    assert len(winners) == 1 and winners[0].record_ids == [1, 2, 3, 4, 5]
    assert len(drift_records.retrainings(url)) == 1


def test_max_active_and_coalesce_are_honoured(url):
    for day in (1, 2, 3):
        _record(url, date(2026, 5, day))
    first = drift_records.claim(url, "run-a", "churn", 0, NOW, max_active=2, coalesce=False, **CHAMPION_V1)
    assert first.record_ids == [1]
    second = drift_records.claim(url, "run-b", "churn", 0, NOW, max_active=2, coalesce=False, **CHAMPION_V1)
    assert second.record_ids == [2]
    ids, reason = drift_records.readiness(url, "churn", 0, NOW, max_active=2, **CHAMPION_V1)
    assert ids == [] and "2 retraining run(s) have not finished, at most 2 at once" in reason
    assert drift_records.claim(url, "run-c", "churn", 0, NOW, max_active=2, **CHAMPION_V1) is None
    drift_records.finish(url, "run-a", "failed", NOW)
    assert drift_records.claim(url, "run-c", "churn", 0, NOW, max_active=2, **CHAMPION_V1).record_ids == [3]
