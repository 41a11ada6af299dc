"""The raw zone: each day's batch as delivered, in ``<DRIFTLOOP_RAW_URI>/dt=YYYY-MM-DD/``, a folder or an S3 prefix.

Raw is the record of what was delivered; every later zone can be rebuilt from it, so the production stack keeps it
in S3. Writing a day's partition replaces it whole (on S3: the batch's files are uploaded, then any other object of
the partition is deleted), so a rerun never leaves files of an older delivery behind. Validation reads a partition
through :func:`fetched_partition`, a local folder (the partition itself, or a download of it). S3 is reached through
boto3's default credentials and endpoint (``AWS_*`` variables), as the reports are.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from driftloop import lake
from driftloop.settings import Settings


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


def write_partition(day: date, files: Mapping[str, Path], settings: Settings) -> str:
    """Replace ``day``'s raw partition with ``files`` (name in the partition -> local source file); returns its URI."""
    if not _is_s3(settings.raw_uri):
        target = lake.partition_dir(Path(settings.raw_uri), day)
        with lake.replace_dir(target) as scratch:
            for name, source in files.items():
                shutil.copyfile(source, scratch / name)
        return str(target)
    bucket, prefix = _bucket_and_prefix(day, settings)
    client = _s3()
    for name, source in files.items():
        client.upload_file(str(source), bucket, prefix + name)
    stale = [key for key in _keys(bucket, prefix) if key.removeprefix(prefix) not in files]
    for key in stale:
        client.delete_object(Bucket=bucket, Key=key)
    return f"s3://{bucket}/{prefix}"


@contextmanager
def fetched_partition(day: date, settings: Settings) -> Iterator[Path]:
    """A local folder holding ``day``'s raw partition: the folder itself, or a download removed afterwards.

    Raises FileNotFoundError when the partition does not exist (an empty S3 prefix does not exist).
    """
    if not _is_s3(settings.raw_uri):
        folder = lake.partition_dir(Path(settings.raw_uri), day)
        if not folder.is_dir():
            raise FileNotFoundError(f"no raw batch for {day}: {folder} does not exist (copy the batch to raw first)")
        yield folder
        return
    bucket, prefix = _bucket_and_prefix(day, settings)
    keys = _keys(bucket, prefix)
    if not keys:
        raise FileNotFoundError(
            f"no raw batch for {day}: s3://{bucket}/{prefix} holds no objects (copy the batch to raw first)"
        )
    with tempfile.TemporaryDirectory(prefix=f"raw-{day}-") as scratch:
        client = _s3()
        for key in keys:
            client.download_file(bucket, key, str(Path(scratch) / key.removeprefix(prefix)))
        yield Path(scratch)


def remove_partition(day: date, settings: Settings) -> None:
    """Delete ``day``'s raw partition (after it was moved to quarantine); nothing happens when it is absent."""
    if not _is_s3(settings.raw_uri):
        shutil.rmtree(lake.partition_dir(Path(settings.raw_uri), day), ignore_errors=True)
        return
    bucket, prefix = _bucket_and_prefix(day, settings)
    client = _s3()
    for key in _keys(bucket, prefix):
        client.delete_object(Bucket=bucket, Key=key)
