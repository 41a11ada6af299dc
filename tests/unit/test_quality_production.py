"""Offline against online quality per version, their correlation, and quality by model age."""

from __future__ import annotations

import pytest

from driftloop.quality.production import offline_online, quality_by_age


def _seen(version, reference, value, day="2026-05-10", trained_until="2026-05-01"):
    return {
        "model_version": version,
        "metric": "roc_auc",
        "reference": reference,
        "value": value,
        "day": day,
        "trained_until": trained_until,
    }


def test_offline_and_online_quality_per_version_and_their_correlation():
    result = offline_online(
        [_seen("1", 0.70, 0.66), _seen("1", 0.70, 0.64), _seen("2", 0.75, 0.70), _seen("10", 0.80, 0.78)]
    )
    assert list(result["versions"]) == ["1", "2", "10"]
    assert result["versions"]["1"] == {"offline": 0.70, "online": pytest.approx(0.65), "days": 2, "metric": "roc_auc"}
    # by hand: deviations x (-.05, 0, .05), y (-.06, -.01, .07); r = .0065 / sqrt(.005 * .0086)
    assert result["correlation"] == pytest.approx(0.99124, abs=1e-5)


def test_fewer_than_three_versions_have_no_correlation():
    assert offline_online([_seen("1", 0.7, 0.6), _seen("2", 0.8, 0.7)])["correlation"] is None
    assert offline_online([])["versions"] == {}


def test_quality_by_model_age_is_averaged_per_week_of_age():
    table = quality_by_age(
        [
            _seen("1", 0.7, 0.70, day="2026-05-03"),
            _seen("1", 0.7, 0.68, day="2026-05-07"),
            _seen("2", 0.7, 0.60, day="2026-05-16", trained_until="2026-05-01"),
        ]
    )
    assert table == [
        {"age_weeks": 0, "metric": "roc_auc", "mean": pytest.approx(0.69), "days": 2, "versions": ["1"]},
        {"age_weeks": 2, "metric": "roc_auc", "mean": pytest.approx(0.60), "days": 1, "versions": ["2"]},
    ]
