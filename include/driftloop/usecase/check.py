"""``driftloop check-usecase``: load the active use case the way the pipeline does and say what it found.

Every step raises the error the pipeline would raise later (naming the file and the field), so a new use case can be
checked before any batch lands: the spec, the feature and source functions, the Feast definitions, and that the
columns the spec names (categorical inputs, slices, left-out columns) are features of the view.
"""

from __future__ import annotations

from driftloop.settings import Settings
from driftloop.usecase.active import active_spec, use_case_function
from driftloop.usecase.spec import SpecError


def check_usecase(settings: Settings) -> list[str]:
    """Lines describing the active use case; SpecError/ValueError at the first problem."""
    from driftloop.features.feature_store import declared_feature_schema

    spec = active_spec(settings)
    lines = [f"use case {spec.name} ({spec.title}) in {spec.folder}: spec valid"]
    use_case_function(spec, spec.features.module, spec.features.function)
    lines.append(f"feature function {spec.features.module}:{spec.features.function} found")
    if spec.source:
        use_case_function(spec, spec.source.module, spec.source.function)
        lines.append(f"source {spec.source.module}:{spec.source.function} found")
    declared = declared_feature_schema(settings)
    lines.append(
        f"Feast: FeatureView {spec.feast.feature_view} with {len(declared)} features, "
        f"FeatureService {spec.feast.feature_service}, ttl {spec.feast.ttl_days} days"
    )
    known = {*declared, spec.entity.join_key}
    named = {
        "model.categorical": list(spec.model.categorical),
        "model.exclude": list(spec.model.exclude),
        "slices": [item.column for item in spec.slices],
        "monitoring.exclude": list(spec.monitoring.exclude),
        "monitoring.constant_within_day": list(spec.monitoring.constant_within_day),
    }
    for field, columns in named.items():
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise SpecError(
                f"{spec.folder}/usecase.toml: {field} names {', '.join(unknown)}, which are not features of "
                f"{spec.feast.feature_view} ({', '.join(declared)})"
            )
    inputs = spec.model_inputs(list(declared))
    lines.append(
        f"model {spec.model.name}: {settings.task_type} on {spec.target_column(settings.task_type)}, "
        f"{len(inputs)} inputs ({len(spec.model.categorical)} categorical)"
    )
    lines.append("tables: " + ", ".join(f"{t.name} ({t.role})" for t in spec.tables.values()))
    return lines
