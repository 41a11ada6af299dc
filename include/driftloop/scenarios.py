"""Names of the simulator's scenarios and corruption kinds (light enough for DAG files to import at parse time)."""

SCENARIOS = ("clean", "covariate_drift", "concept_drift", "corrupt")
"""clean; covariate_drift: a price rise that cuts usage; concept_drift: churn driven differently;
corrupt: files that break the contract."""

CORRUPTIONS = (
    "missing_column",
    "bad_type",
    "null_key",
    "out_of_range",
    "unknown_category",
    "duplicate_key",
    "wrong_day",
    "truncated",
    "null_spike",
)
"""The ways a corrupt batch breaks the contract, as real feeds do."""
