"""VAE-CRPS: the loss, a toy conditional Gaussian, and training/generation on the tiny world."""

import json

import numpy as np
import pytest
import scoringrules
import torch
import xarray as xr

from forecast.checkpoint import load_checkpoint
from forecast.cli import main
from forecast.generate import generate
from forecast.models import ConditionalVAE, VAEConfig
from forecast.models.vae import gaussian_kl
from forecast.samples import AnomalyEnsemble, SeedsSamples
from forecast.train import budget_config, train
from pipelines import DataError
from pipelines.store import open_complete


def tiny_vae(**overrides) -> ConditionalVAE:
    settings = {
        "variables": 1,
        "cond_channels": 2,
        "width": 16,
        "multipliers": (1,),
        "latent_channels": 2,
        "latent_levels": 0,
        **overrides,
    }
    return ConditionalVAE(VAEConfig(**settings))


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mq, mp, lq, lp = (torch.randn(3, 5, generator=g) for _ in range(4))
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mq, (0.5 * lq).exp()),
        torch.distributions.Normal(mp, (0.5 * lp).exp()),
    )
    torch.testing.assert_close(gaussian_kl(mq, lq, mp, lp), expected)


def test_the_crps_term_is_the_fair_crps_of_the_decoded_posterior_samples():
    torch.manual_seed(0)
    vae = tiny_vae(beta=0.0, latent_samples=5)
    fields, lead = torch.randn(3, 2, 4, 8), torch.tensor([1.0, 2.0, 3.0])
    target = torch.randn(3, 1, 4, 8)
    loss = vae.training_loss(target, (fields, lead), torch.Generator().manual_seed(7))
    # replay the same draws and score them with an independent implementation
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        mean_q, log_var_q = vae.posterior(torch.cat([fields, target], 1), lead)
        eps = torch.randn((5, *mean_q.shape), generator=g)
        z = (mean_q + (0.5 * log_var_q).exp() * eps).flatten(0, 1)
        members = vae.decode(z, (fields.repeat(5, 1, 1, 1), lead.repeat(5))).unflatten(0, (5, 3))
    expected = scoringrules.crps_ensemble(
        target.numpy(), members.movedim(0, -1).numpy(), estimator="fair", backend="numpy"
    ).mean()
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


def test_loss_is_differentiable_and_decreases_on_the_tiny_world(tiny_prepared):
    ensemble = AnomalyEnsemble.load(tiny_prepared["world-reforecast"])
    samples = SeedsSamples(ensemble, k_range=(2, 2), seed=0)
    batch = [samples[i] for i in range(8)]
    target = torch.stack([b["target"] for b in batch])
    condition = (
        torch.stack([b["condition"] for b in batch]),
        torch.stack([b["lead"] for b in batch]),
    )
    n_vars = len(ensemble.variables)
    torch.manual_seed(0)
    vae = ConditionalVAE(
        VAEConfig(variables=n_vars, cond_channels=2 * n_vars, width=8, multipliers=(1, 2))
    )
    optimiser = torch.optim.AdamW(vae.parameters(), lr=3e-3)
    losses = []
    for step in range(40):
        loss = vae.training_loss(target, condition, torch.Generator().manual_seed(step))
        optimiser.zero_grad()
        loss.backward()
        if step == 0:  # every network gets a gradient: decoder (CRPS), prior and posterior (KL)
            for name in ("prior", "posterior", "decoder"):
                grads = [p.grad for p in getattr(vae, name).parameters()]
                assert all(g is not None for g in grads), name
                assert sum(float(g.abs().sum()) for g in grads) > 0, name
        optimiser.step()
        losses.append(float(loss))
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])


def test_members_recover_a_conditional_gaussian():
    """y | x ~ N(0.8 x, 0.5^2) at every grid point: the prior's members must have that mean
    and spread for a new x (the spread only comes out right with a small beta; see the
    training_loss docstring)."""
    torch.manual_seed(0)
    vae = tiny_vae(beta=0.01)
    optimiser = torch.optim.AdamW(vae.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)
    lead = torch.ones(32)
    for _ in range(400):
        x = torch.randn(32, 1, 4, 8, generator=g)
        y = 0.8 * x + 0.5 * torch.randn(32, 1, 4, 8, generator=g)
        loss = vae.training_loss(y, (torch.cat([x, torch.zeros_like(x)], 1), lead), g)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    vae.eval()
    x = torch.randn(1, 1, 4, 8, generator=g)
    n = 1000
    with torch.no_grad():
        fields = torch.cat([x, torch.zeros_like(x)], 1).expand(n, -1, -1, -1)
        noise = torch.randn(vae.noise_shape((n, 1, 4, 8)), generator=g)
        members = vae.sample(noise, (fields, torch.ones(n)))[:, 0]
    mean, std = members.mean(0), members.std(0)
    slope = float((mean * x[0, 0]).sum() / (x[0, 0] ** 2).sum())
    assert slope == pytest.approx(0.8, abs=0.06)
    assert float((mean - 0.8 * x[0, 0]).abs().mean()) < 0.06
    assert float(std.mean()) == pytest.approx(0.5, rel=0.1)


@pytest.fixture(scope="module")
def vae_checkpoint(tiny_prepared, tmp_path_factory):
    return train(
        tiny_prepared["world-reforecast"],
        tmp_path_factory.mktemp("vae") / "vae",
        budget_config("vae-crps", "tiny", steps=12),
        progress=False,
    )


def test_vae_checkpoint_round_trips(vae_checkpoint, tmp_path):
    model, trained = load_checkpoint(vae_checkpoint)
    assert isinstance(model, ConditionalVAE) and trained.kind == "vae-crps"
    assert trained.architecture["vae"]["latent_samples"] >= 4 and trained.parameters > 0
    (tmp_path / "model.safetensors").write_bytes(
        (vae_checkpoint / "model.safetensors").read_bytes()
    )
    config = json.loads((vae_checkpoint / "config.json").read_text())
    config["architecture"]["vae"]["latent_channels"] = 3
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(DataError, match="do not match"):
        load_checkpoint(tmp_path)


def test_generate_with_the_vae_draws_distinct_members_independent_of_batching(
    vae_checkpoint, tiny_prepared, tmp_path
):
    source = tiny_prepared["world-operational"]
    kwargs = {
        "n_members": 4,
        "n_seeds": 2,
        "inits": [1],
        "leads": ["24h", "120h"],
        "progress": False,
    }
    ens = open_complete(generate(vae_checkpoint, source, tmp_path / "a.zarr", **kwargs)).load()
    assert ens.attrs["model"] == "vae-crps" and "decoder" in ens.attrs["sampler"]
    assert [int(h) for h in ens["lead_time"].values / np.timedelta64(1, "h")] == [24, 120]
    assert float(ens["z500"].std("member").min()) > 0  # members differ everywhere
    again = generate(vae_checkpoint, source, tmp_path / "b.zarr", batch_size=3, **kwargs)
    xr.testing.assert_allclose(open_complete(again).load(), ens, rtol=1e-5, atol=1e-2)


def test_cli_trains_and_generates_the_vae(tiny_prepared, tmp_path):
    out = tmp_path / "vae"
    args = ["--data", str(tiny_prepared["world-reforecast"]), "--out", str(out), "-q"]
    assert main(["train", "--model", "vae-crps", "--budget", "tiny", "--steps", "3", *args]) == 0
    assert json.loads((out / "config.json").read_text())["kind"] == "vae-crps"
    ensemble = tmp_path / "e.zarr"
    gen = ["--from", str(tiny_prepared["world-operational"]), "--members", "2", "--init", "0"]
    assert main(["generate", "--checkpoint", str(out), *gen, "--out", str(ensemble), "-q"]) == 0
    assert open_complete(ensemble).sizes["member"] == 2
