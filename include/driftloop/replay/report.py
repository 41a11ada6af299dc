"""What a replay leaves behind: its table (CSV and JSON), a plot of quality over time per policy, and one MLflow run.

``replay.csv`` / ``replay.json`` hold one row per policy and day (production version, its quality on the day's
matured labels, the verdict, the retraining and its compute seconds); ``summary.json`` the comparison per policy;
``quality.png`` the quality per policy over the replay's days, a solid line on the drift's first day and a dotted one
where its labels first mature. The MLflow run (experiment ``<model>-replay``) holds the three files as artifacts,
the replay's inputs as params and the comparison as metrics named ``<policy>.<measure>``.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from driftloop.replay.engine import nan_to_none
from driftloop.settings import Settings
from driftloop.storage import lake


def write_table(table: pd.DataFrame, summary: dict, out: Path) -> dict[str, Path]:
    """Write ``replay.csv``, ``replay.json`` and ``summary.json`` into ``out`` (each replaced whole)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "replay.csv", "json": out / "replay.json", "summary": out / "summary.json"}
    rows = [{k: nan_to_none(v) for k, v in row.items()} for row in table.to_dict("records")]
    with lake.replace_file(paths["csv"]) as scratch:
        table.to_csv(scratch, index=False)
    with lake.replace_file(paths["json"]) as scratch:
        scratch.write_text(json.dumps(rows, indent=1, default=str) + "\n")
    with lake.replace_file(paths["summary"]) as scratch:
        scratch.write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return paths


def plot_quality(
    table: pd.DataFrame, drift_day: date | None, label_horizon_days: int, quality_days: int, title: str, path: Path
) -> Path:
    """A PNG of each policy's quality on the matured labels per day, retrainings marked (filled: promoted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(11, 5.5))
    for policy, rows in table.groupby("policy", sort=False):
        days = pd.to_datetime(rows["day"])
        quality = rows["quality"].astype(float)
        (line,) = axis.plot(days, quality, label=policy, linewidth=1.4)
        retrained = rows["retrained"].to_numpy(dtype=bool)
        promoted = rows["promoted"].to_numpy(dtype=bool)
        axis.scatter(days[promoted], quality[promoted], color=line.get_color(), s=22, zorder=3)
        axis.scatter(
            days[retrained & ~promoted],
            quality[retrained & ~promoted],
            facecolors="none",
            edgecolors=line.get_color(),
            s=22,
            zorder=3,
        )
    if drift_day is not None:
        axis.axvline(pd.Timestamp(drift_day), color="black", linewidth=1.2, label=f"drift starts {drift_day}")
        matured = drift_day + timedelta(days=label_horizon_days)
        axis.axvline(pd.Timestamp(matured), color="black", linestyle=":", label=f"its labels mature {matured}")
    metric = table["metric"].iloc[0] if len(table) else "quality"
    axis.set_xlabel(
        f"day (quality on the labels matured in the {quality_days} days up to it, after the model's training)"
    )
    axis.set_ylabel(f"{metric} of the production model")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(loc="best", fontsize=8)
    figure.autofmt_xdate()
    figure.tight_layout()
    with lake.replace_file(path) as scratch:
        figure.savefig(scratch, format="png", dpi=110)
    plt.close(figure)
    return path


def metric_name(policy: str, measure: str) -> str:
    """An MLflow metric name for a policy's measure (``every:7`` -> ``every_7.compute_seconds``)."""
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', policy)}.{measure}"


def log_run(settings: Settings, params: dict, summary: dict, files: list[Path]) -> str:
    """One MLflow run in ``<model>-replay`` with the replay's params, the comparison as metrics and ``files`` as
    artifacts; returns its run id."""
    import mlflow

    from driftloop.model import model_registry

    model_registry.client(settings.mlflow_tracking_uri)
    name = f"{settings.model.name}-replay"
    experiment_id = model_registry.experiment_id(name, f"{settings.mlflow_artifact_root}/replay")
    metrics = {
        metric_name(policy, measure): float(value)
        for policy, values in summary["policies"].items()
        for measure, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"replay {params['usecase']} {params['scenario']}"
    ) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics(metrics)
        for path in files:
            mlflow.log_artifact(str(path))
    return run.info.run_id
