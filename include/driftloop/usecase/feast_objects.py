"""Feast objects of a use case built from its spec: the project, entity, file source, FeatureView and FeatureService.

A use case's Feast file declares only its feature fields and calls :func:`declare`; names, join key, ttl and the
offline folder come from the spec and the settings, so they are written once. ``feature_repo/definitions.py``
exposes the active use case's objects to Feast (:func:`active_definitions`).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureService, FeatureView, Field, FileSource, Project, ValueType
from feast.types import Int64, String

from driftloop.usecase.spec import ENTITY_TIMESTAMP, load_spec

FEAST_KEY_TYPES = {"int64": (ValueType.INT64, Int64), "str": (ValueType.STRING, String)}


def declare(
    definitions_file: str, schema: list[Field], tags: dict[str, str] | None = None
) -> tuple[Project, Entity, FileSource, FeatureView, FeatureService]:
    """The Feast objects of the use case whose folder holds ``definitions_file``, with ``schema`` as the view's
    features (the join key field is added first). Paths and the project come from the ``DRIFTLOOP_*`` variables
    that ``driftloop.features.feature_store`` exports, defaulting to the settings."""
    from driftloop.settings import get_settings

    spec = load_spec(Path(definitions_file).resolve().parent)
    tags = {"owner": "driftloop", "usecase": spec.name, **(tags or {})}
    value_type, key_type = FEAST_KEY_TYPES[spec.entity.dtype]
    key = spec.entity.join_key
    project = Project(
        name=os.environ.get("DRIFTLOOP_FEAST_PROJECT") or get_settings().feast_project,
        description=spec.title,
        tags=tags,
    )
    entity = Entity(
        name=spec.entity.name, join_keys=[key], value_type=value_type, description=spec.entity.description, tags=tags
    )
    source = FileSource(
        name=f"{spec.feast.feature_view}_source",
        # One Parquet file per day (dt=YYYY-MM-DD.parquet) written by the features DAG; Feast skips files starting
        # with "." or "_", such as in-progress writes.
        path=os.environ.get("DRIFTLOOP_OFFLINE_STORE_DIR") or str(get_settings().offline_store_dir),
        timestamp_field=ENTITY_TIMESTAMP,
        description=f"Daily {spec.entity.name} features; {ENTITY_TIMESTAMP} is the end of the day a row describes.",
        tags=tags,
    )
    view = FeatureView(
        name=spec.feast.feature_view,
        entities=[entity],
        # A lookup at the end of day d takes the newest row at or before it, at most ttl_days old.
        ttl=timedelta(days=spec.feast.ttl_days),
        schema=[Field(name=key, dtype=key_type, description=f"Join key of the {spec.entity.name} entity."), *schema],
        source=source,
        online=True,
        description=f"Daily {spec.entity.name} features of {spec.title}, as of the end of each day.",
        tags=tags,
    )
    service = FeatureService(
        name=spec.feast.feature_service,
        features=[view],
        description=f"Inputs of the {spec.model.name} model. Training and scoring both read through it.",
        tags=tags,
    )
    return project, entity, source, view, service


def active_definitions() -> dict[str, object]:
    """The Feast objects the active use case's definitions file declares, by variable name, imported afresh."""
    from driftloop.usecase.active import active_spec, use_case_module

    spec = active_spec()
    module = use_case_module(spec, spec.feast.definitions, fresh=True)
    kinds = (Project, Entity, FileSource, FeatureView, FeatureService)
    return {name: value for name, value in vars(module).items() if isinstance(value, kinds)}
