"""The monitoring dashboard over time: Evidently's UI over a local Evidently workspace that the monitoring step feeds.

After each verdict, the monitor DAG's ``update_dashboard`` task (``monitor.dashboard_day``) adds the day's drift
snapshot (and, once labels matured, its quality snapshot) to the project
``<model> monitoring`` of the workspace ``DRIFTLOOP_DASHBOARD_WORKSPACE``, stamped with the day and labelled with the
model version (snapshot metadata ``model_version``, ``day``; tag ``drift`` or ``quality``). The project's dashboard
plots per day the share of drifted columns, the count of drifted columns, prediction drift, quality on matured
labels and each column's drift distance: in a tab over every version, and in one tab per model version (Evidently
0.7's UI shows the tabs' panels one group below the other).
``evidently ui --workspace <folder>`` serves it (``make demo`` and docker-compose's ``dashboard`` service start it).

Writes are idempotent per day, version and kind: the new snapshot is added first, then earlier ones of the same day,
version and kind are deleted, so a rerun replaces the day and a crash in between leaves a duplicate the next run
removes, never a missing day. The tabs are rebuilt when a version appears that has none yet.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

PROJECT_SUFFIX = "monitoring"
KINDS = ("drift", "quality")


def run_labels(day: date, model_version: str, kind: str) -> dict:
    """Keyword arguments for Evidently's ``Report.run``: the day as the snapshot's timestamp (the dashboard's x
    axis), the version and day as metadata (which the panels filter on) and the kind as a tag."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} must be one of {', '.join(KINDS)}")
    return {
        "timestamp": datetime(day.year, day.month, day.day),
        "metadata": {"model_version": str(model_version), "day": day.isoformat()},
        "tags": [kind],
    }


def workspace(folder: Path):
    """The Evidently workspace in ``folder`` (created when missing)."""
    from evidently.ui.workspace import Workspace

    folder.mkdir(parents=True, exist_ok=True)
    return Workspace(str(folder))


def project(ws, model_name: str, description: str = ""):
    """The dashboard project of ``model_name`` in ``ws``, created on first use."""
    name = f"{model_name} {PROJECT_SUFFIX}"
    found = ws.search_project(name)
    if found:
        return found[0]
    created = ws.create_project(name, description=description or f"drift and quality of {model_name}, day by day")
    created.save()
    return created


def _runs(ws, project_id) -> list[tuple[str, object]]:
    """Every snapshot of the project as (id, snapshot model with its metadata and tags)."""
    runs = ((str(rid), ws.get_run(project_id, rid)) for rid in ws.list_runs(project_id))
    return [(rid, run) for rid, run in runs if run is not None]


def versions(ws, project_id) -> list[str]:
    """The model versions the project holds snapshots of, in numeric order."""
    runs = _runs(ws, project_id)
    found = {str(run.metadata["model_version"]) for _, run in runs if run.metadata.get("model_version")}
    return sorted(found, key=lambda v: (len(v), v))


ALL_VERSIONS = "All versions"


def panels(quality_metric: str, version: str | None = None) -> list:
    """The dashboard's panels over time, for one model version or (``None``) for every day whatever the version.

    Evidently 0.7's series query picks a series' filter by metric type alone, so two series of one metric that
    differ only by version in one panel would lose the second; each version gets its own tab instead."""
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import bar_plot_panel, line_plot_panel, text_panel

    metadata = {"model_version": version} if version is not None else {}
    legend = f"v{version}" if version is not None else "all versions"

    def series(metric: str, kind: str, legend: str = legend, **labels) -> list:
        return [PanelMetric(legend=legend, metric=metric, metric_labels=labels, tags=[kind], metadata=metadata)]

    which = f"model version {version}" if version is not None else "every model version, day by day"
    return [
        text_panel(
            title=f"Monitoring over time: {which}",
            description="One point per monitored day, fed by the monitor DAG after each verdict; each day's full "
            "report is a snapshot of this project (Reports); its MLflow monitoring run holds the report of a drift "
            "day and the distance summary of a clean one. One group per model version.",
        ),
        line_plot_panel(
            title="Share of drifted columns",
            values=series("DriftedColumnsCount", "drift", value_type="share"),
            description="share of compared feature columns beyond their calibrated drift threshold",
            size="half",
        ),
        bar_plot_panel(
            title="Drifted columns",
            values=series("DriftedColumnsCount", "drift", value_type="count"),
            description="number of feature columns beyond their drift threshold",
            size="half",
        ),
        line_plot_panel(
            title="Prediction drift",
            values=series("ValueDrift", "drift", column="prediction"),
            description="distance between the version's scores on its training snapshot and the day's scores",
            size="half",
        ),
        line_plot_panel(
            title=f"Quality on matured labels ({quality_metric})",
            values=series(quality_metric, "quality"),
            description="predictions whose labels have arrived since, joined with those labels",
            size="half",
        ),
        line_plot_panel(
            title="Drift distance per column",
            values=series("ValueDrift", "drift", legend="{{column}}"),
            description="each column's drift distance (normed Wasserstein or Jensen-Shannon) per day",
            size="full",
        ),
    ]


def _tab(version: str) -> str:
    return f"Model v{version}"


def _sync_panels(ws, proj, quality_metric: str) -> None:
    """Rebuild the tabs when the project holds a version without one (or when there are none): a tab for every day
    whatever the version, then one per version."""
    wanted = [ALL_VERSIONS, *(_tab(v) for v in versions(ws, proj.id))]
    dashboard = ws.get_dashboard(proj.id)
    if [tab.title for tab in dashboard.tabs] == wanted and dashboard.panels:
        return
    proj.dashboard.clear_dashboard()
    for version in [None, *versions(ws, proj.id)]:
        for panel in panels(quality_metric, version):
            proj.dashboard.add_panel(panel, tab=ALL_VERSIONS if version is None else _tab(version))


def add_day(folder: Path, model_name: str, snapshot, kind: str, quality_metric: str, description: str = "") -> str:
    """Add one day's ``snapshot`` (run with :func:`run_labels`) to the model's project, replacing the earlier
    snapshots of the same day, version and kind, and keep the panels covering every version; returns the snapshot
    id."""
    ws = workspace(folder)
    proj = project(ws, model_name, description)
    added = ws.add_run(proj.id, snapshot)
    model = snapshot.to_snapshot_model()
    metadata, tags = model.metadata, set(model.tags)
    for rid, run in _runs(ws, proj.id):
        same = (
            rid != str(added.id)
            and run.metadata.get("model_version") == metadata.get("model_version")
            and run.metadata.get("day") == metadata.get("day")
            and set(run.tags) == tags
        )
        if same:
            ws.delete_run(proj.id, rid)
    _sync_panels(ws, proj, quality_metric)
    return str(added.id)


def project_url(base_url: str, folder: Path, model_name: str) -> str:
    """The dashboard's address in Evidently's UI for the model's project (the UI's home when it has none yet)."""
    found = workspace(folder).search_project(f"{model_name} {PROJECT_SUFFIX}") if folder.exists() else []
    return f"{base_url}/projects/{found[0].id}" if found else base_url
