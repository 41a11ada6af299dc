"""Dependency changes: an upstream table's schema changing, and the locked libraries changing under a model.

- **Upstream schema**: validation records each delivered table's columns and the kind their values parse as
  (:func:`delivered_schema`, before any check, so a rejected batch counts too) in ``schemas/<table>/dt=DAY.json``;
  :func:`record_schema_changes` compares it with the newest earlier day's and returns each column that appeared,
  disappeared or changed kind. Monitoring reports the notices of its window's days (:func:`schema_notices`).
- **Libraries**: each training run records the installed versions of the direct requirements and the hash of
  ``requirements.lock`` (:func:`library_versions`, tag ``library_versions``); monitoring compares a version's with
  the running ones (:func:`library_changes`).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from importlib import metadata
from pathlib import Path

import pandas as pd

from driftloop.quality.registry import REPO_ROOT, covers
from driftloop.storage import lake

SAMPLE_VALUES = 1000
"""Values per column that decide its kind: enough to tell numbers, timestamps and text apart, cheap on any batch."""


FIRST_CHUNK = 4 * SAMPLE_VALUES
"""Values read in the first chunk while looking for the sample (each further chunk is twice the one before)."""


def _sample_values(values: pd.Series) -> pd.Series:
    """The first ``SAMPLE_VALUES`` present, non-blank values of ``values`` as strings, in order: read in growing
    chunks, so a long column is not stripped whole for a sample found in its first rows."""
    found: list[pd.Series] = []
    wanted, start, size = SAMPLE_VALUES, 0, FIRST_CHUNK
    while wanted > 0 and start < len(values):
        chunk = values.iloc[start : start + size].dropna()
        chunk = chunk[chunk.astype(str).str.strip() != ""].head(wanted)
        found.append(chunk)
        wanted -= len(chunk)
        start, size = start + size, 2 * size
    return pd.concat(found).astype(str) if found else values.iloc[:0].astype(str)


def _kind(values: pd.Series) -> str:
    present = _sample_values(values)
    if present.empty:
        return "empty"
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.notna().all():
        return (
            "integer" if (numbers == numbers.round()).all() and not present.str.contains(r"[.eE]").any() else "number"
        )
    if pd.to_datetime(present, errors="coerce", utc=True, format="mixed").notna().all():
        return "datetime"
    return "text"


def delivered_schema(frame: pd.DataFrame) -> dict[str, str]:
    """Each column of a delivered table (strings, as read) and the kind its values parse as: ``integer``,
    ``number``, ``datetime``, ``text`` or ``empty`` (no value to tell)."""
    return {column: _kind(frame[column]) for column in frame.columns}


FAMILIES = {"integer": "number"}
"""Kinds that are one family: a day whose decimal column happens to hold only whole numbers is no type change."""


def schema_changes(previous: dict[str, str], current: dict[str, str]) -> list[str]:
    """The differences between two schemas: columns added, removed, or whose kind changed family (numbers,
    datetimes, text; an ``empty`` column has no kind to compare)."""
    changes = [f"column {c} appeared ({current[c]})" for c in current if c not in previous]
    changes += [f"column {c} disappeared (was {previous[c]})" for c in previous if c not in current]
    changes += [
        f"column {c} changed from {previous[c]} to {current[c]}"
        for c in current
        if c in previous
        and "empty" not in (previous[c], current[c])
        and FAMILIES.get(previous[c], previous[c]) != FAMILIES.get(current[c], current[c])
    ]
    return changes


def _schema_dir(data_root: Path, table: str) -> Path:
    return data_root / "schemas" / table


def _write_json(path: Path, value: dict) -> None:
    with lake.replace_file(path) as scratch:
        scratch.write_text(json.dumps(value, indent=2, sort_keys=True))


@covers(
    "monitoring.1",
    stage="driftloop.ingest.validation:validate_batch",
    tests=(
        "tests/unit/test_quality_dependencies.py::test_a_column_added_removed_or_retyped_upstream_is_noticed_even_when_rejected",
        "tests/unit/test_quality_dependencies.py::test_changed_library_versions_since_training_are_named",
        "tests/unit/test_quality_dependencies.py::test_monitoring_reports_the_schema_notices_of_its_window",
    ),
    note="monitoring (monitor_day) reports the notices and the library changes since the version's training",
)
def record_schema_changes(day: date, frames: dict[str, pd.DataFrame], data_root: Path) -> list[str]:
    """Record the delivered schema of each table of ``day`` and return, per table, how it differs from the newest
    earlier day's (also written to the day's record, which a rerun rewrites)."""
    notices = []
    for table, frame in frames.items():
        folder = _schema_dir(data_root, table)
        current = delivered_schema(frame)
        earlier = sorted(p for p in folder.glob("dt=*.json") if p.stem.removeprefix("dt=") < day.isoformat())
        previous = json.loads(earlier[-1].read_text())["columns"] if earlier else None
        changes = schema_changes(previous, current) if previous is not None else []
        since = earlier[-1].stem.removeprefix("dt=") if earlier else None
        _write_json(folder / f"dt={day.isoformat()}.json", {"columns": current, "changes": changes, "since": since})
        notices += [f"{table}: {change} since {since}" for change in changes]
    return notices


def schema_notices(days: list[date], data_root: Path) -> list[str]:
    """The schema changes recorded for ``days``, of every table, as ``day table: change since day`` lines."""
    notices = []
    for folder in sorted((data_root / "schemas").glob("*")):
        for day in days:
            path = folder / f"dt={day.isoformat()}.json"
            if path.exists():
                record = json.loads(path.read_text())
                notices += [f"{day} {folder.name}: {c} since {record['since']}" for c in record["changes"]]
    return notices


def _requirement_names(requirements: Path) -> list[str]:
    names = []
    for line in requirements.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", line.strip())
        if match and not line.lstrip().startswith("#"):
            names.append(match.group(1).lower())
    return names


def library_versions(root: Path = REPO_ROOT) -> dict[str, str]:
    """The installed version of each direct requirement (``requirements.txt``; ``missing`` when not installed) and
    the SHA-256 prefix of ``requirements.lock`` under ``requirements.lock``."""
    versions = {}
    requirements = root / "requirements.txt"
    for name in _requirement_names(requirements) if requirements.exists() else []:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    lock = root / "requirements.lock"
    versions["requirements.lock"] = hashlib.sha256(lock.read_bytes()).hexdigest()[:12] if lock.exists() else "missing"
    return versions


def library_changes(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """Each library whose version differs between a training run's record and now (``name old -> new``)."""
    return [
        f"{name} {recorded.get(name, 'absent')} -> {current.get(name, 'absent')}"
        for name in sorted(set(recorded) | set(current))
        if recorded.get(name) != current.get(name)
    ]
