"""Privacy and meta-level requirements of the data, as the use-case spec's ``[privacy]`` declares them.

- :func:`check_no_personal_columns`: a training set or a predictions table that carries a personal column as such
  fails the step that made it (features may derive from personal data, e.g. an age band from a birth date).
- :func:`mask_failures`: sample rows of validation failures (quarantine ``report.json`` and the task log) show
  personal columns masked, never their values.
- :func:`check_allowed_sources`: features and labels are read only from the tables ``allowed_sources`` lists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import pandas as pd

from driftloop.quality.registry import covers
from driftloop.usecase.spec import SPEC_FILE, UseCaseSpec

MASK = "***"


class PrivacyViolation(ValueError):
    """Data that the use case's ``[privacy]`` forbids where it was found; the message names the columns."""


def personal_columns(spec: UseCaseSpec) -> set[str]:
    """The column names the spec marks as personal data (of any table)."""
    return {column for _, column in spec.privacy.personal_columns}


@covers(
    "data.5",
    stage="driftloop.model.training_run:step_training_set",
    tests=(
        "tests/unit/test_quality_privacy.py::test_a_training_set_or_predictions_carrying_a_personal_column_fail",
        "tests/unit/test_quality_privacy.py::test_quarantine_sample_rows_show_personal_columns_masked",
    ),
    note="also run by scoring on the predictions table; quarantine reports mask personal columns",
)
def check_no_personal_columns(frame: pd.DataFrame, spec: UseCaseSpec, what: str) -> None:
    """Raise PrivacyViolation when ``frame`` (``what``: e.g. "the training set of 2024-01-01..2024-01-28") has a
    column the spec marks as personal data."""
    carried = sorted(personal_columns(spec) & set(frame.columns))
    if carried:
        raise PrivacyViolation(
            f"{what} carries personal data as such: {', '.join(carried)} (privacy.personal_columns of "
            f"{spec.folder / SPEC_FILE}); derive a feature from it instead of passing the column on"
        )


def mask_failures(failures: list, spec: UseCaseSpec) -> list:
    """Validation failures (``CheckFailure``) with the personal columns of their table masked in the sample rows."""
    personal: dict[str, set[str]] = {}
    for table, column in spec.privacy.personal_columns:
        personal.setdefault(table, set()).add(column)
    masked = []
    for failure in failures:
        hidden = personal.get(failure.table, set())
        if hidden and failure.sample_rows:
            rows = [
                {k: MASK if k in hidden and v is not None else v for k, v in row.items()} for row in failure.sample_rows
            ]
            failure = replace(failure, sample_rows=rows)
        masked.append(failure)
    return masked


@covers(
    "data.4",
    stage="driftloop.features.partitions:build_features_for_day",
    tests=("tests/unit/test_quality_privacy.py::test_features_and_labels_come_only_from_allowed_sources",),
    note="also run on the label table when a training set is built",
)
def check_allowed_sources(spec: UseCaseSpec, tables: Iterable[str], what: str) -> None:
    """Raise PrivacyViolation when ``what`` reads a table outside ``privacy.allowed_sources`` (no list: any)."""
    allowed = spec.privacy.allowed_sources
    outside = sorted(set(tables) - set(allowed)) if allowed else []
    if outside:
        raise PrivacyViolation(
            f"{what} reads {', '.join(outside)}, not among privacy.allowed_sources ({', '.join(allowed)}) of "
            f"{spec.folder / SPEC_FILE}"
        )
