"""Canary: a challenger scored in shadow beside the champion, without being served, before it may replace it.

With ``DRIFTLOOP_SHADOW_DAYS`` above 0 and a champion in place, a challenger that passes the offline gate is not
promoted by ``train``: it is tagged ``shadow = pending`` (:func:`start_shadow`). Every scored day, scoring also
scores the shadow challenger on the same feature rows and writes ``shadow/dt=DAY/v<version>.parquet`` (key,
champion and challenger scores; never the predictions table) with :func:`write_shadow`. Monitoring then judges the
shadow (:func:`judge_shadow`): each shadow day's agreement (Spearman rank correlation of the two scores) and, once
its labels matured, both models' primary metric on the same rows. After ``DRIFTLOOP_SHADOW_DAYS`` matured days the
challenger is promoted through the registry's gate (kind ``canary``, in the champion history) when it is not worse
than the champion by more than ``DRIFTLOOP_SHADOW_TOLERANCE``, and its shadow ends ``failed`` otherwise.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from driftloop.quality.registry import covers
from driftloop.storage import lake

SHADOW_TAG = "shadow"
CHALLENGER = "challenger"


def shadow_dir(settings) -> Path:
    """Where shadow scores are kept, beside the predictions."""
    return settings.data_root / "shadow"


def start_shadow(tracking_uri: str, model_name: str, version: str, required_days: int) -> str:
    """Tag ``version`` as in shadow (pending); returns the reason for the gate's log."""
    from driftloop.model import model_registry

    reason = f"in shadow: promoted only after {required_days} shadow days with matured labels (DRIFTLOOP_SHADOW_DAYS)"
    model_registry.client(tracking_uri).set_model_version_tag(model_name, version, SHADOW_TAG, f"pending: {reason}")
    return reason


def shadow_version(settings) -> str | None:
    """The challenger in shadow (tag ``shadow`` pending, not champion), or None (also when shadow is off)."""
    from driftloop.model import model_registry

    if settings.quality.shadow_days <= 0:
        return None
    uri, name = settings.mlflow_tracking_uri, settings.model.name
    challenger = model_registry.version_by_alias(uri, name, CHALLENGER)
    champion = model_registry.version_by_alias(uri, name, "champion")
    if challenger is None or not challenger.tags.get(SHADOW_TAG, "").startswith("pending"):
        return None
    if champion is not None and str(champion.version) == str(challenger.version):
        return None
    return str(challenger.version)


def write_shadow(day: date, keys: pd.Series, champion: np.ndarray, challenger: np.ndarray, version: str, settings):
    """Write one day's shadow scores of ``version`` (replacing the day's file); returns its path."""
    frame = pd.DataFrame({keys.name: keys.to_numpy(), "champion": champion, "challenger": challenger})
    target = shadow_dir(settings) / lake.partition_name(day) / f"v{version}.parquet"
    with lake.replace_file(target) as scratch:
        frame.to_parquet(scratch, index=False)
    return target


def shadow_day(scores: pd.DataFrame, labels: pd.DataFrame | None, key: str, target: str, task_type: str, min_rows: int):
    """One shadow day: agreement of the two scores and, when ``labels`` (key, target) match at least ``min_rows``
    rows that can be scored, both models' primary metric on those rows (None before then)."""
    from driftloop.model.evaluation import evaluate, primary_metric

    metric = primary_metric(task_type)[0]
    agreement = float(scores["champion"].corr(scores["challenger"], method="spearman")) if len(scores) > 1 else None
    summary = {"rows": int(len(scores)), "agreement": agreement, "labelled": 0, "champion": None, "challenger": None}
    if labels is None or labels.empty:
        return summary
    labelled = scores.merge(labels[[key, target]], on=key, how="inner")
    summary["labelled"] = int(len(labelled))
    if len(labelled) < min_rows:
        return summary
    try:
        for side in ("champion", "challenger"):
            summary[side] = evaluate(task_type, labelled[target], labelled[side])["overall"][metric]
    except ValueError:
        summary["champion"] = summary["challenger"] = None
    return summary


@covers(
    "infrastructure.6",
    stage="driftloop.monitoring.monitor:monitor_day",
    tests=(
        "tests/unit/test_quality_canary.py::test_the_shadow_is_pending_until_enough_days_matured_then_passes_or_fails",
        "tests/unit/test_quality_canary.py::test_a_shadow_day_has_agreement_and_both_models_quality_once_labelled",
        "tests/unit/test_quality_canary.py::test_a_passed_shadow_promotes_the_challenger_as_a_canary_move",
    ),
    note="scoring writes the shadow scores (score_day); train's gate starts the shadow (step_gate)",
)
def judge_shadow(days: dict[str, dict], required_days: int, task_type: str, tolerance: float) -> dict:
    """The verdict on a shadow's days (day -> :func:`shadow_day`): ``pending`` until ``required_days`` of them have
    matured labels; then ``passed`` when the challenger's metric, pooled over those days, is not worse than the
    champion's by more than ``tolerance`` (ROC AUC points; RMSE as a fraction of the champion's), else ``failed``."""
    from driftloop.model.evaluation import primary_metric

    metric, direction = primary_metric(task_type)
    matured = {d: s for d, s in days.items() if s["challenger"] is not None}
    agreements = [s["agreement"] for s in days.values() if s["agreement"] is not None]
    report = {
        "days": sorted(days),
        "matured_days": sorted(matured),
        "required_days": required_days,
        "mean_agreement": float(np.mean(agreements)) if agreements else None,
        "metric": metric,
    }
    if len(matured) < required_days:
        reasons = [f"{len(matured)} of {required_days} shadow days have matured labels"]
        return {**report, "verdict": "pending", "reasons": reasons}
    ours = float(np.mean([s["challenger"] for s in matured.values()]))
    theirs = float(np.mean([s["champion"] for s in matured.values()]))
    gain = ours - theirs if direction == "higher" else (theirs - ours) / abs(theirs)
    passed = gain >= -tolerance
    reasons = [
        f"shadow of {len(matured)} matured days: {metric} {ours:.4f} vs champion {theirs:.4f} ({gain:+.4f}), "
        f"{'within' if passed else 'beyond'} the tolerance {tolerance}; mean agreement "
        f"{report['mean_agreement'] if report['mean_agreement'] is None else round(report['mean_agreement'], 3)}"
    ]
    return {**report, "gain": gain, "verdict": "passed" if passed else "failed", "reasons": reasons}


def finish_shadow(tracking_uri: str, model_name: str, version: str, report: dict):
    """Record a finished shadow on ``version`` and move champion through the registry's gate (kind ``canary``) when
    it passed; returns the gate's outcome (its decision is recorded, so a rerun reuses it)."""
    from driftloop.model import model_registry
    from driftloop.model.promotion import PromotionDecision

    decision = PromotionDecision(report["verdict"] == "passed", report["reasons"])
    outcome = model_registry.gate_version(tracking_uri, model_name, version, lambda champion: decision, "canary")
    model_registry.client(tracking_uri).set_model_version_tag(model_name, version, SHADOW_TAG, report["verdict"])
    return outcome


def shadow_check(day: date, settings) -> dict | None:
    """Judge the shadow challenger on its shadow days up to ``day`` and finish the shadow when it is decided;
    None when no challenger is in shadow."""
    from driftloop.model.training import target_column
    from driftloop.model.training_set import label_events
    from driftloop.usecase.active import active_spec

    version = shadow_version(settings)
    if version is None:
        return None
    key, target = active_spec(settings).entity.join_key, target_column(settings.task_type)
    as_of = active_spec(settings).label.as_of_column
    days = {}
    for folder in sorted(shadow_dir(settings).glob("dt=*")):
        shadow_day_of = date.fromisoformat(folder.name.removeprefix("dt="))
        path = folder / f"v{version}.parquet"
        if shadow_day_of > day or not path.exists():
            continue
        labels = label_events(shadow_day_of, shadow_day_of, settings)
        labels = labels[pd.to_datetime(labels[as_of]).dt.date == shadow_day_of] if not labels.empty else None
        summary = shadow_day(
            pd.read_parquet(path), labels, key, target, settings.task_type, settings.monitoring.quality_min_rows
        )
        days[shadow_day_of.isoformat()] = summary
    report = judge_shadow(days, settings.quality.shadow_days, settings.task_type, settings.quality.shadow_tolerance)
    report["version"] = version
    if report["verdict"] != "pending":
        outcome = finish_shadow(settings.mlflow_tracking_uri, settings.model.name, version, report)
        report["promoted"] = outcome.decision.promote
    return report
