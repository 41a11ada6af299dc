"""MLflow's and Feast's chatter stays out of task logs; their warnings still reach them, through the root logger."""

from __future__ import annotations

import logging


def test_mlflow_and_feast_log_through_the_root_logger_at_warning_only():
    import driftloop.features.feature_store  # noqa: F401  (imports Feast, then quiets it)
    import driftloop.model.model_registry  # noqa: F401  (imports MLflow, then quiets it)

    for name in ("mlflow.tracking.fluent", "feast.infra.registry.registry", "feast.infra.registry.caching_registry"):
        logger = logging.getLogger(name)
        assert not logger.isEnabledFor(logging.INFO), f"{name} would log INFO lines into every task log"
        assert logger.isEnabledFor(logging.WARNING)
    mlflow_root = logging.getLogger("mlflow")
    assert mlflow_root.propagate, "MLflow's records must reach Airflow's handler at their own level"
    assert not [h for h in mlflow_root.handlers if isinstance(h, logging.StreamHandler)], "no stderr handler of its own"
