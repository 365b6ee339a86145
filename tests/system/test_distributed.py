"""train and generate under torchrun (two CPU processes, gloo) against one process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from kill_harness import _environment, stores_identical
from safetensors.torch import load_file


def forecast(*args: str, processes: int = 1) -> None:
    """``forecast ARGS`` in one process, or under torchrun in ``processes``."""
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    # one OpenMP thread: the same kernels, hence the same bits, in every process
    env = {**_environment(), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [*launcher, "-m", "forecast.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def losses(folder: Path) -> np.ndarray:
    return np.array(json.loads((folder / "losses.json").read_text())["loss"])


@pytest.fixture(scope="module")
def trained(tiny_prepared, tmp_path_factory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("ddp")
    common = ["train", "--model", "seeds-gee", "--budget", "tiny", "--steps", "40"]
    common += ["--batch-size", "8", "--data", str(tiny_prepared["world-reforecast"]), "-q"]
    for processes in (1, 2):
        forecast(*common, "--out", str(folder / f"p{processes}"), processes=processes)
    return {n: folder / f"p{n}" for n in (1, 2)}


def test_two_processes_follow_the_loss_curve_of_one_with_the_same_global_batch(trained):
    one, two = losses(trained[1]), losses(trained[2])
    assert one.shape == two.shape == (40,)
    # same samples per step, same start; only the diffusion noise differs between the runs
    for window in (slice(0, 10), slice(10, 20), slice(20, 40)):
        assert two[window].mean() == pytest.approx(one[window].mean(), rel=0.25), window
    assert two[20:].mean() < two[:5].mean() and one[20:].mean() < one[:5].mean()  # both learn


def test_two_process_checkpoint_is_one_model_with_the_same_config(trained):
    configs = [json.loads((trained[n] / "config.json").read_text()) for n in (1, 2)]
    # the quantile map is fitted from the weights, which differ with the diffusion noise
    maps = [config.pop("quantile_map") for config in configs]
    assert configs[0] == configs[1]
    assert all(m is not None and m["variables"] == ["tp"] for m in maps)
    # fitted on the same training init times: the same targets, whatever the weights
    assert maps[0]["levels"] == maps[1]["levels"] and maps[0]["target"] == maps[1]["target"]
    weights = [load_file(str(trained[n] / "model.safetensors")) for n in (1, 2)]
    assert weights[0].keys() == weights[1].keys()
    assert all(np.isfinite(w.numpy()).all() for w in weights[1].values())


def test_generate_under_torchrun_writes_the_same_store_as_one_process(
    tiny_checkpoint, tiny_prepared, tmp_path
):
    args = ["generate", "--checkpoint", str(tiny_checkpoint), "--members", "4", "--steps", "4"]
    args += ["--from", str(tiny_prepared["world-operational"]), "-q"]
    forecast(*args, "--out", str(tmp_path / "one.zarr"))
    forecast(*args, "--out", str(tmp_path / "two.zarr"), processes=2)
    assert stores_identical(tmp_path / "two.zarr", tmp_path / "one.zarr")
    assert not list(tmp_path.glob("two.zarr.partial*")) and not list(tmp_path.glob("*.lock"))
