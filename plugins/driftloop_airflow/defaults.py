"""Conventions every driftloop DAG shares: owner, retries, start date and tags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START_DATE = datetime(2026, 1, 1, tzinfo=UTC)
"""Fixed start of every schedule; older data is loaded with backfills."""

DEFAULT_ARGS = {
    "owner": "driftloop",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
}

BATCH_DAY_TEMPLATE = "{{ data_interval_start.strftime('%Y-%m-%d') }}"
"""The day a run processes: the start of its data interval, for scheduled, manual and backfill runs alike."""
