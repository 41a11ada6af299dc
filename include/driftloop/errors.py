"""Failures a retry cannot fix: the input is what it is until someone delivers, ingests or asks for something else.

Pipeline code raises a subclass of ``UnfixableInputError`` for an expected data outcome (a rejected batch, too few
days ingested to train, nothing to process); the orchestration layer fails the task at once, without retries, and
logs the message once (``driftloop_airflow.failures``). Every other exception stays retryable.
"""

from __future__ import annotations


class UnfixableInputError(Exception):
    """An expected data outcome that a retry cannot change; the message says what is wrong and what to do."""

    @property
    def headline(self) -> str:
        """The message's first line (the rest lists details)."""
        return str(self).splitlines()[0] if str(self) else type(self).__name__


class NotEnoughData(UnfixableInputError, ValueError):
    """Too few ingested days (or matured labels) for the step asked for: ingest more days first."""


class InvalidRequest(UnfixableInputError, ValueError):
    """A run's parameters contradict each other or the data (a window that ends before it starts, no days named)."""
