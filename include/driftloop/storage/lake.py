"""Day-partitioned folders of the local data lake, and writes that replace a partition atomically.

Every zone stores one folder or file per day named ``dt=YYYY-MM-DD``. Writers build the new partition beside the
old one and swap it in with a rename, so a rerun replaces a day's data whole and a crash never leaves half of it.
Scratch copies are hidden (``.<name>.<id>.tmp`` / ``.old``): every reader skips them (``partition_days`` and Arrow
datasets ignore names starting with a dot), and the next write of the same partition removes those a killed writer
left behind. A partition has one writer at a time (its day's task).
"""

from __future__ import annotations

import glob
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

PARTITION_PREFIX = "dt="


def partition_name(day: date) -> str:
    """The folder or file stem of ``day``'s partition, ``dt=YYYY-MM-DD``."""
    return f"{PARTITION_PREFIX}{day.isoformat()}"


def partition_dir(root: Path, day: date) -> Path:
    """The folder of ``day``'s partition below ``root``."""
    return Path(root) / partition_name(day)


def partition_days(root: Path) -> list[date]:
    """Days that have a partition (folder or ``.parquet``/``.json`` file) below ``root``, oldest first."""
    root = Path(root)
    if not root.exists():
        return []
    days = set()
    for entry in root.iterdir():
        stem = entry.name.split(".", 1)[0]
        if stem.startswith(PARTITION_PREFIX) and not entry.name.startswith("."):
            days.add(date.fromisoformat(stem[len(PARTITION_PREFIX) :]))
    return sorted(days)


def scratch_leftovers(target: Path) -> list[Path]:
    """The scratch copies of ``target`` that killed writers left beside it."""
    target = Path(target)
    if not target.parent.exists():
        return []
    return sorted(
        entry
        for pattern in (f".{glob.escape(target.name)}.*.tmp", f".{glob.escape(target.name)}.*.old")
        for entry in target.parent.glob(pattern)
    )


def _remove_leftovers(target: Path) -> None:
    for leftover in scratch_leftovers(target):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


@contextmanager
def replace_dir(target: Path) -> Iterator[Path]:
    """Yield a scratch folder; on success it replaces ``target`` whole (old content removed), on error it is dropped.
    Scratch copies a killed earlier write left are removed first."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    scratch = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    scratch.mkdir()
    try:
        yield scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.{uuid.uuid4().hex}.old"
        os.replace(target, old)
    os.replace(scratch, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def replace_file(target: Path) -> Iterator[Path]:
    """Yield a scratch path beside ``target``; on success it is renamed over ``target`` atomically. Scratch copies a
    killed earlier write left are removed first."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    scratch = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        yield scratch
        os.replace(scratch, target)
    finally:
        if scratch.exists():
            scratch.unlink()
