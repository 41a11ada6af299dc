"""Which days a run of an asset-scheduled DAG (features, score, monitor) works on: the `days` param of a manual run,
else the days named by the asset events that triggered it."""

from __future__ import annotations

from airflow.sdk import Asset, Param

from driftloop.errors import InvalidRequest


def days_param(title: str, description: str) -> Param:
    """The optional `days` param: YYYY-MM-DD days to (re)process by hand; empty (null, the default) means the
    triggering events' days. Its type admits null, so the trigger form does not mark it required."""
    return Param(
        None,
        type=["null", "array"],
        items={"type": "string", "format": "date"},
        uniqueItems=True,
        title=title,
        description=description,
    )


def no_days(what: str, how: str) -> InvalidRequest:
    """The one-line failure of a run that was given no day to work on (not retried)."""
    return InvalidRequest(f"no days to {what}: trigger with the `days` param or {how}")


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
