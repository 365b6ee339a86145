"""Generation: physical members with provenance, independent of batching and of being killed and resumed."""

import numpy as np
import pytest
import xarray as xr

from forecast.generate import default_batch_size, generate
from pipelines import ConfigError, DataError
from pipelines.store import open_complete


def test_generate_writes_physical_members_with_provenance(tiny_checkpoint, tiny_prepared, tmp_path):
    source = tiny_prepared["world-operational"]
    out = generate(
        tiny_checkpoint,
        source,
        tmp_path / "ens.zarr",
        n_members=3,
        n_seeds=2,
        inits=[0, 2],
        progress=False,
    )
    ens = open_complete(out)
    assert ens["z500"].dims == ("init_time", "lead_time", "member", "lat", "lon")
    assert ens.sizes["member"] == 3 and ens.sizes["init_time"] == 2
    assert 4.0e4 < float(ens["z500"].mean()) < 6.5e4 and ens["z500"].attrs["units"] == "m2 s-2"
    assert ens.attrs["model"] == "seeds-gee" and ens.attrs["seeds"] == 2
    # precipitation comes back in m and never negative: values the network puts below the
    # dry point of its transformed space are exactly dry
    tp = ens["tp"].values
    assert ens["tp"].attrs["units"] == "m" and tp.min() == 0.0 and (tp > 0).any()
    np.testing.assert_array_equal(
        ens["init_time"].values, open_complete(source)["init_time"].values[[0, 2]]
    )
    # same seed, another batch size: the same members
    again = generate(
        tiny_checkpoint,
        source,
        tmp_path / "b.zarr",
        n_members=3,
        n_seeds=2,
        inits=[0, 2],
        batch_size=5,
        progress=False,
    )
    xr.testing.assert_allclose(open_complete(again).load(), ens.load(), rtol=1e-5, atol=1e-2)


def test_generate_resumes_after_a_kill_with_identical_members(
    tiny_checkpoint, tiny_prepared, tmp_path, monkeypatch
):
    source = tiny_prepared["world-operational"]
    kwargs = {"n_members": 2, "n_seeds": 2, "inits": [0, 1, 2], "progress": False}
    clean = open_complete(
        generate(tiny_checkpoint, source, tmp_path / "clean.zarr", **kwargs)
    ).load()
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
        generate(tiny_checkpoint, source, tmp_path / "out.zarr", **kwargs)
    monkeypatch.undo()
    assert not (tmp_path / "out.zarr").exists()
    resumed = open_complete(
        generate(tiny_checkpoint, source, tmp_path / "out.zarr", **kwargs)
    ).load()
    xr.testing.assert_identical(resumed.drop_attrs(), clean.drop_attrs())


def test_generate_refuses_lead_times_and_inits_the_source_lacks(
    tiny_checkpoint, tiny_prepared, tmp_path
):
    source = tiny_prepared["world-operational"]
    kwargs = {"n_members": 2, "progress": False}
    with pytest.raises(DataError, match=r"lead times \['25h'\] are not in the source"):
        generate(tiny_checkpoint, source, tmp_path / "a.zarr", leads=["24h", "25h"], **kwargs)
    with pytest.raises(ConfigError, match="not durations"):
        generate(tiny_checkpoint, source, tmp_path / "a.zarr", leads=["tomorrow"], **kwargs)
    with pytest.raises(DataError, match="out of range"):
        generate(tiny_checkpoint, source, tmp_path / "a.zarr", inits=[0, 99], **kwargs)
    assert not (tmp_path / "a.zarr").exists()


def test_the_default_batch_keeps_a_cpu_call_near_65k_grid_points():
    # the fastest measured batches on a CPU: 32 at 32x64, 8 at 64x128 (benchmarks/RESULTS.md)
    assert default_batch_size("cpu", 32 * 64) == 32
    assert default_batch_size("cpu", 64 * 128) == 8
    assert default_batch_size("cpu", 181 * 360) == 1
    assert default_batch_size("cpu", 9 * 18) == 64
    assert default_batch_size("cuda", 181 * 360) == 64


def test_the_stochastic_sampler_is_recorded_and_independent_of_batching(
    tiny_checkpoint, tiny_prepared, tmp_path
):
    source = tiny_prepared["world-operational"]
    kwargs = {"n_members": 3, "inits": [1], "leads": ["24h"], "steps": 4, "progress": False}
    ode = open_complete(generate(tiny_checkpoint, source, tmp_path / "ode.zarr", **kwargs))
    sde = open_complete(
        generate(tiny_checkpoint, source, tmp_path / "a.zarr", sampler="sde-dpmsolver++", **kwargs)
    )
    assert (sde.attrs["sampler_name"], sde.attrs["sampler_steps"]) == ("sde-dpmsolver++", 4)
    assert sde.attrs["sampler"] == "SDE-DPM-Solver++(2M), 4 steps"
    assert ode.attrs["sampler_name"] == "dpmsolver++"
    # the same starting noise, other paths: different members
    assert float(abs(sde["z500"] - ode["z500"]).max()) > 0
    again = generate(
        tiny_checkpoint,
        source,
        tmp_path / "b.zarr",
        sampler="sde-dpmsolver++",
        batch_size=2,
        **kwargs,
    )
    xr.testing.assert_allclose(open_complete(again).load(), sde.load(), rtol=1e-5, atol=1e-2)
