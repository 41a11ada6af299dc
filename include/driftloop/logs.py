"""Third-party loggers turned down to what a task log reader needs.

MLflow gives its loggers their own handler on stderr (which Airflow files as ERROR, INFO lines included) and stops
them propagating; Feast logs "Registry cache expired" at INFO on every registry refresh. ``quiet_third_parties``
hands MLflow's records back to the root logger (so Airflow's handler writes them at their own level) and keeps only
warnings and errors of both, and turns off MLflow's artifact download progress bars (stderr again) unless
``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` is set. It is called by the modules that import MLflow or Feast, after the
import.
"""

from __future__ import annotations

import logging
import os

QUIETED = {"mlflow": logging.WARNING, "feast": logging.WARNING, "alembic": logging.WARNING}
"""Logger name -> the lowest level kept."""


def quiet_third_parties() -> None:
    """Route MLflow's and Feast's loggers through the root logger and keep only their warnings (idempotent)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name, level in QUIETED.items():
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if not isinstance(h, logging.StreamHandler)]
        logger.propagate = True
        logger.setLevel(level)
