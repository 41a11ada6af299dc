"""The landing area seen from Airflow: a deferrable sensor for a day's batch, and S3 transfers through the hook.

Landing is a local folder or an ``s3://bucket/prefix`` reached with the amazon provider's ``S3Hook`` and the
connection named by ``DRIFTLOOP_AWS_CONN_ID`` (defined in the environment as ``AIRFLOW_CONN_<ID>``). While it
waits, the sensor is deferred to the triggerer (the standard provider's ``FileTrigger`` or the amazon provider's
``S3KeyTrigger``), so it holds no worker slot.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseSensorOperator

from driftloop.dates import parse_day
from driftloop.ingest.tables import BATCH_MARKER
from driftloop.settings import Settings
from driftloop.storage import lake


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> ``("bucket", "prefix")`` (prefix without a trailing slash)."""
    without_scheme = uri[len("s3://") :]
    bucket, _, prefix = without_scheme.partition("/")
    return bucket, prefix.strip("/")


def batch_key(prefix: str, day: date, name: str) -> str:
    """The S3 key of file ``name`` in ``day``'s batch below ``prefix``."""
    return "/".join(part for part in (prefix, lake.partition_name(day), name) if part)


def marker_location(settings: Settings, day: date) -> str:
    """Where ``day``'s completion marker appears: a local path or an ``s3://`` URI."""
    if settings.landing_is_s3:
        bucket, prefix = split_s3_uri(settings.landing_uri)
        return f"s3://{bucket}/{batch_key(prefix, day, BATCH_MARKER)}"
    return str(lake.partition_dir(Path(settings.landing_uri), day) / BATCH_MARKER)


def _s3_hook(settings: Settings):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=settings.aws_conn_id)


def fetch_batch(settings: Settings, day: date, workdir: Path) -> Path:
    """A local folder holding ``day``'s landed batch: the landing folder itself, or a download from S3."""
    if not settings.landing_is_s3:
        return lake.partition_dir(Path(settings.landing_uri), day)
    bucket, prefix = split_s3_uri(settings.landing_uri)
    hook = _s3_hook(settings)
    batch_prefix = "/".join(part for part in (prefix, lake.partition_name(day)) if part) + "/"
    target = Path(workdir) / lake.partition_name(day)
    target.mkdir(parents=True, exist_ok=True)
    keys = hook.list_keys(bucket_name=bucket, prefix=batch_prefix) or []
    for key in keys:
        name = key[len(batch_prefix) :]
        if name and "/" not in name:
            hook.get_conn().download_file(bucket, key, str(target / name))
    return target


def upload_batch(settings: Settings, local_batch_dir: Path, day: date) -> list[str]:
    """Upload a local batch folder to S3 landing, the completion marker last; returns the keys written."""
    bucket, prefix = split_s3_uri(settings.landing_uri)
    hook = _s3_hook(settings)
    names = sorted(p.name for p in Path(local_batch_dir).iterdir() if p.name != BATCH_MARKER)
    keys = []
    for name in [*names, BATCH_MARKER]:
        key = batch_key(prefix, day, name)
        hook.load_file(str(Path(local_batch_dir) / name), key=key, bucket_name=bucket, replace=True)
        keys.append(key)
    return keys


class LandingBatchSensor(BaseSensorOperator):
    """Wait, deferred, until the completion marker of a day's batch is in landing (local folder or S3).

    :param day: the batch day, ``YYYY-MM-DD`` (templated).
    :param settings: driftloop settings naming the landing URI and the AWS connection.
    """

    template_fields = ("day",)
    ui_color = "#e8f4fd"

    def __init__(self, *, day: str, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.day = day
        self.landing_uri = settings.landing_uri
        self.aws_conn_id = settings.aws_conn_id
        self._settings = settings

    def poke(self, context) -> bool:
        """Whether the day's completion marker is in landing now."""
        location = marker_location(self._settings, parse_day(self.day))
        self.log.info("Looking for %s", location)
        if self._settings.landing_is_s3:
            bucket, key = split_s3_uri(location)
            return _s3_hook(self._settings).check_for_key(key, bucket_name=bucket)
        return Path(location).exists()

    def execute(self, context) -> None:
        """Return at once if the batch is there, else defer to the file or S3 trigger."""
        self.log.info("run %s ingests batch day %s", context["run_id"], self.day)
        if self.poke(context):
            return
        location = marker_location(self._settings, parse_day(self.day))
        if self._settings.landing_is_s3:
            from airflow.providers.amazon.aws.triggers.s3 import S3KeyTrigger

            bucket, key = split_s3_uri(location)
            trigger = S3KeyTrigger(
                bucket_name=bucket, bucket_key=key, aws_conn_id=self.aws_conn_id, poke_interval=self.poke_interval
            )
        else:
            from airflow.providers.standard.triggers.file import FileTrigger

            trigger = FileTrigger(filepath=location, poke_interval=self.poke_interval)
        self.log.info(
            "Batch %s not landed yet; deferring until %s appears (timeout %ss)", self.day, location, self.timeout
        )
        self.defer(trigger=trigger, method_name="execute_complete", timeout=timedelta(seconds=self.timeout))

    def execute_complete(self, context, event: Any = None) -> None:
        """Resume after the trigger fired; fail if it reported an error."""
        if isinstance(event, dict) and event.get("status") == "error":
            raise RuntimeError(f"waiting for batch {self.day} in {self.landing_uri} failed: {event.get('message')}")
        self.log.info("Batch %s has landed in %s", self.day, self.landing_uri)
