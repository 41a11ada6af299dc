"""Feast definitions of driftloop's customer features: project, entity, offline source, feature view, feature service.

This is the one declaration of the features. ``driftloop.features.compute_daily_features`` produces exactly these
columns, and ``tests/unit/test_features.py`` fails when the two differ. To add a feature, declare it here and compute
it there; give models a new FeatureService version when their inputs change. Paths and the project name come from
the ``DRIFTLOOP_*`` variables that ``driftloop.feature_store`` exports (``Settings.feast_env``).
"""

import os
from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureService, FeatureView, Field, FileSource, Project, ValueType
from feast.types import Float64, Int64, String

OWNER = {"owner": "driftloop", "team": "churn"}

# The Feast project; its name is the one feature_store.yaml expands from the same variable.
project = Project(
    name=os.environ.get("DRIFTLOOP_FEAST_PROJECT", "driftloop"),
    description="driftloop's churn features of the subscription video service.",
    tags=OWNER,
)

# The subscriber: every feature row and label event is keyed by customer_id.
customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.INT64,
    description="A subscriber of the video service, identified by customer_id.",
    tags=OWNER,
)

# The offline store folder: one Parquet file per day (dt=YYYY-MM-DD.parquet) written by the features DAG, read by Feast
# as one dataset (files starting with "." or "_", such as in-progress writes, are skipped).
customer_daily_source = FileSource(
    name="customer_daily_features_source",
    path=os.environ.get(
        "DRIFTLOOP_OFFLINE_STORE_DIR",
        str(Path(__file__).resolve().parents[1] / "data" / "offline" / "customer_daily_features"),
    ),
    timestamp_field="event_timestamp",
    description="Daily per-customer features; event_timestamp is the end of the day the row describes.",
    tags=OWNER,
)

# Rolling activity, billing and subscription features as of the end of each day (data up to that day only).
customer_daily_features = FeatureView(
    name="customer_daily_features",
    entities=[customer],
    # A lookup (training label, scoring) at the end of day d takes the newest row at or before it, at most two days
    # old: d's row, or d-1's or d-2's when d's batch (and d-1's) was quarantined; older rows count as missing.
    ttl=timedelta(days=2),
    schema=[
        Field(name="customer_id", dtype=Int64, description="Join key of the customer entity."),
        Field(name="sessions_7d", dtype=Int64, description="Viewing sessions in the last 7 days."),
        Field(name="sessions_30d", dtype=Int64, description="Viewing sessions in the last 30 days."),
        Field(name="minutes_7d", dtype=Float64, description="Minutes watched in the last 7 days."),
        Field(name="minutes_30d", dtype=Float64, description="Minutes watched in the last 30 days."),
        Field(name="active_days_7d", dtype=Int64, description="Days with at least one session, last 7 days."),
        Field(name="active_days_30d", dtype=Int64, description="Days with at least one session, last 30 days."),
        Field(
            name="avg_session_minutes_30d", dtype=Float64, description="Minutes per session, last 30 days (0: none)."
        ),
        Field(
            name="days_since_last_session",
            dtype=Int64,
            description="Days since the day of the last session; window + 1 (31) when none in the last 30 days.",
        ),
        Field(name="support_contacts_30d", dtype=Int64, description="Support contacts in the last 30 days."),
        Field(name="payment_failures_30d", dtype=Int64, description="Failed payments in the last 30 days."),
        Field(
            name="mobile_share_30d", dtype=Float64, description="Share of sessions on mobile, last 30 days (0: none)."
        ),
        Field(name="tenure_days", dtype=Int64, description="Days since signup."),
        Field(name="monthly_charge", dtype=Float64, description="Current monthly price."),
        Field(name="plan", dtype=String, description="Subscription plan: basic, standard or premium."),
        Field(name="region", dtype=String, description="Billing region; missing when unknown."),
    ],
    source=customer_daily_source,
    online=True,
    description="Per-customer activity and subscription features as of the end of each day.",
    tags=OWNER,
)

# Version 1 of the churn model's inputs: every feature of the daily view.
customer_churn_v1 = FeatureService(
    name="customer_churn_v1",
    features=[customer_daily_features],
    description="Inputs of the churn model, version 1. Training and scoring both read through it.",
    tags=OWNER,
)
