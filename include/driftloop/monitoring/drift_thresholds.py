"""Drift thresholds that know the sample size: a distance is only a drift when it is beyond sampling noise.

A fixed distance threshold sits inside the noise of small samples: two samples of 24 rows from the same
distribution differ by a normed Wasserstein distance of 0.7 one time in a hundred. So each column's threshold (and
the prediction's) is the larger of the configured effect-size floor and a high quantile
(``DRIFTLOOP_DRIFT_CALIBRATION_QUANTILE``) of the distances between the reference and samples drawn from the
reference itself, at the current sample size, with the same method the verdict uses
(``DRIFTLOOP_DRIFT_CALIBRATION_DRAWS`` draws, seeded). A sample of ``n`` rows is compared with a reference of ``m``
rows that is itself a sample, so the draws have ``n * m / (n + m)`` rows, the size at which a draw compared with the
reference spreads as two independent samples of ``n`` and ``m`` rows do. The rows of a draw are shared by all
columns, like the rows of a real day.

The distances are computed the way Evidently 0.7 computes them (``tests/unit/test_drift_thresholds.py`` checks it
against Evidently's numbers): normed Wasserstein (``wasserstein``: the first Wasserstein distance divided by the
reference's standard deviation, at least 0.001) for numeric columns and Jensen-Shannon (``jensenshannon``: natural
logarithm, over the categories either side has, NaN left out) for categorical ones. Columns configured with another
method keep their floor. A draw of reference rows takes only reference values, so both distances reduce to counts
over the reference's distinct values, computed for many draws at once.

Quantiles are cached per training snapshot (its sha256) and sample size in
``<data root>/drift_thresholds/<sha256>.json``; sizes are rounded down to two significant digits (a smaller sample
has the larger noise, so the rounding errs on the quiet side) so that days of similar size share an entry.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import rel_entr

from driftloop.storage import lake

PREDICTION = "prediction"
CALIBRATED_METHODS = {"numerical": "wasserstein", "categorical": "jensenshannon"}
"""The method per column type whose null distribution is bootstrapped; other methods keep their floor."""
_CELLS_PER_CHUNK = 4_000_000
"""Draws are counted in chunks of at most this many (draw, value) cells, to bound memory."""


def _clean(values: pd.Series) -> pd.Series:
    """The values Evidently compares: infinities and NaN dropped."""
    return values.replace([-np.inf, np.inf], np.nan).dropna()


def _finite(values: pd.Series) -> np.ndarray:
    """A numeric column's finite values as floats (what Evidently compares: infinities and NaN dropped)."""
    array = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return array[np.isfinite(array)]


_FEW_DISTINCT = 0.05
"""A column with at most this share of distinct values (counts, days, codes) is compared through its value counts."""
_PROBE_ROWS = 4096
"""Rows of the first sample that tell a column of few distinct values from a continuous one before counting all."""


def wasserstein_1d(u: np.ndarray, v: np.ndarray) -> float:
    """The first Wasserstein distance between two samples, as ``scipy.stats.wasserstein_distance`` computes it (the
    area between the two empirical distribution functions): through hashed value counts when the samples hold few
    distinct values, else through the two sorted samples."""
    if len(u) == 0 or len(v) == 0:
        return float(stats.wasserstein_distance(u, v))
    probe = u[:_PROBE_ROWS]
    few = pd.Series(probe).nunique() <= max(_FEW_DISTINCT * len(probe), 1)
    u_counts = pd.Series(u).value_counts(sort=False) if few else None
    v_counts = pd.Series(v).value_counts(sort=False) if few else None
    if few and len(u_counts) + len(v_counts) <= _FEW_DISTINCT * (len(u) + len(v)):
        support = np.union1d(u_counts.index.to_numpy(dtype=float), v_counts.index.to_numpy(dtype=float))
        u_cdf = np.cumsum(u_counts.reindex(support, fill_value=0).to_numpy()) / len(u)
        v_cdf = np.cumsum(v_counts.reindex(support, fill_value=0).to_numpy()) / len(v)
        return float(np.sum(np.abs(u_cdf[:-1] - v_cdf[:-1]) * np.diff(support)))
    u_sorted, v_sorted = np.sort(u), np.sort(v)
    everything = np.sort(np.concatenate([u_sorted, v_sorted]), kind="mergesort")
    u_cdf = np.searchsorted(u_sorted, everything[:-1], "right") / len(u)
    v_cdf = np.searchsorted(v_sorted, everything[:-1], "right") / len(v)
    return float(np.sum(np.abs(u_cdf - v_cdf) * np.diff(everything)))


def wasserstein_normed(reference: pd.Series, current: pd.Series) -> float:
    """Evidently's ``wasserstein`` drift score: the first Wasserstein distance over the reference's standard deviation
    (at least 0.001), NaN and infinities left out."""
    reference_values, current_values = _finite(reference), _finite(current)
    return float(wasserstein_1d(reference_values, current_values) / max(float(np.std(reference_values)), 0.001))


def jensenshannon(reference: pd.Series, current: pd.Series) -> float:
    """Evidently's ``jensenshannon`` drift score of a categorical column: the Jensen-Shannon distance (natural
    logarithm) between the category shares, over every category either side has, NaN left out."""
    reference, current = _clean(reference), _clean(current)
    keys = pd.Index(reference.unique()).union(pd.Index(current.unique()))
    p = reference.value_counts().reindex(keys, fill_value=0).to_numpy() / len(reference)
    q = current.value_counts().reindex(keys, fill_value=0).to_numpy() / len(current)
    return float(_js(p[None, :], q[None, :])[0])


def _js(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance of each row pair of share arrays, as ``scipy.spatial.distance.jensenshannon``."""
    p = p / p.sum(axis=1, keepdims=True)
    q = q / q.sum(axis=1, keepdims=True)
    m = (p + q) / 2.0
    return np.sqrt(np.maximum((rel_entr(p, m).sum(axis=1) + rel_entr(q, m).sum(axis=1)) / 2.0, 0.0))


def method_of(column: str, categorical: Iterable[str], num_method: str, cat_method: str) -> str:
    """The drift method a column is compared with (the prediction is numeric)."""
    return cat_method if column in set(categorical) else num_method


def calibrated(column: str, categorical: Iterable[str], num_method: str, cat_method: str) -> bool:
    """Whether the column's method is one whose sample-size noise this module bootstraps."""
    kind = "categorical" if column in set(categorical) else "numerical"
    return method_of(column, categorical, num_method, cat_method) == CALIBRATED_METHODS[kind]


def distances(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], categorical: Iterable[str]
) -> dict[str, float]:
    """The drift score of each column (normed Wasserstein for numeric, Jensen-Shannon for categorical ones), equal to
    Evidently's ``ValueDrift`` with those methods, without building a report."""
    categories = set(categorical)
    return {c: (jensenshannon if c in categories else wasserstein_normed)(reference[c], current[c]) for c in columns}


@dataclass(frozen=True)
class _Null:
    """A reference column as codes into its distinct values, ready for many draws at once."""

    codes: np.ndarray
    """Per reference row, the index of its value among the distinct ones, or -1 for NaN."""
    shares: np.ndarray
    """Share of the reference's non-NaN rows per distinct value (Jensen-Shannon) or their cumulative share
    (Wasserstein)."""
    widths: np.ndarray
    """Wasserstein only: the gaps between consecutive distinct values over the reference's standard deviation."""
    categorical: bool

    @classmethod
    def of(cls, values: pd.Series, categorical: bool) -> _Null:
        """The null of one reference column."""
        values = values.replace([-np.inf, np.inf], np.nan)
        missing = values.isna().to_numpy()
        codes, uniques = pd.factorize(values.where(~missing), sort=True, use_na_sentinel=True)
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques)).astype(float)
        shares = counts / counts.sum()
        if categorical:
            return cls(codes=codes, shares=shares, widths=np.empty(0), categorical=True)
        present = np.asarray(uniques, dtype=float)
        norm = max(float(np.std(values[~missing].astype(float))), 0.001)
        return cls(codes=codes, shares=np.cumsum(shares), widths=np.diff(present) / norm, categorical=False)

    def distances(self, rows: np.ndarray) -> np.ndarray:
        """The distance between the reference and each draw (one row of ``rows`` per draw, reference row indices)."""
        k = len(self.shares)
        codes = self.codes[rows]
        valid = codes >= 0
        offsets = np.arange(len(rows))[:, None] * k
        counts = np.bincount((codes + offsets)[valid], minlength=len(rows) * k).reshape(len(rows), k).astype(float)
        sizes = counts.sum(axis=1, keepdims=True)
        shares = counts / np.maximum(sizes, 1.0)
        if self.categorical:
            return _js(np.broadcast_to(self.shares, shares.shape), shares)
        cumulative = np.cumsum(shares, axis=1)
        return np.abs(cumulative[:, :-1] - self.shares[None, :-1]) @ self.widths


def draw_size(current_rows: int, reference_rows: int) -> int:
    """Rows per draw: ``n * m / (n + m)``, the size whose distance to the reference spreads as a current sample of
    ``n`` rows and a reference sample of ``m`` rows do (at least 1)."""
    return max(1, round(current_rows * reference_rows / (current_rows + reference_rows)))


def size_bucket(current_rows: int) -> int:
    """The sample size a calibration is made and cached for: ``current_rows`` rounded down to two significant
    digits (smaller samples are noisier, so the threshold errs on the quiet side)."""
    if current_rows < 100:
        return max(current_rows, 1)
    step = 10 ** (int(math.log10(current_rows)) - 1)
    return current_rows // step * step


def null_quantiles(
    reference: pd.DataFrame,
    columns: list[str],
    categorical: Iterable[str],
    current_rows: int,
    quantile: float,
    draws: int,
    seed: int,
) -> dict[str, float]:
    """Per column, the ``quantile`` of the distances between ``reference`` and ``draws`` samples of its own rows
    sized for ``current_rows`` current rows (see :func:`draw_size`); seeded, so the same inputs give the same
    numbers."""
    categories = set(categorical)
    nulls = {c: _Null.of(reference[c], c in categories) for c in columns}
    size = draw_size(current_rows, len(reference))
    widest = max([len(n.shares) for n in nulls.values()] + [size])
    chunk = max(1, _CELLS_PER_CHUNK // widest)
    rng = np.random.default_rng(seed)
    found: dict[str, list[np.ndarray]] = {c: [] for c in columns}
    for start in range(0, draws, chunk):
        rows = rng.integers(0, len(reference), size=(min(chunk, draws - start), size))
        for column, null in nulls.items():
            found[column].append(null.distances(rows))
    return {c: float(np.nanquantile(np.concatenate(found[c]), quantile)) for c in columns}


@dataclass(frozen=True)
class Thresholds:
    """The distances a day is judged by: per column and for the prediction, and the severe distance per column."""

    columns: dict[str, float]
    severe: dict[str, float]
    prediction: float
    noise: dict[str, float]
    """The bootstrapped quantile per calibrated column (and ``prediction``) at ``sample_size`` rows."""
    sample_size: int

    def to_json(self) -> dict:
        """The thresholds as the drift record stores them."""
        return {
            "columns": self.columns,
            "severe": self.severe,
            "prediction": self.prediction,
            "noise": self.noise,
            "sample_size": self.sample_size,
        }


def thresholds(
    noise: dict[str, float],
    columns: list[str],
    categorical: Iterable[str],
    config,
    sample_size: int,
) -> Thresholds:
    """Thresholds from the bootstrapped ``noise`` quantiles and the monitoring settings ``config``: each column's
    threshold is the larger of its floor (``num_threshold``/``cat_threshold``) and its noise; its severe distance is
    ``severe_threshold`` (or the floor, if that is larger) scaled by the same factor (threshold ÷ floor), so it too
    stays out of the noise; the prediction's threshold is the larger of ``prediction_threshold`` and its noise."""
    categories = set(categorical)
    floors = {c: config.cat_threshold if c in categories else config.num_threshold for c in columns}
    chosen = {c: max(floors[c], noise.get(c, 0.0)) for c in columns}
    return Thresholds(
        columns=chosen,
        severe={c: max(config.severe_threshold, floors[c]) * chosen[c] / floors[c] for c in columns},
        prediction=max(config.prediction_threshold, noise.get(PREDICTION, 0.0)),
        noise=noise,
        sample_size=sample_size,
    )


def calibrate(
    reference: pd.DataFrame,
    columns: list[str],
    categorical: Iterable[str],
    current_rows: int,
    config,
    seed: int,
    cache: tuple[Path, dict] | None = None,
) -> Thresholds:
    """The thresholds for a day of ``current_rows`` rows against ``reference`` (which carries ``prediction``), with
    the monitoring settings ``config``. ``cache`` is a JSON file and the key that identifies the reference there
    (snapshot sha256, model version, ...): quantiles found under the key and size are reused, new ones added."""
    categorical = set(categorical)
    size = size_bucket(current_rows)
    measured = [
        c
        for c in [*columns, PREDICTION]
        if calibrated(c, categorical, config.num_method, config.cat_method) and c in reference.columns
    ]
    key = {
        **(cache[1] if cache else {}),
        "reference_rows": len(reference),
        "sample_size": size,
        "quantile": config.calibration_quantile,
        "draws": config.calibration_draws,
        "seed": seed,
        "num_method": config.num_method,
        "cat_method": config.cat_method,
        "columns": measured,
    }
    entries = _read_cache(cache[0]) if cache else []
    noise = next((e["noise"] for e in entries if e["key"] == key), None)
    if noise is None:
        noise = null_quantiles(
            reference, measured, categorical, size, config.calibration_quantile, config.calibration_draws, seed
        )
        if cache:
            _write_cache(cache[0], [*entries, {"key": key, "noise": noise}])
    return thresholds(noise, columns, categorical, config, size)


def _read_cache(path: Path) -> list[dict]:
    try:
        return json.loads(path.read_text())["entries"]
    except (OSError, ValueError, KeyError):
        return []


def _write_cache(path: Path, entries: list[dict]) -> None:
    """Replace the cache file atomically (a concurrent writer's entry may be lost, and is computed again)."""
    with lake.replace_file(path) as scratch:
        scratch.write_text(json.dumps({"entries": entries}, indent=1, sort_keys=True) + "\n")
