"""Database failures that say what failed, and where, without the password.

A driver error such as ``InterfaceError: connection already closed`` names neither the operation nor the database.
:func:`failures_named` turns driver errors (psycopg2's and SQLAlchemy's) into a :class:`DatabaseError` that names
the operation (which day, which run), the database as ``dialect://user@host:port/name`` and the driver's message,
with the password removed from everything it prints.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit


class DatabaseError(RuntimeError):
    """A database operation failed; the message names the operation, the database (no password) and the cause."""


def database_label(url: str) -> str:
    """``url`` without its password: ``postgresql://user@host:port/db``, or the path of a SQLite file."""
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return url
    user = f"{unquote(parts.username)}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{parts.hostname or ''}{port}{parts.path}"


def without_password(text: str, url: str) -> str:
    """``text`` with the password of ``url`` (as written and decoded) replaced by ``***``."""
    password = urlsplit(url).password
    if not password:
        return text
    for secret in {password, unquote(password)}:
        text = text.replace(secret, "***")
    return text


@contextmanager
def failures_named(url: str, operation: str) -> Iterator[None]:
    """Re-raise a driver error inside the block as :class:`DatabaseError` naming ``operation`` and the database."""
    import psycopg2
    import sqlalchemy as sa

    try:
        yield
    except (psycopg2.Error, sa.exc.DBAPIError) as exc:
        cause = getattr(exc, "orig", None) or exc
        message = " ".join(str(cause).split()) or type(cause).__name__
        raise DatabaseError(
            f"{operation} on {database_label(url)} failed: {type(cause).__name__}: {without_password(message, url)}"
        ) from None
