"""Day arithmetic shared by every stage: parsing days and the as-of timestamp that dates features and labels."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


def parse_day(value: str | date | datetime) -> date:
    """A ``date`` from ``YYYY-MM-DD``, a date or a datetime (its UTC calendar day)."""
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a day (expected YYYY-MM-DD)") from exc


def day_range(start: date, n_days: int) -> list[date]:
    """``n_days`` consecutive days from ``start``."""
    return [start + timedelta(days=i) for i in range(n_days)]


def as_of_timestamp(day: date) -> datetime:
    """The moment day ``day``'s data is complete: 23:59:59 UTC on that day.

    Features computed from data up to and including ``day`` and labels that describe ``day`` both carry this
    timestamp, so a point-in-time join of a label with features never sees data from after its day.
    """
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
