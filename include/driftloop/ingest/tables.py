"""The raw tables a daily batch holds, as the active use case's spec declares them (``usecase.toml``).

A batch for day ``D`` lands as ``<landing>/dt=D/<table>.csv`` for every table, followed by an empty ``_SUCCESS``
marker written last, so a reader never sees half a batch. Validation contracts (``driftloop.ingest.validation``) are
built from these specs and accepted batches are stored with their dtypes.
"""

from __future__ import annotations

from driftloop.settings import Settings
from driftloop.usecase.spec import ColumnSpec, TableSpec

BATCH_MARKER = "_SUCCESS"

__all__ = ["BATCH_MARKER", "ColumnSpec", "TableSpec", "batch_tables"]


def batch_tables(settings: Settings | None = None) -> dict[str, TableSpec]:
    """The tables of the active use case's daily batch, by name, in declaration order."""
    from driftloop.usecase.active import active_spec

    return active_spec(settings).tables
