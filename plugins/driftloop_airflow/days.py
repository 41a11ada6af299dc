"""Which days a run of an asset-scheduled DAG (features, score, monitor) works on: the `days` param of a manual run,
else the days named by the asset events that triggered it."""

from __future__ import annotations

from airflow.sdk import Asset, Param


def days_param(title: str, description: str) -> Param:
    """The `days` param: YYYY-MM-DD days to (re)process by hand; empty means the triggering events' days."""
    return Param([], type="array", items={"type": "string", "format": "date"}, title=title, description=description)


def requested_days(params: dict, triggering_asset_events, asset: Asset) -> set[str]:
    """The `days` param when set, else every day named in the `extra` of ``asset``'s triggering events (a `days`
    list or a single `day`)."""
    days = set(params.get("days") or [])
    if days:
        return days
    for event in triggering_asset_events[asset] if triggering_asset_events else []:
        days.update(event.extra.get("days", []))
        if event.extra.get("day"):
            days.add(event.extra["day"])
    return days
