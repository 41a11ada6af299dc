"""Timing, peak memory and reporting for the benchmarks: every stage is measured as driftloop's code path and its
floor, side by side in the same run, a few repetitions each.

A measurement is the median and spread (min..max) of wall-clock seconds over ``repeat`` runs, the median CPU seconds
of this process (all its threads; the machine is shared, so CPU seconds are steadier than wall-clock ones), and the
peak resident memory above the level before the run, sampled every 20 ms by a background thread. Stages that run in
a child process report that process's own peak (``VmHWM``, see ``training_scale.peak_rss_mb``) instead.
"""

from __future__ import annotations

import gc
import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil


@dataclass
class Measurement:
    """Seconds of each repetition and the peak extra memory of the worst one."""

    seconds: list[float]
    peak_mb: float
    result: object = None
    cpu_seconds: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        """Median wall-clock seconds."""
        return statistics.median(self.seconds)

    @property
    def median_cpu_s(self) -> float | None:
        """Median CPU seconds, where measured."""
        return statistics.median(self.cpu_seconds) if self.cpu_seconds else None


class _PeakSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process()
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def stop(self) -> float:
        self.done.set()
        self.join()
        self.peak = max(self.peak, self.process.memory_info().rss)
        return (self.peak - self.baseline) / 2**20


def measure(
    function: Callable[[], object], repeat: int, setup: Callable[[], None] | None = None, warmup: bool = False
) -> Measurement:
    """Run ``function`` ``repeat`` times (``setup`` before each, untimed); keep the last result. ``warmup`` runs it
    once more first, untimed, so that neither side of a comparison pays for the process's first imports and
    connections (for stages that take seconds, where those would be most of the time)."""
    seconds, cpu, peaks, result = [], [], [], None
    if warmup:
        if setup:
            setup()
        function()
    for _ in range(repeat):
        if setup:
            setup()
        gc.collect()
        sampler = _PeakSampler()
        sampler.start()
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            result = function()
        finally:
            elapsed, cpu_elapsed = time.perf_counter() - start, time.process_time() - cpu_start
            peaks.append(sampler.stop())
        seconds.append(elapsed)
        cpu.append(cpu_elapsed)
    return Measurement(seconds=seconds, peak_mb=max(peaks), result=result, cpu_seconds=cpu)


@dataclass
class StageResult:
    """One stage: driftloop against its floor."""

    stage: str
    ours: Measurement
    floor: Measurement
    target: float | None
    rows: int
    notes: dict = field(default_factory=dict)
    min_rows_per_s: float | None = None
    max_peak_mb: float | None = None

    @property
    def meets_target(self) -> bool:
        """The stage's target: a ratio, or a throughput and memory bound where the issue sets those instead."""
        if self.min_rows_per_s is not None:
            fast = self.rows / self.ours.median_s >= self.min_rows_per_s
            return fast and (self.max_peak_mb is None or self.ours.peak_mb < self.max_peak_mb)
        return self.target is not None and self.ratio <= self.target

    @property
    def ratio(self) -> float:
        """ours ÷ floor on median seconds."""
        return self.ours.median_s / self.floor.median_s if self.floor.median_s > 0 else float("inf")

    def to_json(self) -> dict:
        """The stage as the results file stores it."""
        return {
            "ours_s": round(self.ours.median_s, 4),
            "floor_s": round(self.floor.median_s, 4),
            "ratio": round(self.ratio, 3),
            "target": self.target,
            "meets_target": self.meets_target,
            "ours_spread_s": [round(min(self.ours.seconds), 4), round(max(self.ours.seconds), 4)],
            "floor_spread_s": [round(min(self.floor.seconds), 4), round(max(self.floor.seconds), 4)],
            "repetitions": len(self.ours.seconds),
            **({"ours_cpu_s": round(self.ours.median_cpu_s, 4)} if self.ours.cpu_seconds else {}),
            **({"floor_cpu_s": round(self.floor.median_cpu_s, 4)} if self.floor.cpu_seconds else {}),
            "peak_mb": round(self.ours.peak_mb, 1),
            "floor_peak_mb": round(self.floor.peak_mb, 1),
            "rows": self.rows,
            "ours_rows_per_s": round(self.rows / self.ours.median_s) if self.ours.median_s else None,
            **({"target_rows_per_s": self.min_rows_per_s} if self.min_rows_per_s is not None else {}),
            **({"target_peak_mb": self.max_peak_mb} if self.max_peak_mb is not None else {}),
            **self.notes,
        }


def table(results: list[StageResult], scale: int, feature_rows: int) -> str:
    """The printed table: one line per stage."""
    lines = [
        f"driftloop benchmarks at SCALE={scale:,} ({feature_rows:,} feature rows)",
        f"{'stage':<22}{'ours s':>10}{'floor s':>10}{'ratio':>8}{'target':>8}  {'ok':<4}{'peak MB':>9}{'rows':>11}"
        "  notes",
    ]
    for r in results:
        notes = ", ".join(f"{k}={v}" for k, v in r.notes.items())
        lines.append(
            f"{r.stage:<22}{r.ours.median_s:>10.3f}{r.floor.median_s:>10.3f}{r.ratio:>8.2f}"
            f"{'-' if r.target is None else format(r.target, '.2f'):>8}  "
            f"{'yes' if r.meets_target else 'NO':<4}{r.ours.peak_mb:>9.0f}{r.rows:>11,}  {notes}"
        )
    return "\n".join(lines)


def write_results(path: Path, payload: dict) -> None:
    """Write the results JSON (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


def measurement_json(measurement: Measurement) -> dict:
    """A bare measurement as JSON (no result object)."""
    data = asdict(measurement)
    data.pop("result", None)
    return data
