"""``run_replay``: build (or reuse) a history, play it under each policy, write the table, plot and MLflow run.

The days: ``warm-up`` days first (the feature window, the training window and the label horizon, so that the first
model trains on complete feature windows and matured labels), then the ``days`` replayed. The drift day is an index
into the replayed days (negative: from the end) or a date.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from driftloop.dates import parse_day
from driftloop.replay.engine import Replayer, policy_summary, records_frame
from driftloop.replay.history import HistoryRequest, load_history
from driftloop.replay.policies import parse_policies
from driftloop.replay.report import log_run, plot_quality, write_table
from driftloop.settings import Settings, get_settings

DEFAULT_POLICIES = "never,every:7,drift,quality"
DEFAULT_FIRST_DAY = date(2026, 1, 1)


@dataclass
class ReplayResult:
    """A finished replay: its table, the comparison per policy and where its outputs are."""

    table: pd.DataFrame
    summary: dict
    paths: dict[str, Path]
    mlflow_run_id: str | None
    timings: dict = field(default_factory=dict)

    def policy_comparison(self) -> dict:
        """Per policy: metric, mean quality (overall, before and from the drift), retrainings, promotions, compute
        seconds, final version, drift and quality-drop days."""
        return self.summary["policies"]

    def comparison_table(self) -> str:
        """The comparison as a fixed-width text table, one row per policy."""
        frame = pd.DataFrame(self.policy_comparison()).T
        columns = [
            "mean_quality_before_drift",
            "mean_quality_after_drift",
            "retrainings",
            "promotions",
            "compute_seconds",
            "drift_days",
            "quality_drop_days",
        ]
        frame = frame[columns].rename(
            columns={
                "mean_quality_before_drift": "before_drift",
                "mean_quality_after_drift": "after_drift",
                "compute_seconds": "compute_s",
                "quality_drop_days": "quality_drops",
            }
        )
        metric = next(iter(self.policy_comparison().values()))["metric"]
        return f"mean {metric} on matured labels\n" + frame.to_string()


def _drift_day(value, days: list[date]) -> date | None:
    """The drift day an index, a date or ``none`` (no drift) names."""
    if value is None or str(value).lower() in ("", "none"):
        return None
    if isinstance(value, date):
        return value
    text = str(value)
    if text.lstrip("-").isdigit():
        index = int(text)
        if not -len(days) <= index < len(days):
            raise ValueError(f"drift day index {index} is outside the {len(days)} replayed days")
        return days[index]
    return parse_day(text)


def warmup_days(settings: Settings) -> int:
    """Days before the replay: the feature window, the training window and the label horizon."""
    return settings.feature_window_days - 1 + settings.model.training_window_days + settings.label_horizon_days


def run_replay(
    days: int = 90,
    entities: int | None = None,
    scenario: str | None = None,
    drift_day: int | str | date | None = None,
    policies: str = DEFAULT_POLICIES,
    out: Path | str | None = None,
    settings: Settings | None = None,
    first_day: date | None = None,
    log_mlflow: bool = True,
    quality_days: int = 7,
) -> ReplayResult:
    """Replay ``days`` days of the active use case under ``policies`` and write the outputs into ``out``.

    ``scenario``, ``entities`` and ``drift_day`` go to the use case's ``replay_params`` (None: its defaults);
    ``drift_day`` is an index into the replayed days (negative: from the end), a date or ``none``; default a third
    in. ``out`` defaults to ``<DRIFTLOOP_DATA_ROOT>/replay``; the history is built under ``out/history`` and reused
    by a replay of the same days and params."""
    settings = settings or get_settings()
    if days < 2:
        raise ValueError(f"a replay needs at least 2 days, got {days}")
    chosen = parse_policies(policies, settings.monitoring.retrain_min_post_drift_days)
    out = Path(out) if out else settings.data_root / "replay"
    first = first_day or DEFAULT_FIRST_DAY
    warmup = warmup_days(settings)
    replayed = [first + timedelta(days=warmup + i) for i in range(days)]
    drift = _drift_day(days // 3 if drift_day is None else drift_day, replayed)
    request = HistoryRequest(first_day=first, days=warmup + days, drift_day=drift, scenario=scenario, entities=entities)
    started, cpu = time.perf_counter(), time.process_time()
    history = load_history(request, out / "history", settings)
    prepared, prepared_cpu = time.perf_counter(), time.process_time()
    if quality_days < 1:
        raise ValueError(f"quality_days must be at least 1, got {quality_days}")
    replayer = Replayer(history, quality_days=quality_days)
    records, per_policy = [], {}
    for policy in chosen:
        clock, cpu_clock = time.perf_counter(), time.process_time()
        records += replayer.play(policy, replayed)
        per_policy[policy.name] = {
            "wall_s": round(time.perf_counter() - clock, 2),
            "cpu_s": round(time.process_time() - cpu_clock, 2),
        }
    table = records_frame(records)
    timings = {
        "history_wall_s": round(prepared - started, 2),
        "history_cpu_s": round(prepared_cpu - cpu, 2),
        "history_reused": history.reused,
        "policies": per_policy,
        "total_wall_s": round(time.perf_counter() - started, 2),
        "total_cpu_s": round(time.process_time() - cpu, 2),
    }
    params = {
        "usecase": history.spec.name,
        "scenario": scenario or "default",
        "days": days,
        "first_day": replayed[0].isoformat(),
        "last_day": replayed[-1].isoformat(),
        "warmup_days": warmup,
        "drift_day": drift.isoformat() if drift else None,
        "entities": entities,
        "policies": ",".join(p.name for p in chosen),
        "source_params": history.params,
        "label_horizon_days": settings.label_horizon_days,
        "feature_window_days": settings.feature_window_days,
        "training_window_days": settings.model.training_window_days,
        "quality_days": quality_days,
        "quality_drop_tolerance": settings.monitoring.quality_drop_tolerance,
        "promotion_margin": settings.model.promotion_margin,
        "quarantined_days": [d.isoformat() for d in history.quarantined],
    }
    summary = {
        "params": params,
        "policies": policy_summary(table, drift, settings.label_horizon_days),
        "timings": timings,
    }
    paths = write_table(table, summary, out)
    title = f"{history.spec.name} replay, {params['scenario']}: {days} days"
    paths["plot"] = plot_quality(table, drift, settings.label_horizon_days, quality_days, title, out / "quality.png")
    run_id = log_run(settings, params, summary, list(paths.values())) if log_mlflow else None
    return ReplayResult(table=table, summary=summary, paths=paths, mlflow_run_id=run_id, timings=timings)


DEMO_REPLAY_DAYS = 30
"""Days the demo's replay plays after its warm-up: enough matured post-drift days to compare policies, few enough
to keep ``make demo`` short."""


def demo_policy_comparison(settings: Settings, source_params: dict, days: list[date], drift_day: date) -> dict:
    """The policy comparison ``make demo`` ends with: a replay of the demo's scenario (the source's ``scenario``,
    with its ``customers``/``entities`` when it has them) over :data:`DEMO_REPLAY_DAYS` days with the drift a
    quarter in, under never, every:7, drift (``DRIFTLOOP_RETRAIN_MIN_POST_DRIFT_DAYS``) and quality, written under
    ``<data root>/demo/replay`` with its MLflow run; a JSON-ready dict with the table, the comparison per policy,
    the outputs and the timings. ``days`` and ``drift_day`` are the demo's own, recorded beside it."""
    entities = source_params.get("customers") or source_params.get("entities")
    result = run_replay(
        days=DEMO_REPLAY_DAYS,
        entities=int(entities) if entities else None,
        scenario=source_params.get("scenario"),
        drift_day=DEMO_REPLAY_DAYS // 4,
        out=settings.data_root / "demo" / "replay",
        settings=settings,
    )
    return {
        "scenario": result.summary.get("params", {}).get("scenario", source_params.get("scenario")),
        "demo_days": f"{days[0]}..{days[-1]}",
        "demo_drift_day": drift_day.isoformat(),
        "table": result.comparison_table(),
        "policies": result.policy_comparison(),
        "outputs": {name: str(path) for name, path in result.paths.items()},
        "mlflow_run_id": result.mlflow_run_id,
        "timings": result.timings,
    }
