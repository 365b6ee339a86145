"""SEEDS end to end on the tiny world: samples, training, checkpoints, generation."""

import json
import pickle

import numpy as np
import pytest
import torch
import xarray as xr
from safetensors.torch import load_file

from forecast.cli import main
from forecast.generate import default_batch_size, generate
from forecast.samples import AnomalyEnsemble, SeedsSamples, seed_condition
from forecast.train import TrainConfig, load_checkpoint, train
from pipelines import DataError
from pipelines.store import open_complete

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


def test_anomalies_round_trip_to_the_stored_values(reforecast):
    ensemble = AnomalyEnsemble.load(reforecast)
    raw = open_complete(reforecast)["z500"].values  # (init, lead, member, lat, lon)
    v = ensemble.variables.index("z500")
    back = ensemble.members[:, :, :, v] * ensemble.std[:, :, None, v] + ensemble.mean[:, :, None, v]
    np.testing.assert_allclose(back, raw, rtol=1e-5)
    assert abs(float(ensemble.members.mean())) < 0.5 and 0.3 < float(ensemble.members.std()) < 2.0


def test_samples_condition_on_seed_statistics_and_pick_targets(reforecast):
    ensemble = AnomalyEnsemble.load(reforecast)
    gee = SeedsSamples(ensemble, k_range=(2, 2), seed=0)
    item = gee[3]
    n_vars = len(ensemble.variables)
    assert item["condition"].shape == (2 * n_vars, *ensemble.members.shape[-2:])
    i, j = gee.pairs[3]
    members = ensemble.members[i, j]

    def unscaled(samples, item, j):  # the target is stored as (y - seed mean) / s(lead)
        seed_mean = item["condition"][:n_vars].numpy()
        return seed_mean + samples.scale[j][:, None, None] * item["target"].numpy()

    assert any(np.allclose(unscaled(gee, item, j), m, atol=1e-4) for m in members)
    gpp = SeedsSamples(ensemble, k_range=(1, 1), truth_fraction=1.0, seed=0)
    i, j = gpp.pairs[5]
    np.testing.assert_allclose(unscaled(gpp, gpp[5], j), ensemble.truth[i, j], atol=1e-4)
    # scaled residuals of members have about unit variance at every lead
    residuals = np.stack([gee[n]["target"].numpy() for n in range(len(gee))])
    assert 0.6 < residuals.std() < 1.6
    seeds = torch.randn(1, 3, 2, 4, 8)
    condition = seed_condition(seeds)
    torch.testing.assert_close(condition[0, :2], seeds[0].mean(0))
    torch.testing.assert_close(condition[0, 2:], seeds[0].std(0))


def test_member_spread_and_its_interpolation_in_lead_time(reforecast):
    ensemble = AnomalyEnsemble.load(reforecast)
    spread = ensemble.member_spread()
    j, v = 3, ensemble.variables.index("z500")
    members = ensemble.members[:, j, :, v].astype(np.float64)  # (init, member, lat, lon)
    brute = np.sqrt(members.var(axis=1, ddof=1).mean())
    assert spread[j, v] == pytest.approx(brute, rel=1e-4)
    scale = SeedsSamples(ensemble).residual_scale()
    halfway = scale.at(np.array([(ensemble.lead_days[j] + ensemble.lead_days[j + 1]) / 2]))
    np.testing.assert_allclose(halfway[0], (spread[j] + spread[j + 1]) / 2, rtol=1e-5)
    np.testing.assert_allclose(scale.at(np.array([99.0]))[0], spread[-1], rtol=1e-6)


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
    _, metadata = load_checkpoint(checkpoint)
    assert sorted(metadata["variables"]) == ["u500", "v500", "vo500", "z500"]


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
    config["unet"]["width"] = 16
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(DataError, match="do not match"):
        load_checkpoint(tmp_path)


def test_generate_writes_physical_members_with_provenance(checkpoint, tiny_prepared, tmp_path):
    source = tiny_prepared["world-operational"]
    out = generate(
        checkpoint, source, tmp_path / "ens.zarr", members=3, seeds=2, inits=[0, 2], progress=False
    )
    ens = open_complete(out)
    assert ens["z500"].dims == ("init_time", "lead_time", "member", "lat", "lon")
    assert ens.sizes["member"] == 3 and ens.sizes["init_time"] == 2
    assert 4.0e4 < float(ens["z500"].mean()) < 6.5e4 and ens["z500"].attrs["units"] == "m2 s-2"
    assert ens.attrs["model"] == "seeds-gee" and ens.attrs["seeds"] == 2
    np.testing.assert_array_equal(
        ens["init_time"].values, open_complete(source)["init_time"].values[[0, 2]]
    )
    # same seed, another batch size: the same members
    again = generate(
        checkpoint,
        source,
        tmp_path / "b.zarr",
        members=3,
        seeds=2,
        inits=[0, 2],
        batch_size=5,
        progress=False,
    )
    xr.testing.assert_allclose(open_complete(again).load(), ens.load(), rtol=1e-5, atol=1e-2)


def test_generate_resumes_after_a_kill_with_identical_members(
    checkpoint, tiny_prepared, tmp_path, monkeypatch
):
    source = tiny_prepared["world-operational"]
    kwargs = {"members": 2, "seeds": 2, "inits": [0, 1, 2], "progress": False}
    clean = open_complete(generate(checkpoint, source, tmp_path / "clean.zarr", **kwargs)).load()
    original = xr.Dataset.to_zarr
    calls = {"n": 0}

    class Killed(BaseException):
        pass

    def dying(self, *args, **kw):
        if kw.get("region"):
            calls["n"] += 1
            if calls["n"] == 2:
                raise Killed
        return original(self, *args, **kw)

    monkeypatch.setattr(xr.Dataset, "to_zarr", dying)
    with pytest.raises(Killed):
        generate(checkpoint, source, tmp_path / "out.zarr", **kwargs)
    monkeypatch.undo()
    assert not (tmp_path / "out.zarr").exists()
    resumed = open_complete(generate(checkpoint, source, tmp_path / "out.zarr", **kwargs)).load()
    xr.testing.assert_identical(resumed.drop_attrs(), clean.drop_attrs())


def test_cli_train_and_generate(tiny_prepared, tmp_path, capsys):
    out = tmp_path / "gpp"
    code = main(
        [
            "train",
            "--model",
            "seeds-gpp",
            "--budget",
            "tiny",
            "--steps",
            "4",
            "--data",
            str(tiny_prepared["world-reforecast"]),
            "--out",
            str(out),
            "--truth-fraction",
            "0.25",
            "-q",
        ]
    )
    assert code == 0 and (out / "model.safetensors").exists()
    assert json.loads((out / "config.json").read_text())["train"]["truth_fraction"] == 0.25
    code = main(
        [
            "generate",
            "--checkpoint",
            str(out),
            "--from",
            str(tiny_prepared["world-operational"]),
            "--members",
            "2",
            "--init",
            "0",
            "--out",
            str(tmp_path / "e.zarr"),
            "-q",
        ]
    )
    assert code == 0
    assert (
        main(
            ["score", "--forecast", str(tmp_path / "e.zarr"), "--out", str(tmp_path / "s.nc"), "-q"]
        )
        == 0
    )
    assert "z500" in capsys.readouterr().out


def test_generate_refuses_lead_times_and_inits_the_source_lacks(
    checkpoint, tiny_prepared, tmp_path
):
    source = tiny_prepared["world-operational"]
    kwargs = {"members": 2, "progress": False}
    with pytest.raises(DataError, match=r"lead times \['25h'\] are not in the source"):
        generate(checkpoint, source, tmp_path / "a.zarr", leads=["24h", "25h"], **kwargs)
    with pytest.raises(DataError, match="not durations"):
        generate(checkpoint, source, tmp_path / "a.zarr", leads=["tomorrow"], **kwargs)
    with pytest.raises(DataError, match="out of range"):
        generate(checkpoint, source, tmp_path / "a.zarr", inits=[0, 99], **kwargs)
    assert not (tmp_path / "a.zarr").exists()


def test_cli_refuses_a_truth_fraction_outside_0_1(tiny_prepared, tmp_path, capsys):
    args = ["train", "--model", "seeds-gpp", "--truth-fraction", "1.5", "--out", str(tmp_path)]
    assert main([*args, "--data", str(tiny_prepared["world-reforecast"])]) == 2
    assert "--truth-fraction must be between 0 and 1, got 1.5" in capsys.readouterr().err
    assert not (tmp_path / "model.safetensors").exists()


def test_the_default_batch_keeps_a_cpu_call_near_65k_grid_points():
    # the fastest measured batches on a CPU: 32 at 32x64, 8 at 64x128 (benchmarks/RESULTS.md)
    assert default_batch_size("cpu", 32 * 64) == 32
    assert default_batch_size("cpu", 64 * 128) == 8
    assert default_batch_size("cpu", 181 * 360) == 1
    assert default_batch_size("cpu", 9 * 18) == 64
    assert default_batch_size("cuda", 181 * 360) == 64
