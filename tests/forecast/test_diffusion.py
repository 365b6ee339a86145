"""The diffusion machinery, independent of any training: closed-form denoisers as oracles."""

import pytest
import torch

from forecast.diffusion import (
    DenoiserNetwork,
    EDMConfig,
    EDMPreconditioner,
    edm_loss,
    edm_scheduler,
)
from pipelines import ConfigError


def gaussian_denoiser(mean: torch.Tensor, std: torch.Tensor):
    """The optimal denoiser of N(mean, std^2) data: E[x0 | x] = (s^2 x + sigma^2 mu) / (s^2 + sigma^2)."""

    def denoise(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        s2 = std**2
        sigma2 = sigma.reshape(-1, *([1] * (x.ndim - 1))) ** 2
        return (s2 * x + sigma2 * mean) / (s2 + sigma2)

    return denoise


def optimal_network(mean: torch.Tensor, std: torch.Tensor) -> DenoiserNetwork:
    """The network whose EDM-preconditioned output is the optimal denoiser of N(mean, std^2)."""
    return DenoiserNetwork(gaussian_denoiser(mean, std))


MEAN = torch.tensor([[0.5, -0.3, 0.0]], dtype=torch.float64)
STD = torch.tensor([[0.3, 1.0, 2.0]], dtype=torch.float64)


@pytest.mark.parametrize("algorithm", ["dpmsolver++", "sde-dpmsolver++"])
def test_the_sampler_with_the_optimal_denoiser_samples_the_right_gaussian(algorithm):
    model = EDMPreconditioner(optimal_network(MEAN, STD), EDMConfig())
    n = 40_000
    noise = torch.randn(n, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    generators = (
        [torch.Generator().manual_seed(i) for i in range(n)] if "sde" in algorithm else None
    )
    samples = model.sample(noise, None, 32, algorithm=algorithm, generators=generators)
    assert model.network.calls == 32  # one network evaluation per step
    # the start is N(0, sigma_max^2), not N(mu, s^2 + sigma_max^2): a bias of about mu s / sigma_max
    bias = (MEAN.abs() * STD / 20.0)[0]
    assert torch.all((samples.mean(0) - MEAN[0]).abs() < bias + 4 * STD[0] / n**0.5)
    # the standard error of the std is 0.35%; the rest is the solver's discretisation
    ratio = samples.std(0) / STD[0]
    assert torch.all((ratio - 1).abs() < 0.025), ratio


def test_the_ode_sampler_is_deterministic_and_the_sde_sampler_is_not():
    model = EDMPreconditioner(optimal_network(MEAN, STD), EDMConfig())
    noise = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(model.sample(noise, None, 8), model.sample(noise, None, 8))

    def sde(seeds):
        generators = [torch.Generator().manual_seed(s) for s in seeds]
        return model.sample(noise, None, 8, algorithm="sde-dpmsolver++", generators=generators)

    first, again, other = sde([0, 1, 2, 3]), sde([0, 1, 2, 3]), sde([4, 5, 6, 7])
    torch.testing.assert_close(first, again)
    assert not torch.allclose(first, other)
    # a sample's noise is its own generator's: the same whatever the rest of the batch
    alone = model.sample(
        noise[2:3],
        None,
        8,
        algorithm="sde-dpmsolver++",
        generators=[torch.Generator().manual_seed(2)],
    )
    torch.testing.assert_close(alone, first[2:3])


def test_the_schedule_is_karras_from_sigma_max_to_zero():
    config = EDMConfig()
    scheduler = edm_scheduler("dpmsolver++", 0.002, 80.0, 1.0, 7.0)
    scheduler.set_timesteps(16)
    ramp = torch.linspace(0, 1, 16, dtype=torch.float64)
    karras = (80.0 ** (1 / 7) + ramp * (0.002 ** (1 / 7) - 80.0 ** (1 / 7))) ** 7
    torch.testing.assert_close(scheduler.sigmas[:-1].double(), karras, rtol=3e-6, atol=0)  # float32
    assert scheduler.sigmas[-1] == 0
    torch.testing.assert_close(scheduler.timesteps.double(), karras.log() / 4, rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="sampler must be one of"):
        edm_scheduler("euler", config.sigma_min, config.sigma_max, 1.0, 7.0)


class ZeroNetwork(torch.nn.Module):
    def forward(self, x, condition, c_noise):
        return torch.zeros_like(x)


def test_preconditioning_with_a_zero_network_is_the_gaussian_denoiser_for_unit_data():
    # with F = 0, D = c_skip x = sd^2 / (sigma^2 + sd^2) x: the optimal denoiser of N(0, sd^2)
    denoiser = EDMPreconditioner(ZeroNetwork(), EDMConfig(sigma_data=1.0))
    x, sigma = torch.randn(5, 2), torch.tensor([0.1, 0.5, 1.0, 2.0, 10.0])
    expected = gaussian_denoiser(torch.zeros(1, 2), torch.ones(1, 2))(x, sigma)
    torch.testing.assert_close(denoiser(x, sigma), expected)


def test_edm_loss_is_one_for_the_zero_network_on_unit_gaussian_data():
    # lambda(sigma) E[(c_skip (x0 + n) - x0)^2] = 1 at every sigma for x0 ~ N(0, 1)
    denoiser = EDMPreconditioner(ZeroNetwork())
    target = torch.randn(200_000, 1, generator=torch.Generator().manual_seed(1))
    loss = edm_loss(denoiser, target, generator=torch.Generator().manual_seed(2))
    assert float(loss) == pytest.approx(1.0, rel=0.02)
