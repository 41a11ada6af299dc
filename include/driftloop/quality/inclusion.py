"""Inclusion: the primary metric's parity across the values of each slice the spec declares sensitive
(``[inclusion] sensitive_slices``), on the model card, and a bound the gate can apply (``DRIFTLOOP_MAX_PARITY_GAP``).

The gap of a slice is the spread (best minus worst value) of the primary metric over its scored values in the
test split; for a metric without a fixed scale (RMSE) it is relative to the overall value, as the gate's margins.
"""

from __future__ import annotations

from driftloop.quality.registry import covers

RELATIVE_METRICS = {"rmse"}


@covers(
    "model.7",
    stage="driftloop.model.training_run:step_evaluate",
    tests=(
        "tests/unit/test_quality_inclusion.py::test_the_parity_gap_is_the_spread_of_the_metric_across_a_sensitive_slice",
        "tests/unit/test_quality_inclusion.py::test_the_gate_refuses_a_gap_beyond_the_bound",
    ),
    note="the gate (step_gate) applies DRIFTLOOP_MAX_PARITY_GAP when it is set",
)
def parity_gaps(evaluation: dict, sensitive: tuple[str, ...], metric: str) -> dict[str, dict]:
    """Per sensitive slice: its scored values' ``metric``, the best and worst of them and the gap (relative to the
    overall value for RMSE); a slice with fewer than two scored values has no gap (None)."""
    overall = float(evaluation["overall"][metric])
    gaps = {}
    for name in sensitive:
        values = {
            key.split("=", 1)[1]: float(metrics[metric])
            for key, metrics in evaluation.get("slices", {}).items()
            if key.split("=", 1)[0] == name
        }
        gap = max(values.values()) - min(values.values()) if len(values) >= 2 else None
        if gap is not None and metric in RELATIVE_METRICS:
            gap = gap / overall if overall else None
        gaps[name] = {"values": values, "gap": gap, "relative": metric in RELATIVE_METRICS}
    return gaps


def gap_reasons(gaps: dict[str, dict], bound: float) -> tuple[bool, list[str]]:
    """Whether every sensitive slice's gap is within ``bound`` (0: no bound), and the sentences for the gate."""
    reasons, passed = [], True
    for name, gap in gaps.items():
        if gap["gap"] is None:
            reasons.append(f"sensitive slice {name}: fewer than two scored values, no parity gap")
        elif bound > 0 and gap["gap"] > bound:
            passed = False
            reasons.append(f"parity gap on sensitive slice {name} is {gap['gap']:.4f}, beyond {bound}")
        else:
            within = f"within {bound}" if bound > 0 else "not bounded (DRIFTLOOP_MAX_PARITY_GAP=0)"
            reasons.append(f"parity gap on sensitive slice {name} is {gap['gap']:.4f}, {within}")
    return passed, reasons


def inclusion_section(gaps: dict[str, dict], metric: str) -> str:
    """The model card's Markdown section on the sensitive slices."""
    if not gaps:
        return "## Inclusion\n\nThe use case declares no sensitive slices.\n"
    lines = ["## Inclusion", "", f"| sensitive slice | {metric} per value | parity gap |", "| --- | --- | --- |"]
    for name, gap in gaps.items():
        values = ", ".join(f"{v}: {m:.4f}" for v, m in sorted(gap["values"].items()))
        shown = "n/a" if gap["gap"] is None else f"{gap['gap']:.4f}{' (relative)' if gap['relative'] else ''}"
        lines.append(f"| {name} | {values} | {shown} |")
    return "\n".join(lines) + "\n"
