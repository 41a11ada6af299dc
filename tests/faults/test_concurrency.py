"""Eight processes writing the same drift records and claiming them at once, on PostgreSQL and on SQLite.

Every process opens the (fresh) store, writes the same six records at the same moment, then claims while it writes a
record of its own: no process fails (no ``UniqueViolation``, not even creating the tables), each key has one
record, exactly one claim wins and no record is consumed by anyone else.
"""

from __future__ import annotations

import multiprocessing

import pytest

from driftloop.monitoring import drift_records
from fault_workers import SHARED_DAYS, upsert_then_claim

pytestmark = pytest.mark.faults

PROCESSES = 8


@pytest.fixture
def fresh_store(drift_store_url):
    """The URL of a store nobody has opened yet, on SQLite and on PostgreSQL."""
    return drift_store_url


def test_concurrent_writers_and_claimers_have_one_winner_and_no_errors(fresh_store):
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    workers = [
        context.Process(target=upsert_then_claim, args=(fresh_store, index, barrier, results))
        for index in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=180) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [outcome["errors"] for outcome in outcomes] == [[]] * PROCESSES

    records = drift_records.records(fresh_store, "churn")
    keys = [(record.model_version, record.interval_start) for record in records]
    assert len(keys) == len(set(keys)) == len(SHARED_DAYS) + PROCESSES
    winners = [outcome for outcome in outcomes if outcome["claimed"] is not None]
    assert len(winners) == 1, outcomes
    winner = f"run-{winners[0]['index']}"
    consumed = {record.id: record.consumed_by for record in records if record.consumed_by}
    assert set(consumed.values()) == {winner}
    assert sorted(consumed) == winners[0]["claimed"]
    shared = {record.id for record in records if record.interval_start in SHARED_DAYS}
    assert shared <= set(consumed), "every shared record existed before the claims and went to the winner"
    assert [run["run_id"] for run in drift_records.retrainings(fresh_store)] == [winner]
