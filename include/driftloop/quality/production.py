"""What production says about the models, read from the drift records' matured quality.

- :func:`offline_online`: per model version, its offline test metric beside the mean quality measured on matured
  production labels, and the Pearson correlation of the two across versions (None with fewer than three).
- :func:`quality_by_age`: the matured quality of each monitored day against the model's age that day (days since
  its newest training label), averaged per week of age: how quality decays with staleness, per use case.

Monitoring records both on every drift record (``metrics.production``) and logs the correlation as a metric.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date

from driftloop.quality.registry import covers


def _correlation(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 3:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    sy = math.sqrt(sum((y - my) ** 2 for y in ys))
    if not sx or not sy:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / (sx * sy)


@covers(
    "model.2",
    stage="driftloop.monitoring.monitor:monitor_day",
    tests=(
        "tests/unit/test_quality_production.py::test_offline_and_online_quality_per_version_and_their_correlation",
        "tests/unit/test_quality_production.py::test_fewer_than_three_versions_have_no_correlation",
    ),
)
def offline_online(observations: list[dict]) -> dict:
    """From matured-quality observations (``model_version``, ``metric``, ``value``: production, ``reference``: the
    version's test metric), per version the offline and mean online value, and their correlation across versions."""
    per_version: dict[str, list[dict]] = defaultdict(list)
    for item in observations:
        per_version[str(item["model_version"])].append(item)
    versions = {
        version: {
            "offline": float(items[0]["reference"]),
            "online": sum(float(i["value"]) for i in items) / len(items),
            "days": len(items),
            "metric": items[0]["metric"],
        }
        for version, items in sorted(per_version.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else kv[0])
    }
    offline = [v["offline"] for v in versions.values()]
    online = [v["online"] for v in versions.values()]
    return {"versions": versions, "correlation": _correlation(offline, online)}


@covers(
    "model.4",
    stage="driftloop.monitoring.monitor:monitor_day",
    tests=("tests/unit/test_quality_production.py::test_quality_by_model_age_is_averaged_per_week_of_age",),
)
def quality_by_age(observations: list[dict]) -> list[dict]:
    """From matured-quality observations (``day``, ``trained_until``, ``value``, ``metric``): mean quality per week
    of model age (``age_weeks`` 0 is 0-6 days), with the day count and the versions seen."""
    weeks: dict[int, list[dict]] = defaultdict(list)
    for item in observations:
        age = (date.fromisoformat(item["day"]) - date.fromisoformat(item["trained_until"])).days
        weeks[age // 7].append(item)
    return [
        {
            "age_weeks": week,
            "metric": items[0]["metric"],
            "mean": sum(float(i["value"]) for i in items) / len(items),
            "days": len(items),
            "versions": sorted({str(i["model_version"]) for i in items}),
        }
        for week, items in sorted(weeks.items())
    ]
