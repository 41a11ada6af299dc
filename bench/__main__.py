"""``python -m bench``: prepare the data at each scale, measure every stage, print the table, write the JSON.

Scales come from ``SCALES`` (comma-separated feature rows over the dataset's 16 days, default ``1600000,16000000``:
100k and 1M entities scored a day, growth exponents between the smallest and largest) or ``SCALE`` (one scale);
repetitions from ``BENCH_REPEAT`` (default 3 at up to 2M feature rows, 1 above: a repetition at 1M entities a day
takes minutes per stage);
stages from ``BENCH_STAGES`` (comma-separated, default all); data is kept under ``BENCH_DATA`` (default ``data/bench``).
Training at scale uses ``BENCH_TRAIN_ROWS`` (default 1M and 10M label rows), ``BENCH_TRAIN_ROUNDS`` (default 100) and
``BENCH_TRAIN_REPEAT`` (default 1). ``BENCH_QUICK=1`` sets small defaults for whatever of these is unset (100,000
feature rows, one repetition, 20,000 training rows of 20 rounds): a run of every stage in a few minutes, for tests.
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


QUICK = {
    "SCALE": "100000",
    "BENCH_REPEAT": "1",
    "BENCH_TRAIN_ROWS": "20000",
    "BENCH_TRAIN_ROUNDS": "20",
}
"""The defaults of ``BENCH_QUICK=1``."""


DEFAULT_SCALES = "1600000,16000000"
"""100k and 1M entities scored a day."""
LARGE_SCALE = 2_000_000
"""Above this many feature rows a stage is measured once unless ``BENCH_REPEAT`` says otherwise."""


def _scales() -> list[int]:
    raw = os.environ.get("SCALES") or os.environ.get("SCALE") or DEFAULT_SCALES
    return sorted(int(float(s)) for s in raw.split(",") if s.strip())


def repetitions(scale: int) -> int:
    """``BENCH_REPEAT``, else 3 up to :data:`LARGE_SCALE` feature rows and 1 above."""
    raw = os.environ.get("BENCH_REPEAT")
    return int(raw) if raw else (3 if scale <= LARGE_SCALE else 1)


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


def training_growth(results: list[harness.StageResult]) -> dict:
    """The exponent of the training step's seconds between the smallest and largest training-at-scale sizes."""
    sized = sorted((r.rows, r) for r in results if r.stage.startswith("training_at_"))
    if len(sized) < 2:
        return {}
    (small, first), (large, last) = sized[0], sized[-1]
    return {
        "rows": [rows for rows, _ in sized],
        "ours_s": [round(r.ours.median_s, 3) for _, r in sized],
        "ratios": [round(r.ratio, 3) for _, r in sized],
        "exponent": round(math.log(last.ours.median_s / first.ours.median_s) / math.log(large / small), 3),
    }


def main() -> int:
    """Run the benchmarks; print the table(s) and write ``bench/results/<date>-<commit>.json``."""
    if os.environ.get("BENCH_QUICK") == "1":
        for key, value in QUICK.items():
            if not (key == "SCALE" and os.environ.get("SCALES")):
                os.environ.setdefault(key, value)
    scales = _scales()
    selected = [s.strip() for s in (os.environ.get("BENCH_STAGES") or "").split(",") if s.strip()] or None
    base = Path(os.environ.get("BENCH_DATA") or REPO_ROOT / "data" / "bench").resolve()
    per_scale, feature_rows = {}, {}
    for scale in scales:
        print(f"preparing {scale:,} feature rows under {base} ...", flush=True)
        data = dataset.prepare(scale, base)
        chosen = selected or stages.STAGES
        if scale != scales[-1]:
            # Stages that do not depend on the dataset's scale run once, at the largest scale.
            chosen = [s for s in chosen if s not in stages.SCALE_FREE] or chosen
        per_scale[scale] = stages.run_all(data, repetitions(scale), chosen, repetitions(0))
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
        "repetitions": {str(s): repetitions(s) for s in scales},
        "stages_selected": selected or "all",
        "stages": {r.stage: r.to_json() for r in per_scale[primary]},
        "by_scale": {str(s): {r.stage: r.to_json() for r in results} for s, results in per_scale.items()},
        "growth": growth(per_scale),
        "training_growth": training_growth(per_scale[primary]),
        "gpu": next(
            (
                r.notes.get("gpu") or f"CPU/GPU {r.notes['cpu_over_gpu']}"
                for r in per_scale[primary]
                if r.stage.startswith("training_at_")
            ),
            None,
        ),
    }
    # A run of chosen stages never overwrites the full run of the same commit.
    subset = f"-{'+'.join(selected)}" if selected else ""
    out = REPO_ROOT / "bench" / "results" / f"{now:%Y-%m-%d}-{commit}{subset}.json"
    harness.write_results(out, payload)
    if len(scales) > 1:
        print(f"\ngrowth of ours_s from {scales[0]:,} to {scales[-1]:,} rows:")
        for stage, entry in payload["growth"].items():
            print(f"  {stage:<22} exponent {entry.get('exponent', '-')}, ratios {entry['ratios']}")
    if payload["training_growth"]:
        entry = payload["training_growth"]
        print(f"training step from {entry['rows'][0]:,} to {entry['rows'][-1]:,} rows: exponent {entry['exponent']}")
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
