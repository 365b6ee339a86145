"""The diffusion machinery, independent of any training: closed-form denoisers as oracles."""

import pytest
import torch

from forecast.diffusion import (
    EDMConfig,
    EDMPreconditioner,
    dpm_solver_2m_sample,
    edm_loss,
    heun_sample,
    karras_sigmas,
)


def gaussian_denoiser(mean: torch.Tensor, std: torch.Tensor):
    """The optimal denoiser of N(mean, std^2) data: E[x0 | x] = (s^2 x + sigma^2 mu) / (s^2 + sigma^2)."""

    def denoise(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        s2 = std**2
        sigma2 = sigma.reshape(-1, *([1] * (x.ndim - 1))) ** 2
        return (s2 * x + sigma2 * mean) / (s2 + sigma2)

    return denoise


@pytest.mark.parametrize(
    ("sampler", "steps"),
    [(dpm_solver_2m_sample, 32), (heun_sample, 32)],
    ids=["dpm-2m-32", "heun-32"],
)
def test_sampler_with_the_optimal_denoiser_samples_the_right_gaussian(sampler, steps):
    mean = torch.tensor([[0.5, -0.3, 0.0]], dtype=torch.float64)
    std = torch.tensor([[0.3, 1.0, 2.0]], dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    n = 40_000
    samples = sampler(
        gaussian_denoiser(mean, std), (n, 3), steps=steps, generator=generator, dtype=torch.float64
    )
    # the start is N(0, sigma_max^2), not N(mu, s^2 + sigma_max^2): a bias of about mu s / sigma_max
    bias = (mean.abs() * std / 20.0)[0]
    assert torch.all((samples.mean(0) - mean[0]).abs() < bias + 4 * std[0] / n**0.5)
    # the standard error of the std is 0.35%; the rest is the solver's discretisation
    ratio = samples.std(0) / std[0]
    assert torch.all((ratio - 1).abs() < 0.025), ratio


def test_default_sampler_uses_at_most_32_evaluations():
    calls = []

    def counting(x, sigma):
        calls.append(1)
        return torch.zeros_like(x)

    dpm_solver_2m_sample(counting, (2, 1), steps=EDMConfig().sampler_steps)
    assert len(calls) <= 32


def test_schedule_ends_at_zero_and_is_decreasing():
    sigmas = karras_sigmas(16, 0.002, 80.0)
    assert (
        sigmas[0] == pytest.approx(80.0) and sigmas[-2] == pytest.approx(0.002) and sigmas[-1] == 0
    )
    assert torch.all(sigmas[1:] < sigmas[:-1])


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
