"""
### Write the use case's source batches into landing

Writes daily batches of the active use case (`DRIFTLOOP_USECASE`) into the landing area, exactly as upstream systems
would: one CSV per raw table of the use case's spec, then the `_SUCCESS` marker. Use it to feed `ingest` without
real upstream systems: the churn use case simulates a subscription video service (scenarios such as covariate
drift or corrupt batches), a use case on recorded data replays its days. The form's parameters after **First day**
and **Days** are the use case's own (`[source.params]` in its `usecase.toml`); the same parameters always produce the
same files.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from driftloop.settings import get_settings
from driftloop.usecase.spec import load_spec
from driftloop_airflow.defaults import DEFAULT_ARGS, START_DATE

settings = get_settings()
usecase = load_spec(settings.usecase_dir)
source_params = usecase.source.params if usecase.source else ()
EMPTY_CHOICE = "(none)"
"""How the form shows the empty entry of an optional choice."""


def _param(spec) -> Param:
    """A trigger-form field from a ``[source.params]`` entry; a parameter without a default may be left empty.

    An optional choice keeps its drop-down, whose empty entry reads ``(none)`` instead of a literal ``null``
    (``values_display``); the choices are checked when the run is triggered."""
    schema = {"type": spec.type if spec.default is not None else ["null", spec.type]}
    for name in ("minimum", "maximum", "format"):
        if getattr(spec, name) is not None:
            schema[name] = getattr(spec, name)
    if spec.enum is not None:
        schema["enum"] = list(spec.enum) if spec.default is not None else [None, *spec.enum]
        if spec.default is None:
            schema["values_display"] = {"null": EMPTY_CHOICE, **{str(v): str(v) for v in spec.enum}}
    return Param(spec.default, title=spec.title, description=spec.description, **schema)


@dag(
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["driftloop", "simulation", usecase.name],
    doc_md=__doc__ + (f"\n#### {usecase.title}\n{usecase.source.description}" if usecase.source else ""),
    description=f"Write {usecase.name} daily batches into landing (manual runs with params).",
    params={
        "start": Param(
            "2026-01-01",
            type="string",
            format="date",
            title="First day",
            description="First batch day to write (YYYY-MM-DD).",
        ),
        "days": Param(
            7,
            type="integer",
            minimum=1,
            maximum=366,
            title="Days",
            description="How many consecutive daily batches to write.",
        ),
        **{spec.name: _param(spec) for spec in source_params},
    },
)
def simulate_source():
    @task
    def write_batches(*, params=None) -> list[str]:
        """Write the requested days with the use case's source (uploading through the S3 hook for s3://)."""
        import tempfile
        from pathlib import Path

        from driftloop.dates import parse_day
        from driftloop.usecase.active import use_case_function
        from driftloop_airflow.landing import upload_batch

        if usecase.source is None:
            raise ValueError(f"use case {usecase.name} declares no [source] in {usecase.folder}/usecase.toml")
        write = use_case_function(usecase, usecase.source.module, usecase.source.function)
        options = {spec.name: params.get(spec.name) for spec in source_params}
        start = parse_day(params["start"])
        if not settings.landing_is_s3:
            written = write(Path(settings.landing_uri), start, params["days"], options, settings)
            return [str(path) for path in written]
        with tempfile.TemporaryDirectory() as workdir:
            written = write(Path(workdir), start, params["days"], options, settings)
            keys = []
            for path in written:
                keys += upload_batch(settings, path, parse_day(path.name.removeprefix("dt=")))
        return keys

    write_batches()


simulate_source()
