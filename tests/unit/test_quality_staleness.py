"""A model is stale once its newest training label is older than DRIFTLOOP_MAX_MODEL_AGE_DAYS."""

from __future__ import annotations

from datetime import date

from driftloop.quality.staleness import staleness


def test_a_model_is_stale_once_its_newest_label_is_older_than_the_setting():
    fresh = staleness("2026-03-01..2026-03-28", date(2026, 4, 27), 30)
    assert fresh == {"trained_until": "2026-03-28", "age_days": 30, "max_age_days": 30, "verdict": "fresh"}
    assert staleness("2026-03-01..2026-03-28", date(2026, 4, 28), 30)["verdict"] == "stale"


def test_a_version_without_a_training_window_cannot_be_aged():
    assert staleness(None, date(2026, 4, 28), 30) == {
        "verdict": "unknown",
        "reason": "no training_window tag (start..end): None",
    }
