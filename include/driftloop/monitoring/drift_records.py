"""The drift record store: one record per monitored interval and model version, and the retraining runs that
consumed them.

A SQL database named by ``DRIFTLOOP_DRIFT_DB_URL`` (SQLite by default, PostgreSQL in production) with two tables:

- ``drift_records``: interval, model name and version, verdict (``drift``, ``quality_drop``, ``no_drift`` or
  ``insufficient_data``),
  drift share, drifted columns, metrics, report URI, created_at / updated_at, and ``consumed_by`` / ``consumed_at``
  once a retraining run took it. Writing a record again for the same interval and version updates it in place.
- ``retrain_runs``: one row per drift-triggered retraining (the ``retrain_on_drift`` run id), the records it
  consumed, the ``train`` run it started, when it started and finished and how it ended.

:func:`claim` is the one place records get consumed: in a single locked transaction it checks the storm guards (at
most ``max_active`` retrainings unfinished, none started within the cooldown), takes the pending records of the
current champion version (all of them, coalesced into one retraining, unless told otherwise) and inserts the
retraining row, so a record never triggers twice and concurrent claimers cannot both win. Records of a version that
is no longer champion are kept for history and trigger nothing.

A ``drift`` record (the inputs moved) waits for the labels a retraining needs: it is *ripe* only once labels of
``min_post_drift_days`` days from its interval's first day on have matured (:class:`LabelClock`, the label horizon
decides when), so a retraining can learn the new world and be tested on it. A ``quality_drop`` record (its labels
matured already) is ripe at once. A waiting record stays unconsumed in the store, so it is neither lost nor claimed
twice, and a sensor killed while it waits finds it again. Once one record is ripe, the claim coalesces every pending
record of the champion as usual.

A claim whose retraining never reported its outcome (its run was killed, or skipped the last task) does not block
for good: :func:`reconcile` finishes it from Airflow's record of its ``train`` run (ended: that state; never started
and its claiming run over: the records are released), and an unfinished claim older than ``claim_timeout_s`` no
longer counts as running and is finished ``expired`` by the next claim. Writes are race-free on SQLite and
PostgreSQL (``INSERT ... ON CONFLICT``, the claim under a table lock), and failures name the operation and the
database without its password (``driftloop.storage.databases``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from driftloop.storage.databases import failures_named

ACTIONABLE_VERDICTS = ("drift", "quality_drop")
VERDICTS = (*ACTIONABLE_VERDICTS, "no_drift", "insufficient_data")
TRAIN_DAG_ID = "train"
CLAIMING_DAG_ID = "retrain_on_drift"
ENDED_RUN_STATES = ("success", "failed")
NOT_STARTED = "not_started"
"""The state of a retraining whose ``train`` run never started: its records were released, no cooldown counts."""
EXPIRED = "expired"
"""The state of a retraining that reported nothing within the claim timeout: no longer counted as running."""
_SCHEMA_LOCK_KEY = 4_711_002
"""PostgreSQL advisory lock taken while the tables are created, so concurrent first users do not collide."""

_metadata = sa.MetaData()
drift_records = sa.Table(
    "drift_records",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(50), nullable=False),
    sa.Column("interval_start", sa.Date, nullable=False),
    sa.Column("interval_end", sa.Date, nullable=False),
    sa.Column("verdict", sa.String(20), nullable=False),
    sa.Column("drift_share", sa.Float, nullable=False),
    sa.Column("drifted_columns", sa.Text, nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("report_uri", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("consumed_by", sa.String(250)),
    sa.Column("consumed_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("model_name", "model_version", "interval_start", name="uq_drift_record_interval_version"),
)
retrain_runs = sa.Table(
    "retrain_runs",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(250), nullable=False, unique=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("record_ids", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("train_run_id", sa.String(250)),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("state", sa.String(20)),
)


@dataclass(frozen=True)
class DriftRecord:
    """One monitored interval of one model version."""

    id: int
    model_name: str
    model_version: str
    interval_start: date
    interval_end: date
    verdict: str
    drift_share: float
    drifted_columns: list[str]
    metrics: dict
    report_uri: str
    created_at: datetime
    consumed_by: str | None
    consumed_at: datetime | None

    def to_json(self) -> dict:
        """The record as JSON-ready values (dates as ISO strings)."""
        return {
            "id": self.id,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "interval_start": self.interval_start.isoformat(),
            "interval_end": self.interval_end.isoformat(),
            "verdict": self.verdict,
            "drift_share": self.drift_share,
            "drifted_columns": self.drifted_columns,
            "report_uri": self.report_uri,
            "consumed_by": self.consumed_by,
        }


@dataclass(frozen=True)
class LabelClock:
    """How far labels have matured, and how many post-drift days of them a ``drift`` record waits for.

    ``matured_through`` is the newest as-of day with labels accepted (None: none yet); labels of as-of day ``d``
    arrive with the batch of ``d + horizon_days``."""

    matured_through: date | None
    min_post_drift_days: int
    horizon_days: int

    def needed_through(self, drift_start: date) -> date:
        """The newest as-of day whose labels a retraining on a drift that began on ``drift_start`` waits for."""
        return drift_start + timedelta(days=max(self.min_post_drift_days, 1) - 1)

    def ripe(self, record: DriftRecord) -> bool:
        """Whether ``record`` may start a retraining now: a ``quality_drop`` at once, a ``drift`` once its
        post-drift labels have matured."""
        if record.verdict != "drift" or self.min_post_drift_days <= 0:
            return True
        return self.matured_through is not None and self.matured_through >= self.needed_through(record.interval_start)

    def waits_for(self, record: DriftRecord) -> str:
        """What a ``drift`` record that is not ripe waits for, and until when, for the log."""
        needed = self.needed_through(record.interval_start)
        matured = self.matured_through.isoformat() if self.matured_through else "no day yet"
        return (
            f"the drift began on {record.interval_start} (record {record.id}); a retraining needs labels of "
            f"{self.min_post_drift_days} day(s) from then on, as of {record.interval_start}..{needed} "
            f"(DRIFTLOOP_RETRAIN_MIN_POST_DRIFT_DAYS); labels have matured through {matured}, those of {needed} "
            f"arrive with the batch of {needed + timedelta(days=self.horizon_days)} (label horizon "
            f"{self.horizon_days} days)"
        )


@dataclass(frozen=True)
class Claim:
    """What a retraining run took: its records, the reason it gives ``train``, and the first day of the data drift
    among them (None when only quality drops were claimed), where its training window starts."""

    run_id: str
    record_ids: list[int]
    reason: str
    drift_start: date | None = None


@dataclass(frozen=True)
class OpenClaim:
    """A retraining that has not recorded its outcome yet."""

    run_id: str
    train_run_id: str | None
    started_at: datetime


RunState = Callable[[str, str], str | None]
"""``(dag_id, run_id) -> state`` of an Airflow DAG run (``queued``, ``running``, ``success``, ``failed``), or None
when there is no such run."""


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands timezone-aware columns back naive; every timestamp here is written in UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _record(row) -> DriftRecord:
    return DriftRecord(
        id=row.id,
        model_name=row.model_name,
        model_version=row.model_version,
        interval_start=row.interval_start,
        interval_end=row.interval_end,
        verdict=row.verdict,
        drift_share=row.drift_share,
        drifted_columns=json.loads(row.drifted_columns),
        metrics=json.loads(row.metrics),
        report_uri=row.report_uri,
        created_at=_utc(row.created_at),
        consumed_by=row.consumed_by,
        consumed_at=_utc(row.consumed_at),
    )


@lru_cache(maxsize=8)
def engine(url: str) -> sa.Engine:
    """An engine on the store with its tables created; SQLite transactions take the write lock when they begin."""
    driver_url = url
    if url.startswith("postgresql://"):
        driver_url = "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    sqlite_wait = {"timeout": 30} if url.startswith("sqlite") else {}
    created = sa.create_engine(driver_url, pool_pre_ping=True, connect_args=sqlite_wait)
    if created.dialect.name == "sqlite":

        @sa.event.listens_for(created, "connect")
        def _manual_transactions(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @sa.event.listens_for(created, "begin")
        def _immediate(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    with failures_named(url, "creating the drift record tables"), created.begin() as connection:
        if created.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        _metadata.create_all(connection)
    return created


def upsert_record(
    url: str,
    *,
    model_name: str,
    model_version: str,
    interval_start: date,
    interval_end: date,
    verdict: str,
    drift_share: float,
    drifted_columns: list[str],
    metrics: dict,
    report_uri: str,
    now: datetime | None = None,
) -> DriftRecord:
    """Write the record of an interval and model version, replacing an earlier one for the same key (its id,
    created_at and consumption stay): monitoring an interval twice never makes two records."""
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}; choose one of {', '.join(VERDICTS)}")
    now = now or datetime.now(UTC)
    values = {
        "interval_end": interval_end,
        "verdict": verdict,
        "drift_share": float(drift_share),
        "drifted_columns": json.dumps(sorted(drifted_columns)),
        "metrics": json.dumps(metrics, default=float, sort_keys=True),
        "report_uri": report_uri,
        "updated_at": now,
    }
    key = (
        (drift_records.c.model_name == model_name)
        & (drift_records.c.model_version == str(model_version))
        & (drift_records.c.interval_start == interval_start)
    )
    operation = f"writing the drift record of {interval_start} ({model_name} v{model_version})"
    with failures_named(url, operation), engine(url).begin() as connection:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        connection.execute(
            dialect.insert(drift_records)
            .values(
                model_name=model_name,
                model_version=str(model_version),
                interval_start=interval_start,
                created_at=now,
                **values,
            )
            .on_conflict_do_update(index_elements=["model_name", "model_version", "interval_start"], set_=values)
        )
        return _record(connection.execute(sa.select(drift_records).where(key)).one())


def records(url: str, model_name: str | None = None) -> list[DriftRecord]:
    """Every record (of ``model_name`` when given), oldest interval first."""
    query = sa.select(drift_records).order_by(drift_records.c.interval_start, drift_records.c.id)
    if model_name:
        query = query.where(drift_records.c.model_name == model_name)
    with failures_named(url, "reading drift records"), engine(url).connect() as connection:
        return [_record(row) for row in connection.execute(query)]


def _unconsumed_query(model_name: str):
    return (
        sa.select(drift_records)
        .where(drift_records.c.model_name == model_name)
        .where(drift_records.c.verdict.in_(ACTIONABLE_VERDICTS))
        .where(drift_records.c.consumed_by.is_(None))
        .order_by(drift_records.c.interval_start, drift_records.c.id)
    )


def _of_champion(champion_version: str | None):
    """Records of the champion version; none when there is no champion."""
    if champion_version is None:
        return sa.false()
    return drift_records.c.model_version == str(champion_version)


def _pending_query(model_name: str, champion_version: str | None):
    """Unconsumed actionable records of the champion version."""
    return _unconsumed_query(model_name).where(_of_champion(champion_version))


def _superseded(connection, model_name: str, champion_version: str | None) -> str:
    """What the unconsumed records of other versions than the champion are, for the log; empty when none."""
    rows = connection.execute(_unconsumed_query(model_name).where(sa.not_(_of_champion(champion_version)))).all()
    if not rows:
        return ""
    champion = f"champion v{champion_version}" if champion_version is not None else "no champion"
    versions = ", ".join(sorted({f"v{row.model_version}" for row in rows}))
    return f"; {len(rows)} record(s) of {versions} kept for history, they trigger nothing ({champion})"


def _running(connection, model_name: str, now: datetime, claim_timeout_s: float) -> list:
    """Unfinished retrainings that still count as running: started within the claim timeout."""
    return connection.execute(
        sa.select(retrain_runs.c.run_id, retrain_runs.c.train_run_id, retrain_runs.c.started_at)
        .where(retrain_runs.c.model_name == model_name)
        .where(retrain_runs.c.finished_at.is_(None))
        .where(retrain_runs.c.started_at > now - timedelta(seconds=claim_timeout_s))
        .order_by(retrain_runs.c.started_at)
    ).all()


def _blocked(
    connection, model_name: str, cooldown_s: float, now: datetime, max_active: int, claim_timeout_s: float
) -> str | None:
    unfinished = _running(connection, model_name, now, claim_timeout_s)
    if len(unfinished) >= max_active:
        running = ", ".join(
            f"{row.run_id} (train run {row.train_run_id}, counted as running until it reports its outcome, at the "
            f"latest {_utc(row.started_at) + timedelta(seconds=claim_timeout_s):%Y-%m-%d %H:%M:%S}Z)"
            for row in unfinished
        )
        return f"{len(unfinished)} retraining run(s) have not finished, at most {max_active} at once: {running}"
    latest = connection.execute(
        sa.select(retrain_runs.c.run_id, retrain_runs.c.started_at)
        .where(retrain_runs.c.model_name == model_name)
        .where(sa.or_(retrain_runs.c.state.is_(None), retrain_runs.c.state != NOT_STARTED))
        .order_by(retrain_runs.c.started_at.desc(), retrain_runs.c.id.desc())
        .limit(1)
    ).one_or_none()
    if latest is None:
        return None
    started = _utc(latest.started_at)
    ready_at = started + timedelta(seconds=cooldown_s)
    if now < ready_at:
        return (
            f"cooldown: retraining run {latest.run_id} started at {started:%Y-%m-%d %H:%M:%S}Z, "
            f"next retraining allowed from {ready_at:%Y-%m-%d %H:%M:%S}Z"
        )
    return None


def readiness(
    url: str,
    model_name: str,
    cooldown_s: float,
    now: datetime | None = None,
    max_active: int = 1,
    *,
    champion_version: str | None,
    claim_timeout_s: float,
    labels: LabelClock | None = None,
) -> tuple[list[int], str]:
    """The pending actionable record ids of ``champion_version`` when retraining may start now (else an empty
    list), and why: what blocks it and until when (a guard, or the post-drift labels ``labels`` says a ``drift``
    record waits for; None: no record waits for labels), and which records of superseded versions are ignored."""
    now = now or datetime.now(UTC)
    with failures_named(url, f"checking drift records of {model_name}"), engine(url).connect() as connection:
        records = [_record(row) for row in connection.execute(_pending_query(model_name, champion_version))]
        pending = [record.id for record in records]
        ignored = _superseded(connection, model_name, champion_version)
        if not pending:
            return [], f"no unconsumed drift or quality-drop record of the champion{ignored}"
        unripe = _unripe(records, labels)
        if unripe:
            return [], unripe + ignored
        blocked = _blocked(connection, model_name, cooldown_s, now, max_active, claim_timeout_s)
    if blocked:
        return [], f"{len(pending)} pending record(s) wait: {blocked}{ignored}"
    return pending, f"{len(pending)} pending record(s) of v{champion_version}: {pending}{ignored}"


def _unripe(records: list[DriftRecord], labels: LabelClock | None) -> str:
    """Why no pending record may start a retraining yet (they all wait for post-drift labels); empty when one may."""
    if labels is None or any(labels.ripe(record) for record in records):
        return ""
    return f"{len(records)} pending drift record(s) wait for post-drift labels: {labels.waits_for(records[0])}"


def _lock(connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("LOCK TABLE retrain_runs IN SHARE ROW EXCLUSIVE MODE"))


def claim(
    url: str,
    run_id: str,
    model_name: str,
    cooldown_s: float,
    now: datetime | None = None,
    max_active: int = 1,
    coalesce: bool = True,
    *,
    champion_version: str | None,
    claim_timeout_s: float,
    labels: LabelClock | None = None,
) -> Claim | None:
    """Atomically take the pending records of ``champion_version`` for the retraining run ``run_id`` (all of them
    when ``coalesce``, else the oldest ripe one), or None when there is none, none is ripe by ``labels``, or a guard
    holds (see :func:`readiness`). Unfinished claims older than ``claim_timeout_s`` are finished ``expired`` first.
    Claiming again with the same ``run_id`` returns the same claim."""
    now = now or datetime.now(UTC)
    with failures_named(url, f"claiming drift records for retraining run {run_id}"), engine(url).begin() as connection:
        _lock(connection)
        mine = connection.execute(sa.select(retrain_runs).where(retrain_runs.c.run_id == run_id)).one_or_none()
        if mine is not None:
            ids = json.loads(mine.record_ids)
            taken = connection.execute(sa.select(drift_records).where(drift_records.c.id.in_(ids))).all()
            return Claim(run_id, ids, mine.reason, _drift_start([_record(row) for row in taken]))
        connection.execute(
            retrain_runs.update()
            .where(retrain_runs.c.model_name == model_name)
            .where(retrain_runs.c.finished_at.is_(None))
            .where(retrain_runs.c.started_at <= now - timedelta(seconds=claim_timeout_s))
            .values(finished_at=now, state=EXPIRED)
        )
        if _blocked(connection, model_name, cooldown_s, now, max_active, claim_timeout_s):
            return None
        pending = [_record(row) for row in connection.execute(_pending_query(model_name, champion_version))]
        if not pending or _unripe(pending, labels):
            return None
        if not coalesce:
            pending = [next(record for record in pending if labels is None or labels.ripe(record))]
        ids = [record.id for record in pending]
        reason = "drift: " + "; ".join(
            f"record {r.id} {r.verdict} on {r.interval_start} (v{r.model_version}"
            + (f", drifted {', '.join(r.drifted_columns)}" if r.drifted_columns else "")
            + ")"
            for r in pending
        )
        connection.execute(
            retrain_runs.insert().values(
                run_id=run_id, model_name=model_name, record_ids=json.dumps(ids), reason=reason, started_at=now
            )
        )
        updated = connection.execute(
            drift_records.update()
            .where(drift_records.c.id.in_(ids))
            .where(drift_records.c.consumed_by.is_(None))
            .values(consumed_by=run_id, consumed_at=now)
        )
        if updated.rowcount != len(ids):
            raise RuntimeError(f"claimed {updated.rowcount} of {len(ids)} drift records: the store is inconsistent")
    return Claim(run_id, ids, reason, _drift_start(pending))


MIN_WINDOW_DAYS = 3
"""The fewest as-of days a training window may hold: the time split needs one each for train, validation, test."""


def retraining_window(claimed: Claim, labels: LabelClock) -> tuple[str | None, str | None]:
    """The training window of a claimed retraining, as ISO days for ``train``'s params: from the drift's first day to
    the newest matured label day; ``(None, end)``, the default window ending on the newest matured label day, when
    only quality drops were claimed or fewer than ``MIN_WINDOW_DAYS`` post-drift label days have matured (with
    ``min_post_drift_days`` below that)."""
    end = labels.matured_through
    if end is None:
        return None, None
    start = claimed.drift_start
    if start is None or (end - start).days + 1 < MIN_WINDOW_DAYS:
        return None, end.isoformat()
    return start.isoformat(), end.isoformat()


def _drift_start(records: list[DriftRecord]) -> date | None:
    """The first day of data drift among ``records`` (None when none has verdict ``drift``)."""
    return min((record.interval_start for record in records if record.verdict == "drift"), default=None)


def set_train_run(url: str, run_id: str, train_run_id: str) -> None:
    """Record which ``train`` run a retraining run started."""
    with failures_named(url, f"recording train run {train_run_id} of {run_id}"), engine(url).begin() as connection:
        connection.execute(
            retrain_runs.update().where(retrain_runs.c.run_id == run_id).values(train_run_id=train_run_id)
        )


def finish(url: str, run_id: str, state: str, now: datetime | None = None) -> None:
    """Mark a retraining run finished with the state of its ``train`` run; the cooldown counts from its start."""
    with failures_named(url, f"recording the outcome of retraining run {run_id}"), engine(url).begin() as connection:
        connection.execute(
            retrain_runs.update()
            .where(retrain_runs.c.run_id == run_id)
            .values(finished_at=now or datetime.now(UTC), state=state)
        )


def open_claims(url: str, model_name: str) -> list[OpenClaim]:
    """Retrainings of ``model_name`` that have not recorded their outcome, oldest first."""
    query = (
        sa.select(retrain_runs.c.run_id, retrain_runs.c.train_run_id, retrain_runs.c.started_at)
        .where(retrain_runs.c.model_name == model_name)
        .where(retrain_runs.c.finished_at.is_(None))
        .order_by(retrain_runs.c.started_at, retrain_runs.c.id)
    )
    with failures_named(url, f"reading open retraining claims of {model_name}"), engine(url).connect() as connection:
        return [OpenClaim(row.run_id, row.train_run_id, _utc(row.started_at)) for row in connection.execute(query)]


def release(url: str, run_id: str, now: datetime | None = None) -> bool:
    """Finish an open retraining as never started and give its records back to the next claim; False when it had
    already recorded an outcome."""
    now = now or datetime.now(UTC)
    with failures_named(url, f"releasing the records of retraining run {run_id}"), engine(url).begin() as connection:
        _lock(connection)
        finished = connection.execute(
            retrain_runs.update()
            .where(retrain_runs.c.run_id == run_id)
            .where(retrain_runs.c.finished_at.is_(None))
            .values(finished_at=now, state=NOT_STARTED)
        )
        if finished.rowcount != 1:
            return False
        connection.execute(
            drift_records.update()
            .where(drift_records.c.consumed_by == run_id)
            .values(consumed_by=None, consumed_at=None)
        )
    return True


def _finish_open(url: str, run_id: str, state: str, now: datetime) -> bool:
    """Finish a retraining with ``state`` unless it already recorded an outcome."""
    with failures_named(url, f"recording the outcome of retraining run {run_id}"), engine(url).begin() as connection:
        finished = connection.execute(
            retrain_runs.update()
            .where(retrain_runs.c.run_id == run_id)
            .where(retrain_runs.c.finished_at.is_(None))
            .values(finished_at=now, state=state)
        )
    return finished.rowcount == 1


def reconcile(url: str, model_name: str, run_state: RunState, now: datetime | None = None) -> list[str]:
    """Finish the open retrainings that Airflow's record (``run_state``) says are over; returns what was done.

    A retraining whose ``train`` run ended takes that run's state. One whose ``train`` run does not exist while its
    own ``retrain_on_drift`` run is over (or gone) never trained: it is finished ``not_started`` and its records are
    released for the next claim. Anything still queued or running is left alone (the claim timeout bounds it)."""
    now = now or datetime.now(UTC)
    done = []
    for open_claim in open_claims(url, model_name):
        train_state = run_state(TRAIN_DAG_ID, open_claim.train_run_id) if open_claim.train_run_id else None
        if train_state in ENDED_RUN_STATES:
            if _finish_open(url, open_claim.run_id, train_state, now):
                done.append(
                    f"retraining run {open_claim.run_id}: train run {open_claim.train_run_id} ended {train_state}, "
                    "outcome recorded from Airflow"
                )
            continue
        if train_state is not None:
            continue
        claiming_state = run_state(CLAIMING_DAG_ID, open_claim.run_id)
        if claiming_state is None or claiming_state in ENDED_RUN_STATES:
            if release(url, open_claim.run_id, now):
                done.append(
                    f"retraining run {open_claim.run_id} ({claiming_state or 'not in Airflow'}) never started its "
                    f"train run {open_claim.train_run_id}: finished {NOT_STARTED}, its records released"
                )
    return done


def retrainings(url: str, model_name: str | None = None) -> list[dict]:
    """Every drift-triggered retraining, oldest first, as JSON-ready dicts."""
    query = sa.select(retrain_runs).order_by(retrain_runs.c.started_at, retrain_runs.c.id)
    if model_name:
        query = query.where(retrain_runs.c.model_name == model_name)
    with failures_named(url, "reading retraining runs"), engine(url).connect() as connection:
        return [
            {
                "run_id": row.run_id,
                "record_ids": json.loads(row.record_ids),
                "reason": row.reason,
                "train_run_id": row.train_run_id,
                "started_at": _utc(row.started_at).isoformat(timespec="seconds"),
                "finished_at": _utc(row.finished_at).isoformat(timespec="seconds") if row.finished_at else None,
                "state": row.state,
            }
            for row in connection.execute(query)
        ]
