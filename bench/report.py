"""The README's Performance table from a results file: ``python -m bench.report bench/results/<file>.json``.

One row per stage and scale (the smallest scale's rows first, then the largest's, then training at scale), with
wall-clock and CPU seconds of both sides, the ratio against its target, peak memory and the growth exponent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HEADER = (
    "| stage | scale (feature rows) | ours s | floor s | ratio | target | met | ours CPU s | floor CPU s | peak MB "
    "| rows | exponent |\n| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
)


def _target(stage: dict) -> str:
    if "target_rows_per_s" in stage:
        return f"≥{stage['target_rows_per_s']:,}/s, <{stage.get('target_peak_mb', '-')} MB"
    return "-" if stage.get("target") is None else f"{stage['target']:.2f}"


def _number(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def rows(payload: dict) -> list[str]:
    """The table's Markdown rows: every stage at every scale it ran at."""
    growth = payload.get("growth", {})
    lines = []
    for scale, stages in sorted(payload["by_scale"].items(), key=lambda item: int(item[0])):
        for name, stage in stages.items():
            exponent = growth.get(name, {}).get("exponent") if int(scale) == payload["scale"] else None
            rate = f" ({stage['ours_rows_per_s']:,}/s)" if "target_rows_per_s" in stage else ""
            lines.append(
                f"| {name} | {int(scale):,} | {stage['ours_s']:.3f}{rate} | {stage['floor_s']:.3f} | "
                f"{stage['ratio']:.2f} | {_target(stage)} | {'yes' if stage['meets_target'] else 'NO'} | "
                f"{_number(stage.get('ours_cpu_s'))} | {_number(stage.get('floor_cpu_s'))} | "
                f"{stage['peak_mb']:.0f} | {stage['rows']:,} | {_number(exponent)} |"
            )
    return lines


def markdown(payload: dict) -> str:
    """The whole table, header included."""
    return "\n".join([HEADER, *rows(payload)])


def main(argv: list[str]) -> int:
    """Print the table of the results file ``argv[0]``."""
    if len(argv) != 1:
        print("usage: python -m bench.report bench/results/<file>.json", file=sys.stderr)
        return 2
    print(markdown(json.loads(Path(argv[0]).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
