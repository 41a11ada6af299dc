"""The raw tables a daily batch holds: their files, columns, types, ranges and categories.

This is the single description of the landing contract. The simulator writes exactly these columns, the validation
contracts (``driftloop.validation``) are built from it, and accepted batches are stored with these dtypes. To bring
your own dataset, describe its tables here.

A batch for day ``D`` lands as ``<landing>/dt=D/<table>.csv`` for every table, followed by an empty ``_SUCCESS``
marker written last, so a reader never sees half a batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

BATCH_MARKER = "_SUCCESS"

EVENT_TYPES = ("session", "support_contact", "payment_failure")
DEVICES = ("tv", "mobile", "web", "tablet")
GENRES = ("drama", "comedy", "documentary", "kids", "sports", "action")
PLANS = ("basic", "standard", "premium")
REGIONS = ("north", "south", "east", "west")


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its dtype once accepted (``int64``, ``float64``, ``str``, ``datetime``, ``date``) and its rules."""

    dtype: str
    nullable: bool = False
    min_value: float | None = None
    max_value: float | None = None
    categories: tuple[str, ...] | None = None
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    """One raw table of a daily batch.

    ``day_column`` holds the timestamp or date that must fall inside the batch's interval, shifted back by
    ``day_lag`` days (labels arrive ``label_horizon_days`` after the date they describe; see ``expected_day``).
    """

    name: str
    columns: dict[str, ColumnSpec]
    key: tuple[str, ...]
    day_column: str
    lagged_by_label_horizon: bool = False
    description: str = ""
    null_rate_columns: tuple[str, ...] = field(default=())

    @property
    def file_name(self) -> str:
        """The file of this table inside a batch folder."""
        return f"{self.name}.csv"

    def expected_day(self, batch_day: date, label_horizon_days: int) -> date:
        """The day that ``day_column`` must fall on for the batch of ``batch_day``."""
        return batch_day - timedelta(days=label_horizon_days) if self.lagged_by_label_horizon else batch_day


ACTIVITY = TableSpec(
    name="activity_events",
    description="One row per customer event: viewing sessions, support contacts and failed payments.",
    key=("event_id",),
    day_column="event_time",
    columns={
        "event_id": ColumnSpec("str", description="Unique id of the event, stable across redeliveries."),
        "customer_id": ColumnSpec("int64", min_value=1, description="Customer the event belongs to."),
        "event_time": ColumnSpec("datetime", description="When the event happened (UTC)."),
        "event_type": ColumnSpec("str", categories=EVENT_TYPES, description="Kind of event."),
        "device": ColumnSpec("str", nullable=True, categories=DEVICES, description="Device of a session."),
        "genre": ColumnSpec("str", nullable=True, categories=GENRES, description="Main genre watched."),
        "minutes_watched": ColumnSpec(
            "float64", nullable=True, min_value=0.0, max_value=1440.0, description="Minutes watched in a session."
        ),
    },
    null_rate_columns=("device", "genre", "minutes_watched"),
)

PROFILES = TableSpec(
    name="customer_profiles",
    description="Daily snapshot of every active customer's subscription.",
    key=("customer_id",),
    day_column="snapshot_date",
    columns={
        "snapshot_date": ColumnSpec("date", description="Day the snapshot describes."),
        "customer_id": ColumnSpec("int64", min_value=1, description="Customer id."),
        "plan": ColumnSpec("str", categories=PLANS, description="Subscription plan."),
        "monthly_charge": ColumnSpec("float64", min_value=0.0, max_value=100.0, description="Monthly price paid."),
        "region": ColumnSpec("str", nullable=True, categories=REGIONS, description="Billing region."),
        "signup_date": ColumnSpec("date", description="Day the subscription started."),
    },
    null_rate_columns=("region",),
)

LABELS = TableSpec(
    name="churn_labels",
    description=(
        "Outcomes that matured today for customers whose billing cycle renewed label_horizon_days ago: "
        "whether they churned within the horizon and how many hours they watched in it."
    ),
    key=("customer_id", "as_of_date"),
    day_column="as_of_date",
    lagged_by_label_horizon=True,
    columns={
        "customer_id": ColumnSpec("int64", min_value=1, description="Customer id."),
        "as_of_date": ColumnSpec("date", description="Day the label describes (the renewal date)."),
        "churned": ColumnSpec("int64", min_value=0, max_value=1, description="1 if cancelled within the horizon."),
        "future_watch_hours": ColumnSpec(
            "float64", min_value=0.0, description="Hours watched within the horizon (regression target)."
        ),
    },
)

TABLES: dict[str, TableSpec] = {spec.name: spec for spec in (ACTIVITY, PROFILES, LABELS)}
