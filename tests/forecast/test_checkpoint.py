"""The typed checkpoint and the model registry: what is saved is what is loaded, a
checkpoint written before the typed format still generates the members it did, and a
format from the future is refused by name."""

import json
import shutil

import numpy as np
import pytest
import torch
from conftest import DATA
from safetensors.torch import load_file

from forecast.checkpoint import CHECKPOINT_VERSION, Checkpoint, load_checkpoint, read_checkpoint
from forecast.generate import generate
from forecast.models import parameter_count
from forecast.registry import REGISTRY, Architecture, Sampler, model_kind
from forecast.train import budget_config
from pipelines import ConfigError, DataError
from pipelines.store import open_complete

VERSION_1 = DATA / "checkpoint-v1"  # written by forecast run --quick before the typed checkpoint


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_every_kind_rebuilds_the_network_it_built(kind):
    """The architecture a kind records rebuilds a network with the same weights' shapes."""
    built, architecture = model_kind(kind).build(4, budget_config(kind, "tiny").architecture)
    rebuilt = model_kind(kind).rebuild(json.loads(json.dumps(architecture)))
    assert type(rebuilt) is type(built)
    shapes = {k: v.shape for k, v in built.state_dict().items()}
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == shapes
    assert parameter_count(rebuilt) == sum(int(np.prod(s)) for s in shapes.values()) > 0


def test_an_unknown_kind_is_a_settings_error_naming_the_kinds():
    with pytest.raises(ConfigError, match="seeds-gee"):
        model_kind("unet-2d")


def test_the_sampler_settings_a_decoder_takes_none():
    ode = Sampler("dpmsolver++", 32)
    assert ode.with_settings(steps=8) == Sampler("dpmsolver++", 8)
    assert ode.with_settings("sde-dpmsolver++") == Sampler("sde-dpmsolver++", 32)
    assert ode.with_settings().steps == 32 and not ode.stochastic
    assert Sampler("decoder").with_settings(steps=8) == Sampler("decoder")
    assert ode.describe() == "DPM-Solver++(2M), 32 steps"
    assert Sampler("sde-dpmsolver++", 8).describe() == "SDE-DPM-Solver++(2M), 8 steps"
    with pytest.raises(ConfigError, match="at least one step"):
        ode.with_settings(steps=0)
    with pytest.raises(ConfigError, match="must be one of"):
        ode.with_settings("euler")
    with pytest.raises(ConfigError, match="one decoder pass"):
        Sampler("decoder").with_settings("sde-dpmsolver++")


def test_a_saved_checkpoint_loads_as_it_was(tiny_checkpoint, tmp_path):
    model, checkpoint = load_checkpoint(tiny_checkpoint)
    raw = json.loads((tiny_checkpoint / "config.json").read_text())
    assert raw["version"] == CHECKPOINT_VERSION
    assert Checkpoint.from_json(json.loads(json.dumps(checkpoint.to_json()))) == checkpoint
    assert checkpoint.sampler == Sampler("dpmsolver++", Architecture().edm.sampler_steps)
    assert checkpoint.parameters == parameter_count(model)
    stored = load_file(str(tiny_checkpoint / "model.safetensors"))
    assert all(torch.equal(v, stored[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("kind", ["seeds-gee", "vae-crps"])
def test_a_version_1_checkpoint_loads_and_generates_the_members_it_did(
    kind, tiny_prepared, tmp_path
):
    """The members forecast generated from these checkpoints before the typed format
    (init 0, 8 members, leads 24 h and 120 h, 8 sampler steps, seed 0; z500 of the
    first 4 stored) are generated again, bit for bit up to float rounding. When the world
    changed (its second version) the expected members were generated again from its tiny
    store by the code of e6cc128, which had reproduced the first ones on the first world;
    when its initial errors became balanced, from the new tiny store by the same script
    that, run on 5377fa5, reproduced the second world's to the bit (generation unchanged)."""
    folder = VERSION_1 / kind
    raw = json.loads((folder / "config.json").read_text())
    assert "version" not in raw  # the old layout: network settings at the top level
    model, checkpoint = load_checkpoint(folder)
    assert checkpoint.kind == kind and checkpoint.step == raw["step"] == 30
    assert (
        list(checkpoint.variables) == raw["variables"]
        and list(checkpoint.lat) == raw["grid"]["lat"]
    )
    assert checkpoint.parameters == raw["parameters"] == parameter_count(model)
    out = generate(
        folder,
        tiny_prepared["world-operational"],
        tmp_path / "ens.zarr",
        n_members=8,
        n_seeds=2,
        inits=[0],
        leads=["24h", "120h"],
        steps=8,
        progress=False,
    )
    expected = np.load(VERSION_1 / "members_init0.npz")[kind.replace("-", "_")]
    members = open_complete(out)["z500"].isel(init_time=0, member=slice(0, 4)).values
    np.testing.assert_allclose(members, expected, rtol=1e-6, atol=1e-2)


def test_a_checkpoint_from_a_newer_forecast_is_refused_by_version(tiny_checkpoint, tmp_path):
    shutil.copytree(tiny_checkpoint, tmp_path / "ck", ignore=shutil.ignore_patterns("state.pt"))
    raw = json.loads((tmp_path / "ck" / "config.json").read_text())
    (tmp_path / "ck" / "config.json").write_text(json.dumps({**raw, "version": 99}))
    with pytest.raises(DataError, match="checkpoint version 99.*versions 1 to"):
        read_checkpoint(tmp_path / "ck")
