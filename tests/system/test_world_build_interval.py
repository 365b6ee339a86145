"""benchmarks/world_build.py's bootstrap interval of the spread-skill ratio: how far from 1 a
reliable ensemble's ratio may fall on 16 init times, and that it catches one that is not."""

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "world_build.py"


def load_world_build():
    spec = importlib.util.spec_from_file_location("world_build", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def covers_one(world_build, rng, truth_scale: float) -> bool:
    """16 cases of 50 points, 31 members and the truth drawn from one N(0, sigma_case^2)
    (truth_scale 1: a reliable ensemble) or a wider one (an underdispersed ensemble)."""
    cases, points, members = 16, 50, 31
    sigma = rng.uniform(0.5, 2.0, size=(cases, 1, 1))
    draws = rng.normal(size=(cases, points, members)) * sigma
    truth = rng.normal(size=(cases, points)) * sigma[..., 0] * truth_scale
    variance = draws.var(-1, ddof=1).mean(1)[:, None]
    squared_error = ((draws.mean(-1) - truth) ** 2).mean(1)[:, None]
    low, high = world_build.spread_skill_interval(variance, squared_error, members)
    return bool(low[0] <= 1 <= high[0])


def test_the_interval_covers_a_reliable_ensembles_ratio_and_not_an_underdispersed_one():
    world_build = load_world_build()
    rng = np.random.default_rng(5)
    reliable = np.mean([covers_one(world_build, rng, 1.0) for _ in range(300)])
    assert 0.8 <= reliable <= 0.97  # a 90% percentile bootstrap on 16 cases: a little under
    assert np.mean([covers_one(world_build, rng, 1.3) for _ in range(100)]) < 0.05
