"""Feast definitions of the churn use case: the features of the daily view ``customer_daily_features``.

This is the one declaration of the features; ``features.py`` computes exactly these columns and driftloop refuses a
partition that differs. Names, the ``customer`` entity, its join key, the ttl and the offline folder come from
``usecase.toml`` through ``declare``. To add a feature, declare it here and compute it there; give models a new
FeatureService version (``[feast] feature_service``) when their inputs change.
"""

from feast import Field
from feast.types import Float64, Int64, String

from driftloop.usecase.feast_objects import declare

project, customer, customer_daily_source, customer_daily_features, customer_churn_v1 = declare(
    __file__,
    tags={"team": "churn"},
    schema=[
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
)
