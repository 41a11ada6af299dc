"""Every driftloop setting, read from the environment with embedded defaults that need no servers.

This is the only module that reads ``DRIFTLOOP_*`` variables; each one is documented in ``.env.example``.
Defaults put all state under ``<repo>/data`` (local landing, raw, quarantine, validated, offline features,
predictions, reports), the Feast file offline store with a SQLite online store and a file registry, and MLflow
tracking on SQLite. Importing this module is cheap: it imports nothing beyond the standard library, so DAG files can
read settings at parse time.

``DRIFTLOOP_USECASE`` selects the use case (a folder with a ``usecase.toml``, see ``driftloop.usecase``). Its spec
gives the defaults of the settings that describe the data set (label horizon, task type, feature window, model
name, Feast project); the variables override them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from driftloop.usecase.spec import read_spec_document

REPO_ROOT = Path(__file__).resolve().parents[2]
USECASES_DIR = REPO_ROOT / "usecases"
TASK_TYPES = ("classification", "regression")
TEXTUAL_NAN_POLICIES = ("reject", "null")
NAIVE_TIMESTAMP_POLICIES = ("reject", "utc")


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


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _env(name, default).lower()
    if value not in choices:
        raise ValueError(f"setting {name}={value!r} must be one of {', '.join(choices)}")
    return value


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
    """Thresholds of the batch-level checks that compare a batch with recently accepted ones, and the policies for
    textual NaN (``reject`` or read as ``null``) and for timestamps without a UTC offset (``reject`` or take as
    ``utc``)."""

    history_batches: int = 7
    min_history_batches: int = 3
    row_count_min_ratio: float = 0.5
    row_count_max_ratio: float = 2.0
    null_rate_tolerance: float = 0.10
    sample_rows: int = 5
    textual_nan: str = "reject"
    naive_timestamps: str = "reject"


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
    training_drop_unmatched: bool = False


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
    severe_threshold: float = 0.3
    calibration_quantile: float = 0.99
    calibration_draws: int = 500
    sample_rows: int = 100_000
    reports: str = "drift"
    window_days: int = 1
    drift_min_rows: int = 500
    quality_drop_tolerance: float = 0.1
    quality_min_rows: int = 200
    retrain_cooldown_s: float = 86_400.0
    retrain_max_active: int = 1
    retrain_coalesce: bool = True
    retrain_claim_timeout_s: float = 12 * 3600.0
    retrain_min_post_drift_days: int = 7
    sensor_poke_interval_s: float = 60.0
    sensor_timeout_s: float = 6 * 3600.0


@dataclass(frozen=True)
class QualitySettings:
    """The ML Test Score checks (``driftloop.quality``): staleness, compute regressions, inclusion, tuning."""

    max_model_age_days: int = 60
    compute_regression_factor: float = 1.5
    compute_history_runs: int = 5
    max_parity_gap: float = 0.0
    tune_trials: int = 12
    shadow_days: int = 0
    shadow_tolerance: float = 0.01


@dataclass(frozen=True)
class LinkSettings:
    """Where the UIs are, so each can link to the others, and the monitoring dashboard's workspace (Evidently UI)."""

    airflow_ui_url: str = "http://localhost:8080"
    mlflow_ui_url: str = "http://localhost:5000"
    dashboard_enabled: bool = True
    dashboard_workspace: Path = Path("evidently")
    dashboard_url: str = "http://localhost:8000"


@dataclass(frozen=True)
class AlertSettings:
    """Alerts sent through the SMTP provider's notifier on the connection ``smtp_conn_id``, for the events in
    ``events`` (see :data:`ALERT_EVENTS`)."""

    enabled: bool = False
    smtp_conn_id: str = "smtp_default"
    to: tuple[str, ...] = ()
    from_email: str = "driftloop@localhost"
    events: tuple[str, ...] = ()


ALERT_EVENTS = ("quarantine", "drift", "promotion", "rollback", "retrain_not_started")
"""What can raise an alert: a quarantined batch, a day whose verdict is drift or quality_drop, a promotion to
champion, a rollback, and a retraining that could not start."""


def _alert_events(raw: str) -> tuple[str, ...]:
    events = tuple(e.strip() for e in raw.split(",") if e.strip())
    unknown = sorted(set(events) - set(ALERT_EVENTS))
    if unknown:
        raise ValueError(
            f"setting DRIFTLOOP_ALERTS_ON={raw!r}: unknown event(s) {', '.join(unknown)} "
            f"(known: {', '.join(ALERT_EVENTS)})"
        )
    return events


@dataclass(frozen=True)
class Settings:
    """Resolved driftloop configuration; build it with :func:`get_settings`."""

    data_root: Path
    usecase_dir: Path
    offline_store_dir: Path
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
    mlflow_http_max_retries: int = 3
    mlflow_http_backoff_factor: int = 1
    mlflow_http_timeout_s: int = 60
    materialize_batch_rows: int = 20_000
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)
    quality: QualitySettings = field(default_factory=QualitySettings)
    links: LinkSettings = field(default_factory=LinkSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)

    # Zones of the data lake, below data_root unless configured elsewhere.
    @property
    def raw_dir(self) -> Path:
        """The raw zone's folder when it is local (``driftloop.storage.raw_zone`` also handles S3)."""
        if self.raw_uri.startswith("s3://"):
            msg = f"the raw zone is {self.raw_uri} (DRIFTLOOP_RAW_URI), not a folder: use driftloop.storage.raw_zone"
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

    def mlflow_http_env(self) -> dict[str, str]:
        """MLflow's own variables bounding its HTTP client: retries of a 5xx, a refused or dropped connection (waits
        of 0, 2, 4, ... times the backoff factor, plus up to a second of jitter, or a 503's Retry-After), and the
        timeout of each request. A refused connection then fails in about ``backoff_factor * (2 ** max_retries - 2)``
        seconds, a server that accepts and never answers in ``(max_retries + 1) * timeout_s`` more."""
        return {
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(self.mlflow_http_max_retries),
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": str(self.mlflow_http_backoff_factor),
            "MLFLOW_HTTP_REQUEST_TIMEOUT": str(self.mlflow_http_timeout_s),
        }

    def feast_env(self) -> dict[str, str]:
        """Variables that ``feature_repo/feature_store.yaml`` and its definitions expand."""
        return {
            "DRIFTLOOP_FEAST_PROJECT": self.feast_project,
            "DRIFTLOOP_FEAST_REGISTRY": self.feast_registry,
            "DRIFTLOOP_FEAST_ONLINE_PATH": str(self.feast_online_path),
            "DRIFTLOOP_OFFLINE_STORE_DIR": str(self.offline_store_dir),
        }


def usecases_dir() -> Path:
    """Where named use cases live: ``DRIFTLOOP_USECASES_DIR``, default ``<repo>/usecases``."""
    return Path(_env("DRIFTLOOP_USECASES_DIR", str(USECASES_DIR))).expanduser().resolve()


def usecase_folder(value: str) -> Path:
    """The folder of a use case: ``value`` is a name under ``DRIFTLOOP_USECASES_DIR`` or a path to a folder."""
    parent = usecases_dir()
    folder = Path(value).expanduser() if ("/" in value or value.startswith(".")) else parent / value
    folder = folder.resolve()
    if not (folder / "usecase.toml").is_file():
        candidates = parent.iterdir() if parent.is_dir() else []
        known = sorted(p.name for p in candidates if (p / "usecase.toml").is_file())
        raise ValueError(
            f"setting DRIFTLOOP_USECASE={value!r}: {folder / 'usecase.toml'} does not exist "
            f"(use cases here: {', '.join(known) or 'none'}; or give a folder's path)"
        )
    return folder


def _spec_defaults(folder: Path) -> dict[str, object]:
    """The spec's defaults of data-set settings (validated in full by ``driftloop.usecase`` when it is loaded)."""
    document = read_spec_document(folder)

    def section(name: str) -> dict:
        value = document.get(name)
        return value if isinstance(value, dict) else {}

    name = str(document.get("name") or folder.name)
    label, features, feast, model = section("label"), section("features"), section("feast"), section("model")
    return {
        "name": name,
        "label_horizon_days": str(label.get("horizon_days", 30)),
        "task_type": str(label.get("task_type", "classification")),
        "feature_window_days": str(features.get("window_days", 30)),
        "model_name": str(model.get("name") or name),
        "training_window_days": str(model.get("training_window_days", 28)),
        "feast_project": str(feast.get("project") or name),
        "feature_view": str(feast.get("feature_view") or name),
        "drift_window_days": str(section("monitoring").get("window_days", 1)),
        "drift_min_rows": str(section("monitoring").get("min_rows", 500)),
    }


def load_settings() -> Settings:
    """Read every setting from the environment now (no caching); raises ValueError naming a bad variable."""
    usecase_dir = usecase_folder(_env("DRIFTLOOP_USECASE", "churn"))
    spec = _spec_defaults(usecase_dir)
    data_root = Path(_env("DRIFTLOOP_DATA_ROOT", str(REPO_ROOT / "data" / spec["name"]))).expanduser().resolve()
    task_type = _env("DRIFTLOOP_TASK_TYPE", spec["task_type"])
    if task_type not in TASK_TYPES:
        raise ValueError(f"setting DRIFTLOOP_TASK_TYPE={task_type!r} must be one of {', '.join(TASK_TYPES)}")
    materialize_batch_rows = _env_int("DRIFTLOOP_MATERIALIZE_BATCH_ROWS", 20_000)
    if materialize_batch_rows < 1:
        raise ValueError(f"setting DRIFTLOOP_MATERIALIZE_BATCH_ROWS={materialize_batch_rows} must be at least 1")
    feast_dir = data_root / "feast"
    tracking_uri = _env("DRIFTLOOP_MLFLOW_TRACKING_URI", f"sqlite:///{data_root / 'mlflow.db'}")
    # With a tracking server, artifacts go through its proxy (`mlflow server --serve-artifacts`) to its store.
    local_artifacts = str(data_root / "mlartifacts")
    artifact_root = "mlflow-artifacts:/driftloop" if is_tracking_server(tracking_uri) else local_artifacts
    settings = Settings(
        data_root=data_root,
        usecase_dir=usecase_dir,
        offline_store_dir=data_root / "offline" / spec["feature_view"],
        landing_uri=_env("DRIFTLOOP_LANDING_URI", str(data_root / "landing")).rstrip("/"),
        raw_uri=_env("DRIFTLOOP_RAW_URI", str(data_root / "raw")).rstrip("/"),
        aws_conn_id=_env("DRIFTLOOP_AWS_CONN_ID", "aws_default"),
        landing_poke_interval_s=_env_float("DRIFTLOOP_LANDING_POKE_INTERVAL_S", 30.0),
        landing_timeout_s=_env_float("DRIFTLOOP_LANDING_TIMEOUT_S", 6 * 3600.0),
        feature_repo=Path(_env("DRIFTLOOP_FEATURE_REPO", str(REPO_ROOT / "feature_repo"))).resolve(),
        feast_project=_env("DRIFTLOOP_FEAST_PROJECT", spec["feast_project"]),
        feast_registry=_env("DRIFTLOOP_FEAST_REGISTRY", str(feast_dir / "registry.db")),
        feast_online_path=Path(_env("DRIFTLOOP_FEAST_ONLINE_PATH", str(feast_dir / "online.db"))),
        feast_online_store=_env("DRIFTLOOP_FEAST_ONLINE_STORE", "sqlite"),
        materialize_overlap_days=_env_int("DRIFTLOOP_MATERIALIZE_OVERLAP_DAYS", 1),
        feature_window_days=_env_int("DRIFTLOOP_FEATURE_WINDOW_DAYS", int(spec["feature_window_days"])),
        task_type=task_type,
        label_horizon_days=_env_int("DRIFTLOOP_LABEL_HORIZON_DAYS", int(spec["label_horizon_days"])),
        mlflow_tracking_uri=tracking_uri,
        catchup=_env_bool("DRIFTLOOP_CATCHUP", False),
        mlflow_artifact_root=_env("DRIFTLOOP_MLFLOW_ARTIFACT_ROOT", artifact_root),
        mlflow_http_max_retries=_env_int("DRIFTLOOP_MLFLOW_HTTP_MAX_RETRIES", 3),
        mlflow_http_backoff_factor=_env_int("DRIFTLOOP_MLFLOW_HTTP_BACKOFF_FACTOR", 1),
        mlflow_http_timeout_s=_env_int("DRIFTLOOP_MLFLOW_HTTP_TIMEOUT_S", 60),
        materialize_batch_rows=materialize_batch_rows,
        model=ModelSettings(
            name=_env("DRIFTLOOP_MODEL_NAME", spec["model_name"]),
            training_window_days=_env_int("DRIFTLOOP_TRAINING_WINDOW_DAYS", int(spec["training_window_days"])),
            device=_env("DRIFTLOOP_TRAIN_DEVICE", "auto"),
            train_pool=_env("DRIFTLOOP_TRAIN_POOL", "default_pool"),
            train_queue=_env("DRIFTLOOP_TRAIN_QUEUE", "default"),
            promotion_margin=_env_float("DRIFTLOOP_PROMOTION_MARGIN", 0.005),
            slice_tolerance=_env_float("DRIFTLOOP_SLICE_TOLERANCE", 0.05),
            seed=_env_int("DRIFTLOOP_SEED", 42),
            predictions_db_url=_env("DRIFTLOOP_PREDICTIONS_DB_URL", ""),
            train_schedule=_schedule(_env("DRIFTLOOP_TRAIN_SCHEDULE", "@weekly")),
            training_drop_unmatched=_env_bool("DRIFTLOOP_TRAINING_DROP_UNMATCHED", False),
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
            severe_threshold=_env_float("DRIFTLOOP_DRIFT_SEVERE_THRESHOLD", 0.3),
            calibration_quantile=_env_float("DRIFTLOOP_DRIFT_CALIBRATION_QUANTILE", 0.99),
            calibration_draws=_env_int("DRIFTLOOP_DRIFT_CALIBRATION_DRAWS", 500),
            sample_rows=_env_int("DRIFTLOOP_DRIFT_SAMPLE_ROWS", 100_000),
            reports=_env_choice("DRIFTLOOP_DRIFT_REPORTS", "drift", DRIFT_REPORT_POLICIES),
            window_days=_env_int("DRIFTLOOP_DRIFT_WINDOW_DAYS", int(spec["drift_window_days"])),
            drift_min_rows=_env_int("DRIFTLOOP_DRIFT_MIN_ROWS", int(spec["drift_min_rows"])),
            quality_drop_tolerance=_env_float("DRIFTLOOP_QUALITY_DROP_TOLERANCE", 0.1),
            quality_min_rows=_env_int("DRIFTLOOP_QUALITY_MIN_ROWS", 200),
            retrain_cooldown_s=_env_float("DRIFTLOOP_RETRAIN_COOLDOWN_S", 86_400.0),
            retrain_max_active=_env_int("DRIFTLOOP_RETRAIN_MAX_ACTIVE", 1),
            retrain_coalesce=_env_bool("DRIFTLOOP_RETRAIN_COALESCE", True),
            retrain_claim_timeout_s=_env_float("DRIFTLOOP_RETRAIN_CLAIM_TIMEOUT_S", 12 * 3600.0),
            retrain_min_post_drift_days=_env_int("DRIFTLOOP_RETRAIN_MIN_POST_DRIFT_DAYS", 7),
            sensor_poke_interval_s=_env_float("DRIFTLOOP_DRIFT_POKE_INTERVAL_S", 60.0),
            sensor_timeout_s=_env_float("DRIFTLOOP_DRIFT_SENSOR_TIMEOUT_S", 6 * 3600.0),
        ),
        links=LinkSettings(
            airflow_ui_url=_env("AIRFLOW__API__BASE_URL", "http://localhost:8080").rstrip("/"),
            mlflow_ui_url=_env(
                "DRIFTLOOP_MLFLOW_UI_URL", f"http://localhost:{_env('DRIFTLOOP_MLFLOW_UI_PORT', '5000')}"
            ).rstrip("/"),
            dashboard_enabled=_env_bool("DRIFTLOOP_DASHBOARD_ENABLED", True),
            dashboard_workspace=Path(_env("DRIFTLOOP_DASHBOARD_WORKSPACE", str(data_root / "evidently"))),
            dashboard_url=_env(
                "DRIFTLOOP_DASHBOARD_URL", f"http://localhost:{_env('DRIFTLOOP_DASHBOARD_PORT', '8000')}"
            ).rstrip("/"),
        ),
        alerts=AlertSettings(
            enabled=_env_bool("DRIFTLOOP_ALERTS_ENABLED", False),
            smtp_conn_id=_env("DRIFTLOOP_ALERTS_SMTP_CONN_ID", "smtp_default"),
            to=tuple(a.strip() for a in _env("DRIFTLOOP_ALERTS_TO", "").split(",") if a.strip()),
            from_email=_env("DRIFTLOOP_ALERTS_FROM", "driftloop@localhost"),
            events=_alert_events(_env("DRIFTLOOP_ALERTS_ON", ",".join(ALERT_EVENTS))),
        ),
        validation=ValidationSettings(
            history_batches=_env_int("DRIFTLOOP_VALIDATION_HISTORY_BATCHES", 7),
            min_history_batches=_env_int("DRIFTLOOP_VALIDATION_MIN_HISTORY_BATCHES", 3),
            row_count_min_ratio=_env_float("DRIFTLOOP_VALIDATION_ROW_COUNT_MIN_RATIO", 0.5),
            row_count_max_ratio=_env_float("DRIFTLOOP_VALIDATION_ROW_COUNT_MAX_RATIO", 2.0),
            null_rate_tolerance=_env_float("DRIFTLOOP_VALIDATION_NULL_RATE_TOLERANCE", 0.10),
            sample_rows=_env_int("DRIFTLOOP_VALIDATION_SAMPLE_ROWS", 5),
            textual_nan=_env_choice("DRIFTLOOP_VALIDATION_TEXTUAL_NAN", "reject", TEXTUAL_NAN_POLICIES),
            naive_timestamps=_env_choice("DRIFTLOOP_VALIDATION_NAIVE_TIMESTAMPS", "reject", NAIVE_TIMESTAMP_POLICIES),
        ),
        quality=QualitySettings(
            max_model_age_days=_env_int("DRIFTLOOP_MAX_MODEL_AGE_DAYS", 60),
            compute_regression_factor=_env_float("DRIFTLOOP_COMPUTE_REGRESSION_FACTOR", 1.5),
            compute_history_runs=_env_int("DRIFTLOOP_COMPUTE_HISTORY_RUNS", 5),
            max_parity_gap=_env_float("DRIFTLOOP_MAX_PARITY_GAP", 0.0),
            tune_trials=_env_int("DRIFTLOOP_TUNE_TRIALS", 12),
            shadow_days=_env_int("DRIFTLOOP_SHADOW_DAYS", 0),
            shadow_tolerance=_env_float("DRIFTLOOP_SHADOW_TOLERANCE", 0.01),
        ),
    )
    check_monitoring(settings.monitoring)
    if settings.alerts.enabled and not settings.alerts.to:
        raise ValueError("setting DRIFTLOOP_ALERTS_ENABLED=true needs DRIFTLOOP_ALERTS_TO (comma-separated addresses)")
    return settings


DRIFT_REPORT_POLICIES = ("drift", "always")
"""``DRIFTLOOP_DRIFT_REPORTS``: render the Evidently drift report for days that drifted only, or for every day."""


def check_monitoring(config: MonitoringSettings) -> None:
    """Raise ValueError, naming the variable, unless the drift settings of ``config`` fit together."""
    if config.sample_rows < config.drift_min_rows:
        raise ValueError(
            f"setting DRIFTLOOP_DRIFT_SAMPLE_ROWS={config.sample_rows} is below DRIFTLOOP_DRIFT_MIN_ROWS="
            f"{config.drift_min_rows}: every day would be sampled below the rows a verdict needs and recorded as "
            "insufficient_data; raise the sample or lower the minimum"
        )
    if not 0.5 <= config.calibration_quantile < 1.0:
        raise ValueError(
            f"setting DRIFTLOOP_DRIFT_CALIBRATION_QUANTILE={config.calibration_quantile} must be in [0.5, 1), "
            "e.g. 0.99: the share of clean samples whose distance stays below the threshold"
        )
    if config.calibration_draws < 100:
        raise ValueError(
            f"setting DRIFTLOOP_DRIFT_CALIBRATION_DRAWS={config.calibration_draws} must be at least 100: fewer "
            "draws cannot place a high quantile"
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once; tests call ``get_settings.cache_clear()`` after changing env."""
    return load_settings()
