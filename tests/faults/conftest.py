"""Fixtures of the fault tests: a private PostgreSQL cluster they may stop and start."""

from __future__ import annotations

import pytest

from private_postgres import private_postgres


@pytest.fixture(scope="module")
def cluster():
    """A private PostgreSQL cluster for one test module, stopped and removed afterwards."""
    with private_postgres() as running:
        yield running


@pytest.fixture
def running_cluster(cluster):
    """The module's cluster, started again after a test that stopped it."""
    yield cluster
    if cluster.stopped():
        cluster.start()
