"""``python -m bench``: prepare the data at each scale, measure every stage, print the table, write the JSON.

Scales come from ``SCALE`` (feature rows, default 1,000,000) or ``SCALES`` (comma-separated, for growth exponents);
repetitions from ``BENCH_REPEAT`` (default 3);
stages from ``BENCH_STAGES`` (comma-separated, default all); data is kept under ``BENCH_DATA`` (default ``data/bench``).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import dataset, harness, stages

REPO_ROOT = Path(__file__).resolve().parents[1]


def _scales() -> list[int]:
    raw = os.environ.get("SCALES") or os.environ.get("SCALE") or "1000000"
    return sorted(int(float(s)) for s in raw.split(",") if s.strip())


def growth(per_scale: dict[int, list[harness.StageResult]]) -> dict:
    """Per stage: the seconds and ratios at each scale and the exponent of ours_s between the smallest and largest
    scale (1: linear; above 1: superlinear)."""
    scales = sorted(per_scale)
    out = {}
    for stage in [r.stage for r in per_scale[scales[0]]]:
        rows = {s: next(r for r in per_scale[s] if r.stage == stage) for s in scales}
        entry = {
            "scales": scales,
            "ours_s": [round(rows[s].ours.median_s, 4) for s in scales],
            "ratios": [round(rows[s].ratio, 3) for s in scales],
        }
        if len(scales) > 1 and rows[scales[0]].ours.median_s > 0:
            entry["exponent"] = round(
                math.log(rows[scales[-1]].ours.median_s / rows[scales[0]].ours.median_s)
                / math.log(scales[-1] / scales[0]),
                3,
            )
        out[stage] = entry
    return out


def main() -> int:
    """Run the benchmarks; print the table(s) and write ``bench/results/<date>-<commit>.json``."""
    scales = _scales()
    repeat = int(os.environ.get("BENCH_REPEAT") or 3)
    selected = [s.strip() for s in (os.environ.get("BENCH_STAGES") or "").split(",") if s.strip()] or None
    base = Path(os.environ.get("BENCH_DATA") or REPO_ROOT / "data" / "bench").resolve()
    per_scale, feature_rows = {}, {}
    for scale in scales:
        print(f"preparing {scale:,} feature rows under {base} ...", flush=True)
        data = dataset.prepare(scale, base)
        per_scale[scale] = stages.run_all(data, repeat, selected)
        feature_rows[scale] = data.feature_rows()
        print(harness.table(per_scale[scale], scale, feature_rows[scale]), flush=True)
    primary = scales[-1]
    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT
        ).stdout.strip()
        or "unknown"
    )
    now = datetime.now(UTC)
    payload = {
        "scale": primary,
        "feature_rows": feature_rows[primary],
        "created_at": now.isoformat(timespec="seconds"),
        "commit": commit,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "repetitions": repeat,
        "stages_selected": selected or "all",
        "stages": {r.stage: r.to_json() for r in per_scale[primary]},
        "by_scale": {str(s): {r.stage: r.to_json() for r in results} for s, results in per_scale.items()},
        "growth": growth(per_scale),
    }
    # A run of chosen stages never overwrites the full run of the same commit.
    subset = f"-{'+'.join(selected)}" if selected else ""
    out = REPO_ROOT / "bench" / "results" / f"{now:%Y-%m-%d}-{commit}{subset}.json"
    harness.write_results(out, payload)
    if len(scales) > 1:
        print(f"\ngrowth of ours_s from {scales[0]:,} to {scales[-1]:,} rows:")
        for stage, entry in payload["growth"].items():
            print(f"  {stage:<22} exponent {entry.get('exponent', '-')}, ratios {entry['ratios']}")
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
