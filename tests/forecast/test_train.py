"""Training: deterministic, resumable, safe to resume, and its checkpoint refused when it does not fit."""

import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from forecast.checkpoint import load_checkpoint
from forecast.train import TrainConfig, train
from pipelines import DataError

TINY = {
    "steps": 12,
    "batch_size": 4,
    "width": 8,
    "multipliers": (1, 2),
    "warmup": 2,
    "checkpoint_every": 6,
}


@pytest.fixture(scope="module")
def reforecast(tiny_prepared):
    return tiny_prepared["world-reforecast"]


@pytest.fixture(scope="module")
def checkpoint(reforecast, tmp_path_factory):
    return train(
        reforecast, tmp_path_factory.mktemp("ck") / "gee", TrainConfig(**TINY), progress=False
    )


def test_training_is_deterministic_and_writes_a_safe_checkpoint(checkpoint, reforecast, tmp_path):
    config = json.loads((checkpoint / "config.json").read_text())
    assert (
        config["kind"] == "seeds-gee"
        and config["step"] == TINY["steps"]
        and config["parameters"] > 0
    )
    again = train(reforecast, tmp_path / "again", TrainConfig(**TINY), progress=False)
    first, second = (
        load_file(str(checkpoint / "model.safetensors")),
        load_file(str(again / "model.safetensors")),
    )
    assert all(torch.equal(first[k], second[k]) for k in first)
    _, trained = load_checkpoint(checkpoint)
    assert sorted(trained.variables) == ["tp", "u500", "v500", "vo500", "z500"]


def test_training_resumes_from_its_state(reforecast, tmp_path):
    train(reforecast, tmp_path / "run", TrainConfig(**{**TINY, "steps": 6}), progress=False)
    train(reforecast, tmp_path / "run", TrainConfig(**TINY), progress=False)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["step"] == TINY["steps"]
    assert (
        int(torch.load(tmp_path / "run" / "state.pt", weights_only=True)["step"]) == TINY["steps"]
    )


class Exploit:
    def __reduce__(self):
        return (print, ("this would have run code",))


def test_a_pickled_state_that_runs_code_is_refused(reforecast, tmp_path):
    (tmp_path / "run").mkdir()
    with open(tmp_path / "run" / "state.pt", "wb") as handle:
        pickle.dump({"model": Exploit()}, handle)
    with pytest.raises(pickle.UnpicklingError):
        train(reforecast, tmp_path / "run", TrainConfig(**TINY), progress=False)


def test_a_checkpoint_of_another_kind_is_refused(tmp_path, checkpoint):
    with pytest.raises(DataError, match="not a checkpoint folder"):
        load_checkpoint(tmp_path)
    (tmp_path / "model.safetensors").write_bytes((checkpoint / "model.safetensors").read_bytes())
    config = json.loads((checkpoint / "config.json").read_text())
    config["architecture"]["unet"]["width"] = 16
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(DataError, match="do not match"):
        load_checkpoint(tmp_path)


def test_streamed_training_with_workers_sees_the_same_batches(checkpoint, reforecast, tmp_path):
    """Each sample read from the store when needed, by two worker processes: the same
    batches as the store held in memory, so the same losses (the residual scale, summed in
    float64 in one pass, agrees to 1e-6) and, with the same reading, the same weights."""
    streamed = train(
        reforecast, tmp_path / "s", TrainConfig(**TINY), progress=False, reading="stream", workers=2
    )
    memory = json.loads((checkpoint / "losses.json").read_text())["loss"]
    np.testing.assert_allclose(
        json.loads((streamed / "losses.json").read_text())["loss"], memory, rtol=1e-4
    )
    scales = [
        np.array(json.loads((c / "config.json").read_text())["residual_scale"]["scale"])
        for c in (checkpoint, streamed)
    ]
    np.testing.assert_allclose(scales[0], scales[1], rtol=1e-6)
    again = train(
        reforecast, tmp_path / "s0", TrainConfig(**TINY), progress=False, reading="stream"
    )
    first, second = (load_file(str(c / "model.safetensors")) for c in (streamed, again))
    assert all(torch.equal(first[k], second[k]) for k in first)
