"""Training at scale: the project's training step (``driftloop.model.training.train_model``) against a bare
``xgboost.train`` on 1M to 10M label rows with 26 features, each side in a fresh process whose peak resident memory
is read from ``VmHWM`` (:func:`peak_rss_mb`); and the same step on the CPU and on a GPU where one is present
(``bench/gpu_training.sh``).

The label rows are synthetic (the simulator's label events stay in the tens of thousands at the scales the daily
cycle runs at): 26 numeric features, some informative, some noise, with missing values, a binary label from a
logistic model of them, and one timestamp per day over 30 days so that ``time_split`` splits them like a training
set. They are generated once per size and kept under ``<BENCH_DATA>/training/rows-<n>.parquet``.

Both sides train the same number of rounds (``BENCH_TRAIN_ROUNDS``, default 100; early stopping as the training
step's default, which does not stop a model that still improves) with the step's default hyperparameters, build
their DMatrix from the same Parquet file and evaluate the validation split every round.

``python -m bench.training_scale --rows N --side ours|floor --device cpu|cuda`` prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = 26
DAYS = 30
INFORMATIVE = 10


def data_path(rows: int, base: Path) -> Path:
    """Where the label rows of size ``rows`` are kept."""
    return base / "training" / f"rows-{rows}.parquet"


def generate(rows: int, path: Path, seed: int = 5) -> Path:
    """Write ``rows`` synthetic label rows (features ``f00``..``f25``, ``churned``, ``event_timestamp``) to
    ``path`` unless it already holds them; returns the path."""
    import pyarrow.parquet as pq

    if path.exists() and pq.read_metadata(path).num_rows == rows:
        return path
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((rows, FEATURES), dtype=np.float32)
    features[:, 1::3] = np.abs(features[:, 1::3]) * 40  # skewed, count-like columns
    weights = np.zeros(FEATURES, dtype=np.float32)
    weights[:INFORMATIVE] = rng.uniform(-1.0, 1.0, INFORMATIVE)
    logit = features @ weights / 4 + 0.8 * np.sin(features[:, 0]) * features[:, 2] - 1.5
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    features[rng.random((rows, FEATURES)) < 0.02] = np.nan
    frame = pd.DataFrame(features, columns=[f"f{i:02d}" for i in range(FEATURES)])
    frame["churned"] = label
    day = np.sort(rng.integers(0, DAYS, rows))
    frame["event_timestamp"] = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(day, unit="D")
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    frame.to_parquet(scratch, index=False, row_group_size=1_000_000)
    scratch.replace(path)
    return path


def _params(rounds: int) -> dict:
    return {"num_boost_round": rounds, "early_stopping_rounds": 50}


def run_side(path: Path, side: str, device: str, rounds: int) -> dict:
    """Read the rows, split them by time and train with ``side`` (``ours``: ``train_model``; ``floor``: a bare
    ``xgboost.train`` with the same parameters); the seconds exclude reading the file."""
    import xgboost as xgb

    from driftloop.model.training import _booster_params, build_model_matrix, time_split, train_model

    frame = pd.read_parquet(path)
    columns = [c for c in frame.columns if c.startswith("f")]
    split = time_split(frame, "event_timestamp")
    start, cpu_start = time.perf_counter(), time.process_time()
    if side == "ours":
        model = train_model(split, "classification", columns, _params(rounds), seed=7, device_preference=device)
        booster, used = model.booster, model.device
    else:
        params, rounds_, early = _booster_params("classification", _params(rounds), device, 7)
        matrix = {}
        for name in ("train", "validation"):
            part = getattr(split, name)
            matrix[name] = xgb.DMatrix(
                build_model_matrix(part, columns, categorical={}),
                label=part["churned"].to_numpy(dtype="float64"),
                enable_categorical=True,
            )
        booster = xgb.train(
            params,
            matrix["train"],
            rounds_,
            evals=[(matrix["validation"], "validation")],
            early_stopping_rounds=early,
            verbose_eval=False,
        )
        used = json.loads(booster.save_config())["learner"]["generic_param"]["device"]
    seconds = time.perf_counter() - start
    return {
        "side": side,
        "device": used,
        "rows": len(frame),
        "train_rows": len(split.train),
        "features": len(columns),
        "rounds": booster.num_boosted_rounds(),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(time.process_time() - cpu_start, 3),
        "peak_rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started its program: ``VmHWM`` (reset by ``exec``), where
    ``/proc`` has it; ``getrusage`` otherwise, whose maximum on Linux also covers the memory of the parent it was
    forked from (a child of a 9 GB benchmark process reported 9 GB whatever it did)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure_in_subprocess(rows: int, side: str, device: str, base: Path, rounds: int) -> dict:
    """One side in a fresh interpreter (its own peak memory); raises with the child's output when it fails."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.training_scale", "--rows", str(rows), "--side", side, "--device", device],
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_DATA": str(base), "BENCH_TRAIN_ROUNDS": str(rounds)},
        cwd=Path(__file__).resolve().parents[1],
    )
    if out.returncode != 0:
        raise RuntimeError(f"training at {rows:,} rows ({side}, {device}) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Generate the rows if needed and measure one side; prints its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--side", choices=["ours", "floor", "generate"], required=True)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args(argv)
    base = Path(os.environ.get("BENCH_DATA") or Path(__file__).resolve().parents[1] / "data" / "bench").resolve()
    path = generate(args.rows, data_path(args.rows, base))
    if args.side == "generate":
        print(json.dumps({"path": str(path)}))
        return 0
    rounds = int(os.environ.get("BENCH_TRAIN_ROUNDS") or 100)
    print(json.dumps(run_side(path, args.side, args.device, rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
