"""The history a replay plays: a use case's batches run once through ingest, validation and features, then held in
memory for every policy.

The days are written by the use case's own source (``[source]`` of ``usecase.toml``) with the params its optional
``replay_params(days, drift_day, scenario, entities, settings)`` function gives, into a data root of the replay's
own (``<out>/history``), and each day goes through the stages the ``ingest`` and ``features`` DAGs run:
``copy_batch_to_raw``, ``validate_batch`` (a rejected day is quarantined and has no features) and
``build_features_for_day``. The data are the same whatever the policy (only the models differ), so this is done once
per history and reused: a ``manifest.json`` records what was built and a replay with the same inputs reads it back.

Labels are joined point-in-time with the features once (:func:`driftloop.features.point_in_time.lookup_view`, the
join the training set makes, with the feature view's ttl), and each label row carries ``matured_on``: the batch day
it arrived in (its as-of day plus the label horizon). A policy may use a label on day ``d`` only when
``matured_on <= d``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from driftloop.dates import day_range, parse_day
from driftloop.settings import Settings
from driftloop.storage import lake
from driftloop.usecase.active import active_spec, use_case_function, use_case_module
from driftloop.usecase.spec import ENTITY_TIMESTAMP, UseCaseSpec

log = logging.getLogger(__name__)

MATURED_ON = "matured_on"
"""Column of a history's labels: the batch day the label arrived in."""
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class HistoryRequest:
    """Which history to build: the days, where the drift starts, the scenario and the entity count (the use case's
    ``replay_params`` maps the last three onto its source's params; a recorded data set may ignore some)."""

    first_day: date
    days: int
    drift_day: date | None
    scenario: str | None
    entities: int | None

    @property
    def day_list(self) -> list[date]:
        """Every day of the history, oldest first."""
        return day_range(self.first_day, self.days)


@dataclass
class History:
    """The accepted days' features and the labelled rows, in memory."""

    spec: UseCaseSpec
    settings: Settings
    """The settings the history was built with (its own data root)."""
    request: HistoryRequest
    params: dict
    features: dict[date, pd.DataFrame]
    """Feature rows per accepted day (key, ``event_timestamp``, features)."""
    labelled: pd.DataFrame
    """Every accepted label with the features of its as-of day and ``matured_on``."""
    quarantined: list[date]
    model_inputs: list[str]
    reused: bool

    @property
    def complete_from(self) -> date:
        """The first day whose rolling feature windows are complete (the first accepted day plus the window)."""
        return min(self.features) + timedelta(days=self.settings.feature_window_days - 1)


def history_settings(base: Settings, root: Path) -> Settings:
    """``base`` with every store of the data lake moved below ``root``, so that a replay never touches the loop's
    own data; MLflow stays the loop's."""
    root = root.resolve()
    return dataclasses.replace(
        base,
        data_root=root,
        offline_store_dir=root / "offline" / base.offline_store_dir.name,
        landing_uri=str(root / "landing"),
        raw_uri=str(root / "raw"),
        feast_registry=str(root / "feast" / "registry.db"),
        feast_online_path=root / "feast" / "online.db",
    )


def source_params(spec: UseCaseSpec, request: HistoryRequest, settings: Settings) -> dict:
    """The use case source's params for the request, from its ``replay_params`` (its defaults without one)."""
    if spec.source is None:
        raise ValueError(f"use case {spec.name} declares no [source] in {spec.folder}/usecase.toml: nothing to replay")
    module = use_case_module(spec, spec.source.module)
    replay_params = getattr(module, "replay_params", None)
    if replay_params is None:
        return {param.name: param.default for param in spec.source.params}
    return replay_params(request.day_list, request.drift_day, request.scenario, request.entities, settings)


def _manifest(spec: UseCaseSpec, request: HistoryRequest, params: dict, settings: Settings) -> dict:
    return {
        "version": MANIFEST_VERSION,
        "usecase": spec.name,
        "first_day": request.first_day.isoformat(),
        "days": request.days,
        "params": params,
        "label_horizon_days": settings.label_horizon_days,
        "feature_window_days": settings.feature_window_days,
        "task_type": settings.task_type,
    }


def _build(spec: UseCaseSpec, request: HistoryRequest, params: dict, settings: Settings) -> list[date]:
    """Write, ingest, validate and featurize every day under ``settings.data_root``; returns the quarantined days."""
    from driftloop.features.partitions import build_features_for_day
    from driftloop.ingest.landing import copy_batch_to_raw
    from driftloop.ingest.validation import BatchRejected, validate_batch

    landing = Path(settings.landing_uri)
    write = use_case_function(spec, spec.source.module, spec.source.function)
    write(landing, request.first_day, request.days, params, settings)
    quarantined = []
    # Every day of the history is validated: the comparisons with recent batches it skips at the start are expected.
    validation_log = logging.getLogger("driftloop.ingest.validation")
    level = validation_log.level
    validation_log.setLevel(logging.ERROR)
    try:
        for day in request.day_list:
            copy_batch_to_raw(day, lake.partition_dir(landing, day), settings)
            try:
                validate_batch(day, settings)
            except BatchRejected as rejected:
                log.warning("replay history: %s quarantined: %s", day, rejected)
                quarantined.append(day)
                continue
            build_features_for_day(day, settings)
    finally:
        validation_log.setLevel(level)
    return quarantined


def _labelled(spec: UseCaseSpec, settings: Settings, features: dict[date, pd.DataFrame]) -> pd.DataFrame:
    """Every accepted label joined point-in-time with the feature partitions (the feature view's ttl), with the day
    it matured on; labels without a feature row in the ttl are left out."""
    from driftloop.features.point_in_time import ViewLookup, lookup_view, unmatched_rows
    from driftloop.model.training_set import label_events

    labels = label_events(date.min, date.max, settings)
    columns = [c for c in next(iter(features.values())).columns if c not in (spec.entity.join_key, ENTITY_TIMESTAMP)]
    if labels.empty:
        return labels.assign(**{MATURED_ON: pd.Series(dtype=object)})
    lookup = ViewLookup(
        name=spec.feast.feature_view,
        join_keys=[spec.entity.join_key],
        timestamp_field=ENTITY_TIMESTAMP,
        ttl=timedelta(days=spec.feast.ttl_days),
        source=settings.offline_store_dir,
        features=columns,
    )
    joined = pd.concat([labels.reset_index(drop=True), lookup_view(labels, lookup)], axis=1)
    joined = joined[~unmatched_rows(joined, columns)].reset_index(drop=True)
    as_of = pd.to_datetime(joined[spec.label.as_of_column]).dt.date
    horizon = settings.label_horizon_days
    joined[MATURED_ON] = [spec.label_table.batch_day_of(d, horizon) for d in as_of]
    joined["as_of_day"] = as_of
    return joined


def load_history(request: HistoryRequest, root: Path, base: Settings) -> History:
    """The history of ``request`` built under ``root`` (reused when ``root`` holds the same one), in memory."""
    settings = history_settings(base, root)
    spec = active_spec(settings)
    params = source_params(spec, request, settings)
    manifest = _manifest(spec, request, params, settings)
    manifest_path = root / "manifest.json"
    built = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    reused = built is not None and {k: v for k, v in built.items() if k != "quarantined"} == manifest
    if not reused:
        if root.exists():
            import shutil

            shutil.rmtree(root)
        root.mkdir(parents=True)
        quarantined = _build(spec, request, params, settings)
        manifest_path.write_text(
            json.dumps({**manifest, "quarantined": [d.isoformat() for d in quarantined]}, indent=1)
        )
    else:
        quarantined = [parse_day(d) for d in built["quarantined"]]
    features = {
        day: pd.read_parquet(path)
        for day in lake.partition_days(settings.offline_store_dir)
        if (path := settings.offline_store_dir / f"{lake.partition_name(day)}.parquet").exists()
    }
    if not features:
        raise ValueError(f"replay history under {root}: no day was accepted, so there are no features to replay")
    labelled = _labelled(spec, settings, features)
    feature_names = [c for c in next(iter(features.values())).columns if c not in spec.not_features]
    return History(
        spec=spec,
        settings=settings,
        request=request,
        params=params,
        features=features,
        labelled=labelled,
        quarantined=quarantined,
        model_inputs=spec.model_inputs(feature_names),
        reused=reused,
    )
