"""Failures a retry cannot fix, told the way Airflow means them: the task fails at once, without retries.

``no_retry_on_unfixable`` wraps a task body: a ``driftloop.errors.UnfixableInputError`` (a rejected batch, too few
days to train, a contradictory request) is logged once, in full, in the visible body of the task log, and re-raised
as ``AirflowFailException`` carrying only its first line, with no chained cause; every other exception passes through
unchanged and is retried as usual.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TypeVar

from airflow.sdk.exceptions import AirflowFailException

from driftloop.errors import UnfixableInputError

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable)


def no_retry_on_unfixable(function: F) -> F:
    """Decorate a task callable so an ``UnfixableInputError`` fails the task without retries (see the module)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except UnfixableInputError as error:
            log.error("%s", error)
            raise AirflowFailException(f"{error.headline} (not retried: see the message above)") from None

    return wrapper
