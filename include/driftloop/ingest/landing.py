"""Ingest: copy a day's landed batch, as delivered, into the raw zone partition of that day.

Landing may be a local folder or an S3 bucket; fetching from S3 is the Airflow layer's job (through the amazon
provider's hook), which hands this module a local folder. The raw zone is a folder or an S3 prefix
(``driftloop.storage.raw_zone``). Each copy is stored as a new delivery of the day beside the earlier ones, which are
never replaced; a rerun that copies the same bytes again reuses the newest delivery instead of storing a duplicate.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from driftloop.ingest.tables import BATCH_MARKER, batch_tables
from driftloop.settings import Settings, get_settings
from driftloop.storage import lake, raw_zone

log = logging.getLogger(__name__)


class BatchNotLanded(FileNotFoundError):
    """The day's batch folder or its completion marker is missing from landing."""


@dataclass(frozen=True)
class RawBatch:
    """A batch copied into the raw zone: its delivery (name and folder or ``s3://`` URI), whether the copy stored it
    (False: the newest delivery already held these bytes) and, per file, its size in bytes and SHA-256."""

    day: date
    uri: str
    delivery: str
    new: bool
    files: dict[str, dict[str, int | str]]


def landing_batch_dir(day: date, settings: Settings | None = None) -> Path:
    """The local landing folder of ``day``'s batch (only for a local landing URI)."""
    settings = settings or get_settings()
    if settings.landing_is_s3:
        raise ValueError(f"landing is {settings.landing_uri}; fetch the batch through the S3 hook first")
    return lake.partition_dir(Path(settings.landing_uri), day)


def batch_file_names(settings: Settings | None = None) -> list[str]:
    """The files a complete batch holds, marker excluded."""
    return [spec.file_name for spec in batch_tables(settings).values()]


def write_landing_batch(landing_dir: Path, day: date, tables: dict) -> Path:
    """Write one day's tables (name -> DataFrame) as CSV into ``landing_dir/dt=DAY/`` (replacing it), the
    ``_SUCCESS`` marker last; what a use case's source calls for each day."""
    target = lake.partition_dir(Path(landing_dir), day)
    with lake.replace_dir(target) as scratch:
        for name, frame in tables.items():
            frame.to_csv(scratch / f"{name}.csv", index=False, lineterminator="\n")
        (scratch / BATCH_MARKER).write_bytes(b"")
    return target


def copy_batch_to_raw(day: date, source_dir: Path, settings: Settings | None = None) -> RawBatch:
    """Copy the table files of ``source_dir`` (a landed batch) into a new delivery of ``day`` in the raw zone.

    The batch must carry its ``_SUCCESS`` marker. Table files missing from the batch are not invented here: the
    validation stage rejects the batch and names them. Files that are not tables of the contract are ignored.
    """
    settings = settings or get_settings()
    source_dir = Path(source_dir)
    if not (source_dir / BATCH_MARKER).exists():
        raise BatchNotLanded(f"batch for {day} is not complete: {source_dir / BATCH_MARKER} does not exist")
    copied: dict[str, dict[str, int | str]] = {}
    sources: dict[str, Path] = {}
    for name in batch_file_names(settings):
        source = source_dir / name
        if not source.exists():
            log.warning("batch %s has no %s; validation will reject it", day, source)
            continue
        data = source.read_bytes()
        copied[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        sources[name] = source
    delivery, new = raw_zone.write_delivery(day, sources, settings)
    ignored = sorted(p.name for p in source_dir.iterdir() if p.name not in copied and p.name != BATCH_MARKER)
    if ignored:
        log.info("ignored files outside the contract in %s: %s", source_dir, ", ".join(ignored))
    sizes = ", ".join(f"{k} ({v['bytes']} B)" for k, v in copied.items())
    if new:
        log.info("copied batch %s into %s: %s", day, delivery.uri, sizes)
    else:
        log.info("batch %s is byte-identical to its newest delivery %s; not stored again: %s", day, delivery.uri, sizes)
    return RawBatch(day=day, uri=delivery.uri, delivery=delivery.name, new=new, files=copied)
