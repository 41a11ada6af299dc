"""Every driftloop setting, read from the environment with embedded defaults that need no servers.

This is the only module that reads ``DRIFTLOOP_*`` variables; each one is documented in ``.env.example``.
Defaults put all state under ``<repo>/data`` (local landing, raw, quarantine, validated, offline features,
predictions, reports), the Feast file offline store with a SQLite online store and a file registry, and MLflow
tracking on SQLite. Importing this module is cheap: it imports nothing beyond the standard library, so DAG files can
read settings at parse time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TASK_TYPES = ("classification", "regression")


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value if value else default


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"setting {name}={raw!r} is not an integer") from exc


def _env_float(name: str, default: float) -> float:
    raw = _env(name, str(default))
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"setting {name}={raw!r} is not a number") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name, "true" if default else "false").lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"setting {name}={raw!r} is not a boolean (true/false)")


def is_database_url(value: str) -> bool:
    """Whether ``value`` is a SQLAlchemy database URL (``postgresql://``, ``postgresql+psycopg2://``, ``sqlite://``,
    ...) rather than a path."""
    scheme = value.split("://", 1)[0] if "://" in value else ""
    return scheme.split("+", 1)[0] in ("postgresql", "postgres", "mysql", "sqlite", "mssql")


def is_tracking_server(uri: str) -> bool:
    """Whether an MLflow tracking URI names a tracking server (``http(s)://``) rather than a local store."""
    return uri.startswith(("http://", "https://"))


def _schedule(raw: str) -> str | None:
    """A cron expression or preset; ``none`` means no schedule (manual and triggered runs only)."""
    return None if raw.lower() == "none" else raw


@dataclass(frozen=True)
class ValidationSettings:
    """Thresholds of the batch-level checks that compare a batch with recently accepted ones."""

    history_batches: int = 7
    min_history_batches: int = 3
    row_count_min_ratio: float = 0.5
    row_count_max_ratio: float = 2.0
    null_rate_tolerance: float = 0.10
    sample_rows: int = 5


@dataclass(frozen=True)
class ModelSettings:
    """Training, registration and scoring settings."""

    name: str = "churn"
    training_window_days: int = 28
    device: str = "auto"
    train_pool: str = "default_pool"
    train_queue: str = "default"
    promotion_margin: float = 0.005
    slice_tolerance: float = 0.05
    seed: int = 42
    predictions_db_url: str = ""
    train_schedule: str | None = "@weekly"


@dataclass(frozen=True)
class MonitoringSettings:
    """Drift and quality monitoring, the drift record store and the guards of drift-triggered retraining."""

    drift_db_url: str = ""
    reports_uri: str = ""
    num_method: str = "wasserstein"
    num_threshold: float = 0.1
    cat_method: str = "jensenshannon"
    cat_threshold: float = 0.1
    drift_share: float = 0.3
    prediction_threshold: float = 0.1
    sample_rows: int = 100_000
    quality_drop_tolerance: float = 0.1
    quality_min_rows: int = 200
    retrain_cooldown_s: float = 86_400.0
    retrain_max_active: int = 1
    retrain_coalesce: bool = True
    retrain_claim_timeout_s: float = 12 * 3600.0
    sensor_poke_interval_s: float = 60.0
    sensor_timeout_s: float = 6 * 3600.0


@dataclass(frozen=True)
class Settings:
    """Resolved driftloop configuration; build it with :func:`get_settings`."""

    data_root: Path
    landing_uri: str
    raw_uri: str
    aws_conn_id: str
    landing_poke_interval_s: float
    landing_timeout_s: float
    feature_repo: Path
    feast_project: str
    feast_registry: str
    feast_online_path: Path
    feast_online_store: str
    materialize_overlap_days: int
    feature_window_days: int
    task_type: str
    label_horizon_days: int
    mlflow_tracking_uri: str
    catchup: bool
    mlflow_artifact_root: str = ""
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)

    # Zones of the data lake, below data_root unless configured elsewhere.
    @property
    def raw_dir(self) -> Path:
        """The raw zone's folder when it is local (``driftloop.raw_zone`` also handles S3)."""
        if self.raw_uri.startswith("s3://"):
            msg = f"the raw zone is {self.raw_uri} (DRIFTLOOP_RAW_URI), not a folder: use driftloop.raw_zone"
            raise ValueError(msg)
        return Path(self.raw_uri)

    @property
    def quarantine_dir(self) -> Path:
        """Rejected batches with their ``report.json``, one ``dt=YYYY-MM-DD`` folder per day."""
        return self.data_root / "quarantine"

    @property
    def validated_dir(self) -> Path:
        """Accepted, typed batches: ``<table>/dt=YYYY-MM-DD/part.parquet`` plus per-batch stats."""
        return self.data_root / "validated"

    @property
    def offline_store_dir(self) -> Path:
        """Feast offline source: daily feature partitions ``dt=YYYY-MM-DD.parquet``."""
        return self.data_root / "offline" / "customer_daily_features"

    @property
    def predictions_dir(self) -> Path:
        """Scored partitions, one per day."""
        return self.data_root / "predictions"

    @property
    def scored_features_dir(self) -> Path:
        """The feature rows each scored day was predicted from, one ``dt=YYYY-MM-DD.parquet`` per day (the
        current data of drift monitoring)."""
        return self.data_root / "scored_features"

    @property
    def landing_is_s3(self) -> bool:
        """Whether landing is an S3 bucket (read through the Airflow amazon provider) rather than a folder."""
        return self.landing_uri.startswith("s3://")

    def feast_env(self) -> dict[str, str]:
        """Variables that ``feature_repo/feature_store.yaml`` and its definitions expand."""
        return {
            "DRIFTLOOP_FEAST_PROJECT": self.feast_project,
            "DRIFTLOOP_FEAST_REGISTRY": self.feast_registry,
            "DRIFTLOOP_FEAST_ONLINE_PATH": str(self.feast_online_path),
            "DRIFTLOOP_OFFLINE_STORE_DIR": str(self.offline_store_dir),
        }


def load_settings() -> Settings:
    """Read every setting from the environment now (no caching); raises ValueError naming a bad variable."""
    data_root = Path(_env("DRIFTLOOP_DATA_ROOT", str(REPO_ROOT / "data"))).expanduser().resolve()
    task_type = _env("DRIFTLOOP_TASK_TYPE", "classification")
    if task_type not in TASK_TYPES:
        raise ValueError(f"setting DRIFTLOOP_TASK_TYPE={task_type!r} must be one of {', '.join(TASK_TYPES)}")
    feast_dir = data_root / "feast"
    tracking_uri = _env("DRIFTLOOP_MLFLOW_TRACKING_URI", f"sqlite:///{data_root / 'mlflow.db'}")
    # With a tracking server, artifacts go through its proxy (`mlflow server --serve-artifacts`) to its store.
    local_artifacts = str(data_root / "mlartifacts")
    artifact_root = "mlflow-artifacts:/driftloop" if is_tracking_server(tracking_uri) else local_artifacts
    return Settings(
        data_root=data_root,
        landing_uri=_env("DRIFTLOOP_LANDING_URI", str(data_root / "landing")).rstrip("/"),
        raw_uri=_env("DRIFTLOOP_RAW_URI", str(data_root / "raw")).rstrip("/"),
        aws_conn_id=_env("DRIFTLOOP_AWS_CONN_ID", "aws_default"),
        landing_poke_interval_s=_env_float("DRIFTLOOP_LANDING_POKE_INTERVAL_S", 30.0),
        landing_timeout_s=_env_float("DRIFTLOOP_LANDING_TIMEOUT_S", 6 * 3600.0),
        feature_repo=Path(_env("DRIFTLOOP_FEATURE_REPO", str(REPO_ROOT / "feature_repo"))).resolve(),
        feast_project=_env("DRIFTLOOP_FEAST_PROJECT", "driftloop"),
        feast_registry=_env("DRIFTLOOP_FEAST_REGISTRY", str(feast_dir / "registry.db")),
        feast_online_path=Path(_env("DRIFTLOOP_FEAST_ONLINE_PATH", str(feast_dir / "online.db"))),
        feast_online_store=_env("DRIFTLOOP_FEAST_ONLINE_STORE", "sqlite"),
        materialize_overlap_days=_env_int("DRIFTLOOP_MATERIALIZE_OVERLAP_DAYS", 1),
        feature_window_days=_env_int("DRIFTLOOP_FEATURE_WINDOW_DAYS", 30),
        task_type=task_type,
        label_horizon_days=_env_int("DRIFTLOOP_LABEL_HORIZON_DAYS", 30),
        mlflow_tracking_uri=tracking_uri,
        catchup=_env_bool("DRIFTLOOP_CATCHUP", False),
        mlflow_artifact_root=_env("DRIFTLOOP_MLFLOW_ARTIFACT_ROOT", artifact_root),
        model=ModelSettings(
            name=_env("DRIFTLOOP_MODEL_NAME", "churn"),
            training_window_days=_env_int("DRIFTLOOP_TRAINING_WINDOW_DAYS", 28),
            device=_env("DRIFTLOOP_TRAIN_DEVICE", "auto"),
            train_pool=_env("DRIFTLOOP_TRAIN_POOL", "default_pool"),
            train_queue=_env("DRIFTLOOP_TRAIN_QUEUE", "default"),
            promotion_margin=_env_float("DRIFTLOOP_PROMOTION_MARGIN", 0.005),
            slice_tolerance=_env_float("DRIFTLOOP_SLICE_TOLERANCE", 0.05),
            seed=_env_int("DRIFTLOOP_SEED", 42),
            predictions_db_url=_env("DRIFTLOOP_PREDICTIONS_DB_URL", ""),
            train_schedule=_schedule(_env("DRIFTLOOP_TRAIN_SCHEDULE", "@weekly")),
        ),
        monitoring=MonitoringSettings(
            drift_db_url=_env("DRIFTLOOP_DRIFT_DB_URL", f"sqlite:///{data_root / 'drift.db'}"),
            reports_uri=_env("DRIFTLOOP_REPORTS_URI", str(data_root / "reports")).rstrip("/"),
            num_method=_env("DRIFTLOOP_DRIFT_NUM_METHOD", "wasserstein"),
            num_threshold=_env_float("DRIFTLOOP_DRIFT_NUM_THRESHOLD", 0.1),
            cat_method=_env("DRIFTLOOP_DRIFT_CAT_METHOD", "jensenshannon"),
            cat_threshold=_env_float("DRIFTLOOP_DRIFT_CAT_THRESHOLD", 0.1),
            drift_share=_env_float("DRIFTLOOP_DRIFT_SHARE", 0.3),
            prediction_threshold=_env_float("DRIFTLOOP_PREDICTION_DRIFT_THRESHOLD", 0.1),
            sample_rows=_env_int("DRIFTLOOP_DRIFT_SAMPLE_ROWS", 100_000),
            quality_drop_tolerance=_env_float("DRIFTLOOP_QUALITY_DROP_TOLERANCE", 0.1),
            quality_min_rows=_env_int("DRIFTLOOP_QUALITY_MIN_ROWS", 200),
            retrain_cooldown_s=_env_float("DRIFTLOOP_RETRAIN_COOLDOWN_S", 86_400.0),
            retrain_max_active=_env_int("DRIFTLOOP_RETRAIN_MAX_ACTIVE", 1),
            retrain_coalesce=_env_bool("DRIFTLOOP_RETRAIN_COALESCE", True),
            retrain_claim_timeout_s=_env_float("DRIFTLOOP_RETRAIN_CLAIM_TIMEOUT_S", 12 * 3600.0),
            sensor_poke_interval_s=_env_float("DRIFTLOOP_DRIFT_POKE_INTERVAL_S", 60.0),
            sensor_timeout_s=_env_float("DRIFTLOOP_DRIFT_SENSOR_TIMEOUT_S", 6 * 3600.0),
        ),
        validation=ValidationSettings(
            history_batches=_env_int("DRIFTLOOP_VALIDATION_HISTORY_BATCHES", 7),
            min_history_batches=_env_int("DRIFTLOOP_VALIDATION_MIN_HISTORY_BATCHES", 3),
            row_count_min_ratio=_env_float("DRIFTLOOP_VALIDATION_ROW_COUNT_MIN_RATIO", 0.5),
            row_count_max_ratio=_env_float("DRIFTLOOP_VALIDATION_ROW_COUNT_MAX_RATIO", 2.0),
            null_rate_tolerance=_env_float("DRIFTLOOP_VALIDATION_NULL_RATE_TOLERANCE", 0.10),
            sample_rows=_env_int("DRIFTLOOP_VALIDATION_SAMPLE_ROWS", 5),
        ),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once; tests call ``get_settings.cache_clear()`` after changing env."""
    return load_settings()
