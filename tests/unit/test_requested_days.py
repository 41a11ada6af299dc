"""Which days an asset-scheduled run works on: the `days` param, else the triggering events' days."""

from __future__ import annotations

from types import SimpleNamespace

from airflow.sdk import Asset

from driftloop_airflow.days import days_param, requested_days

ASSET = Asset(name="predictions", uri="file:///tmp/predictions")


def _events(*extras):
    return {ASSET: [SimpleNamespace(extra=extra) for extra in extras]}


def test_the_param_wins_over_events():
    events = _events({"days": ["2026-05-02"]})
    assert requested_days({"days": ["2026-05-01"]}, events, ASSET) == {"2026-05-01"}


def test_event_days_are_united_from_day_lists_and_single_days():
    events = _events({"days": ["2026-05-02", "2026-05-03"]}, {"day": "2026-05-01"}, {"verdicts": {}})
    assert requested_days({"days": []}, events, ASSET) == {"2026-05-01", "2026-05-02", "2026-05-03"}
    assert requested_days({}, None, ASSET) == set()


def test_the_days_param_is_an_optional_list_of_dates_with_a_title():
    param = days_param("Days", "Which days.")
    assert param.value is None and param.schema["type"] == ["null", "array"]
    assert param.schema["items"] == {"type": "string", "format": "date"}
    assert param.schema["title"] == "Days" and param.description == "Which days."
