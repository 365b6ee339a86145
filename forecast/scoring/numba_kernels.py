"""Compiled CRPS for numpy arrays: numpy's sort, then one compiled pass per point.

The same O(M log M) formula as :func:`forecast.scoring.kernels.crps_ensemble`, which
remains the reference and the torch path; this is only its fast path on the CPU.
Rows are split over threads: numpy's sort and the nogil pass both release the GIL,
so the cores work in parallel.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

MIN_ROWS_PER_THREAD = 20_000


@njit(nogil=True, cache=True)
def _crps_of_sorted_rows(x, obs, fair, out):  # pragma: no cover - compiled
    n, size = x.shape
    for p in range(n):
        y = obs[p]
        m = size
        while m > 0 and np.isnan(x[p, m - 1]):  # NaN sort last
            m -= 1
        if m == 0 or np.isnan(y):
            out[p] = np.nan
            continue
        skill = 0.0
        spread = 0.0
        for i in range(m):
            skill += abs(x[p, i] - y)
            spread += (2.0 * (i + 1) - m - 1.0) * x[p, i]
        if fair:
            denominator = m * (m - 1.0) if m > 1 else 1.0
        else:
            denominator = m * float(m)
        out[p] = skill / m - spread / denominator


def crps_rows(
    forecast: np.ndarray, obs: np.ndarray, fair: bool, threads: int | None = None
) -> np.ndarray:
    """CRPS of each row of ``forecast`` (n, M) against ``obs`` (n,)."""
    n = forecast.shape[0]
    out = np.empty(n, dtype=forecast.dtype)
    threads = threads or min(os.cpu_count() or 1, max(1, n // MIN_ROWS_PER_THREAD))

    def work(rows: slice) -> None:
        _crps_of_sorted_rows(np.sort(forecast[rows], axis=-1), obs[rows], fair, out[rows])

    bounds = np.linspace(0, n, threads + 1).astype(int)
    pieces = [slice(a, b) for a, b in itertools.pairwise(bounds)]
    if threads == 1:
        work(pieces[0])
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, pieces))
    return out
