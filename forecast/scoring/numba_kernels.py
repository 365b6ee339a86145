"""Compiled CRPS for numpy arrays: sorted runs of members, merged by compiled passes.

The same O(M log M) formula as :func:`forecast.scoring.kernels.crps_ensemble`, which
remains the reference and the torch path; this is only its fast path on the CPU.

Why runs: numpy's ``np.sort`` sorts a row of up to 256 64-bit values (512 32-bit ones)
with a vectorised sorting network, about 2 ns a member on AVX-512, but sorts longer rows
with a partitioning quicksort that is 3-10 times slower per member on some CPUs (10-12 ns
at M = 512 and 19-26 ns at M = 2048 for float64 on AMD Zen 4, whose compress-store
instruction is slow; see benchmarks/RESULTS.md). So each row is cut into runs of that
length (NaN members and the padding of the last run become +inf, which sorts last, and
every run is followed by one +inf sentinel), numpy sorts every run in one call, and
compiled passes merge pairs of runs until two are left; the last pass walks those two
in order and sums the CRPS terms instead of writing.

A merge step is a chain: which value comes next decides where the next loads are. The
passes run four merges at once (of different rows, or different pairs of runs) so that
the core works on four independent chains; one chain alone leaves it mostly waiting.

Rows are processed in blocks that fit in the core's cache (copy, sort, merge while
hot), and blocks are split over threads: numpy's sort and the nogil passes both release
the GIL.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

RUN_BYTES = 2048  # numpy's sorting network: rows of 256 64-bit values, 512 32-bit ones
BLOCK_BYTES = 512 * 2**10  # rows copied, sorted and merged together: well inside L2
MIN_ROWS_PER_THREAD = 2_000
LANES = 4  # merges run at once


@njit(nogil=True, cache=True)
def _fill_runs(forecast, run, block, lengths, bad):  # pragma: no cover - compiled
    """Copy rows into runs of ``run`` (+inf for NaN and padding) each followed by +inf.

    ``lengths[p, r]``: the valid members of run r of row p. ``bad[p]``: the row has an
    infinite member (its CRPS is undefined: NaN); such a member is stored as 0 so the
    merges, which rely on +inf marking where a run ends, stay in bounds.
    """
    n, members = forecast.shape
    runs = lengths.shape[1]
    slot = run + 1
    for p in range(n):
        bad[p] = False
        for r in range(runs):
            base = r * slot
            count = 0
            for t in range(run):
                q = r * run + t
                v = np.inf
                if q < members:
                    v = forecast[p, q]
                    if np.isnan(v):
                        v = np.inf
                    elif np.isinf(v):
                        bad[p] = True
                        v = 0.0
                        count += 1
                    else:
                        count += 1
                block[p, base + t] = v
            block[p, base + run] = np.inf
            lengths[p, r] = count


@njit(nogil=True, cache=True, inline="always")
def _next(src, i, j):  # pragma: no cover - compiled
    """One merge step over two sorted runs at src[i:], src[j:] (each ended by +inf): the
    smaller head, and where the two runs continue. Branch-free: the choice is data."""
    va = src[i]
    vb = src[j]
    take_b = vb < va
    return (vb if take_b else va), i + 1 - take_b, j + take_b


@njit(nogil=True, cache=True, inline="always")
def _merge_tail(src, dst, i, j, k, steps):  # pragma: no cover - compiled
    for _ in range(steps):
        dst[k], i, j = _next(src, i, j)
        k += 1


@njit(nogil=True, cache=True)
def _merge_tasks(src, dst, a, la, b, lb, span):  # pragma: no cover - compiled
    """Merge src[a:a+la] with src[b:b+lb] into dst[a:a+la+lb] for every task, four at once,
    then fill dst up to a+span with +inf (the sentinel the next pass relies on)."""
    tasks = a.shape[0]
    for t in range(0, tasks - LANES + 1, LANES):
        i0, j0, n0 = a[t], b[t], la[t] + lb[t]
        i1, j1, n1 = a[t + 1], b[t + 1], la[t + 1] + lb[t + 1]
        i2, j2, n2 = a[t + 2], b[t + 2], la[t + 2] + lb[t + 2]
        i3, j3, n3 = a[t + 3], b[t + 3], la[t + 3] + lb[t + 3]
        k0, k1, k2, k3 = i0, i1, i2, i3
        steps = min(min(n0, n1), min(n2, n3))
        for _ in range(steps):  # four independent chains, in registers
            dst[k0], i0, j0 = _next(src, i0, j0)
            dst[k1], i1, j1 = _next(src, i1, j1)
            dst[k2], i2, j2 = _next(src, i2, j2)
            dst[k3], i3, j3 = _next(src, i3, j3)
            k0 += 1
            k1 += 1
            k2 += 1
            k3 += 1
        _merge_tail(src, dst, i0, j0, k0, n0 - steps)
        _merge_tail(src, dst, i1, j1, k1, n1 - steps)
        _merge_tail(src, dst, i2, j2, k2, n2 - steps)
        _merge_tail(src, dst, i3, j3, k3, n3 - steps)
    for t in range(tasks - tasks % LANES, tasks):
        _merge_tail(src, dst, a[t], b[t], a[t], la[t] + lb[t])
    for t in range(tasks):
        dst[a[t] + la[t] + lb[t] : a[t] + span[t]] = np.inf


@njit(nogil=True, cache=True, inline="always")
def _walk_tail(src, i, j, steps, y, skill, spread, weight):  # pragma: no cover - compiled
    for _ in range(steps):
        value, i, j = _next(src, i, j)
        x = np.float64(value) - y
        skill += abs(x)
        spread += weight * x
        weight += 2.0
    return skill, spread


@njit(nogil=True, cache=True)
def _walk_rows(src, rows, a, b, m, y, skill, spread):  # pragma: no cover - compiled
    """For each listed row, walk its two sorted runs src[a:], src[b:] in order (+inf ends
    each) and sum, over its m valid members x_(1) <= ... <= x_(m),

        skill = sum_k |x_(k) - y|,   spread = sum_k (2k - m - 1) (x_(k) - y).

    The weights sum to 0, so measuring from y changes nothing but the rounding (values
    like geopotential's 5.5e4 m2 s-2 keep their digits); sums are in float64."""
    count = rows.shape[0]
    for t in range(0, count - LANES + 1, LANES):
        p0, p1, p2, p3 = rows[t], rows[t + 1], rows[t + 2], rows[t + 3]
        i0, j0, y0, w0 = a[p0], b[p0], y[p0], 1.0 - m[p0]
        i1, j1, y1, w1 = a[p1], b[p1], y[p1], 1.0 - m[p1]
        i2, j2, y2, w2 = a[p2], b[p2], y[p2], 1.0 - m[p2]
        i3, j3, y3, w3 = a[p3], b[p3], y[p3], 1.0 - m[p3]
        s0 = d0 = s1 = d1 = s2 = d2 = s3 = d3 = 0.0
        steps = min(min(m[p0], m[p1]), min(m[p2], m[p3]))
        for _ in range(steps):  # four independent chains, in registers
            v0, i0, j0 = _next(src, i0, j0)
            v1, i1, j1 = _next(src, i1, j1)
            v2, i2, j2 = _next(src, i2, j2)
            v3, i3, j3 = _next(src, i3, j3)
            x0 = np.float64(v0) - y0
            x1 = np.float64(v1) - y1
            x2 = np.float64(v2) - y2
            x3 = np.float64(v3) - y3
            s0 += abs(x0)
            d0 += w0 * x0
            w0 += 2.0
            s1 += abs(x1)
            d1 += w1 * x1
            w1 += 2.0
            s2 += abs(x2)
            d2 += w2 * x2
            w2 += 2.0
            s3 += abs(x3)
            d3 += w3 * x3
            w3 += 2.0
        skill[p0], spread[p0] = _walk_tail(src, i0, j0, m[p0] - steps, y0, s0, d0, w0)
        skill[p1], spread[p1] = _walk_tail(src, i1, j1, m[p1] - steps, y1, s1, d1, w1)
        skill[p2], spread[p2] = _walk_tail(src, i2, j2, m[p2] - steps, y2, s2, d2, w2)
        skill[p3], spread[p3] = _walk_tail(src, i3, j3, m[p3] - steps, y3, s3, d3, w3)
    for t in range(count - count % LANES, count):
        p = rows[t]
        skill[p], spread[p] = _walk_tail(src, a[p], b[p], m[p], y[p], 0.0, 0.0, 1.0 - m[p])


@njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def _sum_rows(src, rows, a, m, y, skill, spread):  # pragma: no cover - compiled
    """The sums of :func:`_walk_rows` for rows whose members are one sorted run (vectorised:
    the order of the additions is free)."""
    for t in range(rows.shape[0]):
        p = rows[t]
        s = 0.0
        d = 0.0
        for k in range(m[p]):
            x = np.float64(src[a[p] + k]) - y[p]
            s += abs(x)
            d += (2.0 * k + 1.0 - m[p]) * x
        skill[p] = s
        spread[p] = d


@njit(nogil=True, cache=True)
def _crps_of_runs(block, work, run, lengths, bad, obs, fair, out):  # pragma: no cover
    """CRPS of every row of ``block`` (n, R * (run + 1)), whose runs are sorted."""
    n, width = block.shape
    runs = lengths.shape[1]
    slot = run + 1
    src = block.ravel()
    dst = work.ravel()
    start = np.empty((n, runs), dtype=np.int64)
    span = np.empty((n, runs), dtype=np.int64)
    length = lengths.copy()
    for p in range(n):
        for r in range(runs):
            start[p, r] = p * width + r * slot
            span[p, r] = slot
    count = runs
    while count > 2:  # merge pairs of runs, every row's pairs together
        pairs = count // 2
        tasks = n * pairs
        a = np.empty(tasks, dtype=np.int64)
        b = np.empty(tasks, dtype=np.int64)
        la = np.empty(tasks, dtype=np.int64)
        lb = np.empty(tasks, dtype=np.int64)
        sp = np.empty(tasks, dtype=np.int64)
        t = 0
        for p in range(n):
            for q in range(pairs):
                a[t], b[t] = start[p, 2 * q], start[p, 2 * q + 1]
                la[t], lb[t] = length[p, 2 * q], length[p, 2 * q + 1]
                sp[t] = span[p, 2 * q] + span[p, 2 * q + 1]
                t += 1
        _merge_tasks(src, dst, a, la, b, lb, sp)
        for p in range(n):
            if count % 2:  # the odd run out is carried over as it is
                first, size = start[p, count - 1], span[p, count - 1]
                dst[first : first + size] = src[first : first + size]
            for q in range(pairs):
                start[p, q] = start[p, 2 * q]
                length[p, q] = length[p, 2 * q] + length[p, 2 * q + 1]
                span[p, q] = span[p, 2 * q] + span[p, 2 * q + 1]
            if count % 2:
                start[p, pairs] = start[p, count - 1]
                length[p, pairs] = length[p, count - 1]
                span[p, pairs] = span[p, count - 1]
        count = pairs + count % 2
        src, dst = dst, src
    a = np.empty(n, dtype=np.int64)
    b = np.empty(n, dtype=np.int64)
    m = np.zeros(n, dtype=np.int64)
    y = np.empty(n, dtype=np.float64)
    rows = np.empty(n, dtype=np.int64)
    good = 0
    for p in range(n):
        a[p] = start[p, 0]
        # with one run, the second is an empty one: its +inf sentinel is never taken
        b[p] = start[p, 1] if count == 2 else start[p, 0] + run
        for r in range(count):
            m[p] += length[p, r]
        y[p] = obs[p]
        if m[p] == 0 or np.isnan(y[p]) or bad[p]:
            out[p] = np.nan
        elif np.isinf(y[p]):
            out[p] = np.inf
        else:
            rows[good] = p
            good += 1
    skill = np.empty(n, dtype=np.float64)
    spread = np.empty(n, dtype=np.float64)
    if count == 1:  # one run: already in order
        _sum_rows(src, rows[:good], a, m, y, skill, spread)
    else:
        _walk_rows(src, rows[:good], a, b, m, y, skill, spread)
    for t in range(good):
        p = rows[t]
        members = np.float64(m[p])
        if fair:
            denominator = members * (members - 1.0) if m[p] > 1 else 1.0
        else:
            denominator = members * members
        out[p] = skill[p] / members - spread[p] / denominator


def _rows_crps(forecast: np.ndarray, obs: np.ndarray, fair: bool, out: np.ndarray) -> None:
    """CRPS of rows, block by block: copy into runs, sort them (numpy), merge (compiled)."""
    n, members = forecast.shape
    run = min(RUN_BYTES // forecast.itemsize, members)
    runs = -(-members // run)
    width = runs * (run + 1)
    rows = max(LANES, min(n, BLOCK_BYTES // (width * forecast.itemsize)))
    block = np.empty((rows, width), dtype=forecast.dtype)
    work = np.empty_like(block)
    lengths = np.empty((rows, runs), dtype=np.int64)
    bad = np.empty(rows, dtype=np.bool_)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        size = stop - start
        here = block[:size]
        _fill_runs(forecast[start:stop], run, here, lengths[:size], bad[:size])
        here.reshape(size, runs, run + 1)[:, :, :run].sort(axis=-1)
        _crps_of_runs(
            here,
            work[:size],
            run,
            lengths[:size],
            bad[:size],
            obs[start:stop],
            fair,
            out[start:stop],
        )


def crps_rows(
    forecast: np.ndarray, obs: np.ndarray, fair: bool, threads: int | None = None
) -> np.ndarray:
    """CRPS of each row of ``forecast`` (n, M) against ``obs`` (n,); NaN members left out.

    A row with an infinite member, or no valid member, or a NaN observation gives NaN;
    an infinite observation gives +inf.
    """
    n, members = forecast.shape
    out = np.empty(n, dtype=forecast.dtype)
    if n == 0 or members == 0:
        out[:] = np.nan
        return out
    threads = threads or min(os.cpu_count() or 1, max(1, n // MIN_ROWS_PER_THREAD))
    bounds = np.linspace(0, n, threads + 1).astype(int)
    pieces = [slice(a, b) for a, b in itertools.pairwise(bounds)]

    def work(rows: slice) -> None:
        _rows_crps(forecast[rows], obs[rows], fair, out[rows])

    if threads == 1:
        work(pieces[0])
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, pieces))
    return out
