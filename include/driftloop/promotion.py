"""The champion gate: whether a newly trained challenger replaces the champion, and why.

All inputs are ``driftloop.evaluation.evaluate`` results on the same fresh test split. A challenger is promoted when
it beats the baseline on the primary metric and either there is no champion, or it beats the champion by ``margin``
and is not worse than the champion by more than ``slice_tolerance`` on any slice both were scored on. ``force``
promotes regardless, saying so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from driftloop.evaluation import primary_metric


@dataclass(frozen=True)
class PromotionDecision:
    """The verdict and the sentences that explain it, for the task log and MLflow."""

    promote: bool
    reasons: list[str] = field(default_factory=list)


def _gain(value: float, reference: float, direction: str) -> float:
    """How much better ``value`` is than ``reference`` (positive: better) for a metric of that direction."""
    return value - reference if direction == "higher" else reference - value


def decide_promotion(
    challenger: dict,
    champion: dict | None,
    baseline: dict,
    task_type: str,
    margin: float,
    slice_tolerance: float,
    force: bool = False,
) -> PromotionDecision:
    """Apply the gate to evaluation results; see the module docstring for the rules."""
    metric, direction = primary_metric(task_type)
    ours = challenger["overall"][metric]
    reasons = []
    passed = True
    base = baseline["overall"][metric]
    if _gain(ours, base, direction) > 0:
        reasons.append(f"beats the baseline on {metric}: {ours:.4f} vs {base:.4f}")
    else:
        passed = False
        reasons.append(f"does not beat the baseline on {metric}: {ours:.4f} vs {base:.4f}")
    if champion is None:
        reasons.append("there is no champion yet")
    else:
        theirs = champion["overall"][metric]
        gain = _gain(ours, theirs, direction)
        if gain >= margin:
            reasons.append(
                f"beats the champion on {metric} by {gain:.4f} (margin {margin}): {ours:.4f} vs {theirs:.4f}"
            )
        else:
            passed = False
            reasons.append(f"does not beat the champion on {metric} by the margin {margin}: {ours:.4f} vs {theirs:.4f}")
        for name in sorted(set(challenger["slices"]) & set(champion["slices"])):
            ours_slice, theirs_slice = challenger["slices"][name][metric], champion["slices"][name][metric]
            if _gain(ours_slice, theirs_slice, direction) < -slice_tolerance:
                passed = False
                reasons.append(
                    f"worse than the champion on slice {name} beyond the tolerance {slice_tolerance}: "
                    f"{metric} {ours_slice:.4f} vs {theirs_slice:.4f}"
                )
    if force and not passed:
        reasons.append("promoted anyway: force_promote was set")
        return PromotionDecision(True, reasons)
    return PromotionDecision(passed, reasons)
