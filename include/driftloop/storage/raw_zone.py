"""The raw zone: every delivery of each day's batch, as delivered, in ``<DRIFTLOOP_RAW_URI>/dt=YYYY-MM-DD/``.

Raw is the record of what was delivered; every later zone can be rebuilt from it, so the production stack keeps it
in S3 (a folder works the same). Nothing in it is ever replaced or deleted: each delivery of a day gets its own
folder ``dt=D/delivery=<UTC time>/`` (``delivery=20260504T081500.123456Z``) holding its table files and, written
last, the ``_SUCCESS`` marker, so a delivery whose upload was cut short is never read. A delivery byte-identical to
the newest one of the day (a rerun of the same ingest) is not stored twice.

Which delivery of a day validation accepted is recorded in ``dt=D/_ACCEPTED`` (JSON: per table, the delivery its
validated rows come from, and the checks that were skipped). A partition written before deliveries were kept holds
its files directly in ``dt=D/``; it reads as one delivery, older than any other, named ``legacy``.

Validation reads a delivery through :func:`fetched_delivery`, a local folder (the delivery itself, or a download of
it). S3 is reached through boto3's default credentials and endpoint (``AWS_*`` variables), as the reports are.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from driftloop.settings import Settings
from driftloop.storage import lake

DELIVERY_PREFIX = "delivery="
DELIVERY_TIME_FORMAT = "%Y%m%dT%H%M%S.%fZ"
LEGACY_DELIVERY = "legacy"
COMPLETE_MARKER = "_SUCCESS"
ACCEPTED_MANIFEST = "_ACCEPTED"


@dataclass(frozen=True)
class Delivery:
    """One delivery of a day's batch in the raw zone: its day, its name (``delivery=<UTC time>`` or ``legacy``) and
    where it is (a folder path or an ``s3://`` URI ending in ``/``)."""

    day: date
    name: str
    uri: str


def _is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def _bucket_and_prefix(day: date, settings: Settings) -> tuple[str, str]:
    bucket, _, prefix = settings.raw_uri.removeprefix("s3://").partition("/")
    return bucket, "/".join(p for p in (prefix.strip("/"), lake.partition_name(day)) if p) + "/"


def _s3():
    import boto3

    return boto3.client("s3")


def _keys(bucket: str, prefix: str) -> list[str]:
    pages = _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def partition_uri(day: date, settings: Settings) -> str:
    """Where ``day``'s raw partition lives: a folder path or ``s3://bucket/prefix/dt=DAY/``."""
    if _is_s3(settings.raw_uri):
        bucket, prefix = _bucket_and_prefix(day, settings)
        return f"s3://{bucket}/{prefix}"
    return str(lake.partition_dir(Path(settings.raw_uri), day))


def _delivery_uri(day: date, name: str, settings: Settings) -> str:
    base = partition_uri(day, settings)
    if name == LEGACY_DELIVERY:
        return base
    return f"{base}{name}/" if _is_s3(settings.raw_uri) else str(Path(base) / name)


def _entries(day: date, settings: Settings) -> dict[str, set[str]]:
    """Names directly in the partition (``""``: the partition's own files) -> the file names below them."""
    entries: dict[str, set[str]] = {}
    if _is_s3(settings.raw_uri):
        bucket, prefix = _bucket_and_prefix(day, settings)
        for key in _keys(bucket, prefix):
            head, _, rest = key.removeprefix(prefix).partition("/")
            folder, name = (head, rest) if rest else ("", head)
            entries.setdefault(folder, set()).add(name)
        return entries
    folder = lake.partition_dir(Path(settings.raw_uri), day)
    if not folder.is_dir():
        return entries
    for entry in folder.iterdir():
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            entries[entry.name] = {p.name for p in entry.iterdir() if p.is_file()}
        else:
            entries.setdefault("", set()).add(entry.name)
    return entries


def deliveries(day: date, settings: Settings) -> list[Delivery]:
    """Every complete delivery of ``day``, oldest first (a legacy partition's files count as the oldest)."""
    entries = _entries(day, settings)
    names = sorted(
        folder for folder, files in entries.items() if folder.startswith(DELIVERY_PREFIX) and COMPLETE_MARKER in files
    )
    if entries.get("", set()) - {ACCEPTED_MANIFEST}:
        names.insert(0, LEGACY_DELIVERY)
    return [Delivery(day, name, _delivery_uri(day, name, settings)) for name in names]


def find_delivery(day: date, settings: Settings, name: str | None = None) -> Delivery:
    """The delivery ``name`` of ``day``, or its newest one; FileNotFoundError naming the partition when absent."""
    found = deliveries(day, settings)
    if name is not None:
        found = [delivery for delivery in found if delivery.name == name]
    if not found:
        wanted = f"delivery {name}" if name else "delivery"
        raise FileNotFoundError(
            f"no raw batch for {day}: {partition_uri(day, settings)} holds no complete {wanted} "
            "(copy the batch to raw first)"
        )
    return found[-1]


def _delivery_name(day: date, settings: Settings, delivered_at: datetime | None) -> str:
    """A new delivery's name: its UTC time, moved a microsecond past the newest delivery's when not later."""
    moment = (delivered_at or datetime.now(UTC)).astimezone(UTC)
    stamped = [d.name for d in deliveries(day, settings) if d.name != LEGACY_DELIVERY]
    if stamped:
        newest = datetime.strptime(stamped[-1].removeprefix(DELIVERY_PREFIX), DELIVERY_TIME_FORMAT).replace(tzinfo=UTC)
        moment = max(moment, newest + timedelta(microseconds=1))
    return DELIVERY_PREFIX + moment.strftime(DELIVERY_TIME_FORMAT)


def _same_files(delivery: Delivery, files: Mapping[str, Path], settings: Settings) -> bool:
    """Whether ``delivery`` holds exactly ``files`` (names and bytes)."""
    with fetched_delivery(delivery, settings) as folder:
        held = {p.name for p in folder.iterdir() if p.is_file() and p.name != COMPLETE_MARKER}
        if held != set(files):
            return False
        return all((folder / name).read_bytes() == Path(source).read_bytes() for name, source in files.items())


def write_delivery(
    day: date, files: Mapping[str, Path], settings: Settings, delivered_at: datetime | None = None
) -> tuple[Delivery, bool]:
    """Store ``files`` (name in the delivery -> local source file) as a new delivery of ``day``; returns it and
    whether it is new (False: the newest delivery already held exactly these bytes, and is returned).

    Older deliveries are left as they are; the ``_SUCCESS`` marker is written last."""
    existing = deliveries(day, settings)
    if existing and _same_files(existing[-1], files, settings):
        return existing[-1], False
    name = _delivery_name(day, settings, delivered_at)
    delivery = Delivery(day, name, _delivery_uri(day, name, settings))
    if not _is_s3(settings.raw_uri):
        with lake.replace_dir(Path(delivery.uri)) as scratch:
            for file_name, source in files.items():
                shutil.copyfile(source, scratch / file_name)
            (scratch / COMPLETE_MARKER).write_bytes(b"")
        return delivery, True
    bucket, prefix = _bucket_and_prefix(day, settings)
    client = _s3()
    for file_name, source in files.items():
        client.upload_file(str(source), bucket, f"{prefix}{name}/{file_name}")
    client.put_object(Bucket=bucket, Key=f"{prefix}{name}/{COMPLETE_MARKER}", Body=b"")
    return delivery, True


@contextmanager
def fetched_delivery(delivery: Delivery, settings: Settings) -> Iterator[Path]:
    """A local folder holding ``delivery``'s files: the folder itself, or a download removed afterwards (the
    ``_ACCEPTED`` manifest of a legacy partition is left out)."""
    if not _is_s3(settings.raw_uri):
        yield Path(delivery.uri)
        return
    bucket, prefix = _bucket_and_prefix(delivery.day, settings)
    folder = "" if delivery.name == LEGACY_DELIVERY else f"{delivery.name}/"
    with tempfile.TemporaryDirectory(prefix=f"raw-{delivery.day}-") as scratch:
        client = _s3()
        for key in _keys(bucket, prefix + folder):
            name = key.removeprefix(prefix + folder)
            if "/" not in name and name != ACCEPTED_MANIFEST:
                client.download_file(bucket, key, str(Path(scratch) / name))
        yield Path(scratch)


def read_manifest(day: date, settings: Settings) -> dict:
    """``day``'s ``_ACCEPTED`` manifest (``{"tables": {table: {"delivery": name, "rows": n}}, ...}``), or ``{}``."""
    if _is_s3(settings.raw_uri):
        bucket, prefix = _bucket_and_prefix(day, settings)
        if not _keys(bucket, prefix + ACCEPTED_MANIFEST):
            return {}
        return json.loads(_s3().get_object(Bucket=bucket, Key=prefix + ACCEPTED_MANIFEST)["Body"].read())
    path = lake.partition_dir(Path(settings.raw_uri), day) / ACCEPTED_MANIFEST
    return json.loads(path.read_text()) if path.exists() else {}


def write_manifest(day: date, manifest: dict, settings: Settings) -> None:
    """Replace ``day``'s ``_ACCEPTED`` manifest (the same content gives the same bytes)."""
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    if _is_s3(settings.raw_uri):
        bucket, prefix = _bucket_and_prefix(day, settings)
        _s3().put_object(Bucket=bucket, Key=prefix + ACCEPTED_MANIFEST, Body=body)
        return
    with lake.replace_file(lake.partition_dir(Path(settings.raw_uri), day) / ACCEPTED_MANIFEST) as scratch:
        scratch.write_bytes(body)
