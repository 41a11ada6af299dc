"""A private PostgreSQL cluster that fault tests may stop and start (never the machine's shared server).

The cluster is made with ``initdb`` in a temporary folder owned by the ``postgres`` OS user (initdb refuses to run as
root), listens on a free loopback port with its socket in that folder, and requires a password (SCRAM), so the URLs
the tests use carry a real secret that no error message may show. :func:`private_postgres` stops it and removes the
folder afterwards.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from native_stack import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
OS_USER = "postgres"


def _as_postgres(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a PostgreSQL binary as the ``postgres`` OS user when root (initdb refuses root), else as this user."""
    full = ["su", OS_USER, "-c", shlex.join(command)] if os.geteuid() == 0 else list(command)
    return subprocess.run(full, capture_output=True, text=True, check=check)


def _give_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        account = pwd.getpwnam(OS_USER)
        os.chown(path, account.pw_uid, account.pw_gid)


@dataclass(frozen=True)
class PrivatePostgres:
    """A running private cluster: its folder, port and superuser password."""

    folder: Path
    port: int
    password: str

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL of ``database`` with the superuser's password in it."""
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        log = str(self.folder / "log")
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data_dir), "-l", log, "-o", options, "-w", "start")

    def stopped(self) -> bool:
        """Whether the server is not running."""
        return _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data_dir), "status", check=False).returncode != 0

    def stop(self) -> None:
        """Stop the server now (``fast``: open sessions are terminated, their transactions rolled back)."""
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> str:
        """Create ``name`` and return its URL."""
        import psycopg2

        admin = psycopg2.connect(self.url())
        admin.autocommit = True
        admin.cursor().execute(f"CREATE DATABASE {name}")
        admin.close()
        return self.url(name)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """Make, start and yield a private cluster; stop it and remove its folder afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="driftloop-faults-pg-"))
    _give_to_postgres(folder)
    cluster = PrivatePostgres(folder=folder, port=free_port(), password=f"pg-{secrets.token_urlsafe(12)}")
    password_file = folder / "password"
    password_file.write_text(cluster.password)
    _give_to_postgres(password_file)
    data = str(cluster.data_dir)
    try:
        _as_postgres(
            str(BIN / "initdb"),
            "-D",
            data,
            "-U",
            "postgres",
            "-A",
            "scram-sha-256",
            f"--pwfile={password_file}",
            "--no-sync",
        )
        cluster.start()
        yield cluster
    finally:
        _as_postgres(str(BIN / "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(folder, ignore_errors=True)
