"""Feast operations on ``feature_repo/``: apply its definitions, materialize days online, read features back.

The store's configuration (registry, online store) is built from driftloop's settings (:func:`repo_config_values`):
a file registry and a SQLite online store by default, a SQL registry on PostgreSQL and a Redis online store in the
production stack. ``feature_repo/feature_store.yaml`` holds the same embedded defaults for the ``feast`` CLI, and
``driftloop feast-yaml`` prints the configuration of the current environment. The definitions module reads its
paths and project name from variables that every function here exports first (``Settings.feast_env``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import unquote, urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from feast import FeatureStore, RepoConfig
from feast.repo_contents import RepoContents
from feast.repo_operations import apply_total_with_repo_instance, parse_repo

from driftloop.dates import as_of_timestamp
from driftloop.features.partitions import feature_partition_path
from driftloop.features.registry_store import STORE_TYPE
from driftloop.logs import quiet_third_parties
from driftloop.settings import Settings, get_settings, is_database_url
from driftloop.storage import lake
from driftloop.usecase.active import active_spec
from driftloop.usecase.spec import ENTITY_TIMESTAMP

quiet_third_parties()
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaterializeResult:
    """The interval loaded into the online store."""

    start: datetime
    end: datetime
    days: list[str]


def redis_connection_string(url: str) -> str:
    """Feast's Redis ``connection_string`` (``host:port,db=N[,password=...][,ssl=true]``) from a ``redis://`` or
    ``rediss://`` URL."""
    parsed = urlsplit(url)
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
        raise ValueError(f"setting DRIFTLOOP_FEAST_ONLINE_STORE={url!r} must be 'sqlite' or a redis://host:port/db URL")
    parts = [f"{parsed.hostname}:{parsed.port or 6379}", f"db={int(parsed.path.strip('/') or 0)}"]
    if parsed.password:
        parts.append(f"password={unquote(parsed.password)}")
    if parsed.username:
        parts.append(f"username={unquote(parsed.username)}")
    if parsed.scheme == "rediss":
        parts.append("ssl=true")
    return ",".join(parts)


def repo_config_values(settings: Settings) -> dict:
    """The ``feature_store.yaml`` values of the current settings: a SQL registry when ``DRIFTLOOP_FEAST_REGISTRY`` is a
    database URL (else a file registry), a Redis online store when ``DRIFTLOOP_FEAST_ONLINE_STORE`` is a Redis URL
    (else SQLite at ``DRIFTLOOP_FEAST_ONLINE_PATH``), and the file offline store over the daily partitions."""
    if is_database_url(settings.feast_registry):
        registry = {"registry_type": "sql", "path": settings.feast_registry, "cache_ttl_seconds": 60}
    else:
        # Feast's own file store rewrites the file in place; readers meanwhile would see a truncated registry.
        registry = {"registry_type": "file", "path": settings.feast_registry, "registry_store_type": STORE_TYPE}
    if settings.feast_online_store == "sqlite":
        online = {"type": "sqlite", "path": str(settings.feast_online_path)}
    else:
        online = {"type": "redis", "connection_string": redis_connection_string(settings.feast_online_store)}
    return {
        "project": settings.feast_project,
        "registry": registry,
        "provider": "local",
        "offline_store": {"type": "file"},
        "online_store": online,
        "entity_key_serialization_version": 3,
        "auth": {"type": "no_auth"},
    }


@contextlib.contextmanager
def _feast_environment(settings: Settings):
    """The variables ``feature_repo/`` expands (``Settings.feast_env``) set for the block and restored after it, so
    a later ``load_settings`` in the same process (another data root) does not inherit this store's paths."""
    values = settings.feast_env()
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _make_folders(settings: Settings) -> None:
    if settings.feast_online_store == "sqlite":
        settings.feast_online_path.parent.mkdir(parents=True, exist_ok=True)
    if not is_database_url(settings.feast_registry):
        os.makedirs(os.path.dirname(settings.feast_registry), exist_ok=True)


def feature_store(settings: Settings | None = None, single_writer: bool = False) -> FeatureStore:
    """A FeatureStore on ``feature_repo/`` configured from driftloop's settings. ``single_writer``: the caller is the
    only writer and writes only each entity's newest row (``materialize_days``), so Redis writes skip Feast's read
    of the stored timestamps (``skip_dedup``)."""
    settings = settings or get_settings()
    _make_folders(settings)
    values = repo_config_values(settings)
    if single_writer and values["online_store"]["type"] == "redis":
        values["online_store"]["skip_dedup"] = True
    config = RepoConfig(**values)
    config.repo_path = settings.feature_repo
    with _feast_environment(settings):
        return FeatureStore(repo_path=str(settings.feature_repo), config=config)


def _repo_contents(settings: Settings) -> RepoContents:
    """Parse ``feature_repo/`` afresh (its modules read the environment when imported), as ``feast apply`` does."""
    repo_dir = str(settings.feature_repo)
    if repo_dir not in sys.path:
        sys.path.append(repo_dir)
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(repo_dir + os.sep):
            del sys.modules[name]
    with _feast_environment(settings), contextlib.chdir(settings.feature_repo):
        repo = parse_repo(settings.feature_repo)
    projects = [project.name for project in repo.projects]
    if projects != [settings.feast_project]:
        raise ValueError(
            f"{settings.feature_repo} must declare exactly one Project named {settings.feast_project!r} "
            f"(DRIFTLOOP_FEAST_PROJECT), found {projects}"
        )
    return repo


def apply_feature_repo(settings: Settings | None = None) -> list[str]:
    """The equivalent of ``feast apply`` on ``feature_repo/`` (idempotent); returns the names of the objects.

    Feast updates the online store only for definitions that changed against the registry, so a lost SQLite
    ``online.db`` would stay lost ("no such table" at materialize): the online tables of every view are created
    again (``CREATE TABLE IF NOT EXISTS``) after each apply."""
    settings = settings or get_settings()
    store = feature_store(settings)
    repo = _repo_contents(settings)
    apply_total_with_repo_instance(store, store.project, store.registry, repo, skip_source_validation=True)
    store._get_provider().update_infra(
        project=store.project,
        tables_to_delete=[],
        tables_to_keep=store.list_feature_views(),
        entities_to_delete=[],
        entities_to_keep=store.list_entities(),
        partial=True,
    )
    objects = [*repo.entities, *repo.data_sources, *repo.feature_views, *repo.feature_services]
    names = sorted(obj.name for obj in objects if not obj.name.startswith("__"))
    log.info("feast apply on project %s: %s", store.project, ", ".join(names))
    return names


def feature_view_name(settings: Settings | None = None) -> str:
    """The use case's FeatureView (``[feast] feature_view`` in its spec)."""
    return active_spec(settings).feast.feature_view


def feature_service_name(settings: Settings | None = None) -> str:
    """The FeatureService training and scoring read through (``[feast] feature_service`` in the use case's spec)."""
    return active_spec(settings).feast.feature_service


def declared_feature_schema(settings: Settings | None = None) -> dict[str, str]:
    """Feature column -> Feast type name (``Int64``, ``Float64``, ``String``) as the feature view declares them, in
    declaration order, from the use case's definitions (no registry needed); the entity key is not a feature."""
    settings = settings or get_settings()
    spec = active_spec(settings)
    repo = _repo_contents(settings)
    views = {v.name: v for v in repo.feature_views}
    services = [s.name for s in repo.feature_services]
    if spec.feast.feature_view not in views:
        raise ValueError(
            f"{spec.folder / spec.feast.definitions} declares no FeatureView {spec.feast.feature_view!r} "
            f"([feast] feature_view of {spec.folder}/usecase.toml); it declares: {', '.join(views) or 'none'}"
        )
    if spec.feast.feature_service not in services:
        raise ValueError(
            f"{spec.folder / spec.feast.definitions} declares no FeatureService {spec.feast.feature_service!r} "
            f"([feast] feature_service of {spec.folder}/usecase.toml); it declares: {', '.join(services) or 'none'}"
        )
    return {f.name: str(f.dtype) for f in views[spec.feast.feature_view].features}


def _interval_days(settings: Settings, first: date, last: date) -> list[date]:
    """The offline partitions from ``first`` to ``last``, newest first."""
    return [day for day in reversed(lake.partition_days(settings.offline_store_dir)) if first <= day <= last]


def _newest_rows_per_batch(
    settings: Settings, columns: list[str], key: str, days: list[date], start: datetime, end: datetime
) -> Iterator[pd.DataFrame]:
    """Each entity's newest row of the interval, in frames of at most ``materialize_batch_rows`` rows.

    The partitions are read one at a time, newest day first: an entity's row is taken from the newest partition that
    holds it (its newest event in that partition) and skipped in older ones, so memory holds one day's partition, the
    keys already written and one batch."""
    written: pd.Index | None = None
    for day in days:
        path = feature_partition_path(day, settings)
        timestamps = ds.field(ENTITY_TIMESTAMP)
        table = ds.dataset(path, format="parquet").to_table(
            columns=columns,
            filter=(timestamps >= pa.scalar(start, pa.timestamp("us", "UTC")))
            & (timestamps < pa.scalar(end, pa.timestamp("us", "UTC"))),
        )
        frame = table.to_pandas()
        del table
        frame = frame.sort_values(ENTITY_TIMESTAMP, ascending=False, kind="stable").drop_duplicates(key)
        if written is not None:
            frame = frame[~frame[key].isin(written)]
        frame = frame.reset_index(drop=True)
        keys = pd.Index(frame[key])
        if len(keys):
            written = keys if written is None else written.append(keys)
        for offset in range(0, len(frame), settings.materialize_batch_rows):
            yield frame.iloc[offset : offset + settings.materialize_batch_rows]


def materialize_days(days: Sequence[date], settings: Settings | None = None) -> MaterializeResult:
    """Load the feature rows of ``days``, the overlap days before them, and any later day, into the online store.

    The interval runs from ``min(days) - materialize_overlap_days`` to the newest day in the offline store (at least
    ``max(days)``), so a run that finishes after a run for a later day never puts older values back online: the
    online store keeps, per entity, the newest row of the interval last materialized. Rerunning it writes the same
    values.

    Each entity's newest row of the interval is written once, in batches of ``DRIFTLOOP_MATERIALIZE_BATCH_ROWS``
    through Feast's online write path (``write_to_online_store``: protobuf values, then ``online_write_batch``),
    and the interval is recorded in Feast's registry as ``FeatureStore.materialize`` does. On Redis each batch is one
    pipeline of writes without Feast's read of the stored timestamps (``skip_dedup``); Feast's SQLite write is an
    unconditional upsert anyway. What keeps older values from coming back is that every row written is its entity's
    newest in the offline store when it is read, and that one materialization runs at a time: the features DAG runs
    each task one instance at a time across runs (``max_active_tis_per_dag=1``), so a run whose days were built
    while another run's materialization was reading writes after it. Two callers running at once outside the DAG
    are not guarded: the one that read the offline store first may write last.
    """
    if not days:
        raise ValueError("materialize_days needs at least one day")
    settings = settings or get_settings()
    first = min(days) - timedelta(days=settings.materialize_overlap_days)
    last = max([*days, *lake.partition_days(settings.offline_store_dir)])
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    end = as_of_timestamp(last) + timedelta(seconds=1)
    store = feature_store(settings, single_writer=True)
    view = store.get_feature_view(feature_view_name(settings))
    key = active_spec(settings).entity.join_key
    columns = [key, ENTITY_TIMESTAMP, *(f.name for f in view.features)]
    entities = 0
    for batch in _newest_rows_per_batch(settings, columns, key, _interval_days(settings, first, last), start, end):
        store.write_to_online_store(view.name, batch)
        entities += len(batch)
    store.registry.apply_materialization(view, store.project, start, end)
    result = MaterializeResult(start=start, end=end, days=sorted(d.isoformat() for d in days))
    log.info(
        "materialized %d entities of %s online from %s to %s (days %s, %d overlap days before, every later day built)",
        entities,
        view.name,
        first,
        last,
        ", ".join(result.days),
        settings.materialize_overlap_days,
    )
    return result


def online_features(entity_ids: Sequence, settings: Settings | None = None) -> pd.DataFrame:
    """The online values of the model's FeatureService for ``entity_ids``: the join key then the service's
    features in their declared order, one row per id in the given order (missing values for unknown entities)."""
    settings = settings or get_settings()
    spec = active_spec(settings)
    store = feature_store(settings)
    service = store.get_feature_service(spec.feast.feature_service)
    columns = [f.name for projection in service.feature_view_projections for f in projection.features]
    key = spec.entity.join_key
    cast = int if spec.entity.dtype == "int64" else str
    rows = [{key: cast(i)} for i in entity_ids]
    online = store.get_online_features(features=service, entity_rows=rows).to_df()
    return online[[key, *columns]]
