"""``driftloop new-usecase NAME``: start a use case folder from a template that loads and validates as it is.

The template declares one entity, an ``observations`` events table, a ``labels`` table and two features computed
from the observations; ``driftloop check-usecase`` passes on it, so a user changes one working thing at a time.
"""

from __future__ import annotations

import re
from pathlib import Path

from driftloop.settings import usecases_dir

_SPEC = """# The {name} use case: see README "Bring your own dataset". Every field is read by driftloop's core.
name = "{name}"
title = "{name}: describe the data set in a line"
description = "What the data is, where it comes from and what the model predicts."

[entity]
name = "{entity}"
join_key = "{key}"
dtype = "int64"              # or "str"
description = "What one {entity} is."

[label]
table = "labels"
as_of_column = "label_date"
horizon_days = 7             # DRIFTLOOP_LABEL_HORIZON_DAYS: labels of day d arrive in the batch of d + 7
task_type = "regression"     # DRIFTLOOP_TASK_TYPE
targets = {{ regression = "target" }}

[features]
module = "features.py"
function = "compute_features"
window_days = 7              # DRIFTLOOP_FEATURE_WINDOW_DAYS

[feast]
definitions = "feast_repo.py"
feature_view = "{name}_daily_features"
feature_service = "{name}_v1"
ttl_days = 1

[model]
categorical = {{}}

[[slices]]
column = "observations_1d"
name = "activity"
bands = {{ "none" = [0, 1], "some" = [1, inf] }}

[monitoring]
window_days = 1
min_rows = 500

[tables.observations]
role = "events"
description = "One row per observation of an {entity}."
key = ["observation_id"]
day_column = "observed_at"

[tables.observations.columns]
observation_id = {{ dtype = "str", description = "Unique id of the observation." }}
{key} = {{ dtype = "int64", description = "The {entity} observed." }}
observed_at = {{ dtype = "datetime", description = "When (UTC)." }}
value = {{ dtype = "float64", nullable = true, description = "The measured value." }}

[tables.labels]
role = "labels"
description = "Outcomes that matured today for the day horizon_days ago."
key = ["{key}", "label_date"]
day_column = "label_date"

[tables.labels.columns]
{key} = {{ dtype = "int64", description = "The {entity}." }}
label_date = {{ dtype = "date", description = "The day the label describes." }}
target = {{ dtype = "float64", description = "What the model predicts." }}
"""

_FEATURES = '''"""The {name} use case's feature function: one row per {entity} and day, from its observations."""

from collections.abc import Mapping
from datetime import date, timedelta

import pandas as pd


def compute_features(day: date, tables: Mapping[str, pd.DataFrame], window_days: int) -> pd.DataFrame:
    """Per {entity} seen on ``day``: observations and mean value that day, and mean value over the window."""
    observations = tables["observations"]
    stamps = pd.to_datetime(observations["observed_at"], utc=True)
    end = pd.Timestamp(day + timedelta(days=1), tz="UTC")
    window = observations[(stamps >= end - pd.Timedelta(days=window_days)) & (stamps < end)]
    today = observations[(stamps >= end - pd.Timedelta(days=1)) & (stamps < end)]
    keys = pd.Index(sorted(today["{key}"].unique()), name="{key}")
    by_key = today.groupby("{key}")["value"]
    return pd.DataFrame(
        {{
            "{key}": keys.to_numpy(dtype="int64"),
            "observations_1d": by_key.size().reindex(keys, fill_value=0).to_numpy(dtype="int64"),
            "value_mean_1d": by_key.mean().reindex(keys).to_numpy(dtype="float64"),
            "value_mean_window": window.groupby("{key}")["value"].mean().reindex(keys).to_numpy(dtype="float64"),
        }}
    )
'''

_FEAST = '''"""Feast definitions of the {name} use case: the features ``features.py`` computes, declared once."""

from feast import Field
from feast.types import Float64, Int64

from driftloop.usecase.feast_objects import declare

project, {entity}, source, {name}_daily_features, {name}_v1 = declare(
    __file__,
    schema=[
        Field(name="observations_1d", dtype=Int64, description="Observations on the day."),
        Field(name="value_mean_1d", dtype=Float64, description="Mean value on the day."),
        Field(name="value_mean_window", dtype=Float64, description="Mean value over the feature window."),
    ],
)
'''

_README = """# {name}

A driftloop use case. Run it with `DRIFTLOOP_USECASE={name}`; check it with `DRIFTLOOP_USECASE={name} driftloop
check-usecase`. See the repository README, "Bring your own dataset", for the steps.
"""


def create_usecase(name: str, parent: Path | None = None, entity: str = "entity", key: str = "entity_id") -> Path:
    """Write a new use case folder ``parent/name`` (default ``DRIFTLOOP_USECASES_DIR/name``) from the template;
    refuses to overwrite an existing folder."""
    for value, what in ((name, "name"), (entity, "entity"), (key, "key")):
        if not re.match(r"^[a-z][a-z0-9_]*$", value):
            raise ValueError(f"{what} {value!r} must be lower case letters, digits and _, starting with a letter")
    folder = (parent or usecases_dir()) / name
    if folder.exists():
        raise ValueError(f"{folder} exists already; choose another name or remove it")
    folder.mkdir(parents=True)
    values = {"name": name, "entity": entity, "key": key}
    for file, template in (
        ("usecase.toml", _SPEC),
        ("features.py", _FEATURES),
        ("feast_repo.py", _FEAST),
        ("README.md", _README),
    ):
        (folder / file).write_text(template.format(**values))
    return folder
