"""Work that the concurrency fault tests run in separate processes (spawned, so each opens its own connections)."""

from __future__ import annotations

import traceback
from datetime import date, timedelta

SHARED_DAYS = [date(2026, 5, 1) + timedelta(days=offset) for offset in range(6)]
"""The days every process writes the drift record of, at the same moment."""


def upsert_then_claim(url: str, index: int, barrier, results) -> None:
    """Write the shared days' records at once with every other process, then claim for run ``run-<index>`` while
    writing a day of its own; put ``{"index", "claimed", "errors"}`` on ``results``."""
    from drift_record_rows import write_drift_record

    from driftloop.monitoring import drift_records

    errors, claimed = [], None
    try:
        drift_records.engine(url)
        barrier.wait()
        for day in SHARED_DAYS:
            write_drift_record(url, day, share=index / 10, metrics={"writer": index / 10})
        barrier.wait()
        claim = drift_records.claim(url, f"run-{index}", "churn", 3600, champion_version="1", claim_timeout_s=3600)
        claimed = claim.record_ids if claim else None
        write_drift_record(
            url, SHARED_DAYS[-1] + timedelta(days=1 + index), share=index / 10, metrics={"writer": index / 10}
        )
    except Exception:
        errors.append(traceback.format_exc())
    results.put({"index": index, "claimed": claimed, "errors": errors})
