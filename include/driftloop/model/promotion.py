"""The champion gate: whether a newly trained challenger replaces the champion, and why.

All inputs are ``driftloop.model.evaluation.evaluate`` results on the same fresh test split, compared on the task type's
primary metric (ROC AUC, higher is better; RMSE, lower is better). A challenger is promoted when it beats the
baseline, and either there is no champion, or it beats the champion by at least ``margin`` and is not worse than
the champion by more than ``slice_tolerance`` on any slice both were scored on. A metric that is missing or NaN
never counts as better. ``force`` promotes regardless, saying so. A worse challenger is never promoted otherwise.
The first reason names the data the decision is about when the caller says it (``compared_on``: which days, how
many rows).

``margin`` and ``slice_tolerance`` are in the metric's units when it has a fixed scale (ROC AUC, 0 to 1) and
relative to the champion's value when it has none (RMSE: 0.05 means 5 % of the champion's RMSE), so one setting
means the same on any data set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from driftloop.model.evaluation import primary_metric

RELATIVE_METRICS = {"rmse"}
"""Metrics without a fixed scale: gains over the champion are compared as a fraction of the champion's value."""


@dataclass(frozen=True)
class PromotionDecision:
    """The verdict and the sentences that explain it, for the task log and MLflow."""

    promote: bool
    reasons: list[str] = field(default_factory=list)


def _gain(value: float, reference: float, direction: str, relative: bool = False) -> float:
    """How much better ``value`` is than ``reference`` (positive: better; NaN when either is NaN), as a fraction of
    ``reference`` when ``relative``."""
    gain = value - reference if direction == "higher" else reference - value
    if relative:
        return gain / abs(reference) if reference else float("nan")
    return gain


def _overall(evaluation: dict, role: str, metric: str) -> float:
    try:
        return float(evaluation["overall"][metric])
    except KeyError as exc:
        raise ValueError(f"the {role} evaluation has no overall {metric!r}: pass evaluate()'s result") from exc


def _slice_reasons(
    challenger: dict, champion: dict, metric: str, direction: str, slice_tolerance: float
) -> tuple[bool, list[str]]:
    """Whether no shared slice is worse than the champion beyond the tolerance, and the sentences saying so."""
    shared = sorted(set(challenger.get("slices", {})) & set(champion.get("slices", {})))
    failures = []
    relative = metric in RELATIVE_METRICS
    for name in shared:
        ours, theirs = challenger["slices"][name][metric], champion["slices"][name][metric]
        gain = _gain(ours, theirs, direction, relative)
        if not gain >= -slice_tolerance:
            failures.append(
                f"worse than the champion on slice {name} beyond the tolerance {slice_tolerance}"
                f"{' (relative)' if relative else ''}: "
                f"{metric} {ours:.4f} vs {theirs:.4f} ({gain:+.4f})"
            )
    if failures:
        return False, failures
    if not shared:
        return True, ["no slice was scored for both the challenger and the champion"]
    return True, [
        f"not worse than the champion beyond the tolerance {slice_tolerance} on any of {len(shared)} slices "
        f"({', '.join(shared)})"
    ]


def decide_promotion(
    challenger: dict,
    champion: dict | None,
    baseline: dict,
    task_type: str,
    margin: float,
    slice_tolerance: float,
    force: bool = False,
    compared_on: str | None = None,
) -> PromotionDecision:
    """Apply the gate to ``evaluate`` results of the challenger, the champion (None when there is none) and the
    baseline, all on the same test split (``compared_on`` says which, as the first reason); see the module
    docstring for the rules."""
    if margin < 0 or slice_tolerance < 0:
        raise ValueError(f"margin={margin} and slice_tolerance={slice_tolerance} must not be negative")
    metric, direction = primary_metric(task_type)
    better = "higher" if direction == "higher" else "lower"
    ours, base = _overall(challenger, "challenger", metric), _overall(baseline, "baseline", metric)
    reasons = [compared_on] if compared_on else []
    beats_baseline = _gain(ours, base, direction) > 0
    reasons.append(
        f"{'beats' if beats_baseline else 'does not beat'} the baseline on {metric} ({better} is better): "
        f"{ours:.4f} vs {base:.4f}"
    )
    passed = beats_baseline
    if champion is None:
        reasons.append("there is no champion yet")
    else:
        theirs = _overall(champion, "champion", metric)
        relative = metric in RELATIVE_METRICS
        gain = _gain(ours, theirs, direction, relative)
        scale = " of the champion's value" if relative else ""
        if gain >= margin:
            reasons.append(
                f"beats the champion on {metric} by {gain:.4f}{scale} (margin {margin}): {ours:.4f} vs {theirs:.4f}"
            )
        else:
            passed = False
            reasons.append(
                f"does not beat the champion on {metric} by the margin {margin}{scale}: {ours:.4f} vs {theirs:.4f} "
                f"({gain:+.4f})"
            )
        slices_pass, slice_reasons = _slice_reasons(challenger, champion, metric, direction, slice_tolerance)
        passed = passed and slices_pass
        reasons.extend(slice_reasons)
    if force:
        reasons.append(
            "force_promote was set; the gate passed on its own" if passed else "promoted anyway: force_promote was set"
        )
        return PromotionDecision(True, reasons)
    return PromotionDecision(passed, reasons)
