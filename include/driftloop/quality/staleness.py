"""Staleness: how old the monitored model's training data is on the day it scored, and the verdict ``stale`` beyond
``DRIFTLOOP_MAX_MODEL_AGE_DAYS``; recorded on every drift record and monitoring run."""

from __future__ import annotations

from datetime import date

from driftloop.quality.registry import covers


@covers(
    "monitoring.4",
    stage="driftloop.monitoring.monitor:monitor_day",
    tests=(
        "tests/unit/test_quality_staleness.py::test_a_model_is_stale_once_its_newest_label_is_older_than_the_setting",
        "tests/unit/test_quality_staleness.py::test_a_version_without_a_training_window_cannot_be_aged",
    ),
)
def staleness(training_window: str | None, day: date, max_age_days: int) -> dict:
    """The age in days of a version's newest training label (its ``training_window`` tag, ``start..end``) on
    ``day``, and whether it is beyond ``max_age_days`` (verdict ``unknown`` for a version registered without one)."""
    if not training_window or ".." not in training_window:
        return {"verdict": "unknown", "reason": f"no training_window tag (start..end): {training_window!r}"}
    trained_until = date.fromisoformat(training_window.split("..")[1])
    age = (day - trained_until).days
    return {
        "trained_until": trained_until.isoformat(),
        "age_days": age,
        "max_age_days": max_age_days,
        "verdict": "stale" if age > max_age_days else "fresh",
    }
